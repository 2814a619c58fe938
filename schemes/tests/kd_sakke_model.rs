//! The model of `sakke` ([`conclave_schemes::model::sakke`]) against the scheme: the same flows
//! on the same seeds, across two organisations whose KMSs trust each other, send the same
//! I_MESSAGEs (sender, recipient, length, in order), reach the same epochs with the same
//! secrets (the GMKs are drawn from the generator as the scheme draws them) and leave every
//! member the same state length, through creations, joins, leaves, a new key period, a member
//! offline during two changes and a key-period renewal who then catches up in order.
#![allow(clippy::unwrap_used)]

use conclave_schemes::kd::authority::TwoOrganisations;
use conclave_schemes::kd::provider::{Real, SakkeCrypto};
use conclave_schemes::kd::sakke::{Sakke, SakkeWith};
use conclave_schemes::kd::{Change, Handled, KdClient, KeyDistribution, Origin, Period, Roster};
use conclave_schemes::model::ideal_kd::Ideal;
use conclave_schemes::model::sakke::SakkeModel;
use conclave_schemes::testing;
use conclave_schemes::{Dest, Epoch, EpochSecret, Outbox, RoomId, UserId, Wire};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

const USERS: u32 = 12;
const ROOM: RoomId = RoomId(3);
const OTHER: RoomId = RoomId(4);

/// One delivered I_MESSAGE: sender, recipient, length.
type Hop = (u32, u32, usize);

/// What a run shows of a scheme.
#[derive(Debug, Default, PartialEq, Eq)]
struct Trace {
    hops: Vec<Hop>,
    /// After each step, every user's epoch, secret and state length in each room.
    states: Vec<Vec<(Option<(Epoch, EpochSecret)>, usize)>>,
    /// What each user's client said of each message it handled.
    handled: Vec<(u32, Handled)>,
}

type Message = <Sakke as KeyDistribution>::Message;

/// Two organisations (even users in one, odd in the other) and a router that logs every
/// I_MESSAGE and can hold one user's mail.
struct Org<C: SakkeCrypto> {
    system: TwoOrganisations<SakkeWith<C>>,
    rosters: std::collections::BTreeMap<RoomId, Vec<UserId>>,
    /// Mail to this user is kept, in order, with its sender and room, instead of delivered.
    away: Option<UserId>,
    held: Vec<(UserId, RoomId, Message)>,
    trace: Trace,
    rng: ChaCha20Rng,
}

impl<C: SakkeCrypto> Org<C> {
    fn new(seed: u64) -> Self {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let system = TwoOrganisations::new(USERS, &mut rng).unwrap();
        Self {
            system,
            rosters: std::collections::BTreeMap::new(),
            away: None,
            held: Vec::new(),
            trace: Trace::default(),
            rng,
        }
    }

    fn deliver(&mut self, to: UserId, from: UserId, room: RoomId, msg: &Message) {
        let members = self.rosters[&room].clone();
        let view = Roster {
            room,
            members: &members,
        };
        let mut out = Outbox::new();
        let handled = self.system.clients[to.0 as usize]
            .handle(
                &view,
                Origin::User(from),
                msg,
                &self.system.directory,
                &mut self.rng,
                &mut out,
            )
            .unwrap();
        assert_eq!(out.len(), 0, "a recipient answers nothing");
        self.trace.handled.push((to.0, handled));
    }

    /// `by` changes `room`; the roster is updated first, as the directory does, and every
    /// I_MESSAGE is relayed to its recipient.
    fn change(&mut self, room: RoomId, by: UserId, change: Change<'_>) {
        let roster = self.rosters.entry(room).or_default();
        testing::apply_change(roster, &change);
        let members = roster.clone();
        let view = Roster {
            room,
            members: &members,
        };
        let mut out = Outbox::new();
        self.system.clients[by.0 as usize]
            .change(
                &view,
                &change,
                &self.system.directory,
                &mut self.rng,
                &mut out,
            )
            .unwrap();
        for (dest, msg) in out.drain().collect::<Vec<_>>() {
            let Dest::User(to) = dest else {
                panic!("an I_MESSAGE to {dest:?}")
            };
            self.trace.hops.push((by.0, to.0, msg.wire_len()));
            if self.away == Some(to) {
                self.held.push((by, room, msg));
            } else {
                self.deliver(to, by, room, &msg);
            }
        }
        self.snapshot();
    }

    fn create(&mut self, room: RoomId, members: &[UserId], by: UserId) {
        self.rosters.insert(room, members.to_vec());
        self.change(room, by, Change::Create);
    }

    /// The away member comes back and reads its mail in order.
    fn come_back(&mut self) {
        let Some(who) = self.away.take() else { return };
        for (from, room, msg) in std::mem::take(&mut self.held) {
            self.deliver(who, from, room, &msg);
        }
        self.snapshot();
    }

    /// Every user's KMS issues its keys for `period`, and the user moves to it.
    fn new_period(&mut self, period: Period) {
        self.system.renew_all(period, &mut self.rng).unwrap();
        self.snapshot();
    }

    fn snapshot(&mut self) {
        let mut s = Vec::new();
        for room in [ROOM, OTHER] {
            for c in &mut self.system.clients {
                let held = c.current(room).map(|(e, k)| (e, k.clone()));
                s.push((held, c.state_len(room).unwrap()));
            }
        }
        self.trace.states.push(s);
    }

    /// Every member of `room` holds the same epoch and secret.
    fn agreed(&self, room: RoomId) -> Epoch {
        let members = &self.rosters[&room];
        let first = self.system.clients[members[0].0 as usize]
            .current(room)
            .unwrap();
        for m in members {
            let got = self.system.clients[m.0 as usize].current(room).unwrap();
            assert_eq!(got.0, first.0, "{m:?} in {room:?}");
            assert!(got.1 == first.1, "{m:?} in {room:?}");
        }
        first.0
    }
}

fn ids(r: std::ops::Range<u32>) -> Vec<UserId> {
    r.map(UserId).collect()
}

/// Create, join, leave, a second room, a member away during two changes and a new key period
/// who then reads them in order (with the RSK of the period that ended), several leaving at
/// once, changes made in the new period.
fn flow<C: SakkeCrypto>(seed: u64) -> Trace {
    let mut org = Org::<C>::new(seed);
    org.create(ROOM, &ids(0..5), UserId(0));
    org.agreed(ROOM);
    org.change(ROOM, UserId(1), Change::Add(&[UserId(5), UserId(6)]));
    org.change(ROOM, UserId(0), Change::Remove(&[UserId(2)]));
    org.create(OTHER, &[UserId(2), UserId(8), UserId(9)], UserId(8));
    org.agreed(ROOM);
    org.agreed(OTHER);
    // Member 4 is away while 7 and 8 join; then every key is renewed for period 1.
    org.away = Some(UserId(4));
    org.change(ROOM, UserId(3), Change::Add(&[UserId(7)]));
    org.change(ROOM, UserId(6), Change::Add(&[UserId(8)]));
    org.new_period(Period(1));
    org.come_back();
    org.agreed(ROOM);
    org.change(ROOM, UserId(5), Change::Remove(&[UserId(0), UserId(1)]));
    org.change(OTHER, UserId(9), Change::Add(&[UserId(10), UserId(11)]));
    let e = org.agreed(ROOM);
    assert_eq!(e, Epoch(5));
    org.agreed(OTHER);
    org.trace
}

#[test]
fn the_model_sends_and_stores_what_sakke_does() {
    for seed in [1, 2, 3] {
        let real = flow::<Real>(seed);
        let model = flow::<Ideal>(seed);
        assert!(real.hops.len() > 30, "{}", real.hops.len());
        // Across organisations: I_MESSAGEs of both KMS URIs' lengths and user ids of two digits.
        let lengths: std::collections::BTreeSet<usize> =
            real.hops.iter().map(|(_, _, len)| *len).collect();
        assert!(lengths.len() > 1, "{lengths:?}");
        assert_eq!(real.hops, model.hops, "seed {seed}");
        assert_eq!(real.handled, model.handled, "seed {seed}");
        assert!(real.states == model.states, "seed {seed}: states differ");
    }
}

/// The model passes the scheme's conformance suite: membership, exclusion, refusing tampered
/// messages, key periods, impersonation by an untrusted KMS, a removed member overhearing.
#[test]
fn the_model_passes_the_key_distribution_conformance_suite() {
    let mut r = ChaCha20Rng::seed_from_u64(11);
    testing::kd_conformance::<SakkeModel>(&mut r);
}

/// The model's names, claims and declared memory are the scheme's, and the registry runs it
/// for `sakke`.
#[test]
fn the_model_is_registered_under_the_schemes_name() {
    assert_eq!(SakkeModel::NAME, Sakke::NAME);
    assert_eq!(SakkeModel::PROPERTIES, Sakke::PROPERTIES);
    assert_eq!(
        SakkeModel::CLIENT_CREDENTIAL_BYTES,
        Sakke::CLIENT_CREDENTIAL_BYTES
    );
    assert_ne!(SakkeModel::SUMMARY, Sakke::SUMMARY);
    let registry = conclave_schemes::registry::Registry::builtin();
    assert!(registry
        .modelled(conclave_schemes::registry::Family::KeyDistribution)
        .contains(&Sakke::NAME));
}

/// A KMS's escrow opens each I_MESSAGE to its users, in the model as in the scheme, and gives
/// the epoch secret the members hold.
#[test]
fn the_kms_escrow_reads_what_its_users_read_in_the_model() {
    use conclave_schemes::kd::KdAuthority;
    fn escrowed<C: SakkeCrypto>() -> Vec<bool> {
        let mut org = Org::<C>::new(5);
        org.create(ROOM, &ids(0..4), UserId(0));
        let mut out = Outbox::new();
        let members = org.rosters[&ROOM].clone();
        let view = Roster {
            room: ROOM,
            members: &members,
        };
        org.system.clients[0]
            .change(
                &view,
                &Change::Remove(&[]),
                &org.system.directory,
                &mut org.rng,
                &mut out,
            )
            .unwrap();
        let held = org.system.clients[0].current(ROOM).unwrap();
        let held = (held.0, held.1.clone());
        out.drain()
            .map(|(dest, msg)| {
                let Dest::User(to) = dest else { panic!() };
                // Users 1 and 3 are organisation 1's, user 2 organisation 0's.
                let kms = &org.system.authorities[(to.0 % 2) as usize];
                let other = &org.system.authorities[1 - (to.0 % 2) as usize];
                let mine = kms.escrow(ROOM, &msg).unwrap().unwrap();
                let refused = other.escrow(ROOM, &msg).unwrap().is_err();
                mine.0 == held.0 && mine.1 == held.1 && refused
            })
            .collect()
    }
    assert_eq!(escrowed::<Real>(), [true, true, true]);
    assert_eq!(escrowed::<Ideal>(), [true, true, true]);
}
