//! History protection: how message bodies are sealed and how stored history stays protected
//! when a room's epoch changes.
//!
//! A scheme is a type family ([`HistoryProtection`]) with a [`HistoryClient`] per user and one
//! [`HistoryServer`], the message server, which stores one [`HistoryProtection::Sealed`] record
//! per message. Keys come from the key-distribution layer: every call gets a [`KeyView`] of the
//! caller's current epoch secret. On an epoch change each member's client is told
//! ([`HistoryClient::epoch_changed`]); the member who made the change may emit control messages
//! (re-encryption keys, back-chain links) for the server, which turns them into server-side work
//! ([`HistoryServer::handle`]), reported as [`Work`] so the caller can charge it.

pub mod afgh;
pub mod bbs98;
pub mod client_rewrap;
pub mod dl_hybrid;
pub mod epoch_keys;
pub mod keyhom;
pub mod none;

use crate::{
    CryptoRngCore, Epoch, EpochSecret, MsgId, Opened, Outbox, RoomId, SchemeError, UserId, Wire,
};

/// A member's current key for a room.
#[derive(Debug, Clone, Copy)]
pub struct KeyView<'a> {
    /// The room.
    pub room: RoomId,
    /// The epoch of `secret`.
    pub epoch: Epoch,
    /// The epoch secret from key distribution.
    pub secret: &'a EpochSecret,
}

/// What a client learns when a room's epoch changes under it.
#[derive(Debug, Clone, Copy)]
pub struct EpochChange<'a> {
    /// The epoch this client held before, if any (`None` for a member who just joined).
    pub prev: Option<KeyView<'a>>,
    /// The epoch it holds now.
    pub next: KeyView<'a>,
    /// Whether this client made the change; only the changer emits re-keying traffic.
    pub changer: bool,
    /// Whether the room's policy lets members read messages from before they joined. When it
    /// does not, a scheme must not carry stored history over to keys a joiner receives.
    pub shares_history: bool,
}

/// Server-side work a control message caused, so the caller can charge it. `Work::default()`
/// (no operation) says the message changed nothing, a repeat for example, and costs nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Work {
    /// Name of the operation, for the cost model (for example `"reencrypt"`).
    pub op: &'static str,
    /// Size of the work in the operation's natural unit (records touched, bytes).
    pub units: u64,
    /// Whether the work splits across all server workers (data-parallel).
    pub parallel: bool,
}

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
    /// Control traffic between clients and the message server.
    type Message: Wire + Clone + Send + Sync + 'static;
    /// A user's state.
    type Client: HistoryClient<Scheme = Self>;
    /// The message server's state.
    type Server: HistoryServer<Scheme = Self>;

    /// A fresh client for `user`.
    fn new_client(user: UserId) -> Self::Client;
    /// A fresh, empty message server.
    fn new_server() -> Self::Server;
}

/// A user's history-protection state.
pub trait HistoryClient: Send {
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

    /// Tells the client that it now holds a new epoch of the room. The member that made the
    /// change ([`EpochChange::changer`]) may emit control messages for the server, and so may a
    /// joiner that needs something stored (a back-chain of keys).
    ///
    /// # Errors
    /// Scheme specific.
    fn epoch_changed(
        &mut self,
        change: EpochChange<'_>,
        rng: &mut dyn CryptoRngCore,
        out: &mut Outbox<<Self::Scheme as HistoryProtection>::Message>,
    ) -> Result<(), SchemeError>;

    /// Processes control traffic from the message server (for example stored headers to
    /// re-wrap), possibly answering it.
    ///
    /// # Errors
    /// Scheme specific.
    fn handle(
        &mut self,
        key: KeyView<'_>,
        msg: &<Self::Scheme as HistoryProtection>::Message,
        rng: &mut dyn CryptoRngCore,
        out: &mut Outbox<<Self::Scheme as HistoryProtection>::Message>,
    ) -> Result<(), SchemeError>;
}

/// The message server.
pub trait HistoryServer: Send {
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

    /// Processes a control message and reports the work it caused.
    ///
    /// # Errors
    /// Scheme specific.
    fn handle(
        &mut self,
        room: RoomId,
        from: UserId,
        msg: <Self::Scheme as HistoryProtection>::Message,
        rng: &mut dyn CryptoRngCore,
        out: &mut Outbox<<Self::Scheme as HistoryProtection>::Message>,
    ) -> Result<Work, SchemeError>;

    /// The service's directory names `changer` as the member that re-keys `room`'s stored
    /// history into `epoch`: the server accepts re-keying traffic into that epoch from it
    /// alone ([`crate::common::changers`]). Called before the changer's traffic can arrive.
    ///
    /// # Errors
    /// [`Misuse::ChangerNamedTwice`](crate::Misuse::ChangerNamedTwice) for a second, different
    /// changer of one epoch.
    fn name_changer(
        &mut self,
        room: RoomId,
        epoch: Epoch,
        changer: UserId,
    ) -> Result<(), SchemeError>;

    /// Bytes the server stores.
    fn stored_len(&self) -> usize;

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
