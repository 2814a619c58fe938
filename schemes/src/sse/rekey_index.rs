//! `rekey-index`: NTT's re-keyable search index, on Ristretto255.
//!
//! # Source
//!
//! NTT's patent US 11,765,137 (research/mkd.md §2.3): a terminal sends (index, message id) pairs
//! where the index is made from a keyword with the session key; when the session key changes, a
//! terminal makes a re-encryption key from the old and the new session key and the server turns
//! every stored index into the one the new key would give; a query is the keyword under the
//! current key. The patent gives no algorithm. This module uses the instantiation of
//! research/mkd.md §2.3 (marked there as inferred) and research/sse.md §2.3 option B
//! (key-homomorphic labels).
//!
//! # Construction
//!
//! The scheme is written once, generic over its group `G` ([`DlGroup`]) and its symmetric
//! provider `C` ([`SymmetricCipher`]): [`RekeyIndex`] is [`RekeyIndexIn`] in Ristretto255 with
//! the real primitives ([`Real`]), and its model ([`crate::model`]) is the same code in the
//! exponent group ([`Exponents`](crate::pre::dl_group::Exponents), the generic group model)
//! with the ideal provider ([`Ideal`](crate::model::ideal_cipher::Ideal)): there a tag is
//! `h(w)·a` in the clear, the exponent's seed an ideal key of the epoch secret, the hashes
//! [`crate::model::mix`], and re-keying a multiplication modulo ℓ, with the same 32-byte
//! encodings, so the model sends and keeps exactly the scheme's bytes and finds exactly what it
//! finds. Below, the real instantiation:
//!
//! * `H` hashes a keyword to the Ristretto255 group (SHA-512 and the Elligator-based map of
//!   RFC 9496 §4.3.4, `RistrettoPoint::from_hash`);
//! * epoch `e` of a room has the exponent `a_e`, a non-zero scalar derived from the epoch secret
//!   with HKDF-SHA-256 (label `conclave sse rekey-index exponent`, bound to room and epoch) and
//!   reduced from 512 bits;
//! * the update for message `m` with keywords `w_i` under epoch `e` is
//!   `(e, m, {H(w_i)^a_e})` (tags sorted, so their order says nothing about the text); a deletion
//!   has the same form and removes the `(tag, m)` pairs;
//! * a query is `(e, H(w)^a_e)` for the searcher's current epoch, one round, answered by a
//!   hash-table lookup on the compressed tag;
//! * on every epoch change with a predecessor the changer sends the search server
//!   `rho = a_e' / a_e` (and nothing to anyone else). The server raises every stored tag to
//!   `rho` as one data-parallel rayon job ([`Work`] `"rekey"`, units = tags raised) and keeps
//!   the product of the later factors for every past epoch, so an update made under an older
//!   epoch that arrives late is raised to the current key before it is stored. Updates and
//!   factors from epochs the server has not reached yet wait until it has.
//!
//! Tags are deterministic, so every posting of a keyword has the same tag: the server keeps one
//! tag per distinct keyword with its list of message ids, and one exponentiation re-keys all of
//! them. An "entry" in the costs is such a tag. Re-keying raises the points with
//! [`DlGroup::raise_all`], which in Ristretto255 raises each to `rho/2` and compresses the
//! doubles in batches (`double_and_compress_batch`), sharing one field inversion per batch
//! instead of one per tag.
//!
//! ## Ordering
//!
//! Factors and updates may reach the server out of order. Updates and factors of
//! epochs the server has not reached wait; a factor behind a room's first update is kept for
//! late updates. A query under an epoch the server has not reached (its factor is still in
//! flight) is answered [`Searched::NotYet`], since an answer would miss the history; a
//! query under an older epoch (the room changed while it travelled, or a removed member's kept
//! key) is answered [`Reply::Stale`] with the index's epoch and searches nothing: the
//! searcher's client turns it into [`Resolution::Requery`] and asks again once it holds that
//! epoch. The index never answers a tag of a past epoch, so a removed member's key finds nothing.
//!
//! # Costs
//!
//! * Update: 19 bytes plus a 32-byte tag per keyword ([`update_len`], a deletion too); the
//!   client hashes each keyword to the group and raises it to `a_e`. Query: 40 bytes
//!   ([`QUERY_LEN`]), one hash and one exponentiation; reply: 4 bytes plus 8 per id
//!   ([`reply_len`]), or 12 for a query the index moved past ([`STALE_REPLY_LEN`]), after which
//!   the client asks again under its new key. A re-keying factor: 40 bytes ([`REKEY_LEN`]),
//!   from the changer to the server only, at every change but a room's creation
//!   ([`change_messages`]).
//! * Re-keying: one exponentiation per entry (distinct keyword of the room), whatever the number
//!   of postings, as one data-parallel job with one field inversion per batch (above): the
//!   `"rekey"` work of [`rekey_units`].
//!
//! # Security
//!
//! `w -> H(w)^a` is the Naor–Pinkas–Reingold PRF: tags are pseudorandom under the decisional
//! Diffie–Hellman assumption in the random-oracle model, so without `a` the server cannot test a
//! guessed keyword. Exponents are per room and epoch, so tags of different rooms are unlinkable.
//! The server learns:
//!
//! * **keyword equality across updates and with queries** (deterministic tags): the number of
//!   distinct keywords of a room, the size of each posting list, which messages share a keyword,
//!   the search pattern and the access pattern (result ids). This is the leakage of a
//!   deterministic index such as Π_bas without padding, plus the re-keying;
//! * **the update pattern**: message ids, their number of keywords, the epoch of each update;
//! * **every re-keying factor**. Not forward private: an update's tag equals the tag of an
//!   earlier query for the same keyword in the same epoch ([`SseProperties::forward_private`] is
//!   false).
//!
//! Removed members: after a change, the index answers only tags under the new exponent, so a
//! removed member's kept key finds nothing (also nothing it found before: the whole index moved).
//! This rests on the server not colluding: a removed member who knows `a` and learns `rho` gets
//! `a' = rho·a`, and the server keeps every factor, so removed member plus server yield every
//! later exponent. The factor goes to the server only, over the client-server channel.
//!
//! History policy: the index is re-keyed at every change, `from_join` included, because current
//! members must keep searching the whole history with one token. A joiner's exponent therefore
//! matches pre-join entries too; under `from_join` only the server's ACL (`Access::readable_from`,
//! applied to every result) hides them. The cryptography enforces removal (against a
//! non-colluding server), not `from_join`.
//!
//! # Weaknesses
//!
//! * Not forward private, and keyword equality is visible to the server (above).
//! * Not collusion-safe: removed member plus server yield every later exponent (above).
//! * `from_join` rests on the server's ACL alone (above).
//! * Every change re-keys every entry of the room.
//!
//! # Side channels
//!
//! Scalar multiplication, hashing to the group, compression and decompression are constant time
//! (curve25519-dalek), as is HKDF-SHA-256 (RustCrypto). Scalar inversion for `rho` is constant
//! time. The server's hash-table lookups and list operations are variable time in public data
//! (tags, ids). The model computes nothing secret.

use core::marker::PhantomData;
use std::collections::BTreeMap;

use curve25519_dalek::scalar::Scalar;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::common::cipher::{Real, SymmetricCipher};
use crate::common::fixed_hash::HashMap;
use crate::pre::dl_group::{DlGroup, Ristretto};
use crate::rekeying::{RekeyingClient, RekeyingServer};

use super::{
    Access, EpochChange, IndexChange, IndexOp, KeyView, Resolution, SearchableEncryption, Searched,
    SseClient, SseProperties, SseServer, Work,
};
use crate::common::changers::Changers;
use crate::{
    CryptoRngCore, Dest, Epoch, Label, Misuse, MsgId, Outbox, RoomId, SchemeError, UserId, Wire,
};

/// Bytes of an encoded group element or scalar.
const POINT_LEN: usize = 32;
/// Bytes of an encoded epoch or message id.
const ID_LEN: usize = 8;

/// An encoded tag: a group element's canonical encoding.
pub type Tag = [u8; POINT_LEN];

/// Why a tag that encodes no group element is refused.
const NOT_A_TAG: &str = "tag is not a group element";
/// Why a tag that encodes the identity is refused (no keyword's tag is).
const IDENTITY_TAG: &str = "tag is the identity";

/// Bytes of an index update of a message carrying `keywords` distinct keywords, an addition or
/// a deletion alike: the epoch, the message id, the deletion flag, the tag count (u16) and one
/// tag per keyword, whatever the keywords' lengths.
#[must_use]
pub const fn update_len(keywords: usize) -> usize {
    ID_LEN + ID_LEN + 1 + 2 + POINT_LEN * keywords
}

/// Bytes of a query: the epoch and the keyword's tag.
pub const QUERY_LEN: usize = ID_LEN + POINT_LEN;

/// Bytes of a reply of `ids` message ids (the keyword's posting within the searcher's access
/// bound): a count (u32) and the ids. The search is then done.
#[must_use]
pub const fn reply_len(ids: usize) -> usize {
    4 + ID_LEN * ids
}

/// Bytes of the reply to a query under an epoch the index has moved past ([`Reply::Stale`]):
/// the count's marker and the index's epoch. The client searches again, with a [`QUERY_LEN`]
/// query, once it holds that epoch.
pub const STALE_REPLY_LEN: usize = 4 + ID_LEN;

/// Bytes of a re-keying factor ([`Rekey`]): the epoch it leads to and the scalar.
pub const REKEY_LEN: usize = ID_LEN + POINT_LEN;

/// The control messages of a change into `epoch`, as `(count, bytes of each)` pairs: the
/// changer's factor to the server, at every change but the room's creation (epoch 0), whatever
/// the history policy; nothing to or from anyone else.
#[must_use]
pub fn change_messages(epoch: Epoch) -> Vec<(usize, usize)> {
    vec![(usize::from(epoch.0 > 0), REKEY_LEN)]
}

/// Units of the server's `"rekey"` work for a factor that moves the room's index on: its
/// `entries`, the distinct tags with at least one message, each raised once (a deleted
/// message's tags leave the count when their last message goes). A factor that reaches a
/// server whose index is already at or past its epoch raises nothing (0); one that arrives
/// ahead of a missing earlier factor raises nothing until that one comes, which then raises
/// the entries once for each epoch it moves the index through.
#[must_use]
pub const fn rekey_units(entries: usize) -> u64 {
    entries as u64
}

/// The re-keyable index in group `G` with the symmetric primitives of `C`: [`RekeyIndex`] in
/// Ristretto255 with the real primitives, the scheme's model ([`crate::model`]) in the
/// exponents ([`crate::pre::dl_group::Exponents`]) with the ideal ones
/// ([`crate::model::ideal_cipher::Ideal`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct RekeyIndexIn<G, C>(PhantomData<(G, C)>);

/// The re-keyable index.
pub type RekeyIndex = RekeyIndexIn<Ristretto, Real>;

/// A message's keyword tags under one epoch's exponent (an addition or a deletion).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Update {
    /// The epoch whose exponent made the tags.
    pub epoch: Epoch,
    /// The message.
    pub msg: MsgId,
    /// Whether this deletes the message's `(tag, msg)` pairs rather than adding them.
    pub delete: bool,
    /// `H(w)^a` per keyword, sorted by encoding.
    pub tags: Vec<Tag>,
}

/// A keyword's tag under the searcher's current epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// The epoch whose exponent made the tag.
    pub epoch: Epoch,
    /// `H(w)^a`.
    pub tag: Tag,
}

/// The server's answer to a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Matching message ids, ascending.
    Ids(Vec<MsgId>),
    /// The index had moved past the query's epoch to this one: no tag of the query's epoch is
    /// left, so nothing was searched.
    Stale(Epoch),
}

/// The changer's re-keying factor for the search server.
#[derive(Clone, PartialEq, Eq)]
pub struct Rekey {
    /// The epoch the factor leads to (from the epoch before it).
    pub epoch: Epoch,
    /// `a_epoch / a_(epoch-1)`.
    pub rho: Scalar,
}

crate::secret::debug_without_secrets!("Rekey", Rekey { epoch });

impl Wire for Update {
    fn wire_len(&self) -> usize {
        // epoch, id, delete flag, tag count (u16), tags.
        ID_LEN + ID_LEN + 1 + 2 + POINT_LEN * self.tags.len()
    }
    fn visit_bytes(&self, f: &mut dyn FnMut(&[u8])) {
        for tag in &self.tags {
            f(tag);
        }
    }
}

impl Wire for Query {
    fn wire_len(&self) -> usize {
        ID_LEN + POINT_LEN
    }
    fn visit_bytes(&self, f: &mut dyn FnMut(&[u8])) {
        f(&self.tag);
    }
}

impl Wire for Reply {
    fn wire_len(&self) -> usize {
        match self {
            // A count, then the ids.
            Reply::Ids(ids) => 4 + ID_LEN * ids.len(),
            // A count that cannot be one (all ones), then the epoch.
            Reply::Stale(_) => 4 + ID_LEN,
        }
    }
    fn visit_bytes(&self, _f: &mut dyn FnMut(&[u8])) {}
}

impl Wire for Rekey {
    fn wire_len(&self) -> usize {
        ID_LEN + POINT_LEN
    }
    fn visit_bytes(&self, f: &mut dyn FnMut(&[u8])) {
        f(self.rho.as_bytes());
    }
}

/// An epoch's exponent `a`, wiped on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
struct Exponent(Scalar);

impl Exponent {
    /// `a` for `key`'s epoch: the epoch secret's key of this scheme's label (HKDF under
    /// [`Real`]), hashed to a scalar (512-bit reduction, so uniform), re-hashed with a counter
    /// in the negligible case that it is zero.
    fn derive<G: DlGroup, C: SymmetricCipher>(key: KeyView<'_>) -> Self {
        let seed = C::derive(
            key.secret,
            Label::Custom("conclave sse rekey-index exponent"),
            key.room,
            key.epoch,
        );
        let mut counter = 0u8;
        loop {
            let scalar = G::hash_to_scalar(&[&seed, &[counter]]);
            if scalar != Scalar::ZERO {
                return Self(scalar);
            }
            counter = counter.wrapping_add(1);
        }
    }
}

/// `H(w)`: the keyword hashed to the group, domain-separated.
fn keyword_point<G: DlGroup>(keyword: &str) -> G::Element {
    G::hash(&[b"conclave sse rekey-index keyword\0", keyword.as_bytes()])
}

/// `H(w)^a`, encoded.
fn tag<G: DlGroup>(keyword: &str, a: &Exponent) -> Tag {
    G::encode(&G::mul(&keyword_point::<G>(keyword), &a.0))
}

/// A client caches the exponent of the latest epoch it used per room.
pub struct ClientIn<G, C> {
    exponents: HashMap<RoomId, (Epoch, Exponent)>,
    /// Per room, the epoch of the last query made: a `Stale` reply must name a later one.
    queried: HashMap<RoomId, Epoch>,
    scheme: PhantomData<(G, C)>,
}

/// A client of [`RekeyIndex`].
pub type Client = ClientIn<Ristretto, Real>;

impl<G, C> Default for ClientIn<G, C> {
    fn default() -> Self {
        Self {
            exponents: HashMap::default(),
            queried: HashMap::default(),
            scheme: PhantomData,
        }
    }
}

impl<G, C> core::fmt::Debug for ClientIn<G, C> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Client")
            .field("rooms", &self.exponents.len())
            .finish_non_exhaustive()
    }
}

impl<G: DlGroup, C: SymmetricCipher> ClientIn<G, C> {
    fn exponent(&mut self, key: KeyView<'_>) -> &Exponent {
        let slot = self
            .exponents
            .entry(key.room)
            .or_insert_with(|| (key.epoch, Exponent::derive::<G, C>(key)));
        if slot.0 != key.epoch {
            *slot = (key.epoch, Exponent::derive::<G, C>(key));
        }
        &slot.1
    }
}

/// One distinct tag of the current epoch: its element (kept decoded for re-keying) and the
/// ascending ids of the messages carrying it.
#[derive(Debug, Clone)]
struct Posting<G: DlGroup> {
    point: G::Element,
    ids: Vec<MsgId>,
}

/// A room's index.
#[derive(Debug)]
struct RoomIndex<G: DlGroup> {
    /// The epoch whose exponent keys every posting.
    epoch: Epoch,
    postings: HashMap<Tag, Posting<G>>,
    /// (tag, id) pairs stored.
    pairs: usize,
    /// For every earlier epoch `u` the server saw a factor from, the product of the factors
    /// from `u` to `epoch`.
    catch_up: BTreeMap<Epoch, Scalar>,
    /// Factors for epochs after the next one, waiting for the ones before them.
    early_factors: BTreeMap<Epoch, Scalar>,
    /// Updates under epochs the server has not reached, by epoch, in arrival order.
    early_updates: BTreeMap<Epoch, Vec<Update>>,
    early_bytes: usize,
}

impl<G: DlGroup> RoomIndex<G> {
    fn new(epoch: Epoch) -> Self {
        Self {
            epoch,
            postings: HashMap::default(),
            pairs: 0,
            catch_up: BTreeMap::new(),
            early_factors: BTreeMap::new(),
            early_updates: BTreeMap::new(),
            early_bytes: 0,
        }
    }

    fn stored_len(&self) -> usize {
        POINT_LEN * self.postings.len()
            + ID_LEN * self.pairs
            + (ID_LEN + POINT_LEN) * (self.catch_up.len() + self.early_factors.len())
            + self.early_bytes
    }

    /// Applies an update whose epoch is not after the current one, raising its tags to the
    /// current epoch first if it is late.
    fn apply_update(&mut self, update: Update) -> Result<(), SchemeError> {
        let tags: Vec<(Tag, Option<G::Element>)> = if update.epoch < self.epoch {
            let factor = *self.catch_up.get(&update.epoch).ok_or(Misuse::StaleEpoch {
                have: self.epoch,
                got: update.epoch,
            })?;
            decode_all::<G>(&update.tags)?
                .into_iter()
                .map(|point| {
                    let raised = G::mul(&point, &factor);
                    (G::encode(&raised), Some(raised))
                })
                .collect()
        } else {
            update.tags.into_iter().map(|tag| (tag, None)).collect()
        };
        if update.delete {
            for (tag, _) in tags {
                self.remove_pair(&tag, update.msg);
            }
            return Ok(());
        }
        // Only tags new to the index are decoded (a stored tag is a valid element), all of them
        // before anything changes, so a malformed update changes nothing.
        let mut fresh = Vec::new();
        for (tag, point) in &tags {
            if !self.postings.contains_key(tag) {
                let point = match point {
                    Some(point) => *point,
                    None => G::decode(*tag, NOT_A_TAG, IDENTITY_TAG)?,
                };
                fresh.push((*tag, point));
            }
        }
        for (tag, point) in fresh {
            self.postings.entry(tag).or_insert_with(|| Posting {
                point,
                ids: Vec::new(),
            });
        }
        for (tag, _) in tags {
            let posting = self
                .postings
                .get_mut(&tag)
                .ok_or(SchemeError::Internal("posting inserted above is missing"))?;
            // Ids mostly arrive in send order: append, else insert in place.
            match posting.ids.last() {
                Some(&last) if last >= update.msg => {
                    if let Err(pos) = posting.ids.binary_search(&update.msg) {
                        posting.ids.insert(pos, update.msg);
                        self.pairs += 1;
                    }
                }
                _ => {
                    posting.ids.push(update.msg);
                    self.pairs += 1;
                }
            }
        }
        Ok(())
    }

    /// Removes `(tag, msg)` if stored, and the tag if no message is left under it.
    fn remove_pair(&mut self, tag: &Tag, msg: MsgId) {
        if let Some(posting) = self.postings.get_mut(tag) {
            if let Ok(pos) = posting.ids.binary_search(&msg) {
                posting.ids.remove(pos);
                self.pairs -= 1;
                if posting.ids.is_empty() {
                    self.postings.remove(tag);
                }
            }
        }
    }

    /// Moves to `self.epoch + 1` with factor `rho`; returns the tags raised.
    fn rekey(&mut self, rho: Scalar) -> Result<u64, SchemeError> {
        let mut postings: Vec<Posting<G>> = self.postings.drain().map(|(_, p)| p).collect();
        // The data-parallel job: one exponentiation per distinct tag, raised where it is kept.
        let tags = G::raise_all(&mut postings, |p| &mut p.point, &rho);
        let raised = tags.len() as u64;
        self.postings = tags.into_iter().zip(postings).collect();
        for factor in self.catch_up.values_mut() {
            *factor *= rho;
        }
        self.catch_up.insert(self.epoch, rho);
        self.epoch = self.epoch.advance()?;
        if let Some(waiting) = self.early_updates.remove(&self.epoch) {
            for update in waiting {
                self.early_bytes -= update.wire_len();
                self.apply_update(update)?;
            }
        }
        Ok(raised)
    }
}

/// Every tag decoded.
fn decode_all<G: DlGroup>(tags: &[Tag]) -> Result<Vec<G::Element>, SchemeError> {
    tags.iter()
        .map(|tag| G::decode(*tag, NOT_A_TAG, IDENTITY_TAG))
        .collect()
}

/// The search server: one index per room. It computes in `G`; `C` only ties it to its scheme.
pub struct ServerIn<G: DlGroup, C> {
    rooms: BTreeMap<RoomId, RoomIndex<G>>,
    changers: Changers,
    cipher: PhantomData<C>,
}

/// The search server of [`RekeyIndex`].
pub type Server = ServerIn<Ristretto, Real>;

impl<G: DlGroup, C> Default for ServerIn<G, C> {
    fn default() -> Self {
        Self {
            rooms: BTreeMap::new(),
            changers: Changers::default(),
            cipher: PhantomData,
        }
    }
}

impl<G: DlGroup, C> core::fmt::Debug for ServerIn<G, C> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Server")
            .field("rooms", &self.rooms)
            .field("changers", &self.changers)
            .finish()
    }
}

impl<G: DlGroup, C: SymmetricCipher> SearchableEncryption for RekeyIndexIn<G, C> {
    const NAME: &'static str = "rekey-index";
    const SUMMARY: &'static str =
        "NTT-style re-keyable index: tags H(w)^a on Ristretto255, raised to a'/a by the server on every epoch change";
    const PROPERTIES: SseProperties = SseProperties {
        server_reads_keywords: false,
        forward_private: false,
        // The index is re-keyed at every change, so a joiner's key matches pre-join
        // entries; under `from_join` the server's ACL alone hides them.
        keys_enforce_from_join: false,
    };
    type Update = Update;
    type Query = Query;
    type Reply = Reply;
    type Message = Rekey;
    type Client = ClientIn<G, C>;
    type Server = ServerIn<G, C>;

    fn new_client(_user: UserId) -> ClientIn<G, C> {
        ClientIn::default()
    }
}

impl<G: DlGroup, C: SymmetricCipher> SseClient for ClientIn<G, C> {
    type Scheme = RekeyIndexIn<G, C>;

    fn update(
        &mut self,
        key: KeyView<'_>,
        change: IndexChange<'_>,
        _rng: &mut dyn CryptoRngCore,
    ) -> Result<Update, SchemeError> {
        let IndexChange { msg, keywords, op } = change;
        let a = self.exponent(key);
        let tags = super::distinct_entries(keywords, |w| tag::<G>(w, a));
        Ok(Update {
            epoch: key.epoch,
            msg,
            delete: op == IndexOp::Delete,
            tags,
        })
    }

    fn query(
        &mut self,
        key: KeyView<'_>,
        keyword: &str,
        _rng: &mut dyn CryptoRngCore,
    ) -> Result<Query, SchemeError> {
        self.queried.insert(key.room, key.epoch);
        Ok(Query {
            epoch: key.epoch,
            tag: tag::<G>(keyword, self.exponent(key)),
        })
    }

    fn resolve(
        &mut self,
        key: KeyView<'_>,
        _keyword: &str,
        reply: &Reply,
        _rng: &mut dyn CryptoRngCore,
    ) -> Result<Resolution<Query>, SchemeError> {
        match reply {
            Reply::Ids(ids) => {
                super::check_ascending(ids)?;
                Ok(Resolution::Done(ids.clone()))
            }
            // A server that calls a query stale must name an epoch after the query's, or it
            // could keep a searcher asking forever.
            Reply::Stale(epoch) => match self.queried.get(&key.room) {
                Some(queried) if epoch > queried => Ok(Resolution::Requery { epoch: *epoch }),
                _ => Err(SchemeError::Malformed(
                    "a stale-query reply not after the query's epoch",
                )),
            },
        }
    }
}

impl<G: DlGroup, C: SymmetricCipher> RekeyingClient for ClientIn<G, C> {
    type Message = Rekey;

    fn epoch_changed(
        &mut self,
        change: EpochChange<'_>,
        _rng: &mut dyn CryptoRngCore,
        out: &mut Outbox<Rekey>,
    ) -> Result<(), SchemeError> {
        // Only the changer re-keys, and only from an epoch it held (a room's creator has none).
        let (true, Some(prev)) = (change.changer, change.prev) else {
            return Ok(());
        };
        let next = change.next;
        if !next.epoch.follows(prev.epoch) {
            return Err(Misuse::StaleEpoch {
                have: prev.epoch,
                got: next.epoch,
            }
            .into());
        }
        let a = Exponent::derive::<G, C>(prev);
        let a_next = self.exponent(next);
        // a is non-zero by construction, so the inverse exists.
        let rho = a_next.0 * a.0.invert();
        out.send(
            Dest::Server,
            Rekey {
                epoch: next.epoch,
                rho,
            },
        );
        Ok(())
    }

    fn handle(
        &mut self,
        _key: KeyView<'_>,
        _msg: &Rekey,
        _rng: &mut dyn CryptoRngCore,
        _out: &mut Outbox<Rekey>,
    ) -> Result<(), SchemeError> {
        Err(Misuse::UnexpectedMessage("re-keying factors are for the search server").into())
    }
}

impl<G: DlGroup, C: SymmetricCipher> SseServer for ServerIn<G, C> {
    type Scheme = RekeyIndexIn<G, C>;

    fn apply(&mut self, room: RoomId, update: Update) -> Result<(), SchemeError> {
        update.epoch.bounded()?;
        let index = self
            .rooms
            .entry(room)
            .or_insert_with(|| RoomIndex::new(update.epoch));
        if update.epoch > index.epoch {
            // Checked now, so that a malformed update is refused here, not when its epoch comes.
            decode_all::<G>(&update.tags)?;
            index.early_bytes += update.wire_len();
            index
                .early_updates
                .entry(update.epoch)
                .or_default()
                .push(update);
            return Ok(());
        }
        index.apply_update(update)
    }

    fn search(
        &self,
        room: RoomId,
        access: Access,
        query: &Query,
    ) -> Result<Searched<Reply>, SchemeError> {
        let Some(index) = self.rooms.get(&room) else {
            return Ok(Searched::Reply(Reply::Ids(Vec::new())));
        };
        if query.epoch > index.epoch {
            // The factor to that epoch has not arrived: an answer now would miss the history.
            return Ok(Searched::NotYet {
                waiting_for: query.epoch,
            });
        }
        if query.epoch < index.epoch {
            // Every tag was raised past the query's epoch while it travelled.
            return Ok(Searched::Reply(Reply::Stale(index.epoch)));
        }
        let ids = index
            .postings
            .get(&query.tag)
            .map(|posting| {
                let start = posting.ids.partition_point(|&id| id < access.readable_from);
                posting.ids[start..].to_vec()
            })
            .unwrap_or_default();
        Ok(Searched::Reply(Reply::Ids(ids)))
    }
}

impl<G: DlGroup, C: SymmetricCipher> RekeyingServer for ServerIn<G, C> {
    type Message = Rekey;

    fn handle(
        &mut self,
        room: RoomId,
        from: UserId,
        msg: Rekey,
        _rng: &mut dyn CryptoRngCore,
        _out: &mut Outbox<Rekey>,
    ) -> Result<Work, SchemeError> {
        msg.epoch.bounded()?;
        if msg.rho == Scalar::ZERO {
            return Err(SchemeError::Malformed("re-keying factor is zero"));
        }
        let Some(from_epoch) = msg.epoch.0.checked_sub(1).map(Epoch) else {
            return Err(SchemeError::Malformed("re-keying to the first epoch"));
        };
        self.changers.check(room, msg.epoch, from)?;
        // A room first seen through a factor starts, empty, at the epoch the factor leaves.
        let index = self
            .rooms
            .entry(room)
            .or_insert_with(|| RoomIndex::new(from_epoch));
        let stale = Misuse::StaleEpoch {
            have: index.epoch,
            got: msg.epoch,
        };
        if msg.epoch <= index.epoch {
            // The room's first update came from this epoch or a later one, ahead of this factor:
            // nothing stored needs it, but it lets late updates from before it catch up.
            if index.catch_up.contains_key(&from_epoch) {
                return Err(stale.into());
            }
            let onward = if msg.epoch == index.epoch {
                Scalar::ONE
            } else {
                *index.catch_up.get(&msg.epoch).ok_or(stale)?
            };
            index.catch_up.insert(from_epoch, msg.rho * onward);
            return Ok(Work {
                op: "rekey",
                units: 0,
                parallel: true,
            });
        }
        if index.early_factors.contains_key(&msg.epoch) {
            return Err(stale.into());
        }
        index.early_factors.insert(msg.epoch, msg.rho);
        let mut raised = 0;
        while let Some(rho) = index.early_factors.remove(&index.epoch.advance()?) {
            raised += index.rekey(rho)?;
        }
        Ok(Work {
            op: "rekey",
            units: raised,
            parallel: true,
        })
    }

    fn changers(&mut self) -> Option<&mut Changers> {
        Some(&mut self.changers)
    }

    fn stored_len(&self) -> usize {
        self.rooms.values().map(RoomIndex::stored_len).sum()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use rand_chacha::rand_core::{RngCore, SeedableRng};
    use rand_chacha::ChaCha20Rng;

    use super::*;
    use crate::pre::dl_group::RAISE_BATCH;
    use crate::testing::SseHarness;
    use crate::EpochSecret;

    /// The room of the tests that drive a client and a server by hand.
    const ROOM: RoomId = RoomId(1);

    fn key(secret: &EpochSecret, epoch: u64) -> KeyView<'_> {
        KeyView {
            room: ROOM,
            epoch: Epoch(epoch),
            secret,
        }
    }

    /// A server whose directory names user 0 the changer of every epoch of [`ROOM`].
    fn server() -> Server {
        let mut server = Server::default();
        for e in 1..8 {
            server.name_changer(ROOM, Epoch(e), UserId(0)).unwrap();
        }
        server
    }

    /// `changer` moves [`ROOM`] from epoch 0 (secret `s0`) to 1 (`s1`); its factor for the
    /// server is in the outbox.
    fn to_epoch_1(
        changer: &mut Client,
        s0: &EpochSecret,
        s1: &EpochSecret,
        rng: &mut ChaCha20Rng,
    ) -> Outbox<Rekey> {
        let mut out = Outbox::new();
        let change = EpochChange {
            prev: Some(key(s0, 0)),
            next: key(s1, 1),
            changer: true,
            shares_history: true,
        };
        changer.epoch_changed(change, rng, &mut out).unwrap();
        out
    }

    /// [`ROOM`] at epoch 0: a seeded generator, the secrets of epochs 0 and 1, and a [`server`].
    fn two_epochs(seed: u64) -> (ChaCha20Rng, EpochSecret, EpochSecret, Server) {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let s0 = EpochSecret::random(&mut rng);
        let s1 = EpochSecret::random(&mut rng);
        (rng, s0, s1, server())
    }

    /// `client`'s update adding message `msg`, which carries the keyword "alpha".
    fn alpha(client: &mut Client, key: KeyView<'_>, msg: u64, rng: &mut ChaCha20Rng) -> Update {
        client.index(key, MsgId(msg), &["alpha"], rng).unwrap()
    }

    /// [`alpha`], applied by `server`.
    fn apply_alpha(
        server: &mut Server,
        client: &mut Client,
        key: KeyView<'_>,
        msg: u64,
        rng: &mut ChaCha20Rng,
    ) {
        server.apply(ROOM, alpha(client, key, msg, rng)).unwrap();
    }

    /// The server's reply to `query` from a reader of the whole room.
    fn answer(server: &Server, query: &Query) -> Reply {
        let searched = server.search(ROOM, Access::WHOLE_ROOM, query).unwrap();
        searched.reply().unwrap()
    }

    /// Delivers user 0's factors to the server.
    fn deliver(server: &mut Server, mut out: Outbox<Rekey>, rng: &mut ChaCha20Rng) {
        for (_, rekey) in out.drain() {
            server
                .handle(ROOM, UserId(0), rekey, rng, &mut Outbox::new())
                .unwrap();
        }
    }

    #[test]
    fn wire_lengths_are_exact() {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let secret = EpochSecret::random(&mut rng);
        let mut client = Client::default();
        let update = client
            .index(
                key(&secret, 0),
                MsgId(3),
                &["alpha", "beta", "gamma"],
                &mut rng,
            )
            .unwrap();
        // epoch 8, id 8, flag 1, count 2, three 32-byte tags.
        assert_eq!(update.wire_len(), 8 + 8 + 1 + 2 + 3 * 32);
        let query = client.query(key(&secret, 0), "alpha", &mut rng).unwrap();
        assert_eq!(query.wire_len(), 8 + 32);
        assert_eq!(Reply::Ids(vec![MsgId(1), MsgId(2)]).wire_len(), 4 + 2 * 8);
        let next = EpochSecret::random(&mut rng);
        let mut out = to_epoch_1(&mut client, &secret, &next, &mut rng);
        let (dest, rekey) = out.drain().next().unwrap();
        assert_eq!(dest, Dest::Server);
        assert_eq!(rekey.wire_len(), 8 + 32);
    }

    /// (H(w)^a)^(a'/a) = H(w)^a' for random exponents and keywords, in group `G`.
    fn rekeying_algebra<G: DlGroup, C: SymmetricCipher>() {
        let mut rng = ChaCha20Rng::seed_from_u64(2);
        for i in 0..64u64 {
            let s = EpochSecret::random(&mut rng);
            let s_next = EpochSecret::random(&mut rng);
            let a = Exponent::derive::<G, C>(key(&s, i));
            let a_next = Exponent::derive::<G, C>(key(&s_next, i + 1));
            let rho = a_next.0 * a.0.invert();
            let word = format!("word{}", rng.next_u64());
            let raised = G::mul(&G::mul(&keyword_point::<G>(&word), &a.0), &rho);
            assert_eq!(
                G::encode(&raised),
                tag::<G>(&word, &a_next),
                "iteration {i}"
            );
            assert_ne!(
                tag::<G>(&word, &a),
                tag::<G>(&word, &a_next),
                "iteration {i}"
            );
        }
    }

    #[test]
    fn rekeying_algebra_in_ristretto() {
        rekeying_algebra::<Ristretto, Real>();
    }

    #[test]
    fn rekeying_algebra_in_the_model() {
        rekeying_algebra::<crate::pre::dl_group::Exponents, crate::model::ideal_cipher::Ideal>();
    }

    /// A change re-keys one tag per distinct keyword, as parallel work, and only the changer
    /// sends a factor.
    #[test]
    fn a_change_rekeys_every_distinct_tag() {
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let room = RoomId(4);
        let mut h = SseHarness::<RekeyIndex>::new(4);
        h.create(
            room,
            &[UserId(0), UserId(1), UserId(2)],
            UserId(0),
            true,
            &mut rng,
        );
        h.index(room, UserId(0), &["a", "b", "c"], &mut rng);
        h.index(room, UserId(1), &["b", "c", "d", "e"], &mut rng);
        assert!(h.work.is_empty(), "creating a room re-keys nothing");
        h.change(room, UserId(2), &[UserId(3)], &[], &mut rng);
        assert_eq!(
            h.work,
            vec![Work {
                op: "rekey",
                units: 5,
                parallel: true
            }]
        );
    }

    /// Re-keying in several chunks keeps every tag findable under the new key.
    #[test]
    fn rekeying_spans_chunks() {
        let mut rng = ChaCha20Rng::seed_from_u64(6);
        let room = RoomId(2);
        let mut h = SseHarness::<RekeyIndex>::new(2);
        h.create(room, &[UserId(0), UserId(1)], UserId(0), true, &mut rng);
        let words: Vec<String> = (0..2 * RAISE_BATCH + 3).map(|i| format!("w{i}")).collect();
        for pair in words.chunks(2) {
            let refs: Vec<&str> = pair.iter().map(String::as_str).collect();
            h.index(room, UserId(0), &refs, &mut rng);
        }
        h.change(room, UserId(1), &[], &[], &mut rng);
        h.change(room, UserId(0), &[], &[], &mut rng);
        assert_eq!(h.work.last().map(|w| w.units), Some(words.len() as u64));
        for word in words.iter().step_by(37).chain(words.last()) {
            h.assert_search(
                "rekeying_spans_chunks",
                room,
                UserId(1),
                word,
                MsgId(0),
                &mut rng,
            );
        }
    }

    /// Updates and queries from an epoch the server has not reached: the update waits for the
    /// factor, the query is refused.
    #[test]
    fn early_traffic_waits_for_the_factor() {
        let (mut rng, s0, s1, mut server) = two_epochs(4);
        let (mut alice, mut bob) = (Client::default(), Client::default());
        apply_alpha(&mut server, &mut alice, key(&s0, 0), 0, &mut rng);
        let out = to_epoch_1(&mut alice, &s0, &s1, &mut rng);
        // Early: under epoch 1, before the factor that brings the server there.
        apply_alpha(&mut server, &mut bob, key(&s1, 1), 1, &mut rng);
        let all = Access::WHOLE_ROOM;
        let query = bob.query(key(&s1, 1), "alpha", &mut rng).unwrap();
        assert_eq!(
            server.search(ROOM, all, &query),
            Ok(Searched::NotYet {
                waiting_for: Epoch(1)
            })
        );
        deliver(&mut server, out, &mut rng);
        assert_eq!(
            answer(&server, &query),
            Reply::Ids(vec![MsgId(0), MsgId(1)])
        );
    }

    /// A query whose epoch the index moved past while it travelled finds nothing under its old
    /// tag: the server says so, and the client asks again once it holds the new epoch. A
    /// server that calls it stale without naming a later epoch is refused.
    #[test]
    fn a_query_overtaken_by_a_rekey_is_asked_again() {
        let (mut rng, s0, s1, mut server) = two_epochs(8);
        let (mut alice, mut bob) = (Client::default(), Client::default());
        apply_alpha(&mut server, &mut alice, key(&s0, 0), 0, &mut rng);
        let stale = bob.query(key(&s0, 0), "alpha", &mut rng).unwrap();
        let out = to_epoch_1(&mut alice, &s0, &s1, &mut rng);
        deliver(&mut server, out, &mut rng);
        let reply = answer(&server, &stale);
        assert_eq!(reply, Reply::Stale(Epoch(1)));
        assert_eq!(
            bob.resolve(key(&s0, 0), "alpha", &reply, &mut rng),
            Ok(Resolution::Requery { epoch: Epoch(1) })
        );
        assert!(matches!(
            bob.resolve(key(&s0, 0), "alpha", &Reply::Stale(Epoch(0)), &mut rng),
            Err(SchemeError::Malformed(_))
        ));
        let fresh = bob.query(key(&s1, 1), "alpha", &mut rng).unwrap();
        let reply = answer(&server, &fresh);
        assert_eq!(
            bob.resolve(key(&s1, 1), "alpha", &reply, &mut rng),
            Ok(Resolution::Done(vec![MsgId(0)]))
        );
    }

    /// A room the server first sees through an update of epoch 1, whose factor arrives after
    /// it: the factor is kept for late updates of epoch 0, and a second copy is refused.
    #[test]
    fn a_factor_behind_the_first_update() {
        let (mut rng, s0, s1, mut server) = two_epochs(7);
        let mut alice = Client::default();
        let late = alpha(&mut alice, key(&s0, 0), 0, &mut rng);
        let mut out = to_epoch_1(&mut alice, &s0, &s1, &mut rng);
        apply_alpha(&mut server, &mut alice, key(&s1, 1), 1, &mut rng);
        let (_, rekey) = out.drain().next().unwrap();
        server
            .handle(ROOM, UserId(0), rekey.clone(), &mut rng, &mut Outbox::new())
            .unwrap();
        assert!(matches!(
            server.handle(ROOM, UserId(0), rekey, &mut rng, &mut Outbox::new()),
            Err(SchemeError::Misuse(Misuse::StaleEpoch { .. }))
        ));
        server.apply(ROOM, late).unwrap();
        let query = alice.query(key(&s1, 1), "alpha", &mut rng).unwrap();
        assert_eq!(
            answer(&server, &query),
            Reply::Ids(vec![MsgId(0), MsgId(1)])
        );
    }

    #[test]
    fn bad_input_is_rejected() {
        let mut rng = ChaCha20Rng::seed_from_u64(5);
        let mut server = server();
        let bad = Update {
            epoch: Epoch(0),
            msg: MsgId(0),
            delete: false,
            tags: vec![[0xff; 32]],
        };
        assert!(matches!(
            server.apply(RoomId(1), bad),
            Err(SchemeError::Malformed(_))
        ));
        for rekey in [
            Rekey {
                epoch: Epoch(1),
                rho: Scalar::ZERO,
            },
            Rekey {
                epoch: Epoch(0),
                rho: Scalar::ONE,
            },
        ] {
            assert!(matches!(
                server.handle(RoomId(1), UserId(0), rekey, &mut rng, &mut Outbox::new()),
                Err(SchemeError::Malformed(_))
            ));
        }
    }

    /// A room's first index update (or factor) names the last epoch of the counter: refused, so
    /// that the index's next epoch cannot wrap around.
    #[test]
    fn first_update_at_the_end_of_the_epoch_range_is_refused() {
        let mut rng = ChaCha20Rng::seed_from_u64(41);
        let mut server = Server::default();
        let update = Update {
            epoch: Epoch(u64::MAX),
            msg: MsgId(1),
            delete: false,
            tags: Vec::new(),
        };
        let got = server.apply(RoomId(1), update);
        assert!(
            matches!(got, Err(SchemeError::Malformed(_))),
            "epoch u64::MAX accepted: {got:?}"
        );
        let got = server.handle(
            RoomId(2),
            UserId(0),
            Rekey {
                epoch: Epoch(u64::MAX),
                rho: Scalar::ONE,
            },
            &mut rng,
            &mut Outbox::new(),
        );
        assert!(
            matches!(got, Err(SchemeError::Malformed(_))),
            "epoch u64::MAX accepted: {got:?}"
        );
    }
}
