//! The model of `mls` ([`conclave_schemes::model::mls`]) against the scheme: the same flows on
//! the same seeds send the same messages (who handles each, with how many octets in and out),
//! reach the same epochs and leave every member the same state length.
#![allow(clippy::unwrap_used)]

use std::cell::RefCell;
use std::rc::Rc;

use conclave_schemes::kd::mls::provider::MlsCrypto;
use conclave_schemes::kd::mls::{Mls, MlsWith};
use conclave_schemes::kd::{Change, KdClient, KeyDistribution};
use conclave_schemes::model::mls::{IdealCrypto, MlsModel};
use conclave_schemes::testing::{self, KdHarness, Observer, Role, WireLog};
use conclave_schemes::{Epoch, RoomId, UserId};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

const ROOM: RoomId = RoomId(7);
const OTHER: RoomId = RoomId(8);
const USERS: u32 = 14;

/// Every call the harness makes: who handled it, octets in, octets out.
#[derive(Default)]
struct Calls(Vec<(Role, usize, usize)>);

struct Logger(Rc<RefCell<Calls>>);

impl Observer for Logger {
    fn begin(&mut self, _role: Role) {}
    fn end(&mut self, role: Role, bytes_in: usize, bytes_out: usize) {
        self.0.borrow_mut().0.push((role, bytes_in, bytes_out));
    }
}

/// What a run shows of a scheme: every call (its handler, its octets), every message's length
/// in order per direction, and after each step the epoch and state length of every user in
/// each room.
#[derive(Debug, PartialEq, Eq)]
struct Trace {
    calls: Vec<(Role, usize, usize)>,
    wire: WireLog,
    states: Vec<Vec<(Option<Epoch>, usize)>>,
}

/// Create, add, remove, update, a second room, an offline member catching up, a rejoin, and
/// removing several at once, each followed by every user's epoch and state length.
fn flow<K: KeyDistribution>(seed: u64) -> Trace {
    let mut r = ChaCha20Rng::seed_from_u64(seed);
    let mut h = KdHarness::<K>::new(USERS, &mut r);
    let calls: Rc<RefCell<Calls>> = Rc::default();
    h.observer = Some(Box::new(Logger(Rc::clone(&calls))));
    h.wire_log = Some(WireLog::default());
    let mut states = Vec::new();
    let mut snapshot = |h: &mut KdHarness<K>| {
        let mut s = Vec::new();
        for room in [ROOM, OTHER] {
            for c in &mut h.clients {
                s.push((c.current(room).map(|(e, _)| e), c.state_len(room).unwrap()));
            }
        }
        states.push(s);
    };
    let founders: Vec<UserId> = (0..5).map(UserId).collect();
    h.create(ROOM, &founders, UserId(0), &mut r);
    snapshot(&mut h);
    h.change(
        ROOM,
        UserId(0),
        Change::Add(&[UserId(5), UserId(6)]),
        &mut r,
    );
    snapshot(&mut h);
    h.change(ROOM, UserId(1), Change::Remove(&[UserId(2)]), &mut r);
    snapshot(&mut h);
    h.change(ROOM, UserId(3), Change::Remove(&[]), &mut r);
    snapshot(&mut h);
    h.create(
        OTHER,
        &[UserId(2), UserId(9), UserId(10)],
        UserId(9),
        &mut r,
    );
    snapshot(&mut h);
    // Member 4 away for three changes, then its mailbox in order.
    h.hold_for = Some(UserId(4));
    h.change(ROOM, UserId(5), Change::Add(&[UserId(11)]), &mut r);
    h.change(ROOM, UserId(0), Change::Remove(&[]), &mut r);
    h.change(
        ROOM,
        UserId(6),
        Change::Add(&[UserId(12), UserId(13)]),
        &mut r,
    );
    h.hold_for = None;
    snapshot(&mut h);
    let roster = h.rosters[&ROOM].clone();
    let view = conclave_schemes::kd::Roster {
        room: ROOM,
        members: &roster,
    };
    for (from, msg) in std::mem::take(&mut h.held) {
        h.handle_by(UserId(4), &view, from, &msg, &mut r).unwrap();
    }
    snapshot(&mut h);
    h.rejoin(ROOM, UserId(1), UserId(3), &mut r);
    snapshot(&mut h);
    h.change(
        ROOM,
        UserId(12),
        Change::Remove(&[UserId(0), UserId(5), UserId(11)]),
        &mut r,
    );
    snapshot(&mut h);
    h.change(ROOM, UserId(4), Change::Remove(&[]), &mut r);
    snapshot(&mut h);
    h.agreed(ROOM);
    h.agreed(OTHER);
    h.observer = None;
    let wire = h.wire_log.take().unwrap();
    let calls = std::mem::take(&mut calls.borrow_mut().0);
    Trace {
        calls,
        wire,
        states,
    }
}

#[test]
fn the_model_sends_and_stores_what_mls_does() {
    for seed in [1, 2] {
        let real = flow::<Mls>(seed);
        let model = flow::<MlsModel>(seed);
        assert!(real.calls.len() > 50, "{}", real.calls.len());
        assert_eq!(real.calls, model.calls, "seed {seed}");
        assert_eq!(real.wire, model.wire, "seed {seed}");
        assert_eq!(real.states, model.states, "seed {seed}");
    }
}

#[test]
fn the_chacha_suite_model_sends_and_stores_what_mls_chacha_does() {
    let real = flow::<MlsWith<3>>(3);
    let model = flow::<MlsWith<3, IdealCrypto>>(3);
    assert_eq!(real, model);
}

/// The model passes the scheme's conformance suite: membership, exclusion, refusing tampered
/// messages, impersonation, a removed member overhearing, healing after an update.
#[test]
fn the_model_passes_the_key_distribution_conformance_suite() {
    let mut r = ChaCha20Rng::seed_from_u64(11);
    testing::kd_conformance::<MlsModel>(&mut r);
}

/// The model's names and claims are the scheme's, and its provider is the one the model's
/// clients are built on.
#[test]
fn the_model_is_registered_under_the_schemes_name() {
    assert_eq!(MlsModel::NAME, Mls::NAME);
    assert_eq!(MlsModel::PROPERTIES, Mls::PROPERTIES);
    let mut r = ChaCha20Rng::seed_from_u64(12);
    let entropy = conclave_schemes::kd::mls::provider::Entropy::new(&mut r);
    let _: IdealCrypto = MlsCrypto::from_entropy(entropy);
    let registry = conclave_schemes::registry::Registry::builtin();
    assert!(registry
        .modelled(conclave_schemes::registry::Family::KeyDistribution)
        .contains(&Mls::NAME));
}
