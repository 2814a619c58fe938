//! `plaintext`: a conventional server-side inverted index.
//!
//! # Source
//!
//! The search of a TLS-only chat, the left column of NTT's Table 1.
//!
//! # Construction
//!
//! The client sends each message's keywords in the clear (inside TLS) and the server keeps, per
//! room, a posting list of message ids per keyword; a deletion sends the same keywords, flagged.
//! A query is the keyword itself. Access control (a joiner under a `from_join` policy seeing
//! only later messages) is the server's ACL, applied to results.
//!
//! # Costs
//!
//! An update is 11 bytes plus each keyword with a length byte ([`update_len`], a deletion
//! too), a query the keyword and a length byte ([`query_len`]), a reply 4 bytes plus 8 per id
//! ([`reply_len`]); a search is that one round. The server makes one hash-table lookup per
//! keyword of an update or query, and stores 8 bytes per posting plus the text of each distinct
//! keyword. Clients keep nothing, and an epoch change costs nothing: no control message, no
//! server work.
//!
//! # Security
//!
//! None end to end, even against a passive server: it learns every keyword, every query and
//! every result. Access control is its ACL alone.
//!
//! # Weaknesses
//!
//! A breach of the server's storage exposes every keyword of every room, and the `from_join`
//! bound holds only as long as the server applies it.
//!
//! # Side channels
//!
//! Nothing secret is processed: keywords and ids are in the clear for the server anyway. Its
//! lookups are variable time, on that public data.

use crate::rekeying::{RekeyingClient, RekeyingServer};
use std::collections::BTreeMap;

use crate::common::fixed_hash::HashMap;

use super::{
    Access, IndexChange, IndexOp, KeyView, Resolution, SearchableEncryption, Searched, SseClient,
    SseProperties, SseServer,
};
use crate::{CryptoRngCore, MsgId, RoomId, SchemeError, UserId, Wire};

/// The plaintext index baseline.
#[derive(Debug, Clone, Copy, Default)]
pub struct PlaintextIndex;

/// A message's keywords, in the clear.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Update {
    /// The message.
    pub msg: MsgId,
    /// Its distinct keywords.
    pub keywords: Vec<String>,
    /// Whether this deletes the message from the index rather than adding it.
    pub delete: bool,
}

/// A keyword, in the clear.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query(pub String);

/// Matching message ids, ascending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply(pub Vec<MsgId>);

/// `plaintext` has no control traffic; this type has no values.
pub use crate::pre::none::NoMessage;

/// Bytes of an encoded message id.
const ID_LEN: usize = 8;
/// Bytes of an update besides its keywords: the message id, the deletion flag and the keyword
/// count (u16).
const UPDATE_FIXED: usize = ID_LEN + 1 + 2;

/// Bytes of an index update (an addition or a deletion alike) of `keywords` keywords whose
/// texts total `keyword_bytes` bytes: each keyword goes in the clear after a length byte.
#[must_use]
pub const fn update_len(keywords: usize, keyword_bytes: usize) -> usize {
    UPDATE_FIXED + keywords + keyword_bytes
}

/// Bytes of a query for a keyword of `keyword_bytes` bytes: a length byte and the keyword.
#[must_use]
pub const fn query_len(keyword_bytes: usize) -> usize {
    1 + keyword_bytes
}

/// Bytes of a reply of `ids` message ids (those of the keyword's postings the searcher may
/// read): a count (u32) and the ids. The client then has its result; nothing more is sent.
#[must_use]
pub const fn reply_len(ids: usize) -> usize {
    4 + ID_LEN * ids
}

impl Wire for Update {
    fn wire_len(&self) -> usize {
        8 + 1 + 2 + self.keywords.iter().map(|k| 1 + k.len()).sum::<usize>()
    }
    fn visit_bytes(&self, f: &mut dyn FnMut(&[u8])) {
        for k in &self.keywords {
            f(k.as_bytes());
        }
    }
}

impl Wire for Query {
    fn wire_len(&self) -> usize {
        1 + self.0.len()
    }
    fn visit_bytes(&self, f: &mut dyn FnMut(&[u8])) {
        f(self.0.as_bytes());
    }
}

impl Wire for Reply {
    fn wire_len(&self) -> usize {
        4 + 8 * self.0.len()
    }
    fn visit_bytes(&self, _f: &mut dyn FnMut(&[u8])) {}
}

/// Clients keep no search state.
#[derive(Debug, Default)]
pub struct Client;

/// Per room, keyword to ascending message ids.
#[derive(Debug, Default)]
pub struct Server {
    // Only looked up, never iterated, so the hash map's order cannot leak into results.
    rooms: BTreeMap<RoomId, HashMap<String, Vec<MsgId>>>,
    bytes: usize,
}

impl SearchableEncryption for PlaintextIndex {
    const NAME: &'static str = "plaintext";
    const SUMMARY: &'static str = "conventional server-side inverted index over plaintext keywords";
    const PROPERTIES: SseProperties = SseProperties {
        server_reads_keywords: true,
        forward_private: false,
        // no keys: the server's ACL alone.
        keys_enforce_from_join: false,
    };
    type Update = Update;
    type Query = Query;
    type Reply = Reply;
    type Message = NoMessage;
    type Client = Client;
    type Server = Server;

    fn new_client(_user: UserId) -> Client {
        Client
    }
}

impl SseClient for Client {
    type Scheme = PlaintextIndex;

    fn update(
        &mut self,
        _key: KeyView<'_>,
        change: IndexChange<'_>,
        _rng: &mut dyn CryptoRngCore,
    ) -> Result<Update, SchemeError> {
        let IndexChange { msg, keywords, op } = change;
        Ok(Update {
            msg,
            keywords: keywords.iter().map(|k| (*k).to_owned()).collect(),
            delete: op == IndexOp::Delete,
        })
    }

    fn query(
        &mut self,
        _key: KeyView<'_>,
        keyword: &str,
        _rng: &mut dyn CryptoRngCore,
    ) -> Result<Query, SchemeError> {
        Ok(Query(keyword.to_owned()))
    }

    fn resolve(
        &mut self,
        _key: KeyView<'_>,
        _keyword: &str,
        reply: &Reply,
        _rng: &mut dyn CryptoRngCore,
    ) -> Result<Resolution<Query>, SchemeError> {
        super::check_ascending(&reply.0)?;
        Ok(Resolution::Done(reply.0.clone()))
    }
}

/// Nothing to re-key: the defaults (nothing to remember or send at a change).
impl RekeyingClient for Client {
    type Message = NoMessage;
}

impl SseServer for Server {
    type Scheme = PlaintextIndex;

    fn apply(&mut self, room: RoomId, update: Update) -> Result<(), SchemeError> {
        let index = self.rooms.entry(room).or_default();
        if update.delete {
            for keyword in &update.keywords {
                if let Some(list) = index.get_mut(keyword) {
                    if let Ok(pos) = list.binary_search(&update.msg) {
                        list.remove(pos);
                        self.bytes -= 8;
                    }
                }
            }
            return Ok(());
        }
        for keyword in update.keywords {
            self.bytes += 8;
            match index.get_mut(&keyword) {
                Some(list) => {
                    // Ids arrive in send order; keep the list sorted even if they do not.
                    match list.last() {
                        Some(&last) if last < update.msg => list.push(update.msg),
                        _ => {
                            if let Err(pos) = list.binary_search(&update.msg) {
                                list.insert(pos, update.msg);
                            }
                        }
                    }
                }
                None => {
                    self.bytes += keyword.len();
                    index.insert(keyword, vec![update.msg]);
                }
            }
        }
        Ok(())
    }

    fn search(
        &self,
        room: RoomId,
        access: Access,
        query: &Query,
    ) -> Result<Searched<Reply>, SchemeError> {
        let ids = self
            .rooms
            .get(&room)
            .and_then(|index| index.get(&query.0))
            .map(|list| {
                let start = list.partition_point(|&id| id < access.readable_from);
                list[start..].to_vec()
            })
            .unwrap_or_default();
        Ok(Searched::Reply(Reply(ids)))
    }
}

/// No re-keying traffic: the defaults (no changers to check).
impl RekeyingServer for Server {
    type Message = NoMessage;

    fn stored_len(&self) -> usize {
        self.bytes
    }
}
