//! Exact wire lengths of DMKD's messages, and which of them a change, one member's part in a
//! session, and a time frame send: the table of the module's costs as code, built from the
//! fields' sizes.
//!
//! Only two lengths vary: a member's round-1 message carries its fresh DH share if one of its
//! ring links is new, and the key server's round-1 reply relays one share per new link of its
//! recipient. Which links are new follows from the ring before and after the change
//! ([`ring_after`], [`NewLinks::between`]); the closed forms [`NewLinks::dist`],
//! [`NewLinks::join`] and [`NewLinks::leave_adjacent`] give it from the counts alone for a
//! creation, an add and a removal of members that sat next to each other on the ring (a single
//! member, for one).

use super::message::{ATTEMPT, EPOCH, KIND};
use super::prf::{TAG_LEN, V_LEN};
use super::{ibe, P};
use crate::kd::sealed_box::SealedBox;
use crate::kd::Traffic;
use crate::UserId;

/// Bytes of the presence marker of an optional DH share.
const OPTION: usize = 1;
/// Bytes of a time frame.
const FRAME: usize = 8;
/// Bytes of a user id.
const USER: usize = 4;
/// Bytes of a room id.
const ROOM: usize = 4;
/// Bytes of the change kind of a request.
const CHANGE_KIND: usize = 1;
/// Bytes of a seat's three flags (new left link, new right link, representative), one octet.
const SEAT_FLAGS: usize = 1;
/// Bytes of the session id `sid`.
const SID: usize = 32;
/// Bytes of `k_j` and of `k'`.
const K: usize = 32;
/// Bytes of the per-frame MAC key `mk` shared with the key server.
const MAC_KEY: usize = 32;

/// Bytes of a [`Request`](super::Message::Request) (changer → key server): kind, change kind, MAC.
pub const REQUEST_LEN: usize = KIND + CHANGE_KIND + TAG_LEN;

/// Bytes of a [`Begin`](super::Message::Begin) (key server → each member): epoch, attempt, frame,
/// both neighbours, the seat's flags, MAC.
pub const BEGIN_LEN: usize = KIND + EPOCH + ATTEMPT + FRAME + 2 * USER + SEAT_FLAGS + TAG_LEN;

/// Bytes of a member's [`Round1`](super::Message::Round1) (member → key server) when `new_links`
/// (0, 1 or 2) of its two ring links are new: its commitment, and its fresh DH share if any link is
/// new.
#[must_use]
pub const fn round1_len(new_links: usize) -> usize {
    let share = if new_links > 0 { P } else { 0 };
    KIND + EPOCH + ATTEMPT + OPTION + share + P + TAG_LEN
}

/// Bytes of the key server's [`Round1Reply`](super::Message::Round1Reply) to a member `new_links`
/// (0, 1 or 2) of whose links are new: `sid` and the neighbour's share for each new link (in a ring
/// of two, both links go to the same neighbour, whose share is then relayed twice).
#[must_use]
pub const fn round1_reply_len(new_links: usize) -> usize {
    KIND + EPOCH + SID + 2 * OPTION + new_links * P + TAG_LEN
}

/// Bytes of a [`Round2`](super::Message::Round2) (member other than the representative → key
/// server): the opening `(k_j, s_j)`, `T_j`, MAC.
pub const ROUND2_LEN: usize = KIND + EPOCH + ATTEMPT + K + P + V_LEN + TAG_LEN;

/// Bytes of the representative's [`Round2Rep`](super::Message::Round2Rep) (→ key server): `T_1`,
/// `T'`, MAC.
pub const ROUND2_REP_LEN: usize = KIND + EPOCH + ATTEMPT + 2 * V_LEN + TAG_LEN;

/// Bytes of a [`Final`](super::Message::Final) (key server → each member but the representative):
/// `c_1`, `k'`, `T'_j`, `T'`, `K_1` under IBE, MAC.
pub const FINAL_LEN: usize = KIND + EPOCH + P + K + 2 * V_LEN + ibe::CIPHERTEXT_LEN + TAG_LEN;

/// Bytes of the representative's [`FinalRep`](super::Message::FinalRep) (key server →): `k'`, `K_1`
/// under IBE, MAC.
pub const FINAL_REP_LEN: usize = KIND + EPOCH + K + ibe::CIPHERTEXT_LEN + TAG_LEN;

/// Bytes of a time frame's [`Credentials`](super::Message::Credentials) (key server → each enrolled
/// user): the frame and the sealed IBE key for `user ‖ frame` and MAC key. The first frame's are
/// sealed the same way but handed over at enrolment, not sent.
pub const CREDENTIALS_LEN: usize = KIND + FRAME + SealedBox::OVERHEAD + ibe::USER_KEY_LEN + MAC_KEY;

/// Bytes of a time frame's [`Update`](super::Message::Update) (key server → each member of each
/// room): room, epoch, frame, `K_1^(t)` under IBE, MAC.
pub const UPDATE_LEN: usize = KIND + ROOM + EPOCH + FRAME + ibe::CIPHERTEXT_LEN + TAG_LEN;

/// The key server's ring for a room after a change: the members of `ring` (the ring of the
/// room's last change, empty for a creation) that `members` (the roster after the change)
/// keeps, in their order, then the members new to the ring in the roster's order.
#[must_use]
pub fn ring_after(ring: &[UserId], members: &[UserId]) -> Vec<UserId> {
    let mut after: Vec<UserId> = ring
        .iter()
        .copied()
        .filter(|u| members.contains(u))
        .collect();
    let kept = after.clone();
    after.extend(members.iter().copied().filter(|u| !kept.contains(u)));
    after
}

/// How many members of a session's ring have one, or both, of their ring links new (a fresh
/// DH with that neighbour, not a link kept from the room's last change); the others have none.
/// It decides the lengths of the round-1 messages and replies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NewLinks {
    /// Members with exactly one new link.
    pub one: usize,
    /// Members both of whose links are new.
    pub both: usize,
}

impl NewLinks {
    /// A creation (Dist) of a room of `members`: every link is new.
    #[must_use]
    pub const fn dist(members: usize) -> Self {
        Self {
            one: 0,
            both: members,
        }
    }

    /// An add (Join) of `joiners` to a room of `existing` members: the joiners sit between the
    /// last and the first member of the ring, so the joiners' links and the two links of those
    /// two are new (both of the one member's, in a room of one).
    #[must_use]
    pub const fn join(existing: usize, joiners: usize) -> Self {
        match (existing, joiners) {
            (_, 0) => Self { one: 0, both: 0 },
            (0 | 1, _) => Self::dist(existing + joiners),
            _ => Self {
                one: 2,
                both: joiners,
            },
        }
    }

    /// A removal (Leave) of members that sat next to each other on the ring, for example a
    /// single member, leaving `remaining` members: one new link joins the leavers' former
    /// neighbours (a member left alone links to itself, both its links new).
    #[must_use]
    pub const fn leave_adjacent(remaining: usize) -> Self {
        match remaining {
            0 => Self { one: 0, both: 0 },
            1 => Self::dist(1),
            _ => Self { one: 2, both: 0 },
        }
    }

    /// The new links of a session whose ring is `after`, when the room's last change left the
    /// ring `before` (empty for a creation): a link of `after` is new unless its two ends were
    /// neighbours, in the same order, in `before`.
    #[must_use]
    pub fn between(before: &[UserId], after: &[UserId]) -> Self {
        let held = |from: UserId, to: UserId| {
            before
                .iter()
                .position(|u| *u == from)
                .is_some_and(|p| before[(p + 1) % before.len()] == to)
        };
        let n = after.len();
        let new_right: Vec<bool> = (0..n)
            .map(|q| !held(after[q], after[(q + 1) % n]))
            .collect();
        let mut links = Self::default();
        for q in 0..n {
            match (new_right[(q + n - 1) % n], new_right[q]) {
                (true, true) => links.both += 1,
                (true, false) | (false, true) => links.one += 1,
                (false, false) => {}
            }
        }
        links
    }

    /// Members that send a fresh DH share in round 1 (those with a new link).
    #[must_use]
    pub const fn sharing(&self) -> usize {
        self.one + self.both
    }
}

/// What one member sends and receives in a session in which `new_links` (0, 1 or 2) of its
/// links are new, as the `representative` or not: it takes part only by these messages, so a
/// session's cost for the members that were online is the sum over them (the changer also
/// sends the [`REQUEST_LEN`] request that starts it).
#[must_use]
pub fn member_traffic(new_links: usize, representative: bool) -> Traffic {
    let (round2, last) = if representative {
        (ROUND2_REP_LEN, FINAL_REP_LEN)
    } else {
        (ROUND2_LEN, FINAL_LEN)
    };
    Traffic {
        up: vec![(1, round1_len(new_links)), (1, round2)],
        down: vec![(1, BEGIN_LEN), (1, round1_reply_len(new_links)), (1, last)],
    }
}

/// The messages of a change (creation, add or removal) of a room of `members` after it whose ring
/// has `links` new, every member online: the changer's request, each member's two round messages
/// (one member is the representative), and the key server's [`Begin`](super::Message::Begin),
/// round-1 reply and final message to each member.
#[must_use]
pub fn session_traffic(members: usize, links: NewLinks) -> Traffic {
    let none = members.saturating_sub(links.sharing());
    let others = members.saturating_sub(1);
    let rep = usize::from(members > 0);
    Traffic {
        up: vec![
            (1, REQUEST_LEN),
            (links.sharing(), round1_len(1)),
            (none, round1_len(0)),
            (others, ROUND2_LEN),
            (rep, ROUND2_REP_LEN),
        ],
        down: vec![
            (members, BEGIN_LEN),
            (none, round1_reply_len(0)),
            (links.one, round1_reply_len(1)),
            (links.both, round1_reply_len(2)),
            (others, FINAL_LEN),
            (rep, FINAL_REP_LEN),
        ],
    }
}

/// The messages of a new time frame ([`super::Server::new_time_frame`]) with `users` enrolled
/// users and rooms of `room_sizes` members: each user's credentials, then each room member's
/// Update. Members send nothing back.
#[must_use]
pub fn time_frame_traffic(users: usize, room_sizes: &[usize]) -> Traffic {
    Traffic {
        up: Vec::new(),
        down: vec![
            (users, CREDENTIALS_LEN),
            (room_sizes.iter().sum(), UPDATE_LEN),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(r: std::ops::Range<u32>) -> Vec<UserId> {
        r.map(UserId).collect()
    }

    /// The table of the module's costs.
    #[test]
    fn the_lengths_of_the_cost_table() {
        assert_eq!(REQUEST_LEN, 34);
        assert_eq!(BEGIN_LEN, 62);
        assert_eq!(
            (round1_len(0), round1_len(1), round1_len(2)),
            (78, 110, 110)
        );
        assert_eq!(
            (
                round1_reply_len(0),
                round1_reply_len(1),
                round1_reply_len(2)
            ),
            (75, 107, 139)
        );
        assert_eq!((ROUND2_LEN, ROUND2_REP_LEN), (173, 173));
        assert_eq!((FINAL_LEN, FINAL_REP_LEN), (329, 169));
        assert_eq!((CREDENTIALS_LEN, UPDATE_LEN), (185, 149));
    }

    /// The closed forms agree with the links counted from the rings.
    #[test]
    fn closed_forms_agree_with_the_rings() {
        for n in 1..12 {
            assert_eq!(
                NewLinks::between(&[], &ids(0..n)),
                NewLinks::dist(n as usize)
            );
            for k in 0..4 {
                let before = ids(0..n);
                let after = ring_after(&before, &ids(0..n + k));
                assert_eq!(
                    NewLinks::between(&before, &after),
                    NewLinks::join(n as usize, k as usize),
                    "{n} + {k}"
                );
            }
            for start in 0..n {
                for run in 1..n {
                    let before = ids(0..n);
                    let leaving: Vec<UserId> = (0..run).map(|d| UserId((start + d) % n)).collect();
                    let members: Vec<UserId> = ids(0..n)
                        .into_iter()
                        .filter(|u| !leaving.contains(u))
                        .collect();
                    let after = ring_after(&before, &members);
                    assert_eq!(
                        NewLinks::between(&before, &after),
                        NewLinks::leave_adjacent((n - run) as usize),
                        "{n} - {run} from {start}"
                    );
                }
            }
        }
    }

    /// A session is the sum of its members' parts and the changer's request.
    #[test]
    fn a_session_is_its_members_parts() {
        let before = ids(0..9);
        let after = ring_after(&before, &[0, 1, 3, 4, 6, 7, 8].map(UserId));
        let links = NewLinks::between(&before, &after);
        assert_eq!(links, NewLinks { one: 4, both: 0 });
        let mut parts = Traffic {
            up: vec![(1, REQUEST_LEN)],
            down: Vec::new(),
        };
        for (new, count) in [(0, 3), (1, 4)] {
            for i in 0..count {
                let m = member_traffic(new, new == 0 && i == 0);
                parts.up.extend(m.up);
                parts.down.extend(m.down);
            }
        }
        assert_eq!(parts.lengths(), session_traffic(7, links).lengths());
    }
}
