//! What Mitra sends, and its exact encoded sizes.
//!
//! Encodings (big-endian integers; `Epoch` 8 B, `UserId` 4 B, `MsgId` 8 B, counts 4 B):
//!
//! | message | layout | bytes |
//! |---|---|---|
//! | [`Update`] | epoch, writer, k, k × (address 16, value 16), log nonce 24, log ciphertext | 16 + 32k + 24 + (1 + 20k + 16) |
//! | [`Query`] | search 4, cursor 8, floor 8, r, r × (epoch 8, from 8), a, a × address 16 | 28 + 16r + 16a |
//! | [`Reply`] | search 4, readable_from 8, end 8, a, a × value 16, n, n × record | 28 + 16a + Σ records |
//! | [`LogRecord`] | seq 8, epoch 8, writer 4, nonce 24, length 4, ciphertext | 48 + ciphertext |
//! | [`Message::Link`] | kind 1, link | 1 + 64 |
//! | [`Message::Request`] | kind 1, epoch 8 | 9 |
//! | [`Message::Chain`] | kind 1, n (LEB128), n × link | 1 + varint(n) + 64n |
//!
//! A log record's plaintext is `op 1 ‖ k × (counter 4 ‖ keyword tag 16)`, so its ciphertext is
//! `1 + 20k + 16` bytes for an update of `k` keywords: its length reveals `k`, as the update's
//! entries do anyway, and nothing about the keywords' lengths.

use std::sync::Arc;

use super::keys::{ENTRY_LEN, NONCE_LEN};
use super::{log_body_len, LOG_ENTRY_LEN};
use crate::common::{aead, back_chain};
use crate::{Epoch, MsgId, UserId, Wire};

/// Bytes of an epoch, a count, a user id, a log sequence number.
const EPOCH: usize = 8;
const COUNT: usize = 4;
const USER: usize = 4;
const SEQ: usize = 8;
/// Bytes of a message id.
const ID: usize = 8;
/// Bytes of a search handle.
const HANDLE: usize = 4;

/// Bytes of the sealed body of the log record of an update of `keywords` keywords: the op, a
/// counter and a keyword digest per keyword, and the AEAD tag. It reveals the keyword count,
/// as the update's entries do anyway, never the keywords' lengths.
#[must_use]
pub const fn log_ciphertext_len(keywords: usize) -> usize {
    log_body_len(keywords) + aead::TAG_LEN
}

/// Bytes of an index update (an addition or a deletion alike) of a message carrying `keywords`
/// distinct keywords: epoch, writer, entry count, one 32-byte entry per keyword, and the log
/// record's nonce and ciphertext. `57 + 52k`.
#[must_use]
pub const fn update_len(keywords: usize) -> usize {
    EPOCH + USER + COUNT + keywords * 2 * ENTRY_LEN + NONCE_LEN + log_ciphertext_len(keywords)
}

/// Bytes of one log record in a reply, that of an update of `keywords` keywords: sequence
/// number, epoch, writer, nonce, ciphertext length and ciphertext. `65 + 20k`.
#[must_use]
pub const fn record_len(keywords: usize) -> usize {
    SEQ + EPOCH + USER + COUNT + NONCE_LEN + log_ciphertext_len(keywords)
}

/// Bytes of one round of a search ([`Query`]: the first, or a further one the client sends
/// as [`Resolution::Next`](crate::sse::Resolution::Next)) asking to re-read the log of
/// `rewinds` epochs (keys acquired after reading past their records) and for the values at
/// `addresses` addresses (the keyword's entries in the chains known and not asked for yet in
/// this search). `28 + 16r + 16a`.
#[must_use]
pub const fn query_len(rewinds: usize, addresses: usize) -> usize {
    HANDLE + SEQ + EPOCH + COUNT + rewinds * (EPOCH + SEQ) + COUNT + addresses * ENTRY_LEN
}

/// Bytes of the reply to a round asking for `values` values, carrying `records` log records
/// (those after the query's position of epochs not older than its floor, and those of its
/// rewinds) of `record_keywords` keywords in all: handle, access bound, log end, the values
/// and the records ([`record_len`] each). `28 + 16a + 65n + 20K`.
#[must_use]
pub const fn reply_len(values: usize, records: usize, record_keywords: usize) -> usize {
    HANDLE
        + ID
        + SEQ
        + COUNT
        + values * ENTRY_LEN
        + COUNT
        + records * record_len(0)
        + record_keywords * LOG_ENTRY_LEN
}

/// An AEAD ciphertext with its nonce. Cheap to clone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    /// The ChaCha20-Poly1305 nonce.
    pub nonce: [u8; NONCE_LEN],
    /// The ciphertext with its 16-byte tag.
    pub ciphertext: Arc<[u8]>,
}

impl Sealed {
    fn wire_len(&self) -> usize {
        NONCE_LEN + self.ciphertext.len()
    }

    fn visit_bytes(&self, f: &mut dyn FnMut(&[u8])) {
        f(&self.nonce);
        f(&self.ciphertext);
    }
}

/// One dictionary entry: `DictW[address] = value`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// `G(K_e, "addr" ‖ writer ‖ w ‖ c)`.
    pub address: [u8; ENTRY_LEN],
    /// `(id ‖ op ‖ tag) ⊕ G(K_e, "val" ‖ writer ‖ w ‖ c)`.
    pub value: [u8; ENTRY_LEN],
}

/// A message's index update: one entry per keyword, plus the log record that tells other
/// members which counters it used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Update {
    /// The epoch whose keys made it (in the clear: the server files the log record under it).
    pub epoch: Epoch,
    /// The writer whose chains it extends (in the clear, as the server sees the sender anyway).
    pub writer: UserId,
    /// The dictionary entries, one per keyword.
    pub entries: Vec<Entry>,
    /// The log record's body: the update's op and its (counter, keyword tag) pairs, sealed
    /// under the epoch's log key.
    pub log: Sealed,
}

impl Wire for Update {
    fn wire_len(&self) -> usize {
        EPOCH + USER + COUNT + self.entries.len() * 2 * ENTRY_LEN + self.log.wire_len()
    }
    fn visit_bytes(&self, f: &mut dyn FnMut(&[u8])) {
        for e in &self.entries {
            f(&e.address);
            f(&e.value);
        }
        self.log.visit_bytes(f);
    }
}

/// A log record as the server hands it out: its sequence number, its clear header and its
/// sealed body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    /// Position in the room's log, assigned by the server.
    pub seq: u64,
    /// The epoch whose log key sealed it.
    pub epoch: Epoch,
    /// Who wrote it.
    pub writer: UserId,
    /// The body.
    pub sealed: Sealed,
}

impl Wire for LogRecord {
    fn wire_len(&self) -> usize {
        SEQ + EPOCH + USER + COUNT + self.sealed.wire_len()
    }
    fn visit_bytes(&self, f: &mut dyn FnMut(&[u8])) {
        self.sealed.visit_bytes(f);
    }
}

/// One round of a search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// The client's handle for this search, echoed in the reply.
    pub search: u32,
    /// The log position the client has read up to: send records from here on.
    pub cursor: u64,
    /// The oldest epoch the client holds a key for: records of older epochs are useless to it.
    pub floor: Epoch,
    /// Epochs whose key the client acquired after reading past some of their records: also
    /// send their records from `from` up to `cursor`.
    pub rewind: Vec<(Epoch, u64)>,
    /// Addresses to look up: those of the keyword's entries the client has not asked for in
    /// this search yet.
    pub addresses: Vec<[u8; ENTRY_LEN]>,
}

impl Wire for Query {
    fn wire_len(&self) -> usize {
        4 + SEQ
            + EPOCH
            + COUNT
            + self.rewind.len() * (EPOCH + SEQ)
            + COUNT
            + self.addresses.len() * ENTRY_LEN
    }
    fn visit_bytes(&self, f: &mut dyn FnMut(&[u8])) {
        for a in &self.addresses {
            f(a);
        }
    }
}

/// The server's answer to one round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The query's search handle.
    pub search: u32,
    /// The access bound the chat service gave for the searcher, for the client to apply to the
    /// ids it decrypts (the server cannot see them).
    pub readable_from: MsgId,
    /// The log's length when the server answered.
    pub end: u64,
    /// The values at the query's addresses, in order.
    pub values: Vec<[u8; ENTRY_LEN]>,
    /// The log records the query asked for, by ascending `seq`.
    pub records: Vec<LogRecord>,
}

impl Wire for Reply {
    fn wire_len(&self) -> usize {
        4 + 8
            + SEQ
            + COUNT
            + self.values.len() * ENTRY_LEN
            + COUNT
            + self.records.iter().map(Wire::wire_len).sum::<usize>()
    }
    fn visit_bytes(&self, f: &mut dyn FnMut(&[u8])) {
        for v in &self.values {
            f(v);
        }
        for r in &self.records {
            r.visit_bytes(f);
        }
    }
}

/// Control traffic: the back-chain of index keys ([`crate::common::back_chain`]).
pub type Message = back_chain::Message;
