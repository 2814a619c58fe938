//! Identifiers shared by all families.

use core::fmt;

use crate::SchemeError;

/// A user of the organisation. Users are numbered densely from zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UserId(pub u32);

/// A chat room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RoomId(pub u32);

/// A room's key epoch: 0 when the room is created, incremented by every membership change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Epoch(pub u64);

/// A message, unique across the whole organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MsgId(pub u64);

impl Epoch {
    /// The bound on every epoch a party accepts from a message: 2^48, far more membership
    /// changes than any room sees, and far enough below `u64::MAX` that counting on from an
    /// accepted epoch never overflows.
    pub const LIMIT: Self = Self(1 << 48);

    /// The epoch after this one; `None` at `u64::MAX`.
    #[must_use]
    pub fn next(self) -> Option<Self> {
        self.0.checked_add(1).map(Self)
    }

    /// The epoch after this one, as a result.
    ///
    /// # Errors
    /// [`SchemeError::Malformed`] at `u64::MAX` (reachable only from an unbounded epoch).
    pub fn advance(self) -> Result<Self, SchemeError> {
        self.next()
            .ok_or(SchemeError::Malformed("epoch counter exhausted"))
    }

    /// Whether `self` is exactly the epoch after `have` (never true at the end of the range).
    #[must_use]
    pub fn follows(self, have: Self) -> bool {
        have.next() == Some(self)
    }

    /// Checks an epoch read from a message (a box, a kick, an index update, a re-key) against
    /// [`Epoch::LIMIT`], so that a jump to an attacker-chosen epoch cannot exhaust the counter.
    ///
    /// # Errors
    /// [`SchemeError::Malformed`] if the epoch is at or beyond the limit.
    pub fn bounded(self) -> Result<Self, SchemeError> {
        if self < Self::LIMIT {
            Ok(self)
        } else {
            Err(SchemeError::Malformed(EPOCH_BEYOND_LIMIT))
        }
    }
}

/// Why an epoch from a message was refused by [`Epoch::bounded`].
pub const EPOCH_BEYOND_LIMIT: &str = "epoch beyond the limit of 2^48 membership changes";

/// Displays each id type as its kind and number (`user 3`, `message 17`).
macro_rules! display_as {
    ($($id:ty => $kind:literal),* $(,)?) => {
        $(
            impl fmt::Display for $id {
                fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    write!(f, concat!($kind, " {}"), self.0)
                }
            }
        )*
    };
}

display_as!(UserId => "user", RoomId => "room", Epoch => "epoch", MsgId => "message");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_display_as_their_kind_and_number() {
        let shown = format!("{}, {}, {}, {}", UserId(1), RoomId(2), Epoch(3), MsgId(4));
        assert_eq!(shown, "user 1, room 2, epoch 3, message 4");
    }

    #[test]
    fn epoch_arithmetic_is_checked_and_bounded() {
        assert_eq!(Epoch(3).next(), Some(Epoch(4)));
        assert_eq!(Epoch(u64::MAX).next(), None);
        assert!(Epoch(4).follows(Epoch(3)));
        assert!(!Epoch(0).follows(Epoch(u64::MAX)));
        assert_eq!(Epoch(7).bounded(), Ok(Epoch(7)));
        assert_eq!(
            Epoch::LIMIT.bounded(),
            Err(SchemeError::Malformed(EPOCH_BEYOND_LIMIT))
        );
        assert_eq!(
            Epoch(u64::MAX).bounded(),
            Err(SchemeError::Malformed(EPOCH_BEYOND_LIMIT))
        );
    }
}
