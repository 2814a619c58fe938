//! Two broken searchable encryptions over `per-epoch`, claiming what `per-epoch` claims: one
//! adds an id to every finished search, the other drops one ([`Miscounts`] with
//! [`AddsOne`] or [`DropsOne`]).

use conclave_schemes::rekeying::{RekeyingClient, RekeyingServer};
use std::marker::PhantomData;

use conclave_schemes::sse::per_epoch::PerEpoch;
use conclave_schemes::sse::{
    Access, EpochChange, IndexChange, KeyView, Resolution, SearchableEncryption, Searched,
    SseClient, SseProperties, SseServer, Work,
};
use conclave_schemes::{CryptoRngCore, MsgId, Outbox, RoomId, SchemeError, UserId};

type Inner = PerEpoch;
type InnerClient = <Inner as SearchableEncryption>::Client;
type InnerServer = <Inner as SearchableEncryption>::Server;
type InnerUpdate = <Inner as SearchableEncryption>::Update;
type InnerQuery = <Inner as SearchableEncryption>::Query;
type InnerReply = <Inner as SearchableEncryption>::Reply;
type InnerMessage = <Inner as SearchableEncryption>::Message;

/// How a finished search's ids are distorted.
pub trait Distortion: Send + 'static {
    /// The broken scheme's name.
    const NAME: &'static str;
    /// One line describing it.
    const SUMMARY: &'static str;
    /// Changes the ascending ids of a finished search, keeping them ascending.
    fn distort(ids: &mut Vec<MsgId>);
}

/// Adds the smallest id the results lack.
#[derive(Debug)]
pub struct AddsOne;

impl Distortion for AddsOne {
    const NAME: &'static str = "broken-adds-result";
    const SUMMARY: &'static str = "per-epoch that returns one id more than matched";
    fn distort(ids: &mut Vec<MsgId>) {
        // Ids are ascending: the first position whose id is not its index is the gap.
        let at = ids
            .iter()
            .enumerate()
            .position(|(i, id)| id.0 != i as u64)
            .unwrap_or(ids.len());
        ids.insert(at, MsgId(at as u64));
    }
}

/// Drops the newest id.
#[derive(Debug)]
pub struct DropsOne;

impl Distortion for DropsOne {
    const NAME: &'static str = "broken-drops-result";
    const SUMMARY: &'static str = "per-epoch that leaves out the newest match";
    fn distort(ids: &mut Vec<MsgId>) {
        ids.pop();
    }
}

/// `per-epoch` with every finished search distorted by `D`.
#[derive(Debug)]
pub struct Miscounts<D>(PhantomData<D>);

/// `per-epoch`'s client.
#[derive(Debug)]
pub struct MiscountingClient<D>(InnerClient, PhantomData<D>);

/// `per-epoch`'s server.
#[derive(Debug)]
pub struct MiscountingServer<D>(InnerServer, PhantomData<D>);

impl<D> Default for MiscountingServer<D> {
    fn default() -> Self {
        Self(InnerServer::default(), PhantomData)
    }
}

impl<D: Distortion> SearchableEncryption for Miscounts<D> {
    const NAME: &'static str = D::NAME;
    const SUMMARY: &'static str = D::SUMMARY;
    const PROPERTIES: SseProperties = Inner::PROPERTIES;
    type Update = InnerUpdate;
    type Query = InnerQuery;
    type Reply = InnerReply;
    type Message = InnerMessage;
    type Client = MiscountingClient<D>;
    type Server = MiscountingServer<D>;

    fn new_client(user: UserId) -> MiscountingClient<D> {
        MiscountingClient(Inner::new_client(user), PhantomData)
    }
}

impl<D: Distortion> SseClient for MiscountingClient<D> {
    type Scheme = Miscounts<D>;

    fn update(
        &mut self,
        key: KeyView<'_>,
        change: IndexChange<'_>,
        rng: &mut dyn CryptoRngCore,
    ) -> Result<InnerUpdate, SchemeError> {
        self.0.update(key, change, rng)
    }

    fn query(
        &mut self,
        key: KeyView<'_>,
        keyword: &str,
        rng: &mut dyn CryptoRngCore,
    ) -> Result<InnerQuery, SchemeError> {
        self.0.query(key, keyword, rng)
    }

    fn resolve(
        &mut self,
        key: KeyView<'_>,
        keyword: &str,
        reply: &InnerReply,
        rng: &mut dyn CryptoRngCore,
    ) -> Result<Resolution<InnerQuery>, SchemeError> {
        let mut resolution = self.0.resolve(key, keyword, reply, rng);
        if let Ok(Resolution::Done(ids)) = &mut resolution {
            D::distort(ids);
        }
        resolution
    }
}

impl<D: Distortion> RekeyingClient for MiscountingClient<D> {
    type Message = InnerMessage;

    fn epoch_changed(
        &mut self,
        change: EpochChange<'_>,
        rng: &mut dyn CryptoRngCore,
        out: &mut Outbox<InnerMessage>,
    ) -> Result<(), SchemeError> {
        self.0.epoch_changed(change, rng, out)
    }

    fn handle(
        &mut self,
        key: KeyView<'_>,
        msg: &InnerMessage,
        rng: &mut dyn CryptoRngCore,
        out: &mut Outbox<InnerMessage>,
    ) -> Result<(), SchemeError> {
        self.0.handle(key, msg, rng, out)
    }
}

impl<D: Distortion> SseServer for MiscountingServer<D> {
    type Scheme = Miscounts<D>;

    fn apply(&mut self, room: RoomId, update: InnerUpdate) -> Result<(), SchemeError> {
        self.0.apply(room, update)
    }

    fn search(
        &self,
        room: RoomId,
        access: Access,
        query: &InnerQuery,
    ) -> Result<Searched<InnerReply>, SchemeError> {
        self.0.search(room, access, query)
    }
}

impl<D: Distortion> RekeyingServer for MiscountingServer<D> {
    type Message = InnerMessage;

    fn handle(
        &mut self,
        room: RoomId,
        from: UserId,
        msg: InnerMessage,
        rng: &mut dyn CryptoRngCore,
        out: &mut Outbox<InnerMessage>,
    ) -> Result<Work, SchemeError> {
        self.0.handle(room, from, msg, rng, out)
    }

    fn name_changer(
        &mut self,
        room: RoomId,
        epoch: conclave_schemes::Epoch,
        changer: UserId,
    ) -> Result<(), SchemeError> {
        self.0.name_changer(room, epoch, changer)
    }

    fn stored_len(&self) -> usize {
        self.0.stored_len()
    }
}
