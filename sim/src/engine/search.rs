//! Keyword search: query rounds with the search server, then fetching and decrypting the top
//! matches from the message server.

use std::sync::Arc;

use conclave_schemes::pre::KeyView;
use conclave_schemes::sse::{Access, Resolution, Searched};
use conclave_schemes::{Epoch, MsgId, RoomId, UserId};

use super::ops::{OpData, OpState};
use super::{scheme_err, Body, Engine, EngineError, Envelope, Node, OpId};
use crate::cost::OpKey;
use crate::oracle::Property;
use crate::scenario::{HistoryPolicy, Nanos};

impl Engine<'_> {
    /// A search pressed at `pressed`, computing from `ready_at`.
    pub(super) fn search_from(
        &mut self,
        pressed: Nanos,
        ready_at: Nanos,
        user: UserId,
        room: RoomId,
        keyword: String,
    ) -> Result<(), EngineError> {
        if self.held_now(user, room).is_none() {
            return Ok(());
        }
        let op = self.ops.insert(OpState::new(
            OpData::Search {
                keyword: Arc::from(keyword.as_str()),
                expected: Vec::new(),
                either: Vec::new(),
                rounds: 0,
            },
            user,
            Some(room),
            pressed,
        ));
        self.send_query(user, room, op, ready_at, 0)
    }

    /// `user` makes the query of search `op` under the key it holds now and sends it, computing
    /// from `at` after `before_ns` of other work.
    fn send_query(
        &mut self,
        user: UserId,
        room: RoomId,
        op: OpId,
        at: Nanos,
        before_ns: u64,
    ) -> Result<(), EngineError> {
        let Some(OpState {
            data: OpData::Search { keyword, .. },
            ..
        }) = self.ops.get(op)
        else {
            return Ok(());
        };
        let keyword = keyword.clone();
        let Some((epoch, secret)) = self.key_of(user, room) else {
            return Ok(());
        };
        let key = KeyView {
            room,
            epoch,
            secret: &secret,
        };
        let u = user.0 as usize;
        let k = OpKey {
            scheme: self.stack.sse.name(),
            op: "query",
        };
        let (q, ns) = self.charge(k, 1, |e| {
            e.stack.sse.query(user, key, &keyword, &mut e.user_rng[u])
        })?;
        let packet = q.map_err(scheme_err(&self.spec.sse, at, || {
            format!("{user} querying {room}")
        }))?;
        let outputs = vec![(Node::SearchServer, room, Some(op), Body::Query { packet })];
        self.emit(
            Node::User(user),
            at,
            before_ns + ns,
            false,
            Some(op),
            outputs,
        )?;
        Ok(())
    }

    /// `user` now holds `epoch` of `room`: searches the server called stale before it did
    /// start again.
    pub(super) fn requery_after(
        &mut self,
        user: UserId,
        room: RoomId,
        epoch: Epoch,
        at: Nanos,
    ) -> Result<(), EngineError> {
        let waiting = &mut self.users[user.0 as usize].requeries;
        if waiting.is_empty() {
            return Ok(());
        }
        let (ready, later): (Vec<_>, Vec<_>) = std::mem::take(waiting)
            .into_iter()
            .partition(|(r, _, after)| *r == room && *after <= epoch);
        self.users[user.0 as usize].requeries = later;
        for (_, op, _) in ready {
            self.send_query(user, room, op, at, 0)?;
        }
        Ok(())
    }

    pub(super) fn search_server_receives(&mut self, env: Envelope) -> Result<(), EngineError> {
        match env.body {
            Body::IndexUpdate { .. } => self.apply_index(env),
            Body::Query { .. } => self.answer_query(env),
            Body::SearchCtl { .. } => self.ctl_at_server(Node::SearchServer, env),
            _ => Ok(()),
        }
    }

    fn apply_index(&mut self, env: Envelope) -> Result<(), EngineError> {
        let Body::IndexUpdate { msg, ref index } = env.body else {
            return Ok(());
        };
        let index = index.clone();
        let (now, room) = (self.now, env.room);
        let open_ns = self.receive_cost(&env)?;
        self.oracle.scan(&index, || {
            format!("the index update of {msg} at the search server")
        });
        let k = OpKey {
            scheme: self.stack.sse.name(),
            op: "apply",
        };
        let (r, ns) = self.charge(k, index.wire_len(), |e| e.stack.sse.apply(room, index))?;
        r.map_err(scheme_err(&self.spec.sse, now, || {
            format!("applying the index update of {msg}")
        }))?;
        self.note_indexed(room, msg);
        self.emit(
            Node::SearchServer,
            now,
            open_ns + ns,
            false,
            None,
            Vec::new(),
        )?;
        Ok(())
    }

    /// Answers the queries of `room` that waited for a control message.
    pub(super) fn answer_pending_queries(&mut self, room: RoomId) -> Result<(), EngineError> {
        let pending = std::mem::take(&mut self.rooms[room.0 as usize].pending_queries);
        for env in pending {
            self.answer_query(env)?;
        }
        Ok(())
    }

    /// The oracle's own index: `msg` (a message of `room` it knows) is now indexed at the
    /// search server under each of its ground-truth keywords.
    pub(super) fn note_indexed(&mut self, room: RoomId, msg: MsgId) {
        let r = &mut self.rooms[room.0 as usize];
        let Some(m) = r.messages.get(&msg) else {
            return;
        };
        for k in m.keywords.iter() {
            match r.indexed.get_mut(k) {
                // Ids mostly arrive in order: appending skips a binary search whose probes
                // miss the cache on a common keyword's long list.
                Some(ids) if ids.last().is_none_or(|last| *last < msg) => ids.push(msg),
                Some(ids) => {
                    let at = ids.partition_point(|id| *id < msg);
                    ids.insert(at, msg);
                }
                None => {
                    r.indexed.insert(k.clone(), vec![msg]);
                }
            }
        }
    }

    fn answer_query(&mut self, env: Envelope) -> Result<(), EngineError> {
        let Body::Query { ref packet } = env.body else {
            return Ok(());
        };
        let Node::User(user) = env.from else {
            return Ok(());
        };
        let packet = packet.clone();
        let (now, room) = (self.now, env.room);
        let open_ns = self.receive_cost(&env)?;
        self.oracle
            .scan(&packet, || format!("a search query from {user} in {room}"));
        let access = Access {
            readable_from: self.readable_from(user, room),
        };
        let scheme = self.stack.sse.name();
        let (reply, ns) = self.charge_server_job(scheme, |e| {
            let r = e.stack.sse.search(room, access, &packet);
            let units = match &r {
                Ok(Searched::Reply(p)) => p.wire_len() as u64,
                _ => 0,
            };
            (r, "search", units)
        })?;
        let reply = match reply.map_err(scheme_err(scheme, now, || format!("searching {room}")))? {
            Searched::Reply(reply) => reply,
            // A query under an epoch whose re-keying has not reached the server yet: it waits
            // for the server's next control message about the room.
            Searched::NotYet { .. } => {
                self.rooms[room.0 as usize].pending_queries.push(env);
                return Ok(());
            }
        };
        self.oracle
            .scan(&reply, || format!("a search reply in {room}"));
        // What a correct answer is, at the moment the server answers.
        let joined_at = (self.policy(room) == HistoryPolicy::FromJoin)
            .then(|| self.users[user.0 as usize].joined_at.get(&room).copied())
            .flatten();
        if let Some(OpState {
            data:
                OpData::Search {
                    keyword,
                    expected,
                    either,
                    rounds,
                },
            ..
        }) = env.op.and_then(|id| self.ops.get_mut(id))
        {
            let r = &self.rooms[room.0 as usize];
            let ids = r.indexed.get(&**keyword).map_or(&[][..], Vec::as_slice);
            let from = ids.partition_point(|id| *id < access.readable_from);
            let sealed_before_join = |id: &MsgId| {
                joined_at.is_some_and(|j| r.messages.get(id).is_some_and(|m| m.epoch < j))
            };
            (*either, *expected) = ids[from..].iter().partition(|id| sealed_before_join(id));
            *rounds += 1;
            let (keyword, first) = (keyword.clone(), *rounds == 1);
            self.leakage.query(&keyword, &packet, first);
        }
        let outputs = vec![(
            Node::User(user),
            room,
            env.op,
            Body::Reply { packet: reply },
        )];
        self.emit(
            Node::SearchServer,
            now,
            open_ns + ns,
            false,
            env.op,
            outputs,
        )?;
        Ok(())
    }

    pub(super) fn reply_at_user(&mut self, user: UserId, env: Envelope) -> Result<(), EngineError> {
        let Body::Reply { ref packet } = env.body else {
            return Ok(());
        };
        let packet = packet.clone();
        let (now, room) = (self.now, env.room);
        let Some(op) = env.op else { return Ok(()) };
        let open_ns = self.receive_cost(&env)?;
        let Some((keyword, expected, either)) = (match self.ops.get_mut(op) {
            Some(OpState {
                data:
                    OpData::Search {
                        keyword,
                        expected,
                        either,
                        ..
                    },
                ..
            }) => Some((keyword.clone(), expected.clone(), either.clone())),
            _ => None,
        }) else {
            return Ok(());
        };
        let Some((epoch, secret)) = self.key_of(user, room) else {
            return Ok(());
        };
        let key = KeyView {
            room,
            epoch,
            secret: &secret,
        };
        let u = user.0 as usize;
        let k = OpKey {
            scheme: self.stack.sse.name(),
            op: "resolve",
        };
        let (r, ns) = self.charge(k, packet.wire_len(), |e| {
            e.stack
                .sse
                .resolve(user, key, &keyword, &packet, &mut e.user_rng[u])
        })?;
        match r.map_err(scheme_err(&self.spec.sse, now, || {
            format!("{user} resolving a search of {room}")
        }))? {
            Resolution::Requery { epoch } => {
                if self.held_now(user, room).is_some_and(|held| held >= epoch) {
                    self.send_query(user, room, op, now, open_ns + ns)?;
                } else {
                    // The key the index moved to is still on its way to this terminal.
                    self.users[u].requeries.push((room, op, epoch));
                    self.emit(
                        Node::User(user),
                        now,
                        open_ns + ns,
                        false,
                        Some(op),
                        Vec::new(),
                    )?;
                }
            }
            Resolution::Next(query) => {
                let outputs = vec![(
                    Node::SearchServer,
                    room,
                    Some(op),
                    Body::Query { packet: query },
                )];
                self.emit(
                    Node::User(user),
                    now,
                    open_ns + ns,
                    false,
                    Some(op),
                    outputs,
                )?;
            }
            Resolution::Done(ids) => {
                self.leakage.results(expected.len());
                let ok = matches_oracle(&ids, &expected, &either);
                self.oracle.check(Property::SearchMatchesOracle, ok, || {
                    let may = if either.is_empty() {
                        String::new()
                    } else {
                        format!(" (and {} it may hold or not)", either.len())
                    };
                    format!(
                        "{user} searching {room} for {keyword:?} at t={:.3} ms got {} results, expected {}{may}",
                        now as f64 / 1e6,
                        ids.len(),
                        expected.len()
                    )
                });
                let fetch = self.scenario.workload.search.fetch as usize;
                let top: Vec<MsgId> = ids.iter().rev().take(fetch).rev().copied().collect();
                if top.is_empty() {
                    let done = self.emit(
                        Node::User(user),
                        now,
                        open_ns + ns,
                        false,
                        Some(op),
                        Vec::new(),
                    )?;
                    self.finish_op(op, done)?;
                } else {
                    self.request_fetch(user, room, op, now, open_ns + ns, top)?;
                }
            }
        }
        Ok(())
    }
}

/// Whether a search result (ascending, as every scheme returns it) holds every id of
/// `expected` and nothing outside `expected` and `either` (both ascending).
fn matches_oracle(ids: &[MsgId], expected: &[MsgId], either: &[MsgId]) -> bool {
    ids.windows(2).all(|w| w[0] < w[1])
        && expected.iter().all(|id| ids.binary_search(id).is_ok())
        && ids
            .iter()
            .all(|id| expected.binary_search(id).is_ok() || either.binary_search(id).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(v: &[u64]) -> Vec<MsgId> {
        v.iter().copied().map(MsgId).collect()
    }

    #[test]
    fn a_result_must_hold_the_expected_ids_and_may_hold_the_ambiguous_ones() {
        let (expected, either) = (ids(&[2, 5]), ids(&[3]));
        assert!(matches_oracle(&ids(&[2, 5]), &expected, &either));
        assert!(matches_oracle(&ids(&[2, 3, 5]), &expected, &either));
        assert!(
            !matches_oracle(&ids(&[2]), &expected, &either),
            "one dropped"
        );
        assert!(
            !matches_oracle(&ids(&[2, 4, 5]), &expected, &either),
            "one extra"
        );
        assert!(
            !matches_oracle(&ids(&[5, 2]), &expected, &either),
            "out of order"
        );
        assert!(
            !matches_oracle(&ids(&[2, 2, 5]), &expected, &either),
            "a duplicate"
        );
    }
}
