//! Sessions of stateless terminals: at login a terminal holds only the user's credential and
//! restores everything else from the server; at logout it keeps nothing.
//!
//! The scheme client objects live on in the simulator between sessions (their state is what a
//! real terminal would restore); login meters and charges that restoration at its real size:
//! an encrypted state blob per room ([`conclave_schemes::kd::KdClient::state_len`] bytes plus
//! AEAD overhead), the key-distribution messages queued while the user was away, and the last
//! `login.recent` messages of each room.

use std::collections::BTreeSet;

use conclave_schemes::{MsgId, RoomId, UserId};

use super::ops::{OpData, OpState};
use super::{scheme_err, Body, Engine, EngineError, Envelope, LoginRoom, Node};
use crate::cost::OpKey;
use crate::scenario::Nanos;

/// Nonce and tag of a state blob's AEAD.
const BLOB_OVERHEAD: usize = 12 + 16;

impl Engine<'_> {
    pub(super) fn login(&mut self, at: Nanos, user: UserId) -> Result<(), EngineError> {
        self.online[user.0 as usize] = true;
        self.users[user.0 as usize]
            .restoring
            .get_or_insert_with(Vec::new);
        if self.needs_keys(user) && self.users[user.0 as usize].keys_pending.is_none() {
            // Credentials of the periods it missed first; the login goes on once installed.
            let op = self.ops.insert(OpState::new(
                OpData::Renew { then_login: true },
                user,
                None,
                at,
            ));
            return self.fetch_keys(user, at, op);
        }
        let op = self.ops.insert(OpState::new(OpData::Login, user, None, at));
        // The request is about the user, not a room; room 0 is a placeholder for routing.
        let outputs = vec![(Node::MessageServer, RoomId(0), Some(op), Body::LoginRequest)];
        self.emit(Node::User(user), at, 0, false, Some(op), outputs)?;
        Ok(())
    }

    pub(super) fn logout(&mut self, at: Nanos, user: UserId) -> Result<(), EngineError> {
        self.online[user.0 as usize] = false;
        self.presence_changed(user, at)
    }

    pub(super) fn serve_login(&mut self, env: Envelope) -> Result<(), EngineError> {
        let Node::User(user) = env.from else {
            return Ok(());
        };
        let open_ns = self.receive_cost(&env)?;
        let recent = self.scenario.workload.login.recent as usize;
        let mut rooms = Vec::new();
        let member_of: Vec<RoomId> = self.users[user.0 as usize].rooms.iter().copied().collect();
        for room in member_of {
            let r = room.0 as usize;
            let now = self.now;
            let blob_len = self.stack.kd.state_len(user, room).map_err(scheme_err(
                &self.spec.kd,
                now,
                || format!("{user} storing its state of {room}"),
            ))? + BLOB_OVERHEAD;
            let from = self.readable_from(user, room);
            let ids: Vec<MsgId> = self.rooms[r]
                .messages
                .values()
                .rev()
                .filter(|m| m.stored && m.id >= from)
                .take(recent)
                .map(|m| m.id)
                .collect();
            let records = ids
                .into_iter()
                .rev()
                .filter_map(|id| self.stack.pre.stored(room, id).map(|p| (id, p)))
                .collect();
            rooms.push(LoginRoom {
                room,
                blob_len,
                recent: records,
            });
        }
        // Key traffic queued longer than the key server keeps it is gone: the terminal rejoins
        // those rooms (only a key distribution that can is run with a retention).
        let queued = std::mem::take(&mut self.users[user.0 as usize].mailbox);
        let retention = self.scenario.servers.key_retention;
        let mut expired = BTreeSet::new();
        let mut mailbox = Vec::with_capacity(queued.len());
        for (queued_at, op, mail) in queued {
            // The answers to the user's own change under way are kept for it: its terminal
            // picks the change up again when it reconnects.
            let own = op
                .and_then(|id| self.ops.get(id))
                .is_some_and(|s| s.user == user);
            if !own && retention.is_some_and(|keep| self.now.saturating_sub(queued_at) > keep) {
                self.counters
                    .key_retention
                    .get_or_insert_with(Default::default)
                    .expired += 1;
                expired.insert(mail.room);
            } else {
                mailbox.push(mail);
            }
        }
        let expired = expired
            .into_iter()
            .filter(|r| self.is_member(user, *r))
            .collect();
        let outputs = vec![(
            Node::User(user),
            env.room,
            env.op,
            Body::LoginResponse {
                rooms,
                mailbox,
                expired,
            },
        )];
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

    pub(super) fn login_response_at_user(
        &mut self,
        user: UserId,
        env: Envelope,
    ) -> Result<(), EngineError> {
        let Body::LoginResponse {
            ref rooms,
            ref mailbox,
            ref expired,
        } = env.body
        else {
            return Ok(());
        };
        let (rooms, mailbox, expired) = (rooms.clone(), mailbox.clone(), expired.clone());
        let now = self.now;
        let mut ns = self.receive_cost(&env)?;
        for r in &rooms {
            ns += self.blob_open(r.blob_len)?;
        }
        let restored = self.emit(Node::User(user), now, ns, false, env.op, Vec::new())?;
        // Queued key-distribution messages, in order, on the terminal's processor.
        for mail in &mailbox {
            self.kd_process(user, None, mail, restored, 0)?;
        }
        // Key messages sent after the login began, which overtook the response, come next.
        for (op, mail) in self.users[user.0 as usize]
            .restoring
            .take()
            .unwrap_or_default()
        {
            self.kd_process(user, op, &mail, restored, 0)?;
        }
        // Rooms whose key traffic for it expired: it missed epochs and rejoins.
        for room in expired {
            self.rejoin(restored, user, room)?;
        }
        // Back online and caught up, it may be the member a waiting rejoin needs.
        let member_of: Vec<RoomId> = self.users[user.0 as usize].rooms.iter().copied().collect();
        for room in member_of {
            if !self.rooms[room.0 as usize].rejoins_waiting.is_empty() && self.is_member(user, room)
            {
                self.next_change(room, restored)?;
            }
        }
        let mut ns = 0;
        for r in &rooms {
            for (id, p) in &r.recent {
                ns += self.open_and_check(user, r.room, *id, p)?.ns;
            }
        }
        let done = self.emit(Node::User(user), restored, ns, false, env.op, Vec::new())?;
        if let Some(op) = env.op {
            self.finish_op(op, done)?;
        }
        Ok(())
    }

    /// Decrypting a state blob of `len` bytes (an AEAD over the blob).
    fn blob_open(&mut self, len: usize) -> Result<u64, EngineError> {
        self.record_cost(
            OpKey {
                scheme: "blob",
                op: "open",
            },
            len,
        )
    }
}
