//! Messages: send, store, deliver and receive; fetching stored messages; history for joiners;
//! control traffic of the data families; and the oracle's checks on stored messages.

use std::sync::Arc;

use conclave_schemes::erased::Packet;
use conclave_schemes::pre::KeyView;
use conclave_schemes::{Dest, MsgId, Opened as SchemeOpened, Outbox, RoomId, SchemeError, UserId};

use super::ops::{OpData, OpState};
use super::{scheme_err, Body, Engine, EngineError, Envelope, MsgRecord, Node, OpId};
use crate::cost::OpKey;
use crate::metrics::{Op, Party, Sample};
use crate::oracle::{Adversary, Property};
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
}

/// Post-removal messages tried against each removed member.
const REMOVED_TRIES: u32 = 3;
/// Stored records per room tried in the storage-breach experiment.
const BREACH_TRIES: usize = 5;

impl Engine<'_> {
    /// Sends a message pressed at `pressed`, computing from `ready_at`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn send_message_from(
        &mut self,
        pressed: Nanos,
        ready_at: Nanos,
        user: UserId,
        room: RoomId,
        msg: MsgId,
        body: Arc<[u8]>,
        keywords: Arc<[String]>,
    ) -> Result<(), EngineError> {
        let Some((epoch, secret)) = self.key_of(user, room) else {
            return Ok(());
        };
        let key = KeyView {
            room,
            epoch,
            secret: &secret,
        };
        let (sealed, index, ns) =
            self.seal_and_index(user, key, msg, &body, &keywords, ready_at)?;
        self.rooms[room.0 as usize].messages.insert(
            msg,
            MsgRecord {
                id: msg,
                sender: user,
                pressed,
                epoch,
                body,
                keywords,
                stored: false,
            },
        );
        self.counters.messages += 1;
        let op = self.ops.insert(OpState::new(OpData::Send, user, pressed));
        let outputs = vec![(
            Node::MessageServer,
            room,
            Some(op),
            Body::Upload { msg, sealed, index },
        )];
        self.emit(Node::User(user), ready_at, ns, false, Some(op), outputs)?;
        Ok(())
    }

    /// The sender's side of a message: the key-distribution layer's protection if the scheme
    /// has one, the history scheme's seal and the search scheme's index update, with the
    /// compute they cost.
    fn seal_and_index(
        &mut self,
        user: UserId,
        key: KeyView<'_>,
        msg: MsgId,
        body: &[u8],
        keywords: &[String],
        at: Nanos,
    ) -> Result<(Packet, Packet, u64), EngineError> {
        let room = key.room;
        let u = user.0 as usize;
        // Schemes with their own per-message layer (Sender Keys) protect the body first.
        let mut layer_ns = 0;
        let protected = if self.stack.kd.message_layer(user).is_some() {
            let k = OpKey {
                scheme: self.stack.kd.name(),
                op: "protect",
            };
            let (p, ns) = self.charge(k, body.len(), |e| match e.stack.kd.message_layer(user) {
                Some(layer) => layer.protect(room, body, &mut e.user_rng[u]),
                None => Err(SchemeError::Internal("the message layer vanished")),
            })?;
            layer_ns = ns;
            Some(p.map_err(scheme_err(&self.spec.kd, at, || {
                format!("{user} protecting {msg}")
            }))?)
        } else {
            None
        };
        let plaintext: &[u8] = protected.as_deref().unwrap_or(body);
        let k = OpKey {
            scheme: self.stack.pre.name(),
            op: "seal",
        };
        let (sealed, seal_ns) = self.charge(k, plaintext.len(), |e| {
            e.stack
                .pre
                .seal(user, key, msg, plaintext, &mut e.user_rng[u])
        })?;
        let sealed = sealed.map_err(scheme_err(&self.spec.pre, at, || {
            format!("{user} sealing {msg}")
        }))?;
        let refs: Vec<&str> = keywords.iter().map(String::as_str).collect();
        let k = OpKey {
            scheme: self.stack.sse.name(),
            op: "index",
        };
        let (index, index_ns) = self.charge(k, refs.len(), |e| {
            e.stack.sse.index(user, key, msg, &refs, &mut e.user_rng[u])
        })?;
        let index = index.map_err(scheme_err(&self.spec.sse, at, || {
            format!("{user} indexing {msg}")
        }))?;
        Ok((sealed, index, layer_ns + seal_ns + index_ns))
    }

    /// A message the room held before the run: sealed by `user` with its key and stored and
    /// indexed on the servers directly. Nothing is timed or charged, nobody receives it; it is
    /// history (joiners read it, re-encryption and search cover it, the oracle scans it).
    pub(super) fn preload_message(
        &mut self,
        user: UserId,
        room: RoomId,
        msg: MsgId,
        body: Arc<[u8]>,
        keywords: Arc<[String]>,
    ) -> Result<(), EngineError> {
        let Some((epoch, secret)) = self.key_of(user, room) else {
            return Ok(());
        };
        let key = KeyView {
            room,
            epoch,
            secret: &secret,
        };
        // Charged like a send, but the charge is dropped: preloaded history costs no time.
        let (sealed, index, _) = self.seal_and_index(user, key, msg, &body, &keywords, 0)?;
        let context = || format!("{user} preloading {msg} into {room}");
        self.oracle.scan(&sealed, || {
            format!("preloaded message {msg} stored in {room}")
        });
        self.oracle
            .scan(&index, || format!("the index update of preloaded {msg}"));
        self.stack
            .pre
            .store(room, msg, &sealed)
            .map_err(scheme_err(&self.spec.pre, 0, context))?;
        self.stack
            .sse
            .apply(room, index)
            .map_err(scheme_err(&self.spec.sse, 0, context))?;
        self.rooms[room.0 as usize].messages.insert(
            msg,
            MsgRecord {
                id: msg,
                sender: user,
                pressed: 0,
                epoch,
                body,
                keywords,
                stored: true,
            },
        );
        self.note_indexed(room, msg);
        self.counters.preloaded += 1;
        Ok(())
    }

    pub(super) fn message_server_receives(&mut self, env: Envelope) -> Result<(), EngineError> {
        match env.body {
            Body::Upload { .. } => self.store(env),
            Body::Fetch { .. } => self.serve_fetch(env),
            Body::HistoryCtl { .. } => self.ctl_at_server(Node::MessageServer, env),
            Body::LoginRequest => self.serve_login(env),
            _ => Ok(()),
        }
    }

    fn store(&mut self, env: Envelope) -> Result<(), EngineError> {
        let Body::Upload {
            msg,
            ref sealed,
            ref index,
        } = env.body
        else {
            return Ok(());
        };
        let (sealed, index) = (sealed.clone(), index.clone());
        let (now, room) = (self.now, env.room);
        let Node::User(sender) = env.from else {
            return Ok(());
        };
        let open_ns = self.receive_cost(&env)?;
        self.oracle
            .scan(&sealed, || format!("{msg} stored in {room}"));
        self.oracle
            .scan(&index, || format!("the index update of {msg}"));
        // A late record may be re-encrypted at store, data-parallel: a server job.
        let units = sealed.wire_len() as u64;
        let (r, store_ns) = self.charge_server_job(self.stack.pre.name(), |e| {
            (e.stack.pre.store(room, msg, &sealed), "store", units)
        })?;
        r.map_err(scheme_err(&self.spec.pre, now, || format!("storing {msg}")))?;
        if let Some(rec) = self.rooms[room.0 as usize].messages.get_mut(&msg) {
            rec.stored = true;
        }
        // Members receive the record as the server hands it to readers (with whatever it
        // attaches, such as the current wrap of its message key).
        let sealed = self.stack.pre.stored(room, msg).unwrap_or(sealed);
        self.removed_member_checks(room, msg, &sealed)?;

        let mut outputs = vec![
            (Node::User(sender), room, env.op, Body::Ack { msg }),
            (
                Node::SearchServer,
                room,
                None,
                Body::IndexUpdate { msg, index },
            ),
        ];
        for k in 0..self.rooms[room.0 as usize].members.len() {
            let m = self.rooms[room.0 as usize].members[k];
            if m != sender && self.users[m.0 as usize].online {
                outputs.push((
                    Node::User(m),
                    room,
                    None,
                    Body::Deliver {
                        msg,
                        sealed: sealed.clone(),
                    },
                ));
            }
        }
        self.emit(
            Node::MessageServer,
            now,
            open_ns + store_ns,
            false,
            env.op,
            outputs,
        )?;
        Ok(())
    }

    pub(super) fn ack_at_user(
        &mut self,
        user: UserId,
        env: Envelope,
        _msg: MsgId,
    ) -> Result<(), EngineError> {
        let open_ns = self.receive_cost(&env)?;
        let done = self.emit(
            Node::User(user),
            self.now,
            open_ns,
            false,
            env.op,
            Vec::new(),
        )?;
        if let Some(op) = env.op {
            self.finish_op(op, done)?;
        }
        Ok(())
    }

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
        let Some(rec_epoch) = self.rooms[room.0 as usize]
            .messages
            .get(&msg)
            .map(|r| r.epoch)
        else {
            return Ok(ReadOutcome::default());
        };
        if !self.users[u].held.contains_key(&room) {
            return Ok(ReadOutcome::default());
        }
        let k = OpKey {
            scheme: self.stack.pre.name(),
            op: "open",
        };
        let (r, ns) = self.charge(k, sealed.wire_len(), |e| match e.users[u].held.get(&room) {
            Some((epoch, secret)) => {
                let key = KeyView {
                    room,
                    epoch: *epoch,
                    secret,
                };
                e.stack.pre.open(user, key, msg, sealed)
            }
            None => Err(SchemeError::Internal("the key vanished")),
        })?;
        // What the history layer gave goes through the key-distribution scheme's own
        // per-message layer, if it has one (Sender Keys).
        let history_pending = matches!(r, Ok(SchemeOpened::Pending { .. }));
        let (r, ns) = match r {
            Ok(SchemeOpened::Plaintext(pt)) if self.stack.kd.message_layer(user).is_some() => {
                let sender = self.rooms[room.0 as usize]
                    .messages
                    .get(&msg)
                    .map_or(user, |m| m.sender);
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
        let ok = matches!((&r, self.rooms[room.0 as usize].messages.get(&msg)), (Ok(SchemeOpened::Plaintext(pt)), Some(m)) if pt[..] == m.body[..]);
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

    /// At the end of the run, messages that never became readable are failures.
    pub(super) fn unreadable_at_end(&mut self) {
        for u in 0..self.users.len() {
            for (room, msg, _) in std::mem::take(&mut self.users[u].parked) {
                let origin = self.rooms[room.0 as usize]
                    .messages
                    .get(&msg)
                    .map(|r| (r.sender, r.epoch));
                let held = origin.is_some_and(|(_, e)| self.held_epoch(UserId(u as u32), room, e));
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

    pub(super) fn deliver_at_user(
        &mut self,
        user: UserId,
        env: Envelope,
    ) -> Result<(), EngineError> {
        let Body::Deliver { msg, ref sealed } = env.body else {
            return Ok(());
        };
        let sealed = sealed.clone();
        let room = env.room;
        let open_ns = self.receive_cost(&env)?;
        if !self.is_member(user, room) {
            // Removed while the message was in flight: the server no longer owes it.
            return Ok(());
        }
        let ReadOutcome {
            ns,
            parked,
            before_join,
        } = self.open_and_check(user, room, msg, &sealed)?;
        let done = self.emit(
            Node::User(user),
            self.now,
            open_ns + ns,
            false,
            None,
            Vec::new(),
        )?;
        if let Some(pressed) = self.rooms[room.0 as usize]
            .messages
            .get(&msg)
            .filter(|_| !parked && !before_join)
            .map(|r| r.pressed)
        {
            let mut cpu = [0; 4];
            cpu[Party::Client.index()] = open_ns + ns;
            let bytes_down = conclave_schemes::channel::wire_len(env.body.wire_len()) as u64;
            self.record(
                Op::Receive,
                Sample {
                    latency_ns: done.saturating_sub(pressed),
                    bytes_up: 0,
                    bytes_down,
                    rounds: 0,
                    cpu_ns: cpu,
                },
            );
        }
        Ok(())
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

    fn serve_fetch(&mut self, env: Envelope) -> Result<(), EngineError> {
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
                if self.users[joiner.0 as usize].online {
                    let op = self.ops.insert(OpState::new(OpData::History, joiner, at));
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

    fn held_epoch(&self, user: UserId, room: RoomId, epoch: conclave_schemes::Epoch) -> bool {
        self.users[user.0 as usize]
            .epochs
            .get(&room)
            .is_some_and(|s| s.contains(&epoch))
    }

    /// Whether `user`'s history client opens a stored record to its true plaintext with the key
    /// it holds, or whether a fresh client holding only `key` (an adversary's) does: an
    /// experiment never teaches the run's own clients a key. Oracle work: not charged.
    fn try_open(
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
    fn removed_member_checks(
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
        for (i, user) in candidates {
            if self.is_member(user, room) {
                continue;
            }
            // Sealed under an epoch the removed member held: its removal had not taken effect
            // for the sender yet (key distribution still under way), so it is not a message
            // the removal protects.
            if sealed_in.is_some_and(|e| self.held_epoch(user, room, e)) {
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
            let server_key = self
                .stack
                .kd
                .server_known_secret(room)
                .map(|(e, s)| (e, s.clone()));
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
            for id in ids {
                let Some(p) = self.stack.pre.stored(room, id) else {
                    continue;
                };
                let exposed =
                    self.try_open(self.adversary, room, id, &p, Some((old, secret.clone())));
                self.oracle.adversary(Adversary::StorageBreachOldKey, exposed, || {
                    if exposed {
                        format!("{id} of {room}, stored under {old}, opens with that epoch's secret after the room moved on")
                    } else {
                        format!("{id} of {room}, stored under {old}, no longer opens with that epoch's secret after the room moved on")
                    }
                });
            }
        }
        Ok(())
    }

    // -----------------------------------------------------------------------------------------
    // Control traffic of the data families (re-keying, re-encryption)

    pub(super) fn ctl_at_server(&mut self, node: Node, env: Envelope) -> Result<(), EngineError> {
        let (packet, history) = match env.body {
            Body::HistoryCtl { ref packet } => (packet.clone(), true),
            Body::SearchCtl { ref packet } => (packet.clone(), false),
            _ => return Ok(()),
        };
        let Node::User(from) = env.from else {
            return Ok(());
        };
        let (now, room) = (self.now, env.room);
        let open_ns = self.receive_cost(&env)?;
        self.oracle.scan(&packet, || {
            format!("control traffic from {from} about {room}")
        });
        let scheme = if history {
            self.stack.pre.name()
        } else {
            self.stack.sse.name()
        };
        let mut out = Outbox::new();
        let (work, ns) = self.charge_server_job(scheme, |e| {
            let r = if history {
                e.stack
                    .pre
                    .server_handle(room, from, packet, &mut e.server_rng[1], &mut out)
            } else {
                e.stack
                    .sse
                    .server_handle(room, from, packet, &mut e.server_rng[2], &mut out)
            };
            let (op, units) = r.as_ref().map_or(("server.handle", 0), |w| (w.op, w.units));
            (r, op, units)
        })?;
        let work = work.map_err(scheme_err(scheme, now, || {
            format!("server handling control traffic about {room}")
        }))?;
        let mut outputs = Vec::new();
        for (dest, p) in out.drain() {
            self.oracle
                .scan(&p, || format!("control traffic from a server about {room}"));
            let users = match dest {
                Dest::User(v) => vec![v],
                Dest::Users(vs) => vs,
                Dest::Server => {
                    return Err(scheme_err(scheme, now, || "server".to_owned())(
                        SchemeError::Internal("a server addressed a message to itself"),
                    ))
                }
            };
            for v in users {
                let body = if history {
                    Body::HistoryCtl { packet: p.clone() }
                } else {
                    Body::SearchCtl { packet: p.clone() }
                };
                outputs.push((Node::User(v), room, env.op, body));
            }
        }
        let sent = outputs.len();
        let done = self.emit(node, now, open_ns + ns, work.parallel, env.op, outputs)?;
        if !history && !self.rooms[room.0 as usize].pending_queries.is_empty() {
            self.answer_pending_queries(room)?;
        }
        self.ctl_step(env.op, sent, done)
    }

    pub(super) fn ctl_at_user(&mut self, user: UserId, env: Envelope) -> Result<(), EngineError> {
        let (packet, history) = match env.body {
            Body::HistoryCtl { ref packet } => (packet.clone(), true),
            Body::SearchCtl { ref packet } => (packet.clone(), false),
            _ => return Ok(()),
        };
        let (now, room) = (self.now, env.room);
        let open_ns = self.receive_cost(&env)?;
        let Some((epoch, secret)) = self.key_of(user, room) else {
            return self.ctl_step(env.op, 0, now);
        };
        let key = KeyView {
            room,
            epoch,
            secret: &secret,
        };
        let u = user.0 as usize;
        let scheme = if history {
            self.stack.pre.name()
        } else {
            self.stack.sse.name()
        };
        let mut out = Outbox::new();
        let (r, ns) = self.charge(
            OpKey {
                scheme,
                op: "client.handle",
            },
            packet.wire_len(),
            |e| {
                if history {
                    e.stack
                        .pre
                        .client_handle(user, key, &packet, &mut e.user_rng[u], &mut out)
                } else {
                    e.stack
                        .sse
                        .client_handle(user, key, &packet, &mut e.user_rng[u], &mut out)
                }
            },
        )?;
        r.map_err(scheme_err(scheme, now, || {
            format!("{user} handling control traffic about {room}")
        }))?;
        // History traffic may carry what a parked message was waiting for (a back-chain).
        let retry_ns = if history && !self.users[u].parked.is_empty() {
            self.retry_parked(user)?
        } else {
            0
        };
        let target = if history {
            Node::MessageServer
        } else {
            Node::SearchServer
        };
        let outputs: Vec<_> = out
            .drain()
            .map(|(_, p)| {
                let body = if history {
                    Body::HistoryCtl { packet: p }
                } else {
                    Body::SearchCtl { packet: p }
                };
                (target, room, env.op, body)
            })
            .collect();
        let sent = outputs.len();
        let done = self.emit(
            Node::User(user),
            now,
            open_ns + ns + retry_ns,
            false,
            env.op,
            outputs,
        )?;
        self.ctl_step(env.op, sent, done)
    }

    /// One control message of a reencrypt op was handled at `done`, sending `sent` more. When
    /// the last one is done the room's history is re-protected: terminals holding history they
    /// could not open yet fetch it again.
    fn ctl_step(&mut self, op: Option<OpId>, sent: usize, done: Nanos) -> Result<(), EngineError> {
        let Some(id) = op else { return Ok(()) };
        let finished = match self.ops.get_mut(id) {
            Some(OpState {
                data: OpData::Reencrypt { room, outstanding },
                ..
            }) => {
                *outstanding = (*outstanding + sent as u32).saturating_sub(1);
                (*outstanding == 0).then_some(*room)
            }
            _ => None,
        };
        if let Some(room) = finished {
            let r = &mut self.rooms[room.0 as usize];
            r.reencrypting = r.reencrypting.saturating_sub(1);
            self.finish_op(id, done)?;
            self.refetch_parked(room, done)?;
        }
        Ok(())
    }

    /// Every terminal with parked records of `room` fetches their current version and tries
    /// again (charged as opening them; the fetch itself is not modelled).
    fn refetch_parked(&mut self, room: RoomId, at: Nanos) -> Result<(), EngineError> {
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
}
