//! The oracle's active-server experiments: a message server that forges, splices and rolls back
//! records, a key server that replays what it relayed or runs the scheme's own active attack on
//! a room of its own, and a member that sends the changer's re-keying traffic.
//!
//! Except for the impostor's re-key, which is tried on the server as the traffic arrives (a
//! server refuses it before touching its state; one that takes it has lost the run's history,
//! which is what the experiment reports), the experiments run at the end of the run, on what
//! the run kept (`state::ActiveTrace`), so that what they do to a member's terminal cannot change
//! the run's own checks. Oracle work: nothing here is charged.

use conclave_schemes::erased::Packet;
use conclave_schemes::kd::Roster;
use conclave_schemes::pre::KeyView;
use conclave_schemes::{Epoch, EpochSecret, MsgId, Opened, Outbox, RoomId, UserId};
use rand_chacha::ChaCha20Rng;

use super::{scheme_err, Engine, EngineError, KdMail};
use crate::oracle::Adversary;
use crate::rng;

/// Re-keying messages per room replayed from an impostor.
const IMPOSTOR_TRIES: u32 = 3;
/// Records per room kept as first handed out, for the rollback experiment.
const FIRST_VERSIONS: usize = 3;
/// Key-distribution messages kept per room and epoch, and in all per room, for the replay.
const KD_KEPT_PER_EPOCH: usize = 2;
const KD_KEPT: usize = 8;
/// Members of the room the interposing key server creates, at most.
const INTERPOSED_MEMBERS_MAX: usize = 16;

impl Engine<'_> {
    fn active_rng(&self, purpose: &str, entity: u64) -> ChaCha20Rng {
        rng::crypto(self.seed, purpose, entity)
    }

    /// The directory named `changer` for `room`'s `epoch`.
    pub(super) fn note_changer(&mut self, room: RoomId, epoch: Epoch, changer: UserId) {
        let trace = &mut self.rooms[room.0 as usize].active;
        trace.named_changer = Some((epoch, changer));
        trace.changers.insert(changer);
    }

    /// Keeps the record of `msg` as the server first hands it out.
    pub(super) fn note_first_version(&mut self, room: RoomId, msg: MsgId, sealed: &Packet) {
        let kept = &mut self.rooms[room.0 as usize].active.first_versions;
        if kept.len() < FIRST_VERSIONS {
            kept.push((msg, sealed.clone()));
        }
    }

    /// Keeps a key-distribution message the key server relays to a member.
    pub(super) fn note_kd_relayed(&mut self, mail: &KdMail) {
        let epoch = self.rooms[mail.room.0 as usize].epoch;
        let kept = &mut self.rooms[mail.room.0 as usize].active.kd_relayed;
        let of_epoch = kept.iter().filter(|(e, _)| *e == epoch).count();
        if kept.len() < KD_KEPT && of_epoch < KD_KEPT_PER_EPOCH {
            kept.push((epoch, mail.clone()));
        }
    }

    /// A control message from `from` reached a server: if `from` is the changer the directory
    /// named last, another member replays it first, and the server must refuse it.
    pub(super) fn impostor_rekey(
        &mut self,
        room: RoomId,
        from: UserId,
        packet: &Packet,
        history: bool,
    ) {
        let r = room.0 as usize;
        let trace = &self.rooms[r].active;
        let Some((epoch, changer)) = trace.named_changer else {
            return;
        };
        if changer != from || trace.impostor_tries >= IMPOSTOR_TRIES {
            return;
        }
        // A member that was never a changer of the room, so it cannot be the one the message's
        // epoch names; failing that, a user outside the room.
        let impostor = self.rooms[r]
            .members
            .iter()
            .copied()
            .find(|u| !trace.changers.contains(u))
            .unwrap_or(self.adversary);
        let tries = trace.impostor_tries;
        self.rooms[r].active.impostor_tries += 1;
        let mut rng = self.active_rng("impostor re-key", u64::from(room.0) << 8 | u64::from(tries));
        let mut ignored = Outbox::new();
        let (server, taken) = if history {
            let taken = self
                .stack
                .pre
                .server_handle(room, impostor, packet.clone(), &mut rng, &mut ignored)
                .is_ok();
            ("message server", taken)
        } else {
            let taken = self
                .stack
                .sse
                .server_handle(room, impostor, packet.clone(), &mut rng, &mut ignored)
                .is_ok();
            ("search server", taken)
        };
        self.oracle.adversary(Adversary::HostileRekey, taken, || {
            if taken {
                format!("the {server} took {from}'s re-keying traffic of {room} {epoch} from {impostor}")
            } else {
                format!("the {server} refused {from}'s re-keying traffic of {room} {epoch} from {impostor}, whom the directory did not name")
            }
        });
    }

    /// The end-of-run experiments of an active server, per room, and the key server's attack
    /// on a room of its own.
    pub(super) fn active_server_experiments(&mut self) -> Result<(), EngineError> {
        let changed = self.rooms.iter().any(|r| r.active.named_changer.is_some());
        let tried = self.rooms.iter().any(|r| r.active.impostor_tries > 0);
        if changed && !tried {
            let (pre, sse) = (self.spec.pre.clone(), self.spec.sse.clone());
            self.oracle
                .adversary_not_applicable(Adversary::HostileRekey, || {
                    format!("the run's changes sent no re-keying traffic to a server (`{pre}` and `{sse}` re-key nothing there)")
                });
        }
        for r in 0..self.rooms.len() {
            let room = RoomId(r as u32);
            let Some(victim) = self.rooms[r]
                .members
                .iter()
                .copied()
                .find(|&u| self.holds_current(u, room))
            else {
                continue;
            };
            let Some(key) = self.key_of(victim, room) else {
                continue;
            };
            self.forged_record(room, victim, &key);
            self.splice(room, victim, &key);
            self.rollback(room, victim, &key);
            self.kd_substitution(room, victim, &key);
        }
        self.interposed_room()
    }

    /// The key server runs the scheme's own active attack
    /// ([`KeyDistribution::new_interposing_server`](conclave_schemes::kd::KeyDistribution::new_interposing_server))
    /// while creating a room as large as the run's largest (capped), in a system of its own;
    /// the room is exposed only if the secret the server derived is the one every member holds.
    fn interposed_room(&mut self) -> Result<(), EngineError> {
        let largest = self
            .rooms
            .iter()
            .map(|r| r.members.len())
            .max()
            .unwrap_or(0);
        let members = largest.clamp(2, INTERPOSED_MEMBERS_MAX) as u32;
        let mut rng = self.active_rng("interposing key server", 0);
        let kd = self.spec.kd.clone();
        let outcome = self
            .stack
            .kd
            .interposed_room(members, &mut rng)
            .map_err(scheme_err(&kd, self.now, || {
                format!("creating a room of {members} through the interposing key server")
            }))?;
        let Some(room) = outcome else {
            return Ok(());
        };
        let exposed = room.exposed();
        self.oracle.adversary(Adversary::KdSubstitution, exposed, || {
            match (&room.refused, exposed) {
                (_, true) => format!("the key server substituted its own key-distribution values while {members} members created a room, and derived the epoch secret all of them hold (`{kd}` authenticates relayed values only under keys the server holds)"),
                (Some((u, e)), false) => format!("{u} refused the key server's substituted key-distribution values while {members} members created a room: {e}"),
                (None, false) => format!("the key server's substitution while {members} members created a room left it without the members' epoch secret"),
            }
        });
        Ok(())
    }

    /// An id no message of the run has.
    pub(super) fn unused_msg_id(&self, offset: u64) -> MsgId {
        let last = self.last_recorded_msg.map_or(0, |m| m.0);
        MsgId(last + 1 + offset)
    }

    /// What `user` makes of `body` (the history layer's plaintext of a message `sender` sent)
    /// after the key-distribution scheme's per-message layer, if the stack has one.
    fn through_message_layer(
        &mut self,
        user: UserId,
        room: RoomId,
        sender: UserId,
        body: Option<Vec<u8>>,
    ) -> Option<Vec<u8>> {
        match (body, self.stack.kd.message_layer(user)) {
            (Some(pt), Some(layer)) => layer
                .unprotect(room, sender, &pt)
                .ok()
                .and_then(Opened::plaintext),
            (body, _) => body,
        }
    }

    /// The message server seals a record with the secret the servers hold for the room's
    /// current epoch or, without one, a secret it makes up; the victim's terminal opens it. If
    /// it rejects the forgery, does it still seal its next message under the forger's key?
    fn forged_record(&mut self, room: RoomId, victim: UserId, key: &(Epoch, EpochSecret)) {
        let (epoch, secret) = (key.0, &key.1);
        let mut rng = self.active_rng("forged record", u64::from(room.0));
        let held = self
            .key_server_secret(room)
            .filter(|(e, _)| *e == epoch)
            .map(|(_, s)| s);
        let how = if held.is_some() {
            "with the epoch secret the key server holds"
        } else {
            "with a secret it made up"
        };
        let forger_key = held.unwrap_or_else(|| EpochSecret::random(&mut rng));
        let forger = KeyView {
            room,
            epoch,
            secret: &forger_key,
        };
        let claimed_sender = self.rooms[room.0 as usize]
            .members
            .iter()
            .copied()
            .find(|&u| u != victim)
            .unwrap_or(victim);
        let (forged_id, probe_id) = (self.unused_msg_id(0), self.unused_msg_id(1));
        let forged_text = format!("forged by the message server in {room}").into_bytes();
        let view = KeyView {
            room,
            epoch,
            secret,
        };
        let accepted = match self.stack.pre.seal_detached(
            self.adversary,
            forger,
            forged_id,
            &forged_text,
            &mut rng,
        ) {
            Ok(forged) => {
                let opened = self
                    .stack
                    .pre
                    .open(victim, view, forged_id, &forged)
                    .ok()
                    .and_then(Opened::plaintext);
                self.through_message_layer(victim, room, claimed_sender, opened)
                    .is_some_and(|pt| pt == forged_text)
            }
            Err(_) => false,
        };
        // Whether the victim, having seen the forgery, seals under the forger's key.
        // The probe goes through the message layer, as the victim's own messages do: what
        // the forger opens must be the victim's words, not bytes the layer still protects.
        let probe_text = format!("sealed by {victim} after the forgery").into_bytes();
        let body = match self.stack.kd.message_layer(victim) {
            Some(layer) => layer.protect(room, &probe_text, &mut rng).ok(),
            None => Some(probe_text.clone()),
        };
        let adopted = body
            .and_then(|body| {
                self.stack
                    .pre
                    .seal(victim, view, probe_id, &body, &mut rng)
                    .ok()
            })
            .and_then(|probe| {
                self.stack
                    .pre
                    .open_detached(self.adversary, forger, probe_id, &probe)
                    .ok()
            })
            .and_then(Opened::plaintext)
            .is_some_and(|pt| pt == probe_text);
        self.oracle
            .adversary(Adversary::ForgedRecord, accepted || adopted, || {
                if accepted {
                    format!("{victim} accepted a record of {room} {epoch} the message server sealed {how}")
                } else if adopted {
                    format!("{victim} rejected the message server's forged record of {room} {epoch} but sealed its next message under the forger's key")
                } else {
                    format!("{victim} rejected a record of {room} {epoch} the message server sealed {how}, and sealed on under the room's key")
                }
            });
    }

    /// The message server hands the victim a stored record of the current epoch as another
    /// message of the room, and as the same message of another room the victim holds.
    fn splice(&mut self, room: RoomId, victim: UserId, key: &(Epoch, EpochSecret)) {
        let r = room.0 as usize;
        let Some((msg, sender, body)) = self.rooms[r]
            .messages
            .values()
            .rev()
            .find(|m| m.stored && m.epoch == key.0)
            .map(|m| (m.id, m.sender, m.body.clone()))
        else {
            return;
        };
        let Some(sealed) = self.stack.pre.stored(room, msg) else {
            return;
        };
        let mut targets = vec![(room, self.unused_msg_id(2), key.clone())];
        let other = (0..self.rooms.len())
            .map(|o| RoomId(o as u32))
            .filter(|&o| o != room && self.holds_current(victim, o))
            .find_map(|o| self.key_of(victim, o).map(|k| (o, msg, k)));
        targets.extend(other);
        for (into, as_id, (epoch, secret)) in targets {
            let view = KeyView {
                room: into,
                epoch,
                secret: &secret,
            };
            let opened = self
                .stack
                .pre
                .open_detached(victim, view, as_id, &sealed)
                .ok()
                .and_then(Opened::plaintext);
            let accepted = self
                .through_message_layer(victim, into, sender, opened)
                .is_some_and(|pt| pt[..] == body[..]);
            self.oracle.adversary(Adversary::Splice, accepted, || {
                let placed = if into == room {
                    format!("as {as_id} of {room}")
                } else {
                    format!("as {msg} of {into}")
                };
                if accepted {
                    format!("{victim} accepted {msg} of {room} {placed}")
                } else {
                    format!("{victim} rejected {msg} of {room} {placed}")
                }
            });
        }
    }

    /// The message server hands the victim a record as it first handed it out, after the
    /// room's stored history was re-protected.
    fn rollback(&mut self, room: RoomId, victim: UserId, key: &(Epoch, EpochSecret)) {
        let shares = self.policy(room) == crate::scenario::HistoryPolicy::Shared;
        if !self
            .stack
            .pre
            .properties()
            .rotates_stored_history
            .under(shares)
        {
            let pre = self.spec.pre.clone();
            self.oracle
                .adversary_not_applicable(Adversary::Rollback, || {
                    format!("`{pre}` never re-protects stored history of a room like {room}, so a record has no earlier state to roll back to")
                });
            return;
        }
        let first = std::mem::take(&mut self.rooms[room.0 as usize].active.first_versions);
        let view = KeyView {
            room,
            epoch: key.0,
            secret: &key.1,
        };
        for (msg, old) in first {
            let Some(now) = self.stack.pre.stored(room, msg) else {
                continue;
            };
            if bytes_of(&now) == bytes_of(&old) {
                continue;
            }
            let opened = self
                .stack
                .pre
                .open(victim, view, msg, &old)
                .ok()
                .and_then(Opened::plaintext);
            let accepted = self.opens_to_truth(victim, room, msg, opened);
            self.oracle.adversary(Adversary::Rollback, accepted, || {
                if accepted {
                    format!("{victim} accepted {msg} of {room} as it was stored before the room's history was re-protected")
                } else {
                    format!("{victim} rejected {msg} of {room} as it was stored before the room's history was re-protected")
                }
            });
        }
    }

    /// Whether `opened`, after the message layer, is the true plaintext of `msg`.
    fn opens_to_truth(
        &mut self,
        user: UserId,
        room: RoomId,
        msg: MsgId,
        opened: Option<Vec<u8>>,
    ) -> bool {
        let Some((sender, body)) = self.rooms[room.0 as usize]
            .messages
            .get(&msg)
            .map(|m| (m.sender, m.body.clone()))
        else {
            return false;
        };
        self.through_message_layer(user, room, sender, opened)
            .is_some_and(|pt| pt[..] == body[..])
    }

    /// The key server replays to the victim the key-distribution messages it relayed at the
    /// room's earlier epochs, and one of another room as if it were about this one; the victim
    /// must stay on the epoch it holds.
    fn kd_substitution(&mut self, room: RoomId, victim: UserId, key: &(Epoch, EpochSecret)) {
        let r = room.0 as usize;
        let mut replays: Vec<(KdMail, &'static str)> = self.rooms[r]
            .active
            .kd_relayed
            .iter()
            .filter(|(e, _)| e.is_none_or(|e| e < key.0))
            .map(|(_, m)| (m.clone(), "an earlier epoch's"))
            .collect();
        let foreign = self
            .rooms
            .iter()
            .enumerate()
            .filter(|(o, _)| *o != r)
            .find_map(|(_, other)| other.active.kd_relayed.first())
            .map(|(_, m)| KdMail {
                room,
                roster: self.rooms[r].roster.clone(),
                ..m.clone()
            });
        replays.extend(foreign.map(|m| (m, "another room's")));
        if replays.is_empty() {
            return;
        }
        for (i, (mail, what)) in replays.into_iter().enumerate() {
            let roster = Roster {
                room,
                members: &mail.roster,
            };
            let mut rng = self.active_rng("kd replay", u64::from(room.0) << 8 | i as u64);
            let _ = self.stack.kd.client_handle(
                victim,
                &roster,
                mail.origin,
                &mail.packet,
                &mut rng,
                &mut Outbox::new(),
            );
            let after = self.stack.kd.current(victim, room);
            let left = !after.is_some_and(|(e, s)| e == key.0 && *s == key.1);
            self.oracle.adversary(Adversary::KdSubstitution, left, || {
                match after {
                    Some((e, _)) if left => format!("{victim} left {room} {} for {e} on {what} key-distribution message replayed by the key server", key.0),
                    None => format!("{victim} lost its key of {room} on {what} key-distribution message replayed by the key server"),
                    Some(_) => format!("{victim} stayed on {room} {} when the key server replayed {what} key-distribution message", key.0),
                }
            });
        }
    }
}

/// A packet's bytes, to tell two versions of a record apart.
fn bytes_of(p: &Packet) -> Vec<u8> {
    let mut out = Vec::new();
    p.visit_bytes(&mut |b| out.extend_from_slice(b));
    out
}
