//! Errors by fault, shared by all families.
//!
//! Cryptographic failures are deliberately opaque (no detail that could serve as an oracle);
//! everything else says what was wrong. Nothing in this crate panics on bad input: a malformed
//! ciphertext is [`SchemeError::Malformed`] or [`SchemeError::Crypto`], never a crash.

use crate::{Epoch, RoomId, UserId};

/// Why a scheme operation failed.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemeError {
    /// Authentication or decryption failed. Carries no detail on purpose.
    #[error("cryptographic failure")]
    Crypto,
    /// Input bytes or structure are invalid (length, encoding, wrong message kind). Not
    /// secret-dependent.
    #[error("malformed input: {0}")]
    Malformed(&'static str),
    /// The caller broke the protocol contract.
    #[error("protocol misuse: {0}")]
    Misuse(Misuse),
    /// The scheme does not support this operation.
    #[error("unsupported: {0}")]
    Unsupported(&'static str),
    /// A bug in this crate (an invariant did not hold).
    #[error("internal error: {0}")]
    Internal(&'static str),
}

/// Ways a caller can break a protocol's contract.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Misuse {
    /// The user is not a member of the room (or holds no key for it).
    #[error("{user} is not a member of {room}")]
    NotAMember {
        /// who
        user: UserId,
        /// where
        room: RoomId,
    },
    /// The room is unknown to this party.
    #[error("{0} is unknown")]
    UnknownRoom(RoomId),
    /// A message refers to an epoch this party does not hold.
    #[error("stale or future epoch: have {have}, got {got}")]
    StaleEpoch {
        /// the epoch this party holds
        have: Epoch,
        /// the epoch the message refers to
        got: Epoch,
    },
    /// The room already exists.
    #[error("{0} already exists")]
    RoomExists(RoomId),
    /// A message was delivered to a role that does not handle it.
    #[error("unexpected message: {0}")]
    UnexpectedMessage(&'static str),
    /// Re-keying traffic into an epoch from a member the directory did not name as that
    /// epoch's changer.
    #[error("{user} is not the changer of {room} {epoch}")]
    NotTheChanger {
        /// who sent it
        user: UserId,
        /// where
        room: RoomId,
        /// the epoch it re-keys into
        epoch: Epoch,
    },
    /// The directory named a second, different changer for one epoch.
    #[error("{room} {epoch} already has a changer")]
    ChangerNamedTwice {
        /// where
        room: RoomId,
        /// which epoch
        epoch: Epoch,
    },
}

impl From<Misuse> for SchemeError {
    fn from(m: Misuse) -> Self {
        Self::Misuse(m)
    }
}
