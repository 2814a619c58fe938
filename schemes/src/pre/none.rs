//! `none`: no end-to-end protection; the message server stores plaintext.
//!
//! # Source
//!
//! This is the conventional chat of NTT's Table 1.
//!
//! # Construction
//!
//! Message bodies cross the network inside TLS (paid for by every stack) and are stored in the
//! clear: a record is the body itself ([`PlainRecord`]). Clients keep nothing, and there is no
//! control traffic ([`NoMessage`] has no values).
//!
//! # Costs
//!
//! Epoch changes cost nothing ([`change_traffic`]: no control messages). A stored record is as
//! long as its body ([`record_len`]), sealed and stored alike; sealing and opening copy it.
//!
//! # Security
//!
//! None end to end, even against a passive server: the server (and anyone with its storage)
//! reads every message. Access control is the server's ACL alone.
//!
//! # Weaknesses
//!
//! A breach of the server's storage exposes every stored message, and removed members and
//! joiners are kept from history only by the server's ACL.
//!
//! # Side channels
//!
//! Nothing secret is processed: bodies are handled in the clear.

use crate::rekeying::{RekeyingClient, RekeyingServer};
use std::collections::BTreeMap;
use std::sync::Arc;

use super::{
    HistoryClient, HistoryProperties, HistoryProtection, HistoryServer, KeyView, Rotation, Traffic,
};
use crate::{CryptoRngCore, MsgId, Opened, RoomId, SchemeError, UserId, Wire};

/// The plaintext baseline.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProtection;

/// Bytes of a record, as sealed, stored and sent to a reader: the plaintext itself.
#[must_use]
pub const fn record_len(plaintext: usize) -> usize {
    plaintext
}

/// The control traffic of any epoch change: none.
#[must_use]
pub fn change_traffic() -> Traffic {
    Traffic::default()
}

/// A stored body, in the clear. Cheap to clone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlainRecord(pub Arc<[u8]>);

impl Wire for PlainRecord {
    fn wire_len(&self) -> usize {
        self.0.len()
    }
    fn visit_bytes(&self, f: &mut dyn FnMut(&[u8])) {
        f(&self.0);
    }
}

/// `none` has no control traffic.
pub type NoMessage = crate::Nothing;

/// A client keeps nothing.
#[derive(Debug, Default)]
pub struct Client;

/// Plaintext storage.
#[derive(Debug, Default)]
pub struct Server {
    records: BTreeMap<(RoomId, MsgId), PlainRecord>,
    bytes: usize,
}

impl HistoryProtection for NoProtection {
    const NAME: &'static str = "none";
    const SUMMARY: &'static str = "no end-to-end protection: the server stores plaintext";
    const PROPERTIES: HistoryProperties = HistoryProperties {
        server_reads_bodies: true,
        removal_excludes: false,
        rotates_stored_history: Rotation::Never,
    };
    type Sealed = PlainRecord;
    type Message = NoMessage;
    type Client = Client;
    type Server = Server;

    fn new_client(_user: UserId) -> Client {
        Client
    }
}

impl HistoryClient for Client {
    type Scheme = NoProtection;

    fn seal(
        &mut self,
        _key: KeyView<'_>,
        _msg: MsgId,
        plaintext: &[u8],
        _rng: &mut dyn CryptoRngCore,
    ) -> Result<PlainRecord, SchemeError> {
        Ok(PlainRecord(plaintext.into()))
    }

    fn open(
        &mut self,
        _key: KeyView<'_>,
        _msg: MsgId,
        sealed: &PlainRecord,
    ) -> Result<Opened, SchemeError> {
        Ok(Opened::Plaintext(sealed.0.to_vec()))
    }
}

/// Nothing to re-key: the defaults (nothing to remember or send at a change).
impl RekeyingClient for Client {
    type Message = NoMessage;
}

impl HistoryServer for Server {
    type Scheme = NoProtection;

    fn store(&mut self, room: RoomId, msg: MsgId, sealed: PlainRecord) -> Result<(), SchemeError> {
        // Refuse before touching anything: a repeat must not replace the stored record.
        super::not_stored_yet(&self.records, &(room, msg))?;
        self.bytes += sealed.0.len();
        self.records.insert((room, msg), sealed);
        Ok(())
    }

    fn get(&self, room: RoomId, msg: MsgId) -> Option<PlainRecord> {
        self.records.get(&(room, msg)).cloned()
    }
}

/// No re-keying traffic: the defaults (no changers to check).
impl RekeyingServer for Server {
    type Message = NoMessage;

    fn stored_len(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A second record under a stored id is refused and changes nothing: neither the record a
    /// member gets nor the bytes the server counts.
    #[test]
    fn a_repeat_store_is_refused_and_replaces_nothing() {
        let mut server = Server::default();
        let (room, msg) = (RoomId(1), MsgId(2));
        let first = PlainRecord(Arc::from(&b"first"[..]));
        server.store(room, msg, first.clone()).unwrap();
        let again = server.store(room, msg, PlainRecord(Arc::from(&b"replaced!"[..])));
        assert!(matches!(again, Err(SchemeError::Misuse(_))), "{again:?}");
        assert_eq!(server.get(room, msg).map(|r| r.0), Some(first.0));
        assert_eq!(server.stored_len(), 5);
    }
}
