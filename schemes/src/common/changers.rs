//! Who may re-key what: the service's directory names, for each epoch of each room, the one
//! member whose re-keying traffic for that epoch (re-encryption keys, re-wraps, back-chain
//! links, index factors) a server accepts.
//!
//! Without it any member, or anyone the server relays for, could send a garbage re-key for an
//! epoch first, and the honest changer's would then be refused as a duplicate: every stored
//! wrap of that epoch destroyed, or a back-chain cut. Servers keep a [`Changers`] and check every
//! piece of re-keying traffic against it; the directory's naming itself is authenticated by the
//! service (the member's login), not by the schemes.

use std::collections::BTreeMap;

use crate::{Epoch, Misuse, RoomId, SchemeError, UserId};

/// The changer the directory named for each (room, epoch).
#[derive(Debug, Clone, Default)]
pub struct Changers {
    named: BTreeMap<(RoomId, Epoch), UserId>,
}

impl Changers {
    /// Records that `changer` re-keys `room` into `epoch`.
    ///
    /// # Errors
    /// [`Misuse::ChangerNamedTwice`] if the epoch already has a different changer (naming the
    /// same one again is harmless).
    pub fn name(&mut self, room: RoomId, epoch: Epoch, changer: UserId) -> Result<(), SchemeError> {
        match self.named.insert((room, epoch), changer) {
            Some(before) if before != changer => {
                self.named.insert((room, epoch), before);
                Err(Misuse::ChangerNamedTwice { room, epoch }.into())
            }
            _ => Ok(()),
        }
    }

    /// The changer of `epoch` in `room`, if the directory named one.
    #[must_use]
    pub fn of(&self, room: RoomId, epoch: Epoch) -> Option<UserId> {
        self.named.get(&(room, epoch)).copied()
    }

    /// Accepts re-keying traffic into `epoch` of `room` only from its named changer.
    ///
    /// # Errors
    /// [`Misuse::NotTheChanger`] otherwise (also when nobody was named for that epoch, such as
    /// an epoch far in the future).
    pub fn check(&self, room: RoomId, epoch: Epoch, from: UserId) -> Result<(), SchemeError> {
        if self.of(room, epoch) == Some(from) {
            Ok(())
        } else {
            Err(Misuse::NotTheChanger {
                user: from,
                room,
                epoch,
            }
            .into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_named_changer_passes() {
        let mut c = Changers::default();
        let (room, e) = (RoomId(1), Epoch(3));
        assert!(c.check(room, e, UserId(7)).is_err(), "nobody named yet");
        c.name(room, e, UserId(7)).unwrap();
        c.name(room, e, UserId(7)).unwrap();
        assert!(c.check(room, e, UserId(7)).is_ok());
        assert!(matches!(
            c.check(room, e, UserId(8)),
            Err(SchemeError::Misuse(Misuse::NotTheChanger { .. }))
        ));
        assert!(c.check(room, Epoch(4), UserId(7)).is_err());
        assert!(c.check(RoomId(2), e, UserId(7)).is_err());
        assert!(matches!(
            c.name(room, e, UserId(8)),
            Err(SchemeError::Misuse(Misuse::ChangerNamedTwice { .. }))
        ));
        assert_eq!(c.of(room, e), Some(UserId(7)));
    }
}
