//! The wire-size formulas of `conventional`, `pairwise-dh`, `mkd` and `sakke` against the
//! schemes themselves: a seeded random run of creations, adds of one to three members,
//! removals of one to three and re-keys, in up to three rooms of 2 to 30 members, in which the
//! length of every message each change sends (client to key server, and key server to client)
//! must be exactly the formula's, as a multiset per direction; and, between changes, mkd's time
//! frames and sakke's key periods. None of the four rejoins a member or protects messages
//! itself, so there is nothing else to size.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions unwrap too

use std::collections::BTreeMap;

use conclave_schemes::kd::authority::two_orgs_org_of;
use conclave_schemes::kd::conventional::{self, Conventional};
use conclave_schemes::kd::mkd::sizes::{self, NewLinks};
use conclave_schemes::kd::mkd::{Message as MkdMessage, Mkd};
use conclave_schemes::kd::pairwise_dh::{self, PairwiseDh};
use conclave_schemes::kd::sakke::group::{self as sakke, Sakke, ISSUED_OCTETS};
use conclave_schemes::kd::{
    Change, KdAuthority, KdClient, KeyDistribution, Origin, Period, Roster, Traffic,
};
use conclave_schemes::testing::{KdHarness, WireLog};
use conclave_schemes::{Dest, Outbox, RoomId, UserId, Wire};
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;

/// One change of the run, as a formula sees it.
struct Step<'a> {
    room: RoomId,
    changer: UserId,
    change: Change<'a>,
    /// The roster before the change (empty for a creation).
    before: &'a [UserId],
    /// The roster after it.
    after: &'a [UserId],
}

/// Up to `rooms` rooms.
const ROOMS: u32 = 3;
/// The largest room the run makes.
const LARGEST: usize = 30;

fn pick(r: &mut ChaCha20Rng, n: usize) -> usize {
    (r.next_u32() as usize) % n
}

/// `k` distinct users drawn from `from`, sorted.
fn draw(r: &mut ChaCha20Rng, from: &[UserId], k: usize) -> Vec<UserId> {
    let mut pool = from.to_vec();
    let mut out: Vec<UserId> = (0..k).map(|_| pool.remove(pick(r, pool.len()))).collect();
    out.sort_unstable();
    out
}

/// Runs `steps` random changes on a harness of `users` users and checks each one's messages
/// against `formula`; `between` runs before every step (time frames, key periods), given the
/// step's number. Returns how many changes of each kind ran (creations, adds, removals,
/// re-keys) and the smallest and largest room after a change, so that a run can be seen to
/// cover them.
fn random_run<K: KeyDistribution>(
    seed: u64,
    users: u32,
    steps: usize,
    mut formula: impl FnMut(&Step<'_>) -> Traffic,
    mut between: impl FnMut(&mut KdHarness<K>, &mut ChaCha20Rng, usize),
) -> ([usize; 4], (usize, usize)) {
    let mut r = ChaCha20Rng::seed_from_u64(seed);
    let mut h = KdHarness::<K>::new(users, &mut r);
    let everyone: Vec<UserId> = (0..users).map(UserId).collect();
    let mut ran = [0; 4];
    let mut extent = (usize::MAX, 0);
    for step in 0..steps {
        between(&mut h, &mut r, step);
        let rooms: Vec<RoomId> = h.rosters.keys().copied().collect();
        let kind = if rooms.is_empty() { 0 } else { pick(&mut r, 6) };
        let (room, before, joiners, leavers) = if kind == 0 && rooms.len() < ROOMS as usize {
            // A large room, a small one, then one of any size.
            let size = match rooms.len() {
                0 => LARGEST - 5 + pick(&mut r, 6),
                1 => 2 + pick(&mut r, 2),
                _ => 2 + pick(&mut r, LARGEST - 1),
            };
            let room = RoomId(rooms.len() as u32 + 1);
            (room, Vec::new(), draw(&mut r, &everyone, size), Vec::new())
        } else {
            let room = rooms[pick(&mut r, rooms.len())];
            let before = h.rosters[&room].clone();
            let outsiders: Vec<UserId> = everyone
                .iter()
                .copied()
                .filter(|u| !before.contains(u))
                .collect();
            let room_to_grow = LARGEST - before.len();
            match kind {
                0 | 1 | 4 if room_to_grow > 0 && !outsiders.is_empty() => {
                    let k = 1 + pick(&mut r, 3.min(outsiders.len()).min(room_to_grow));
                    (room, before, draw(&mut r, &outsiders, k), Vec::new())
                }
                2 | 4 | 5 if before.len() > 2 => {
                    let k = 1 + pick(&mut r, 3.min(before.len() - 2));
                    let leaving = draw(&mut r, &before, k);
                    (room, before, Vec::new(), leaving)
                }
                _ => (room, before, Vec::new(), Vec::new()),
            }
        };
        let (change, after) = if before.is_empty() {
            (Change::Create, joiners.clone())
        } else if !joiners.is_empty() {
            let mut after = [before.clone(), joiners.clone()].concat();
            after.sort_unstable();
            (Change::Add(&joiners), after)
        } else {
            let after: Vec<UserId> = before
                .iter()
                .copied()
                .filter(|u| !leavers.contains(u))
                .collect();
            (Change::Remove(&leavers), after)
        };
        // The changer is a member both before and after the change (any member, on a creation).
        let stays: Vec<UserId> = after
            .iter()
            .copied()
            .filter(|u| before.is_empty() || before.contains(u))
            .collect();
        let changer = stays[pick(&mut r, stays.len())];
        let expected = formula(&Step {
            room,
            changer,
            change,
            before: &before,
            after: &after,
        });
        h.wire_log = Some(WireLog::default());
        if before.is_empty() {
            h.create(room, &after, changer, &mut r);
        } else {
            h.change(room, changer, change, &mut r);
        }
        assert_eq!(h.rosters[&room], after);
        h.agreed(room);
        let got = h.wire_log.take().unwrap().take_sorted();
        let (up, down) = expected.lengths();
        let what = format!(
            "{}, step {step}: {change:?} of {room:?} by {changer} ({} → {} members)",
            K::NAME,
            before.len(),
            after.len()
        );
        assert_eq!(got.0, up, "{what}: client → key server");
        assert_eq!(got.1, down, "{what}: key server → client");
        assert!(!up.is_empty() && !down.is_empty(), "{what}: nothing sent");
        extent = (extent.0.min(after.len()), extent.1.max(after.len()));
        ran[match change {
            Change::Create => 0,
            Change::Add(_) => 1,
            Change::Remove(gone) if !gone.is_empty() => 2,
            Change::Remove(_) => 3,
        }] += 1;
    }
    (ran, extent)
}

/// Every kind of change ran, in rooms from two or three members to 25 or more.
fn covered((ran, (smallest, largest)): ([usize; 4], (usize, usize))) {
    assert!(
        ran.iter().all(|n| *n > 0),
        "creations, adds, removals, re-keys: {ran:?}"
    );
    assert!(
        smallest <= 3 && largest >= 25,
        "rooms of {smallest} to {largest}"
    );
}

fn nothing_between<K: KeyDistribution>(_: &mut KdHarness<K>, _: &mut ChaCha20Rng, _: usize) {}

#[test]
fn conventional_messages_have_the_formulas_lengths() {
    let ran = random_run::<Conventional>(
        71,
        40,
        150,
        |s| conventional::change_traffic(s.after.len()),
        nothing_between,
    );
    covered(ran);
}

#[test]
fn pairwise_dh_messages_have_the_formulas_lengths() {
    let ran = random_run::<PairwiseDh>(
        72,
        40,
        150,
        |s| pairwise_dh::change_traffic(s.after.len()),
        nothing_between,
    );
    covered(ran);
}

/// Every mkd session's messages, with the ring the key server keeps tracked beside it (which
/// links are new decides the round-1 lengths), and at every tenth step a new time frame: each
/// user's credentials and each member's Update, checked and delivered.
#[test]
fn mkd_messages_have_the_formulas_lengths() {
    const USERS: u32 = 36;
    let mut rings: BTreeMap<RoomId, Vec<UserId>> = BTreeMap::new();
    let mut frames = 0;
    let formula = |s: &Step<'_>| {
        let before = rings.get(&s.room).cloned().unwrap_or_default();
        let after = sizes::ring_after(&before, s.after);
        let links = NewLinks::between(&before, &after);
        // The closed forms, where they apply, agree with the rings.
        match s.change {
            Change::Create => assert_eq!(links, NewLinks::dist(s.after.len())),
            Change::Add(joiners) => {
                assert_eq!(links, NewLinks::join(s.before.len(), joiners.len()));
            }
            Change::Remove([]) => assert_eq!(links, NewLinks::default()),
            Change::Remove(_) => {
                if adjacent_on_the_ring(&before, s.after) {
                    assert_eq!(links, NewLinks::leave_adjacent(s.after.len()));
                }
            }
        }
        rings.insert(s.room, after);
        sizes::session_traffic(s.after.len(), links)
    };
    let between = |h: &mut KdHarness<Mkd>, r: &mut ChaCha20Rng, step: usize| {
        if step % 10 != 9 || h.rosters.is_empty() {
            return;
        }
        let mut out = Outbox::new();
        h.server.new_time_frame(r, &mut out).unwrap();
        let sent: Vec<(UserId, MkdMessage)> = out
            .drain()
            .map(|(d, m)| match d {
                Dest::User(u) => (u, m),
                other => panic!("a time frame's message to {other:?}"),
            })
            .collect();
        let room_sizes: Vec<usize> = h.rosters.values().map(Vec::len).collect();
        let expected = sizes::time_frame_traffic(USERS as usize, &room_sizes);
        let mut got: Vec<usize> = sent.iter().map(|(_, m)| m.wire_len()).collect();
        got.sort_unstable();
        assert_eq!(
            (Vec::new(), got),
            expected.lengths(),
            "time frame at step {step}"
        );
        for (to, msg) in &sent {
            let room = match msg {
                MkdMessage::Update { room, .. } => *room,
                _ => RoomId(0),
            };
            let members = h.rosters.get(&room).cloned().unwrap_or_default();
            let roster = Roster {
                room,
                members: &members,
            };
            h.handle_by(*to, &roster, Origin::Server, msg, r).unwrap();
        }
        frames += 1;
    };
    let ran = random_run::<Mkd>(73, USERS, 60, formula, between);
    covered(ran);
    assert!(frames >= 5, "{frames} time frames");
}

/// Whether the members of `ring` that `members` drops sat next to each other (one run).
fn adjacent_on_the_ring(ring: &[UserId], members: &[UserId]) -> bool {
    let n = ring.len();
    let gone = |q: usize| !members.contains(&ring[q % n]);
    (0..n).filter(|&q| gone(q) && !gone(q + 1)).count() == 1
}

/// Every sakke change's I_MESSAGEs (their lengths vary with the digits of the sender's and the
/// recipient's ids), and at every twelfth step a new key period: each user's keys, checked
/// against [`ISSUED_OCTETS`] and installed, so that the run's later messages carry the next
/// period's identifiers.
#[test]
fn sakke_messages_have_the_formulas_lengths() {
    const USERS: u32 = 32;
    let mut period = 0;
    let between = |h: &mut KdHarness<Sakke>, r: &mut ChaCha20Rng, step: usize| {
        if step % 12 != 11 {
            return;
        }
        period += 1;
        for u in 0..USERS {
            let user = UserId(u);
            let org = usize::from(two_orgs_org_of(user).0);
            let issued = h.authorities[org].issue(user, Period(period), r).unwrap();
            assert_eq!(issued.wire_len(), ISSUED_OCTETS);
            h.clients[u as usize].renew(&issued, r).unwrap();
        }
    };
    let ran = random_run::<Sakke>(
        74,
        USERS,
        40,
        |s| sakke::change_traffic(s.changer, s.after, two_orgs_org_of),
        between,
    );
    covered(ran);
    assert!(period >= 3, "{period} key periods");
}

/// What the random runs cannot reach: rooms of one, and sakke's identifiers of long ids and
/// the KMSs of organisations of two digits and more.
#[test]
fn formulas_at_the_edges() {
    assert_eq!(pairwise_dh::change_traffic(1).messages(), (0, 0));
    assert_eq!(conventional::change_traffic(1).messages(), (1, 1));
    for user in [0, 9, 10, 99, 100, 12_345, u32::MAX] {
        let user = UserId(user);
        let id = sakke::identifier(sakke::KeyPeriod::MODEL_START, &sakke::user_uri(user));
        assert_eq!(sakke::identifier_len(user), id.unwrap().len(), "{user}");
    }
    for org in [0, 9, 10, 99, 100, u16::MAX] {
        let org = conclave_schemes::kd::OrgId(org);
        assert_eq!(sakke::kms_uri_len(org), sakke::kms_uri(org).len(), "{org}");
    }
}

/// mkd in a room of one (the member is its own neighbour on the ring, both its links new) and
/// of two (both links go to the same neighbour), as it grows and shrinks.
#[test]
fn mkd_rooms_of_one_and_two() {
    let mut r = ChaCha20Rng::seed_from_u64(75);
    let mut h = KdHarness::<Mkd>::new(4, &mut r);
    let room = RoomId(1);
    let mut check = |h: &mut KdHarness<Mkd>, change: Change<'_>, links: NewLinks| {
        h.wire_log = Some(WireLog::default());
        if matches!(change, Change::Create) {
            h.create(room, &[UserId(0)], UserId(0), &mut r);
        } else {
            h.change(room, UserId(0), change, &mut r);
        }
        h.agreed(room);
        let members = h.rosters[&room].len();
        let got = h.wire_log.take().unwrap().take_sorted();
        assert_eq!(
            got,
            sizes::session_traffic(members, links).lengths(),
            "{change:?}"
        );
    };
    check(&mut h, Change::Create, NewLinks::dist(1));
    check(&mut h, Change::Remove(&[]), NewLinks::default());
    check(&mut h, Change::Add(&[UserId(1)]), NewLinks::join(1, 1));
    check(&mut h, Change::Remove(&[]), NewLinks::default());
    check(
        &mut h,
        Change::Remove(&[UserId(1)]),
        NewLinks::leave_adjacent(1),
    );
    check(
        &mut h,
        Change::Add(&[UserId(2), UserId(3)]),
        NewLinks::join(1, 2),
    );
    check(
        &mut h,
        Change::Remove(&[UserId(3)]),
        NewLinks::leave_adjacent(2),
    );
    check(&mut h, Change::Add(&[UserId(1)]), NewLinks::join(2, 1));
}
