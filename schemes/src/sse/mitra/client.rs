//! Mitra's client: per room, the keys of the epochs it holds, its own write counters, the
//! counters of every writer's chains as rebuilt from the server's log, and searches in flight.
//!
//! A writer continues each of its chains after the highest counter it made or the log showed
//! it, so a client re-created for the same user does not reuse an (address, pad) once it has
//! read the log (a search reads it). Before its first search it cannot know: a deployment
//! would sync the log when a device is set up.

use crate::common::known_epochs::EpochMap;
use crate::rekeying::RekeyingClient;
use std::collections::{BTreeMap, BTreeSet};

use crate::common::fixed_hash::HashMap;

use super::keys::{keyword_tag, op_byte, op_from_byte, EpochKeys, KeywordTag, LogHeader, Slot};
use super::wire::{Entry, Message, Query, Reply, Update};
use super::{log_body_len, MitraWith, LOG_ENTRY_LEN};
use crate::common::back_chain;
use crate::common::cipher::{Real, SymmetricCipher};
use crate::sse::{EpochChange, IndexChange, IndexOp, KeyView, Resolution, SseClient};
use crate::{CryptoRngCore, Epoch, Misuse, MsgId, Outbox, RoomId, SchemeError, UserId};

/// The back-chain's domain.
const CHAIN: &str = "conclave mitra link";

/// Searches a client keeps open per room; older unanswered ones are forgotten.
const OPEN_SEARCHES: usize = 64;

/// A user's Mitra state, with the primitives of provider `C`.
pub struct ClientWith<C: SymmetricCipher> {
    user: UserId,
    rooms: BTreeMap<RoomId, RoomState<C>>,
    next_search: u32,
}

/// A user's Mitra state under the real primitives.
pub type Client = ClientWith<Real>;

crate::secret::debug_without_secrets!("Client", ClientWith<C: SymmetricCipher> {
    user,
    rooms.len()
});

impl<C: SymmetricCipher> ClientWith<C> {
    pub(super) fn new(user: UserId) -> Self {
        Self {
            user,
            rooms: BTreeMap::new(),
            next_search: 0,
        }
    }

    /// The room's state, with the key of `key`'s epoch registered.
    fn room(&mut self, key: KeyView<'_>) -> &mut RoomState<C> {
        let state = self.rooms.entry(key.room).or_default();
        state.hold_view(key);
        state
    }
}

/// The counters of one chain `(epoch, writer, keyword)` a client knows of: `1..=prefix`, plus
/// any beyond it that were logged out of order.
#[derive(Debug, Clone, Default)]
struct Counters {
    prefix: u32,
    beyond: BTreeSet<u32>,
}

impl Counters {
    fn insert(&mut self, c: u32) {
        if c <= self.prefix {
            return;
        }
        if c == self.prefix + 1 {
            self.prefix = c;
            while self.beyond.remove(&(self.prefix + 1)) {
                self.prefix += 1;
            }
        } else {
            self.beyond.insert(c);
        }
    }

    /// The highest counter known (0 if none).
    fn last(&self) -> u32 {
        self.beyond.last().copied().unwrap_or(0).max(self.prefix)
    }

    fn contains(&self, c: u32) -> bool {
        (1..=self.prefix).contains(&c) || self.beyond.contains(&c)
    }

    fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        (1..=self.prefix).chain(self.beyond.iter().copied())
    }
}

/// A chain: the epoch and the writer (the keyword is the map key above it).
type ChainId = (Epoch, UserId);

/// An epoch the client holds a key for.
struct Held<C: SymmetricCipher> {
    keys: EpochKeys<C>,
    /// Every log record of this epoch with a sequence number below this has been read.
    read_to: u64,
}

/// Which part of the log a query asked for.
#[derive(Debug, Clone, Default)]
struct Window {
    cursor: u64,
    floor: Epoch,
    rewind: Vec<(Epoch, u64)>,
}

/// A search in flight.
struct Search {
    keyword: KeywordTag,
    /// Entries already asked for in earlier rounds, per chain.
    asked: BTreeMap<ChainId, Counters>,
    /// The entries of the outstanding query, in the order of its addresses.
    round: Vec<(Epoch, UserId, u32)>,
    window: Window,
    /// Per message: adds minus deletes seen so far.
    tally: BTreeMap<MsgId, i64>,
}

#[derive(Default)]
struct RoomState<C: SymmetricCipher> {
    held: EpochMap<Held<C>>,
    /// The log position read up to (the newest `read_to`).
    cursor: u64,
    /// This client's own chains: the last counter used per (epoch, keyword).
    written: HashMap<(Epoch, KeywordTag), u32>,
    /// Every chain the log revealed, by keyword.
    known: HashMap<KeywordTag, BTreeMap<ChainId, Counters>>,
    searches: BTreeMap<u32, Search>,
    /// The epoch this client joined at, while the back-chain it asked for has not come: a
    /// search that ends before it does would miss the history the chain opens.
    awaiting_chain: Option<Epoch>,
    /// The newest epoch of a log record read past: while it is newer than every key held,
    /// those records' entries are missing from any result.
    newest_seen: Option<Epoch>,
}

impl<C: SymmetricCipher> RoomState<C> {
    /// The epoch whose key this client must hold before a search can be complete, if its
    /// newest key is older than a record it read past.
    fn lagging_behind(&self) -> Option<Epoch> {
        let newest_held = self.held.keys().next_back().copied();
        self.newest_seen
            .filter(|&seen| newest_held.is_none_or(|held| seen > held))
    }

    fn hold_view(&mut self, key: KeyView<'_>) {
        if !self.held.contains_key(&key.epoch) {
            self.hold(key.epoch, EpochKeys::from_view(key));
        }
    }

    fn hold(&mut self, epoch: Epoch, keys: EpochKeys<C>) {
        self.held.entry(epoch).or_insert(Held { keys, read_to: 0 });
    }

    fn keys(&self, epoch: Epoch) -> Result<&EpochKeys<C>, SchemeError> {
        self.held
            .get(&epoch)
            .map(|h| &h.keys)
            .ok_or(SchemeError::Internal("key of a known chain missing"))
    }

    /// The part of the log the next query asks for.
    fn window(&self) -> Window {
        Window {
            cursor: self.cursor,
            floor: self.held.keys().next().copied().unwrap_or_default(),
            rewind: self
                .held
                .iter()
                .filter(|(_, h)| h.read_to < self.cursor)
                .map(|(e, h)| (*e, h.read_to))
                .collect(),
        }
    }

    /// The next round of `search`: the keyword's entries not asked for yet. `None` when there
    /// are none and this is not the first round.
    fn next_query(
        &mut self,
        handle: u32,
        search: &mut Search,
        first: bool,
    ) -> Result<Option<Query>, SchemeError> {
        let mut round = Vec::new();
        if let Some(chains) = self.known.get(&search.keyword) {
            for (&(epoch, writer), counters) in chains {
                let asked = search.asked.entry((epoch, writer)).or_default();
                for c in counters.iter().filter(|c| !asked.contains(*c)) {
                    round.push((epoch, writer, c));
                }
            }
        }
        // Done when nothing is left to ask: no entry, no log to read again under a key learnt
        // since the last round, and no back-chain still on its way (a round more waits for it).
        let window = self.window();
        if round.is_empty() && !first && window.rewind.is_empty() && self.awaiting_chain.is_none() {
            return Ok(None);
        }
        let mut addresses = Vec::with_capacity(round.len());
        for &(epoch, writer, c) in &round {
            let slot = Slot {
                writer,
                keyword: &search.keyword,
                counter: c,
            };
            addresses.push(self.keys(epoch)?.address(slot));
            search.asked.entry((epoch, writer)).or_default().insert(c);
        }
        search.round = round;
        search.window = window;
        Ok(Some(Query {
            search: handle,
            cursor: search.window.cursor,
            floor: search.window.floor,
            rewind: search.window.rewind.clone(),
            addresses,
        }))
    }

    /// Reads the log records of a reply to a query that asked for `window`: learns the chains
    /// they reveal and moves the read positions on.
    fn read_log(
        &mut self,
        room: RoomId,
        window: &Window,
        reply: &Reply,
    ) -> Result<(), SchemeError> {
        if reply.end < window.cursor {
            return Err(SchemeError::Malformed(
                "log ends before the query's position",
            ));
        }
        let mut last: Option<u64> = None;
        for record in &reply.records {
            if last.is_some_and(|l| l >= record.seq) || record.seq >= reply.end {
                return Err(SchemeError::Malformed("log records out of order"));
            }
            last = Some(record.seq);
            self.newest_seen = self.newest_seen.max(Some(record.epoch));
            let in_tail = record.seq >= window.cursor && record.epoch >= window.floor;
            let in_rewind = window
                .rewind
                .iter()
                .any(|&(e, from)| e == record.epoch && (from..window.cursor).contains(&record.seq));
            if !in_tail && !in_rewind {
                return Err(SchemeError::Malformed(
                    "log record outside the query's window",
                ));
            }
            // Records of epochs this client holds no key for are skipped: it cannot read them,
            // and could not derive their addresses either.
            let Some(held) = self.held.get_mut(&record.epoch) else {
                continue;
            };
            let header = LogHeader {
                room,
                epoch: record.epoch,
                writer: record.writer,
            };
            let body = held.keys.open_log(&header, &record.sealed)?;
            let Some((&op, pairs)) = body.split_first() else {
                return Err(SchemeError::Malformed("empty log record"));
            };
            op_from_byte(op)?;
            if pairs.len() % LOG_ENTRY_LEN != 0 {
                return Err(SchemeError::Malformed("log record of the wrong length"));
            }
            for pair in pairs.chunks_exact(LOG_ENTRY_LEN) {
                let (counter, tag) = pair.split_at(4);
                let counter = u32::from_be_bytes(
                    counter
                        .try_into()
                        .map_err(|_| SchemeError::Internal("4-byte split"))?,
                );
                let tag: KeywordTag = tag
                    .try_into()
                    .map_err(|_| SchemeError::Internal("16-byte split"))?;
                if counter == 0 {
                    return Err(SchemeError::Malformed("log record with counter 0"));
                }
                self.known
                    .entry(tag)
                    .or_default()
                    .entry((record.epoch, record.writer))
                    .or_default()
                    .insert(counter);
            }
        }
        for (epoch, held) in &mut self.held {
            let covered_from = window
                .rewind
                .iter()
                .find(|(e, _)| e == epoch)
                .map(|&(_, from)| from)
                .or((*epoch >= window.floor).then_some(window.cursor));
            if covered_from.is_some_and(|from| held.read_to >= from) {
                held.read_to = held.read_to.max(reply.end);
            }
        }
        self.cursor = self.cursor.max(reply.end);
        Ok(())
    }
}

impl<C: SymmetricCipher> SseClient for ClientWith<C> {
    type Scheme = MitraWith<C>;

    fn update(
        &mut self,
        key: KeyView<'_>,
        change: IndexChange<'_>,
        rng: &mut dyn CryptoRngCore,
    ) -> Result<Update, SchemeError> {
        let IndexChange { msg, keywords, op } = change;
        let writer = self.user;
        let state = self.room(key);
        let keys = &mut state
            .held
            .get_mut(&key.epoch)
            .ok_or(SchemeError::Internal("registered key missing"))?
            .keys;
        let mut entries = Vec::with_capacity(keywords.len());
        let mut body = Vec::with_capacity(log_body_len(keywords.len()));
        body.push(op_byte(op));
        for keyword in keywords {
            let tag = keyword_tag::<C>(keyword);
            // The log may show counters of this chain that this client did not make (an earlier
            // client of the same user): never reuse one, or the server sees one address twice.
            let logged = state
                .known
                .get(&tag)
                .and_then(|chains| chains.get(&(key.epoch, writer)))
                .map_or(0, Counters::last);
            let counter = state.written.entry((key.epoch, tag)).or_insert(0);
            *counter = (*counter).max(logged);
            *counter = counter.checked_add(1).ok_or(SchemeError::Unsupported(
                "more than 2^32 updates of a keyword",
            ))?;
            let c = *counter;
            let slot = Slot {
                writer,
                keyword: &tag,
                counter: c,
            };
            entries.push(Entry {
                address: keys.address(slot),
                value: keys.seal_value(slot, msg, op),
            });
            body.extend_from_slice(&c.to_be_bytes());
            body.extend_from_slice(&tag);
        }
        let header = LogHeader {
            room: key.room,
            epoch: key.epoch,
            writer,
        };
        let log = keys.seal_log(&header, &body, rng)?;
        Ok(Update {
            epoch: key.epoch,
            writer,
            entries,
            log,
        })
    }

    fn query(
        &mut self,
        key: KeyView<'_>,
        keyword: &str,
        _rng: &mut dyn CryptoRngCore,
    ) -> Result<Query, SchemeError> {
        let handle = self.next_search;
        self.next_search = self.next_search.wrapping_add(1);
        let state = self.room(key);
        let mut search = Search {
            keyword: keyword_tag::<C>(keyword),
            asked: BTreeMap::new(),
            round: Vec::new(),
            window: Window::default(),
            tally: BTreeMap::new(),
        };
        let query = state
            .next_query(handle, &mut search, true)?
            .ok_or(SchemeError::Internal("a first round is always sent"))?;
        state.searches.insert(handle, search);
        while state.searches.len() > OPEN_SEARCHES {
            state.searches.pop_first();
        }
        Ok(query)
    }

    fn resolve(
        &mut self,
        key: KeyView<'_>,
        keyword: &str,
        reply: &Reply,
        _rng: &mut dyn CryptoRngCore,
    ) -> Result<Resolution<Query>, SchemeError> {
        let state = self.room(key);
        // Whatever happens below, this round is over; a failed search is not resumed.
        let mut search = state
            .searches
            .remove(&reply.search)
            .ok_or(Misuse::UnexpectedMessage("a reply to no open search"))?;
        if search.keyword != keyword_tag::<C>(keyword) {
            return Err(
                Misuse::UnexpectedMessage("a reply to a search for another keyword").into(),
            );
        }
        if reply.values.len() != search.round.len() {
            return Err(SchemeError::Malformed(
                "reply values do not match the query",
            ));
        }
        for (&(epoch, writer, c), value) in search.round.iter().zip(&reply.values) {
            let slot = Slot {
                writer,
                keyword: &search.keyword,
                counter: c,
            };
            let (id, op) = state.keys(epoch)?.open_value(slot, value)?;
            *search.tally.entry(id).or_insert(0) += match op {
                IndexOp::Add => 1,
                IndexOp::Delete => -1,
            };
        }
        let window = std::mem::take(&mut search.window);
        // Entries written under an epoch whose key has not reached this searcher yet: a
        // result now would miss them, so it searches again once it holds that epoch.
        state.read_log(key.room, &window, reply)?;
        if let Some(epoch) = state.lagging_behind() {
            return Ok(Resolution::Requery { epoch });
        }
        match state.next_query(reply.search, &mut search, false)? {
            Some(query) => {
                state.searches.insert(reply.search, search);
                Ok(Resolution::Next(query))
            }
            None => Ok(Resolution::Done(
                search
                    .tally
                    .into_iter()
                    .filter(|&(id, net)| net > 0 && id >= reply.readable_from)
                    .map(|(id, _)| id)
                    .collect(),
            )),
        }
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
        let next = change.next;
        let state = self.room(next);
        if let Some(prev) = change.prev {
            state.hold_view(prev);
        }
        let held = &*state;
        let root = |epoch| held.keys(epoch).map(EpochKeys::root);
        if let Some(epoch) = back_chain::part(&change)?.send::<C>(CHAIN, next.room, root, out)? {
            state.awaiting_chain = Some(epoch);
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
        let state = self.room(key);
        let Message::Chain(links) = msg else {
            return Err(Misuse::UnexpectedMessage("clients only receive back-chains").into());
        };
        if state
            .awaiting_chain
            .is_some_and(|epoch| back_chain::answers(links, epoch))
        {
            state.awaiting_chain = None;
        }
        back_chain::walk::<C, _>(
            CHAIN,
            key.room,
            links,
            &mut state.held,
            |held| held.keys.root(),
            |_, root| {
                Ok(Held {
                    keys: EpochKeys::from_root(*root),
                    read_to: 0,
                })
            },
        )?;
        Ok(())
    }
}
