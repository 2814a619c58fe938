//! A broken history protection over `epoch-keys`, claiming what `epoch-keys` claims: every
//! stored record carries the body in the clear beside its ciphertext.

use conclave_schemes::rekeying::{RekeyingClient, RekeyingServer};
use std::collections::BTreeMap;
use std::sync::Arc;

use conclave_schemes::pre::epoch_keys::EpochKeys;
use conclave_schemes::pre::{
    EpochChange, HistoryClient, HistoryProperties, HistoryProtection, HistoryServer, KeyView, Work,
};
use conclave_schemes::{CryptoRngCore, MsgId, Opened, Outbox, RoomId, SchemeError, UserId, Wire};

type Inner = EpochKeys;
type InnerClient = <Inner as HistoryProtection>::Client;
type InnerServer = <Inner as HistoryProtection>::Server;
type InnerSealed = <Inner as HistoryProtection>::Sealed;
type InnerMessage = <Inner as HistoryProtection>::Message;

/// `epoch-keys`, except that the sealed record also carries the plaintext.
#[derive(Debug)]
pub struct StoresCleartext;

/// An `epoch-keys` record with the body appended in the clear.
#[derive(Debug, Clone)]
pub struct CleartextRecord {
    inner: InnerSealed,
    body: Arc<[u8]>,
}

impl Wire for CleartextRecord {
    fn wire_len(&self) -> usize {
        self.inner.wire_len() + self.body.len()
    }
    fn visit_bytes(&self, f: &mut dyn FnMut(&[u8])) {
        self.inner.visit_bytes(f);
        f(&self.body);
    }
}

/// `epoch-keys`' client.
#[derive(Debug)]
pub struct CleartextClient(InnerClient);

/// `epoch-keys`' server, and the bodies it was given beside the records.
#[derive(Debug, Default)]
pub struct CleartextServer {
    inner: InnerServer,
    bodies: BTreeMap<(RoomId, MsgId), Arc<[u8]>>,
}

impl HistoryProtection for StoresCleartext {
    const NAME: &'static str = "broken-stores-cleartext";
    const SUMMARY: &'static str = "epoch-keys that stores every body in the clear as well";
    const PROPERTIES: HistoryProperties = Inner::PROPERTIES;
    type Sealed = CleartextRecord;
    type Message = InnerMessage;
    type Client = CleartextClient;
    type Server = CleartextServer;

    fn new_client(user: UserId) -> CleartextClient {
        CleartextClient(Inner::new_client(user))
    }
}

impl HistoryClient for CleartextClient {
    type Scheme = StoresCleartext;

    fn seal(
        &mut self,
        key: KeyView<'_>,
        msg: MsgId,
        plaintext: &[u8],
        rng: &mut dyn CryptoRngCore,
    ) -> Result<CleartextRecord, SchemeError> {
        let inner = self.0.seal(key, msg, plaintext, rng)?;
        Ok(CleartextRecord {
            inner,
            body: plaintext.into(),
        })
    }

    fn open(
        &mut self,
        key: KeyView<'_>,
        msg: MsgId,
        sealed: &CleartextRecord,
    ) -> Result<Opened, SchemeError> {
        self.0.open(key, msg, &sealed.inner)
    }
}

impl RekeyingClient for CleartextClient {
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

impl HistoryServer for CleartextServer {
    type Scheme = StoresCleartext;

    fn store(
        &mut self,
        room: RoomId,
        msg: MsgId,
        sealed: CleartextRecord,
    ) -> Result<(), SchemeError> {
        self.inner.store(room, msg, sealed.inner)?;
        self.bodies.insert((room, msg), sealed.body);
        Ok(())
    }

    fn get(&self, room: RoomId, msg: MsgId) -> Option<CleartextRecord> {
        let inner = self.inner.get(room, msg)?;
        let body = self.bodies.get(&(room, msg))?.clone();
        Some(CleartextRecord { inner, body })
    }

    fn collude(&self, kept: KeyView<'_>, msg: MsgId) -> Result<Vec<u8>, SchemeError> {
        self.inner.collude(kept, msg)
    }
}

impl RekeyingServer for CleartextServer {
    type Message = InnerMessage;

    fn handle(
        &mut self,
        room: RoomId,
        from: UserId,
        msg: InnerMessage,
        rng: &mut dyn CryptoRngCore,
        out: &mut Outbox<InnerMessage>,
    ) -> Result<Work, SchemeError> {
        self.inner.handle(room, from, msg, rng, out)
    }

    fn name_changer(
        &mut self,
        room: RoomId,
        epoch: conclave_schemes::Epoch,
        changer: UserId,
    ) -> Result<(), SchemeError> {
        self.inner.name_changer(room, epoch, changer)
    }

    fn stored_len(&self) -> usize {
        self.inner.stored_len() + self.bodies.values().map(|b| b.len()).sum::<usize>()
    }
}
