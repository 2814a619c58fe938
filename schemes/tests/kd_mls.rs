//! `mls` beyond the key-distribution conformance suite (which the registry runs): determinism
//! of the seeded provider, offline catch-up, the state blob, substituted key packages, healing
//! after a leak, and the commit and Welcome lengths of the tree-shape model.
#![allow(clippy::unwrap_used)]

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use conclave_schemes::kd::mls::shape::TreeShape;
use conclave_schemes::kd::mls::Mls;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

use conclave_schemes::kd::mls::Message;
use conclave_schemes::kd::{Change, Handled, KdClient, Roster};
use conclave_schemes::testing::KdHarness;
use conclave_schemes::{RoomId, SchemeError, UserId};

const ROOM: RoomId = RoomId(4);

/// Every change of a short history, by a fresh harness seeded with `seed`: the secrets agreed.
fn history(seed: u64) -> Vec<[u8; 32]> {
    let mut r = rng(seed);
    let mut h = KdHarness::<Mls>::with_room(8, ROOM, 5, &mut r);
    let mut secrets = vec![*h.agreed(ROOM).1.as_bytes()];
    h.change(
        ROOM,
        UserId(0),
        Change::Add(&[UserId(5), UserId(6)]),
        &mut r,
    );
    secrets.push(*h.agreed(ROOM).1.as_bytes());
    h.change(ROOM, UserId(1), Change::Remove(&[UserId(2)]), &mut r);
    secrets.push(*h.agreed(ROOM).1.as_bytes());
    h.change(ROOM, UserId(3), Change::Remove(&[]), &mut r);
    secrets.push(*h.agreed(ROOM).1.as_bytes());
    secrets
}

/// mls-rs draws all its randomness through the seeded provider: the same seed gives the same
/// secrets, another seed others.
#[test]
fn mls_is_deterministic_under_a_seeded_rng() {
    assert_eq!(history(5), history(5));
    let (a, b) = (history(5), history(6));
    assert!(a.iter().zip(&b).all(|(x, y)| x != y));
}

/// An add, a removal and an update of a room of 6 while member 4 is away: what was sent to it.
fn three_changes_while_4_is_away(
    h: &mut KdHarness<Mls>,
    r: &mut ChaCha20Rng,
) -> Vec<(conclave_schemes::Origin, Message)> {
    h.hold_for = Some(UserId(4));
    h.change(ROOM, UserId(0), Change::Add(&[UserId(6)]), r);
    h.change(ROOM, UserId(1), Change::Remove(&[UserId(2)]), r);
    h.change(ROOM, UserId(0), Change::Remove(&[]), r);
    h.hold_for = None;
    std::mem::take(&mut h.held)
}

/// An offline member's queued commits, applied in order at login, bring it to the room's
/// epoch; delivered in reverse, the later ones wait for the earlier and the result is the same.
#[test]
fn mls_offline_member_catches_up_in_order_or_reversed() {
    for reversed in [false, true] {
        let mut r = rng(8);
        let mut h = KdHarness::<Mls>::with_room(8, ROOM, 6, &mut r);
        let mut held = three_changes_while_4_is_away(&mut h, &mut r);
        assert_eq!(
            held.len(),
            3,
            "one commit per change for the offline member"
        );
        if reversed {
            held.reverse();
        }
        let roster = h.rosters[&ROOM].clone();
        let view = Roster {
            room: ROOM,
            members: &roster,
        };
        let mut last = Handled::Nothing;
        for (from, msg) in &held {
            last = h.handle_by(UserId(4), &view, *from, msg, &mut r).unwrap();
        }
        let (epoch, secret) = h.agreed(ROOM);
        assert_eq!(last, Handled::NewEpoch(epoch), "reversed: {reversed}");
        assert_eq!(h.clients[4].current(ROOM).unwrap().1, &secret);
    }
}

/// The login blob is the serialised group state: it grows with the room.
#[test]
fn mls_state_blob_grows_with_the_room() {
    let mut r = rng(9);
    let mut small = KdHarness::<Mls>::with_room(40, ROOM, 4, &mut r);
    let mut large = KdHarness::<Mls>::with_room(40, ROOM, 32, &mut r);
    let (s, l) = (
        small.clients[1].state_len(ROOM).unwrap(),
        large.clients[1].state_len(ROOM).unwrap(),
    );
    assert!(
        s > 0 && l > 4 * s,
        "blob of 4 members {s} B, of 32 members {l} B"
    );
}

/// A delivery service that hands the changer another user's key package (a leaf it could then
/// impersonate, or one of its own) is refused.
#[test]
fn mls_changer_refuses_a_substituted_key_package() {
    let mut r = rng(10);
    let mut h = KdHarness::<Mls>::with_room(8, ROOM, 4, &mut r);
    let mut other = None;
    h.tamper = Some(Box::new(move |m: &mut Message| match m {
        Message::KeyPackages { packages, .. } => {
            // Swap in the key package of the next user in line (user 5's for user 4).
            let stolen = other.get_or_insert_with(|| packages[0].1.clone());
            packages[0].0 = UserId(5);
            packages[0].1 = stolen.clone();
            true
        }
        _ => false,
    }));
    h.change(ROOM, UserId(0), Change::Add(&[UserId(4)]), &mut r);
    assert!(
        matches!(
            h.tamper_outcome.take(),
            Some(Err(SchemeError::Malformed(_) | SchemeError::Crypto))
        ),
        "a key package for another user than asked was used"
    );
}

/// A leaked member heals after its own update under MLS; the experiment is not vacuous: the
/// same experiment exposes schemes that hand every member the new secret under keys the leak
/// gave away (the conventional server's TLS channel, mkd's long-term secrets).
#[test]
fn mls_heals_a_leaked_member_and_the_experiment_can_tell() {
    use conclave_schemes::kd::compromise::leaked_member_updates;
    use conclave_schemes::kd::{conventional::Conventional, mkd::Mkd};
    let mut r = rng(12);
    let mls = leaked_member_updates::<Mls>(&mut r).unwrap();
    assert!(!mls.exposed(), "mls did not heal: {mls:?}");
    assert!(mls.copies > 0, "the copy was handed nothing");
    assert!(leaked_member_updates::<Conventional>(&mut r)
        .unwrap()
        .exposed());
    assert!(leaked_member_updates::<Mkd>(&mut r).unwrap().exposed());
}

/// A member whose queued commits expired is brought back by another member (its old leaf
/// replaced, a new Welcome): one new epoch every member, the rejoined one included, agrees on,
/// and the room goes on from there.
#[test]
fn mls_member_whose_commits_expired_rejoins() {
    let mut r = rng(12);
    let mut h = KdHarness::<Mls>::with_room(8, ROOM, 6, &mut r);
    // The commits queued for member 4 expire.
    assert_eq!(three_changes_while_4_is_away(&mut h, &mut r).len(), 3);
    let (behind, _) = h.clients[4].current(ROOM).unwrap();
    let before = h.clients[0].current(ROOM).unwrap().0;
    assert!(behind < before);
    h.rejoin(ROOM, UserId(1), UserId(4), &mut r);
    let (epoch, secret) = h.agreed(ROOM);
    assert_eq!(epoch.0, before.0 + 1, "the rejoin is the room's next epoch");
    // The rejoined member changes the room, and follows others' changes.
    h.change(ROOM, UserId(4), Change::Remove(&[UserId(3)]), &mut r);
    h.change(ROOM, UserId(0), Change::Add(&[UserId(7)]), &mut r);
    let (later, later_secret) = h.agreed(ROOM);
    assert_eq!(later.0, epoch.0 + 2);
    assert!(later_secret != secret);
}

/// A member added while offline whose Welcome expired is brought back the same way: its leaf,
/// whose Welcome was lost, is replaced.
#[test]
fn mls_member_whose_welcome_expired_rejoins() {
    let mut r = rng(13);
    let mut h = KdHarness::<Mls>::with_room(8, ROOM, 4, &mut r);
    h.hold_for = Some(UserId(5));
    h.change(ROOM, UserId(0), Change::Add(&[UserId(5)]), &mut r);
    h.hold_for = None;
    assert_eq!(h.held.len(), 1, "the Welcome");
    h.held.clear();
    assert!(h.clients[5].current(ROOM).is_none());
    h.rejoin(ROOM, UserId(2), UserId(5), &mut r);
    h.agreed(ROOM);
    h.change(ROOM, UserId(5), Change::Remove(&[]), &mut r);
    h.agreed(ROOM);
}

/// Only a member rejoins another member, not itself, and not while its own change is under way;
/// the delivery service refuses a rejoin of a non-member.
#[test]
fn mls_rejoin_is_refused_unless_member_for_member() {
    let mut r = rng(14);
    let mut h = KdHarness::<Mls>::with_room(8, ROOM, 4, &mut r);
    let roster = h.rosters[&ROOM].clone();
    let view = Roster {
        room: ROOM,
        members: &roster,
    };
    let mut out = conclave_schemes::Outbox::new();
    for (by, who) in [(6, 1), (1, 6), (1, 1)] {
        let refused =
            h.clients[by].rejoin(&view, UserId(who as u32), &h.directory, &mut r, &mut out);
        assert!(
            matches!(refused, Err(SchemeError::Misuse(_))),
            "{by} for {who}: {refused:?}"
        );
    }
    assert!(out.is_empty());
    h.clients[1]
        .rejoin(&view, UserId(2), &h.directory, &mut r, &mut out)
        .unwrap();
    let again = h.clients[1].rejoin(&view, UserId(3), &h.directory, &mut r, &mut out);
    assert!(matches!(again, Err(SchemeError::Misuse(_))), "{again:?}");
}

/// Every commit's and Welcome's length from [`TreeShape`], against those the scheme sends over a
/// random run of adds (one to four members), removals and updates of a room of up to 40.
#[test]
fn mls_commit_lengths_follow_the_tree_shape() {
    use rand_chacha::rand_core::RngCore;

    let users = 40u32;
    let mut r = rng(9);
    let (mut h, seen) = commit_watching_harness(users, &mut r);
    let founders: Vec<UserId> = (0..6).map(UserId).collect();
    h.create(ROOM, &founders, UserId(0), &mut r);
    let mut shape = TreeShape::new();
    let mut leaf_of: BTreeMap<UserId, u32> = BTreeMap::from([(UserId(0), 0)]);
    let created = shape.commit(0, &[], founders.len() - 1);
    assert_eq!(seen.borrow().welcomes, [created.welcome_len.unwrap(); 5]);
    leaf_of.extend(founders[1..].iter().copied().zip(created.added));
    for step in 0..150 {
        *seen.borrow_mut() = Sent::default();
        let members: Vec<UserId> = leaf_of.keys().copied().collect();
        let by = members[(r.next_u32() as usize) % members.len()];
        let outsiders: Vec<UserId> = (0..users)
            .map(UserId)
            .filter(|u| !leaf_of.contains_key(u))
            .collect();
        let committed = match r.next_u32() % 3 {
            0 if !outsiders.is_empty() => {
                let k = 1 + (r.next_u32() as usize) % 4.min(outsiders.len());
                let start = (r.next_u32() as usize) % (outsiders.len() - k + 1);
                let joiners = &outsiders[start..start + k];
                h.change(ROOM, by, Change::Add(joiners), &mut r);
                let c = shape.commit(leaf_of[&by], &[], k);
                leaf_of.extend(joiners.iter().copied().zip(c.added.iter().copied()));
                c
            }
            1 if members.len() > 3 => {
                let others: Vec<UserId> = members.iter().copied().filter(|u| *u != by).collect();
                let k = 1 + (r.next_u32() as usize) % 2;
                let start = (r.next_u32() as usize) % (others.len() - k + 1);
                let leaving = &others[start..start + k];
                h.change(ROOM, by, Change::Remove(leaving), &mut r);
                let leaves: Vec<u32> = leaving.iter().map(|u| leaf_of[u]).collect();
                for u in leaving {
                    leaf_of.remove(u);
                }
                shape.commit(leaf_of[&by], &leaves, 0)
            }
            _ => {
                h.change(ROOM, by, Change::Remove(&[]), &mut r);
                shape.commit(leaf_of[&by], &[], 0)
            }
        };
        assert_eq!(shape.members(), leaf_of.len());
        let sent = seen.borrow();
        assert_eq!(
            (sent.commits.first(), sent.welcomes.first()),
            (Some(&committed.commit_len), committed.welcome_len.as_ref()),
            "step {step}: commit by {by} ({} members)",
            leaf_of.len()
        );
        // One Welcome, the same for every joiner.
        assert!(sent.welcomes.windows(2).all(|w| w[0] == w[1]));
    }
}

/// A room created with 210 members, and an update in it: the Welcome's secrets and tree, and
/// the UpdatePath that encrypts to every other member (the parents are blank), are each more
/// than 16,383 octets, whose length prefixes take four.
#[test]
fn mls_lengths_with_four_octet_prefixes() {
    let mut r = rng(10);
    let (mut h, seen) = commit_watching_harness(210, &mut r);
    let founders: Vec<UserId> = (0..210).map(UserId).collect();
    h.create(ROOM, &founders, UserId(0), &mut r);
    let mut shape = TreeShape::new();
    let created = shape.commit(0, &[], founders.len() - 1);
    // The creation's Welcome too: its secrets and its tree are long enough for four-octet
    // prefixes.
    assert_eq!(seen.borrow().welcomes.first(), created.welcome_len.as_ref());
    assert!(created.welcome_len.unwrap() > 2 * (1 << 14));
    h.change(ROOM, UserId(1), Change::Remove(&[]), &mut r);
    let committed = shape.commit(1, &[], 0);
    assert!(committed.commit_len > conclave_schemes::kd::mls::shape::COMMIT_FIXED + (1 << 14));
    assert_eq!(seen.borrow().commits.first(), Some(&committed.commit_len));
}

/// Lengths of the commits and Welcomes members received.
#[derive(Default)]
struct Sent {
    commits: Vec<usize>,
    welcomes: Vec<usize>,
}

/// A harness of `users` whose commits and Welcomes, as members receive them, are logged.
fn commit_watching_harness(users: u32, r: &mut ChaCha20Rng) -> (KdHarness<Mls>, Rc<RefCell<Sent>>) {
    let mut h = KdHarness::<Mls>::new(users, r);
    let seen: Rc<RefCell<Sent>> = Rc::default();
    let log = Rc::clone(&seen);
    h.tamper = Some(Box::new(move |m: &mut Message| {
        match m {
            Message::Handshake { commit, .. } => log.borrow_mut().commits.push(commit.len()),
            Message::Welcome { welcome, .. } => log.borrow_mut().welcomes.push(welcome.len()),
            _ => {}
        }
        false
    }));
    (h, seen)
}
