//! What a run measures: per (stack, op) latency histograms, bytes, round trips and CPU time per
//! party, plus the security oracle's findings. These are the inputs of every report.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;

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

/// The security properties the oracle checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Property {
    /// Every current member can decrypt new messages of its rooms (and members agree on the
    /// epoch secret).
    MembersRead,
    /// A search returns exactly the messages containing the keyword that the searcher may read.
    SearchMatchesOracle,
    /// A removed member, using everything it kept, cannot decrypt messages sent after its removal.
    RemovedExcluded,
    /// A joiner can read history from before its join if and only if the room's policy says so.
    JoinerHistoryPolicy,
    /// No canary plaintext appears in any byte the servers store or receive.
    ServerBlindToMessages,
    /// No canary keyword appears in any byte the servers store or receive.
    ServerBlindToKeywords,
    /// The key server never holds an epoch secret.
    KeyServerBlind,
}

impl Property {
    /// Every property, in report order.
    pub const ALL: [Property; 7] = [
        Property::MembersRead,
        Property::SearchMatchesOracle,
        Property::RemovedExcluded,
        Property::JoinerHistoryPolicy,
        Property::ServerBlindToMessages,
        Property::ServerBlindToKeywords,
        Property::KeyServerBlind,
    ];

    /// Snake-case name used in JSON.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Property::MembersRead => "members_read",
            Property::SearchMatchesOracle => "search_matches_oracle",
            Property::RemovedExcluded => "removed_excluded",
            Property::JoinerHistoryPolicy => "joiner_history_policy",
            Property::ServerBlindToMessages => "server_blind_to_messages",
            Property::ServerBlindToKeywords => "server_blind_to_keywords",
            Property::KeyServerBlind => "key_server_blind",
        }
    }

    /// The property as a sentence, for security.md.
    #[must_use]
    pub fn describe(self) -> &'static str {
        match self {
            Property::MembersRead => "every current member can decrypt new messages of its rooms",
            Property::SearchMatchesOracle => {
                "a search returns exactly the messages containing the keyword that the searcher may read"
            }
            Property::RemovedExcluded => {
                "a removed member, using everything it kept, cannot decrypt messages sent after its removal"
            }
            Property::JoinerHistoryPolicy => {
                "a joiner can read history from before its join if and only if the room's policy says so"
            }
            Property::ServerBlindToMessages => "no canary plaintext appears in any byte a server stores or receives",
            Property::ServerBlindToKeywords => "no canary keyword appears in any byte a server stores or receives",
            Property::KeyServerBlind => "the key server never holds an epoch secret",
        }
    }
}

/// What the oracle found about one property.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PropertyOutcome {
    /// Whether the stack's schemes claim the property (a failure is then a violation and fails
    /// the run); an unclaimed property that fails is an exposure by design.
    pub claimed: bool,
    /// Checks made.
    pub checks: u64,
    /// Checks that failed.
    pub failures: u64,
    /// The first failure, described (event, time, who).
    pub first_failure: Option<String>,
}

/// Outcome of an adversary experiment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verdict {
    /// The adversary learned nothing it should not.
    Safe,
    /// The adversary read protected content.
    Exposed,
    /// The run gave no occasion to try (for example no member was removed).
    NotRun,
}

impl Verdict {
    /// `safe`, `exposed` or `not_run`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Safe => "safe",
            Verdict::Exposed => "exposed",
            Verdict::NotRun => "not_run",
        }
    }

    /// Combines the verdicts of two runs: exposed wins, then safe.
    #[must_use]
    pub fn merge(self, other: Verdict) -> Verdict {
        match (self, other) {
            (Verdict::Exposed, _) | (_, Verdict::Exposed) => Verdict::Exposed,
            (Verdict::Safe, _) | (_, Verdict::Safe) => Verdict::Safe,
            _ => Verdict::NotRun,
        }
    }
}

/// The adversary experiments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Adversary {
    /// The servers collude with a removed member and try to read messages sent after the removal.
    ServerPlusRemovedMember,
    /// An attacker with a copy of the server's storage and an old epoch secret tries to read
    /// stored history of that epoch.
    StorageBreachOldKey,
}

impl Adversary {
    /// Every experiment, in report order.
    pub const ALL: [Adversary; 2] = [
        Adversary::ServerPlusRemovedMember,
        Adversary::StorageBreachOldKey,
    ];

    /// Snake-case name used in JSON.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Adversary::ServerPlusRemovedMember => "server_plus_removed_member",
            Adversary::StorageBreachOldKey => "storage_breach_old_key",
        }
    }

    /// The experiment as a sentence, for security.md.
    #[must_use]
    pub fn describe(self) -> &'static str {
        match self {
            Adversary::ServerPlusRemovedMember => {
                "the servers collude with a removed member to read messages sent after its removal"
            }
            Adversary::StorageBreachOldKey => {
                "a copy of the server's storage plus an old epoch secret opens stored history"
            }
        }
    }
}

/// Facts about a stack's trust model that the security report states.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustNotes {
    /// Sentences such as "the key server holds every epoch secret by design".
    pub notes: Vec<String>,
}

/// What the search server saw of the searches: the search pattern, measured from the bytes of
/// every query it received (two queries with identical bytes are linkable), and the access
/// pattern (result ids it returned or entries it looked up).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchLeakage {
    /// Searches the server answered (first rounds).
    pub searches: u64,
    /// Query messages it received (every round).
    pub queries: u64,
    /// Distinct keywords searched (ground truth, which the server does not see).
    pub keywords: u64,
    /// Distinct query messages, by their bytes, summed over keywords.
    pub distinct_queries: u64,
    /// Most distinct query messages for one keyword.
    pub max_queries_per_keyword: u64,
    /// Searches whose first query is byte-identical to an earlier search's: the server can tell
    /// they are for the same keyword.
    pub linkable_searches: u64,
    /// Searches whose first query is byte-identical to an earlier search's for another keyword
    /// (a query that does not depend on the keyword yet, such as Mitra's for a keyword the
    /// client has never seen): the server sees a repeat that is not one.
    pub ambiguous_searches: u64,
    /// Matching message ids the searches returned, which the server learns (access pattern).
    pub results: u64,
}

impl SearchLeakage {
    /// Adds another run's figures.
    pub fn merge(&mut self, o: &SearchLeakage) {
        self.searches += o.searches;
        self.queries += o.queries;
        self.keywords += o.keywords;
        self.distinct_queries += o.distinct_queries;
        self.max_queries_per_keyword = self.max_queries_per_keyword.max(o.max_queries_per_keyword);
        self.linkable_searches += o.linkable_searches;
        self.ambiguous_searches += o.ambiguous_searches;
        self.results += o.results;
    }
}

/// Everything the oracle found for one stack.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Security {
    /// Per property.
    pub properties: BTreeMap<Property, PropertyOutcome>,
    /// What the search server learnt from the searches.
    pub search_leakage: SearchLeakage,
    /// Per adversary experiment, with a one-line explanation of the outcome.
    pub adversary: BTreeMap<Adversary, (Verdict, String)>,
    /// Trust-model notes.
    pub notes: TrustNotes,
}

impl Security {
    /// Total checks of claimed properties.
    #[must_use]
    pub fn claimed_checks(&self) -> u64 {
        self.properties
            .values()
            .filter(|o| o.claimed)
            .map(|o| o.checks)
            .sum()
    }

    /// Total failures of claimed properties (violations).
    #[must_use]
    pub fn violations(&self) -> u64 {
        self.properties
            .values()
            .filter(|o| o.claimed)
            .map(|o| o.failures)
            .sum()
    }

    /// Adds another run's findings.
    pub fn merge(&mut self, other: &Security) {
        self.search_leakage.merge(&other.search_leakage);
        for (p, o) in &other.properties {
            let mine = self.properties.entry(*p).or_default();
            mine.claimed |= o.claimed;
            mine.checks += o.checks;
            mine.failures += o.failures;
            if mine.first_failure.is_none() {
                mine.first_failure.clone_from(&o.first_failure);
            }
        }
        for (a, (v, why)) in &other.adversary {
            let mine = self
                .adversary
                .entry(*a)
                .or_insert((Verdict::NotRun, String::new()));
            let merged = mine.0.merge(*v);
            if merged != mine.0 {
                *mine = (merged, why.clone());
            }
        }
        for n in &other.notes.notes {
            if !self.notes.notes.contains(n) {
                self.notes.notes.push(n.clone());
            }
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
