//! Reading stored records: opening and checking them, parking those not readable yet and
//! retrying them, fetching stored messages, and joiners reading a room's history.

use std::sync::Arc;

use conclave_schemes::erased::Packet;
use conclave_schemes::pre::KeyView;
use conclave_schemes::{MsgId, Opened as SchemeOpened, RoomId, SchemeError, UserId};

use super::adversary::REMOVED_TRIES;
use super::ops::{ChangeKind, OpData, OpState};
use super::{Body, Engine, EngineError, Envelope, Node, OpId};
use crate::cost::OpKey;
use crate::metrics::Op;
use crate::oracle::Property;
use crate::scenario::{HistoryPolicy, Nanos};

/// The outcome of opening a stored message.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct ReadOutcome {
    /// Compute charged.
    pub(super) ns: u64,
    /// The message could not be opened yet and waits for key traffic.
    pub(super) parked: bool,
    /// The message is history to the user under `from_join` (sealed before its join): not read.
    pub(super) before_join: bool,
    /// When the message's sender pressed send (`None` for a message the run never recorded).
    pub(super) pressed: Option<Nanos>,
}

impl Engine<'_> {
    /// Opens a stored record as `user`, checks the plaintext against the ground truth and
    /// returns the compute charged. Messages of epochs the user held count for
    /// [`Property::MembersRead`]; older ones (history) for [`Property::JoinerHistoryPolicy`].
    pub(super) fn open_and_check(
        &mut self,
        user: UserId,
        room: RoomId,
        msg: MsgId,
        sealed: &Packet,
    ) -> Result<ReadOutcome, EngineError> {
        let u = user.0 as usize;
        // One lookup: nothing below changes the room's messages.
        let Some((rec_epoch, sender, body, pressed)) = self.rooms[room.0 as usize]
            .messages
            .get(&msg)
            .map(|r| (r.epoch, r.sender, Arc::clone(&r.body), r.pressed))
        else {
            return Ok(ReadOutcome::default());
        };
        let Some(held) = self.held_now(user, room) else {
            return Ok(ReadOutcome {
                pressed: Some(pressed),
                ..ReadOutcome::default()
            });
        };
        let k = OpKey {
            scheme: self.stack.pre.name(),
            op: "open",
        };
        let (r, ns) = self.charge(k, sealed.wire_len(), |e| {
            match e.oracle.secret_of(room, held) {
                Some(secret) => {
                    let key = KeyView {
                        room,
                        epoch: held,
                        secret,
                    };
                    e.stack.pre.open(user, key, msg, sealed)
                }
                None => Err(SchemeError::Internal("the key vanished")),
            }
        })?;
        // What the history layer gave goes through the key-distribution scheme's own
        // per-message layer, if it has one (Sender Keys).
        let history_pending = matches!(r, Ok(SchemeOpened::Pending { .. }));
        let (r, ns) = match r {
            Ok(SchemeOpened::Plaintext(pt)) if self.stack.kd.message_layer(user).is_some() => {
                let k = OpKey {
                    scheme: self.stack.kd.name(),
                    op: "unprotect",
                };
                let (r2, ns2) =
                    self.charge(k, pt.len(), |e| match e.stack.kd.message_layer(user) {
                        Some(layer) => layer.unprotect(room, sender, &pt),
                        None => Err(SchemeError::Internal("the message layer vanished")),
                    })?;
                (r2, ns + ns2)
            }
            other => (other, ns),
        };
        let pending = matches!(r, Ok(SchemeOpened::Pending { .. }));
        let ok = matches!(&r, Ok(SchemeOpened::Plaintext(pt)) if pt[..] == body[..]);
        let held = self.held_epoch(user, room, rec_epoch);
        let now = self.now;
        let describe = || {
            let why = match &r {
                Ok(_) => "a wrong plaintext".to_owned(),
                // Nothing in flight explains a cryptographic failure: a tampered record or a
                // bug, reported as such.
                Err(e) => e.to_string(),
            };
            format!(
                "{user} opening {msg} of {room} at t={:.3} ms got {why}",
                now as f64 / 1e6
            )
        };
        // Sealed under an epoch before the user's join (a sender whose key traffic had not yet
        // brought it the join sealed it after the join started): history, which under
        // `from_join` the user must not read, however recent its id.
        let before_join = !held
            && self.policy(room) == HistoryPolicy::FromJoin
            && self.users[u]
                .joined_at
                .get(&room)
                .is_some_and(|j| rec_epoch < *j);
        if before_join {
            self.oracle.check(Property::JoinerHistoryPolicy, !ok, || {
                format!(
                    "{user} read {msg} of {room}, sealed under {rec_epoch} before it joined, under a from_join policy"
                )
            });
            return Ok(ReadOutcome {
                ns,
                parked: false,
                before_join: true,
                pressed: Some(pressed),
            });
        }
        if pending {
            // A key the schemes say is still on its way (a sender's key for the per-message
            // layer, a back-chain link the message server sends a joiner, a re-encryption):
            // the terminal keeps the message and tries again when key or history traffic comes
            // in, as real clients do. Still unreadable at the end of the run, it counts as a
            // failure.
            // History fetched while a re-encryption was about to finish is already re-protected
            // on the server: the terminal fetches it again (once) unless one is still running.
            if history_pending && !self.refetching && self.rooms[room.0 as usize].reencrypting == 0
            {
                if let Some(current) = self.stack.pre.stored(room, msg) {
                    self.refetching = true;
                    let again = self.open_and_check(user, room, msg, &current);
                    self.refetching = false;
                    let again = again?;
                    return Ok(ReadOutcome {
                        ns: ns + again.ns,
                        ..again
                    });
                }
            }
            let parked = &mut self.users[u].parked;
            if !parked.iter().any(|(r, m, _)| *r == room && *m == msg) {
                parked.push((room, msg, sealed.clone()));
            }
            return Ok(ReadOutcome {
                ns,
                parked: true,
                before_join: false,
                pressed: Some(pressed),
            });
        }
        let property = if held {
            Property::MembersRead
        } else {
            Property::JoinerHistoryPolicy
        };
        self.oracle.check(property, ok, describe);
        Ok(ReadOutcome {
            ns,
            parked: false,
            before_join: false,
            pressed: Some(pressed),
        })
    }

    /// Tries again the messages `user` could not open yet; returns the compute it took.
    pub(super) fn retry_parked(&mut self, user: UserId) -> Result<u64, EngineError> {
        self.retry_parked_first(user, usize::MAX)
    }

    /// Tries again the first `count` messages `user` parked (those parked since stay parked).
    pub(super) fn retry_parked_first(
        &mut self,
        user: UserId,
        count: usize,
    ) -> Result<u64, EngineError> {
        let all = &mut self.users[user.0 as usize].parked;
        let later = all.split_off(count.min(all.len()));
        let parked = std::mem::replace(all, later);
        let mut ns = 0;
        for (room, msg, sealed) in parked {
            ns += self.open_and_check(user, room, msg, &sealed)?.ns;
        }
        Ok(ns)
    }

    /// Every terminal with parked records of `room` fetches their current version and tries
    /// again (charged as opening them; the fetch itself is not modelled).
    pub(super) fn refetch_parked(&mut self, room: RoomId, at: Nanos) -> Result<(), EngineError> {
        for u in 0..self.users.len() {
            if !self.users[u].parked.iter().any(|(r, _, _)| *r == room) {
                continue;
            }
            let (mine, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut self.users[u].parked)
                .into_iter()
                .partition(|(r, _, _)| *r == room);
            self.users[u].parked = rest;
            let user = UserId(u as u32);
            let mut ns = 0;
            for (_, msg, old) in mine {
                let current = self.stack.pre.stored(room, msg).unwrap_or(old);
                ns += self.open_and_check(user, room, msg, &current)?.ns;
            }
            self.emit(Node::User(user), at, ns, false, None, Vec::new())?;
        }
        Ok(())
    }

    /// At the end of the run, messages that never became readable are failures, unless the
    /// reader was waiting for a change of the room that never completed (a key distribution
    /// that needs a member who stayed offline): then the read is as unfinished as the change,
    /// and counted as an incomplete receive beside it.
    pub(super) fn unreadable_at_end(&mut self) {
        for u in 0..self.users.len() {
            for (room, msg, _) in std::mem::take(&mut self.users[u].parked) {
                let origin = self.rooms[room.0 as usize]
                    .messages
                    .get(&msg)
                    .map(|r| (r.sender, r.epoch));
                let user = UserId(u as u32);
                let held = origin.is_some_and(|(_, e)| self.held_epoch(user, room, e));
                // A member removed and being added back holds its old epochs from a membership that
                // ended: the removal's re-protection of history rightly shuts them out until
                // the re-join brings a key.
                let rejoining =
                    self.is_member(user, room) && self.users[u].after_removal.contains_key(&room);
                // A member behind, whose rejoin is still to come, reads nothing re-protected
                // since, whatever epoch the message was first sealed under.
                if ((!held || rejoining) && self.awaits_unfinished_change(user, room))
                    || self.awaits_rejoin_or_queued_key(user, room)
                {
                    self.result.ops.entry(Op::Receive).or_default().incomplete += 1;
                    continue;
                }
                // A read its removal overtook (see `shut_out_by_removal`).
                if held && self.shut_out_by_removal(user, room, msg) {
                    self.result.ops.entry(Op::Receive).or_default().incomplete += 1;
                    continue;
                }
                let property = if held {
                    Property::MembersRead
                } else {
                    Property::JoinerHistoryPolicy
                };
                self.oracle.check(property, false, || match origin {
                    Some((sender, epoch)) => format!(
                        "user {u} never became able to open {msg} of {room}, sent by {sender} in {epoch}"
                    ),
                    None => format!("user {u} never became able to open {msg} of {room}"),
                });
            }
        }
    }

    /// Whether a removal of `user` from `room` cut its read of `msg` short:
    ///
    /// * the key traffic that would have opened it (a sender's key) was sent to the user as a
    ///   member but reached it only after its removal, which the terminal dropped, so no later
    ///   membership brings it either (`msg` is of that membership or an earlier one);
    /// * or, the user being removed now, the stored record waits for an epoch it never held:
    ///   history re-protected under the removal's epoch, or under an earlier one whose key had
    ///   not reached the member when it was removed (and never will). A record waiting for an
    ///   epoch the user held is not excused.
    ///
    /// Oracle work: not charged.
    fn shut_out_by_removal(&mut self, user: UserId, room: RoomId, msg: MsgId) -> bool {
        let sent_in = self.rooms[room.0 as usize]
            .messages
            .get(&msg)
            .map(|r| r.epoch);
        let lost = self.users[user.0 as usize].keys_lost_to_removal.get(&room);
        if let (Some(epoch), Some(lost)) = (sent_in, lost) {
            if epoch <= *lost {
                return true;
            }
        }
        if self.is_member(user, room)
            || !self.users[user.0 as usize]
                .after_removal
                .contains_key(&room)
        {
            return false;
        }
        let (Some(current), Some((epoch, secret))) =
            (self.stack.pre.stored(room, msg), self.key_of(user, room))
        else {
            return false;
        };
        let view = KeyView {
            room,
            epoch,
            secret: &secret,
        };
        matches!(
            self.stack.pre.open(user, view, msg, &current),
            Ok(SchemeOpened::Pending { waiting_for }) if !self.held_epoch(user, room, waiting_for)
        )
    }

    /// Whether a change of `room` that has not reached `user` would bring it its key: the user
    /// holds no key of its current membership (a joiner, or a member added back, whose change
    /// has not reached it, even if the change's own op has ended because every member it waited
    /// for went offline); or it was removed and has held no key of the room since, so the
    /// membership it received the message in never got one (a re-join removed again before it
    /// completed); or it is one of the members the change in flight waits for, or its subject;
    /// or its rejoin (its queued key traffic expired) is still to be made.
    fn awaits_unfinished_change(&self, user: UserId, room: RoomId) -> bool {
        let state = &self.users[user.0 as usize];
        let keyless_since_removal = state.after_removal.contains_key(&room);
        let keyless_member = self.is_member(user, room) && self.held_now(user, room).is_none();
        if keyless_member || keyless_since_removal || self.awaits_rejoin_or_queued_key(user, room) {
            return true;
        }
        let Some(id) = self.rooms[room.0 as usize].change else {
            return false;
        };
        self.ops.get(id).is_some_and(|s| match &s.data {
            OpData::Change {
                kind,
                subject,
                awaiting,
                ..
            } => (*kind != ChangeKind::Leave && *subject == user) || awaiting.contains(&user),
            _ => false,
        })
    }

    /// Whether `user`'s rejoin of `room` (its queued key traffic expired) is still to be made,
    /// or was made while it was offline and waits in its mailbox.
    fn awaits_rejoin_or_queued_key(&self, user: UserId, room: RoomId) -> bool {
        self.rejoin_pending(user, room)
            || self.users[user.0 as usize]
                .mailbox
                .iter()
                .any(|(_, _, m)| m.room == room)
    }

    pub(super) fn request_fetch(
        &mut self,
        user: UserId,
        room: RoomId,
        op: OpId,
        at: Nanos,
        pre_ns: u64,
        ids: Vec<MsgId>,
    ) -> Result<Nanos, EngineError> {
        let outputs = vec![(Node::MessageServer, room, Some(op), Body::Fetch { ids })];
        self.emit(Node::User(user), at, pre_ns, false, Some(op), outputs)
    }

    pub(super) fn serve_fetch(&mut self, env: Envelope) -> Result<(), EngineError> {
        let Body::Fetch { ref ids } = env.body else {
            return Ok(());
        };
        let Node::User(user) = env.from else {
            return Ok(());
        };
        let room = env.room;
        let open_ns = self.receive_cost(&env)?;
        // The service's access control: only what the room's policy lets this member read.
        let from = self.readable_from(user, room);
        let records: Vec<(MsgId, Packet)> = ids
            .iter()
            .filter(|id| **id >= from)
            .filter_map(|id| self.stack.pre.stored(room, *id).map(|p| (*id, p)))
            .collect();
        let outputs = vec![(Node::User(user), room, env.op, Body::Fetched { records })];
        self.emit(
            Node::MessageServer,
            self.now,
            open_ns,
            false,
            env.op,
            outputs,
        )?;
        Ok(())
    }

    pub(super) fn fetched_at_user(
        &mut self,
        user: UserId,
        env: Envelope,
    ) -> Result<(), EngineError> {
        let Body::Fetched { ref records } = env.body else {
            return Ok(());
        };
        let records = records.clone();
        let room = env.room;
        let mut ns = self.receive_cost(&env)?;
        for (id, p) in &records {
            ns += self.open_and_check(user, room, *id, p)?.ns;
        }
        let done = self.emit(Node::User(user), self.now, ns, false, env.op, Vec::new())?;
        if let Some(op) = env.op {
            self.finish_op(op, done)?;
        }
        Ok(())
    }

    /// A joiner opens the room: it reads the last `history.read` messages from before its join
    /// when the policy shares history; under `from_join` the oracle checks it cannot.
    pub(super) fn open_history(
        &mut self,
        joiner: UserId,
        room: RoomId,
        at: Nanos,
    ) -> Result<(), EngineError> {
        let before: Vec<MsgId> = self.rooms[room.0 as usize]
            .messages
            .values()
            .rev()
            .filter(|r| r.stored && r.sender != joiner && !self.held_epoch(joiner, room, r.epoch))
            .take(self.scenario.workload.history.read as usize)
            .map(|r| r.id)
            .collect();
        if before.is_empty() {
            return Ok(());
        }
        match self.policy(room) {
            HistoryPolicy::Shared => {
                if self.online[joiner.0 as usize] {
                    let op = self
                        .ops
                        .insert(OpState::new(OpData::History, joiner, Some(room), at));
                    let mut ids = before;
                    ids.reverse();
                    self.request_fetch(joiner, room, op, at, 0, ids)?;
                }
            }
            HistoryPolicy::FromJoin => {
                // The crypto must keep what the server's ACL withholds: try the stored records.
                for id in before.into_iter().take(REMOVED_TRIES as usize) {
                    let Some(p) = self.stack.pre.stored(room, id) else {
                        continue;
                    };
                    let exposed = self.try_open(joiner, room, id, &p, None);
                    self.oracle.check(Property::JoinerHistoryPolicy, !exposed, || {
                        format!("{joiner} read {id} of {room}, sent before it joined under a from_join policy")
                    });
                }
            }
        }
        Ok(())
    }
}
