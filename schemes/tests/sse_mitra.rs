//! `mitra` in a small room of several writers: every search equals a brute-force scan of what
//! the server holds, across epoch changes, late updates, joins under both history policies and
//! removals; tampering is rejected; wire lengths are exact; updates never reuse a queried
//! address (forward privacy). Every check runs on the real scheme and on its model (the same
//! code over the ideal cipher provider).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use conclave_schemes::rekeying::{RekeyingClient, RekeyingServer};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use conclave_schemes::common::cipher::SymmetricCipher;
use conclave_schemes::common::router::{route, Arrival};
use conclave_schemes::sse::mitra::{
    ClientWith, LogRecord, Message, MitraWith, Query, Reply, ServerWith, Update,
};
use conclave_schemes::sse::{
    Access, EpochChange, IndexChange, KeyView, Resolution, SearchableEncryption, Searched,
    SseClient, SseServer,
};
use conclave_schemes::{
    Dest, Epoch, EpochSecret, MsgId, Origin, Outbox, RoomId, SchemeError, UserId, Wire,
};
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;

/// Runs each check on the real scheme (`real::`) and on its model (`model::`).
macro_rules! on_both_providers {
    ($($check:ident),* $(,)?) => {
        mod real {
            $(
                #[test]
                fn $check() {
                    super::$check::<conclave_schemes::common::cipher::Real>();
                }
            )*
        }
        mod model {
            $(
                #[test]
                fn $check() {
                    super::$check::<conclave_schemes::model::ideal_cipher::Ideal>();
                }
            )*
        }
    };
}

on_both_providers!(
    interleaved_writers_and_deletes_match_oracle_across_epochs,
    late_update_is_found_by_members_and_history_joiners,
    lagging_member_catches_up_on_records_it_skipped,
    concurrent_writers_on_one_keyword_do_not_collide,
    removed_member_finds_nothing_new,
    joiner_with_shared_history_finds_everything,
    joiner_search_waits_for_its_back_chain,
    joiner_from_join_finds_nothing_before_its_join,
    tampered_replies_and_chains_are_rejected,
    wire_and_stored_lengths_are_exact,
    updates_never_reuse_a_queried_address,
    replies_for_other_searches_are_refused,
    recreated_writer_never_reuses_an_address,
);

const ROOM: RoomId = RoomId(9);
const WORDS: [&str; 6] = ["budget", "launch", "hiring", "q3", "review", "roadmap"];

/// Corrupts a reply on its way to the client.
type ReplyTamper = fn(&mut Reply);

/// What one search cost.
#[derive(Debug, Default)]
struct Cost {
    rounds: usize,
    query_bytes: usize,
    reply_bytes: usize,
}

/// A room, its members' clients and the search server, with messages delivered synchronously,
/// on the primitives of provider `C`.
struct World<C: SymmetricCipher> {
    rng: ChaCha20Rng,
    server: ServerWith<C>,
    clients: Vec<ClientWith<C>>,
    secrets: Vec<EpochSecret>,
    /// The epoch each user's client holds (a removed user keeps its last one).
    held: Vec<Option<u64>>,
    member: Vec<bool>,
    readable_from: Vec<MsgId>,
    shares_history: bool,
    next_msg: u64,
    /// Applied at the server and not deleted: the oracle.
    live: BTreeMap<MsgId, Vec<String>>,
    /// Every message's keywords, for deletions.
    sent: BTreeMap<MsgId, Vec<String>>,
    /// Every address any query carried.
    queried: BTreeSet<[u8; 16]>,
    /// Every control message routed, with its destination.
    routed: Vec<(Dest, Message)>,
    /// Corrupts back-chains on their way to a client; the outcome lands in `tamper_outcome`.
    tamper_chain: bool,
    tamper_outcome: Option<Result<(), SchemeError>>,
    /// Holds back-chains on their way to clients in `held_chains` instead of delivering them.
    hold_chains: bool,
    held_chains: Vec<(UserId, Message)>,
}

impl<C: SymmetricCipher> World<C> {
    fn new(users: u32, initial: &[u32], shares_history: bool, seed: u64) -> Self {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let secrets = vec![EpochSecret::random(&mut rng)];
        let mut w = Self {
            rng,
            server: ServerWith::default(),
            clients: (0..users)
                .map(|u| MitraWith::<C>::new_client(UserId(u)))
                .collect(),
            secrets,
            held: vec![None; users as usize],
            member: vec![false; users as usize],
            readable_from: vec![MsgId(0); users as usize],
            shares_history,
            next_msg: 0,
            live: BTreeMap::new(),
            sent: BTreeMap::new(),
            queried: BTreeSet::new(),
            routed: Vec::new(),
            tamper_chain: false,
            tamper_outcome: None,
            hold_chains: false,
            held_chains: Vec::new(),
        };
        for &u in initial {
            w.member[u as usize] = true;
            w.held[u as usize] = Some(0);
        }
        for (i, &u) in initial.iter().enumerate() {
            w.tell(u, None, i == 0);
        }
        w
    }

    /// Delivers the current epoch to `user`, who held `prev` before.
    fn tell(&mut self, user: u32, prev: Option<u64>, changer: bool) {
        let e = self.secrets.len() as u64 - 1;
        self.held[user as usize] = Some(e);
        let next = KeyView {
            room: ROOM,
            epoch: Epoch(e),
            secret: &self.secrets[e as usize],
        };
        let prev = prev.map(|p| KeyView {
            room: ROOM,
            epoch: Epoch(p),
            secret: &self.secrets[p as usize],
        });
        if changer {
            self.server
                .name_changer(ROOM, Epoch(e), UserId(user))
                .unwrap();
        }
        let change = EpochChange {
            prev,
            next,
            changer,
            shares_history: self.shares_history,
        };
        let mut out = Outbox::new();
        self.clients[user as usize]
            .epoch_changed(change, &mut self.rng, &mut out)
            .unwrap();
        self.route(UserId(user), out);
    }

    fn route(&mut self, from: UserId, out: Outbox<Message>) {
        route(Origin::User(from), out, |arrival| {
            let mut o = Outbox::new();
            match arrival {
                Arrival::AtServer { from, msg } => {
                    self.routed.push((Dest::Server, msg.clone()));
                    self.server
                        .handle(ROOM, from, msg, &mut self.rng, &mut o)
                        .unwrap();
                }
                Arrival::AtUser { to, msg, .. } => {
                    self.routed.push((Dest::User(to), msg.clone()));
                    if self.hold_chains && matches!(msg, Message::Chain(_)) {
                        self.held_chains.push((to, msg.clone()));
                        return Ok(o);
                    }
                    let mut msg = msg.clone();
                    let tampered = self.tamper_chain && tamper_chain(&mut msg);
                    let key = view(&self.secrets, &self.held, to.0);
                    let r = self.clients[to.0 as usize].handle(key, &msg, &mut self.rng, &mut o);
                    if tampered {
                        self.tamper_chain = false;
                        self.tamper_outcome = Some(r);
                        o = Outbox::new();
                    } else {
                        r.unwrap();
                    }
                }
            }
            Ok::<_, SchemeError>(o)
        })
        .unwrap();
    }

    /// A membership change by `by`: `add` join, `remove` leave. Members in `lagging` learn of
    /// the new epoch only when [`catch_up`](Self::catch_up) is called.
    fn change(
        &mut self,
        by: u32,
        add: &[u32],
        remove: &[u32],
        joiners_first: bool,
        lagging: &[u32],
    ) {
        for &u in remove {
            self.member[u as usize] = false;
        }
        let old: Vec<u32> = (0..self.member.len() as u32)
            .filter(|u| self.member[*u as usize])
            .collect();
        for &u in add {
            self.member[u as usize] = true;
            self.readable_from[u as usize] = if self.shares_history {
                MsgId(0)
            } else {
                MsgId(self.next_msg)
            };
        }
        self.secrets.push(EpochSecret::random(&mut self.rng));
        let tell_old = |w: &mut Self| {
            for &u in &old {
                if !lagging.contains(&u) {
                    let prev = w.held[u as usize];
                    w.tell(u, prev, u == by);
                }
            }
        };
        if !joiners_first {
            tell_old(self);
        }
        for &u in add {
            self.tell(u, None, false);
        }
        if joiners_first {
            tell_old(self);
        }
    }

    fn catch_up(&mut self, user: u32) {
        let prev = self.held[user as usize];
        self.tell(user, prev, false);
    }

    /// `user`'s index update for a new message, not yet applied.
    fn write(&mut self, user: u32, words: &[&str]) -> (MsgId, Update) {
        let msg = MsgId(self.next_msg);
        self.next_msg += 1;
        let key = view(&self.secrets, &self.held, user);
        let update = self.clients[user as usize]
            .index(key, msg, words, &mut self.rng)
            .unwrap();
        self.check_fresh(&update);
        self.sent
            .insert(msg, words.iter().map(|w| (*w).to_owned()).collect());
        (msg, update)
    }

    fn check_fresh(&self, update: &Update) {
        for e in &update.entries {
            assert!(
                !self.queried.contains(&e.address),
                "an update reuses an address an earlier query carried (not forward private)"
            );
        }
    }

    fn apply(&mut self, msg: MsgId, update: Update) {
        self.server.apply(ROOM, update).unwrap();
        self.live.insert(msg, self.sent[&msg].clone());
    }

    fn send(&mut self, user: u32, words: &[&str]) -> MsgId {
        let (msg, update) = self.write(user, words);
        self.apply(msg, update);
        msg
    }

    fn delete(&mut self, user: u32, msg: MsgId) {
        let words = self.sent[&msg].clone();
        let refs: Vec<&str> = words.iter().map(String::as_str).collect();
        let key = view(&self.secrets, &self.held, user);
        let update = self.clients[user as usize]
            .update(key, IndexChange::delete(msg, &refs), &mut self.rng)
            .unwrap();
        self.check_fresh(&update);
        self.server.apply(ROOM, update).unwrap();
        self.live.remove(&msg);
    }

    /// Runs a search to completion, optionally corrupting the first reply.
    fn search_with(
        &mut self,
        user: u32,
        keyword: &str,
        readable_from: MsgId,
        tamper: impl FnMut(&mut Reply),
    ) -> Result<(Vec<MsgId>, Cost), SchemeError> {
        let key = view(&self.secrets, &self.held, user);
        let query = self.clients[user as usize].query(key, keyword, &mut self.rng)?;
        self.continue_search(user, keyword, readable_from, query, tamper)
    }

    /// The first round of a search by `user`: its query (addresses recorded as queried), the
    /// server's answer and the client's resolution.
    fn first_round(&mut self, user: u32, keyword: &str) -> Resolution<Query> {
        let key = view(&self.secrets, &self.held, user);
        let query = self.clients[user as usize]
            .query(key, keyword, &mut self.rng)
            .unwrap();
        self.queried.extend(query.addresses.iter().copied());
        let reply = self.reply_to(&query);
        self.clients[user as usize]
            .resolve(key, keyword, &reply, &mut self.rng)
            .unwrap()
    }

    /// Runs a search from `query` (its next round) to completion.
    fn continue_search(
        &mut self,
        user: u32,
        keyword: &str,
        readable_from: MsgId,
        mut query: Query,
        mut tamper: impl FnMut(&mut Reply),
    ) -> Result<(Vec<MsgId>, Cost), SchemeError> {
        let mut cost = Cost::default();
        let key = view(&self.secrets, &self.held, user);
        loop {
            cost.rounds += 1;
            cost.query_bytes += query.wire_len();
            self.queried.extend(query.addresses.iter().copied());
            let mut reply = self.reply_from(readable_from, &query);
            tamper(&mut reply);
            cost.reply_bytes += reply.wire_len();
            let client = &mut self.clients[user as usize];
            match client.resolve(key, keyword, &reply, &mut self.rng)? {
                Resolution::Done(ids) => return Ok((ids, cost)),
                Resolution::Next(next) => query = next,
                Resolution::Requery { epoch } => panic!("mitra called a query stale ({epoch})"),
            }
            assert!(cost.rounds < 10, "a search did not converge");
        }
    }

    /// The server's reply to `query` from a reader of the messages from `readable_from` on.
    fn reply_from(&self, readable_from: MsgId, query: &Query) -> Reply {
        let searched = self.server.search(ROOM, Access { readable_from }, query);
        searched.unwrap().reply().unwrap()
    }

    /// The server's reply to `query` from a reader of the whole room.
    fn reply_to(&self, query: &Query) -> Reply {
        self.reply_from(Access::WHOLE_ROOM.readable_from, query)
    }

    fn search(&mut self, user: u32, keyword: &str) -> Vec<MsgId> {
        let from = self.readable_from[user as usize];
        self.search_with(user, keyword, from, |_| {}).unwrap().0
    }

    fn expected(&self, keyword: &str, from: MsgId, before: Option<MsgId>) -> Vec<MsgId> {
        self.live
            .iter()
            .filter(|(id, words)| {
                **id >= from
                    && before.is_none_or(|b| **id < b)
                    && words.iter().any(|w| w == keyword)
            })
            .map(|(id, _)| *id)
            .collect()
    }

    /// `user`'s search for `keyword` equals the oracle.
    fn check(&mut self, user: u32, keyword: &str) {
        let found = self.search(user, keyword);
        let expected = self.expected(keyword, self.readable_from[user as usize], None);
        assert_eq!(found, expected, "user {user} searching {keyword:?}");
    }

    fn members(&self) -> Vec<u32> {
        (0..self.member.len() as u32)
            .filter(|u| self.member[*u as usize])
            .collect()
    }

    fn pick<T: Copy>(&mut self, from: &[T]) -> T {
        from[self.rng.next_u32() as usize % from.len()]
    }

    fn random_words(&mut self) -> Vec<&'static str> {
        WORDS
            .iter()
            .copied()
            .filter(|_| self.rng.next_u32() % 3 == 0)
            .collect()
    }
}

/// The key `user` holds (a free function so it borrows only the secrets).
fn view<'a>(secrets: &'a [EpochSecret], held: &[Option<u64>], user: u32) -> KeyView<'a> {
    let e = held[user as usize].expect("user holds no key");
    KeyView {
        room: ROOM,
        epoch: Epoch(e),
        secret: &secrets[e as usize],
    }
}

fn tamper_chain(msg: &mut Message) -> bool {
    matches!(msg, Message::Chain(_)) && conclave_schemes::testing::Tamper::tamper(msg)
}

fn flip(bytes: &mut Arc<[u8]>, at: usize) {
    let mut v = bytes.to_vec();
    v[at] ^= 0x10;
    *bytes = Arc::from(v);
}

fn interleaved_writers_and_deletes_match_oracle_across_epochs<C: SymmetricCipher>() {
    let mut w = World::<C>::new(8, &[0, 1, 2, 3, 4], true, 11);
    let changes: [(u32, &[u32], &[u32]); 5] = [
        (0, &[5], &[]),
        (2, &[], &[1]),
        (3, &[6], &[]),
        (0, &[], &[2]),
        (4, &[7], &[]),
    ];
    let mut late: Vec<(MsgId, Update)> = Vec::new();
    for (round, (by, add, remove)) in changes.into_iter().enumerate() {
        for step in 0..30 {
            let members = w.members();
            let user = w.pick(&members);
            let words = w.random_words();
            if step == 7 {
                // Made now, under this epoch; reaches the server after the next change.
                late.push(w.write(user, &words));
            } else {
                w.send(user, &words);
            }
            if w.rng.next_u32() % 5 == 0 && !w.live.is_empty() {
                let ids: Vec<MsgId> = w.live.keys().copied().collect();
                let victim = w.pick(&ids);
                let by = w.pick(&members);
                w.delete(by, victim);
            }
            if step % 4 == 0 {
                let searcher = w.pick(&members);
                let keyword = w.pick(&WORDS);
                w.check(searcher, keyword);
            }
        }
        w.change(by, add, remove, round % 2 == 1, &[]);
        for (msg, update) in late.drain(..) {
            w.apply(msg, update);
        }
        for user in w.members() {
            for keyword in WORDS {
                w.check(user, keyword);
            }
        }
    }
    assert!(
        w.live.len() > 50,
        "the workload indexed too little to mean much"
    );
    assert_eq!(w.secrets.len(), 6);
}

fn late_update_is_found_by_members_and_history_joiners<C: SymmetricCipher>() {
    let mut w = World::<C>::new(5, &[0, 1, 2], true, 12);
    w.send(0, &["budget"]);
    let (late, update) = w.write(1, &["budget", "launch"]);
    w.change(0, &[3], &[], false, &[]);
    w.send(2, &["budget"]);
    // Not applied yet: nobody finds it.
    for user in [0, 1, 2, 3] {
        assert!(!w.search(user, "budget").contains(&late));
        w.check(user, "budget");
    }
    w.apply(late, update);
    for user in [0, 1, 2, 3] {
        assert!(w.search(user, "budget").contains(&late));
        w.check(user, "budget");
        w.check(user, "launch");
    }
}

fn lagging_member_catches_up_on_records_it_skipped<C: SymmetricCipher>() {
    let mut w = World::<C>::new(4, &[0, 1, 2], true, 13);
    w.send(0, &["review"]);
    w.change(0, &[], &[], false, &[2]);
    let new = w.send(1, &["review"]);
    // User 2 still holds the old epoch only: the new record is skipped, not understood, and
    // its search waits for the new epoch's key instead of ending without it.
    assert_eq!(
        w.first_round(2, "review"),
        Resolution::Requery { epoch: Epoch(1) }
    );
    // The key arrives while a search is in flight: that search's log tail starts after the
    // skipped record, so it must not count as having read the new epoch.
    let key = view(&w.secrets, &w.held, 2);
    let q = w.clients[2].query(key, "review", &mut w.rng).unwrap();
    w.catch_up(2);
    let reply = w.reply_to(&q);
    let key = view(&w.secrets, &w.held, 2);
    w.clients[2]
        .resolve(key, "review", &reply, &mut w.rng)
        .unwrap();
    // Its next search rewinds to the skipped record.
    let key = view(&w.secrets, &w.held, 2);
    let q = w.clients[2].query(key, "review", &mut w.rng).unwrap();
    assert_eq!(
        q.rewind,
        vec![(Epoch(1), 0)],
        "the new epoch is read again from the start"
    );
    w.check(2, "review");
    assert!(w.search(2, "review").contains(&new));
}

fn concurrent_writers_on_one_keyword_do_not_collide<C: SymmetricCipher>() {
    let mut w = World::<C>::new(3, &[0, 1, 2], false, 14);
    let mut pending = Vec::new();
    for _ in 0..3 {
        pending.push(w.write(0, &["budget", "q3"]));
        pending.push(w.write(1, &["budget"]));
    }
    let addresses: BTreeSet<[u8; 16]> = pending
        .iter()
        .flat_map(|(_, u)| u.entries.iter().map(|e| e.address))
        .collect();
    assert_eq!(addresses.len(), 9, "two writers' entries share an address");
    // The server applies them in a different order than they were made.
    pending.reverse();
    for (msg, update) in pending {
        w.apply(msg, update);
    }
    for user in [0, 1, 2] {
        w.check(user, "budget");
        w.check(user, "q3");
    }
    assert_eq!(w.search(2, "budget").len(), 6);
}

fn removed_member_finds_nothing_new<C: SymmetricCipher>() {
    let mut w = World::<C>::new(5, &[0, 1, 2, 3], true, 15);
    for i in 0..6 {
        w.send(i % 4, &["hiring", "roadmap"]);
    }
    w.search(3, "hiring");
    w.change(0, &[], &[3], false, &[]);
    let mut after = BTreeSet::new();
    for i in 0..6 {
        let (msg, update) = w.write(i % 3, &["hiring", "roadmap"]);
        after.extend(update.entries.iter().map(|e| e.address));
        w.apply(msg, update);
    }
    w.change(1, &[4], &[], false, &[]);
    w.send(4, &["hiring"]);
    w.delete(1, MsgId(0));
    let mut removed_tokens = BTreeSet::new();
    for keyword in ["hiring", "roadmap"] {
        let before = w.queried.clone();
        // Its client reads records of epochs it will never hold, so it never ends a search
        // with what its kept key finds; the query it sent named no later entry.
        assert_eq!(
            w.first_round(3, keyword),
            Resolution::Requery { epoch: Epoch(2) }
        );
        removed_tokens.extend(w.queried.difference(&before).copied());
        w.check(0, keyword);
    }
    assert!(!removed_tokens.is_empty());
    assert!(
        removed_tokens.is_disjoint(&after),
        "the removed member's query carried an address of a later entry"
    );
}

fn joiner_with_shared_history_finds_everything<C: SymmetricCipher>() {
    for joiners_first in [false, true] {
        let mut w = World::<C>::new(6, &[0, 1, 2], true, 16);
        for i in 0..5 {
            w.send(i % 3, &["launch"]);
        }
        w.change(1, &[3], &[], joiners_first, &[]);
        w.send(3, &["launch"]);
        w.change(2, &[4], &[], !joiners_first, &[]);
        w.send(0, &["launch"]);
        for user in [3, 4] {
            assert_eq!(w.readable_from[user as usize], MsgId(0));
            let key = view(&w.secrets, &w.held, user);
            let first = w.clients[user as usize]
                .query(key, "launch", &mut w.rng)
                .unwrap();
            assert_eq!(
                first.cursor, 0,
                "a joiner's first search reads the log from the start"
            );
            let found = w.search(user, "launch");
            assert_eq!(
                found.len(),
                7,
                "joiner {user} (joiners first: {joiners_first})"
            );
            w.check(user, "launch");
        }
    }
}

/// A joiner searching before the changer's back-chain link has reached the server is held
/// ([`Searched::NotYet`]); answered once the link is there but before the chain reached it, it
/// asks another round instead of ending with no history.
fn joiner_search_waits_for_its_back_chain<C: SymmetricCipher>() {
    let mut w = World::<C>::new(6, &[0, 1, 2], true, 17);
    for i in 0..4 {
        w.send(i % 3, &["launch"]);
    }
    // The joiner learns of the new epoch first; the changer (1) and the others lag.
    w.change(1, &[3], &[], true, &[0, 1, 2]);
    let key = view(&w.secrets, &w.held, 3);
    let query = w.clients[3].query(key, "launch", &mut w.rng).unwrap();
    let access = Access::WHOLE_ROOM;
    assert!(
        matches!(
            w.server.search(ROOM, access, &query).unwrap(),
            Searched::NotYet {
                waiting_for: Epoch(1)
            }
        ),
        "a joiner's query waits while its back-chain link is missing"
    );
    // The changer uploads its link; the chain to the joiner is held on the way.
    w.hold_chains = true;
    let prev = w.held[1];
    w.tell(1, prev, true);
    w.catch_up(0);
    w.catch_up(2);
    let reply = w.reply_to(&query);
    let key = view(&w.secrets, &w.held, 3);
    let next = match w.clients[3]
        .resolve(key, "launch", &reply, &mut w.rng)
        .unwrap()
    {
        Resolution::Next(next) => next,
        Resolution::Done(ids) => panic!("a search ended before the back-chain came: {ids:?}"),
        Resolution::Requery { epoch } => panic!("mitra called a query stale ({epoch})"),
    };
    w.hold_chains = false;
    for (user, chain) in std::mem::take(&mut w.held_chains) {
        let key = view(&w.secrets, &w.held, user.0);
        let mut out = Outbox::new();
        w.clients[user.0 as usize]
            .handle(key, &chain, &mut w.rng, &mut out)
            .unwrap();
    }
    let (found, _) = w
        .continue_search(3, "launch", MsgId(0), next, |_| {})
        .unwrap();
    assert_eq!(found, w.expected("launch", MsgId(0), None));
    assert_eq!(found.len(), 4);
}

fn joiner_from_join_finds_nothing_before_its_join<C: SymmetricCipher>() {
    let mut w = World::<C>::new(5, &[0, 1, 2], false, 17);
    for i in 0..5 {
        w.send(i % 3, &["launch", "budget"]);
    }
    let (late, update) = w.write(0, &["launch"]);
    w.change(0, &[3], &[], false, &[]);
    w.apply(late, update);
    let join = w.readable_from[3];
    w.send(3, &["launch"]);
    w.send(1, &["launch"]);
    w.change(1, &[4], &[], true, &[]);
    w.send(2, &["launch"]);
    assert!(
        w.routed.iter().all(|(_, m)| !matches!(
            m,
            Message::Link(_) | Message::Request { .. } | Message::Chain(_)
        )),
        "back-chain traffic in a room that does not share history"
    );
    for keyword in ["launch", "budget"] {
        // Asked with no access bound at all: the keys alone keep pre-join messages out.
        let (found, _) = w.search_with(3, keyword, MsgId(0), |_| {}).unwrap();
        assert_eq!(found, w.expected(keyword, join, None));
        w.check(3, keyword);
        w.check(4, keyword);
        w.check(0, keyword);
    }
    assert_eq!(w.search(3, "launch").len(), 3);
    assert!(w.search(0, "launch").contains(&late));
}

fn tampered_replies_and_chains_are_rejected<C: SymmetricCipher>() {
    let mut w = World::<C>::new(4, &[0, 1, 2], true, 18);
    for i in 0..4 {
        w.send(i % 3, &["budget", "q3"]);
    }
    w.check(2, "budget");
    // Before each tampered search: user 2 knows entries of "budget" and user 1 has at least
    // three new records to read.
    let tampers: [(u32, ReplyTamper, SchemeError); 7] = [
        (
            2,
            |r| {
                let old = LogRecord {
                    seq: 0,
                    ..r.records[0].clone()
                };
                r.records.insert(0, old);
            },
            SchemeError::Malformed("log record outside the query's window"),
        ),
        (
            2,
            |r| {
                r.values[1][2] ^= 1;
            },
            SchemeError::Crypto,
        ),
        (
            2,
            |r| {
                r.values.swap(0, 1);
            },
            SchemeError::Crypto,
        ),
        (
            2,
            |r| {
                r.values.pop();
            },
            SchemeError::Malformed("reply values do not match the query"),
        ),
        (
            1,
            |r| {
                flip(&mut r.records[2].sealed.ciphertext, 5);
            },
            SchemeError::Crypto,
        ),
        (
            1,
            |r| {
                r.records[2].writer = UserId(r.records[2].writer.0 ^ 1);
            },
            SchemeError::Crypto,
        ),
        (
            1,
            |r| {
                r.records.swap(0, 1);
            },
            SchemeError::Malformed("log records out of order"),
        ),
    ];
    for (user, tamper, error) in tampers {
        w.send(0, &["budget", "q3"]);
        w.send(1, &["budget"]);
        w.send(2, &["q3"]);
        let got = w.search_with(user, "budget", MsgId(0), tamper);
        assert_eq!(got.err(), Some(error));
        // The failed search leaves the client usable.
        w.check(user, "budget");
    }

    w.tamper_chain = true;
    w.change(0, &[3], &[], false, &[]);
    assert_eq!(w.tamper_outcome, Some(Err(SchemeError::Crypto)));
}

fn wire_and_stored_lengths_are_exact<C: SymmetricCipher>() {
    let mut w = World::<C>::new(4, &[0, 1, 2], true, 19);
    let mut stored = 0;
    let mut records = Vec::new();
    for k in 0..4 {
        let (msg, update) = w.write(k % 3, &WORDS[..k as usize]);
        let k = k as usize;
        // epoch 8, writer 4, count 4, entries 32k, nonce 24, ciphertext 1 + 20k + 16.
        assert_eq!(update.wire_len(), 16 + 32 * k + 24 + 1 + 20 * k + 16);
        let mut visited = 0;
        update.visit_bytes(&mut |b| visited += b.len());
        assert_eq!(
            visited,
            32 * k + 24 + 1 + 20 * k + 16,
            "every carried byte is visited"
        );
        // Stored: the entries, and the record's epoch, writer, nonce and ciphertext.
        stored += 32 * k + 8 + 4 + 24 + 1 + 20 * k + 16;
        // A record in a reply: seq 8, epoch 8, writer 4, nonce 24, length 4, ciphertext.
        records.push(48 + 1 + 20 * k + 16);
        w.apply(msg, update);
    }
    assert_eq!(w.server.stored_len(), stored);

    // "budget" is in the updates of 1, 2 and 3 keywords; user 2 has not searched yet.
    let (found, cost) = w.search_with(2, "budget", MsgId(0), |_| {}).unwrap();
    assert_eq!(found.len(), 3);
    assert_eq!(cost.rounds, 2);
    // Round 1: search 4, cursor 8, floor 8, no rewinds (4), no addresses (4) = 28; its reply:
    // search 4, bound 8, end 8, no values (4), the four records (4 + records).
    // Round 2: the three addresses; its reply: three values and no records.
    assert_eq!(cost.query_bytes, 28 + (28 + 3 * 16));
    assert_eq!(
        cost.reply_bytes,
        (28 + records.iter().sum::<usize>()) + (28 + 3 * 16)
    );
    // A repeat search sends the three addresses at once and is done in one round.
    let (_, cost) = w.search_with(2, "budget", MsgId(0), |_| {}).unwrap();
    assert_eq!(
        (cost.rounds, cost.query_bytes, cost.reply_bytes),
        (1, 76, 76)
    );

    // Back-chain traffic: a link (kind 1 + 64), a request (9), a chain of one link (1 + 1 + 64).
    w.routed.clear();
    w.change(0, &[3], &[], false, &[]);
    let lens: Vec<(usize, bool)> = w
        .routed
        .iter()
        .map(|(dest, m)| (m.wire_len(), *dest == Dest::Server))
        .collect();
    assert_eq!(lens, vec![(65, true), (9, true), (66, false)]);
    assert_eq!(w.server.stored_len(), stored + 64);
}

fn updates_never_reuse_a_queried_address<C: SymmetricCipher>() {
    // `World::write` and `World::delete` assert this for every update; here one writer keeps
    // updating one keyword between searches of it by everyone.
    let mut w = World::<C>::new(3, &[0, 1, 2], true, 20);
    let mut addresses = BTreeSet::new();
    for i in 0..12u64 {
        let (msg, update) = w.write(0, &["offsite"]);
        assert!(addresses.insert(update.entries[0].address));
        w.apply(msg, update);
        for user in [0, 1, 2] {
            w.check(user, "offsite");
        }
        if i % 3 == 2 {
            w.delete(1, msg);
        }
        if i == 6 {
            w.change(2, &[], &[], false, &[]);
        }
    }
    assert!(w.queried.len() >= 12);
    assert!(w.queried.is_superset(&addresses));
}

fn replies_for_other_searches_are_refused<C: SymmetricCipher>() {
    let mut w = World::<C>::new(2, &[0, 1], true, 21);
    w.send(0, &["budget", "q3"]);
    let key = view(&w.secrets, &w.held, 1);
    let query: Query = w.clients[1].query(key, "budget", &mut w.rng).unwrap();
    let reply = w.reply_to(&query);
    let key = view(&w.secrets, &w.held, 1);
    assert!(matches!(
        w.clients[1].resolve(key, "q3", &reply, &mut w.rng),
        Err(SchemeError::Misuse(_))
    ));
    assert!(matches!(
        w.clients[1].resolve(key, "budget", &reply, &mut w.rng),
        Err(SchemeError::Misuse(_))
    ));
}

/// A client re-created for the same user (a new device, a restart) must not start its chains
/// at counter 1 again: the server would see one (address, pad) twice and learn `id₁ ⊕ id₂`. It
/// rebuilds its own counters from the log, as searches read it.
fn recreated_writer_never_reuses_an_address<C: SymmetricCipher>() {
    let mut rng = ChaCha20Rng::seed_from_u64(77);
    let room = RoomId(3);
    let mut h = conclave_schemes::testing::SseHarness::<MitraWith<C>>::new(2);
    h.create(room, &[UserId(0), UserId(1)], UserId(0), true, &mut rng);
    let held = h.held_key(UserId(0), room).unwrap().clone();
    let key = held.view(room);
    let first = h.clients[0]
        .index(key, MsgId(1), &["offsite"], &mut rng)
        .unwrap();
    h.server.apply(room, first.clone()).unwrap();
    h.clients[0] = MitraWith::<C>::new_client(UserId(0));
    let access = Access::WHOLE_ROOM;
    assert_eq!(
        h.search(room, UserId(0), "offsite", access, &mut rng),
        vec![MsgId(1)]
    );
    let second = h.clients[0]
        .index(key, MsgId(2), &["offsite"], &mut rng)
        .unwrap();
    assert_ne!(
        first.entries[0].address, second.entries[0].address,
        "the re-created writer reused its first address"
    );
    h.server.apply(room, second).unwrap();
    assert_eq!(
        h.search(room, UserId(1), "offsite", access, &mut rng),
        vec![MsgId(1), MsgId(2)]
    );
}
