//! What a run measures: per (stack, op) latency histograms, bytes, round trips and CPU time per
//! party, and run-level counters. With the security oracle's findings ([`Security`], defined by
//! the oracle) they make up a stack's result, the input of every report.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;

use crate::oracle::Security;
use crate::scenario::StackSpec;

/// The operations of Table 1 and the others the model measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Op {
    /// User opens the app until the key state of all its rooms is restored and the last
    /// `login.recent` messages of each room are decrypted.
    Login,
    /// User presses send until the server has stored and acknowledged the message.
    Send,
    /// User presses send until an online recipient has the plaintext (one sample per recipient).
    Receive,
    /// User submits a keyword until it has decrypted the top `search.fetch` matches.
    Search,
    /// Admin adds a member until all online members, the new one included, hold the new epoch.
    Join,
    /// Admin removes a member until all remaining online members hold the new epoch.
    Leave,
    /// Epoch change committed until stored history is protected under the new epoch.
    Reencrypt,
    /// A new member opens the room until it has decrypted the last `history.read` messages from
    /// before its join.
    History,
}

impl Op {
    /// Every op, in table order.
    pub const ALL: [Op; 8] = [
        Op::Login,
        Op::Send,
        Op::Receive,
        Op::Search,
        Op::Join,
        Op::Leave,
        Op::Reencrypt,
        Op::History,
    ];

    /// Lower-case name used in reports and JSON.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Op::Login => "login",
            Op::Send => "send",
            Op::Receive => "receive",
            Op::Search => "search",
            Op::Join => "join",
            Op::Leave => "leave",
            Op::Reencrypt => "reencrypt",
            Op::History => "history",
        }
    }
}

/// Who spends CPU time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Party {
    /// User terminals (all of them, summed).
    Client,
    /// The key-distribution server.
    KeyServer,
    /// The message server (storage and re-encryption).
    MessageServer,
    /// The search server.
    SearchServer,
}

impl Party {
    /// Every party, in report order.
    pub const ALL: [Party; 4] = [
        Party::Client,
        Party::KeyServer,
        Party::MessageServer,
        Party::SearchServer,
    ];

    /// Name used in reports and JSON.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Party::Client => "client",
            Party::KeyServer => "key_server",
            Party::MessageServer => "message_server",
            Party::SearchServer => "search_server",
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// Why a stack dropped a workload action that the trace asked for (other stacks of the same
/// trace may have performed it): the censoring of `skipped` in the reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SkipReason {
    /// The action waited for the user to hold a key for the room, and the run ended first.
    NoKeyByEnd,
    /// The action waited for a key; when the key came the user was no longer a member.
    NotMemberAnyMore,
    /// A join of a member or a leave of a non-member, or an admin who is no longer a member:
    /// earlier changes (possibly reordered by waiting for keys) made it moot.
    ChangeNoLongerApplies,
    /// The change was queued behind another change of its room that never finished (or never
    /// started: its admin was still waiting for the room's key).
    BehindUnfinishedChange,
}

impl SkipReason {
    /// Every reason, in report order.
    pub const ALL: [SkipReason; 4] = [
        SkipReason::NoKeyByEnd,
        SkipReason::NotMemberAnyMore,
        SkipReason::ChangeNoLongerApplies,
        SkipReason::BehindUnfinishedChange,
    ];

    /// Snake-case name used in JSON and tables.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            SkipReason::NoKeyByEnd => "no_key_by_end",
            SkipReason::NotMemberAnyMore => "not_member_any_more",
            SkipReason::ChangeNoLongerApplies => "change_no_longer_applies",
            SkipReason::BehindUnfinishedChange => "behind_unfinished_change",
        }
    }

    /// The reason as a sentence fragment, for the table's legend.
    #[must_use]
    pub fn describe(self) -> &'static str {
        match self {
            SkipReason::NoKeyByEnd => "the user still held no key for the room when the run ended",
            SkipReason::NotMemberAnyMore => {
                "the key came after the user had left the room, so the action no longer applied"
            }
            SkipReason::ChangeNoLongerApplies => {
                "the join or leave no longer applied when its turn came (the subject already was, or \
                 no longer was, a member, or the admin had left)"
            }
            SkipReason::BehindUnfinishedChange => {
                "the change was queued behind another change of its room that never finished (or never \
                 started: its admin was still waiting for the room's key)"
            }
        }
    }
}

/// Highest latency a histogram records: one simulated day, in microseconds.
pub const MAX_LATENCY_US: u64 = 86_400_000_000;

/// Measurements of one op of one stack.
#[derive(Debug, Clone)]
pub struct OpStats {
    /// Latency in microseconds (values are clamped to `1..=MAX_LATENCY_US`).
    pub latency_us: Histogram<u64>,
    /// Samples recorded.
    pub count: u64,
    /// Bytes sent by clients, summed over samples.
    pub bytes_up: u64,
    /// Bytes received by clients, summed over samples.
    pub bytes_down: u64,
    /// Client-server round trips, summed over samples.
    pub rounds: u64,
    /// CPU nanoseconds charged per party (indexed by party: client, key server, message server, search server), summed over samples.
    pub cpu_ns: [u64; 4],
    /// Ops started but not finished when the run ended (right-censored: not in the latency
    /// histogram, which covers finished ops only).
    pub incomplete: u64,
    /// Workload actions of this op that the stack dropped, per reason.
    pub skipped: BTreeMap<SkipReason, u64>,
}

impl Default for OpStats {
    fn default() -> Self {
        Self {
            // Three significant digits over 1 us .. 1 day; the bounds are constants, so this
            // cannot fail.
            latency_us: Histogram::new_with_bounds(1, MAX_LATENCY_US, 3)
                .unwrap_or_else(|_| unreachable!("constant histogram bounds are valid")),
            count: 0,
            bytes_up: 0,
            bytes_down: 0,
            rounds: 0,
            cpu_ns: [0; 4],
            incomplete: 0,
            skipped: BTreeMap::new(),
        }
    }
}

/// One sample of an op.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sample {
    /// End-to-end latency in nanoseconds.
    pub latency_ns: u64,
    /// Bytes the client(s) sent.
    pub bytes_up: u64,
    /// Bytes the client(s) received.
    pub bytes_down: u64,
    /// Round trips.
    pub rounds: u64,
    /// CPU per party.
    pub cpu_ns: [u64; 4],
}

impl OpStats {
    /// Records one sample.
    pub fn record(&mut self, s: &Sample) {
        let us = (s.latency_ns / 1000).clamp(1, MAX_LATENCY_US);
        // `us` is within the histogram's bounds, so recording cannot fail.
        let _ = self.latency_us.record(us);
        self.count += 1;
        self.bytes_up += s.bytes_up;
        self.bytes_down += s.bytes_down;
        self.rounds += s.rounds;
        for (a, b) in self.cpu_ns.iter_mut().zip(s.cpu_ns) {
            *a += b;
        }
    }

    /// Adds another run's measurements of the same op.
    pub fn merge(&mut self, other: &OpStats) {
        // Both histograms have the same bounds, so adding cannot fail.
        let _ = self.latency_us.add(&other.latency_us);
        self.count += other.count;
        self.bytes_up += other.bytes_up;
        self.bytes_down += other.bytes_down;
        self.rounds += other.rounds;
        for (a, b) in self.cpu_ns.iter_mut().zip(other.cpu_ns) {
            *a += b;
        }
        self.incomplete += other.incomplete;
        for (reason, n) in &other.skipped {
            *self.skipped.entry(*reason).or_default() += n;
        }
    }

    /// Counts one skipped action.
    pub fn skip(&mut self, reason: SkipReason) {
        *self.skipped.entry(reason).or_default() += 1;
    }

    /// Skipped actions, all reasons together.
    #[must_use]
    pub fn skipped_total(&self) -> u64 {
        self.skipped.values().sum()
    }

    /// Whether some action of this op was censored (left incomplete or skipped).
    #[must_use]
    pub fn censored(&self) -> bool {
        self.incomplete > 0 || self.skipped_total() > 0
    }

    /// Latency at percentile `p` (0..=100), in milliseconds.
    #[must_use]
    pub fn percentile_ms(&self, p: f64) -> f64 {
        if self.count == 0 {
            return 0.0;
        }
        self.latency_us.value_at_quantile(p / 100.0) as f64 / 1000.0
    }

    /// Mean latency in milliseconds.
    #[must_use]
    pub fn mean_ms(&self) -> f64 {
        if self.count == 0 {
            return 0.0;
        }
        self.latency_us.mean() / 1000.0
    }

    fn per_sample(&self, total: u64) -> u64 {
        (total + self.count / 2)
            .checked_div(self.count)
            .unwrap_or(0)
    }

    /// Mean bytes sent by clients per sample, rounded.
    #[must_use]
    pub fn mean_bytes_up(&self) -> u64 {
        self.per_sample(self.bytes_up)
    }

    /// Mean bytes received by clients per sample, rounded.
    #[must_use]
    pub fn mean_bytes_down(&self) -> u64 {
        self.per_sample(self.bytes_down)
    }

    /// Mean round trips per sample, rounded.
    #[must_use]
    pub fn mean_rounds(&self) -> u64 {
        self.per_sample(self.rounds)
    }

    /// Mean CPU milliseconds of `party` per sample.
    #[must_use]
    pub fn mean_cpu_ms(&self, party: Party) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.cpu_ns[party.index()] as f64 / self.count as f64 / 1e6
        }
    }
}

/// Run-level counters of one stack.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    /// Engine events processed.
    pub events: u64,
    /// Messages sent.
    pub messages: u64,
    /// Messages rooms held when the run started (`preload`), stored without being sent.
    pub preloaded: u64,
    /// Membership changes applied.
    pub changes: u64,
    /// Churn events skipped because nobody in the room was online to perform them.
    pub churn_skipped: u64,
    /// Key-distribution messages a terminal refused as no longer applicable (it had left the
    /// room, or a later change overtook it) — races of the model, not failures.
    pub kd_stale: u64,
    /// Bytes stored by the message server at the end of the run.
    pub message_store_bytes: u64,
    /// Bytes stored by the search server at the end of the run.
    pub search_index_bytes: u64,
}

impl Counters {
    /// Adds another run's counters.
    pub fn merge(&mut self, o: &Counters) {
        self.events += o.events;
        self.messages += o.messages;
        self.preloaded += o.preloaded;
        self.changes += o.changes;
        self.churn_skipped += o.churn_skipped;
        self.kd_stale += o.kd_stale;
        self.message_store_bytes += o.message_store_bytes;
        self.search_index_bytes += o.search_index_bytes;
    }
}

/// All measurements of one stack (merged over seeds).
#[derive(Debug, Clone)]
pub struct StackResult {
    /// The stack.
    pub stack: StackSpec,
    /// Per op; ops that never happened are absent.
    pub ops: BTreeMap<Op, OpStats>,
    /// Oracle findings.
    pub security: Security,
    /// Counters.
    pub counters: Counters,
    /// Hex SHA-256 of the workload trace (identical for every stack of a scenario and seed;
    /// with several seeds, the hash of the per-seed hashes in seed order).
    pub trace_sha256: String,
}

impl StackResult {
    /// An empty result for `stack`.
    #[must_use]
    pub fn new(stack: StackSpec) -> Self {
        Self {
            stack,
            ops: BTreeMap::new(),
            security: Security::default(),
            counters: Counters::default(),
            trace_sha256: String::new(),
        }
    }

    /// Adds another run (another seed) of the same stack.
    pub fn merge(&mut self, other: &StackResult) {
        for (op, s) in &other.ops {
            self.ops.entry(*op).or_default().merge(s);
        }
        self.security.merge(&other.security);
        self.counters.merge(&other.counters);
    }
}
