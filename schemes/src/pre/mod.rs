//! History protection: how message bodies are sealed and how stored history stays protected
//! when a room's epoch changes.
//!
//! A scheme is a type family ([`HistoryProtection`]) with a [`HistoryClient`] per user and one
//! [`HistoryServer`], the message server, which stores one [`HistoryProtection::Sealed`] record
//! per message. Keys come from the key-distribution layer: every call gets a [`KeyView`] of the
//! caller's current epoch secret. On an epoch change each member's client is told
//! ([`RekeyingClient::epoch_changed`]); the member who made the change may emit control messages
//! (re-encryption keys, back-chain links) for the server, which turns them into server-side work
//! ([`RekeyingServer::handle`]), reported as [`Work`] so the caller can charge it.

pub mod afgh;
pub mod bbs98;
pub mod client_rewrap;
pub mod dl_group;
pub mod dl_hybrid;
pub mod epoch_keys;
pub mod keyhom;
pub mod none;

pub use crate::common::traffic::Traffic;
pub use crate::rekeying::{EpochChange, KeyView, RekeyingClient, RekeyingServer, Work};
use std::collections::BTreeMap;

use crate::{CryptoRngCore, Misuse, MsgId, Opened, RoomId, SchemeError, UserId, Wire};

/// Security properties a history-protection scheme claims.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryProperties {
    /// The message server can read stored bodies (no end-to-end encryption).
    pub server_reads_bodies: bool,
    /// Messages sent after a member's removal cannot be opened with what that member kept.
    pub removal_excludes: bool,
    /// When, after a change, stored history no longer opens with an old epoch's key.
    pub rotates_stored_history: Rotation,
}

/// When a scheme re-protects stored history at a change, so an old epoch's key no longer opens
/// it (records stored late, after the change's re-keying, may stay under their key until the
/// next one: see each scheme's weaknesses).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotation {
    /// Never: a record stays under the key it was sealed with (single-hop re-encryption keeps
    /// the origin ciphertext, per-epoch keys are never re-keyed).
    Never,
    /// Only in rooms whose policy shares history with joiners. Under `from_join` the scheme
    /// must not carry history over to a key a joiner receives, so it leaves it where it was.
    WhenSharingHistory,
}

impl Rotation {
    /// Whether stored history is re-protected at a change of a room with this policy.
    #[must_use]
    pub fn under(self, shares_history: bool) -> bool {
        match self {
            Rotation::Never => false,
            Rotation::WhenSharingHistory => shares_history,
        }
    }
}

/// A history-protection scheme (a type family; the implementing type carries no data).
pub trait HistoryProtection: 'static {
    /// Name used in scenario files and reports.
    const NAME: &'static str;
    /// One line describing the scheme.
    const SUMMARY: &'static str;
    /// What the scheme claims.
    const PROPERTIES: HistoryProperties;
    /// What the message server stores for one message (key header and body).
    type Sealed: Wire + Clone + Send + Sync + 'static;
    /// Control traffic between clients and the message server (re-keying).
    type Message: Wire + Clone + Send + Sync + 'static;
    /// A user's state.
    type Client: HistoryClient<Scheme = Self> + RekeyingClient<Message = Self::Message>;
    /// The message server's state; `Default` is a fresh, empty server.
    type Server: HistoryServer<Scheme = Self> + RekeyingServer<Message = Self::Message> + Default;

    /// A fresh client for `user`.
    fn new_client(user: UserId) -> Self::Client;
}

/// A user's history-protection state. Its re-keying side (epoch changes, control traffic) is
/// [`RekeyingClient`].
pub trait HistoryClient: RekeyingClient {
    /// The scheme.
    type Scheme: HistoryProtection<Client = Self>;

    /// Seals `plaintext` as message `msg` under the current key.
    ///
    /// # Errors
    /// Scheme specific.
    fn seal(
        &mut self,
        key: KeyView<'_>,
        msg: MsgId,
        plaintext: &[u8],
        rng: &mut dyn CryptoRngCore,
    ) -> Result<<Self::Scheme as HistoryProtection>::Sealed, SchemeError>;

    /// Opens a stored record of `key.room`: [`Opened::Pending`] when this client does not hold
    /// the key of the record's epoch (a back-chain link, a re-encryption or a key-distribution
    /// message may still bring it; whether it should is the room's policy, which the caller
    /// knows).
    ///
    /// # Errors
    /// [`SchemeError::Crypto`] if the record does not authenticate under the key this client
    /// holds for its epoch (tampering, or a bug); [`SchemeError::Malformed`] if it does not
    /// parse.
    fn open(
        &mut self,
        key: KeyView<'_>,
        msg: MsgId,
        sealed: &<Self::Scheme as HistoryProtection>::Sealed,
    ) -> Result<Opened, SchemeError>;
}

/// The message server. Its re-keying side (control traffic, the changers it accepts it from,
/// its storage) is [`RekeyingServer`].
pub trait HistoryServer: RekeyingServer {
    /// The scheme.
    type Scheme: HistoryProtection<Server = Self>;

    /// Stores a message record.
    ///
    /// # Errors
    /// [`SchemeError::Misuse`] if `msg` is already stored.
    fn store(
        &mut self,
        room: RoomId,
        msg: MsgId,
        sealed: <Self::Scheme as HistoryProtection>::Sealed,
    ) -> Result<(), SchemeError>;

    /// A stored record as the server sends it to a reader (a scheme may attach what the reader
    /// needs with it, such as the current capsule of the record's epoch).
    fn get(&self, room: RoomId, msg: MsgId) -> Option<<Self::Scheme as HistoryProtection>::Sealed>;

    /// Every form of record `msg` the server stores, as a reader would be sent each: what a
    /// breach of its storage reads. The default is a server that keeps one form, the one
    /// [`get`](Self::get) serves; a server that also keeps older forms (an earlier wrap kept
    /// until a change is confirmed) returns them too.
    fn stored_forms(
        &self,
        room: RoomId,
        msg: MsgId,
    ) -> Vec<<Self::Scheme as HistoryProtection>::Sealed> {
        self.get(room, msg).into_iter().collect()
    }

    /// The collusion of this server with a member removed from `kept.room` who kept the epoch
    /// key `kept`: the plaintext of stored record `msg` if, pooling the server's state
    /// (re-encryption keys, tokens, links) with that key, they can open it. The default is a
    /// server whose state adds nothing to a kept key (the caller tries the kept key alone
    /// separately).
    ///
    /// # Errors
    /// [`SchemeError::Crypto`] if the collusion does not open the record.
    fn collude(&self, kept: KeyView<'_>, msg: MsgId) -> Result<Vec<u8>, SchemeError> {
        let _ = (kept, msg);
        Err(SchemeError::Crypto)
    }
}

/// [`HistoryServer::store`]'s refusal of a second record for one message: an error if `records`
/// holds `key` already.
pub(crate) fn not_stored_yet<K: Ord, V>(
    records: &BTreeMap<K, V>,
    key: &K,
) -> Result<(), SchemeError> {
    if records.contains_key(key) {
        return Err(Misuse::UnexpectedMessage("message stored twice").into());
    }
    Ok(())
}
