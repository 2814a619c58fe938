//! Operations in flight: from a user's action to the op's end condition.

use std::collections::BTreeSet;
use std::sync::Arc;

use conclave_schemes::erased::Packet;
use conclave_schemes::{MsgId, RoomId, UserId};

use crate::metrics::{Op, PARTIES};
use crate::scenario::Nanos;

/// Handle of an op in flight. Slots are reused; the generation tells a stale handle apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpId {
    slot: u32,
    generation: u32,
}

/// What a room's epoch change is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChangeKind {
    /// The subject is added.
    Join,
    /// The subject is removed.
    Leave,
    /// The subject, a member whose queued key traffic expired, rejoins
    /// ([`conclave_schemes::kd::KdClient::rejoin`]); the membership does not change.
    Rejoin,
}

/// Op-specific progress.
#[derive(Debug)]
pub(crate) enum OpData {
    Login,
    Send,
    Search {
        keyword: Arc<str>,
        /// What the oracle expects, fixed when the search server answers: ids the result must
        /// hold, ascending.
        expected: Vec<MsgId>,
        /// Ids the result may hold or not, ascending: under `from_join`, messages sent after
        /// the searcher's join but sealed under an epoch before it (by a sender that had not
        /// caught up). The service's bound (by message id) admits them; the joiner's keys (by
        /// epoch) do not.
        either: Vec<MsgId>,
        /// Query rounds the search server answered so far.
        rounds: u32,
    },
    Change {
        room: RoomId,
        kind: ChangeKind,
        /// Who joins, leaves or rejoins.
        subject: UserId,
        /// Online members that do not yet hold the new epoch.
        awaiting: BTreeSet<UserId>,
        /// Every key-distribution packet the key server received or sent during the change.
        seen_by_key_server: Vec<Packet>,
    },
    Reencrypt {
        /// The room whose history is re-protected.
        room: RoomId,
        /// Server jobs not yet complete.
        outstanding: u32,
    },
    History,
    /// A terminal fetching its credentials for a new key period; `then_login` when it is the
    /// first step of a login (which goes on once they are installed).
    Renew {
        then_login: bool,
    },
}

impl OpData {
    pub(crate) fn op(&self) -> Op {
        match self {
            OpData::Login => Op::Login,
            OpData::Send => Op::Send,
            OpData::Search { .. } => Op::Search,
            OpData::Change { kind, .. } => match kind {
                ChangeKind::Join => Op::Join,
                ChangeKind::Leave => Op::Leave,
                ChangeKind::Rejoin => Op::Rejoin,
            },
            OpData::Reencrypt { .. } => Op::Reencrypt,
            OpData::History => Op::History,
            OpData::Renew { then_login: true } => Op::Login,
            OpData::Renew { then_login: false } => Op::Renew,
        }
    }
}

/// One op in flight and what it has cost so far.
#[derive(Debug)]
pub(crate) struct OpState {
    pub(crate) data: OpData,
    /// The user who started it.
    pub(crate) user: UserId,
    /// The room it is about (`None` for a login, which is about all the user's rooms).
    pub(crate) room: Option<RoomId>,
    pub(crate) start: Nanos,
    pub(crate) bytes_up: u64,
    pub(crate) bytes_down: u64,
    pub(crate) rounds: u64,
    pub(crate) cpu_ns: [u64; PARTIES],
}

impl OpState {
    pub(crate) fn new(data: OpData, user: UserId, room: Option<RoomId>, start: Nanos) -> Self {
        Self {
            data,
            user,
            room,
            start,
            bytes_up: 0,
            bytes_down: 0,
            rounds: 0,
            cpu_ns: [0; PARTIES],
        }
    }
}

/// Ops in flight.
#[derive(Debug, Default)]
pub(crate) struct Ops {
    slots: Vec<(u32, Option<OpState>)>,
    free: Vec<u32>,
}

impl Ops {
    pub(crate) fn insert(&mut self, s: OpState) -> OpId {
        match self.free.pop() {
            Some(slot) => {
                let entry = &mut self.slots[slot as usize];
                entry.0 = entry.0.wrapping_add(1);
                entry.1 = Some(s);
                OpId {
                    slot,
                    generation: entry.0,
                }
            }
            None => {
                self.slots.push((0, Some(s)));
                OpId {
                    slot: (self.slots.len() - 1) as u32,
                    generation: 0,
                }
            }
        }
    }

    pub(crate) fn get(&self, id: OpId) -> Option<&OpState> {
        match self.slots.get(id.slot as usize) {
            Some((g, Some(s))) if *g == id.generation => Some(s),
            _ => None,
        }
    }

    pub(crate) fn get_mut(&mut self, id: OpId) -> Option<&mut OpState> {
        match self.slots.get_mut(id.slot as usize) {
            Some((g, Some(s))) if *g == id.generation => Some(s),
            _ => None,
        }
    }

    pub(crate) fn remove(&mut self, id: OpId) -> Option<OpState> {
        match self.slots.get_mut(id.slot as usize) {
            Some((g, s @ Some(_))) if *g == id.generation => {
                self.free.push(id.slot);
                s.take()
            }
            _ => None,
        }
    }

    /// Every op still in flight.
    pub(crate) fn in_flight(&self) -> impl Iterator<Item = &OpState> {
        self.slots.iter().filter_map(|(_, s)| s.as_ref())
    }

    /// Ops of kind `Change` still in flight, for presence updates.
    pub(crate) fn changes_mut(&mut self) -> impl Iterator<Item = (OpId, &mut OpState)> {
        self.slots
            .iter_mut()
            .enumerate()
            .filter_map(|(i, (g, s))| match s {
                Some(
                    st @ OpState {
                        data: OpData::Change { .. },
                        ..
                    },
                ) => Some((
                    OpId {
                        slot: i as u32,
                        generation: *g,
                    },
                    st,
                )),
                _ => None,
            })
    }
}
