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
//!
//! This file holds the [`Engine`], its construction, the run loop, the end of the run, dispatch
//! of actions and arrivals, and small queries on its state. The rest, one concern per file:
//!
//! - `queue`: the event queue of pending arrivals.
//! - `pool`: worker pools, a node's processors.
//! - `frame`: message framing: nodes, what travels between them, and its wire length.
//! - `state`: the stack's schemes and the state kept per message, room and user.
//! - `charge`: charging compute and emitting messages, which turns work and bytes into virtual
//!   time, op tallies and samples.
//! - `setup`: provisioning before time zero (enrolling users, creating rooms).
//! - `membership`: membership changes, and what happens when a member reaches a new epoch.
//! - `kd_traffic`: key-distribution traffic through the key server, to terminals and mailboxes.
//! - `messages`: sending, storing and delivering chat messages.
//! - `history`: opening and checking stored records, parked records, fetching, joiners' history.
//! - `adversary`: the oracle's adversary experiments on stored records (a passive server).
//! - `active`: the oracle's experiments of an active server (forgery, splicing, rollback,
//!   replayed key distribution, an impostor's re-keying).
//! - `control`: control traffic of the data families (re-keying, re-encryption).
//! - `search`: keyword search.
//! - `session`: logins and logouts of stateless terminals.
//! - `ops`: operations in flight.
//! - `leakage`: search-pattern and access-pattern leakage.

mod active;
mod adversary;
mod authority;
mod charge;
mod control;
mod frame;
mod history;
mod kd_traffic;
mod leakage;
mod membership;
mod messages;
mod ops;
mod periods;
mod pool;
mod queue;
mod search;
mod session;
mod setup;
mod state;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use conclave_schemes::erased::{DynHistory, DynKd, DynSse};
use conclave_schemes::kd::Period;
use conclave_schemes::registry::Registry;
use conclave_schemes::{Epoch, EpochSecret, MsgId, RoomId, SchemeError, UserId};
use rand_chacha::ChaCha20Rng;

use crate::cost::{CalibrationError, CostModel};

/// How the engine takes each family's scheme from the registry: as it is, or as its model.
type KdPick = fn(
    &Registry,
    &str,
    &mut dyn conclave_schemes::CryptoRngCore,
) -> Result<Box<dyn DynKd>, SchemeError>;
type HistoryPick = fn(&Registry, &str) -> Result<Box<dyn DynHistory>, SchemeError>;
type SsePick = fn(&Registry, &str) -> Result<Box<dyn DynSse>, SchemeError>;
use crate::metrics::{Counters, Op, Sample, SkipReason, StackResult};
use crate::net::Network;
use crate::oracle::Oracle;
use crate::rng;
use crate::scenario::{HistoryPolicy, Nanos, Scenario, StackSpec};
use crate::workload::{Action, Event, Generator, Org, WorkloadError};

use frame::{Body, Envelope, KdMail, LoginRoom, Node};
pub use ops::OpId;
use ops::{OpData, Ops};
use pool::Pool;
use queue::EventQueue;
use state::{AfterRemoval, MsgRecord, RoomChange, RoomState, Stack, UserState};

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

/// The progress of a run, for a progress bar: virtual nanoseconds processed.
#[derive(Debug, Default)]
pub struct Progress {
    /// Virtual time reached, nanoseconds.
    pub virtual_ns: AtomicU64,
    /// Engine events processed so far.
    pub events: AtomicU64,
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
    /// Whether each user's terminal is online, by user: apart from the rest of a user's state,
    /// since a message's fan-out reads it for every member of the room.
    online: Vec<bool>,
    /// When each user's terminal (one processor, FIFO) is free again, by user.
    terminal_free_at: Vec<Nanos>,
    rooms: Vec<RoomState>,
    key_server: Pool,
    /// The key management server of each organisation.
    kms: Vec<Pool>,
    /// The organisation of each user.
    org_of: Vec<u16>,
    /// The key period the run is in.
    period: Period,
    /// Each KMS's randomness.
    kms_rng: Vec<ChaCha20Rng>,
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
    /// Measurements so far (its security and counters are filled in at the end).
    result: StackResult,
    oracle: Oracle,
    counters: Counters,
    /// The id the next message sent will have (ids increase in trace order).
    next_msg: MsgId,
    /// The largest id of a message any room has recorded.
    last_recorded_msg: Option<MsgId>,
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
        // Under the model cost mode every scheme runs as its model, without cryptography.
        let (kd, pre, sse) = if matches!(cost, CostModel::Model(_)) {
            (
                Registry::kd_model as KdPick,
                Registry::history_model as HistoryPick,
                Registry::sse_model as SsePick,
            )
        } else {
            (
                Registry::kd as KdPick,
                Registry::history as HistoryPick,
                Registry::sse as SsePick,
            )
        };
        let stack = Stack {
            kd: kd(registry, &spec.kd, &mut setup_rng).map_err(scheme_err(&spec.kd, 0, setup))?,
            pre: pre(registry, &spec.pre).map_err(scheme_err(&spec.pre, 0, setup))?,
            sse: sse(registry, &spec.sse).map_err(scheme_err(&spec.sse, 0, setup))?,
        };
        if scenario.servers.key_retention.is_some() && !stack.kd.properties().rejoins {
            return Err(EngineError::Setup(format!(
                "servers.key_retention: key distribution `{}` cannot rejoin a room whose key \
                 traffic expired, so its key server must keep that traffic",
                spec.kd
            )));
        }
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
            online: (0..n as usize)
                .map(|u| initially_online.get(u).copied().unwrap_or(false))
                .collect(),
            terminal_free_at: vec![0; n as usize],
            users: (0..n as usize)
                .map(|_| UserState {
                    rooms: BTreeSet::new(),
                    mailbox: Vec::new(),
                    restoring: None,
                    waiting: BTreeMap::new(),
                    after_removal: BTreeMap::new(),
                    keys_lost_to_removal: BTreeMap::new(),
                    joined_at: BTreeMap::new(),
                    parked: Vec::new(),
                    requeries: Vec::new(),
                    period: Period::FIRST,
                    keys_pending: None,
                    key_wait: Vec::new(),
                })
                .collect(),
            rooms: Vec::new(),
            key_server: Pool::new(scenario.servers.workers),
            kms: scenario
                .org
                .organisations
                .iter()
                .map(|_| Pool::new(scenario.servers.workers))
                .collect(),
            org_of: org.organisation.clone(),
            period: Period::FIRST,
            kms_rng: (0..scenario.org.organisations.len() as u64)
                .map(|o| rng::crypto(seed, "kms", o))
                .collect(),
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
            result: StackResult::new(spec.clone()),
            oracle,
            counters: Counters {
                key_retention: scenario.servers.key_retention.map(|_| Default::default()),
                ..Counters::default()
            },
            next_msg: MsgId(0),
            last_recorded_msg: None,
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
                    p.events.store(self.counters.events, Ordering::Relaxed);
                }
            }
        }
        if let Some(p) = progress {
            p.virtual_ns
                .store(self.scenario.duration, Ordering::Relaxed);
            p.events.store(self.counters.events, Ordering::Relaxed);
        }
        self.finish()
    }

    fn finish(mut self) -> Result<(StackResult, CostModel), EngineError> {
        self.storage_breach_experiment()?;
        self.active_server_experiments()?;
        self.authority_experiments()?;
        self.unreadable_at_end();
        self.censor_at_end();
        self.counters.churn_skipped = self.workload.skipped_churn();
        self.counters.message_store_bytes = self.stack.pre.stored_len() as u64;
        self.counters.search_index_bytes = self.stack.sse.stored_len() as u64;
        let mut result = self.result;
        result.trace_sha256 = self.workload.trace_sha256();
        result.note_seed_p50s();
        result.security = self.oracle.finish();
        result.security.search_leakage = self.leakage.finish();
        result.counters = self.counters;
        Ok((result, self.cost))
    }

    /// What the run leaves unfinished: ops in flight are incomplete; actions still waiting for
    /// a key, or queued behind a change, are skipped.
    fn censor_at_end(&mut self) {
        let mut incomplete: Vec<Op> = self.ops.in_flight().map(|s| s.data.op()).collect();
        incomplete.sort_unstable();
        for op in incomplete {
            self.result.ops.entry(op).or_default().incomplete += 1;
        }
        for u in 0..self.users.len() {
            let waiting = std::mem::take(&mut self.users[u].waiting);
            for (_, action) in waiting.values().flatten() {
                self.skip(action, SkipReason::NoKeyByEnd);
            }
        }
        for r in 0..self.rooms.len() {
            let queued = std::mem::take(&mut self.rooms[r].queued_changes);
            for (_, change) in &queued {
                // A rejoin that never started is no action of the workload: the member stays
                // behind, which the rejoin count shows.
                if let RoomChange::Workload(action) = change {
                    self.skip(action, SkipReason::BehindUnfinishedChange);
                }
            }
        }
    }

    fn finish_op(&mut self, id: OpId, at: Nanos) -> Result<(), EngineError> {
        let Some(s) = self.ops.remove(id) else {
            return Ok(());
        };
        let room = s.room.map(|r| &self.rooms[r.0 as usize]);
        let sample = Sample {
            room_size: room.map(|r| r.members.len() as u64),
            history: room.map(|r| r.messages.len() as u64),
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
            Action::KeyPeriod { period } => self.period_starts(at, Period(period)),
        }
    }

    fn arrive(&mut self, to: Node, env: Envelope) -> Result<(), EngineError> {
        match to {
            Node::KeyServer => self.key_server_receives(env),
            Node::Kms(_) => self.kms_receives(env),
            Node::MessageServer => self.message_server_receives(env),
            Node::SearchServer => self.search_server_receives(env),
            Node::User(u) => self.user_receives(u, env),
        }
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

    fn user_receives(&mut self, user: UserId, env: Envelope) -> Result<(), EngineError> {
        match env.body {
            Body::Kd { .. } => self.kd_at_user(user, env),
            Body::HistoryCtl { .. } | Body::SearchCtl { .. } => self.ctl_at_user(user, env),
            Body::Ack { msg } => self.ack_at_user(user, env, msg),
            Body::Deliver { .. } => self.deliver_at_user(user, env),
            Body::Reply { .. } => self.reply_at_user(user, env),
            Body::Fetched { .. } => self.fetched_at_user(user, env),
            Body::LoginResponse { .. } => self.login_response_at_user(user, env),
            Body::KeysIssued { .. } => self.keys_at_user(user, env),
            Body::Upload { .. }
            | Body::IndexUpdate { .. }
            | Body::Query { .. }
            | Body::Fetch { .. }
            | Body::KeyRequest { .. }
            | Body::LoginRequest => Ok(()),
        }
    }

    // -----------------------------------------------------------------------------------------
    // Queries

    /// Whether `user` holds a key for `room` (its actions there can proceed).
    fn ready(&self, user: UserId, room: RoomId) -> bool {
        self.held_now(user, room).is_some()
    }

    /// The epoch of `room` that `user` holds now (its last).
    fn held_now(&self, user: UserId, room: RoomId) -> Option<Epoch> {
        self.rooms[room.0 as usize]
            .held
            .get(&user)
            .and_then(|h| h.latest)
    }

    /// Whether `user` holds the room's current epoch (it may make a change).
    fn holds_current(&self, user: UserId, room: RoomId) -> bool {
        let current = self.rooms[room.0 as usize].epoch;
        self.held_now(user, room)
            .is_some_and(|e| Some(e) == current)
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

    /// The epoch secret of `room` the key server holds by design (a conventional server).
    fn key_server_secret(&self, room: RoomId) -> Option<(Epoch, EpochSecret)> {
        self.stack
            .kd
            .server_known_secret(room)
            .map(|(e, s)| (e, s.clone()))
    }

    /// The epoch `user` holds now in `room`, with its secret.
    fn key_of(&self, user: UserId, room: RoomId) -> Option<(Epoch, EpochSecret)> {
        let epoch = self.held_now(user, room)?;
        let secret = self.oracle.secret_of(room, epoch)?;
        Some((epoch, secret.clone()))
    }

    fn held_epoch(&self, user: UserId, room: RoomId, epoch: conclave_schemes::Epoch) -> bool {
        self.rooms[room.0 as usize]
            .held
            .get(&user)
            .is_some_and(|h| h.contains(epoch))
    }
}
