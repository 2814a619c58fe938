//! The oracle's ground truth: the secret of each (room, epoch), as the first member to reach the
//! epoch holds it.
//!
//! Members must agree on it (a disagreement fails [`Property::MembersRead`]), and the adversary
//! experiments and the key-server check need it afterwards: an old epoch's secret is what a
//! storage breach is tried with, and any registered secret found in the key server's bytes means
//! the key server could read the room.

use conclave_schemes::{Epoch, EpochSecret, RoomId};
use memchr::memmem;

use super::{Oracle, Property};

impl Oracle {
    /// Registers the secret of a new epoch (the first member to reach it), or checks agreement
    /// with the registered one. Returns whether the member agrees.
    pub fn epoch_secret(
        &mut self,
        room: RoomId,
        epoch: Epoch,
        secret: &EpochSecret,
        who: impl FnOnce() -> String,
    ) -> bool {
        let agree = match self.secrets.get(&(room, epoch)) {
            Some(s) => s == secret,
            None => {
                self.secrets.insert((room, epoch), secret.clone());
                true
            }
        };
        self.check(Property::MembersRead, agree, || {
            format!("{} disagrees on the epoch secret", who())
        });
        agree
    }

    /// The registered secret of an epoch.
    #[must_use]
    pub fn secret_of(&self, room: RoomId, epoch: Epoch) -> Option<&EpochSecret> {
        self.secrets.get(&(room, epoch))
    }

    /// The epochs registered for a room so far, in increasing order.
    #[must_use]
    pub fn epochs_of(&self, room: RoomId) -> Vec<Epoch> {
        self.secrets_of_room(room).map(|(e, _)| e).collect()
    }

    /// Whether `bytes` contain an epoch secret of `room` registered so far.
    #[must_use]
    pub fn contains_secret(&self, room: RoomId, bytes: &[u8]) -> bool {
        self.secrets_of_room(room)
            .any(|(_, s)| memmem::find(bytes, s.as_bytes()).is_some())
    }

    /// The registered secrets of one room, by increasing epoch.
    fn secrets_of_room(&self, room: RoomId) -> impl Iterator<Item = (Epoch, &EpochSecret)> {
        self.secrets
            .range((room, Epoch(0))..=(room, Epoch(u64::MAX)))
            .map(|((_, e), s)| (*e, s))
    }
}

#[cfg(test)]
mod tests {
    use conclave_schemes::kd::KdProperties;
    use conclave_schemes::pre::HistoryProperties;
    use conclave_schemes::sse::SseProperties;

    use super::*;

    fn oracle() -> Oracle {
        Oracle::new(
            KdProperties {
                server_knows_epoch_secret: false,
                authority_can_derive: false,
                removal_excludes: true,
                join_excludes_past: false,
                layer_hides_history_from_joiners: false,
                heals_after_update: false,
                rejoins: false,
            },
            HistoryProperties {
                server_reads_bodies: false,
                removal_excludes: true,
                rotates_stored_history: conclave_schemes::pre::Rotation::WhenSharingHistory,
            },
            SseProperties {
                server_reads_keywords: false,
                forward_private: true,
                keys_enforce_from_join: true,
            },
            "kd",
            "pre",
        )
    }

    fn secret(b: u8) -> EpochSecret {
        EpochSecret::from_bytes([b; 32])
    }

    #[test]
    fn first_member_registers_and_others_must_agree() {
        let mut o = oracle();
        let (room, epoch) = (RoomId(1), Epoch(3));
        assert!(o.epoch_secret(room, epoch, &secret(7), || "alice".to_owned()));
        assert!(o.epoch_secret(room, epoch, &secret(7), || "bob".to_owned()));
        assert!(!o.epoch_secret(room, epoch, &secret(8), || "carol".to_owned()));
        // The first secret stays the ground truth; the dissenter is the recorded failure.
        assert_eq!(o.secret_of(room, epoch), Some(&secret(7)));
        let members_read = &o.finish().properties[&Property::MembersRead];
        assert_eq!((members_read.checks, members_read.failures), (3, 1));
        assert_eq!(
            members_read.first_failure.as_deref(),
            Some("carol disagrees on the epoch secret")
        );
    }

    #[test]
    fn queries_stay_within_one_room() {
        let mut o = oracle();
        for (room, epoch, b) in [(2, 5, 1), (1, 9, 2), (2, 0, 3), (3, 1, 4), (2, u64::MAX, 5)] {
            o.epoch_secret(RoomId(room), Epoch(epoch), &secret(b), String::new);
        }
        assert_eq!(
            o.epochs_of(RoomId(2)),
            vec![Epoch(0), Epoch(5), Epoch(u64::MAX)]
        );
        assert!(o.epochs_of(RoomId(4)).is_empty());
        assert_eq!(o.secret_of(RoomId(1), Epoch(5)), None);

        let mut bytes = b"header ".to_vec();
        bytes.extend_from_slice(secret(2).as_bytes());
        bytes.extend_from_slice(b" trailer");
        assert!(o.contains_secret(RoomId(1), &bytes));
        assert!(!o.contains_secret(RoomId(2), &bytes));
        assert!(!o.contains_secret(RoomId(1), b"nothing secret"));
    }
}
