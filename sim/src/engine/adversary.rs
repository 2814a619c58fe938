//! The oracle's adversary experiments on stored records: removed members trying new messages
//! (alone or colluding with the servers) and a storage breach with an old epoch's secret.

use conclave_schemes::erased::Packet;
use conclave_schemes::pre::{KeyView, Rotation};
use conclave_schemes::{MsgId, Opened as SchemeOpened, RoomId, UserId};

use super::{Engine, EngineError};
use crate::oracle::{Adversary, Property};
use crate::scenario::HistoryPolicy;

/// Post-removal messages tried against each removed member.
pub(super) const REMOVED_TRIES: u32 = 3;

/// Stored records per room tried in the storage-breach experiment.
const BREACH_TRIES: usize = 5;

impl Engine<'_> {
    /// Whether `user`'s history client opens a stored record to its true plaintext with the key
    /// it holds, or whether a fresh client holding only `key` (an adversary's) does: an
    /// experiment never teaches the run's own clients a key. Oracle work: not charged.
    pub(super) fn try_open(
        &mut self,
        user: UserId,
        room: RoomId,
        msg: MsgId,
        sealed: &Packet,
        key: Option<(conclave_schemes::Epoch, conclave_schemes::EpochSecret)>,
    ) -> bool {
        let detached = key.is_some();
        let Some((epoch, secret)) = key.or_else(|| self.key_of(user, room)) else {
            return false;
        };
        let view = KeyView {
            room,
            epoch,
            secret: &secret,
        };
        let opened = if detached {
            self.stack.pre.open_detached(user, view, msg, sealed)
        } else {
            self.stack.pre.open(user, view, msg, sealed)
        };
        let opened = opened.ok().and_then(SchemeOpened::plaintext);
        self.is_true_plaintext(user, room, msg, opened)
    }

    /// Whether what `user` got from the history layer for `msg` is, after the key-distribution
    /// scheme's own per-message layer if it has one, the message's true plaintext.
    fn is_true_plaintext(
        &mut self,
        user: UserId,
        room: RoomId,
        msg: MsgId,
        opened: Option<Vec<u8>>,
    ) -> bool {
        let Some((body, sender)) = self.rooms[room.0 as usize]
            .messages
            .get(&msg)
            .map(|r| (r.body.clone(), r.sender))
        else {
            return false;
        };
        let opened = match (opened, self.stack.kd.message_layer(user)) {
            (Some(pt), Some(layer)) => layer
                .unprotect(room, sender, &pt)
                .ok()
                .and_then(SchemeOpened::plaintext),
            (opened, _) => opened,
        };
        opened.is_some_and(|pt| pt[..] == body[..])
    }

    /// Removed members try each new message with what they kept; colluding with the servers,
    /// they also get whatever secret the key server holds.
    pub(super) fn removed_member_checks(
        &mut self,
        room: RoomId,
        msg: MsgId,
        sealed: &Packet,
    ) -> Result<(), EngineError> {
        let candidates: Vec<(usize, UserId)> = self.rooms[room.0 as usize]
            .removed
            .iter()
            .enumerate()
            .filter(|(_, (_, after, tries))| msg >= *after && *tries < REMOVED_TRIES)
            .map(|(i, (u, _, _))| (i, *u))
            .collect();
        let sealed_in = self.rooms[room.0 as usize]
            .messages
            .get(&msg)
            .map(|m| m.epoch);
        let shares = self.policy(room) == HistoryPolicy::Shared;
        for (i, user) in candidates {
            if self.is_member(user, room) {
                continue;
            }
            // Sealed under an epoch of the removed member's membership: its removal had not
            // taken effect for the sender yet (key distribution still under way), so it is not
            // a message the removal protects. A room that shares history shares every epoch up
            // to the member's last with it: a record sealed late under an earlier epoch is that
            // epoch's history, which a later member reads by design (as a joiner would).
            let last_before = self.users[user.0 as usize]
                .after_removal
                .get(&room)
                .and_then(|a| a.last_before);
            let entitled = |e| {
                self.held_epoch(user, room, e) || (shares && last_before.is_some_and(|l| e <= l))
            };
            if sealed_in.is_some_and(entitled) {
                continue;
            }
            self.rooms[room.0 as usize].removed[i].2 += 1;
            let alone = self.try_open(user, room, msg, sealed, None);
            let reached = self.users[user.0 as usize]
                .after_removal
                .get(&room)
                .and_then(|a| a.reached.clone());
            let reached_epoch = reached.as_ref().map(|(e, _)| *e);
            let with_later_key =
                !alone && reached.is_some_and(|k| self.try_open(user, room, msg, sealed, Some(k)));
            self.oracle
                .check(Property::RemovedExcluded, !alone && !with_later_key, || {
                    match reached_epoch.filter(|_| with_later_key) {
                        Some(e) => format!("{user}, removed from {room}, read {msg} with the secret of {e} that key distribution sent it after its removal"),
                        None => format!("{user}, removed from {room}, read {msg} with what it kept"),
                    }
                });
            let server_key = self.key_server_secret(room);
            let with_key_server =
                server_key.is_some_and(|k| self.try_open(user, room, msg, sealed, Some(k)));
            let with_message_server = self.collusion_opens(user, room, msg);
            let exposed = alone || with_later_key || with_key_server || with_message_server;
            self.oracle.adversary(Adversary::ServerPlusRemovedMember, exposed, || {
                if alone {
                    format!("{user}, removed from {room}, read {msg} sent after its removal with the key it kept")
                } else if with_later_key {
                    format!("{user}, removed from {room}, read {msg} sent after its removal with a secret key distribution sent it after its removal")
                } else if with_key_server {
                    format!("{user}, removed from {room}, read {msg} with the epoch secret the key server holds")
                } else if with_message_server {
                    format!("{user}, removed from {room}, read {msg} with its kept key and the message server's re-encryption keys")
                } else {
                    format!("{user}, removed from {room}, could not read {msg} (sent after its removal) with its kept key, the key server's secrets or the message server's state")
                }
            });
        }
        Ok(())
    }

    /// Whether `user`, removed from `room`, opens `msg` by pooling the key it kept with the
    /// message server's state (re-encryption keys). Oracle work: not charged.
    fn collusion_opens(&mut self, user: UserId, room: RoomId, msg: MsgId) -> bool {
        let Some((epoch, secret)) = self.key_of(user, room) else {
            return false;
        };
        let kept = KeyView {
            room,
            epoch,
            secret: &secret,
        };
        let opened = self.stack.pre.collude(kept, msg).ok();
        self.is_true_plaintext(user, room, msg, opened)
    }

    /// At the end of the run: with a copy of storage and the first epoch secret of a room that
    /// has since changed epochs, can an attacker open that epoch's stored messages?
    pub(super) fn storage_breach_experiment(&mut self) -> Result<(), EngineError> {
        for r in 0..self.rooms.len() {
            let room = RoomId(r as u32);
            let epochs = self.oracle.epochs_of(room);
            if epochs.len() < 2 {
                continue;
            }
            let old = epochs[0];
            let Some(secret) = self.oracle.secret_of(room, old).cloned() else {
                continue;
            };
            let ids: Vec<MsgId> = self.rooms[r]
                .messages
                .values()
                .filter(|m| m.stored && m.epoch == old)
                .take(BREACH_TRIES)
                .map(|m| m.id)
                .collect();
            // What the scheme claims for this room, to explain an exposure.
            let shares = self.policy(room) == HistoryPolicy::Shared;
            let claim = match self.stack.pre.properties().rotates_stored_history {
                Rotation::Never => "never re-keys stored history",
                Rotation::WhenSharingHistory if shares => {
                    "re-keys stored history here, but not a record stored after the re-keying"
                }
                Rotation::WhenSharingHistory => {
                    "re-keys stored history only where the policy shares it, and this room's is from_join"
                }
            };
            let pre = self.spec.pre.clone();
            for id in ids {
                // A breach reads every form of the record the server keeps.
                let forms = self.stack.pre.stored_forms(room, id);
                if forms.is_empty() {
                    continue;
                }
                let opens = forms.iter().position(|p| {
                    self.try_open(self.adversary, room, id, p, Some((old, secret.clone())))
                });
                let exposed = opens.is_some();
                self.oracle.adversary(Adversary::StorageBreachOldKey, exposed, || {
                    if opens.is_some_and(|form| form > 0) {
                        format!("{id} of {room}, stored under {old}, opens with that epoch's secret after the room moved on: the server still keeps an older form of it (`{pre}` keeps a replaced wrap until the change is confirmed)")
                    } else if exposed {
                        format!("{id} of {room}, stored under {old}, opens with that epoch's secret after the room moved on (`{pre}` {claim})")
                    } else {
                        format!("{id} of {room}, stored under {old}, no longer opens with that epoch's secret after the room moved on")
                    }
                });
            }
        }
        Ok(())
    }
}
