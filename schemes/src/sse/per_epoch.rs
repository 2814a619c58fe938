//! `per-epoch`: one Π_bas-style index per epoch, searched with one token per readable epoch.
//!
//! # Source
//!
//! research/sse.md §2.3 option A ("per-epoch indexes, search all epochs") with the deterministic
//! PRF labels of Cash et al.'s Π_bas (NDSS 2014, research/sse.md §1.2) and the server-stored
//! encrypted back-chain of option A (ii), which the notes flag as their own suggestion (key
//! regression without a central key owner).
//!
//! # Construction
//!
//! * Epoch `e` of a room has a search root `r_e = HKDF(secret_e, "conclave sse per-epoch root",
//!   room, e)`, and from it a label key `K_e` (HKDF-SHA-256, bound to room and epoch).
//! * The update for message `m` with keywords `w_i` under epoch `e` is `(m, {F(K_e, w_i)})`, with
//!   `F` HMAC-SHA-256 **truncated to 16 bytes** (128-bit labels: a collision among the 2^32 labels
//!   of a very large room has probability about 2^-64), labels sorted. The server keeps per room
//!   one map label -> ascending ids (labels of different epochs are independent, so one map
//!   holds every epoch). A deletion is the message id alone: the server drops the message from
//!   every label it was added under, which it already knows, so the deletion reveals nothing
//!   new and works whichever epoch the message was indexed in (a label under the deleter's
//!   epoch would miss a message indexed in an earlier one).
//! * A search for `w` is one round: the labels `F(K_e, w)` for every epoch `e` whose key the
//!   searcher holds, sorted; the server unions their lists and applies the access bound.
//! * Late updates need nothing: they carry their own epoch's label, which every searcher entitled
//!   to that epoch puts in its query.
//! * An update names its epoch, and a reply the newest epoch the room's index has entries of. A
//!   searcher whose newest key is older (the change's key is still on its way to it) has no
//!   label for those entries, so it does not end the search with a partial result: it searches
//!   again once it holds that epoch ([`Resolution::Requery`]).
//! * Clients remember the root of every epoch they held. When the room shares history, the
//!   changer of epoch `e` uploads the back-chain link that seals `r_(e-1)` under `r_e`
//!   ([`crate::common::back_chain`], 64 bytes). A joiner (`prev: None`) of a room that shares history asks the server for the chain;
//!   the server answers with the contiguous links from the joiner's epoch down (at once, or as
//!   soon as the changer's link arrives), and the joiner walks it back to the first epoch or the
//!   first missing link. Links carry search roots, never epoch secrets, so a joiner gains no key
//!   of another family. Until the chain has come a joiner's search would miss the history: its
//!   query says it awaits the chain of its join epoch, the server holds it while it lacks that
//!   epoch's link ([`Searched::NotYet`]), and the joiner asks again if answered before the chain
//!   reached it.
//!
//! # Costs
//!
//! A query carries one 16-byte label per readable epoch and the server makes one lookup
//! per label even when the keyword is absent, so search cost grows with membership churn
//! (research/sse.md §2.3 suggests compaction or rotating only on removals; not done here).
//!
//! On the wire: an update is 19 bytes plus 16 per keyword ([`update_len`]), a deletion 9 bytes
//! ([`DELETE_LEN`]), a query 3 bytes plus 16 per readable epoch, 8 more while it awaits the
//! chain ([`query_len`]; a further round, [`Resolution::Next`], is a query too), a reply 14
//! bytes plus 8 per id ([`reply_len`]). The back-chain costs what [`crate::common::back_chain`]
//! says: one link per change that shares history, and a joiner's request, answer and walk; the
//! messages of a change are [`change_messages`] (each [`LINK_MESSAGE_LEN`],
//! [`CHAIN_REQUEST_LEN`], [`chain_len`]), and the server's `"back-chain"` work is
//! [`link_units`] per link and [`request_units`] per request, in links.
//!
//! # Security
//!
//! Keywords are hidden from the server if HMAC-SHA-256 is a PRF. The server learns:
//!
//! * **keyword equality within an epoch** (deterministic labels): which messages of an epoch
//!   share a keyword, the per-epoch posting sizes `n_(e,w)`, and the number of distinct keywords
//!   per epoch; labels of different epochs are unlinkable until a search links them;
//! * per search, **linkable sub-tokens**: the labels of one query are one keyword in different
//!   epochs, so after a search the server links that keyword's postings across epochs; the
//!   **search pattern** (the same query repeats) and the **access pattern** (result ids);
//! * **the update pattern**: ids, each update's epoch (which the timing of the room's changes
//!   shows anyway), number of keywords per update, deletions by id.
//!
//! An active server can withhold entries, or name a newer epoch than the room has so that a
//! searcher waits for a key that never comes; both deny service and neither reveals anything.
//!
//! Not forward private: an update in the current epoch carries the label a previous query for
//! the same keyword sent. Removed members keep the roots of the epochs they lived through and
//! find only messages indexed in those epochs; the chain runs backwards only, so they learn
//! nothing about later epochs, even with the server's help. Under `from_join` no link is
//! uploaded, so a joiner's keys find nothing from before its join epoch: that policy is enforced
//! by cryptography (at epoch granularity; the server also applies `Access::readable_from`).
//! Under shared history, anyone who holds a later epoch's root can derive every earlier one
//! back to the first change made without sharing.
//!
//! # Weaknesses
//!
//! * Not forward private, and keyword equality within an epoch and across searched epochs is
//!   visible to the server (above).
//! * Search cost grows with membership churn (Costs).
//! * A removed member still finds messages indexed in the epochs it lived through, and under
//!   shared history a later root reaches every earlier one (above).
//!
//! # Side channels
//!
//! HMAC, HKDF and ChaCha20-Poly1305 are constant time (RustCrypto). The server's map lookups
//! and merges are variable time in public data (labels, ids).

use crate::common::known_epochs::{epoch_map, EpochMap};
use crate::rekeying::{RekeyingClient, RekeyingServer};
use core::marker::PhantomData;
use std::collections::BTreeMap;

use crate::common::fixed_hash::HashMap;

use zeroize::Zeroize;

use super::{
    Access, EpochChange, IndexChange, IndexOp, KeyView, Resolution, SearchableEncryption, Searched,
    SseClient, SseProperties, SseServer, Work,
};
use crate::common::back_chain::{self, ChainStore};
use crate::common::changers::Changers;
use crate::common::cipher::{Real, SymmetricCipher};
use crate::{
    CryptoRngCore, Epoch, EpochSecret, Label, Misuse, MsgId, Outbox, RoomId, SchemeError, UserId,
    Wire,
};

/// Bytes of a keyword label (HMAC-SHA-256 truncated).
pub const LABEL_LEN: usize = 16;
/// The back-chain's domain.
const CHAIN: &str = "conclave sse per-epoch link";
/// Bytes of an encoded epoch or message id.
const ID_LEN: usize = 8;

/// A keyword's label in one epoch.
pub type KeywordLabel = [u8; LABEL_LEN];

pub use super::chain_traffic::{
    chain_len, chain_links, change_messages, link_units, request_units, CHAIN_REQUEST_LEN,
    LINK_MESSAGE_LEN,
};

/// Bytes of an addition of a message carrying `keywords` distinct keywords: the kind, the
/// message id, the epoch, the label count (u16) and one label per keyword, whatever the
/// keywords' lengths.
#[must_use]
pub const fn update_len(keywords: usize) -> usize {
    1 + ID_LEN + ID_LEN + 2 + LABEL_LEN * keywords
}

/// Bytes of a deletion: the kind and the message id (the server knows its labels).
pub const DELETE_LEN: usize = 1 + ID_LEN;

/// Bytes of a query (a search's first round, or a further one) from a searcher holding the keys
/// of `epochs` epochs of the room: the label count (u16), one label per epoch, the
/// awaiting-chain flag and, while the joiner's back-chain has not come, its join epoch. In a
/// room that has always shared history a member holds every epoch up to its newest, `e + 1`
/// (a joiner once its chain has come, only its own until then); under `from_join`, the epochs
/// it was told of as a member.
#[must_use]
pub const fn query_len(epochs: usize, awaiting_chain: bool) -> usize {
    2 + LABEL_LEN * epochs + 1 + if awaiting_chain { ID_LEN } else { 0 }
}

/// Bytes of a reply of `ids` message ids (the postings of the query's labels, within the
/// searcher's access bound): a count (u32), the ids, the echoed label count (u16) and the
/// index's newest epoch.
#[must_use]
pub const fn reply_len(ids: usize) -> usize {
    4 + ID_LEN * ids + 2 + ID_LEN
}

/// The per-epoch index with the primitives of provider `C`: [`PerEpoch`] with the real ones,
/// the scheme's model with [`crate::model::ideal_cipher::Ideal`].
#[derive(Debug, Clone, Copy, Default)]
pub struct PerEpochWith<C>(PhantomData<C>);

/// The per-epoch index.
pub type PerEpoch = PerEpochWith<Real>;

/// An index update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Update {
    /// Message `msg` carries the keywords with these labels (under its epoch's key), sorted.
    Add {
        /// The message.
        msg: MsgId,
        /// The epoch whose key made the labels.
        epoch: Epoch,
        /// One label per keyword.
        labels: Vec<KeywordLabel>,
    },
    /// Message `msg` leaves the index.
    Delete {
        /// The message.
        msg: MsgId,
    },
}

/// A keyword's labels under every epoch the searcher holds, sorted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// One label per readable epoch.
    pub labels: Vec<KeywordLabel>,
    /// The searcher's join epoch while the back-chain it asked for has not reached it: the
    /// server holds the query until it has the link into that epoch (it knows the joiner's
    /// epoch from its chain request anyway).
    pub awaiting_chain: Option<Epoch>,
}

/// Matching message ids, ascending, how many labels the query carried, and the newest epoch
/// the room's index holds entries of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The ids.
    pub ids: Vec<MsgId>,
    /// Labels of the query answered: a searcher that holds more epochs by the time the reply
    /// comes (its back-chain arrived meanwhile) asks again.
    pub labels: u16,
    /// The newest epoch anything was indexed under: a searcher whose newest key is older
    /// has no label for those entries and searches again once its key has come.
    pub newest: Epoch,
}

/// Control traffic: the back-chain of search roots.
pub type Message = back_chain::Message;

impl Wire for Update {
    fn wire_len(&self) -> usize {
        match self {
            // kind, id, epoch, label count (u16), labels.
            Self::Add { labels, .. } => 1 + ID_LEN + ID_LEN + 2 + LABEL_LEN * labels.len(),
            Self::Delete { .. } => 1 + ID_LEN,
        }
    }
    fn visit_bytes(&self, f: &mut dyn FnMut(&[u8])) {
        if let Self::Add { labels, .. } = self {
            for label in labels {
                f(label);
            }
        }
    }
}

impl Wire for Query {
    fn wire_len(&self) -> usize {
        2 + LABEL_LEN * self.labels.len() + 1 + self.awaiting_chain.map_or(0, |_| 8)
    }
    fn visit_bytes(&self, f: &mut dyn FnMut(&[u8])) {
        for label in &self.labels {
            f(label);
        }
    }
}

impl Wire for Reply {
    fn wire_len(&self) -> usize {
        4 + ID_LEN * self.ids.len() + 2 + ID_LEN
    }
    fn visit_bytes(&self, _f: &mut dyn FnMut(&[u8])) {}
}

/// The keys of one epoch of one room.
struct EpochKeys<C: SymmetricCipher> {
    /// `r_e`: seals into the previous link and derives the other keys.
    root: EpochSecret,
    /// The PRF (HMAC) keyed with `K_e`, applied per label.
    labels: C::Prf,
}

impl<C: SymmetricCipher> EpochKeys<C> {
    fn from_root(room: RoomId, epoch: Epoch, root: EpochSecret) -> Self {
        let mut key = C::derive(
            &root,
            Label::Custom("conclave sse per-epoch labels"),
            room,
            epoch,
        );
        let labels = C::prf_key(&key);
        key.zeroize();
        Self { root, labels }
    }

    fn from_secret(key: KeyView<'_>) -> Self {
        let root = C::derive(
            key.secret,
            Label::Custom("conclave sse per-epoch root"),
            key.room,
            key.epoch,
        );
        Self::from_root(key.room, key.epoch, EpochSecret::from_bytes(root))
    }

    fn label(&self, keyword: &str) -> KeywordLabel {
        let full = C::prf(&self.labels, keyword.as_bytes());
        let mut label = [0u8; LABEL_LEN];
        label.copy_from_slice(&full[..LABEL_LEN]);
        label
    }
}

/// A client: the keys of every epoch it held or walked back to, per room.
#[derive(Default)]
pub struct ClientWith<C: SymmetricCipher> {
    rooms: HashMap<RoomId, EpochMap<EpochKeys<C>>>,
    /// Per room, the join epoch whose back-chain was asked for and has not come yet.
    awaiting_chain: HashMap<RoomId, Epoch>,
}

/// A client under the real primitives.
pub type Client = ClientWith<Real>;

crate::secret::debug_without_secrets!("Client", ClientWith<C: SymmetricCipher> { rooms.len() });

impl<C: SymmetricCipher> ClientWith<C> {
    /// The keys of `key`'s epoch, remembered from now on.
    fn keys(&mut self, key: KeyView<'_>) -> &EpochKeys<C> {
        self.rooms
            .entry(key.room)
            .or_insert_with(epoch_map)
            .entry(key.epoch)
            .or_insert_with(|| EpochKeys::from_secret(key))
    }

    /// The query for `keyword`: its label under every epoch held.
    fn query_for(&mut self, key: KeyView<'_>, keyword: &str) -> Query {
        self.keys(key);
        let mut labels: Vec<KeywordLabel> = self
            .rooms
            .get(&key.room)
            .map(|epochs| epochs.values().map(|k| k.label(keyword)).collect())
            .unwrap_or_default();
        labels.sort_unstable();
        Query {
            labels,
            awaiting_chain: self.awaiting_chain.get(&key.room).copied(),
        }
    }

    /// The epochs of `room` this client holds keys for (for tests).
    #[must_use]
    pub fn epochs(&self, room: RoomId) -> Vec<Epoch> {
        self.rooms
            .get(&room)
            .map(|epochs| epochs.keys().copied().collect())
            .unwrap_or_default()
    }
}

/// A room's index and back-chain.
#[derive(Debug, Default)]
struct RoomIndex {
    postings: HashMap<KeywordLabel, Vec<MsgId>>,
    /// The labels each message was added under, for deletions.
    labels_of: HashMap<MsgId, Vec<KeywordLabel>>,
    pairs: usize,
    /// The newest epoch of an added entry.
    newest: Epoch,
}

impl RoomIndex {
    fn stored_len(&self) -> usize {
        // Postings: label and ids. Deletion map: id and label references.
        LABEL_LEN * self.postings.len()
            + ID_LEN * self.pairs
            + ID_LEN * self.labels_of.len()
            + LABEL_LEN * self.pairs
    }
}

/// The search server. It computes nothing secret; `C` only ties it to its scheme.
#[derive(Debug, Default)]
pub struct ServerWith<C> {
    rooms: BTreeMap<RoomId, RoomIndex>,
    chains: ChainStore,
    changers: Changers,
    cipher: PhantomData<C>,
}

/// The search server of [`PerEpoch`].
pub type Server = ServerWith<Real>;

impl<C: SymmetricCipher> SearchableEncryption for PerEpochWith<C> {
    const NAME: &'static str = "per-epoch";
    const SUMMARY: &'static str =
        "Π_bas-style PRF labels under per-epoch keys; one token per readable epoch; back-chain of epoch keys for joiners";
    const PROPERTIES: SseProperties = SseProperties {
        server_reads_keywords: false,
        forward_private: false,
        // under `from_join` no back-chain link is uploaded, so a joiner holds no
        // earlier epoch's key.
        keys_enforce_from_join: true,
    };
    type Update = Update;
    type Query = Query;
    type Reply = Reply;
    type Message = Message;
    type Client = ClientWith<C>;
    type Server = ServerWith<C>;

    fn new_client(_user: UserId) -> ClientWith<C> {
        ClientWith::default()
    }
}

impl<C: SymmetricCipher> SseClient for ClientWith<C> {
    type Scheme = PerEpochWith<C>;

    fn update(
        &mut self,
        key: KeyView<'_>,
        change: IndexChange<'_>,
        _rng: &mut dyn CryptoRngCore,
    ) -> Result<Update, SchemeError> {
        let IndexChange { msg, keywords, op } = change;
        if op == IndexOp::Delete {
            return Ok(Update::Delete { msg });
        }
        let keys = self.keys(key);
        let labels = super::distinct_entries(keywords, |w| keys.label(w));
        Ok(Update::Add {
            msg,
            epoch: key.epoch,
            labels,
        })
    }

    fn query(
        &mut self,
        key: KeyView<'_>,
        keyword: &str,
        _rng: &mut dyn CryptoRngCore,
    ) -> Result<Query, SchemeError> {
        Ok(self.query_for(key, keyword))
    }

    fn resolve(
        &mut self,
        key: KeyView<'_>,
        keyword: &str,
        reply: &Reply,
        _rng: &mut dyn CryptoRngCore,
    ) -> Result<Resolution<Query>, SchemeError> {
        super::check_ascending(&reply.ids)?;
        // Entries were indexed under an epoch whose key has not reached this searcher yet: no
        // label of its query could find them, so it searches again once it holds that epoch.
        let newest_held = self
            .rooms
            .get(&key.room)
            .and_then(|epochs| epochs.keys().next_back().copied())
            .map_or(key.epoch, |held| held.max(key.epoch));
        if reply.newest > newest_held {
            return Ok(Resolution::Requery {
                epoch: reply.newest,
            });
        }
        // Answered before the back-chain reached this joiner (the server had the link, the
        // chain is on its way), or for a query made before it came: without the earlier
        // epochs' labels the result would miss the history, so ask again.
        let held = self.rooms.get(&key.room).map_or(0, EpochMap::len);
        if self.awaiting_chain.contains_key(&key.room) || held > usize::from(reply.labels) {
            return Ok(Resolution::Next(self.query_for(key, keyword)));
        }
        Ok(Resolution::Done(reply.ids.clone()))
    }
}

impl<C: SymmetricCipher> RekeyingClient for ClientWith<C> {
    type Message = Message;

    fn epoch_changed(
        &mut self,
        change: EpochChange<'_>,
        _rng: &mut dyn CryptoRngCore,
        out: &mut Outbox<Message>,
    ) -> Result<(), SchemeError> {
        let part = back_chain::part(&change)?;
        let next = change.next;
        self.keys(next);
        if let Some(prev) = change.prev {
            self.keys(prev);
        }
        let rooms = &self.rooms;
        let root = |epoch| {
            rooms
                .get(&next.room)
                .and_then(|epochs| epochs.get(&epoch))
                .map(|k| k.root.as_bytes())
                .ok_or(SchemeError::Internal("a changer without its epochs' roots"))
        };
        if let Some(epoch) = part.send::<C>(CHAIN, next.room, root, out)? {
            self.awaiting_chain.insert(next.room, epoch);
        }
        Ok(())
    }

    fn handle(
        &mut self,
        key: KeyView<'_>,
        msg: &Message,
        _rng: &mut dyn CryptoRngCore,
        _out: &mut Outbox<Message>,
    ) -> Result<(), SchemeError> {
        let Message::Chain(links) = msg else {
            return Err(
                Misuse::UnexpectedMessage("links and chain requests are for the server").into(),
            );
        };
        self.keys(key);
        let room = key.room;
        if let Some(&awaited) = self.awaiting_chain.get(&room) {
            if back_chain::answers(links, awaited) {
                self.awaiting_chain.remove(&room);
            }
        }
        let epochs = self.rooms.entry(room).or_insert_with(epoch_map);
        back_chain::walk::<C, _>(
            CHAIN,
            room,
            links,
            epochs,
            |k| k.root.as_bytes(),
            |epoch, root| {
                Ok(EpochKeys::<C>::from_root(
                    room,
                    epoch,
                    EpochSecret::from_bytes(*root),
                ))
            },
        )?;
        Ok(())
    }
}

/// The label count a reply echoes.
fn labels_of(query: &Query) -> Result<u16, SchemeError> {
    u16::try_from(query.labels.len())
        .map_err(|_| SchemeError::Malformed("a query of too many labels"))
}

impl<C: SymmetricCipher> SseServer for ServerWith<C> {
    type Scheme = PerEpochWith<C>;

    fn apply(&mut self, room: RoomId, update: Update) -> Result<(), SchemeError> {
        let index = self.rooms.entry(room).or_default();
        match update {
            Update::Add { msg, epoch, labels } => {
                index.newest = index.newest.max(epoch);
                for label in labels {
                    let ids = index.postings.entry(label).or_default();
                    // Ids mostly arrive in send order: append, else insert in place.
                    let inserted = match ids.last() {
                        Some(&last) if last >= msg => match ids.binary_search(&msg) {
                            Ok(_) => false,
                            Err(pos) => {
                                ids.insert(pos, msg);
                                true
                            }
                        },
                        _ => {
                            ids.push(msg);
                            true
                        }
                    };
                    if inserted {
                        index.pairs += 1;
                        index.labels_of.entry(msg).or_default().push(label);
                    }
                }
            }
            Update::Delete { msg } => {
                for label in index.labels_of.remove(&msg).unwrap_or_default() {
                    if let Some(ids) = index.postings.get_mut(&label) {
                        if let Ok(pos) = ids.binary_search(&msg) {
                            ids.remove(pos);
                            index.pairs -= 1;
                            if ids.is_empty() {
                                index.postings.remove(&label);
                            }
                        }
                    }
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
        if let Some(epoch) = query.awaiting_chain {
            if !self.chains.has_link(room, epoch) {
                return Ok(Searched::NotYet { waiting_for: epoch });
            }
        }
        let Some(index) = self.rooms.get(&room) else {
            return Ok(Searched::Reply(Reply {
                ids: Vec::new(),
                labels: labels_of(query)?,
                newest: Epoch(0),
            }));
        };
        let mut ids: Vec<MsgId> = Vec::new();
        for label in &query.labels {
            if let Some(list) = index.postings.get(label) {
                let start = list.partition_point(|&id| id < access.readable_from);
                ids.extend_from_slice(&list[start..]);
            }
        }
        // Each message is indexed in one epoch, so the lists are disjoint; sort them together.
        ids.sort_unstable();
        ids.dedup();
        Ok(Searched::Reply(Reply {
            ids,
            labels: labels_of(query)?,
            newest: index.newest,
        }))
    }
}

impl<C: SymmetricCipher> RekeyingServer for ServerWith<C> {
    type Message = Message;

    fn handle(
        &mut self,
        room: RoomId,
        from: UserId,
        msg: Message,
        _rng: &mut dyn CryptoRngCore,
        out: &mut Outbox<Message>,
    ) -> Result<Work, SchemeError> {
        let stored = self.chains.handle(room, from, msg, &self.changers, out)?;
        Ok(stored.work("back-chain"))
    }

    fn changers(&mut self) -> Option<&mut Changers> {
        Some(&mut self.changers)
    }

    fn stored_len(&self) -> usize {
        self.rooms
            .values()
            .map(RoomIndex::stored_len)
            .sum::<usize>()
            + self.chains.stored_len()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use rand_chacha::rand_core::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    use super::*;
    use crate::testing::SseHarness;
    use crate::Dest;

    #[test]
    fn wire_lengths_are_exact() {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let secret = EpochSecret::random(&mut rng);
        let key = KeyView {
            room: RoomId(1),
            epoch: Epoch(0),
            secret: &secret,
        };
        let mut client = Client::default();
        let add = client
            .index(key, MsgId(3), &["alpha", "beta", "gamma"], &mut rng)
            .unwrap();
        // kind 1, id 8, epoch 8, count 2, three 16-byte labels.
        assert_eq!(add.wire_len(), 1 + 8 + 8 + 2 + 3 * 16);
        let delete = IndexChange::delete(MsgId(3), &["alpha"]);
        let delete = client.update(key, delete, &mut rng).unwrap();
        assert_eq!(delete.wire_len(), 1 + 8);
        let query = client.query(key, "alpha", &mut rng).unwrap();
        // count 2, one label, the awaiting-chain flag.
        assert_eq!(query.wire_len(), 2 + 16 + 1);
        let root = [7; 32];
        let link = back_chain::Link::seal::<crate::common::cipher::Real>(
            CHAIN,
            RoomId(1),
            (Epoch(0), &root),
            (Epoch(1), &root),
        )
        .unwrap();
        assert_eq!(Message::Link(link.clone()).wire_len(), 1 + 8 + 8 + 48);
        assert_eq!(Message::Request { epoch: Epoch(1) }.wire_len(), 1 + 8);
        assert_eq!(Message::Chain(vec![link; 3]).wire_len(), 1 + 1 + 3 * 64);
    }

    /// A joiner of a room that shares history walks the chain back to the first epoch, and its
    /// query then carries one label per epoch; under `from_join` it holds its own epochs only.
    #[test]
    fn joiners_walk_the_chain() {
        let mut rng = ChaCha20Rng::seed_from_u64(2);
        let u = UserId;
        for (room, shares_history) in [(RoomId(1), true), (RoomId(2), false)] {
            let mut h = SseHarness::<PerEpoch>::new(5);
            h.create(room, &[u(0), u(1)], u(0), shares_history, &mut rng);
            for i in 0..4 {
                let joining = [u(2)];
                let (join, leave): (&[UserId], &[UserId]) = if i % 2 == 0 {
                    (&joining, &[])
                } else {
                    (&[], &joining)
                };
                h.change(room, u(i % 2), join, leave, &mut rng);
            }
            h.change(room, u(1), &[u(4)], &[], &mut rng);
            let joiner = &h.clients[4];
            let expected: Vec<Epoch> = if shares_history {
                (0..=5).map(Epoch).collect()
            } else {
                vec![Epoch(5)]
            };
            assert_eq!(joiner.epochs(room), expected);
            let held = h.held_key(u(4), room).unwrap().clone();
            let query = h.clients[4]
                .query(held.view(room), "alpha", &mut rng)
                .unwrap();
            assert_eq!(query.labels.len(), expected.len());
            // User 2 was a member in epochs 1 and 3 and left at 4: it holds the epochs it lived
            // through (and, with shared history, those before), no later ones.
            let expected_leaver: Vec<Epoch> = if shares_history {
                (0..=3).map(Epoch).collect()
            } else {
                vec![Epoch(1), Epoch(3)]
            };
            assert_eq!(h.clients[2].epochs(room), expected_leaver);
        }
    }

    /// A joiner asking before the changer's link arrived is answered when it does; a chain with
    /// a gap is walked down to the gap; a tampered link is rejected.
    #[test]
    fn chain_requests_gaps_and_tampering() {
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let room = RoomId(1);
        let secrets: Vec<EpochSecret> = (0..4).map(|_| EpochSecret::random(&mut rng)).collect();
        let key = |e: usize| KeyView {
            room,
            epoch: Epoch(e as u64),
            secret: &secrets[e],
        };
        let mut server = Server::default();
        // The directory names user 0 the changer of every epoch here.
        for e in 1..8 {
            server.name_changer(room, Epoch(e), UserId(0)).unwrap();
        }
        let mut member = Client::default();
        let mut links = Vec::new();
        for e in 1..4 {
            let mut out = Outbox::new();
            let change = EpochChange {
                prev: Some(key(e - 1)),
                next: key(e),
                changer: true,
                shares_history: true,
            };
            member.epoch_changed(change, &mut rng, &mut out).unwrap();
            links.extend(out.drain().map(|(_, m)| m));
        }
        // Links for epochs 1 and 3 only: epoch 2's is lost.
        let [l1, _l2, l3] = <[Message; 3]>::try_from(links).unwrap();
        server
            .handle(room, UserId(0), l1, &mut rng, &mut Outbox::new())
            .unwrap();
        let mut joiner = Client::default();
        let mut out = Outbox::new();
        let join = EpochChange {
            prev: None,
            next: key(3),
            changer: false,
            shares_history: true,
        };
        joiner.epoch_changed(join, &mut rng, &mut out).unwrap();
        let (_, request) = out.drain().next().unwrap();
        assert_eq!(request, Message::Request { epoch: Epoch(3) });
        let mut replies = Outbox::new();
        server
            .handle(room, UserId(9), request, &mut rng, &mut replies)
            .unwrap();
        assert!(replies.is_empty(), "the link of epoch 3 has not arrived");
        // The joiner's search waits for the link, and then for the chain.
        let access = Access::WHOLE_ROOM;
        let query = joiner.query(key(3), "alpha", &mut rng).unwrap();
        assert_eq!(
            server.search(room, access, &query).unwrap(),
            Searched::NotYet {
                waiting_for: Epoch(3)
            }
        );
        server
            .handle(room, UserId(0), l3, &mut rng, &mut replies)
            .unwrap();
        let reply = server
            .search(room, access, &query)
            .unwrap()
            .reply()
            .unwrap();
        let Resolution::Next(again) = joiner.resolve(key(3), "alpha", &reply, &mut rng).unwrap()
        else {
            panic!("a joiner's search ended before its back-chain came");
        };
        assert_eq!(again.labels.len(), 1);
        let (dest, chain) = replies.drain().next().unwrap();
        assert_eq!(dest, Dest::User(UserId(9)));
        joiner
            .handle(key(3), &chain, &mut rng, &mut Outbox::new())
            .unwrap();
        assert_eq!(joiner.epochs(room), vec![Epoch(2), Epoch(3)]);
        // A reply to the query made before the chain came is not the end either.
        assert!(matches!(
            joiner.resolve(key(3), "alpha", &reply, &mut rng).unwrap(),
            Resolution::Next(_)
        ));
        let query = joiner.query(key(3), "alpha", &mut rng).unwrap();
        assert_eq!((query.labels.len(), query.awaiting_chain), (2, None));
        let reply = server
            .search(room, access, &query)
            .unwrap()
            .reply()
            .unwrap();
        assert_eq!(
            joiner.resolve(key(3), "alpha", &reply, &mut rng).unwrap(),
            Resolution::Done(Vec::new())
        );

        let mut bad = chain;
        assert!(crate::testing::Tamper::tamper(&mut bad));
        let mut fresh = Client::default();
        assert_eq!(
            fresh.handle(key(3), &bad, &mut rng, &mut Outbox::new()),
            Err(SchemeError::Crypto)
        );
        assert_eq!(fresh.epochs(room), vec![Epoch(3)]);
    }
}
