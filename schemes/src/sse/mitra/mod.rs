//! `mitra`: Mitra (Ghareh Chamani, Papadopoulos, Papamanthou, Jalili, "New Constructions for
//! Forward and Backward Private Symmetric Searchable Encryption", CCS 2018,
//! <https://doi.org/10.1145/3243734.3243833>), forward private and Type-II backward private,
//! with deletions, adapted to a multi-writer chat room whose key changes every epoch
//! (research notes `sse.md` §1.6 for the scheme, §2.3 option A for per-epoch keys and the
//! back-chain, §2.4 options 1 and 2 for multi-writer state).
//!
//! # Source
//!
//! The paper above for the scheme and its `DictW` of 16-byte addresses and values (the paper's
//! code uses an AES-based PRG with a 16-byte output); the research notes above for what a chat
//! room adds: per-writer chains and counters rebuilt from a log (`sse.md` §2.4 options 1 and 2),
//! per-epoch keys and the back-chain (§2.3 option A, [`crate::common::back_chain`]).
//!
//! # Construction
//!
//! * **Keys per epoch.** `K_e = HKDF(epoch secret, "conclave sse mitra index" ‖ room ‖ e)`; from
//!   `K_e` alone come the PRF key and the log key (HKDF-Expand); `K_e` is the epoch's
//!   back-chain secret. The PRF
//!   `G` is HMAC-SHA-256 truncated to 16 bytes (the paper's code uses an AES-based PRG with a
//!   16-byte output; no AES is among this workspace's dependencies).
//! * **Per-writer chains** (§2.4 option 1), so concurrent writers never collide: writer `u` in
//!   epoch `e` keeps a counter per keyword `w`. Update `(op, w, id)`: `c += 1`,
//!   `addr = G(K_e, "addr" ‖ u ‖ w ‖ c)`, `val = (id ‖ op ‖ t) ⊕ G(K_e, "val" ‖ u ‖ w ‖ c)`, and
//!   the server stores `DictW[addr] = val`: 16 B + 16 B per keyword, as in the paper. `t` is a
//!   7-byte tag `G(K_e, "tag" ‖ u ‖ w ‖ c ‖ id ‖ op)` in the bytes the paper leaves as padding,
//!   so a tampered value is rejected instead of decrypting to a wrong id. `w` enters the PRF as
//!   a 16-byte digest (SHA-256, truncated).
//! * **Counters rebuilt from a log** (§2.4 option 2). Each update also carries one log record:
//!   `(epoch, writer, ChaCha20-Poly1305 under the log key of (op ‖ (c ‖ digest(w))*))`, with
//!   room, epoch and writer as associated data; the server numbers records in arrival order. A
//!   search is multi-round: the client sends its log position and the addresses of the
//!   keyword's entries it knows of; the server returns their values **and** the log records
//!   after that position; the client reads the records it has keys for, and if they reveal
//!   entries of the keyword it has not asked for, asks for those ([`Resolution::Next`](crate::sse::Resolution::Next)), else
//!   it is done: it cancels adds against deletes (an id is in the result when its adds
//!   outnumber its deletes) and returns the rest. The final round's log tail reveals nothing
//!   new, so the result is exactly what the server held when it answered that round. Records
//!   carry explicit counters, so updates of one writer applied out of order are still found.
//!   A client that obtains an epoch's key after reading past some of that epoch's records (it
//!   learnt of the epoch late, or a back-chain gave it) asks for them again (`rewind`), and
//!   records of epochs older than its oldest key are not sent to it at all (`floor`). A
//!   client that reads a record of an epoch newer than its newest key (the change's key is
//!   still on its way to it) does not end a search with the partial result: it searches
//!   again once it holds that epoch ([`Resolution::Requery`](crate::sse::Resolution::Requery)).
//! * **Epochs** (§2.3 option A). Clients keep the keys of every epoch they held and search
//!   them all. When the room shares history, the member who makes a change uploads a
//!   back-chain link sealing `K_{e-1}` under `K_e` ([`crate::common::back_chain`]); a
//!   joiner asks for the chain, walks it back from its own key, and its first search reads the
//!   log from the start. Until the chain has come, a joiner's search cannot be complete: the
//!   server holds a query whose floor is an epoch joiners are waiting on a link for
//!   ([`Searched::NotYet`](crate::sse::Searched::NotYet)), and the joiner does not end a search
//!   while its chain is still on its way (it asks one more round). The link carries the search key `K_{e-1}`, not the epoch secret, so
//!   history search does not hand out message keys. Without shared history nothing is uploaded
//!   and a joiner holds no key from before its join.
//! * **Provider.** The scheme is written once, generic over the provider of its symmetric
//!   primitives ([`crate::common::cipher`]): [`Mitra`] runs the real ones above (the PRF `G` is
//!   the provider's PRF truncated to 16 bytes, the keyword digest its hash). Its model for the
//!   `model` cost mode, [`MitraWith`] over [`Ideal`](crate::model::ideal_cipher::Ideal), is this
//!   same code with the key derivations, the PRF, the keyword hash, the log AEAD and the
//!   back-chain's seal replaced by ideal stand-ins of the real lengths ([`crate::model`]):
//!   addresses and pads are equal exactly for equal inputs, a value's tag and a log record open
//!   only unaltered, and nonces are drawn from the generator as the real ones are.
//!
//! # Costs
//!
//! * Update: 16 B + 16 B per keyword in `DictW`, and one log record: `57 + 52k` bytes on the
//!   wire for `k` keywords, a deletion as an addition ([`update_len`]).
//! * Search: at least one round, more when the log reveals entries not yet asked for; the token
//!   is `16·a_w` bytes summed over every epoch and writer the searcher holds, and every reply
//!   carries the log tail since the searcher's position (its bytes and the extra rounds are
//!   metered). A fresh client reads the whole log once. A round's query is
//!   `28 + 16r + 16a` bytes for `r` rewound epochs and `a` addresses ([`query_len`]), its reply
//!   `28 + 16a` bytes plus `65 + 20k` per log record of `k` keywords ([`reply_len`],
//!   [`record_len`]). Over a complete search the addresses add up to the keyword's updates
//!   (additions and deletions) under every epoch the searcher holds.
//! * Back-chain ([`crate::common::back_chain`]): per change that shares history, the changer's
//!   link and each joiner's request and answer ([`change_messages`], [`LINK_MESSAGE_LEN`],
//!   [`CHAIN_REQUEST_LEN`], [`chain_len`]); the server's `"store-link"` work is
//!   [`link_units`] and its `"send-chain"` work [`request_units`], in links.
//! * Client state: a counter set per (epoch, writer, keyword), and at most 64 open searches per
//!   room.
//!
//! # Security
//!
//! Keys, not the server, decide what a member finds (Access). A passive server learns the
//! leakage listed below; an active one can withhold results undetected, and what it alters is
//! refused (Properties and leakage).
//!
//! ## Access
//!
//! Values are response-hiding (the id is inside `val`), so the server cannot filter results
//! by [`Access::readable_from`](crate::sse::Access). Keys enforce the policy: a joiner under
//! `from_join` holds no key of an earlier epoch, so it can neither read those log records nor
//! derive those addresses, and finds nothing from before its join even when asked with
//! `readable_from = 0`; a removed member holds no later key and finds nothing indexed under
//! later epochs. The service's bound is applied on top by the client: the server echoes
//! `readable_from` in its reply and the client drops decrypted ids below it. That is the
//! simplest rule that is exactly the oracle's (ids `>= readable_from`) whenever the bound is
//! stricter than the keys (a single epoch searched with a later bound); a lying server can only
//! shrink results with it, which it can do anyway by withholding entries.
//!
//! ## Properties and leakage
//!
//! * **Forward private**: an update's addresses come from counters never used before, so no
//!   earlier query contains them, and its log record is an AEAD ciphertext. The update leaks
//!   its epoch, its writer, its time and its number of keywords (entries, and the record's
//!   length); not the keywords, their lengths, nor the message.
//! * **Type-II backward private**: a search leaks, per (epoch, writer) chain, the number of
//!   updates of the keyword (`a_w` addresses, deletions included) and, by matching the returned
//!   addresses to stored entries, when each was made (Updates(w)); the values hide which ids
//!   were added or deleted. After the search the server links those entries to each other and
//!   to later searches of the same keyword.
//! * **Search pattern**: the same keyword's addresses are sent again in every search (tokens
//!   are deterministic), so repeated searches are linkable; the token is `16·a_w` bytes summed
//!   over every epoch and writer the searcher holds.
//! * **The log** leaks to the server update times, sizes (keyword counts), writers and epochs in
//!   the clear, and how far each searcher had read (its position and rewinds). The log tail
//!   is part of every search's reply: its bytes and the extra rounds are metered.
//! * **Integrity**: log records, back-chain links and values are authenticated; a tampered
//!   one is an error. **No completeness**: the server can withhold entries or log records
//!   (or relabel a record with an epoch the client does not hold, which looks the same); the
//!   client then misses those results undetected. Mitra is not a verifiable SSE.
//!
//! # Weaknesses
//!
//! * Every search reads the whole log tail since the searcher's previous one, and a fresh
//!   client (a joiner under shared history) reads the whole log once: the price of rebuilding
//!   counters from the log. Clients keep a counter set per (epoch, writer, keyword).
//! * Tokens grow with every update of the keyword, deletions included, and with the number of
//!   epochs and writers (no clean-up phase: the paper's optional re-insertion is not done).
//! * A removed member keeps the keys of the epochs it held: it still finds messages of those
//!   epochs (including deletions made later, which are under keys it lacks). A message sent
//!   under an old epoch after a join (by a writer who had not caught up) cannot be found by a
//!   `from_join` joiner although the service's bound allows it.
//! * A search is identified by a handle the reply echoes; a client keeps at most 64 searches
//!   open per room.
//! * If a link in the middle of the back-chain reaches the server after a joiner's request was
//!   answered, that joiner's history stops at the gap.
//!
//! # Side channels
//!
//! HMAC-SHA-256, HKDF-SHA-256, SHA-256 and ChaCha20-Poly1305 (RustCrypto) and the tag check
//! (`subtle`'s `ct_eq`) are constant time. Everything else (map lookups by address on the
//! server, counter bookkeeping, which records a client can open) depends on public data or on
//! data the server already knows.

mod client;
mod keys;
mod server;
mod wire;

pub use super::chain_traffic::{
    chain_len, chain_links, change_messages, link_units, request_units, CHAIN_REQUEST_LEN,
    LINK_MESSAGE_LEN,
};
pub use client::{Client, ClientWith};
pub use server::{Server, ServerWith};
pub use wire::{
    log_ciphertext_len, query_len, record_len, reply_len, update_len, Entry, LogRecord, Message,
    Query, Reply, Sealed, Update,
};

use core::marker::PhantomData;

use super::{SearchableEncryption, SseProperties};
use crate::common::cipher::{Real, SymmetricCipher};
use crate::UserId;

/// Mitra with per-epoch keys, per-writer chains and a server-side update log, with the
/// primitives of provider `C`: [`Mitra`] with the real ones, the scheme's model with
/// [`crate::model::ideal_cipher::Ideal`].
#[derive(Debug, Clone, Copy, Default)]
pub struct MitraWith<C>(PhantomData<C>);

/// Mitra with per-epoch keys, per-writer chains and a server-side update log.
pub type Mitra = MitraWith<Real>;

/// Bytes per keyword in a log record's body: counter (4) and keyword digest (16).
const LOG_ENTRY_LEN: usize = 4 + 16;

/// Plaintext length of the log record of an update with `keywords` keywords.
const fn log_body_len(keywords: usize) -> usize {
    1 + LOG_ENTRY_LEN * keywords
}

impl<C: SymmetricCipher> SearchableEncryption for MitraWith<C> {
    const NAME: &'static str = "mitra";
    const SUMMARY: &'static str =
        "Mitra (CCS 2018): forward and Type-II backward private, per-epoch keys, per-writer chains, counters rebuilt from a server-side log";
    const PROPERTIES: SseProperties = SseProperties {
        server_reads_keywords: false,
        forward_private: true,
        // without the back-chain a joiner derives no earlier address.
        keys_enforce_from_join: true,
    };
    type Update = Update;
    type Query = Query;
    type Reply = Reply;
    type Message = Message;
    type Client = ClientWith<C>;
    type Server = ServerWith<C>;

    fn new_client(user: UserId) -> ClientWith<C> {
        ClientWith::new(user)
    }
}
