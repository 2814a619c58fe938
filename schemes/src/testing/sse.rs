//! Conformance suite of the searchable-encryption family, and the synchronous harness it runs on.
//!
//! [`SseHarness`] is an organisation with one search server and one client per user. It plays
//! key distribution itself (every change draws a fresh random epoch secret and hands it to the
//! new roster), routes control traffic synchronously until it settles, and keeps an oracle: the
//! keywords of every message whose index update the server applied and that was not deleted
//! since. The suites compare every search with that oracle.
//!
//! * [`sse_matches_scan`]: one client, one epoch, searches equal a scan of the messages;
//! * [`sse_matches_oracle`]: several writers, additions and deletions, five epoch changes
//!   (joins, removals, a rejoin); every search equals the oracle, with and without an access
//!   bound;
//! * [`sse_late_update`]: updates made under epoch `e` and applied after the room reached
//!   `e + 2` (an addition and a deletion) take effect;
//! * [`sse_removed_member`]: a removed member's client, querying the server directly with the
//!   key it kept, finds nothing indexed after its removal;
//! * [`sse_joiner_policy`]: a joiner finds pre-join messages if and only if the room shares
//!   history, by the access bound and, for schemes that enforce it, by cryptography;
//! * [`sse_lagging_searcher`]: a member whose key for the room's newest epoch is still on its
//!   way never ends a search with a partial result.
//!
//! [`sse_conformance`] runs them all, each as far as the scheme claims the property.
//!
//! The harness also checks every byte string the server sees: none may contain a watched
//! keyword (unless the scheme declares that the server reads keywords), and no message may
//! report a wire length shorter than the bytes it carries.
#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

use crate::rekeying::{RekeyingClient, RekeyingServer};
use std::collections::{BTreeMap, BTreeSet};

use crate::common::router::{Arrival, Router};
use crate::pre::{EpochChange, KeyView, Work};
use crate::sse::{
    tokenize, Access, IndexChange, Resolution, SearchableEncryption, Searched, SseClient, SseServer,
};
use crate::{
    CryptoRngCore, Epoch, EpochSecret, MsgId, Origin, Outbox, RoomId, SchemeError, UserId, Wire,
};

/// Deliveries one change may cause before the harness decides the control traffic never
/// settles.
const MAX_DELIVERIES: usize = 100_000;

/// An epoch secret a user holds for a room.
#[derive(Debug, Clone)]
pub struct HeldKey {
    /// Its epoch.
    pub epoch: Epoch,
    /// The secret.
    pub secret: EpochSecret,
}

impl HeldKey {
    /// The key as a scheme takes it.
    #[must_use]
    pub fn view(&self, room: RoomId) -> KeyView<'_> {
        KeyView {
            room,
            epoch: self.epoch,
            secret: &self.secret,
        }
    }
}

/// An index update made but not yet applied at the server (to deliver it late).
#[allow(missing_debug_implementations)]
pub struct PendingUpdate<S: SearchableEncryption> {
    room: RoomId,
    msg: MsgId,
    /// The message's keywords for an addition; `None` for a deletion.
    added: Option<Vec<String>>,
    update: S::Update,
}

impl<S: SearchableEncryption> PendingUpdate<S> {
    /// The message the update is about.
    #[must_use]
    pub fn msg(&self) -> MsgId {
        self.msg
    }

    /// The update's wire length.
    #[must_use]
    pub fn wire_len(&self) -> usize {
        self.update.wire_len()
    }
}

/// A control message the harness delivered.
#[derive(Debug, Clone)]
pub struct Delivered<M> {
    /// Its sender.
    pub from: Origin,
    /// Its recipient: a user, or `None` for the server.
    pub to: Option<UserId>,
    /// The message.
    pub msg: M,
}

/// Where a search failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchFailure {
    /// The client would not make the query.
    Query(SchemeError),
    /// The server would not answer a round.
    Server(SchemeError),
    /// The client could not use the server's reply.
    Resolve(SchemeError),
    /// The server cannot answer until the re-keying to this epoch reaches it.
    NotYet(Epoch),
    /// The index has moved on to this epoch, past the searcher's key.
    Requery(Epoch),
}

struct RoomState {
    members: BTreeSet<UserId>,
    epoch: Epoch,
    shares_history: bool,
    /// Members not told of the latest change yet, with whether they joined by it.
    behind: BTreeMap<UserId, bool>,
    /// The key of the latest epoch.
    next_key: Option<HeldKey>,
    /// The oracle: messages indexed at the server and not deleted, with their keywords.
    indexed: BTreeMap<MsgId, Vec<String>>,
}

/// One search server and a client per user, with key distribution played by the harness and
/// control traffic routed synchronously.
#[allow(missing_debug_implementations)]
pub struct SseHarness<S: SearchableEncryption> {
    /// The search server.
    pub server: S::Server,
    /// Every user's client, by id.
    pub clients: Vec<S::Client>,
    /// The work the server reported for each control message, in order.
    pub work: Vec<Work>,
    /// Wire bytes of the control messages delivered.
    pub control_bytes: usize,
    /// Every control message delivered since [`record_deliveries`](Self::record_deliveries),
    /// in order (a message to several users once per recipient); those to the server line up
    /// with the [`work`](Self::work) recorded since.
    pub delivered: Vec<Delivered<S::Message>>,
    /// Whether deliveries are recorded in `delivered`.
    recording: bool,
    /// Per user, the latest key it holds for each room (removed members keep theirs).
    held: Vec<BTreeMap<RoomId, HeldKey>>,
    rooms: BTreeMap<RoomId, RoomState>,
    next_msg: u64,
    canaries: Vec<String>,
    /// The changer of each room's latest epoch: every message it sends the server is first
    /// delivered as if from another member, which the server must refuse.
    changers: BTreeMap<RoomId, UserId>,
}

impl<S: SearchableEncryption> SseHarness<S> {
    /// Users `0..users`, no rooms.
    #[must_use]
    pub fn new(users: u32) -> Self {
        Self {
            server: S::Server::default(),
            clients: (0..users).map(|u| S::new_client(UserId(u))).collect(),
            work: Vec::new(),
            control_bytes: 0,
            delivered: Vec::new(),
            recording: false,
            held: (0..users).map(|_| BTreeMap::new()).collect(),
            rooms: BTreeMap::new(),
            next_msg: 0,
            canaries: Vec::new(),
            changers: BTreeMap::new(),
        }
    }

    /// Records every control message delivered from now on in
    /// [`delivered`](Self::delivered) (off by default, so that timed runs copy nothing).
    pub fn record_deliveries(&mut self) {
        self.recording = true;
    }

    /// Keywords that must never appear in the clear in anything the server sees (checked unless
    /// the scheme declares `server_reads_keywords`). Use long words: short ones can occur in
    /// random bytes by chance.
    pub fn watch_for(&mut self, keywords: &[&str]) {
        self.canaries
            .extend(keywords.iter().map(|k| (*k).to_owned()));
    }

    /// Creates `room` with `members` at epoch 0; `by` is the changer.
    pub fn create(
        &mut self,
        room: RoomId,
        members: &[UserId],
        by: UserId,
        shares_history: bool,
        rng: &mut dyn CryptoRngCore,
    ) {
        assert!(!self.rooms.contains_key(&room), "{room} already exists");
        assert!(members.contains(&by), "the creator must be a member");
        self.rooms.insert(
            room,
            RoomState {
                members: members.iter().copied().collect(),
                epoch: Epoch(0),
                shares_history,
                behind: BTreeMap::new(),
                next_key: None,
                indexed: BTreeMap::new(),
            },
        );
        self.enter_epoch(room, by, members, &[], rng);
    }

    /// `by` adds `join` and removes `leave`, starting the room's next epoch with a fresh random
    /// secret. Every member of the new roster is told (the changer first, then the others in
    /// ascending order), and the control traffic each causes is routed before the next is told.
    /// Removed members are not told and keep their keys. Returns the new epoch.
    pub fn change(
        &mut self,
        room: RoomId,
        by: UserId,
        join: &[UserId],
        leave: &[UserId],
        rng: &mut dyn CryptoRngCore,
    ) -> Epoch {
        self.change_leaving_behind(room, by, join, leave, &[], rng)
    }

    /// As [`change`](Self::change), but the members in `behind` are not told yet: their key
    /// for the new epoch is still on its way until [`catch_up`](Self::catch_up).
    pub fn change_leaving_behind(
        &mut self,
        room: RoomId,
        by: UserId,
        join: &[UserId],
        leave: &[UserId],
        behind: &[UserId],
        rng: &mut dyn CryptoRngCore,
    ) -> Epoch {
        let state = self.rooms.get_mut(&room).expect("unknown room");
        assert!(state.behind.is_empty(), "a member is still behind");
        assert!(state.members.contains(&by), "the changer must be a member");
        for u in leave {
            state.members.remove(u);
        }
        state.members.extend(join.iter().copied());
        assert!(state.members.contains(&by), "the changer cannot leave");
        state.epoch = state
            .epoch
            .next()
            .expect("a test room never exhausts its epochs");
        let epoch = state.epoch;
        self.enter_epoch(room, by, join, behind, rng);
        epoch
    }

    /// Tells `user`, left behind by the latest change, of it now.
    pub fn catch_up(&mut self, room: RoomId, user: UserId, rng: &mut dyn CryptoRngCore) {
        let state = self.rooms.get_mut(&room).expect("unknown room");
        let joined = state
            .behind
            .remove(&user)
            .unwrap_or_else(|| panic!("{user} is not behind in {room}"));
        let next = state
            .next_key
            .clone()
            .expect("a room that changed has a key");
        self.tell(room, user, &next, joined, false, rng);
    }

    fn enter_epoch(
        &mut self,
        room: RoomId,
        by: UserId,
        joiners: &[UserId],
        behind: &[UserId],
        rng: &mut dyn CryptoRngCore,
    ) {
        assert!(!behind.contains(&by), "the changer cannot be behind");
        let state = self.rooms.get_mut(&room).expect("unknown room");
        let next = HeldKey {
            epoch: state.epoch,
            secret: EpochSecret::random(rng),
        };
        state.next_key = Some(next.clone());
        let mut order = vec![by];
        order.extend(state.members.iter().copied().filter(|u| *u != by));
        for &user in behind {
            state.behind.insert(user, joiners.contains(&user));
        }
        self.server
            .name_changer(room, next.epoch, by)
            .unwrap_or_else(|e| panic!("{}: naming the changer of {}: {e}", S::NAME, next.epoch));
        self.changers.insert(room, by);
        for user in order.into_iter().filter(|u| !behind.contains(u)) {
            self.tell(room, user, &next, joiners.contains(&user), user == by, rng);
        }
    }

    /// Hands `user` the key of the room's new epoch and routes what that causes.
    fn tell(
        &mut self,
        room: RoomId,
        user: UserId,
        next: &HeldKey,
        joined: bool,
        changer: bool,
        rng: &mut dyn CryptoRngCore,
    ) {
        let u = user.0 as usize;
        let prev = if joined {
            None
        } else {
            self.held[u].get(&room).cloned()
        };
        let change = EpochChange {
            prev: prev.as_ref().map(|p| p.view(room)),
            next: next.view(room),
            changer,
            shares_history: self.rooms[&room].shares_history,
        };
        let mut out = Outbox::new();
        self.clients[u]
            .epoch_changed(change, rng, &mut out)
            .unwrap_or_else(|e| panic!("{}: epoch_changed of {user}: {e}", S::NAME));
        self.held[u].insert(room, next.clone());
        self.route(room, user, out, rng);
    }

    /// Delivers `out` (sent by `from`) and everything it causes, until nothing is left.
    fn route(
        &mut self,
        room: RoomId,
        from: UserId,
        out: Outbox<S::Message>,
        rng: &mut dyn CryptoRngCore,
    ) {
        Router::with_limit(MAX_DELIVERIES)
            .route(Origin::User(from), out, |arrival| {
                Ok::<_, SchemeError>(match arrival {
                    Arrival::AtServer { from: sender, msg } => {
                        self.control_bytes += msg.wire_len();
                        if self.recording {
                            self.delivered.push(Delivered {
                                from: Origin::User(sender),
                                to: None,
                                msg: msg.clone(),
                            });
                        }
                        scan::<S>(&self.canaries, "a control message", &msg);
                        let changer = self.changers.get(&room) == Some(&sender);
                        super::server_handles(
                            S::NAME,
                            &mut self.server,
                            (room, sender),
                            changer,
                            msg,
                            rng,
                            &mut self.work,
                        )
                    }
                    Arrival::AtUser {
                        from: sender,
                        to,
                        msg,
                    } => {
                        self.control_bytes += msg.wire_len();
                        if self.recording {
                            self.delivered.push(Delivered {
                                from: sender,
                                to: Some(to),
                                msg: msg.clone(),
                            });
                        }
                        scan::<S>(&self.canaries, "a control message", msg);
                        let held = self.held[to.0 as usize].get(&room).unwrap_or_else(|| {
                            panic!("{}: a message for {to}, who holds no key", S::NAME)
                        });
                        let mut o = Outbox::new();
                        self.clients[to.0 as usize]
                            .handle(held.view(room), msg, rng, &mut o)
                            .unwrap_or_else(|e| panic!("{}: client handle of {to}: {e}", S::NAME));
                        o
                    }
                })
            })
            .unwrap_or_else(|e| panic!("{}: control traffic: {e}", S::NAME));
    }

    /// The room's current epoch.
    #[must_use]
    pub fn epoch(&self, room: RoomId) -> Epoch {
        self.rooms[&room].epoch
    }

    /// The room's current members, ascending.
    #[must_use]
    pub fn members(&self, room: RoomId) -> Vec<UserId> {
        self.rooms[&room].members.iter().copied().collect()
    }

    /// The key `user` holds for `room` (a removed member's is the one it kept).
    #[must_use]
    pub fn held_key(&self, user: UserId, room: RoomId) -> Option<&HeldKey> {
        self.held[user.0 as usize].get(&room)
    }

    /// The id the next message will get.
    #[must_use]
    pub fn next_msg(&self) -> MsgId {
        MsgId(self.next_msg)
    }

    /// Messages indexed in `room` and not deleted, ascending.
    #[must_use]
    pub fn indexed(&self, room: RoomId) -> Vec<MsgId> {
        self.rooms[&room].indexed.keys().copied().collect()
    }

    /// `by` makes the index update of a new message carrying `keywords`, without applying it.
    pub fn prepare_index(
        &mut self,
        room: RoomId,
        by: UserId,
        keywords: &[&str],
        rng: &mut dyn CryptoRngCore,
    ) -> PendingUpdate<S> {
        let msg = MsgId(self.next_msg);
        self.next_msg += 1;
        let held = self.held[by.0 as usize]
            .get(&room)
            .expect("writer holds no key");
        let update = self.clients[by.0 as usize]
            .index(held.view(room), msg, keywords, rng)
            .unwrap_or_else(|e| panic!("{}: index: {e}", S::NAME));
        PendingUpdate {
            room,
            msg,
            added: Some(keywords.iter().map(|k| (*k).to_owned()).collect()),
            update,
        }
    }

    /// `by` makes the update deleting `msg` (which must be indexed), without applying it.
    pub fn prepare_remove(
        &mut self,
        room: RoomId,
        by: UserId,
        msg: MsgId,
        rng: &mut dyn CryptoRngCore,
    ) -> PendingUpdate<S> {
        let keywords = self.rooms[&room]
            .indexed
            .get(&msg)
            .expect("removing a message that is not indexed")
            .clone();
        let refs: Vec<&str> = keywords.iter().map(String::as_str).collect();
        let held = self.held[by.0 as usize]
            .get(&room)
            .expect("deleter holds no key");
        let update = self.clients[by.0 as usize]
            .update(held.view(room), IndexChange::delete(msg, &refs), rng)
            .unwrap_or_else(|e| panic!("{}: remove: {e}", S::NAME));
        PendingUpdate {
            room,
            msg,
            added: None,
            update,
        }
    }

    /// The server applies `pending`; the oracle follows.
    pub fn apply(&mut self, pending: PendingUpdate<S>) {
        scan::<S>(&self.canaries, "an index update", &pending.update);
        self.server
            .apply(pending.room, pending.update)
            .unwrap_or_else(|e| panic!("{}: apply: {e}", S::NAME));
        let indexed = &mut self
            .rooms
            .get_mut(&pending.room)
            .expect("unknown room")
            .indexed;
        match pending.added {
            Some(keywords) => {
                indexed.insert(pending.msg, keywords);
            }
            None => {
                indexed.remove(&pending.msg);
            }
        }
    }

    /// `by` indexes a new message carrying `keywords` (distinct); returns its id.
    pub fn index(
        &mut self,
        room: RoomId,
        by: UserId,
        keywords: &[&str],
        rng: &mut dyn CryptoRngCore,
    ) -> MsgId {
        let pending = self.prepare_index(room, by, keywords, rng);
        let msg = pending.msg;
        self.apply(pending);
        msg
    }

    /// `by` deletes `msg` from the index.
    pub fn remove(&mut self, room: RoomId, by: UserId, msg: MsgId, rng: &mut dyn CryptoRngCore) {
        let pending = self.prepare_remove(room, by, msg, rng);
        self.apply(pending);
    }

    /// A complete search by `user` with the key it holds (current, or kept after removal): the
    /// query, every round, and the resolution. Ids must come back strictly ascending.
    ///
    /// # Errors
    /// Where the search failed.
    pub fn try_search(
        &mut self,
        room: RoomId,
        user: UserId,
        keyword: &str,
        access: Access,
        rng: &mut dyn CryptoRngCore,
    ) -> Result<Vec<MsgId>, SearchFailure> {
        let held = self.held[user.0 as usize]
            .get(&room)
            .expect("searcher holds no key");
        let key = held.view(room);
        let client = &mut self.clients[user.0 as usize];
        let server = &self.server;
        let mut query = client
            .query(key, keyword, rng)
            .map_err(SearchFailure::Query)?;
        for _ in 0..MAX_DELIVERIES {
            scan::<S>(&self.canaries, "a query", &query);
            let reply = match server
                .search(room, access, &query)
                .map_err(SearchFailure::Server)?
            {
                Searched::Reply(r) => r,
                Searched::NotYet { waiting_for } => return Err(SearchFailure::NotYet(waiting_for)),
            };
            match client
                .resolve(key, keyword, &reply, rng)
                .map_err(SearchFailure::Resolve)?
            {
                Resolution::Done(ids) => {
                    assert!(
                        ids.windows(2).all(|w| w[0] < w[1]),
                        "{}: search results are not strictly ascending",
                        S::NAME
                    );
                    return Ok(ids);
                }
                Resolution::Next(next) => query = next,
                Resolution::Requery { epoch } if epoch <= key.epoch => {
                    query = client
                        .query(key, keyword, rng)
                        .map_err(SearchFailure::Query)?;
                }
                Resolution::Requery { epoch } => return Err(SearchFailure::Requery(epoch)),
            }
        }
        panic!("{}: a search does not end", S::NAME);
    }

    /// As [`try_search`](Self::try_search), panicking if the search fails.
    pub fn search(
        &mut self,
        room: RoomId,
        user: UserId,
        keyword: &str,
        access: Access,
        rng: &mut dyn CryptoRngCore,
    ) -> Vec<MsgId> {
        self.try_search(room, user, keyword, access, rng)
            .unwrap_or_else(|e| panic!("{}: search by {user} for {keyword:?}: {e:?}", S::NAME))
    }

    /// What a search must return: indexed, not deleted, carrying `keyword`, id >= `from`.
    #[must_use]
    pub fn expected(&self, room: RoomId, keyword: &str, from: MsgId) -> Vec<MsgId> {
        self.rooms[&room]
            .indexed
            .range(from..)
            .filter(|(_, kws)| kws.iter().any(|k| k == keyword))
            .map(|(id, _)| *id)
            .collect()
    }

    /// Searches as `user` from `from` and asserts the result equals the oracle; `property` names
    /// what is being checked.
    pub fn assert_search(
        &mut self,
        property: &str,
        room: RoomId,
        user: UserId,
        keyword: &str,
        from: MsgId,
        rng: &mut dyn CryptoRngCore,
    ) {
        let found = self.search(
            room,
            user,
            keyword,
            Access {
                readable_from: from,
            },
            rng,
        );
        let expected = self.expected(room, keyword, from);
        assert_eq!(
            found,
            expected,
            "{}: {property}: search by {user} for {keyword:?} from {from} at {} differs from the \
             oracle",
            S::NAME,
            self.epoch(room)
        );
    }
}

/// Checks what the server sees: no watched keyword in the clear (unless the scheme declares that
/// the server reads keywords), and a wire length at least the bytes carried.
fn scan<S: SearchableEncryption>(canaries: &[String], what: &str, msg: &impl Wire) {
    let mut carried = 0;
    let reads_keywords = S::PROPERTIES.server_reads_keywords;
    msg.visit_bytes(&mut |bytes| {
        carried += bytes.len();
        if reads_keywords {
            return;
        }
        for canary in canaries {
            let needle = canary.as_bytes();
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle),
                "{}: {what} shows the keyword {canary:?} to the server in the clear",
                S::NAME
            );
        }
    });
    assert!(
        msg.wire_len() >= carried,
        "{}: {what} reports a wire length of {} bytes but carries {carried}",
        S::NAME,
        msg.wire_len()
    );
}

/// Words of the suites' vocabulary: long enough that finding one in random bytes by chance is
/// negligible, so the harness can watch for them.
const VOCABULARY: [&str; 8] = [
    "quarterly",
    "forecast",
    "hiringplan",
    "launchdate",
    "offsiteplan",
    "roadmapdraft",
    "budgetcuts",
    "securityaudit",
];

/// A word no message carries.
const ABSENT: &str = "neverwritten";

/// A uniform index below `n` (the small modulo bias does not matter here).
fn pick(rng: &mut dyn CryptoRngCore, n: usize) -> usize {
    (rng.next_u64() % n as u64) as usize
}

/// One to four distinct words of the vocabulary.
fn random_keywords(rng: &mut dyn CryptoRngCore) -> Vec<&'static str> {
    let count = 1 + pick(rng, 4);
    let mut words: Vec<&'static str> = Vec::new();
    while words.len() < count {
        let w = VOCABULARY[pick(rng, VOCABULARY.len())];
        if !words.contains(&w) {
            words.push(w);
        }
    }
    words
}

fn watched_harness<S: SearchableEncryption>(users: u32) -> SseHarness<S> {
    let mut h = SseHarness::new(users);
    h.watch_for(&VOCABULARY);
    h.watch_for(&[ABSENT]);
    h
}

/// A [`watched_harness`] in which user 0 has created `room`, sharing its history, with users 0
/// to 3.
fn watched_room<S: SearchableEncryption>(
    users: u32,
    room: RoomId,
    rng: &mut dyn CryptoRngCore,
) -> SseHarness<S> {
    let mut h = watched_harness::<S>(users);
    let founders: Vec<UserId> = (0..4).map(UserId).collect();
    h.create(room, &founders, UserId(0), true, rng);
    h
}

/// Searchable encryption: search results equal a brute-force scan of the messages, and the
/// access bound is honoured (one client, one epoch, no epoch change announced).
pub fn sse_matches_scan<S: SearchableEncryption>(rng: &mut dyn CryptoRngCore) {
    let room = RoomId(3);
    let secret = EpochSecret::random(rng);
    let key = KeyView {
        room,
        epoch: Epoch(0),
        secret: &secret,
    };
    let mut server = S::Server::default();
    let mut client = S::new_client(UserId(0));
    let words = [
        "budget", "launch", "hiring", "q3", "review", "offsite", "roadmap",
    ];
    let mut texts = Vec::new();
    for i in 0..60u64 {
        let mut text = String::from("the");
        for (j, w) in words.iter().enumerate() {
            if (i * 7 + j as u64 * 3) % (j as u64 + 2) == 0 {
                text.push(' ');
                text.push_str(w);
            }
        }
        let kws = tokenize(&text);
        let refs: Vec<&str> = kws.iter().map(String::as_str).collect();
        let upd = client.index(key, MsgId(i), &refs, rng).unwrap();
        server.apply(room, upd).unwrap();
        texts.push(kws);
    }
    for from in [0u64, 25] {
        for w in words.iter().chain(&["absent"]) {
            let expected: BTreeSet<MsgId> = texts
                .iter()
                .enumerate()
                .filter(|(i, kws)| *i as u64 >= from && kws.iter().any(|k| k == w))
                .map(|(i, _)| MsgId(i as u64))
                .collect();
            let mut q = client.query(key, w, rng).unwrap();
            let found = loop {
                let Searched::Reply(reply) = server
                    .search(
                        room,
                        Access {
                            readable_from: MsgId(from),
                        },
                        &q,
                    )
                    .unwrap()
                else {
                    panic!(
                        "{}: the server did not answer a query it is ready for",
                        S::NAME
                    )
                };
                match client.resolve(key, w, &reply, rng).unwrap() {
                    Resolution::Done(ids) => break ids,
                    Resolution::Next(next) => q = next,
                    Resolution::Requery { epoch } => panic!(
                        "{}: a query under the room's current epoch was called stale (index at {epoch})",
                        S::NAME
                    ),
                }
            };
            let found: BTreeSet<MsgId> = found.into_iter().collect();
            assert_eq!(
                found,
                expected,
                "{}: sse_matches_scan: search for {w:?} from {from}",
                S::NAME
            );
        }
    }
}

/// Searchable encryption: with several writers, additions and deletions, and five epoch changes
/// (joins, removals and the rejoin of a removed member, in a room that shares history), every
/// search by any member equals the oracle, with no access bound and with a random one.
pub fn sse_matches_oracle<S: SearchableEncryption>(rng: &mut dyn CryptoRngCore) {
    const PROPERTY: &str = "sse_matches_oracle";
    let room = RoomId(11);
    let mut h = watched_room::<S>(8, room, rng);
    let u = UserId;
    let changes: [(UserId, &[UserId], &[UserId]); 5] = [
        (u(0), &[u(4)], &[]),
        (u(1), &[], &[u(2)]),
        (u(4), &[u(5), u(6)], &[]),
        (u(0), &[], &[u(1), u(5)]),
        (u(3), &[u(2)], &[]),
    ];
    for phase in 0..=changes.len() {
        let members = h.members(room);
        for _ in 0..12 {
            let writer = members[pick(rng, members.len())];
            let keywords = random_keywords(rng);
            h.index(room, writer, &keywords, rng);
        }
        for _ in 0..3 {
            let indexed = h.indexed(room);
            if indexed.is_empty() {
                break;
            }
            let victim = indexed[pick(rng, indexed.len())];
            let deleter = members[pick(rng, members.len())];
            h.remove(room, deleter, victim, rng);
        }
        let bound = MsgId(rng.next_u64() % h.next_msg().0.max(1));
        for word in VOCABULARY.iter().chain(&[ABSENT]) {
            for from in [MsgId(0), bound] {
                let searcher = members[pick(rng, members.len())];
                h.assert_search(PROPERTY, room, searcher, word, from, rng);
            }
        }
        // Every member, joiners included, sees the whole shared history.
        for &member in &members {
            h.assert_search(PROPERTY, room, member, VOCABULARY[0], MsgId(0), rng);
        }
        if let Some(&(by, join, leave)) = changes.get(phase) {
            h.change(room, by, join, leave, rng);
        }
    }
}

/// Searchable encryption: an addition and a deletion made under epoch `e` but applied after the
/// room reached `e + 2` take effect: the added message is found by every member (a joiner of
/// `e + 2` too), the deleted one no longer.
pub fn sse_late_update<S: SearchableEncryption>(rng: &mut dyn CryptoRngCore) {
    const PROPERTY: &str = "sse_late_update";
    let room = RoomId(12);
    let mut h = watched_room::<S>(6, room, rng);
    let u = UserId;
    h.index(room, u(0), &["forecast", "quarterly"], rng);
    h.index(room, u(3), &["forecast"], rng);
    let e = h.change(room, u(0), &[u(4)], &[], rng);
    let doomed = h.index(room, u(1), &["forecast", "budgetcuts"], rng);
    h.index(room, u(4), &["budgetcuts"], rng);
    let late_add = h.prepare_index(room, u(2), &["forecast", "launchdate"], rng);
    let late_msg = late_add.msg();
    let late_delete = h.prepare_remove(room, u(1), doomed, rng);

    h.change(room, u(0), &[], &[u(3)], rng);
    h.index(room, u(2), &["forecast", "launchdate"], rng);
    let now = h.change(room, u(4), &[u(5)], &[], rng);
    assert_eq!(now.0, e.0 + 2, "harness: the room should be two epochs on");
    h.index(room, u(5), &["launchdate", "budgetcuts"], rng);

    h.apply(late_add);
    h.apply(late_delete);
    let found = h.search(room, u(0), "launchdate", Access::WHOLE_ROOM, rng);
    assert!(
        found.contains(&late_msg),
        "{}: {PROPERTY}: an update made under {e} and applied at {now} is not found",
        S::NAME
    );
    for member in h.members(room) {
        for word in ["forecast", "launchdate", "budgetcuts", "quarterly", ABSENT] {
            h.assert_search(PROPERTY, room, member, word, MsgId(0), rng);
        }
    }
    // New updates after the late ones still land in the same index.
    h.index(room, u(1), &["launchdate"], rng);
    h.assert_search(PROPERTY, room, u(5), "launchdate", MsgId(0), rng);
}

/// Searchable encryption: a member whose key for the room's newest epoch is still on its way,
/// searching while others index under that epoch, never ends the search with a partial result:
/// it finds everything the oracle expects, or is told to search again once it holds that
/// epoch. Once it has the key, its search equals the oracle.
pub fn sse_lagging_searcher<S: SearchableEncryption>(rng: &mut dyn CryptoRngCore) {
    const PROPERTY: &str = "sse_lagging_searcher";
    let room = RoomId(15);
    let mut h = watched_harness::<S>(4);
    let u = UserId;
    h.create(room, &[u(0), u(1), u(2)], u(0), true, rng);
    h.index(room, u(1), &["forecast", "quarterly"], rng);
    let e = h.change_leaving_behind(room, u(0), &[u(3)], &[], &[u(2)], rng);
    h.index(room, u(3), &["forecast"], rng);
    h.index(room, u(1), &["forecast", "budgetcuts"], rng);
    let access = Access {
        readable_from: MsgId(0),
    };
    for word in ["forecast", "budgetcuts", "quarterly"] {
        match h.try_search(room, u(2), word, access, rng) {
            Ok(found) => assert_eq!(
                found,
                h.expected(room, word, MsgId(0)),
                "{}: {PROPERTY}: a searcher without the key of {e} ended a search for {word:?} \
                 with a partial result",
                S::NAME
            ),
            Err(SearchFailure::Requery(epoch)) => assert_eq!(
                epoch,
                e,
                "{}: {PROPERTY}: told to search again at another epoch than the room's newest",
                S::NAME
            ),
            Err(other) => panic!("{}: {PROPERTY}: search for {word:?}: {other:?}", S::NAME),
        }
    }
    h.catch_up(room, u(2), rng);
    for word in ["forecast", "budgetcuts", "quarterly", ABSENT] {
        h.assert_search(PROPERTY, room, u(2), word, MsgId(0), rng);
    }
}

/// Searchable encryption: a removed member's client, querying the server directly with the key
/// it kept and no access bound, finds nothing indexed after its removal (while current members
/// find everything). A client that will not make the query, or cannot use the reply, finds
/// nothing; the server must answer, since a server colluding with the removed member would.
pub fn sse_removed_member<S: SearchableEncryption>(rng: &mut dyn CryptoRngCore) {
    const PROPERTY: &str = "sse_removed_member";
    let room = RoomId(13);
    let mut h = watched_room::<S>(6, room, rng);
    let u = UserId;
    for writer in 0..4 {
        h.index(room, u(writer), &["forecast", "quarterly"], rng);
    }
    h.change(room, u(0), &[], &[u(3)], rng);
    let after_first = h.next_msg();
    for writer in 0..3 {
        h.index(room, u(writer), &["forecast", "hiringplan"], rng);
    }
    h.change(room, u(1), &[u(4)], &[], rng);
    h.index(room, u(4), &["forecast", "quarterly"], rng);
    h.change(room, u(2), &[], &[u(1)], rng);
    let after_second = h.next_msg();
    for writer in [0, 2, 4] {
        h.index(
            room,
            u(writer),
            &["forecast", "quarterly", "hiringplan"],
            rng,
        );
    }

    for (removed, cutoff) in [(u(3), after_first), (u(1), after_second)] {
        for word in ["forecast", "quarterly", "hiringplan"] {
            let found = match h.try_search(
                room,
                removed,
                word,
                Access::WHOLE_ROOM,
                rng,
            ) {
                Ok(ids) => ids,
                Err(
                    SearchFailure::Query(_)
                    | SearchFailure::Resolve(_)
                    | SearchFailure::Requery(_),
                ) => Vec::new(),
                Err(SearchFailure::Server(e)) => panic!(
                    "{}: {PROPERTY}: the server refused the removed member's query ({e}); the \
                     suite needs its answer",
                    S::NAME
                ),
                Err(SearchFailure::NotYet(e)) => panic!(
                    "{}: {PROPERTY}: the server holds the removed member's query until {e},                      which it has left behind",
                    S::NAME
                ),
            };
            let leaked: Vec<MsgId> = found.into_iter().filter(|id| *id >= cutoff).collect();
            assert!(
                leaked.is_empty(),
                "{}: {PROPERTY}: removed member {removed} finds {leaked:?} (indexed after its \
                 removal) for {word:?} with the key it kept",
                S::NAME
            );
        }
    }
    for member in h.members(room) {
        h.assert_search(PROPERTY, room, member, "forecast", MsgId(0), rng);
    }
}

/// Searchable encryption: a joiner finds messages from before its join if and only if the room
/// shares history. Under a `from_join` policy the joiner searches with `readable_from` set to
/// the first message after its join and must get exactly the later matches; if
/// `enforced_by_cryptography` (the scheme's documentation claims it), it must also find no
/// pre-join message when the server ignores the bound. Existing members keep the whole history
/// either way, across a further change.
pub fn sse_joiner_policy<S: SearchableEncryption>(
    rng: &mut dyn CryptoRngCore,
    enforced_by_cryptography: bool,
) {
    const PROPERTY: &str = "sse_joiner_policy";
    let u = UserId;
    let mut h = watched_harness::<S>(6);
    for (room, shares_history) in [(RoomId(21), true), (RoomId(22), false)] {
        h.create(room, &[u(0), u(1), u(2)], u(0), shares_history, rng);
        h.index(room, u(0), &["forecast", "quarterly"], rng);
        h.index(room, u(1), &["forecast"], rng);
        h.change(room, u(0), &[u(3)], &[], rng);
        h.index(room, u(2), &["forecast", "quarterly"], rng);
        h.index(room, u(3), &["quarterly"], rng);
        let joiner = u(4);
        h.change(room, u(1), &[joiner], &[], rng);
        let first_after_join = h.next_msg();
        h.index(room, joiner, &["forecast"], rng);
        h.index(room, u(0), &["forecast", "quarterly"], rng);
        h.change(room, u(0), &[], &[u(2)], rng);
        h.index(room, u(3), &["forecast", "quarterly"], rng);

        for word in ["forecast", "quarterly", ABSENT] {
            if shares_history {
                let found = h.search(room, joiner, word, Access::WHOLE_ROOM, rng);
                assert_eq!(
                    found,
                    h.expected(room, word, MsgId(0)),
                    "{}: {PROPERTY}: in a room that shares history the joiner's search for \
                     {word:?} does not find exactly all messages, pre-join ones included",
                    S::NAME
                );
            } else {
                h.assert_search(PROPERTY, room, joiner, word, first_after_join, rng);
                if enforced_by_cryptography {
                    let found = h.search(room, joiner, word, Access::WHOLE_ROOM, rng);
                    let early: Vec<MsgId> = found
                        .into_iter()
                        .filter(|id| *id < first_after_join)
                        .collect();
                    assert!(
                        early.is_empty(),
                        "{}: {PROPERTY}: under from_join the joiner's keys find pre-join messages \
                         {early:?} for {word:?} when the server ignores the access bound",
                        S::NAME
                    );
                }
            }
            // The creators (user 3 joined at epoch 1, and is a joiner too under from_join).
            for member in [u(0), u(1)] {
                h.assert_search(PROPERTY, room, member, word, MsgId(0), rng);
            }
        }
    }
}

/// Searchable encryption: the family's suite, for what scheme `S` claims
/// ([`SearchableEncryption::PROPERTIES`]), in turn:
///
/// * [`sse_matches_scan`], [`sse_matches_oracle`], [`sse_late_update`] and
///   [`sse_lagging_searcher`], always;
/// * [`sse_removed_member`], unless the server reads keywords (a plaintext query then works
///   for anyone, and only the server's access control keeps a removed member out);
/// * [`sse_joiner_policy`], by cryptography too if it claims `keys_enforce_from_join`.
///
/// The registry's conformance test runs it for every scheme of
/// [`each_sse`](crate::registry::each_sse).
pub fn sse_conformance<S: SearchableEncryption>(rng: &mut dyn CryptoRngCore) {
    let claims = S::PROPERTIES;
    sse_matches_scan::<S>(rng);
    sse_matches_oracle::<S>(rng);
    sse_late_update::<S>(rng);
    if !claims.server_reads_keywords {
        sse_removed_member::<S>(rng);
    }
    sse_joiner_policy::<S>(rng, claims.keys_enforce_from_join);
    sse_lagging_searcher::<S>(rng);
}
