//! `pairwise-dh` and `sender-keys`: message counts per change, and Sender Keys' message layer
//! (their conformance suites run from the registry, in `conformance.rs`).
#![allow(clippy::unwrap_used)]

use conclave_schemes::kd::pairwise_dh::{self, PairwiseDh};
use conclave_schemes::kd::sender_keys::{self, SenderKeys, PROTECT_OVERHEAD};
use conclave_schemes::kd::{
    Change, Handled, KdClient, KeyDistribution, MessageLayer, Origin, Roster,
};
use conclave_schemes::testing::KdHarness;
use conclave_schemes::{Dest, Epoch, Misuse, Opened, Outbox, RoomId, SchemeError, UserId, Wire};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

fn users(range: std::ops::Range<u32>) -> Vec<UserId> {
    range.map(UserId).collect()
}

/// What `reader` reads of a message `sender` protected for `room`.
fn read(
    h: &mut KdHarness<SenderKeys>,
    reader: usize,
    room: RoomId,
    sender: UserId,
    protected: &[u8],
) -> Vec<u8> {
    let opened = h.clients[reader].unprotect(room, sender, protected);
    opened.unwrap().plaintext().unwrap()
}

/// In a harness of 12 users, user 0 creates `room` with users 0 to 7, user 1 adds user 8 and
/// user 0 removes `removed`, each change run to agreement: the harness, and how many messages
/// each change delivered.
fn create_join_leave<K: KeyDistribution>(
    room: RoomId,
    removed: &[UserId],
    rng: &mut ChaCha20Rng,
) -> (KdHarness<K>, [usize; 3]) {
    let mut h = KdHarness::<K>::new(12, rng);
    h.rosters.insert(room, users(0..8));
    let changes = [
        (UserId(0), Change::Create),
        (UserId(1), Change::Add(&[UserId(8)])),
        (UserId(0), Change::Remove(removed)),
    ];
    let delivered = changes.map(|(by, change)| {
        let before = h.delivered;
        h.change(room, by, change, rng);
        h.agreed(room);
        h.delivered - before
    });
    (h, delivered)
}

#[test]
fn pairwise_dh_changer_sends_one_box_per_other_member() {
    let mut r = rng(7);
    let room = RoomId(1);
    let removed = [UserId(3), UserId(4)];
    let (mut h, delivered) = create_join_leave::<PairwiseDh>(room, &removed, &mut r);
    // n - 1 boxes for n = 8 after the creation, 9 after the join and 7 after the removal.
    assert_eq!(delivered, [7, 8, 6]);

    // Directly: the outbox of `change` holds n - 1 boxes, one per other member, and nothing for
    // the server; the changer holds the new epoch at once.
    let roster = h.rosters[&room].clone();
    let view = Roster {
        room,
        members: &roster,
    };
    let mut out = Outbox::new();
    let handled = h.clients[0]
        .change(&view, &Change::Remove(&[]), &h.directory, &mut r, &mut out)
        .unwrap();
    assert_eq!(handled, Handled::NewEpoch(Epoch(3)));
    let dests: Vec<Dest> = out
        .drain()
        .map(|(d, m)| {
            assert_eq!(m.wire_len(), pairwise_dh::MESSAGE_LEN);
            d
        })
        .collect();
    let expected: Vec<Dest> = roster
        .iter()
        .filter(|u| **u != UserId(0))
        .map(|u| Dest::User(*u))
        .collect();
    assert_eq!(dests, expected);
}

#[test]
fn sender_keys_costs_per_change() {
    let mut r = rng(8);
    let room = RoomId(1);
    let (mut h, delivered) = create_join_leave::<SenderKeys>(room, &[UserId(3)], &mut r);
    // Creation: every member sends its sender key to every other member: n(n - 1), n = 8.
    // One join (n = 9 after): 2(n - 1) sender-key boxes and n - 2 boxes with only the secret.
    // One leave (n = 8 after): every remaining member rotates: n(n - 1).
    assert_eq!(delivered, [8 * 7, 2 * 8 + 7, 8 * 7]);
    // Distribution is complete: everyone holds everyone's current sender key, rotated at the
    // leave's epoch.
    let members = h.rosters[&room].clone();
    for &a in &members {
        let own = h.clients[a.0 as usize].own_sender_key(room);
        assert_eq!(own, Some(Epoch(2)));
        for &b in &members {
            assert_eq!(h.clients[b.0 as usize].latest_sender_key(room, a), own);
        }
    }
    // State grows with the sender keys kept for re-reading.
    let len = h.clients[0].state_len(room).unwrap();
    assert!(len >= 40 + 76 + 8 * sender_keys::SENDER_KEY_STATE, "{len}");
}

#[test]
fn sender_keys_protect_round_trip_and_rereading() {
    let mut r = rng(9);
    let room = RoomId(2);
    let mut h = KdHarness::<SenderKeys>::with_room(6, room, 4, &mut r);
    let mut sent = Vec::new();
    for i in 0..5u32 {
        let from = UserId(i % 4);
        let body = format!("message {i} from {from}");
        let p = h.clients[from.0 as usize]
            .protect(room, body.as_bytes(), &mut r)
            .unwrap();
        assert_eq!(p.len(), body.len() + PROTECT_OVERHEAD);
        sent.push((from, body, p));
    }
    // Every member (senders included) reads every message, twice, in reverse order.
    for _ in 0..2 {
        for (from, body, p) in sent.iter().rev() {
            for reader in 0..4 {
                let got = read(&mut h, reader, room, *from, p);
                assert_eq!(got, body.as_bytes());
            }
        }
    }
    // A non-member has no key for it.
    assert!(h.clients[5].unprotect(room, sent[0].0, &sent[0].2).is_err());
    // The wrong claimed sender does not verify.
    assert_eq!(
        h.clients[2].unprotect(room, UserId(3), &sent[0].2),
        Err(SchemeError::Crypto)
    );
}

/// Sender Keys among 6 users, `room` created by user 0 with users `0..founders`: user 1
/// protects "before", user 0 makes `change`, and user 1 protects `after`.
fn around_a_change(
    room: RoomId,
    founders: u32,
    change: Change<'_>,
    after: &[u8],
    r: &mut ChaCha20Rng,
) -> (KdHarness<SenderKeys>, Vec<u8>, Vec<u8>) {
    let mut h = KdHarness::<SenderKeys>::with_room(6, room, founders, r);
    let before = h.clients[1].protect(room, b"before", r).unwrap();
    h.change(room, UserId(0), change, r);
    let after = h.clients[1].protect(room, after, r).unwrap();
    (h, before, after)
}

#[test]
fn sender_keys_joiner_cannot_read_earlier_messages() {
    let room = RoomId(3);
    let add = Change::Add(&[UserId(4)]);
    let (mut h, before, after) = around_a_change(room, 3, add, b"after", &mut rng(10));
    assert_eq!(
        h.clients[4].unprotect(room, UserId(1), &before),
        Err(SchemeError::Crypto)
    );
    assert_eq!(read(&mut h, 4, room, UserId(1), &after), b"after");
    // Old members still read both.
    assert_eq!(read(&mut h, 2, room, UserId(1), &before), b"before");
}

#[test]
fn sender_keys_removed_member_cannot_read_after_leave() {
    let room = RoomId(4);
    let remove = Change::Remove(&[UserId(3)]);
    let (mut h, before, after) = around_a_change(room, 5, remove, b"after the leave", &mut rng(11));
    // What the removed member kept still reads what it was sent before...
    assert_eq!(read(&mut h, 3, room, UserId(1), &before), b"before");
    // ...but not what was sent after: the sender rotated.
    assert_eq!(
        h.clients[3].unprotect(room, UserId(1), &after),
        Ok(Opened::Pending {
            waiting_for: Epoch(1)
        })
    );
    // Remaining members read both (re-reading the pre-leave key kept for history).
    for reader in [0usize, 2, 4] {
        assert_eq!(
            read(&mut h, reader, room, UserId(1), &after),
            b"after the leave"
        );
        assert_eq!(read(&mut h, reader, room, UserId(1), &before), b"before");
    }
}

#[test]
fn sender_keys_rejects_tampered_and_forged_messages() {
    let mut r = rng(12);
    let room = RoomId(5);
    let mut h = KdHarness::<SenderKeys>::with_room(4, room, 3, &mut r);
    let p = h.clients[0].protect(room, b"genuine", &mut r).unwrap();
    let other = h.clients[0].protect(room, b"another", &mut r).unwrap();
    let n = p.len();
    // Tampered key id, iteration (low byte; a high one is out of range, below), ciphertext or
    // signature.
    for i in [0usize, 7, 11, 12, n - 65, n - 64, n - 1] {
        let mut bad = p.clone();
        bad[i] ^= 1;
        let outcome = h.clients[1].unprotect(room, UserId(0), &bad);
        // A tampered key id names a sender key the reader does not hold: it cannot tell that
        // from a key still on its way, and it does not open.
        if i < 8 {
            assert!(matches!(outcome, Ok(Opened::Pending { .. })), "byte {i}");
        } else {
            assert_eq!(outcome, Err(SchemeError::Crypto), "byte {i}");
        }
    }
    // A signature from another message.
    let mut spliced = p.clone();
    spliced[n - 64..].copy_from_slice(&other[other.len() - 64..]);
    assert_eq!(
        h.clients[1].unprotect(room, UserId(0), &spliced),
        Err(SchemeError::Crypto)
    );
    // A signature by another member's key over the same bytes: re-sign with user 1's key is not
    // possible from outside, so forge with an all-zero signature (rejected by strict verification).
    let mut zero = p.clone();
    zero[n - 64..].fill(0);
    assert_eq!(
        h.clients[1].unprotect(room, UserId(0), &zero),
        Err(SchemeError::Crypto)
    );
    // Bad lengths are malformed, not crashes.
    for len in [0usize, 1, 12, PROTECT_OVERHEAD - 1] {
        assert!(matches!(
            h.clients[1].unprotect(room, UserId(0), &p[..len]),
            Err(SchemeError::Malformed(_))
        ));
    }
    // An iteration beyond the limit is malformed.
    let mut far = p.clone();
    far[8..12].copy_from_slice(&u32::MAX.to_be_bytes());
    assert!(matches!(
        h.clients[1].unprotect(room, UserId(0), &far),
        Err(SchemeError::Malformed(_))
    ));
    // The genuine message still reads.
    assert_eq!(read(&mut h, 1, room, UserId(0), &p), b"genuine");
}

/// A user outside the roster makes boxes for a room as if it were a member (it runs `change` on
/// a roster of its own that includes it); the members reject them.
fn non_member_rejected<K: KeyDistribution>(seed: u64) {
    let mut r = rng(seed);
    let room = RoomId(6);
    let mut h = KdHarness::<K>::with_room(5, room, 3, &mut r);
    let intruder = UserId(4);
    let fake = [UserId(0), UserId(1), UserId(2), intruder];
    let fake_view = Roster {
        room,
        members: &fake,
    };
    let mut out = Outbox::new();
    // The intruder creates "the" room in its own state, so it can make boxes at epoch 0 or 1.
    h.clients[intruder.0 as usize]
        .change(&fake_view, &Change::Create, &h.directory, &mut r, &mut out)
        .unwrap();
    let real = h.rosters[&room].clone();
    let view = Roster {
        room,
        members: &real,
    };
    let mut rejected = 0;
    for (dest, msg) in out.drain() {
        let Dest::User(to) = dest else {
            panic!("boxes go to users")
        };
        let res = h.handle_by(to, &view, Origin::User(intruder), &msg, &mut r);
        assert!(
            matches!(
                res,
                Err(SchemeError::Misuse(Misuse::NotAMember { user, .. })) if user == intruder
            ),
            "{res:?}"
        );
        rejected += 1;
    }
    assert_eq!(rejected, 3);
    // The members still agree on epoch 0.
    assert_eq!(h.agreed(room).0, Epoch(0));
    // The server relays only.
    let mut out = h
        .change_by(UserId(0), &view, &Change::Remove(&[]), &mut r)
        .unwrap();
    let (_, msg) = out.drain().next().unwrap();
    use conclave_schemes::kd::KdServer;
    assert!(matches!(
        h.server
            .handle(&view, UserId(0), msg, &mut r, &mut Outbox::new()),
        Err(SchemeError::Misuse(Misuse::UnexpectedMessage(_)))
    ));
    assert!(h.server.known_epoch_secret(room).is_none());
}

#[test]
fn pairwise_dh_rejects_non_member() {
    non_member_rejected::<PairwiseDh>(13);
}

#[test]
fn sender_keys_rejects_non_member() {
    non_member_rejected::<SenderKeys>(14);
}

#[test]
fn pairwise_dh_rejects_wrong_epoch_and_origin() {
    let mut r = rng(15);
    let room = RoomId(8);
    let mut h = KdHarness::<PairwiseDh>::with_room(4, room, 4, &mut r);
    let roster = h.rosters[&room].clone();
    let view = Roster {
        room,
        members: &roster,
    };
    // A box is accepted once; its replay is a stale epoch.
    let mut first = h
        .change_by(UserId(0), &view, &Change::Remove(&[]), &mut r)
        .unwrap();
    let (_, to_one) = first.drain().next().unwrap();
    assert_eq!(to_one.epoch(), Epoch(1));
    let handled = h
        .handle_by(UserId(1), &view, Origin::User(UserId(0)), &to_one, &mut r)
        .unwrap();
    assert_eq!(handled, Handled::NewEpoch(Epoch(1)));
    assert_eq!(
        h.handle_by(UserId(1), &view, Origin::User(UserId(0)), &to_one, &mut r),
        Ok(Handled::Stale)
    );
    // The next box (epoch 2) relayed as if from another member does not open, and clients take
    // nothing from the server.
    let mut second = h
        .change_by(UserId(0), &view, &Change::Remove(&[]), &mut r)
        .unwrap();
    let (_, to_one_again) = second.drain().next().unwrap();
    assert_eq!(
        h.handle_by(
            UserId(1),
            &view,
            Origin::User(UserId(3)),
            &to_one_again,
            &mut r
        ),
        Err(SchemeError::Crypto)
    );
    assert!(matches!(
        h.handle_by(UserId(1), &view, Origin::Server, &to_one_again, &mut r),
        Err(SchemeError::Misuse(Misuse::UnexpectedMessage(_)))
    ));
}

/// A joiner's sender key can reach an offline member only after the joiner was removed again;
/// the member still needs it for what the joiner sent while in the room.
#[test]
fn sender_keys_accepts_a_removed_members_earlier_sender_key() {
    let mut r = rng(21);
    let room = RoomId(7);
    let mut h = KdHarness::<SenderKeys>::with_room(4, room, 3, &mut r);
    let joiner = UserId(3);
    let with_joiner = users(0..4);
    let view = Roster {
        room,
        members: &with_joiner,
    };
    // User 0 adds the joiner; every kick is handled except that the joiner's own sender key
    // never reaches user 1 (offline) yet.
    let mut out = h
        .change_by(UserId(0), &view, &Change::Add(&[joiner]), &mut r)
        .unwrap();
    let mut queue: Vec<(UserId, UserId, sender_keys::Message)> = out
        .drain()
        .map(|(d, m)| match d {
            Dest::User(to) => (UserId(0), to, m),
            _ => panic!("boxes go to users"),
        })
        .collect();
    let mut held_back = Vec::new();
    while let Some((from, to, msg)) = queue.pop() {
        if from == joiner && to == UserId(1) {
            held_back.push(msg);
            continue;
        }
        let mut out = Outbox::new();
        h.clients[to.0 as usize]
            .handle(
                &view,
                Origin::User(from),
                &msg,
                &h.directory,
                &mut r,
                &mut out,
            )
            .unwrap();
        for (d, m) in out.drain() {
            let Dest::User(next) = d else {
                panic!("boxes go to users")
            };
            queue.push((to, next, m));
        }
    }
    assert_eq!(held_back.len(), 1);
    let sent = h.clients[3]
        .protect(room, b"hello from the joiner", &mut r)
        .unwrap();
    // The joiner is removed; user 1 sees the later roster when the held-back box arrives,
    // while it still holds the join's epoch.
    let after = users(0..3);
    let later = Roster {
        room,
        members: &after,
    };
    assert_eq!(h.clients[1].current(room).map(|(e, _)| e), Some(Epoch(1)));
    h.handle_by(
        UserId(1),
        &later,
        Origin::User(joiner),
        &held_back[0],
        &mut r,
    )
    .unwrap();
    assert_eq!(
        read(&mut h, 1, room, joiner, &sent),
        b"hello from the joiner"
    );
}
