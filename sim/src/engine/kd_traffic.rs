//! Key-distribution traffic: users' key messages through the key server, relaying or queueing
//! them for offline users, and terminals processing them.

use std::sync::Arc;

use conclave_schemes::erased::Packet;
use conclave_schemes::kd::{Handled, Origin, Roster, ServerHandled};
use conclave_schemes::{Dest, Outbox, RoomId, SchemeError, UserId};

use super::ops::{OpData, OpState};
use super::{scheme_err, Body, Engine, EngineError, Envelope, KdMail, Node, OpId};
use crate::cost::OpKey;
#[cfg(doc)]
use crate::oracle::Property;
use crate::scenario::Nanos;

impl Engine<'_> {
    /// Envelopes for a user's key-distribution outputs (everything goes through the key server).
    pub(super) fn kd_outputs_from_user(
        &self,
        user: UserId,
        room: RoomId,
        op: Option<OpId>,
        mut out: Outbox<Packet>,
    ) -> Vec<(Node, RoomId, Option<OpId>, Body)> {
        let roster = &self.rooms[room.0 as usize].roster;
        out.drain()
            .map(|(dest, packet)| {
                let relay = match dest {
                    Dest::Server => Vec::new(),
                    Dest::User(v) => vec![v],
                    Dest::Users(vs) => vs,
                };
                (
                    Node::KeyServer,
                    room,
                    op,
                    Body::Kd {
                        packet,
                        origin: Origin::User(user),
                        relay,
                        roster: Arc::clone(roster),
                    },
                )
            })
            .collect()
    }

    pub(super) fn key_server_receives(&mut self, env: Envelope) -> Result<(), EngineError> {
        let Body::Kd {
            ref packet,
            origin: Origin::User(from),
            ref relay,
            ref roster,
        } = env.body
        else {
            return Ok(());
        };
        let (packet, relay, sent_roster) = (packet.clone(), relay.clone(), Arc::clone(roster));
        let now = self.now;
        let room = env.room;
        let open_ns = self.receive_cost(&env)?;
        self.oracle.scan(&packet, || {
            format!("a key-distribution message from {from} about {room}")
        });
        self.observe_key_server(env.op, room, &packet, &relay);
        let mut targets: Vec<(UserId, Origin, Packet, Arc<[UserId]>)> = Vec::new();
        let mut work_ns = 0;
        if relay.is_empty() {
            let members = self.rooms[room.0 as usize].members.clone();
            let roster = Roster {
                room,
                members: &members,
            };
            let key = OpKey {
                scheme: self.stack.kd.name(),
                op: "server.handle",
            };
            let mut out = Outbox::new();
            let (r, ns) = self.charge(key, members.len(), |e| {
                e.stack
                    .kd
                    .server_handle(&roster, from, packet, &mut e.server_rng[0], &mut out)
            })?;
            let handled = r.map_err(scheme_err(&self.spec.kd, now, || {
                format!("key server handling {from}'s message about {room}")
            }))?;
            if handled == ServerHandled::Stale {
                self.counters.kd_stale += 1;
            }
            work_ns = ns;
            for (dest, p) in out.drain() {
                self.oracle.scan(&p, || {
                    format!("a key-distribution message from the key server about {room}")
                });
                let recipients = match &dest {
                    Dest::User(v) => std::slice::from_ref(v),
                    Dest::Users(vs) => vs.as_slice(),
                    Dest::Server => &[],
                };
                self.observe_key_server(env.op, room, &p, recipients);
                let roster = Arc::clone(&self.rooms[room.0 as usize].roster);
                match dest {
                    Dest::User(v) => targets.push((v, Origin::Server, p, roster)),
                    Dest::Users(vs) => targets.extend(
                        vs.into_iter()
                            .map(|v| (v, Origin::Server, p.clone(), Arc::clone(&roster))),
                    ),
                    Dest::Server => {
                        return Err(scheme_err(&self.spec.kd, now, || "key server".to_owned())(
                            SchemeError::Internal("the key server addressed a message to itself"),
                        ))
                    }
                }
            }
        } else {
            targets.extend(relay.into_iter().map(|v| {
                (
                    v,
                    Origin::User(from),
                    packet.clone(),
                    Arc::clone(&sent_roster),
                )
            }));
        }
        let mut outputs = Vec::new();
        for (v, origin, packet, roster) in targets {
            if self.online[v.0 as usize] {
                outputs.push((
                    Node::User(v),
                    room,
                    env.op,
                    Body::Kd {
                        packet,
                        origin,
                        relay: Vec::new(),
                        roster,
                    },
                ));
            } else {
                self.users[v.0 as usize].mailbox.push((
                    now,
                    env.op,
                    KdMail {
                        room,
                        origin,
                        packet,
                        roster,
                    },
                ));
            }
        }
        self.emit(
            Node::KeyServer,
            now,
            open_ns + work_ns,
            false,
            env.op,
            outputs,
        )?;
        Ok(())
    }

    /// Keeps `p`, which the key server relays or sends to `recipients`, with the change it
    /// belongs to, and lets each recipient's authority try its escrow on it.
    fn observe_key_server(
        &mut self,
        op: Option<OpId>,
        room: RoomId,
        p: &Packet,
        recipients: &[UserId],
    ) {
        if let Some(OpState {
            data: OpData::Change {
                seen_by_key_server, ..
            },
            ..
        }) = op.and_then(|id| self.ops.get_mut(id))
        {
            seen_by_key_server.push(p.clone());
        }
        for &to in recipients {
            self.escrow_from(room, p, to);
        }
    }

    /// The authority of `to`'s organisation, if it escrows (an identity-based KMS), derives the
    /// epoch secret from `p`, a message to `to` that the key server relays: kept as what the
    /// KMS holds once it equals the members' secret of that epoch (a derivation that does not
    /// match is not believed). Oracle work: not charged.
    fn escrow_from(&mut self, room: RoomId, p: &Packet, to: UserId) {
        let r = room.0 as usize;
        if self.rooms[r].escrowed.as_ref().map(|(e, _)| *e) >= self.rooms[r].epoch {
            return;
        }
        let Some(Ok((epoch, secret))) = self.stack.kd.authority_escrow(to, room, p) else {
            return;
        };
        let escrowed = self.rooms[r].escrowed.as_ref().map(|(e, _)| *e);
        if escrowed < Some(epoch) && self.oracle.secret_of(room, epoch) == Some(&secret) {
            self.rooms[r].escrowed = Some((epoch, secret));
        }
    }

    pub(super) fn kd_at_user(&mut self, user: UserId, env: Envelope) -> Result<(), EngineError> {
        let Body::Kd {
            ref packet,
            origin,
            ref roster,
            ..
        } = env.body
        else {
            return Ok(());
        };
        let mail = KdMail {
            room: env.room,
            origin,
            packet: packet.clone(),
            roster: Arc::clone(roster),
        };
        let open_ns = self.receive_cost(&env)?;
        if let Some(early) = self.users[user.0 as usize].restoring.as_mut() {
            // The login's mailbox holds earlier messages of the key server: this one waits for it.
            early.push((env.op, mail));
            return self
                .emit(
                    Node::User(user),
                    self.now,
                    open_ns,
                    false,
                    env.op,
                    Vec::new(),
                )
                .map(|_| ());
        }
        self.kd_process(user, env.op, &mail, self.now, open_ns)
    }

    /// A user's terminal processes one key-distribution message at `now` (after `pre_ns` of
    /// other work); returns when it is done.
    pub(super) fn kd_process(
        &mut self,
        user: UserId,
        op: Option<OpId>,
        mail: &KdMail,
        now: Nanos,
        pre_ns: u64,
    ) -> Result<(), EngineError> {
        if self.users[user.0 as usize].keys_pending.is_some() {
            // It may need the credentials being fetched.
            self.users[user.0 as usize]
                .key_wait
                .push((op, mail.clone()));
            return Ok(());
        }
        let KdMail {
            room,
            origin,
            ref packet,
            roster: ref members,
        } = *mail;
        if !self.is_member(user, room) {
            // Removed while the message was in flight: nothing for it to do any more. If it was
            // sent to the user as a member, what it carried for that membership is lost.
            if members.binary_search(&user).is_ok() {
                self.key_traffic_lost_to_removal(user, room);
            }
            self.counters.kd_stale += 1;
            self.removed_member_listens(user, mail);
            return Ok(());
        }
        self.note_kd_relayed(mail);
        let roster = Roster { room, members };
        let key = OpKey {
            scheme: self.stack.kd.name(),
            op: "client.handle",
        };
        let mut out = Outbox::new();
        let (h, ns) = self.charge(key, members.len(), |e| {
            let rng = &mut e.user_rng[user.0 as usize];
            e.stack
                .kd
                .client_handle(user, &roster, origin, packet, rng, &mut out)
        })?;
        let h = h.map_err(scheme_err(&self.spec.kd, now, || {
            format!("{user} handling a message about {room}")
        }))?;
        if h == Handled::Stale {
            // A message a later change overtook: the client dropped it, as real clients do.
            self.counters.kd_stale += 1;
            self.emit(Node::User(user), now, pre_ns + ns, false, op, Vec::new())?;
            return Ok(());
        }
        // A reply to a queued message (op None) has no op to belong to; it still travels.
        let outputs = self.kd_outputs_from_user(user, room, op, out);
        let done = self.emit(Node::User(user), now, pre_ns + ns, false, op, outputs)?;
        // Key traffic may carry what a parked message was waiting for: a sender's key, or the
        // new epoch itself, so the retry comes after the epoch is recorded as held (history
        // the new epoch parks is not retried at once).
        let parked = self.users[user.0 as usize].parked.len();
        if let Handled::NewEpoch(e) = h {
            self.epoch_reached(user, room, e, done, op)?;
        }
        if parked > 0 {
            let retry_ns = self.retry_parked_first(user, parked)?;
            if retry_ns > 0 {
                self.emit(Node::User(user), done, retry_ns, false, None, Vec::new())?;
            }
        }
        Ok(())
    }

    /// Records that key traffic `user` was sent as a member of `room` reached it only after its
    /// removal: reads of that membership waiting for it were cut short by the removal.
    fn key_traffic_lost_to_removal(&mut self, user: UserId, room: RoomId) {
        let state = &mut self.users[user.0 as usize];
        let Some(last) = state.after_removal.get(&room).and_then(|a| a.last_before) else {
            return;
        };
        let lost = state.keys_lost_to_removal.entry(room).or_insert(last);
        *lost = (*lost).max(last);
    }

    /// A removed member's terminal processes key traffic sent to it after its removal (the
    /// message's roster no longer has it), as an ex-member who wants to read on would; any epoch
    /// secret this gives it counts as kept ([`Property::RemovedExcluded`]). Oracle work: not
    /// charged, replies go nowhere, and a scheme's refusal is the expected outcome.
    fn removed_member_listens(&mut self, user: UserId, mail: &KdMail) {
        let KdMail {
            room,
            origin,
            ref packet,
            roster: ref members,
        } = *mail;
        let u = user.0 as usize;
        let Some(last_before) = self.users[u]
            .after_removal
            .get(&room)
            .map(|a| a.last_before)
        else {
            return;
        };
        if members.binary_search(&user).is_ok() {
            return;
        }
        let roster = Roster { room, members };
        let handled = self.stack.kd.client_handle(
            user,
            &roster,
            origin,
            packet,
            &mut self.user_rng[u],
            &mut Outbox::new(),
        );
        let Ok(Handled::NewEpoch(epoch)) = handled else {
            return;
        };
        // An epoch from before the removal (a late message of an earlier change) is not news.
        if last_before.is_some_and(|b| epoch <= b) {
            return;
        }
        if let Some((e, secret)) = self.stack.kd.current(user, room) {
            if e == epoch {
                let reached = Some((epoch, secret.clone()));
                if let Some(a) = self.users[u].after_removal.get_mut(&room) {
                    a.reached = reached;
                }
            }
        }
    }
}
