//! The discrete-event engine: one run of one stack over one workload trace.
//!
//! Virtual time is integer nanoseconds; events are ordered by (time, sequence number), and
//! workload events go before engine events at the same time. A node (a user terminal or one of
//! the three servers) handles a message when it arrives: the cryptography runs then, its cost is
//! charged by the cost model, the work queues FIFO on the node's processors (one per terminal,
//! `servers.workers` per server), and the node's replies leave when the work completes.
//! Operations (README, "Operations") are tracked from the user's action to their end condition and
//! recorded as samples.
//!
//! Simplification, stated: a node's state changes when a message arrives rather than when the
//! queued work starts. Each node's work is FIFO, so its state sees messages in the same order
//! either way; only what a concurrent reader of the same state observes can differ.

mod leakage;
mod membership;
mod messages;
mod ops;
mod search;
mod session;

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use conclave_schemes::channel::{self, RecordChannel};
use conclave_schemes::erased::{DynHistory, DynKd, DynSse, Packet};
use conclave_schemes::kd::Origin;
use conclave_schemes::registry::Registry;
use conclave_schemes::{Epoch, EpochSecret, MsgId, RoomId, SchemeError, UserId};
use rand_chacha::ChaCha20Rng;

use crate::cost::{CalibrationError, CostModel, OpKey};
use crate::metrics::{Counters, Op, OpStats, Party, Sample, SkipReason, StackResult};
use crate::net::{Network, INTERNAL_DELAY};
use crate::oracle::Oracle;
use crate::rng;
use crate::scenario::{HistoryPolicy, Nanos, Scenario, StackSpec};
use crate::workload::{Action, Event, Generator, Org, WorkloadError};

pub use ops::OpId;
use ops::{OpData, Ops};

/// Why a run failed (oracle violations are not failures of the run itself; see
/// [`StackResult::security`]).
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// A scheme returned an error where the protocol should have succeeded.
    #[error("{scheme} failed at t={at_ms:.3} ms ({context}): {source}")]
    Scheme {
        /// the failing scheme
        scheme: String,
        /// virtual time, milliseconds
        at_ms: f64,
        /// what the engine was doing
        context: String,
        /// the scheme's error
        source: SchemeError,
    },
    /// The calibration table is incomplete.
    #[error(transparent)]
    Calibration(#[from] CalibrationError),
    /// The workload could not be generated.
    #[error(transparent)]
    Workload(#[from] WorkloadError),
    /// The machine could not provide what a run needs (a thread).
    #[error("setting up the run: {0}")]
    Setup(String),
}

/// A node of the chat service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Node {
    User(UserId),
    KeyServer,
    MessageServer,
    SearchServer,
}

impl Node {
    fn party(self) -> Party {
        match self {
            Node::User(_) => Party::Client,
            Node::KeyServer => Party::KeyServer,
            Node::MessageServer => Party::MessageServer,
            Node::SearchServer => Party::SearchServer,
        }
    }
}

/// What travels between nodes.
#[derive(Debug, Clone)]
pub(crate) enum Body {
    /// A key-distribution message (`origin` is who the recipient hears it from). A user's
    /// message with a non-empty `relay` is for the server to pass on to those users.
    Kd {
        packet: Packet,
        origin: Origin,
        relay: Vec<UserId>,
        /// The directory's roster of the room when the message was sent: a recipient checks
        /// the message against the membership of its change, however late it processes it.
        roster: Arc<[UserId]>,
    },
    /// History-protection control traffic.
    HistoryCtl { packet: Packet },
    /// Searchable-encryption control traffic.
    SearchCtl { packet: Packet },
    /// A sealed message and its index update, user to message server.
    Upload {
        msg: MsgId,
        sealed: Packet,
        index: Packet,
    },
    /// An index update, message server to search server.
    IndexUpdate { msg: MsgId, index: Packet },
    /// The message server acknowledges a stored message.
    Ack { msg: MsgId },
    /// The message server pushes a stored message to an online member.
    Deliver { msg: MsgId, sealed: Packet },
    /// One round of a search query.
    Query { packet: Packet },
    /// The search server's reply.
    Reply { packet: Packet },
    /// A request for stored messages.
    Fetch { ids: Vec<MsgId> },
    /// Stored messages.
    Fetched { records: Vec<(MsgId, Packet)> },
    /// A terminal asks for its state at login.
    LoginRequest,
    /// State blobs, queued key-distribution messages and recent messages of every room.
    LoginResponse {
        rooms: Vec<LoginRoom>,
        mailbox: Vec<KdMail>,
    },
}

/// A key-distribution message queued for an offline user.
#[derive(Debug, Clone)]
pub(crate) struct KdMail {
    room: RoomId,
    origin: Origin,
    packet: Packet,
    roster: Arc<[UserId]>,
}

#[derive(Debug, Clone)]
pub(crate) struct LoginRoom {
    room: RoomId,
    blob_len: usize,
    recent: Vec<(MsgId, Packet)>,
}

/// Framing bytes on top of a body's packets (type, room, ids).
const FRAME: usize = 16;

impl Body {
    fn wire_len(&self) -> usize {
        let payload = match self {
            Body::Kd { packet, relay, .. } => packet.wire_len() + 4 * relay.len(),
            Body::HistoryCtl { packet }
            | Body::SearchCtl { packet }
            | Body::Query { packet }
            | Body::Reply { packet } => packet.wire_len(),
            Body::Upload { sealed, index, .. } => sealed.wire_len() + index.wire_len() + 8,
            Body::IndexUpdate { index, .. } => index.wire_len() + 8,
            Body::Ack { .. } | Body::LoginRequest => 8,
            Body::Deliver { sealed, .. } => sealed.wire_len() + 8,
            Body::Fetch { ids } => 4 + 8 * ids.len(),
            Body::Fetched { records } => {
                4 + records
                    .iter()
                    .map(|(_, p)| 12 + p.wire_len())
                    .sum::<usize>()
            }
            Body::LoginResponse { rooms, mailbox } => {
                4 + rooms
                    .iter()
                    .map(|r| {
                        12 + r.blob_len
                            + r.recent
                                .iter()
                                .map(|(_, p)| 12 + p.wire_len())
                                .sum::<usize>()
                    })
                    .sum::<usize>()
                    + mailbox
                        .iter()
                        .map(|m| 12 + m.packet.wire_len())
                        .sum::<usize>()
            }
        };
        payload + FRAME
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Envelope {
    op: Option<OpId>,
    from: Node,
    room: RoomId,
    body: Body,
}

/// Pending arrivals: a heap of (time, sequence, slot) over a slab of envelopes, so the heap
/// moves 24-byte keys rather than whole envelopes.
#[derive(Debug, Default)]
struct EventQueue {
    heap: BinaryHeap<Reverse<(Nanos, u64, u32)>>,
    slab: Vec<Option<(Node, Envelope)>>,
    free: Vec<u32>,
    seq: u64,
}

impl EventQueue {
    fn push(&mut self, at: Nanos, to: Node, env: Envelope) {
        self.seq += 1;
        let slot = match self.free.pop() {
            Some(i) => {
                self.slab[i as usize] = Some((to, env));
                i
            }
            None => {
                self.slab.push(Some((to, env)));
                (self.slab.len() - 1) as u32
            }
        };
        self.heap.push(Reverse((at, self.seq, slot)));
    }

    fn peek_time(&self) -> Option<Nanos> {
        self.heap.peek().map(|Reverse((at, _, _))| *at)
    }

    fn pop(&mut self) -> Option<(Nanos, Node, Envelope)> {
        let Reverse((at, _, slot)) = self.heap.pop()?;
        let (to, env) = self.slab.get_mut(slot as usize)?.take()?;
        self.free.push(slot);
        Some((at, to, env))
    }
}

/// Processors of a node, FIFO.
#[derive(Debug, Clone)]
struct Pool {
    free_at: Vec<Nanos>,
}

impl Pool {
    fn new(workers: u32) -> Self {
        Self {
            free_at: vec![0; workers.max(1) as usize],
        }
    }

    /// Queues `ns` of work arriving at `now`; returns when it completes. Parallel work waits
    /// for every processor and splits evenly across them.
    fn run(&mut self, now: Nanos, ns: u64, parallel: bool) -> Nanos {
        if parallel && self.free_at.len() > 1 {
            let start = self.free_at.iter().copied().max().unwrap_or(0).max(now);
            let end = start + ns.div_ceil(self.free_at.len() as u64);
            self.free_at.iter_mut().for_each(|f| *f = end);
            end
        } else {
            let (i, free) = self
                .free_at
                .iter()
                .copied()
                .enumerate()
                .min_by_key(|&(i, f)| (f, i))
                .unwrap_or((0, 0));
            let end = free.max(now) + ns;
            if let Some(f) = self.free_at.get_mut(i) {
                *f = end;
            }
            end
        }
    }
}

/// The three scheme systems of a stack.
pub(crate) struct Stack {
    kd: Box<dyn DynKd>,
    pre: Box<dyn DynHistory>,
    sse: Box<dyn DynSse>,
}

/// A message as the engine tracks it (ground truth for the oracle).
#[derive(Debug, Clone)]
pub(crate) struct MsgRecord {
    id: MsgId,
    sender: UserId,
    pressed: Nanos,
    epoch: Epoch,
    body: Arc<[u8]>,
    keywords: Arc<[String]>,
    stored: bool,
}

/// Per-room state.
#[derive(Debug, Default)]
pub(crate) struct RoomState {
    members: Vec<UserId>,
    /// `members` as shared by the key-distribution messages of the current epoch.
    roster: Arc<[UserId]>,
    history: Option<HistoryPolicy>,
    /// Messages by id.
    messages: BTreeMap<MsgId, MsgRecord>,
    /// The oracle's own index of what the search server has indexed: keyword to message ids,
    /// ascending, built from the workload's ground truth (never from a scheme's output).
    indexed: std::collections::HashMap<String, Vec<MsgId>>,
    /// The change running now, and changes waiting for it.
    change: Option<OpId>,
    /// The next change's changer, while its terminal catches up with the room's current epoch:
    /// later changes wait behind it, so every stack applies the trace's changes in its order.
    changer_catching_up: Option<UserId>,
    /// Re-encryptions of this room's history in flight.
    reencrypting: u32,
    /// The latest epoch whose re-keying of history and index a member has started.
    rekeyed: Option<Epoch>,
    /// The latest epoch any member has reached: the room's current epoch. A change starts
    /// only from it (the service orders changes; a terminal that missed one catches up first).
    epoch: Option<Epoch>,
    /// Queries the search server could not answer yet (for an epoch whose re-keying has not
    /// reached it); answered again after its next control message for the room.
    pending_queries: Vec<Envelope>,
    queued_changes: std::collections::VecDeque<(Nanos, Action)>,
    /// Members removed recently, with the first message id sent after their removal and how
    /// many post-removal messages have been tried against them.
    removed: Vec<(UserId, MsgId, u32)>,
    /// The first message id each member may read (by policy and join time).
    readable_from: BTreeMap<UserId, MsgId>,
}

/// Per-user state.
#[derive(Debug)]
pub(crate) struct UserState {
    online: bool,
    cpu: Pool,
    /// Key-distribution messages queued while offline, in arrival order.
    mailbox: Vec<KdMail>,
    /// While a login is restoring the terminal's state (its response, with the mailbox, not yet
    /// processed): key-distribution messages that reached the terminal directly, kept to be
    /// processed after the mailbox, which they follow in the key server's order.
    restoring: Option<Vec<(Option<OpId>, KdMail)>>,
    /// Actions waiting for the user to hold a key for a room.
    waiting: BTreeMap<RoomId, Vec<(Nanos, Action)>>,
    /// The epoch and secret the user holds per room (what it keeps, even after removal).
    held: BTreeMap<RoomId, (Epoch, EpochSecret)>,
    /// Per room the user was removed from since it last held the room's key: what key traffic
    /// sent to it after the removal gave it (part of what a removed member kept). When it
    /// rejoins it is a joiner to the history and search schemes, not a continuing member.
    after_removal: BTreeMap<RoomId, AfterRemoval>,
    /// Every epoch of each room the user has held.
    epochs: BTreeMap<RoomId, BTreeSet<Epoch>>,
    /// The first epoch of the user's current membership of each room (its join, or the room's
    /// creation): messages sealed under earlier epochs are history to it.
    joined_at: BTreeMap<RoomId, Epoch>,
    /// Messages it could not open yet (a per-message key not yet received), retried when key
    /// traffic arrives.
    parked: Vec<(RoomId, MsgId, Packet)>,
}

/// What a removed member's terminal made of key traffic sent to it after its removal.
#[derive(Debug, Clone, Default)]
pub(crate) struct AfterRemoval {
    /// The room's latest epoch when the member was removed: only a later one is the removal's.
    last_before: Option<Epoch>,
    /// The latest such later epoch its key-distribution client reached, with its secret (an
    /// honest scheme sends it nothing that gives one).
    reached: Option<(Epoch, EpochSecret)>,
}

/// The progress of a run, for a progress bar: virtual nanoseconds processed.
#[derive(Debug, Default)]
pub struct Progress {
    /// Virtual time reached, nanoseconds.
    pub virtual_ns: AtomicU64,
}

/// One simulation: a stack, a seed, a workload.
pub struct Engine<'s> {
    scenario: &'s Scenario,
    spec: StackSpec,
    seed: u64,
    now: Nanos,
    queue: EventQueue,
    workload: Generator,
    peeked: Option<Event>,
    cost: CostModel,
    net: Network,
    stack: Stack,
    users: Vec<UserState>,
    rooms: Vec<RoomState>,
    key_server: Pool,
    message_server: Pool,
    search_server: Pool,
    user_rng: Vec<ChaCha20Rng>,
    server_rng: [ChaCha20Rng; 3],
    /// Runs server jobs a scheme parallelises with rayon on one thread, so that a measured cost
    /// is one worker's time; the server model spreads `parallel` work over its workers itself.
    one_thread: Arc<rayon::ThreadPool>,
    leakage: leakage::LeakageMeter,
    /// A terminal is fetching a history record again (at most once per attempt).
    refetching: bool,
    /// The id of the extra history/search client the adversary experiments use.
    adversary: UserId,
    ops: Ops,
    stats: BTreeMap<Op, OpStats>,
    oracle: Oracle,
    counters: Counters,
    /// The id the next message sent will have (ids increase in trace order).
    next_msg: MsgId,
}

impl std::fmt::Debug for Engine<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("stack", &self.spec)
            .field("seed", &self.seed)
            .field("now", &self.now)
            .finish_non_exhaustive()
    }
}

fn scheme_err<'a>(
    scheme: &'a str,
    at: Nanos,
    context: impl FnOnce() -> String + 'a,
) -> impl FnOnce(SchemeError) -> EngineError + 'a {
    // Everything is built only on failure: this sits on every hot path.
    move |source| EngineError::Scheme {
        scheme: scheme.to_owned(),
        at_ms: at as f64 / 1e6,
        context: context(),
        source,
    }
}

impl<'s> Engine<'s> {
    /// Sets up the organisation for `spec` and `seed` with the schemes of
    /// [`Registry::builtin`]: enrols every user, creates every room (setup is not measured).
    ///
    /// # Errors
    /// [`EngineError`] if a scheme is unknown or fails during setup, or the workload cannot be
    /// generated.
    pub fn new(
        scenario: &'s Scenario,
        spec: &StackSpec,
        seed: u64,
        cost: CostModel,
    ) -> Result<Self, EngineError> {
        Self::with_registry(&Registry::builtin(), scenario, spec, seed, cost)
    }

    /// As [`new`](Self::new), taking the stack's schemes from `registry`.
    ///
    /// # Errors
    /// As [`new`](Self::new).
    pub fn with_registry(
        registry: &Registry,
        scenario: &'s Scenario,
        spec: &StackSpec,
        seed: u64,
        cost: CostModel,
    ) -> Result<Self, EngineError> {
        let org = Org::build(scenario, seed);
        let workload = Generator::new(scenario, seed, &org)?;
        let setup = || "setting up the scheme".to_owned();
        let mut setup_rng = rng::crypto(seed, "setup", 0);
        let stack = Stack {
            kd: registry
                .kd(&spec.kd, &mut setup_rng)
                .map_err(scheme_err(&spec.kd, 0, setup))?,
            pre: registry
                .history(&spec.pre)
                .map_err(scheme_err(&spec.pre, 0, setup))?,
            sse: registry
                .sse(&spec.sse)
                .map_err(scheme_err(&spec.sse, 0, setup))?,
        };
        let n = scenario.org.users;
        let oracle = Oracle::new(
            stack.kd.properties(),
            stack.pre.properties(),
            stack.sse.properties(),
            &spec.kd,
            &spec.pre,
        );
        let initially_online = workload.initially_online().to_vec();
        let mut engine = Self {
            scenario,
            spec: spec.clone(),
            seed,
            now: 0,

            queue: EventQueue::default(),
            workload,
            peeked: None,
            cost,
            net: Network::new(&scenario.network.clients, &org.class, seed),
            stack,
            users: (0..n as usize)
                .map(|u| UserState {
                    online: initially_online.get(u).copied().unwrap_or(false),
                    cpu: Pool::new(1),
                    mailbox: Vec::new(),
                    restoring: None,
                    waiting: BTreeMap::new(),
                    held: BTreeMap::new(),
                    after_removal: BTreeMap::new(),
                    epochs: BTreeMap::new(),
                    joined_at: BTreeMap::new(),
                    parked: Vec::new(),
                })
                .collect(),
            rooms: Vec::new(),
            key_server: Pool::new(scenario.servers.workers),
            message_server: Pool::new(scenario.servers.workers),
            search_server: Pool::new(scenario.servers.workers),
            user_rng: (0..u64::from(n))
                .map(|u| rng::crypto(seed, "client", u))
                .collect(),
            server_rng: [
                rng::crypto(seed, "key-server", 0),
                rng::crypto(seed, "message-server", 0),
                rng::crypto(seed, "search-server", 0),
            ],
            one_thread: Arc::new(
                rayon::ThreadPoolBuilder::new()
                    .num_threads(1)
                    .build()
                    .map_err(|e| EngineError::Setup(format!("a one-thread pool: {e}")))?,
            ),
            leakage: leakage::LeakageMeter::default(),
            refetching: false,
            adversary: UserId(n),
            ops: Ops::default(),
            stats: BTreeMap::new(),
            oracle,
            counters: Counters::default(),
            next_msg: MsgId(0),
        };
        engine.setup(&org, &mut setup_rng)?;
        Ok(engine)
    }

    /// Runs the workload to its end and drains in-flight work.
    ///
    /// # Errors
    /// [`EngineError`] if a scheme fails where it should succeed.
    pub fn run(self, progress: Option<&Progress>) -> Result<StackResult, EngineError> {
        self.run_keeping_cost(progress).map(|(r, _)| r)
    }

    /// As [`run`](Self::run), also returning the cost model (with any samples it collected).
    ///
    /// # Errors
    /// As [`run`](Self::run).
    pub fn run_keeping_cost(
        mut self,
        progress: Option<&Progress>,
    ) -> Result<(StackResult, CostModel), EngineError> {
        loop {
            if self.peeked.is_none() {
                self.peeked = self.workload.next();
            }
            let next_workload = self.peeked.as_ref().map(|e| e.at);
            let next_event = self.queue.peek_time();
            match (next_workload, next_event) {
                (None, None) => break,
                (Some(w), e) if e.is_none_or(|e| w <= e) => {
                    if let Some(ev) = self.peeked.take() {
                        self.now = ev.at;
                        self.counters.events += 1;
                        self.action(ev.at, ev.action)?;
                    }
                }
                _ => {
                    if let Some((at, to, env)) = self.queue.pop() {
                        self.now = at;
                        self.counters.events += 1;
                        self.arrive(to, env)?;
                    }
                }
            }
            if let Some(p) = progress {
                if self.counters.events % 4096 == 0 {
                    p.virtual_ns
                        .store(self.now.min(self.scenario.duration), Ordering::Relaxed);
                }
            }
        }
        if let Some(p) = progress {
            p.virtual_ns
                .store(self.scenario.duration, Ordering::Relaxed);
        }
        self.finish()
    }

    fn finish(mut self) -> Result<(StackResult, CostModel), EngineError> {
        self.storage_breach_experiment()?;
        self.unreadable_at_end();
        self.censor_at_end();
        self.counters.churn_skipped = self.workload.skipped_churn();
        self.counters.message_store_bytes = self.stack.pre.stored_len() as u64;
        self.counters.search_index_bytes = self.stack.sse.stored_len() as u64;
        let mut result = StackResult::new(self.spec.clone());
        result.trace_sha256 = self.workload.trace_sha256();
        result.ops = self.stats;
        result.security = self.oracle.finish();
        result.security.search_leakage = self.leakage.finish();
        result.counters = self.counters;
        Ok((result, self.cost))
    }

    // -----------------------------------------------------------------------------------------
    // Scheduling

    fn schedule(&mut self, at: Nanos, to: Node, env: Envelope) {
        self.queue.push(at, to, env);
    }

    /// Charges `ns` of work on `node` starting no earlier than `now`; returns its completion.
    fn occupy(&mut self, node: Node, now: Nanos, ns: u64, parallel: bool) -> Nanos {
        match node {
            Node::User(u) => self.users[u.0 as usize].cpu.run(now, ns, false),
            Node::KeyServer => self.key_server.run(now, ns, parallel),
            Node::MessageServer => self.message_server.run(now, ns, parallel),
            Node::SearchServer => self.search_server.run(now, ns, parallel),
        }
    }

    /// Charges an operation's cost, running `f` for real.
    fn charge<T>(
        &mut self,
        key: OpKey,
        units: usize,
        f: impl FnOnce(&mut Self) -> T,
    ) -> Result<(T, u64), EngineError> {
        let mut cost = std::mem::replace(&mut self.cost, CostModel::Measured { samples: None });
        let r = cost.charge(key, units as u64, || f(self));
        self.cost = cost;
        Ok(r?)
    }

    /// Charges a server job whose size is known only after it ran (`f` returns its result, the
    /// operation's name and its units). Under the measured model the job runs on the engine's
    /// one-thread pool, so work a scheme parallelises with rayon costs one worker's time (the
    /// server model spreads `parallel` work over its workers itself), and it is timed on that
    /// pool's thread: a rayon worker waiting in `install` may run other stacks meanwhile, which
    /// is not this job's cost.
    fn charge_server_job<T: Send>(
        &mut self,
        scheme: &'static str,
        f: impl FnOnce(&mut Self) -> (T, &'static str, u64) + Send,
    ) -> Result<(T, u64), EngineError> {
        let ((out, op, units), spent) = if self.cost.is_measured() {
            let one_thread = Arc::clone(&self.one_thread);
            one_thread.install(|| {
                let start = std::time::Instant::now();
                let out = f(self);
                (out, start.elapsed())
            })
        } else {
            // Charged from the table: where the job runs does not matter, and handing every
            // store and search to another thread would cost more than the engine's own work.
            (f(self), std::time::Duration::ZERO)
        };
        let mut cost = std::mem::replace(&mut self.cost, CostModel::Measured { samples: None });
        let charged = cost.charge_timed(scheme, || (out, op, units, spent));
        self.cost = cost;
        Ok(charged?)
    }

    /// TLS record cost of `bytes` (sealing on one side, opening on the other). Records really
    /// run under the measured cost model; the calibrated model charges the table without
    /// running them (the channel protects against the network only, so no check depends on it).
    fn tls(&mut self, op: &'static str, bytes: usize) -> Result<u64, EngineError> {
        self.record_cost(OpKey { scheme: "tls", op }, bytes)
    }

    /// The cost of sealing (`key.op == "seal"`) or opening records of `bytes` with the
    /// channel's AEAD; run for real only under the measured cost model.
    fn record_cost(&mut self, key: OpKey, bytes: usize) -> Result<u64, EngineError> {
        let op = key.op;
        if !self.cost.is_measured() {
            return Ok(self.charge(key, bytes, |_| ())?.1);
        }
        let payload = vec![0u8; bytes];
        let fresh = || RecordChannel::new(&[7; 32], [1; 12]);
        let mut wire = Vec::with_capacity(channel::wire_len(bytes));
        if op == "open" {
            fresh()
                .seal(&payload, &mut wire)
                .map_err(scheme_err("tls", self.now, || {
                    "sealing a record".to_owned()
                }))?;
            let (r, ns) = self.charge(key, bytes, |_| fresh().open(&wire))?;
            r.map_err(scheme_err("tls", self.now, || {
                "opening a record".to_owned()
            }))?;
            Ok(ns)
        } else {
            let (r, ns) = self.charge(key, bytes, |_| fresh().seal(&payload, &mut wire))?;
            r.map_err(scheme_err("tls", self.now, || {
                "sealing a record".to_owned()
            }))?;
            Ok(ns)
        }
    }

    /// Runs a job on `node`: `work_ns` of computation arriving at `now`, after which every
    /// output leaves (each paying its TLS record sealing on `node`). Charges the CPU time to
    /// `op` and returns when the job completes.
    fn emit(
        &mut self,
        node: Node,
        now: Nanos,
        work_ns: u64,
        parallel: bool,
        op: Option<OpId>,
        outputs: Vec<(Node, RoomId, Option<OpId>, Body)>,
    ) -> Result<Nanos, EngineError> {
        let mut ns = work_ns;
        for (_, _, _, body) in &outputs {
            ns += self.tls("seal", body.wire_len())?;
        }
        let done = self.occupy(node, now, ns, parallel);
        self.account(op, node.party(), ns);
        for (to, room, out_op, body) in outputs {
            self.transmit(done, node, to, room, out_op, body);
        }
        Ok(done)
    }

    /// Puts `body` on the wire from `from` to `to` at `depart`, metering the op's bytes.
    fn transmit(
        &mut self,
        depart: Nanos,
        from: Node,
        to: Node,
        room: RoomId,
        op: Option<OpId>,
        body: Body,
    ) {
        let wire = channel::wire_len(body.wire_len());
        let arrival = match (from, to) {
            (Node::User(u), _) => {
                if let Some(s) = op.and_then(|id| self.ops.get_mut(id)) {
                    s.bytes_up += wire as u64;
                    if s.user == u {
                        s.rounds += 1;
                    }
                }
                self.net.uplink(u.0, depart, wire)
            }
            (_, Node::User(v)) => {
                if let Some(s) = op.and_then(|id| self.ops.get_mut(id)) {
                    s.bytes_down += wire as u64;
                }
                self.net.downlink(v.0, depart, wire)
            }
            _ => depart + INTERNAL_DELAY,
        };
        self.schedule(
            arrival,
            to,
            Envelope {
                op,
                from,
                room,
                body,
            },
        );
    }

    /// The receiving side's TLS cost of an envelope.
    fn receive_cost(&mut self, env: &Envelope) -> Result<u64, EngineError> {
        self.tls("open", env.body.wire_len())
    }

    /// Adds CPU time to an op's tally.
    fn account(&mut self, op: Option<OpId>, party: Party, ns: u64) {
        if let Some(s) = op.and_then(|id| self.ops.get_mut(id)) {
            s.cpu_ns[party.index()] += ns;
        }
    }

    fn record(&mut self, op: Op, sample: Sample) {
        self.stats.entry(op).or_default().record(&sample);
    }

    /// Counts a workload action this stack dropped.
    fn skip(&mut self, action: &Action, reason: SkipReason) {
        if let Some(op) = action.op() {
            self.stats.entry(op).or_default().skip(reason);
        }
    }

    /// What the run leaves unfinished: ops in flight are incomplete; actions still waiting for
    /// a key, or queued behind a change, are skipped.
    fn censor_at_end(&mut self) {
        let mut incomplete: Vec<Op> = self.ops.in_flight().map(|s| s.data.op()).collect();
        incomplete.sort_unstable();
        for op in incomplete {
            self.stats.entry(op).or_default().incomplete += 1;
        }
        for u in 0..self.users.len() {
            let waiting = std::mem::take(&mut self.users[u].waiting);
            for (_, action) in waiting.values().flatten() {
                self.skip(action, SkipReason::NoKeyByEnd);
            }
        }
        for r in 0..self.rooms.len() {
            let queued = std::mem::take(&mut self.rooms[r].queued_changes);
            for (_, action) in &queued {
                self.skip(action, SkipReason::BehindUnfinishedChange);
            }
        }
    }

    fn finish_op(&mut self, id: OpId, at: Nanos) -> Result<(), EngineError> {
        let Some(s) = self.ops.remove(id) else {
            return Ok(());
        };
        let sample = Sample {
            latency_ns: at.saturating_sub(s.start),
            bytes_up: s.bytes_up,
            bytes_down: s.bytes_down,
            rounds: s.rounds,
            cpu_ns: s.cpu_ns,
        };
        self.record(s.data.op(), sample);
        if let OpData::Change {
            room,
            seen_by_key_server,
            ..
        } = s.data
        {
            self.change_done(room, at, &seen_by_key_server)?;
        }
        Ok(())
    }

    // -----------------------------------------------------------------------------------------
    // Dispatch

    fn action(&mut self, at: Nanos, action: Action) -> Result<(), EngineError> {
        if let Action::Send { msg, .. } | Action::Preload { msg, .. } = &action {
            self.next_msg = MsgId(msg.0 + 1);
        }
        match action {
            Action::Login { user } => self.login(at, user),
            Action::Logout { user } => self.logout(at, user),
            Action::Send { user, room, .. }
            | Action::Search { user, room, .. }
            | Action::Preload { user, room, .. }
                if !self.ready(user, room) =>
            {
                self.users[user.0 as usize]
                    .waiting
                    .entry(room)
                    .or_default()
                    .push((at, action));
                Ok(())
            }
            Action::Send {
                user,
                room,
                msg,
                body,
                keywords,
                ..
            } => self.send_message_from(at, at, user, room, msg, body, keywords),
            Action::Search {
                user,
                room,
                keyword,
            } => self.search_from(at, at, user, room, keyword),
            Action::Preload {
                user,
                room,
                msg,
                body,
                keywords,
                ..
            } => self.preload_message(user, room, msg, body, keywords),
            Action::Join { .. } | Action::Leave { .. } => self.membership(at, action),
        }
    }

    fn arrive(&mut self, to: Node, env: Envelope) -> Result<(), EngineError> {
        match to {
            Node::KeyServer => self.key_server_receives(env),
            Node::MessageServer => self.message_server_receives(env),
            Node::SearchServer => self.search_server_receives(env),
            Node::User(u) => self.user_receives(u, env),
        }
    }

    fn user_receives(&mut self, user: UserId, env: Envelope) -> Result<(), EngineError> {
        match env.body {
            Body::Kd { .. } => self.kd_at_user(user, env),
            Body::HistoryCtl { .. } | Body::SearchCtl { .. } => self.ctl_at_user(user, env),
            Body::Ack { msg } => self.ack_at_user(user, env, msg),
            Body::Deliver { .. } => self.deliver_at_user(user, env),
            Body::Reply { .. } => self.reply_at_user(user, env),
            Body::Fetched { .. } => self.fetched_at_user(user, env),
            Body::LoginResponse { .. } => self.login_response_at_user(user, env),
            Body::Upload { .. }
            | Body::IndexUpdate { .. }
            | Body::Query { .. }
            | Body::Fetch { .. }
            | Body::LoginRequest => Ok(()),
        }
    }

    /// Whether `user` holds a key for `room` (its actions there can proceed).
    fn ready(&self, user: UserId, room: RoomId) -> bool {
        self.users[user.0 as usize].held.contains_key(&room)
    }

    /// Whether `user` holds the room's current epoch (it may make a change).
    fn holds_current(&self, user: UserId, room: RoomId) -> bool {
        let current = self.rooms[room.0 as usize].epoch;
        self.users[user.0 as usize]
            .held
            .get(&room)
            .is_some_and(|(e, _)| Some(*e) == current)
            && !self.users[user.0 as usize]
                .after_removal
                .contains_key(&room)
    }

    fn is_member(&self, user: UserId, room: RoomId) -> bool {
        self.rooms[room.0 as usize]
            .members
            .binary_search(&user)
            .is_ok()
    }

    fn readable_from(&self, user: UserId, room: RoomId) -> MsgId {
        self.rooms[room.0 as usize]
            .readable_from
            .get(&user)
            .copied()
            .unwrap_or(MsgId(u64::MAX))
    }

    fn policy(&self, room: RoomId) -> HistoryPolicy {
        self.rooms[room.0 as usize]
            .history
            .unwrap_or(self.scenario.policy.history)
    }

    fn key_of(&self, user: UserId, room: RoomId) -> Option<(Epoch, EpochSecret)> {
        self.users[user.0 as usize].held.get(&room).cloned()
    }
}
