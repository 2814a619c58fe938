//! The model of `pairwise-dh`: the real scheme's protocol code with ideal boxes, no X25519.
//!
//! # Source
//!
//! [`crate::kd::pairwise_dh`], which it stands for in the `model` cost mode (see
//! [`crate::model`]).
//!
//! # Construction
//!
//! [`PairwiseDhModel`] is [`PairwiseDhWith`] over the [`Ideal`] provider: the very client,
//! server and checks of the real scheme (its module is the one code for both), with each sealed
//! box an [`IdealBox`](super::ideal_kd::IdealBox) that carries the epoch secret in the clear with
//! the context the real box is bound to (scheme, room, epoch, joining flag, sender and recipient
//! and their static keys) and opens only for it. A replayed or redirected box is refused where
//! the real one is, with [`SchemeError::Crypto`](crate::SchemeError::Crypto). A credential
//! stands for a 32-byte X25519 public key.
//!
//! # Costs
//!
//! Per change, n − 1 messages of [`MESSAGE_LEN`](crate::kd::pairwise_dh::MESSAGE_LEN) bytes from
//! the changer, as the real scheme; a client holds
//! [`HELD_STATE_LEN`](crate::kd::held::HELD_STATE_LEN) bytes per room. No public-key work runs: a
//! run charges the real scheme's operations from the calibration table, under the real scheme's
//! name.
//!
//! # Security
//!
//! None of its own: the secret travels in the clear in memory. The relay's refusal of anything
//! addressed to it, the recipients' checks of roster, sender and epoch, and so who holds which
//! epoch, are the real scheme's code and stay checked by the oracle. What a model run does
//! **not** check: that a box hides its secret from the server and from removed members, and
//! that a tampered box is refused; both rest on cryptography that did not run. The bytes of a
//! message are not modelled: [`Wire::visit_bytes`](crate::Wire::visit_bytes) visits none, so the
//! servers' scans see nothing of it.
//!
//! # Weaknesses
//!
//! It sizes a box from [`SealedBox::OVERHEAD`](crate::kd::sealed_box::SealedBox::OVERHEAD); a
//! change of the box's encoding must change that constant, which the ideal provider's tests
//! check against the real box. Those of [`super::ideal_kd`].
//!
//! # Side channels
//!
//! Not applicable: nothing secret is computed.

use super::ideal_kd::Ideal;
use crate::kd::pairwise_dh::PairwiseDhWith;

/// The model of [`PairwiseDh`](crate::kd::pairwise_dh::PairwiseDh).
pub type PairwiseDhModel = PairwiseDhWith<Ideal>;

#[cfg(test)]
mod tests {
    use rand_chacha::rand_core::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    use super::*;
    use crate::kd::held::HELD_STATE_LEN;
    use crate::kd::pairwise_dh::{Message, MESSAGE_LEN};
    use crate::kd::{
        Change, DirectoryAuthority, Handled, KdAuthority, KdClient, KeyDistribution, OrgId, Origin,
        Roster,
    };
    use crate::{Dest, Epoch, Outbox, RoomId, SchemeError, UserId, Wire};

    type Client = <PairwiseDhModel as KeyDistribution>::Client;
    type Credential = <PairwiseDhModel as KeyDistribution>::Credential;

    /// Users `0..n` enrolled in one organisation: their clients and the directory.
    fn enrolled(n: u32, rng: &mut ChaCha20Rng) -> (Vec<Client>, Vec<Credential>) {
        let mut server = Default::default();
        let mut authority = DirectoryAuthority::new(OrgId(0), rng).unwrap();
        (0..n)
            .map(|u| PairwiseDhModel::enroll(&mut server, &mut authority, UserId(u), rng).unwrap())
            .unzip()
    }

    #[test]
    fn a_change_sends_each_other_member_one_message_of_the_real_length() {
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let (mut clients, directory) = enrolled(4, &mut rng);
        let members = [UserId(0), UserId(1), UserId(3)];
        let roster = Roster {
            room: RoomId(5),
            members: &members,
        };
        let mut out = Outbox::new();
        let h = clients[0]
            .change(&roster, &Change::Create, &directory, &mut rng, &mut out)
            .unwrap();
        assert_eq!(h, Handled::NewEpoch(Epoch(0)));
        let sent: Vec<(Dest, Message<Ideal>)> = out.drain().collect();
        assert_eq!(sent.len(), 2);
        for (dest, msg) in sent {
            assert_eq!(msg.wire_len(), MESSAGE_LEN);
            let Dest::User(to) = dest else {
                panic!("a message to {dest:?}")
            };
            let got = clients[to.0 as usize]
                .handle(
                    &roster,
                    Origin::User(UserId(0)),
                    &msg,
                    &directory,
                    &mut rng,
                    &mut Outbox::new(),
                )
                .unwrap();
            assert_eq!(got, Handled::NewEpoch(Epoch(0)));
            assert_eq!(
                clients[to.0 as usize].current(RoomId(5)),
                clients[0].current(RoomId(5))
            );
        }
        assert!(clients[2].current(RoomId(5)).is_none(), "not a member");
        assert_eq!(clients[1].state_len(RoomId(5)).unwrap(), HELD_STATE_LEN);
    }

    #[test]
    fn a_box_opens_only_for_the_room_and_recipient_it_was_sealed_for() {
        let mut rng = ChaCha20Rng::seed_from_u64(5);
        let (mut clients, directory) = enrolled(4, &mut rng);
        let members = [UserId(0), UserId(1), UserId(3)];
        let roster = |room| Roster {
            room,
            members: &members,
        };
        let mut out = Outbox::new();
        clients[0]
            .change(
                &roster(RoomId(5)),
                &Change::Create,
                &directory,
                &mut rng,
                &mut out,
            )
            .unwrap();
        let (_, to_1) = out
            .drain()
            .find(|(d, _)| *d == Dest::User(UserId(1)))
            .unwrap();
        let mut handle = |client: &mut Client, room| {
            client.handle(
                &roster(room),
                Origin::User(UserId(0)),
                &to_1,
                &directory,
                &mut rng,
                &mut Outbox::new(),
            )
        };
        let redirected = handle(&mut clients[3], RoomId(5));
        assert!(
            matches!(redirected, Err(SchemeError::Crypto)),
            "{redirected:?}"
        );
        let other_room = handle(&mut clients[1], RoomId(6));
        assert!(
            matches!(other_room, Err(SchemeError::Crypto)),
            "{other_room:?}"
        );
        assert!(clients[1].current(RoomId(6)).is_none());
        assert_eq!(
            handle(&mut clients[1], RoomId(5)).unwrap(),
            Handled::NewEpoch(Epoch(0))
        );
    }

    #[test]
    fn a_message_from_outside_the_roster_is_refused_as_the_real_client_refuses_it() {
        let mut rng = ChaCha20Rng::seed_from_u64(4);
        let (mut clients, directory) = enrolled(3, &mut rng);
        let members = [UserId(0), UserId(1)];
        let roster = Roster {
            room: RoomId(1),
            members: &members,
        };
        // User 2 seals to user 1 in a room of its own making; user 1's roster lacks user 2.
        let mut out = Outbox::new();
        clients[2]
            .change(
                &Roster {
                    room: RoomId(1),
                    members: &[UserId(1), UserId(2)],
                },
                &Change::Create,
                &directory,
                &mut rng,
                &mut out,
            )
            .unwrap();
        let (_, msg): (Dest, Message<Ideal>) = out.drain().next().unwrap();
        let r = clients[1].handle(
            &roster,
            Origin::User(UserId(2)),
            &msg,
            &directory,
            &mut rng,
            &mut Outbox::new(),
        );
        assert!(r.is_err(), "{r:?}");
        assert!(clients[1].current(RoomId(1)).is_none());
    }
}
