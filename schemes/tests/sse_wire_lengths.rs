//! Every searchable-encryption scheme's wire-size formulas against the scheme itself: a seeded
//! random run of room creations, joins, removals, re-keys, members left behind by a change,
//! index updates (no keyword, a few, many; watched, short and 64-byte keywords), deletions and
//! searches with varying result counts, in which every update, query, reply and control
//! message's `wire_len()` and every unit of server work is compared with its formula, whose
//! inputs come from the test's own record of the rooms. Orders the run does not produce (a
//! joiner's request ahead of the link it needs, re-keying factors out of order) are driven by
//! hand. `mitra` is checked as its model (on the ideal cipher provider) too.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};

use conclave_schemes::common::back_chain::Message as ChainMessage;
use conclave_schemes::common::cipher::SymmetricCipher;
use conclave_schemes::model::ideal_cipher::Ideal;
use conclave_schemes::rekeying::{RekeyingClient, RekeyingServer};
use conclave_schemes::sse::{
    chain_traffic, mitra, per_epoch, plaintext, rekey_index, tokenize, Access, EpochChange,
    KeyView, Resolution, SearchableEncryption, Searched, SseClient, SseServer, Work,
};
use conclave_schemes::testing::{Delivered, SseHarness};
use conclave_schemes::{Dest, Epoch, EpochSecret, MsgId, Outbox, RoomId, UserId, Wire};
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;

const USERS: u32 = 10;
/// Keywords the harness watches for in everything the server sees.
const CANARIES: [&str; 6] = [
    "quarterlyforecast",
    "hiringplan",
    "launchdate",
    "budgetcuts",
    "securityaudit",
    "roadmapdraft",
];
/// Short keywords (and stop words, which the tokeniser drops).
const COMMON: [&str; 8] = ["q3", "ok", "hr", "it", "the", "budget", "x1", "review"];
const ABSENT: &str = "neverwritten";

/// `mitra` rounds checked that rewound the log of some epoch, and back-chain answers of more
/// than one link checked (so that the run is known to size both).
static REWINDING_ROUNDS: AtomicUsize = AtomicUsize::new(0);
static LONG_CHAINS: AtomicUsize = AtomicUsize::new(0);

/// An index update the server applied.
struct Logged {
    epoch: Epoch,
    msg: MsgId,
    keywords: Vec<String>,
    delete: bool,
}

/// The test's record of a room.
struct Room {
    shares_history: bool,
    epoch: Epoch,
    members: BTreeSet<UserId>,
    /// Per user, the epochs whose search keys its client holds.
    held: BTreeMap<UserId, BTreeSet<Epoch>>,
    /// Messages indexed and not deleted: their keywords and the epoch of the writer's key.
    live: BTreeMap<MsgId, (Vec<String>, Epoch)>,
    /// Every update applied, in order: the server's log, for `mitra`.
    log: Vec<Logged>,
}

impl Room {
    /// Distinct keywords of the messages indexed and not deleted.
    fn entries(&self) -> usize {
        let words: BTreeSet<&String> = self.live.values().flat_map(|(k, _)| k).collect();
        words.len()
    }

    /// Appends an applied update to the log.
    fn log(&mut self, epoch: Epoch, msg: MsgId, keywords: Vec<String>, delete: bool) {
        self.log.push(Logged {
            epoch,
            msg,
            keywords,
            delete,
        });
    }

    /// Live messages carrying `keyword`, from `from` on, and (if `epochs` is given) indexed in
    /// one of those epochs.
    fn matching(&self, keyword: &str, from: MsgId, epochs: Option<&BTreeSet<Epoch>>) -> Vec<MsgId> {
        self.live
            .range(from..)
            .filter(|(_, (kws, epoch))| {
                kws.iter().any(|k| k == keyword) && epochs.is_none_or(|e| e.contains(epoch))
            })
            .map(|(id, _)| *id)
            .collect()
    }
}

/// One round of a search, as the formulas see it.
struct Round<'a> {
    room: &'a Room,
    searcher: UserId,
    key_epoch: Epoch,
    access: Access,
    keyword: &'a str,
}

impl Round<'_> {
    fn held(&self) -> &BTreeSet<Epoch> {
        &self.room.held[&self.searcher]
    }
}

/// A change (or a creation), as the formulas see it.
#[derive(Debug)]
struct Change {
    epoch: Epoch,
    joiners: usize,
    shares_history: bool,
    /// The room's entries (distinct live keywords) when the change was made.
    entries: usize,
}

/// A scheme's formulas, checked against what it sends.
trait Formulas: SearchableEncryption {
    /// The length of the update adding (or deleting) a message carrying `keywords`.
    fn update_len(keywords: &[String], delete: bool) -> usize;
    /// Checks a round's query and reply; `addresses` sums what the rounds asked for.
    fn round(r: &Round<'_>, query: &Self::Query, reply: &Self::Reply, addresses: &mut usize);
    /// Checks a complete search's result. By default: the live messages carrying the keyword
    /// from the searcher's first readable message on, whatever their epoch.
    fn done(r: &Round<'_>, ids: &[MsgId], addresses: usize) {
        let _ = addresses;
        assert_eq!(
            ids,
            r.room.matching(r.keyword, r.access.readable_from, None)
        );
    }
    /// Checks the control messages a change delivered and the work each one caused.
    fn change(c: &Change, delivered: &[Delivered<Self::Message>], work: &[Work]);
}

impl Formulas for plaintext::PlaintextIndex {
    fn update_len(keywords: &[String], _delete: bool) -> usize {
        plaintext::update_len(keywords.len(), keywords.iter().map(String::len).sum())
    }

    fn round(r: &Round<'_>, query: &plaintext::Query, reply: &plaintext::Reply, _: &mut usize) {
        assert_eq!(query.wire_len(), plaintext::query_len(r.keyword.len()));
        let ids = r.room.matching(r.keyword, r.access.readable_from, None);
        assert_eq!(reply.wire_len(), plaintext::reply_len(ids.len()));
    }

    fn change(c: &Change, delivered: &[Delivered<plaintext::NoMessage>], work: &[Work]) {
        assert!(delivered.is_empty() && work.is_empty(), "{c:?}");
    }
}

impl Formulas for per_epoch::PerEpoch {
    fn update_len(keywords: &[String], delete: bool) -> usize {
        if delete {
            per_epoch::DELETE_LEN
        } else {
            per_epoch::update_len(keywords.len())
        }
    }

    fn round(r: &Round<'_>, query: &per_epoch::Query, reply: &per_epoch::Reply, _: &mut usize) {
        assert_eq!(
            query.wire_len(),
            per_epoch::query_len(r.held().len(), false)
        );
        let ids = r
            .room
            .matching(r.keyword, r.access.readable_from, Some(r.held()));
        assert_eq!(reply.wire_len(), per_epoch::reply_len(ids.len()));
    }

    fn done(r: &Round<'_>, ids: &[MsgId], _: usize) {
        let expected = r
            .room
            .matching(r.keyword, r.access.readable_from, Some(r.held()));
        assert_eq!(ids, expected);
    }

    fn change(c: &Change, delivered: &[Delivered<per_epoch::Message>], work: &[Work]) {
        check_back_chain(c, delivered, work, ["back-chain", "back-chain"]);
    }
}

impl Formulas for rekey_index::RekeyIndex {
    fn update_len(keywords: &[String], _delete: bool) -> usize {
        rekey_index::update_len(keywords.len())
    }

    fn round(r: &Round<'_>, query: &rekey_index::Query, reply: &rekey_index::Reply, _: &mut usize) {
        assert_eq!(query.wire_len(), rekey_index::QUERY_LEN);
        if r.key_epoch < r.room.epoch {
            assert_eq!(reply, &rekey_index::Reply::Stale(r.room.epoch));
            assert_eq!(reply.wire_len(), rekey_index::STALE_REPLY_LEN);
        } else {
            let ids = r.room.matching(r.keyword, r.access.readable_from, None);
            assert_eq!(reply.wire_len(), rekey_index::reply_len(ids.len()));
        }
    }

    fn change(c: &Change, delivered: &[Delivered<rekey_index::Rekey>], work: &[Work]) {
        let expected = rekey_index::change_messages(c.epoch);
        let mut lens: Vec<(bool, usize)> = Vec::new();
        for (count, len) in expected {
            lens.extend(std::iter::repeat_n((true, len), count));
        }
        let sent: Vec<(bool, usize)> = delivered
            .iter()
            .map(|d| (d.to.is_none(), d.msg.wire_len()))
            .collect();
        assert_eq!(sent, lens, "{c:?}");
        let rekey = Work {
            op: "rekey",
            units: rekey_index::rekey_units(c.entries),
            parallel: true,
        };
        assert_eq!(work, vec![rekey; delivered.len()].as_slice(), "{c:?}");
    }
}

impl<C: SymmetricCipher> Formulas for mitra::MitraWith<C> {
    fn update_len(keywords: &[String], _delete: bool) -> usize {
        mitra::update_len(keywords.len())
    }

    fn round(r: &Round<'_>, query: &mitra::Query, reply: &mitra::Reply, addresses: &mut usize) {
        let a = query.addresses.len();
        assert_eq!(query.wire_len(), mitra::query_len(query.rewind.len(), a));
        if !query.rewind.is_empty() {
            REWINDING_ROUNDS.fetch_add(1, Ordering::Relaxed);
        }
        assert_eq!(Some(&query.floor), r.held().first());
        // The records the server owes this window: its tail from the cursor, of epochs from
        // the floor on, and each rewound epoch's records up to the cursor.
        let cursor = query.cursor as usize;
        let (mut records, mut keywords) = (0, 0);
        for (seq, l) in r.room.log.iter().enumerate() {
            let tail = seq >= cursor && l.epoch >= query.floor;
            let rewound = query
                .rewind
                .iter()
                .any(|&(e, from)| e == l.epoch && (from as usize..cursor).contains(&seq));
            if tail || rewound {
                records += 1;
                keywords += l.keywords.len();
                let record = &reply.records[records - 1];
                assert_eq!(record.wire_len(), mitra::record_len(l.keywords.len()));
            }
        }
        assert_eq!(reply.records.len(), records);
        assert_eq!(reply.wire_len(), mitra::reply_len(a, records, keywords));
        *addresses += a;
    }

    fn done(r: &Round<'_>, ids: &[MsgId], addresses: usize) {
        // Every update of the keyword under an epoch the searcher holds, asked for once.
        let mut tally: BTreeMap<MsgId, i64> = BTreeMap::new();
        let mut updates = 0;
        for l in &r.room.log {
            if r.held().contains(&l.epoch) && l.keywords.iter().any(|k| k == r.keyword) {
                updates += 1;
                *tally.entry(l.msg).or_default() += if l.delete { -1 } else { 1 };
            }
        }
        assert_eq!(addresses, updates, "addresses asked over the search");
        let expected: Vec<MsgId> = tally
            .into_iter()
            .filter(|&(id, net)| net > 0 && id >= r.access.readable_from)
            .map(|(id, _)| id)
            .collect();
        assert_eq!(ids, expected);
    }

    fn change(c: &Change, delivered: &[Delivered<mitra::Message>], work: &[Work]) {
        check_back_chain(c, delivered, work, ["store-link", "send-chain"]);
    }
}

/// An update's length against its formula: one adding (or, if `delete`, deleting) a message
/// carrying `keywords`.
fn check_update_len<S: Formulas>(len: usize, keywords: &[String], delete: bool) {
    let what = if delete { "deletion" } else { "update" };
    assert_eq!(
        len,
        S::update_len(keywords, delete),
        "{}: the {what} of {keywords:?}",
        S::NAME
    );
}

/// Work on one server worker.
fn serial(op: &'static str, units: u64) -> Work {
    Work {
        op,
        units,
        parallel: false,
    }
}

/// The back-chain messages of a change against `expected` (link, requests, answers): by
/// direction and length, in any order.
fn check_chain_traffic(
    c: &Change,
    expected: &[(usize, usize)],
    delivered: &[Delivered<ChainMessage>],
    work: &[Work],
) {
    let [link, requests, answers] = expected else {
        panic!("three kinds of back-chain message, not {expected:?}");
    };
    let mut want: Vec<(bool, usize)> = Vec::new();
    for (&(count, len), to_server) in [link, requests, answers]
        .into_iter()
        .zip([true, true, false])
    {
        want.extend(std::iter::repeat_n((to_server, len), count));
    }
    let mut sent: Vec<(bool, usize)> = delivered
        .iter()
        .map(|d| (d.to.is_none(), d.msg.wire_len()))
        .collect();
    want.sort_unstable();
    sent.sort_unstable();
    assert_eq!(sent, want, "{c:?}");
    let to_server = delivered.iter().filter(|d| d.to.is_none()).count();
    assert_eq!(
        work.len(),
        to_server,
        "one piece of work per message to the server"
    );
}

/// A change's back-chain traffic (`per-epoch` and `mitra` keep the same one) against the
/// formulas of [`chain_traffic`]: each message's length, and the work it caused, charged as
/// `ops` (the link's, the request's).
fn check_back_chain(
    c: &Change,
    delivered: &[Delivered<ChainMessage>],
    work: &[Work],
    [link_op, request_op]: [&'static str; 2],
) {
    let expected = chain_traffic::change_messages(c.epoch, c.joiners, c.shares_history);
    let links = chain_traffic::chain_links(c.epoch);
    check_chain_traffic(c, &expected, delivered, work);
    let mut work = work.iter();
    for d in delivered {
        let len = d.msg.wire_len();
        match &d.msg {
            ChainMessage::Link(_) => {
                assert_eq!(len, chain_traffic::LINK_MESSAGE_LEN);
                let units = chain_traffic::link_units(links, 0);
                assert_eq!(work.next(), Some(&serial(link_op, units)), "{c:?}");
            }
            ChainMessage::Request { .. } => {
                assert_eq!(len, chain_traffic::CHAIN_REQUEST_LEN);
                let units = chain_traffic::request_units(links, true);
                assert_eq!(work.next(), Some(&serial(request_op, units)), "{c:?}");
            }
            ChainMessage::Chain(chain) => {
                assert_eq!(chain.len(), links, "{c:?}");
                assert_eq!(len, chain_traffic::chain_len(links));
                if links > 1 {
                    LONG_CHAINS.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
    assert_eq!(work.next(), None);
}

/// A uniform index below `n`.
fn pick(rng: &mut ChaCha20Rng, n: usize) -> usize {
    (rng.next_u64() % n as u64) as usize
}

/// A random lower-case alphanumeric word of `len` characters.
fn word(rng: &mut ChaCha20Rng, len: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    (0..len)
        .map(|_| ALPHABET[pick(rng, ALPHABET.len())] as char)
        .collect()
}

/// A message's keywords, as the tokeniser gives them: none, a few or many, drawn from watched
/// words, short and common ones, and random words up to the tokeniser's 64 characters.
fn random_keywords(rng: &mut ChaCha20Rng) -> Vec<String> {
    let count = match pick(rng, 10) {
        0 => 0,
        1 => 20 + pick(rng, 30),
        _ => 1 + pick(rng, 5),
    };
    let mut text = String::new();
    for _ in 0..count {
        let w = match pick(rng, 5) {
            0 | 1 => CANARIES[pick(rng, CANARIES.len())].to_owned(),
            2 => COMMON[pick(rng, COMMON.len())].to_owned(),
            3 => {
                let len = 2 + pick(rng, 63);
                word(rng, len)
            }
            _ => word(rng, 64),
        };
        text.push_str(&w);
        text.push_str(if pick(rng, 2) == 0 { " " } else { ", " });
    }
    tokenize(&text)
}

/// The run: the harness and the test's record of its rooms.
struct Run<S: Formulas> {
    h: SseHarness<S>,
    rooms: BTreeMap<RoomId, Room>,
    rng: ChaCha20Rng,
    checked: Counts,
}

/// How many of each thing the run checked.
#[derive(Debug, Default)]
struct Counts {
    updates: usize,
    deletions: usize,
    rounds: usize,
    searches: usize,
    requeries: usize,
    changes: usize,
    control: usize,
}

impl<S: Formulas> Run<S> {
    fn new(seed: u64) -> Self {
        let mut h = SseHarness::new(USERS);
        h.watch_for(&CANARIES);
        h.record_deliveries();
        Self {
            h,
            rooms: BTreeMap::new(),
            rng: ChaCha20Rng::seed_from_u64(seed),
            checked: Counts::default(),
        }
    }

    fn create(&mut self, room: RoomId, founders: &[UserId], shares_history: bool) {
        let (d0, w0) = (self.h.delivered.len(), self.h.work.len());
        self.h
            .create(room, founders, founders[0], shares_history, &mut self.rng);
        let held = founders
            .iter()
            .map(|&u| (u, BTreeSet::from([Epoch(0)])))
            .collect();
        let record = Room {
            shares_history,
            epoch: Epoch(0),
            members: founders.iter().copied().collect(),
            held,
            live: BTreeMap::new(),
            log: Vec::new(),
        };
        let change = Change {
            epoch: Epoch(0),
            joiners: founders.len(),
            shares_history,
            entries: 0,
        };
        S::change(&change, &self.h.delivered[d0..], &self.h.work[w0..]);
        self.checked.control += self.h.delivered.len() - d0;
        self.rooms.insert(room, record);
    }

    fn random_room(&mut self) -> RoomId {
        let ids: Vec<RoomId> = self.rooms.keys().copied().collect();
        ids[pick(&mut self.rng, ids.len())]
    }

    fn random_member(&mut self, room: RoomId) -> UserId {
        let members: Vec<UserId> = self.rooms[&room].members.iter().copied().collect();
        members[pick(&mut self.rng, members.len())]
    }

    fn index(&mut self, room: RoomId, writer: UserId) {
        let keywords = random_keywords(&mut self.rng);
        let refs: Vec<&str> = keywords.iter().map(String::as_str).collect();
        let epoch = self.h.held_key(writer, room).unwrap().epoch;
        let pending = self.h.prepare_index(room, writer, &refs, &mut self.rng);
        check_update_len::<S>(pending.wire_len(), &keywords, false);
        let msg = pending.msg();
        self.h.apply(pending);
        let r = self.rooms.get_mut(&room).unwrap();
        r.live.insert(msg, (keywords.clone(), epoch));
        r.log(epoch, msg, keywords, false);
        self.checked.updates += 1;
    }

    fn delete(&mut self, room: RoomId) {
        let live: Vec<MsgId> = self.rooms[&room].live.keys().copied().collect();
        if live.is_empty() {
            return;
        }
        let msg = live[pick(&mut self.rng, live.len())];
        let deleter = self.random_member(room);
        let epoch = self.h.held_key(deleter, room).unwrap().epoch;
        let pending = self.h.prepare_remove(room, deleter, msg, &mut self.rng);
        let r = self.rooms.get_mut(&room).unwrap();
        let (keywords, _) = r.live.remove(&msg).unwrap();
        check_update_len::<S>(pending.wire_len(), &keywords, true);
        self.h.apply(pending);
        r.log(epoch, msg, keywords, true);
        self.checked.deletions += 1;
    }

    fn search(&mut self, room: RoomId, searcher: UserId) {
        let r = &self.rooms[&room];
        let keyword = match pick(&mut self.rng, 5) {
            0 | 1 => {
                let vocabulary: Vec<&str> = CANARIES.iter().chain(&COMMON).copied().collect();
                vocabulary[pick(&mut self.rng, vocabulary.len())].to_owned()
            }
            2 | 3 if !r.live.is_empty() => {
                let all: Vec<&String> = r.live.values().flat_map(|(k, _)| k).collect();
                if all.is_empty() {
                    ABSENT.to_owned()
                } else {
                    all[pick(&mut self.rng, all.len())].clone()
                }
            }
            _ => ABSENT.to_owned(),
        };
        let access = if pick(&mut self.rng, 2) == 0 {
            Access::WHOLE_ROOM
        } else {
            Access {
                readable_from: MsgId(self.rng.next_u64() % self.h.next_msg().0.max(1)),
            }
        };
        let held = self.h.held_key(searcher, room).unwrap().clone();
        let key = held.view(room);
        let round = Round {
            room: r,
            searcher,
            key_epoch: key.epoch,
            access,
            keyword: &keyword,
        };
        let client = &mut self.h.clients[searcher.0 as usize];
        let mut query = client.query(key, &keyword, &mut self.rng).unwrap();
        let mut addresses = 0;
        for _ in 0..100 {
            let reply = match self.h.server.search(room, access, &query).unwrap() {
                Searched::Reply(reply) => reply,
                Searched::NotYet { waiting_for } => {
                    panic!("{}: held until {waiting_for} in a settled room", S::NAME)
                }
            };
            S::round(&round, &query, &reply, &mut addresses);
            self.checked.rounds += 1;
            match client
                .resolve(key, &keyword, &reply, &mut self.rng)
                .unwrap()
            {
                Resolution::Done(ids) => {
                    S::done(&round, &ids, addresses);
                    self.checked.searches += 1;
                    return;
                }
                Resolution::Next(next) => query = next,
                Resolution::Requery { epoch } => {
                    assert!(
                        epoch > key.epoch && epoch == r.epoch,
                        "{}: requery",
                        S::NAME
                    );
                    self.checked.requeries += 1;
                    return;
                }
            }
        }
        panic!("{}: a search does not end", S::NAME);
    }

    /// A change of a random kind, possibly leaving a member behind; while it is behind, the
    /// room is indexed and searched, then it catches up.
    fn change(&mut self, room: RoomId) {
        let by = self.random_member(room);
        let r = &self.rooms[&room];
        let outside: Vec<UserId> = (0..USERS)
            .map(UserId)
            .filter(|u| !r.members.contains(u))
            .collect();
        let others: Vec<UserId> = r.members.iter().copied().filter(|&u| u != by).collect();
        let mut join = Vec::new();
        let mut leave = Vec::new();
        let kind = pick(&mut self.rng, 4);
        if kind & 1 == 1 && !outside.is_empty() {
            for _ in 0..1 + pick(&mut self.rng, 2) {
                let u = outside[pick(&mut self.rng, outside.len())];
                if !join.contains(&u) {
                    join.push(u);
                }
            }
        }
        if kind & 2 == 2 && others.len() > 2 {
            leave.push(others[pick(&mut self.rng, others.len())]);
        }
        let staying: Vec<UserId> = others
            .iter()
            .copied()
            .filter(|u| !leave.contains(u))
            .collect();
        let behind: Vec<UserId> = if !staying.is_empty() && pick(&mut self.rng, 3) == 0 {
            vec![staying[pick(&mut self.rng, staying.len())]]
        } else {
            Vec::new()
        };
        let entries = r.entries();
        let shares_history = r.shares_history;
        let (d0, w0) = (self.h.delivered.len(), self.h.work.len());
        let epoch = self
            .h
            .change_leaving_behind(room, by, &join, &leave, &behind, &mut self.rng);
        let r = self.rooms.get_mut(&room).unwrap();
        assert_eq!(epoch.0, r.epoch.0 + 1);
        r.epoch = epoch;
        for u in &leave {
            r.members.remove(u);
        }
        r.members.extend(join.iter().copied());
        for &u in &r.members {
            if behind.contains(&u) {
                continue;
            }
            let held = r.held.entry(u).or_default();
            held.insert(epoch);
            if join.contains(&u) && shares_history {
                held.extend((0..epoch.0).map(Epoch));
            }
        }
        let change = Change {
            epoch,
            joiners: join.len(),
            shares_history,
            entries,
        };
        S::change(&change, &self.h.delivered[d0..], &self.h.work[w0..]);
        self.checked.control += self.h.delivered.len() - d0;
        self.checked.changes += 1;
        let Some(&late) = behind.first() else {
            return;
        };
        self.search(room, late);
        for _ in 0..2 {
            let writer = loop {
                let u = self.random_member(room);
                if u != late {
                    break u;
                }
            };
            self.index(room, writer);
        }
        self.search(room, late);
        self.index(room, late);
        self.search(room, late);
        let (d0, w0) = (self.h.delivered.len(), self.h.work.len());
        self.h.catch_up(room, late, &mut self.rng);
        assert_eq!((self.h.delivered.len(), self.h.work.len()), (d0, w0));
        self.rooms
            .get_mut(&room)
            .unwrap()
            .held
            .get_mut(&late)
            .unwrap()
            .insert(epoch);
        self.search(room, late);
    }

    fn step(&mut self) {
        let room = self.random_room();
        match pick(&mut self.rng, 20) {
            0..=8 => {
                let writer = self.random_member(room);
                self.index(room, writer);
            }
            9 | 10 => self.delete(room),
            11..=17 => {
                let searcher = self.random_member(room);
                self.search(room, searcher);
            }
            _ => self.change(room),
        }
    }
}

/// The random run for scheme `S`: two rooms (history shared and not) from the start, a third
/// created midway, `steps` random steps.
fn random_run<S: Formulas>(seed: u64, steps: usize) {
    let u = UserId;
    let mut run = Run::<S>::new(seed);
    run.create(RoomId(1), &[u(0), u(1), u(2)], true);
    run.create(RoomId(2), &[u(3), u(4), u(5), u(6)], false);
    for i in 0..steps {
        if i == steps / 2 {
            run.create(RoomId(3), &[u(7), u(8), u(0)], true);
        }
        run.step();
    }
    let c = &run.checked;
    eprintln!("{}: checked {c:?}", S::NAME);
    assert!(c.updates > steps / 4 && c.deletions > 0 && c.searches > steps / 4);
    assert!((c.changes > 5 && c.requeries > 0) || S::NAME == "plaintext");
    let kinds = [c.rounds > c.searches, c.control > c.changes];
    assert!(
        kinds.iter().all(|&k| k) || S::NAME != "mitra",
        "mitra's run should have multi-round searches and back-chain traffic: {c:?}"
    );
}

#[test]
fn plaintext_lengths_follow_the_formulas() {
    random_run::<plaintext::PlaintextIndex>(1, 300);
}

/// A random run of a scheme with a back-chain, which must have sized answers of more than one
/// link.
fn random_run_with_long_chains<S: Formulas>(seed: u64, steps: usize) {
    let before = LONG_CHAINS.load(Ordering::Relaxed);
    random_run::<S>(seed, steps);
    assert!(LONG_CHAINS.load(Ordering::Relaxed) > before);
}

#[test]
fn per_epoch_lengths_follow_the_formulas() {
    random_run_with_long_chains::<per_epoch::PerEpoch>(2, 300);
}

#[test]
fn rekey_index_lengths_follow_the_formulas() {
    random_run::<rekey_index::RekeyIndex>(3, 300);
}

#[test]
fn mitra_lengths_follow_the_formulas() {
    random_run_with_long_chains::<mitra::Mitra>(4, 300);
    assert!(REWINDING_ROUNDS.load(Ordering::Relaxed) > 0);
}

#[test]
fn the_mitra_model_lengths_follow_the_formulas() {
    random_run_with_long_chains::<mitra::MitraWith<Ideal>>(4, 300);
}

const ROOM: RoomId = RoomId(5);

fn view(secrets: &[EpochSecret], epoch: usize) -> KeyView<'_> {
    KeyView {
        room: ROOM,
        epoch: Epoch(epoch as u64),
        secret: &secrets[epoch],
    }
}

/// What `changer` sends as it changes `ROOM` from each epoch of `secrets` into the next.
fn changes_by<C: RekeyingClient>(
    changer: &mut C,
    secrets: &[EpochSecret],
    shares_history: bool,
    rng: &mut ChaCha20Rng,
) -> Vec<C::Message> {
    let mut sent = Vec::new();
    for e in 1..secrets.len() {
        let change = EpochChange {
            prev: Some(view(secrets, e - 1)),
            next: view(secrets, e),
            changer: true,
            shares_history,
        };
        let mut out = Outbox::new();
        changer.epoch_changed(change, rng, &mut out).unwrap();
        sent.extend(out.drain().map(|(_, m)| m));
    }
    sent
}

/// Two joiners of epoch 3 whose requests reach the server before the link into it: the
/// requests are held (no work), the link's work counts the answers, each of the whole chain;
/// a joiner's query meanwhile is `awaiting` bytes.
fn requests_before_the_link<S>(awaiting: usize)
where
    S: SearchableEncryption<Message = ChainMessage>,
{
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    let secrets: Vec<EpochSecret> = (0..4).map(|_| EpochSecret::random(&mut rng)).collect();
    let mut server = S::Server::default();
    let changer = UserId(0);
    let mut member = S::new_client(changer);
    for e in 1..4 {
        server.name_changer(ROOM, Epoch(e), changer).unwrap();
    }
    let mut links = changes_by(&mut member, &secrets, true, &mut rng);
    let last = links.pop().unwrap();
    for link in links {
        server
            .handle(ROOM, changer, link, &mut rng, &mut Outbox::new())
            .unwrap();
    }
    let links = per_epoch::chain_links(Epoch(3));
    assert_eq!(links, mitra::chain_links(Epoch(3)));
    let joiners = [UserId(7), UserId(8)];
    let mut clients = Vec::new();
    for &joiner in &joiners {
        let mut client = S::new_client(joiner);
        let change = EpochChange {
            prev: None,
            next: view(&secrets, 3),
            changer: false,
            shares_history: true,
        };
        let mut out = Outbox::new();
        client.epoch_changed(change, &mut rng, &mut out).unwrap();
        let (dest, request) = out.drain().next().unwrap();
        assert_eq!(dest, Dest::Server);
        assert_eq!(request.wire_len(), per_epoch::CHAIN_REQUEST_LEN);
        let mut answers = Outbox::new();
        let work = server
            .handle(ROOM, joiner, request, &mut rng, &mut answers)
            .unwrap();
        assert_eq!(work.units, per_epoch::request_units(links, false));
        assert!(answers.is_empty());
        let query = client.query(view(&secrets, 3), "budget", &mut rng).unwrap();
        assert_eq!(query.wire_len(), awaiting, "{}", S::NAME);
        clients.push(client);
    }
    assert_eq!(last.wire_len(), per_epoch::LINK_MESSAGE_LEN);
    let mut answers = Outbox::new();
    let work = server
        .handle(ROOM, changer, last, &mut rng, &mut answers)
        .unwrap();
    assert_eq!(work.units, per_epoch::link_units(links, joiners.len()));
    assert_eq!(work.units, mitra::link_units(links, joiners.len()));
    let answers: Vec<_> = answers.drain().collect();
    assert_eq!(answers.len(), joiners.len());
    for ((dest, chain), joiner) in answers.iter().zip(joiners) {
        assert_eq!(dest, &Dest::User(joiner));
        assert_eq!(chain.wire_len(), per_epoch::chain_len(links));
    }
    // The answer's LEB128 count takes a second byte from 128 links on.
    assert_eq!(
        per_epoch::chain_len(127) + 64,
        per_epoch::chain_len(128) - 1
    );
}

#[test]
fn per_epoch_requests_before_the_link() {
    requests_before_the_link::<per_epoch::PerEpoch>(per_epoch::query_len(1, true));
}

#[test]
fn mitra_requests_before_the_link() {
    requests_before_the_link::<mitra::Mitra>(mitra::query_len(0, 0));
    requests_before_the_link::<mitra::MitraWith<Ideal>>(mitra::query_len(0, 0));
}

/// `rekey-index`'s factors out of order: one ahead of a missing factor raises nothing, the
/// missing one then raises the entries once per epoch; a factor behind the room's first
/// update raises nothing.
#[test]
fn rekey_index_factors_out_of_order() {
    let mut rng = ChaCha20Rng::seed_from_u64(8);
    let secrets: Vec<EpochSecret> = (0..3).map(|_| EpochSecret::random(&mut rng)).collect();
    let changer = UserId(0);
    let mut client = rekey_index::RekeyIndex::new_client(changer);
    let factors = changes_by(&mut client, &secrets, false, &mut rng);
    let words = ["alpha", "beta", "gamma", "delta"];
    let rekey = |units| Work {
        op: "rekey",
        units,
        parallel: true,
    };

    let mut server = rekey_index::Server::default();
    for e in 1..3 {
        server.name_changer(ROOM, Epoch(e), changer).unwrap();
    }
    let first = client
        .index(view(&secrets, 0), MsgId(0), &words[..3], &mut rng)
        .unwrap();
    let second = client
        .index(view(&secrets, 0), MsgId(1), &words[1..], &mut rng)
        .unwrap();
    assert_eq!(second.wire_len(), rekey_index::update_len(3));
    server.apply(ROOM, first).unwrap();
    server.apply(ROOM, second).unwrap();
    let mut out = Outbox::new();
    let ahead = server
        .handle(ROOM, changer, factors[1].clone(), &mut rng, &mut out)
        .unwrap();
    assert_eq!(ahead, rekey(0));
    let missing = server
        .handle(ROOM, changer, factors[0].clone(), &mut rng, &mut out)
        .unwrap();
    assert_eq!(missing, rekey(2 * rekey_index::rekey_units(words.len())));
    assert!(out.is_empty());

    let mut server = rekey_index::Server::default();
    server.name_changer(ROOM, Epoch(1), changer).unwrap();
    let update = client
        .index(view(&secrets, 1), MsgId(0), &words, &mut rng)
        .unwrap();
    server.apply(ROOM, update).unwrap();
    let behind = server
        .handle(ROOM, changer, factors[0].clone(), &mut rng, &mut out)
        .unwrap();
    assert_eq!(behind, rekey(0));
    for f in &factors {
        assert_eq!(f.wire_len(), rekey_index::REKEY_LEN);
    }
}
