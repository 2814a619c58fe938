//! The model of `mkd` ([`conclave_schemes::model::mkd`]) against the scheme: the same flows on
//! the same seeds send the same messages (sender, destination, length, epoch, in order), reach
//! the same epochs and leave every member the same state length, through creations, joins,
//! leaves, time frames with their Updates, a member offline during a change and one that misses
//! an Update.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, VecDeque};

use conclave_schemes::kd::mkd::{Message, Mkd, MkdWith};
use conclave_schemes::kd::provider::MkdCrypto;
use conclave_schemes::kd::{Change, Handled, KdClient, KdServer, KeyDistribution, Origin, Roster};
use conclave_schemes::model::mkd::MkdModel;
use conclave_schemes::testing;
use conclave_schemes::{Dest, Epoch, Outbox, RoomId, UserId, Wire};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

const USERS: u32 = 12;
const ROOM: RoomId = RoomId(3);
const OTHER: RoomId = RoomId(4);

/// One routed message: sender and destination (`None`: the key server), length, the epoch it
/// names.
type Hop = (Option<u32>, Option<u32>, usize, Option<u64>);

/// What a run shows of a scheme.
#[derive(Debug, Default, PartialEq, Eq)]
struct Trace {
    hops: Vec<Hop>,
    /// After each step, every user's epoch and state length in each room.
    states: Vec<Vec<(Option<Epoch>, usize)>>,
    /// What each user's client said of each message it handled.
    handled: Vec<(u32, Handled)>,
}

/// An organisation with a router that logs every hop and can hold one user's mail.
struct Org<C: MkdCrypto> {
    server: <MkdWith<C> as KeyDistribution>::Server,
    clients: Vec<<MkdWith<C> as KeyDistribution>::Client>,
    directory: Vec<<MkdWith<C> as KeyDistribution>::Credential>,
    rosters: BTreeMap<RoomId, Vec<UserId>>,
    /// Mail to this user is kept, in order, instead of delivered.
    away: Option<UserId>,
    held: Vec<Message<C>>,
    /// Updates to this user are lost.
    loses_updates: Option<UserId>,
    /// The room being changed (a flow changes one room at a time).
    current: RoomId,
    trace: Trace,
    rng: ChaCha20Rng,
}

impl<C: MkdCrypto> Org<C> {
    fn new(seed: u64) -> Self {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let (server, _, clients, directory) = testing::enroll_all::<MkdWith<C>>(USERS, &mut rng);
        Self {
            server,
            clients,
            directory,
            rosters: BTreeMap::new(),
            away: None,
            held: Vec::new(),
            loses_updates: None,
            current: ROOM,
            trace: Trace::default(),
            rng,
        }
    }

    fn log(&mut self, from: Option<UserId>, to: Option<UserId>, msg: &Message<C>) {
        self.trace.hops.push((
            from.map(|u| u.0),
            to.map(|u| u.0),
            msg.wire_len(),
            msg.epoch().map(|e| e.0),
        ));
    }

    /// Routes `out` from `from` (`None`: the server) to completion.
    fn route(&mut self, from: Option<UserId>, mut out: Outbox<Message<C>>) {
        let mut queue: VecDeque<(Option<UserId>, Dest, Message<C>)> =
            out.drain().map(|(d, m)| (from, d, m)).collect();
        while let Some((from, dest, msg)) = queue.pop_front() {
            let mut o = Outbox::new();
            match (from, dest) {
                (Some(u), Dest::Server) => {
                    self.log(Some(u), None, &msg);
                    let room = self.current;
                    let members = self.rosters[&room].clone();
                    let view = Roster {
                        room,
                        members: &members,
                    };
                    self.server
                        .handle(&view, u, msg, &mut self.rng, &mut o)
                        .unwrap();
                    queue.extend(o.drain().map(|(d, m)| (None, d, m)));
                }
                (None, Dest::User(v)) => {
                    self.log(None, Some(v), &msg);
                    if self.away == Some(v) {
                        self.held.push(msg);
                        continue;
                    }
                    if self.loses_updates == Some(v) && matches!(msg, Message::Update { .. }) {
                        continue;
                    }
                    self.deliver(v, &msg, &mut o);
                    queue.extend(o.drain().map(|(d, m)| (Some(v), d, m)));
                }
                (f, d) => panic!("a message from {f:?} to {d:?}"),
            }
        }
    }

    fn deliver(&mut self, to: UserId, msg: &Message<C>, out: &mut Outbox<Message<C>>) {
        let room = match msg {
            Message::Update { room, .. } => *room,
            Message::Credentials { .. } => RoomId(0),
            _ => self.current,
        };
        let members = self.rosters.get(&room).cloned().unwrap_or_default();
        let view = Roster {
            room,
            members: &members,
        };
        let handled = self.clients[to.0 as usize]
            .handle(
                &view,
                Origin::Server,
                msg,
                &self.directory,
                &mut self.rng,
                out,
            )
            .unwrap();
        self.trace.handled.push((to.0, handled));
    }
}

impl<C: MkdCrypto> Org<C> {
    /// `by` changes `room`; the roster is updated first, as the directory does.
    fn change(&mut self, room: RoomId, by: UserId, change: Change<'_>) {
        self.current = room;
        let roster = self.rosters.entry(room).or_default();
        testing::apply_change(roster, &change);
        let members = roster.clone();
        let view = Roster {
            room,
            members: &members,
        };
        let mut out = Outbox::new();
        self.clients[by.0 as usize]
            .change(&view, &change, &self.directory, &mut self.rng, &mut out)
            .unwrap();
        self.route(Some(by), out);
        self.snapshot();
    }

    fn create(&mut self, room: RoomId, members: &[UserId], by: UserId) {
        self.rosters.insert(room, members.to_vec());
        self.change(room, by, Change::Create);
    }

    /// The away member comes back and reads its mail in order; its replies are routed.
    fn come_back(&mut self) {
        let Some(who) = self.away.take() else { return };
        for msg in std::mem::take(&mut self.held) {
            let mut out = Outbox::new();
            self.deliver(who, &msg, &mut out);
            self.route(Some(who), out);
        }
        self.snapshot();
    }

    /// A new time frame: every user's credentials, then every room's Update.
    fn new_time_frame(&mut self) {
        let mut out = Outbox::new();
        self.server.new_time_frame(&mut self.rng, &mut out).unwrap();
        self.route(None, out);
        self.snapshot();
    }

    fn snapshot(&mut self) {
        let mut s = Vec::new();
        for room in [ROOM, OTHER] {
            for c in &mut self.clients {
                s.push((c.current(room).map(|(e, _)| e), c.state_len(room).unwrap()));
            }
        }
        self.trace.states.push(s);
    }

    /// Every member of `room` holds the same epoch and secret.
    fn agreed(&self, room: RoomId) -> Epoch {
        let members = &self.rosters[&room];
        let first = self.clients[members[0].0 as usize].current(room).unwrap();
        for m in members {
            let got = self.clients[m.0 as usize].current(room).unwrap();
            assert_eq!(got.0, first.0, "{m:?} in {room:?}");
            assert!(got.1 == first.1, "{m:?} in {room:?}");
        }
        first.0
    }
}

fn ids(r: std::ops::Range<u32>) -> Vec<UserId> {
    r.map(UserId).collect()
}

/// Create, join, leave, a second room, a time frame, a member away during a change who then
/// answers, a member that misses an Update and catches up at the next change, several leaving
/// at once, and a second frame.
fn flow<C: MkdCrypto>(seed: u64) -> Trace {
    let mut org = Org::<C>::new(seed);
    org.create(ROOM, &ids(0..5), UserId(0));
    org.agreed(ROOM);
    org.change(ROOM, UserId(1), Change::Add(&[UserId(5), UserId(6)]));
    org.change(ROOM, UserId(0), Change::Remove(&[UserId(2)]));
    org.create(OTHER, &[UserId(2), UserId(8), UserId(9)], UserId(8));
    org.new_time_frame();
    org.agreed(ROOM);
    org.agreed(OTHER);
    // Member 4 is away while 7 joins; the session waits for it and completes when it answers.
    org.away = Some(UserId(4));
    org.change(ROOM, UserId(3), Change::Add(&[UserId(7)]));
    org.come_back();
    org.agreed(ROOM);
    // Member 6 loses its Update, then catches up at the next change.
    org.loses_updates = Some(UserId(6));
    org.new_time_frame();
    org.loses_updates = None;
    org.change(ROOM, UserId(5), Change::Remove(&[UserId(0), UserId(1)]));
    org.agreed(ROOM);
    org.change(OTHER, UserId(9), Change::Add(&[UserId(10), UserId(11)]));
    org.new_time_frame();
    let e = org.agreed(ROOM);
    assert!(e >= Epoch(6), "{e:?}");
    org.agreed(OTHER);
    org.trace
}

#[test]
fn the_model_sends_and_stores_what_mkd_does() {
    for seed in [1, 2, 3] {
        let real = flow::<conclave_schemes::kd::provider::Real>(seed);
        let model = flow::<conclave_schemes::model::ideal_kd::Ideal>(seed);
        assert!(real.hops.len() > 200, "{}", real.hops.len());
        assert_eq!(real.hops, model.hops, "seed {seed}");
        assert_eq!(real.states, model.states, "seed {seed}");
        assert_eq!(real.handled, model.handled, "seed {seed}");
    }
}

/// The model passes the scheme's conformance suite: membership, exclusion, refusing tampered
/// messages, impersonation, a removed member overhearing.
#[test]
fn the_model_passes_the_key_distribution_conformance_suite() {
    let mut r = ChaCha20Rng::seed_from_u64(11);
    testing::kd_conformance::<MkdModel>(&mut r);
}

/// The model's names and claims are the scheme's, and the registry runs it for `mkd`.
#[test]
fn the_model_is_registered_under_the_schemes_name() {
    assert_eq!(MkdModel::NAME, Mkd::NAME);
    assert_eq!(MkdModel::PROPERTIES, Mkd::PROPERTIES);
    let registry = conclave_schemes::registry::Registry::builtin();
    assert!(registry
        .modelled(conclave_schemes::registry::Family::KeyDistribution)
        .contains(&Mkd::NAME));
}
