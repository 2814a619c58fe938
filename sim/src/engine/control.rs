//! Control traffic of the data families: re-keying and re-encryption messages between terminals
//! and the message and search servers, and the reencrypt op they make up.

use conclave_schemes::pre::KeyView;
use conclave_schemes::{Dest, Outbox, SchemeError, UserId};

use super::ops::{OpData, OpState};
use super::{scheme_err, Body, Engine, EngineError, Envelope, Node, OpId};
use crate::cost::OpKey;
use crate::scenario::Nanos;

impl Engine<'_> {
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
        self.impostor_rekey(room, from, &packet, history);
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
            // A failure is not charged: it is reported below as the scheme's error, which
            // charging it under an operation the table does not know would hide.
            let (op, units) = r.as_ref().map_or(("", 0), |w| (w.op, w.units));
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
}
