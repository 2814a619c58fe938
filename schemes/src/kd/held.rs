//! What the key-distribution schemes that hand each member a fresh epoch secret share: the
//! secret a client holds per room, the epoch a change makes, and which messages a member takes.
//!
//! `pairwise-dh` and `sakke` send the changer's fresh secret to each member (a sealed box, a
//! SAKKE I_MESSAGE); `sender-keys` and `conventional` use the parts that fit them. The rules
//! live here once, so a fix reaches every scheme:
//!
//! * only a member changes a room; a creation makes epoch 0 of a room the changer does not
//!   hold, any other change the epoch after the one it holds ([`planned_change`]);
//! * a member takes a secret only from another member on the roster, and a message that reaches
//!   a user no longer on it is stale ([`member_sender`]);
//! * a member takes only the epoch after the one it holds; a joiner (or the member of a new
//!   room) takes any later epoch ([`HeldSecrets::takes`]).

use litemap::LiteMap;

use super::{Change, Handled, Roster};
use crate::{Dest, Epoch, EpochSecret, Misuse, Origin, Outbox, RoomId, SchemeError, UserId};

/// Bytes of the state a terminal restores per room: the epoch and its secret.
pub const HELD_STATE_LEN: usize = 8 + 32;

/// The epoch and its secret a client holds for each room.
///
/// A flat sorted vector: a user is in a few rooms, and a B-tree would reserve a node of eleven
/// entries for them.
#[derive(Debug, Default)]
pub struct HeldSecrets(LiteMap<RoomId, (Epoch, EpochSecret)>);

impl HeldSecrets {
    /// The epoch and secret held for `room`.
    #[must_use]
    pub fn current(&self, room: RoomId) -> Option<(Epoch, &EpochSecret)> {
        self.0.get(&room).map(|(e, s)| (*e, s))
    }

    /// The epoch held for `room`.
    #[must_use]
    pub fn epoch(&self, room: RoomId) -> Option<Epoch> {
        self.0.get(&room).map(|(e, _)| *e)
    }

    /// Holds `secret` as `room`'s epoch `epoch` from now on.
    pub fn hold(&mut self, room: RoomId, epoch: Epoch, secret: EpochSecret) {
        self.0.insert(room, (epoch, secret));
    }

    /// Completes a change this member made of `room` to `epoch`: sends each member its message
    /// (all of them built before, so a failure changed nothing) and holds `secret` from now on.
    pub fn complete_change<M>(
        &mut self,
        room: RoomId,
        epoch: Epoch,
        secret: EpochSecret,
        messages: Vec<(UserId, M)>,
        out: &mut Outbox<M>,
    ) -> Handled {
        for (member, msg) in messages {
            out.send(Dest::User(member), msg);
        }
        self.hold(room, epoch, secret);
        Handled::NewEpoch(epoch)
    }

    /// [`HELD_STATE_LEN`] if `room` is held, else 0.
    #[must_use]
    pub fn state_len(&self, room: RoomId) -> usize {
        if self.0.contains_key(&room) {
            HELD_STATE_LEN
        } else {
            0
        }
    }

    /// Whether a member takes epoch `epoch` of `room` (`joining` if the message says it joins
    /// by it): `Ok(false)` for an epoch it holds or passed (stale).
    ///
    /// # Errors
    /// [`Misuse::StaleEpoch`] for a gap (the sender thought this member held an epoch it never
    /// reached); [`Misuse::UnknownRoom`] for a member's message about a room it does not hold;
    /// [`SchemeError::Malformed`] for an epoch beyond the bound.
    pub fn takes(&self, room: RoomId, epoch: Epoch, joining: bool) -> Result<bool, SchemeError> {
        epoch.bounded()?;
        match (self.epoch(room), joining) {
            (Some(have), _) if have >= epoch => Ok(false),
            (Some(have), false) if !epoch.follows(have) => {
                Err(Misuse::StaleEpoch { have, got: epoch }.into())
            }
            (None, false) => Err(Misuse::UnknownRoom(room).into()),
            _ => Ok(true),
        }
    }
}

/// The epoch a change makes and who joins by it.
#[derive(Debug, Clone, Copy)]
pub struct PlannedChange<'c> {
    /// The new epoch.
    pub epoch: Epoch,
    /// The users the change adds; `None` for a creation, where every member is new.
    joiners: Option<&'c [UserId]>,
}

impl PlannedChange<'_> {
    /// Whether `member` joins the room by this change.
    #[must_use]
    pub fn joins(&self, member: UserId) -> bool {
        self.joiners.is_none_or(|us| us.contains(&member))
    }
}

/// The change `me` makes to `roster.room`, holding `held` of it.
///
/// # Errors
/// [`Misuse::NotAMember`] if `me` is not on the roster; [`Misuse::RoomExists`] to create a room
/// already held; [`Misuse::UnknownRoom`] to change one not held; epoch exhaustion as
/// [`Epoch::advance`].
pub fn planned_change<'c>(
    roster: &Roster<'_>,
    me: UserId,
    change: &'c Change<'_>,
    held: Option<Epoch>,
) -> Result<PlannedChange<'c>, SchemeError> {
    let room = roster.room;
    if !roster.contains(me) {
        return Err(Misuse::NotAMember { user: me, room }.into());
    }
    let (epoch, joiners) = match (change, held) {
        (Change::Create, None) => (Epoch(0), None),
        (Change::Create, Some(_)) => return Err(Misuse::RoomExists(room).into()),
        (Change::Add(us), Some(e)) => (e.advance()?, Some(*us)),
        (Change::Remove(_), Some(e)) => (e.advance()?, Some(&[][..])),
        (_, None) => return Err(Misuse::UnknownRoom(room).into()),
    };
    Ok(PlannedChange { epoch, joiners })
}

/// The sender of a member-to-member message `me` received about `roster.room`, or `None` if
/// `me` is no longer on the roster: the message belongs to a membership of this user that a
/// later change ended (it waited in a mailbox), and the caller drops it as stale.
///
/// # Errors
/// [`Misuse::UnexpectedMessage`] for a message from the server or from oneself;
/// [`Misuse::NotAMember`] if the sender is not on the roster.
pub fn member_sender(
    roster: &Roster<'_>,
    from: Origin,
    me: UserId,
) -> Result<Option<UserId>, SchemeError> {
    let Origin::User(sender) = from else {
        return Err(
            Misuse::UnexpectedMessage("members' key messages come from members only").into(),
        );
    };
    if sender == me {
        return Err(Misuse::UnexpectedMessage("a key message from oneself").into());
    }
    if !roster.contains(sender) {
        return Err(Misuse::NotAMember {
            user: sender,
            room: roster.room,
        }
        .into());
    }
    Ok(roster.contains(me).then_some(sender))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOM: RoomId = RoomId(3);

    #[test]
    fn changes_are_planned_from_the_held_epoch() {
        let members = [UserId(1), UserId(2)];
        let roster = Roster {
            room: ROOM,
            members: &members,
        };
        let me = UserId(1);
        let create = planned_change(&roster, me, &Change::Create, None).unwrap();
        assert_eq!(create.epoch, Epoch(0));
        assert!(create.joins(UserId(2)));
        let add = [UserId(2)];
        let add = Change::Add(&add);
        let planned = planned_change(&roster, me, &add, Some(Epoch(4))).unwrap();
        assert_eq!(planned.epoch, Epoch(5));
        assert!(planned.joins(UserId(2)) && !planned.joins(me));
        let remove = [UserId(9)];
        let remove = Change::Remove(&remove);
        assert!(!planned_change(&roster, me, &remove, Some(Epoch(4)))
            .unwrap()
            .joins(UserId(2)));
        assert!(matches!(
            planned_change(&roster, me, &Change::Create, Some(Epoch(0))),
            Err(SchemeError::Misuse(Misuse::RoomExists(_)))
        ));
        assert!(matches!(
            planned_change(&roster, me, &remove, None),
            Err(SchemeError::Misuse(Misuse::UnknownRoom(_)))
        ));
        assert!(matches!(
            planned_change(&roster, UserId(7), &Change::Create, None),
            Err(SchemeError::Misuse(Misuse::NotAMember { .. }))
        ));
    }

    #[test]
    fn a_member_takes_the_next_epoch_and_a_joiner_any_later_one() {
        let mut held = HeldSecrets::default();
        assert_eq!(held.state_len(ROOM), 0);
        assert!(held.takes(ROOM, Epoch(3), true).unwrap());
        assert!(matches!(
            held.takes(ROOM, Epoch(3), false),
            Err(SchemeError::Misuse(Misuse::UnknownRoom(_)))
        ));
        held.hold(ROOM, Epoch(3), EpochSecret::from_bytes([1; 32]));
        assert_eq!(held.state_len(ROOM), HELD_STATE_LEN);
        assert!(!held.takes(ROOM, Epoch(3), false).unwrap(), "held: stale");
        assert!(!held.takes(ROOM, Epoch(2), true).unwrap(), "passed: stale");
        assert!(held.takes(ROOM, Epoch(4), false).unwrap());
        assert!(matches!(
            held.takes(ROOM, Epoch(5), false),
            Err(SchemeError::Misuse(Misuse::StaleEpoch { .. }))
        ));
        assert!(
            held.takes(ROOM, Epoch(5), true).unwrap(),
            "a rejoin may skip"
        );
        assert!(held.takes(ROOM, Epoch(u64::MAX), true).is_err());
    }
}
