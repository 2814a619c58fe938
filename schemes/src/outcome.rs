//! Outcomes that are not errors: what a party tells its caller when it could not act on
//! something *yet*, or when something was overtaken by a later change.
//!
//! These make the contract between the schemes and their caller explicit. A
//! [`crate::SchemeError::Crypto`] is then only ever a detected forgery or a bug, never a key
//! that is still in flight, and a [`crate::SchemeError::Misuse`] is only ever a caller that
//! broke the protocol, never a message a later change superseded.

use crate::Epoch;

/// What opening a protected message gave.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum Opened {
    /// The plaintext.
    Plaintext(Vec<u8>),
    /// The keys it needs have not reached this party yet (a back-chain link, a re-encryption,
    /// a sender's key): the caller keeps the message and tries again when traffic for the room
    /// arrives. It names the epoch whose key is missing.
    Pending {
        /// The epoch whose key this party still lacks.
        waiting_for: Epoch,
    },
}

impl Opened {
    /// The plaintext, if it opened.
    #[must_use]
    pub fn plaintext(self) -> Option<Vec<u8>> {
        match self {
            Self::Plaintext(p) => Some(p),
            Self::Pending { .. } => None,
        }
    }
}
