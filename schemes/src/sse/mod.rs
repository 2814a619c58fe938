//! Searchable encryption: keyword search over a room's messages on a search server.
//!
//! A scheme is a type family ([`SearchableEncryption`]) with a [`SseClient`] per user and one
//! [`SseServer`]. When a member sends a message it also produces an index update
//! ([`SseClient::index`]) from the message's keywords ([`tokenize`]); a search is a query, the
//! server's reply, and possibly further rounds ([`Resolution::Next`]) until the client holds the
//! matching message ids. Keys come from key distribution through a [`KeyView`]; on an epoch
//! change the changer may send the server control messages (for example a re-keying factor),
//! whose server-side work is reported as [`Work`].

pub mod chain_traffic;
pub mod mitra;
pub mod per_epoch;
pub mod plaintext;
pub mod rekey_index;
mod tokenize;

pub use tokenize::{tokenize, STOPWORDS};

pub use crate::rekeying::{EpochChange, KeyView, RekeyingClient, RekeyingServer, Work};
use crate::{CryptoRngCore, Epoch, MsgId, RoomId, SchemeError, UserId, Wire};

/// The outcome of one round of a search, from the client's side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution<Q> {
    /// The search is complete: the matching message ids, ascending.
    Done(Vec<MsgId>),
    /// Another round is needed with this query.
    Next(Q),
    /// The room changed while the query travelled: the server's index had moved on to
    /// `epoch`, so nothing the query could find is there. The search starts again, with a
    /// fresh query, once the searcher holds `epoch` or a later one.
    Requery {
        /// The epoch the server's index had reached.
        epoch: Epoch,
    },
}

/// The server's answer to one round of a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Searched<R> {
    /// The reply for the searcher.
    Reply(R),
    /// The query is under an epoch whose re-keying has not reached the server yet; an answer
    /// now would miss history. The caller holds the query and asks again after the server's
    /// next control message about the room.
    NotYet {
        /// The epoch the server does not serve yet.
        waiting_for: Epoch,
    },
}

impl<R> Searched<R> {
    /// The reply, if the server answered.
    #[must_use]
    pub fn reply(self) -> Option<R> {
        match self {
            Self::Reply(r) => Some(r),
            Self::NotYet { .. } => None,
        }
    }
}

/// Checks the ids of a server's result, which must be strictly ascending (a client's
/// [`SseClient::resolve`] refuses others).
///
/// # Errors
/// [`SchemeError::Malformed`] for ids out of order or repeated.
pub(crate) fn check_ascending(ids: &[MsgId]) -> Result<(), SchemeError> {
    if ids.windows(2).any(|w| w[0] >= w[1]) {
        return Err(SchemeError::Malformed("result ids not strictly ascending"));
    }
    Ok(())
}

/// `entry` of each of `keywords`, sorted and each once: the entries of an index update, which
/// show neither the order the keywords came in nor two keywords with one entry twice.
pub(crate) fn distinct_entries<T: Ord>(keywords: &[&str], entry: impl FnMut(&str) -> T) -> Vec<T> {
    let mut entries: Vec<T> = keywords.iter().copied().map(entry).collect();
    entries.sort_unstable();
    entries.dedup();
    entries
}

/// What an index update does with its message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexOp {
    /// The message carries the keywords: it is added.
    Add,
    /// The message was deleted: it is removed.
    Delete,
}

/// One message's change to the index.
#[derive(Debug, Clone, Copy)]
pub struct IndexChange<'a> {
    /// The message.
    pub msg: MsgId,
    /// The keywords it carries (distinct, as [`tokenize`] gives).
    pub keywords: &'a [&'a str],
    /// Whether it is added or deleted.
    pub op: IndexOp,
}

impl<'a> IndexChange<'a> {
    /// Message `msg`, carrying `keywords`, is added.
    #[must_use]
    pub fn add(msg: MsgId, keywords: &'a [&'a str]) -> Self {
        let op = IndexOp::Add;
        Self { msg, keywords, op }
    }

    /// Message `msg`, which carried `keywords`, is deleted.
    #[must_use]
    pub fn delete(msg: MsgId, keywords: &'a [&'a str]) -> Self {
        let op = IndexOp::Delete;
        Self { msg, keywords, op }
    }
}

/// Messages a searcher may read, as the chat service's access control sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Access {
    /// The first message of the room the searcher may read (by the room's history policy).
    pub readable_from: MsgId,
}

impl Access {
    /// Every message of the room (a member of a room that shares its history).
    pub const WHOLE_ROOM: Self = Self {
        readable_from: MsgId(0),
    };
}

/// Security properties a searchable-encryption scheme claims.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SseProperties {
    /// The search server learns keywords in the clear.
    pub server_reads_keywords: bool,
    /// Updates cannot be linked to earlier searches (forward privacy).
    pub forward_private: bool,
    /// Under a `from_join` policy the scheme's keys, not only the server's access bound
    /// ([`Access::readable_from`]), keep a joiner from finding messages indexed before its
    /// join: a server that ignores the bound still gives the joiner nothing older.
    pub keys_enforce_from_join: bool,
}

/// A searchable-encryption scheme (a type family; the implementing type carries no data).
pub trait SearchableEncryption: 'static {
    /// Name used in scenario files and reports.
    const NAME: &'static str;
    /// One line describing the scheme.
    const SUMMARY: &'static str;
    /// What the scheme claims.
    const PROPERTIES: SseProperties;
    /// Index update for one message.
    type Update: Wire + Clone + Send + Sync + 'static;
    /// One round of a search query.
    type Query: Wire + Clone + Send + Sync + 'static;
    /// The server's reply to a query.
    type Reply: Wire + Clone + Send + Sync + 'static;
    /// Control traffic between clients and the search server (re-keying).
    type Message: Wire + Clone + Send + Sync + 'static;
    /// A user's state.
    type Client: SseClient<Scheme = Self> + RekeyingClient<Message = Self::Message>;
    /// The search server's state; `Default` is a fresh, empty server.
    type Server: SseServer<Scheme = Self> + RekeyingServer<Message = Self::Message> + Default;

    /// A fresh client for `user`.
    fn new_client(user: UserId) -> Self::Client;
}

/// A user's searchable-encryption state. Its re-keying side (epoch changes, control traffic)
/// is [`RekeyingClient`].
pub trait SseClient: RekeyingClient {
    /// The scheme.
    type Scheme: SearchableEncryption<Client = Self>;

    /// The index update that makes `change`.
    ///
    /// # Errors
    /// Scheme specific.
    fn update(
        &mut self,
        key: KeyView<'_>,
        change: IndexChange<'_>,
        rng: &mut dyn CryptoRngCore,
    ) -> Result<<Self::Scheme as SearchableEncryption>::Update, SchemeError>;

    /// [`update`](Self::update) with [`IndexChange::add`]: indexes a new message.
    ///
    /// # Errors
    /// As [`update`](Self::update).
    fn index(
        &mut self,
        key: KeyView<'_>,
        msg: MsgId,
        keywords: &[&str],
        rng: &mut dyn CryptoRngCore,
    ) -> Result<<Self::Scheme as SearchableEncryption>::Update, SchemeError> {
        self.update(key, IndexChange::add(msg, keywords), rng)
    }

    /// The first query of a search for `keyword`.
    ///
    /// # Errors
    /// Scheme specific.
    fn query(
        &mut self,
        key: KeyView<'_>,
        keyword: &str,
        rng: &mut dyn CryptoRngCore,
    ) -> Result<<Self::Scheme as SearchableEncryption>::Query, SchemeError>;

    /// Processes the server's reply to a round of the search for `keyword`.
    ///
    /// # Errors
    /// [`SchemeError::Crypto`] or [`SchemeError::Malformed`] for a reply that does not fit.
    fn resolve(
        &mut self,
        key: KeyView<'_>,
        keyword: &str,
        reply: &<Self::Scheme as SearchableEncryption>::Reply,
        rng: &mut dyn CryptoRngCore,
    ) -> Result<Resolution<<Self::Scheme as SearchableEncryption>::Query>, SchemeError>;
}

/// The search server. Its re-keying side (control traffic, the changers it accepts it from,
/// its storage) is [`RekeyingServer`].
pub trait SseServer: RekeyingServer {
    /// The scheme.
    type Scheme: SearchableEncryption<Server = Self>;

    /// Applies an index update for `room`.
    ///
    /// # Errors
    /// Scheme specific.
    fn apply(
        &mut self,
        room: RoomId,
        update: <Self::Scheme as SearchableEncryption>::Update,
    ) -> Result<(), SchemeError>;

    /// Answers one round of a query, or says it cannot yet ([`Searched::NotYet`]). `access` is
    /// what the service's access control allows the searcher; schemes whose cryptography
    /// enforces access may ignore it.
    ///
    /// # Errors
    /// [`SchemeError::Malformed`] for a query that does not parse; scheme specific otherwise.
    fn search(
        &self,
        room: RoomId,
        access: Access,
        query: &<Self::Scheme as SearchableEncryption>::Query,
    ) -> Result<Searched<<Self::Scheme as SearchableEncryption>::Reply>, SchemeError>;
}
