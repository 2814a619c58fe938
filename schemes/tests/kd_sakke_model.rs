//! The model of `sakke` ([`conclave_schemes::model::sakke`]) against the scheme: the same flows
//! on the same seeds, across two organisations whose KMSs trust each other, make the same calls
//! (who works, what each receives and sends, in order), reach the same epochs with the same
//! secrets (the GMKs are drawn from the generator as the scheme draws them) and leave every
//! member the same state length, through creations, joins, leaves, a new key period, and a
//! member offline during two changes and the renewal who then catches up in order.
#![allow(clippy::unwrap_used)]

use std::cell::RefCell;
use std::rc::Rc;

use conclave_schemes::kd::provider::{Real, SakkeCrypto};
use conclave_schemes::kd::sakke::{Sakke, SakkeWith};
use conclave_schemes::kd::{
    Change, Handled, KdAuthority, KdClient, KeyDistribution, Period, Roster,
};
use conclave_schemes::model::ideal_kd::Ideal;
use conclave_schemes::model::sakke::SakkeModel;
use conclave_schemes::testing::{self, KdHarness, Observer, Role};
use conclave_schemes::{Dest, Epoch, EpochSecret, Outbox, RoomId, UserId};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

const USERS: u32 = 12;
const ROOM: RoomId = RoomId(3);
const OTHER: RoomId = RoomId(4);

/// Every call the harness makes: who, what it received, what it sent.
type Calls = Rc<RefCell<Vec<(Role, usize, usize)>>>;

/// Logs every call into its [`Calls`].
struct Log(Calls);

impl Observer for Log {
    fn begin(&mut self, _role: Role) {}
    fn end(&mut self, role: Role, bytes_in: usize, bytes_out: usize) {
        self.0.borrow_mut().push((role, bytes_in, bytes_out));
    }
}

/// Each user's epoch, secret and state length in one room.
type Held = (Option<(Epoch, EpochSecret)>, usize);

/// What a run shows of a scheme.
#[derive(Debug, Default, PartialEq, Eq)]
struct Trace {
    calls: Vec<(Role, usize, usize)>,
    /// After each step, every user's epoch, secret and state length in each room.
    states: Vec<Vec<Held>>,
    /// What the member who was away said of each message it caught up on.
    caught_up: Vec<Handled>,
}

/// Two organisations (even users in one, odd in the other) under scheme `SakkeWith<C>`.
struct Flow<C: SakkeCrypto> {
    h: KdHarness<SakkeWith<C>>,
    calls: Calls,
    trace: Trace,
    rng: ChaCha20Rng,
}

impl<C: SakkeCrypto> Flow<C> {
    fn new(seed: u64) -> Self {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let mut h = KdHarness::new(USERS, &mut rng);
        let calls = Calls::default();
        h.observer = Some(Box::new(Log(Rc::clone(&calls))));
        Self {
            h,
            calls,
            trace: Trace::default(),
            rng,
        }
    }

    fn change(&mut self, room: RoomId, by: UserId, change: Change<'_>) {
        self.h.change(room, by, change, &mut self.rng);
        self.snapshot();
    }

    fn create(&mut self, room: RoomId, members: &[UserId], by: UserId) {
        self.h.create(room, members, by, &mut self.rng);
        self.snapshot();
    }

    /// Every user's KMS issues its keys for `period`, and the user moves to it.
    fn new_period(&mut self, period: Period) {
        for u in 0..USERS {
            let user = UserId(u);
            let kms = &mut self.h.authorities[usize::from(testing::org_of(user).0)];
            let issued = kms.issue(user, period, &mut self.rng).unwrap();
            self.h.clients[u as usize]
                .renew(&issued, &mut self.rng)
                .unwrap();
        }
        self.snapshot();
    }

    /// The member whose mail was held reads it in order, under the room's current roster.
    fn come_back(&mut self, room: RoomId) {
        let who = self.h.hold_for.take().unwrap();
        let members = self.h.rosters[&room].clone();
        let view = Roster {
            room,
            members: &members,
        };
        for (from, msg) in std::mem::take(&mut self.h.held) {
            let handled = self
                .h
                .handle_by(who, &view, from, &msg, &mut self.rng)
                .unwrap();
            self.trace.caught_up.push(handled);
        }
        self.snapshot();
    }

    fn snapshot(&mut self) {
        let mut s = Vec::new();
        for room in [ROOM, OTHER] {
            for c in &mut self.h.clients {
                let held = c.current(room).map(|(e, k)| (e, k.clone()));
                s.push((held, c.state_len(room).unwrap()));
            }
        }
        self.trace.states.push(s);
    }
}

fn ids(r: std::ops::Range<u32>) -> Vec<UserId> {
    r.map(UserId).collect()
}

/// Create, join, leave, a second room, a member away during two changes and a new key period
/// who then reads them in order (with the RSK of the period that ended), several leaving at
/// once, changes made in the new period.
fn flow<C: SakkeCrypto>(seed: u64) -> Trace {
    let mut f = Flow::<C>::new(seed);
    f.create(ROOM, &ids(0..5), UserId(0));
    f.change(ROOM, UserId(1), Change::Add(&[UserId(5), UserId(6)]));
    f.change(ROOM, UserId(0), Change::Remove(&[UserId(2)]));
    f.create(OTHER, &[UserId(2), UserId(8), UserId(9)], UserId(8));
    f.h.agreed(ROOM);
    f.h.agreed(OTHER);
    // Member 4 is away while 7 and 8 join and every key is renewed for period 1.
    f.h.hold_for = Some(UserId(4));
    f.change(ROOM, UserId(3), Change::Add(&[UserId(7)]));
    f.change(ROOM, UserId(6), Change::Add(&[UserId(8)]));
    f.new_period(Period(1));
    f.come_back(ROOM);
    f.h.agreed(ROOM);
    f.change(ROOM, UserId(5), Change::Remove(&[UserId(0), UserId(1)]));
    f.change(OTHER, UserId(9), Change::Add(&[UserId(10), UserId(11)]));
    assert_eq!(f.h.agreed(ROOM).0, Epoch(5));
    f.h.agreed(OTHER);
    f.trace.calls = std::mem::take(&mut *f.calls.borrow_mut());
    f.trace
}

#[test]
fn the_model_sends_and_stores_what_sakke_does() {
    for seed in [1, 2, 3] {
        let real = flow::<Real>(seed);
        let model = flow::<Ideal>(seed);
        assert!(real.calls.len() > 30, "{}", real.calls.len());
        // Across organisations, user ids of one and two digits: I_MESSAGEs of several lengths.
        let lengths: std::collections::BTreeSet<usize> = real
            .calls
            .iter()
            .map(|(_, bytes_in, _)| *bytes_in)
            .collect();
        assert!(lengths.len() > 2, "{lengths:?}");
        assert_eq!(
            real.caught_up,
            [Handled::NewEpoch(Epoch(3)), Handled::NewEpoch(Epoch(4))]
        );
        assert_eq!(real.calls, model.calls, "seed {seed}");
        assert_eq!(real.caught_up, model.caught_up, "seed {seed}");
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

/// The model's names and claims are the scheme's, its clients hold an ideal receiver instead of
/// the real one's tables (for the memory estimate), and the registry runs it for `sakke`.
#[test]
fn the_model_is_registered_under_the_schemes_name() {
    assert_eq!(SakkeModel::NAME, Sakke::NAME);
    assert_eq!(SakkeModel::PROPERTIES, Sakke::PROPERTIES);
    const {
        assert!(SakkeModel::CLIENT_CREDENTIAL_BYTES < 1 << 10);
        assert!(Sakke::CLIENT_CREDENTIAL_BYTES > 1 << 20);
    }
    assert_ne!(SakkeModel::SUMMARY, Sakke::SUMMARY);
    let registry = conclave_schemes::registry::Registry::builtin();
    assert!(registry
        .modelled(conclave_schemes::registry::Family::KeyDistribution)
        .contains(&Sakke::NAME));
}

/// A KMS's escrow opens each I_MESSAGE to its users, in the model as in the scheme, and gives
/// the epoch secret the members hold; the other organisation's KMS refuses it.
#[test]
fn the_kms_escrow_reads_what_its_users_read_in_the_model() {
    fn escrowed<C: SakkeCrypto>() -> Vec<bool> {
        let mut f = Flow::<C>::new(5);
        f.create(ROOM, &ids(0..4), UserId(0));
        let members = f.h.rosters[&ROOM].clone();
        let view = Roster {
            room: ROOM,
            members: &members,
        };
        let mut out: Outbox<_> =
            f.h.change_by(UserId(0), &view, &Change::Remove(&[]), &mut f.rng)
                .unwrap();
        let (epoch, secret) = f.h.clients[0]
            .current(ROOM)
            .map(|(e, s)| (e, s.clone()))
            .unwrap();
        out.drain()
            .map(|(dest, msg)| {
                let Dest::User(to) = dest else {
                    panic!("an I_MESSAGE to {dest:?}")
                };
                let org = usize::from(testing::org_of(to).0);
                let mine = f.h.authorities[org].escrow(ROOM, &msg).unwrap().unwrap();
                let other = f.h.authorities[1 - org].escrow(ROOM, &msg).unwrap();
                mine.0 == epoch && mine.1 == secret && other.is_err()
            })
            .collect()
    }
    assert_eq!(escrowed::<Real>(), [true, true, true]);
    assert_eq!(escrowed::<Ideal>(), [true, true, true]);
}
