//! Chat messages: sending, storing and delivering them (and preloading a room's history).

use std::sync::Arc;

use conclave_schemes::erased::Packet;
use conclave_schemes::pre::KeyView;
use conclave_schemes::{MsgId, RoomId, SchemeError, UserId};

use super::history::ReadOutcome;
use super::ops::{OpData, OpState};
use super::{scheme_err, Body, Engine, EngineError, Envelope, MsgRecord, Node};
use crate::cost::OpKey;
use crate::metrics::{Op, Party, Sample, PARTIES};
use crate::scenario::Nanos;

impl Engine<'_> {
    /// Records a message of `room` in the ground truth, keeping the largest id recorded (for
    /// [`unused_msg_id`](Self::unused_msg_id), which would otherwise scan every room).
    fn record_message(&mut self, room: RoomId, rec: MsgRecord) {
        self.last_recorded_msg = self.last_recorded_msg.max(Some(rec.id));
        self.rooms[room.0 as usize].messages.insert(rec.id, rec);
    }

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
        self.record_message(
            room,
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
        let op = self
            .ops
            .insert(OpState::new(OpData::Send, user, Some(room), pressed));
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
        self.record_message(
            room,
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

    pub(super) fn store(&mut self, env: Envelope) -> Result<(), EngineError> {
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
        self.note_first_version(room, msg, &sealed);
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
            if m != sender && self.online[m.0 as usize] {
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
            pressed,
        } = self.open_and_check(user, room, msg, &sealed)?;
        let done = self.emit(
            Node::User(user),
            self.now,
            open_ns + ns,
            false,
            None,
            Vec::new(),
        )?;
        if let Some(pressed) = pressed.filter(|_| !parked && !before_join) {
            let mut cpu = [0; PARTIES];
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
                    room_size: Some(self.rooms[room.0 as usize].members.len() as u64),
                    history: None,
                },
            );
        }
        Ok(())
    }
}
