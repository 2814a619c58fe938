//! The engine's state: the stack's schemes, and what it tracks per message, room and user.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use conclave_schemes::erased::{DynHistory, DynKd, DynSse, Packet};
use conclave_schemes::{Epoch, EpochSecret, MsgId, RoomId, UserId};

use super::{Envelope, KdMail, OpId};
use crate::scenario::{HistoryPolicy, Nanos};
use crate::workload::Action;

/// The three scheme systems of a stack.
pub(crate) struct Stack {
    pub(super) kd: Box<dyn DynKd>,
    pub(super) pre: Box<dyn DynHistory>,
    pub(super) sse: Box<dyn DynSse>,
}

/// A message as the engine tracks it (ground truth for the oracle).
#[derive(Debug, Clone)]
pub(crate) struct MsgRecord {
    pub(super) id: MsgId,
    pub(super) sender: UserId,
    pub(super) pressed: Nanos,
    pub(super) epoch: Epoch,
    pub(super) body: Arc<[u8]>,
    pub(super) keywords: Arc<[String]>,
    pub(super) stored: bool,
}

/// A change of a room's epoch waiting for the one under way.
#[derive(Debug, Clone)]
pub(crate) enum RoomChange {
    /// A join or leave of the workload.
    Workload(Action),
    /// This member rejoins: key traffic queued for it expired at the key server.
    Rejoin(UserId),
}

/// Per-room state.
#[derive(Debug, Default)]
pub(crate) struct RoomState {
    pub(super) members: Vec<UserId>,
    /// `members` as shared by the key-distribution messages of the current epoch.
    pub(super) roster: Arc<[UserId]>,
    pub(super) history: Option<HistoryPolicy>,
    /// Messages by id.
    pub(super) messages: BTreeMap<MsgId, MsgRecord>,
    /// Every epoch of the room each user has held, by user; the latest is the one it holds now
    /// (and keeps after a removal). The one record of who holds what: the epochs' secrets are
    /// the oracle's ground truth ([`crate::oracle::Oracle::secret_of`]), which every member's
    /// secret is checked against when it reaches an epoch. Kept with the room rather than the
    /// user, since a message's fan-out reads it for every member.
    pub(super) held: conclave_schemes::common::fixed_hash::HashMap<UserId, HeldEpochs>,
    /// The oracle's own index of what the search server has indexed: keyword to message ids,
    /// ascending, built from the workload's ground truth (never from a scheme's output).
    pub(super) indexed: conclave_schemes::common::fixed_hash::HashMap<String, Vec<MsgId>>,
    /// The change running now, and changes waiting for it.
    pub(super) change: Option<OpId>,
    /// The next change's changer, while its terminal catches up with the room's current epoch:
    /// later changes wait behind it, so every stack applies the trace's changes in its order.
    pub(super) changer_catching_up: Option<UserId>,
    /// Re-encryptions of this room's history in flight.
    pub(super) reencrypting: u32,
    /// The latest epoch whose re-keying of history and index a member has started.
    pub(super) rekeyed: Option<Epoch>,
    /// The latest epoch secret a KMS derived from key-distribution traffic the key server relayed
    /// to its users ([`conclave_schemes::kd::KdAuthority::escrow`]), once the oracle found it
    /// equal to the members' own.
    pub(super) escrowed: Option<(Epoch, conclave_schemes::EpochSecret)>,
    /// The latest epoch any member has reached: the room's current epoch. A change starts
    /// only from it (the service orders changes; a terminal that missed one catches up first).
    pub(super) epoch: Option<Epoch>,
    /// Queries the search server could not answer yet (for an epoch whose re-keying has not
    /// reached it); answered again after its next control message for the room.
    pub(super) pending_queries: Vec<Envelope>,
    pub(super) queued_changes: std::collections::VecDeque<(Nanos, RoomChange)>,
    /// Rejoins waiting for an online member holding the current epoch to make them, with when
    /// each was asked for.
    pub(super) rejoins_waiting: Vec<(Nanos, UserId)>,
    /// Members removed recently, with the first message id sent after their removal and how
    /// many post-removal messages have been tried against them.
    pub(super) removed: Vec<(UserId, MsgId, u32)>,
    /// The first message id each member may read (by policy and join time).
    pub(super) readable_from: BTreeMap<UserId, MsgId>,
    /// What the active-server experiments keep of the run ([`ActiveTrace`]).
    pub(super) active: ActiveTrace,
}

/// What the active-server experiments (engine `active`) keep of a room's run: who the directory
/// named changer, the first records as the server first handed them out, and the first
/// key-distribution messages it relayed per epoch. Bounded, so a long run keeps a few of each.
#[derive(Debug, Default)]
pub(crate) struct ActiveTrace {
    /// The latest epoch whose changer the directory named, and that changer.
    pub(super) named_changer: Option<(Epoch, UserId)>,
    /// Every member ever named changer of the room (an impostor is chosen among the others).
    pub(super) changers: BTreeSet<UserId>,
    /// Re-keying messages replayed from an impostor so far.
    pub(super) impostor_tries: u32,
    /// The first stored records, as first handed to readers.
    pub(super) first_versions: Vec<(MsgId, Packet)>,
    /// Key-distribution messages relayed to members, with the room's epoch when relayed.
    pub(super) kd_relayed: Vec<(Option<Epoch>, KdMail)>,
}

/// The epochs of one room one user has held (they only grow: a user's next epoch of a room
/// is always a later one).
#[derive(Debug, Clone, Default)]
pub(crate) struct HeldEpochs {
    /// The last, read for every message the user opens.
    pub(super) latest: Option<Epoch>,
    /// All of them.
    pub(super) all: BTreeSet<Epoch>,
}

impl HeldEpochs {
    pub(super) fn insert(&mut self, epoch: Epoch) {
        self.latest = self.latest.max(Some(epoch));
        self.all.insert(epoch);
    }

    pub(super) fn contains(&self, epoch: Epoch) -> bool {
        self.latest == Some(epoch) || self.all.contains(&epoch)
    }
}

/// Per-user state.
#[derive(Debug)]
pub(crate) struct UserState {
    /// The rooms the user is a member of (those whose `members` hold it), ascending: a login
    /// visits these, not every room of the organisation.
    pub(super) rooms: BTreeSet<RoomId>,
    /// Key-distribution messages queued while offline, in arrival order, with when each was
    /// queued and the op it belongs to (the key server drops those older than
    /// `servers.key_retention`, except the answers to the user's own change still under way).
    pub(super) mailbox: Vec<(Nanos, Option<OpId>, KdMail)>,
    /// While a login is restoring the terminal's state (its response, with the mailbox, not yet
    /// processed): key-distribution messages that reached the terminal directly, kept to be
    /// processed after the mailbox, which they follow in the key server's order.
    pub(super) restoring: Option<Vec<(Option<OpId>, KdMail)>>,
    /// Actions waiting for the user to hold a key for a room.
    pub(super) waiting: BTreeMap<RoomId, Vec<(Nanos, Action)>>,
    /// Per room the user was removed from since it last held the room's key: what key traffic
    /// sent to it after the removal gave it (part of what a removed member kept). When it
    /// rejoins it is a joiner to the history and search schemes, not a continuing member.
    pub(super) after_removal: BTreeMap<RoomId, AfterRemoval>,
    /// Per room, the latest epoch of a membership whose key traffic reached the user only after
    /// its removal, and so was dropped (a sender's key sent while it was offline): what it would
    /// have opened with that traffic it never will, whatever membership it holds later.
    pub(super) keys_lost_to_removal: BTreeMap<RoomId, Epoch>,
    /// The first epoch of the user's current membership of each room (its join, or the room's
    /// creation): messages sealed under earlier epochs are history to it.
    pub(super) joined_at: BTreeMap<RoomId, Epoch>,
    /// Messages it could not open yet (a per-message key not yet received), retried when key
    /// traffic arrives.
    pub(super) parked: Vec<(RoomId, MsgId, Packet)>,
    /// Searches the server called stale, each waiting for the user to hold the epoch it names.
    pub(super) requeries: Vec<(RoomId, OpId, Epoch)>,
    /// The newest key period whose credentials the terminal installed (every earlier one too).
    pub(super) period: conclave_schemes::kd::Period,
    /// A fetch of credentials from the KMS, up to this period, is in flight: key-distribution
    /// messages wait in `key_wait` until they are installed (one may need the new period's
    /// keys).
    pub(super) keys_pending: Option<conclave_schemes::kd::Period>,
    /// Key-distribution messages waiting for the credentials being fetched, in arrival order.
    pub(super) key_wait: Vec<(Option<OpId>, KdMail)>,
}

/// What a removed member's terminal made of key traffic sent to it after its removal.
#[derive(Debug, Clone, Default)]
pub(crate) struct AfterRemoval {
    /// The room's latest epoch when the member was removed: only a later one is the removal's.
    pub(super) last_before: Option<Epoch>,
    /// The latest such later epoch its key-distribution client reached, with its secret (an
    /// honest scheme sends it nothing that gives one).
    pub(super) reached: Option<(Epoch, EpochSecret)>,
}
