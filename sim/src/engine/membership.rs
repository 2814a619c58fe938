//! Membership changes: joins and leaves, one at a time per room, and what happens when a member
//! reaches a new epoch.

use std::collections::BTreeSet;

use conclave_schemes::erased::Packet;
use conclave_schemes::kd::{Change, Handled, Roster};
use conclave_schemes::pre::{EpochChange, KeyView};
use conclave_schemes::{Epoch, MsgId, Outbox, RoomId, SchemeError, UserId};

use super::ops::{ChangeKind, OpData, OpState};
use super::state::RoomChange;
use super::{scheme_err, AfterRemoval, Body, Engine, EngineError, Node, OpId};
use crate::cost::OpKey;
use crate::metrics::SkipReason;
use crate::oracle::Property;
use crate::scenario::{HistoryPolicy, Nanos};
use crate::workload::Action;

/// Most recently removed members per room the oracle keeps trying.
const REMOVED_TRACKED: usize = 4;

impl Engine<'_> {
    /// A join or leave from the workload; changes of one room run one at a time.
    pub(super) fn membership(&mut self, at: Nanos, action: Action) -> Result<(), EngineError> {
        let (Action::Join { room, .. } | Action::Leave { room, .. }) = action else {
            return Ok(());
        };
        let r = &mut self.rooms[room.0 as usize];
        if r.change.is_some() || r.changer_catching_up.is_some() {
            r.queued_changes
                .push_back((at, RoomChange::Workload(action)));
            return Ok(());
        }
        self.start_change(at, self.now, action)
    }

    /// `user`'s terminal asks to rejoin `room` (key traffic queued for it expired at the key
    /// server), after the room's change under way if there is one.
    pub(super) fn rejoin(
        &mut self,
        at: Nanos,
        user: UserId,
        room: RoomId,
    ) -> Result<(), EngineError> {
        let r = &mut self.rooms[room.0 as usize];
        if r.change.is_some() || r.changer_catching_up.is_some() {
            r.queued_changes.push_back((at, RoomChange::Rejoin(user)));
            // Behind as it is, it cannot follow the change under way, which must not wait for
            // it (its rejoin waits for that change).
            let waits_for_it = r.change.and_then(|id| {
                let Some(OpState {
                    data: OpData::Change { awaiting, .. },
                    ..
                }) = self.ops.get_mut(id)
                else {
                    return None;
                };
                (awaiting.remove(&user) && awaiting.is_empty()).then_some(id)
            });
            if let Some(id) = waits_for_it {
                self.finish_op(id, at)?;
            }
            return Ok(());
        }
        self.start_rejoin(at, at, user, room)
    }

    /// Whether a rejoin of `room` by `user` is queued or waiting for a member to make it.
    pub(super) fn rejoin_pending(&self, user: UserId, room: RoomId) -> bool {
        let r = &self.rooms[room.0 as usize];
        r.rejoins_waiting.iter().any(|(_, u)| *u == user)
            || r.queued_changes
                .iter()
                .any(|(_, c)| matches!(c, RoomChange::Rejoin(u) if *u == user))
    }

    /// Starts the rejoin of `who` to `room` asked for at `pressed`, computing from `ready_at`:
    /// an online member that holds the room's current epoch (the lowest id) makes a change that
    /// gives `who` the epoch afresh ([`conclave_schemes::kd::KdClient::rejoin`]); the membership
    /// does not change. Being a continuing member, it also re-keys the room's history and index
    /// into the new epoch, which `who`, having missed epochs, could not. With no such member
    /// online the rejoin waits for one.
    fn start_rejoin(
        &mut self,
        pressed: Nanos,
        ready_at: Nanos,
        who: UserId,
        room: RoomId,
    ) -> Result<(), EngineError> {
        if !self.is_member(who, room) || self.holds_current(who, room) {
            // Removed meanwhile, or brought back already: nothing to do.
            return self.next_change(room, ready_at);
        }
        let Some(by) = self.rejoin_maker(room, who) else {
            let waiting = &mut self.rooms[room.0 as usize].rejoins_waiting;
            if !waiting.iter().any(|(_, u)| *u == who) {
                waiting.push((pressed, who));
            }
            return self.next_change(room, ready_at);
        };
        self.counters
            .key_retention
            .get_or_insert_with(Default::default)
            .rejoins += 1;
        self.run_change(pressed, ready_at, by, room, ChangeKind::Rejoin, who)
    }

    /// Opens the change op of `room` (whose roster is already the one after it) and runs the
    /// side of `by`, the member making it: `subject` joins, leaves or rejoins as `kind` says.
    /// The op waits for the online members but those whose own rejoin is pending (behind, they
    /// cannot follow it).
    fn run_change(
        &mut self,
        pressed: Nanos,
        ready_at: Nanos,
        by: UserId,
        room: RoomId,
        kind: ChangeKind,
        subject: UserId,
    ) -> Result<(), EngineError> {
        let members = self.rooms[room.0 as usize].members.clone();
        let awaiting: BTreeSet<UserId> = members
            .iter()
            .copied()
            .filter(|u| (self.online[u.0 as usize] && !self.rejoin_pending(*u, room)) || *u == by)
            .collect();
        let id = self.ops.insert(OpState::new(
            OpData::Change {
                room,
                kind,
                subject,
                awaiting,
                seen_by_key_server: Vec::new(),
            },
            by,
            Some(room),
            pressed,
        ));
        self.rooms[room.0 as usize].change = Some(id);
        let roster = Roster {
            room,
            members: &members,
        };
        let subjects = std::slice::from_ref(&subject);
        let op = match kind {
            ChangeKind::Join | ChangeKind::Leave => "client.change",
            ChangeKind::Rejoin => "client.rejoin",
        };
        let key = OpKey {
            scheme: self.stack.kd.name(),
            op,
        };
        let mut out = Outbox::new();
        let (h, ns) = self.charge(key, members.len(), |e| {
            let rng = &mut e.user_rng[by.0 as usize];
            let kd = &mut e.stack.kd;
            match kind {
                ChangeKind::Join => kd.change(by, &roster, &Change::Add(subjects), rng, &mut out),
                ChangeKind::Leave => {
                    kd.change(by, &roster, &Change::Remove(subjects), rng, &mut out)
                }
                ChangeKind::Rejoin => kd.rejoin(by, &roster, subject, rng, &mut out),
            }
        })?;
        let h = h.map_err(scheme_err(&self.spec.kd, ready_at, || match kind {
            ChangeKind::Rejoin => format!("{by} rejoining {subject} to {room}"),
            ChangeKind::Join | ChangeKind::Leave => format!("{by} changing {room}"),
        }))?;
        let outputs = self.kd_outputs_from_user(by, room, Some(id), out);
        let done = self.emit(Node::User(by), ready_at, ns, false, Some(id), outputs)?;
        if let Handled::NewEpoch(e) = h {
            self.epoch_reached(by, room, e, done, Some(id))?;
        }
        Ok(())
    }

    /// The member that makes the rejoin of `who` to `room`: the online member with the lowest
    /// id that holds the room's current epoch and has its credentials.
    fn rejoin_maker(&self, room: RoomId, who: UserId) -> Option<UserId> {
        self.rooms[room.0 as usize]
            .members
            .iter()
            .copied()
            .find(|&u| {
                u != who
                    && self.online[u.0 as usize]
                    && self.users[u.0 as usize].keys_pending.is_none()
                    && self.holds_current(u, room)
            })
    }

    /// Starts a change pressed at `pressed`, computing from `ready_at`.
    fn start_change(
        &mut self,
        pressed: Nanos,
        ready_at: Nanos,
        action: Action,
    ) -> Result<(), EngineError> {
        let (join, by, room, subject) = match action {
            Action::Join { by, room, user } => (true, by, room, user),
            Action::Leave { by, room, user } => (false, by, room, user),
            _ => return Ok(()),
        };
        self.rooms[room.0 as usize].changer_catching_up = None;
        if join == self.is_member(subject, room) || !self.is_member(by, room) {
            // The trace is consistent, but waiting for keys can reorder a room's changes.
            self.skip(&action, SkipReason::ChangeNoLongerApplies);
            return self.next_change(room, ready_at);
        }
        if !self.holds_current(by, room) {
            // The changer's terminal has not caught up with the room's latest change (its key
            // traffic is queued or in flight): it makes the change once it has.
            self.rooms[room.0 as usize].changer_catching_up = Some(by);
            self.users[by.0 as usize]
                .waiting
                .entry(room)
                .or_default()
                .push((pressed, action));
            return Ok(());
        }
        let next_msg = self.next_msg;
        let policy = self.policy(room);
        let r = &mut self.rooms[room.0 as usize];
        if join {
            if let Err(pos) = r.members.binary_search(&subject) {
                r.members.insert(pos, subject);
            }
            self.users[subject.0 as usize].rooms.insert(room);
            let from = if policy == HistoryPolicy::Shared {
                MsgId(0)
            } else {
                next_msg
            };
            r.readable_from.insert(subject, from);
        } else {
            r.members.retain(|u| *u != subject);
            self.users[subject.0 as usize].rooms.remove(&room);
            r.readable_from.remove(&subject);
            r.removed.retain(|(u, _, _)| *u != subject);
            r.removed.push((subject, next_msg, 0));
            let last_before = r.epoch;
            let state = &mut self.users[subject.0 as usize];
            state.after_removal.insert(
                room,
                AfterRemoval {
                    last_before,
                    reached: None,
                },
            );
            if r.removed.len() > REMOVED_TRACKED {
                r.removed.remove(0);
            }
        }
        r.roster = r.members.clone().into();
        self.counters.changes += 1;
        let kind = if join {
            ChangeKind::Join
        } else {
            ChangeKind::Leave
        };
        self.run_change(pressed, ready_at, by, room, kind, subject)
    }

    /// `user` holds `epoch` of `room` from `at`: tell its other families, complete the change
    /// op if this was the last member it waited for, and release actions that waited for a key.
    pub(super) fn epoch_reached(
        &mut self,
        user: UserId,
        room: RoomId,
        epoch: Epoch,
        at: Nanos,
        op: Option<OpId>,
    ) -> Result<(), EngineError> {
        let (mut pre_out, mut sse_out) = (Outbox::new(), Outbox::new());
        // The first member to reach an epoch who held the one before re-keys the room's
        // history and index: usually the member who made the change, but with key distribution
        // that completes only when the last member comes online (mkd) it may be offline by then,
        // and a member that rejoins after missing epochs does not hold the one before.
        let continuing = self
            .held_now(user, room)
            .is_some_and(|p| p.0.checked_add(1) == Some(epoch.0))
            && !self.users[user.0 as usize]
                .after_removal
                .contains_key(&room);
        let is_changer = continuing
            && self.rooms[room.0 as usize]
                .rekeyed
                .is_none_or(|done| done < epoch);
        if is_changer {
            self.rooms[room.0 as usize].rekeyed = Some(epoch);
            // The directory names the changer to the servers before its traffic can reach
            // them: they take re-keying traffic into this epoch from it alone.
            let now = self.now;
            self.stack
                .pre
                .name_changer(room, epoch, user)
                .map_err(scheme_err(&self.spec.pre, now, || {
                    format!("naming {user} changer of {room} {epoch}")
                }))?;
            self.stack
                .sse
                .name_changer(room, epoch, user)
                .map_err(scheme_err(&self.spec.sse, now, || {
                    format!("naming {user} changer of {room} {epoch}")
                }))?;
            self.note_changer(room, epoch, user);
        }
        let ns = self.hold_epoch(user, room, epoch, is_changer, &mut pre_out, &mut sse_out)?;

        // Control traffic from the changer becomes a reencrypt op.
        let mut outputs = Vec::new();
        let ctl_count = pre_out.len() + sse_out.len();
        let reencrypt = (is_changer && ctl_count > 0).then(|| {
            self.ops.insert(OpState::new(
                OpData::Reencrypt {
                    room,
                    outstanding: ctl_count as u32,
                },
                user,
                Some(room),
                at,
            ))
        });
        if reencrypt.is_some() {
            self.rooms[room.0 as usize].reencrypting += 1;
        }
        let ctl_op = reencrypt.or(op);
        for (_, packet) in pre_out.drain() {
            outputs.push((
                Node::MessageServer,
                room,
                ctl_op,
                Body::HistoryCtl { packet },
            ));
        }
        for (_, packet) in sse_out.drain() {
            outputs.push((Node::SearchServer, room, ctl_op, Body::SearchCtl { packet }));
        }
        let done = self.emit(Node::User(user), at, ns, false, op, outputs)?;

        // Completion of the change this epoch belongs to.
        if let Some(id) = op {
            let mut finished = false;
            let mut history_for = None;
            if let Some(OpState {
                data:
                    OpData::Change {
                        room: r,
                        awaiting,
                        kind,
                        subject,
                        ..
                    },
                ..
            }) = self.ops.get_mut(id)
            {
                if *r == room {
                    awaiting.remove(&user);
                    finished = awaiting.is_empty();
                    if *kind == ChangeKind::Join && *subject == user {
                        history_for = Some(user);
                    }
                }
            }
            if finished {
                self.finish_op(id, at)?;
            }
            if let Some(joiner) = history_for {
                self.open_history(joiner, room, done)?;
            }
        }
        self.release_waiting(user, room, done)?;
        if !self.rooms[room.0 as usize].rejoins_waiting.is_empty() {
            // It may be the member a waiting rejoin needs.
            self.next_change(room, done)?;
        }
        self.requery_after(user, room, epoch, done)
    }

    /// Records that `user` holds `epoch` of `room` and tells its data-family clients; their
    /// control messages for the servers are left in the outboxes. Returns the compute charged.
    pub(super) fn hold_epoch(
        &mut self,
        user: UserId,
        room: RoomId,
        epoch: Epoch,
        changer: bool,
        pre_out: &mut Outbox<Packet>,
        sse_out: &mut Outbox<Packet>,
    ) -> Result<u64, EngineError> {
        let now = self.now;
        let secret = match self.stack.kd.current(user, room) {
            Some((e, s)) if e == epoch => s.clone(),
            _ => {
                return Err(scheme_err(&self.spec.kd, now, || {
                    format!("{user} in {room}")
                })(SchemeError::Internal(
                    "reported a new epoch it does not hold",
                )))
            }
        };
        let first = self.oracle.secret_of(room, epoch).is_none();
        self.oracle.epoch_secret(room, epoch, &secret, || {
            format!("{user} in {room} at {epoch}")
        });
        if first {
            let known = self
                .stack
                .kd
                .server_known_secret(room)
                .is_some_and(|(e, s)| e == epoch && *s == secret);
            self.oracle.check(Property::KeyServerBlind, !known, || {
                format!(
                    "the key server holds the secret of {room} {epoch} (t={:.3} ms)",
                    now as f64 / 1e6
                )
            });
        }
        let current = &mut self.rooms[room.0 as usize].epoch;
        if current.is_none_or(|c| c < epoch) {
            *current = Some(epoch);
        }
        let prev = self.held_now(user, room);
        if prev.is_some_and(|p| p >= epoch) {
            return Err(scheme_err(&self.spec.kd, now, || {
                format!("{user} in {room}")
            })(SchemeError::Internal(
                "reported an epoch no later than one it held",
            )));
        }
        let state = &mut self.users[user.0 as usize];
        // A member removed and added again enters as a joiner, whatever key it kept; so does one
        // that skips epochs (a continuing member holds every epoch of the room in turn): a key
        // message of an earlier membership, processed late from the mailbox, gave it that key.
        let removed = state.after_removal.remove(&room).is_some();
        let skipped = prev.is_some_and(|p| p.0.checked_add(1) != Some(epoch.0));
        let prev = if removed || skipped { None } else { prev };
        if prev.is_none() {
            state.joined_at.insert(room, epoch);
        }
        self.rooms[room.0 as usize]
            .held
            .entry(user)
            .or_default()
            .insert(epoch);
        let u = user.0 as usize;
        let next = KeyView {
            room,
            epoch,
            secret: &secret,
        };
        let prev_secret = prev.and_then(|p| self.oracle.secret_of(room, p).map(|s| (p, s.clone())));
        let prev_view = prev_secret.as_ref().map(|(e, s)| KeyView {
            room,
            epoch: *e,
            secret: s,
        });
        let change = EpochChange {
            prev: prev_view,
            next,
            changer,
            shares_history: self.policy(room) == HistoryPolicy::Shared,
        };
        let key = OpKey {
            scheme: self.stack.pre.name(),
            op: "epoch_changed",
        };
        let (r, pre_ns) = self.charge(key, 1, |e| {
            e.stack
                .pre
                .epoch_changed(user, change, &mut e.user_rng[u], pre_out)
        })?;
        r.map_err(scheme_err(&self.spec.pre, now, || {
            format!("{user} entering {epoch} of {room}")
        }))?;
        let key = OpKey {
            scheme: self.stack.sse.name(),
            op: "epoch_changed",
        };
        let (r, sse_ns) = self.charge(key, 1, |e| {
            e.stack
                .sse
                .epoch_changed(user, change, &mut e.user_rng[u], sse_out)
        })?;
        r.map_err(scheme_err(&self.spec.sse, now, || {
            format!("{user} entering {epoch} of {room}")
        }))?;
        Ok(pre_ns + sse_ns)
    }

    /// Runs actions that waited for `user` to hold a key for `room`.
    fn release_waiting(
        &mut self,
        user: UserId,
        room: RoomId,
        at: Nanos,
    ) -> Result<(), EngineError> {
        let Some(waiting) = self.users[user.0 as usize].waiting.remove(&room) else {
            return Ok(());
        };
        for (pressed, action) in waiting {
            match action {
                Action::Send {
                    user,
                    room,
                    msg,
                    body,
                    keywords,
                    ..
                } if self.is_member(user, room) => {
                    self.send_message_from(pressed, at, user, room, msg, body, keywords)?;
                }
                Action::Search {
                    user,
                    room,
                    keyword,
                } if self.is_member(user, room) => {
                    self.search_from(pressed, at, user, room, keyword)?;
                }
                Action::Preload {
                    user,
                    room,
                    msg,
                    body,
                    keywords,
                    ..
                } if self.is_member(user, room) => {
                    self.preload_message(user, room, msg, body, keywords)?;
                }
                Action::Join { .. } | Action::Leave { .. } => {
                    self.start_change(pressed, at, action)?
                }
                Action::Send { .. } | Action::Search { .. } => {
                    self.skip(&action, SkipReason::NotMemberAnyMore);
                }
                // A preload is not an op (its count is in the counters), and sessions and key
                // periods never wait for a room's key.
                Action::Preload { .. }
                | Action::Login { .. }
                | Action::Logout { .. }
                | Action::KeyPeriod { .. } => {}
            }
        }
        Ok(())
    }

    /// The change of `room` is complete: check what the key server saw, start the next one.
    pub(super) fn change_done(
        &mut self,
        room: RoomId,
        at: Nanos,
        seen: &[Packet],
    ) -> Result<(), EngineError> {
        let mut exposed = false;
        for p in seen {
            p.visit_bytes(&mut |b| exposed |= self.oracle.contains_secret(room, b));
        }
        self.oracle.check(Property::KeyServerBlind, !exposed, || {
            format!("an epoch secret of {room} travelled in the clear through the key server (t={:.3} ms)", at as f64 / 1e6)
        });
        self.rooms[room.0 as usize].change = None;
        self.next_change(room, at)
    }

    pub(super) fn next_change(&mut self, room: RoomId, at: Nanos) -> Result<(), EngineError> {
        let r = &self.rooms[room.0 as usize];
        if r.change.is_some() || r.changer_catching_up.is_some() {
            return Ok(());
        }
        // A rejoin that waited for a member to make it goes first, once one is online.
        let waiting = &self.rooms[room.0 as usize].rejoins_waiting;
        if let Some(i) =
            (0..waiting.len()).find(|&i| self.rejoin_maker(room, waiting[i].1).is_some())
        {
            let (pressed, who) = self.rooms[room.0 as usize].rejoins_waiting.remove(i);
            return self.start_rejoin(pressed, at.max(self.now), who, room);
        }
        match self.rooms[room.0 as usize].queued_changes.pop_front() {
            Some((pressed, RoomChange::Workload(action))) => {
                self.start_change(pressed, at.max(self.now), action)?;
            }
            Some((pressed, RoomChange::Rejoin(user))) => {
                self.start_rejoin(pressed, at.max(self.now), user, room)?;
            }
            None => {}
        }
        Ok(())
    }

    /// A user's session ended: changes stop waiting for it.
    pub(super) fn presence_changed(&mut self, user: UserId, at: Nanos) -> Result<(), EngineError> {
        let done: Vec<OpId> = self
            .ops
            .changes_mut()
            .filter_map(|(id, s)| match &mut s.data {
                OpData::Change { awaiting, .. } => {
                    (awaiting.remove(&user) && awaiting.is_empty()).then_some(id)
                }
                _ => None,
            })
            .collect();
        for id in done {
            self.finish_op(id, at)?;
        }
        Ok(())
    }
}
