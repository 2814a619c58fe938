//! A broken history protection over `epoch-keys`, claiming what `epoch-keys` claims: its message
//! server takes re-keying traffic from any member, as if it came from the changer the directory
//! named.

use conclave_schemes::rekeying::{RekeyingClient, RekeyingServer};
use std::collections::{BTreeMap, BTreeSet};

use conclave_schemes::pre::epoch_keys::EpochKeys;
use conclave_schemes::pre::{
    EpochChange, HistoryClient, HistoryProperties, HistoryProtection, HistoryServer, KeyView, Work,
};
use conclave_schemes::{
    CryptoRngCore, Epoch, MsgId, Opened, Outbox, RoomId, SchemeError, UserId, Wire,
};

type Inner = EpochKeys;
type InnerClient = <Inner as HistoryProtection>::Client;
type InnerServer = <Inner as HistoryProtection>::Server;
type InnerSealed = <Inner as HistoryProtection>::Sealed;
type InnerMessage = <Inner as HistoryProtection>::Message;

/// `epoch-keys` with a message server that does not check who re-keys.
#[derive(Debug)]
pub struct TakesAnyRekey;

/// `epoch-keys`' client, unchanged.
#[derive(Debug)]
pub struct HonestClient(InnerClient);

/// `epoch-keys`' server, the changers named to it, and the control messages it applied (so the
/// changer's own copy of a message an impostor sent first is not applied twice).
#[derive(Debug, Default)]
pub struct TrustingServer {
    inner: InnerServer,
    named: BTreeMap<RoomId, UserId>,
    applied: BTreeSet<Vec<u8>>,
}

impl HistoryProtection for TakesAnyRekey {
    const NAME: &'static str = "broken-takes-any-rekey";
    const SUMMARY: &'static str = "epoch-keys whose server takes re-keying traffic from anyone";
    const PROPERTIES: HistoryProperties = Inner::PROPERTIES;
    type Sealed = InnerSealed;
    type Message = InnerMessage;
    type Client = HonestClient;
    type Server = TrustingServer;

    fn new_client(user: UserId) -> HonestClient {
        HonestClient(Inner::new_client(user))
    }
}

impl HistoryClient for HonestClient {
    type Scheme = TakesAnyRekey;

    fn seal(
        &mut self,
        key: KeyView<'_>,
        msg: MsgId,
        plaintext: &[u8],
        rng: &mut dyn CryptoRngCore,
    ) -> Result<InnerSealed, SchemeError> {
        self.0.seal(key, msg, plaintext, rng)
    }

    fn open(
        &mut self,
        key: KeyView<'_>,
        msg: MsgId,
        sealed: &InnerSealed,
    ) -> Result<Opened, SchemeError> {
        self.0.open(key, msg, sealed)
    }
}

impl RekeyingClient for HonestClient {
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

impl HistoryServer for TrustingServer {
    type Scheme = TakesAnyRekey;

    fn store(&mut self, room: RoomId, msg: MsgId, sealed: InnerSealed) -> Result<(), SchemeError> {
        self.inner.store(room, msg, sealed)
    }

    fn get(&self, room: RoomId, msg: MsgId) -> Option<InnerSealed> {
        self.inner.get(room, msg)
    }

    fn collude(&self, kept: KeyView<'_>, msg: MsgId) -> Result<Vec<u8>, SchemeError> {
        self.inner.collude(kept, msg)
    }
}

impl RekeyingServer for TrustingServer {
    type Message = InnerMessage;

    fn handle(
        &mut self,
        room: RoomId,
        from: UserId,
        msg: InnerMessage,
        rng: &mut dyn CryptoRngCore,
        out: &mut Outbox<InnerMessage>,
    ) -> Result<Work, SchemeError> {
        let Some(&changer) = self.named.get(&room) else {
            return self.inner.handle(room, from, msg, rng, out);
        };
        let mut bytes = Vec::new();
        msg.visit_bytes(&mut |b| bytes.extend_from_slice(b));
        if !self.applied.insert(bytes) {
            return Ok(Work::default());
        }
        // The flaw: whoever sent it, the message is taken as the named changer's.
        self.inner.handle(room, changer, msg, rng, out)
    }

    fn name_changer(
        &mut self,
        room: RoomId,
        epoch: Epoch,
        changer: UserId,
    ) -> Result<(), SchemeError> {
        self.named.insert(room, changer);
        self.inner.name_changer(room, epoch, changer)
    }

    fn stored_len(&self) -> usize {
        self.inner.stored_len()
    }
}
