//! What a run measures: per (stack, op) latency histograms, bytes, round trips and CPU time per
//! party, and run-level counters. With the security oracle's findings ([`Security`], defined by
//! the oracle) they make up a stack's result, the input of every report.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::oracle::Security;
use crate::scenario::StackSpec;

/// The operations of Table 1 and the others the model measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
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
    /// A member whose queued key traffic expired at the key server (`servers.key_retention`)
    /// rejoins the room until all online members, it included, hold the new epoch.
    Rejoin,
    /// Epoch change committed until stored history is protected under the new epoch.
    Reencrypt,
    /// A new member opens the room until it has decrypted the last `history.read` messages from
    /// before its join.
    History,
    /// At a new key period, a terminal asks its organisation's KMS for its credentials until it
    /// has validated and installed them (schemes whose authority issues per period).
    Renew,
}

impl Op {
    /// Every op, in table order.
    pub const ALL: [Op; 10] = [
        Op::Login,
        Op::Send,
        Op::Receive,
        Op::Search,
        Op::Join,
        Op::Leave,
        Op::Rejoin,
        Op::Reencrypt,
        Op::History,
        Op::Renew,
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
            Op::Rejoin => "rejoin",
            Op::Reencrypt => "reencrypt",
            Op::History => "history",
            Op::Renew => "renew",
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
    /// The organisations' key management servers (identity-based schemes).
    Kms,
    /// The message server (storage and re-encryption).
    MessageServer,
    /// The search server.
    SearchServer,
    /// The terminal of the user who started the op (the changer of a join or leave, the
    /// sender, the searcher): its share of [`Party::Client`], counted there too.
    Initiator,
}

/// Parties CPU time is kept for.
pub const PARTIES: usize = 6;

impl Party {
    /// Every party, in report order.
    pub const ALL: [Party; PARTIES] = [
        Party::Client,
        Party::KeyServer,
        Party::Kms,
        Party::MessageServer,
        Party::SearchServer,
        Party::Initiator,
    ];

    /// Name used in reports and JSON.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Party::Client => "client",
            Party::KeyServer => "key_server",
            Party::Kms => "kms",
            Party::MessageServer => "message_server",
            Party::SearchServer => "search_server",
            Party::Initiator => "initiator",
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// Why a stack dropped a workload action that the trace asked for (other stacks of the same
/// trace may have performed it): the censoring of `skipped` in the reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
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
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OpStats {
    /// Latency in microseconds (values are clamped to `1..=MAX_LATENCY_US`).
    #[serde(with = "crate::persist::histogram")]
    pub latency_us: Histogram<u64>,
    /// Samples recorded.
    pub count: u64,
    /// Bytes sent by clients, summed over samples.
    pub bytes_up: u64,
    /// Bytes received by clients, summed over samples.
    pub bytes_down: u64,
    /// Client-server round trips, summed over samples.
    pub rounds: u64,
    /// CPU nanoseconds charged per party (in [`Party::ALL`] order), summed over samples.
    pub cpu_ns: [u64; PARTIES],
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
            cpu_ns: [0; PARTIES],
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
    pub cpu_ns: [u64; PARTIES],
    /// Members of the op's room when it ended (`None` for an op of no one room: a login).
    pub room_size: Option<u64>,
    /// Messages the op's room had stored when it ended (kept for re-encryption).
    pub history: Option<u64>,
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

/// Buckets of a size axis: two per doubling (`⌊2·log2 n⌋`), so a plot against size on a log
/// scale has evenly spaced points; each bucket remembers the mean size of its samples.
#[must_use]
pub fn size_bucket(n: u64) -> u32 {
    if n <= 1 {
        return 0;
    }
    // ⌊2·log2 n⌋ = ⌊log2 n²⌋, exact in integers (n² fits in u128).
    let sq = u128::from(n) * u128::from(n);
    127 - sq.leading_zeros()
}

/// Measurements of one op in one size bucket (of the room, or of its stored history).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScaleStats {
    /// Samples.
    pub count: u64,
    /// Sizes of the samples, summed (their mean is the bucket's position on the axis).
    pub size_sum: u64,
    /// Latency in microseconds, two significant digits.
    #[serde(with = "crate::persist::histogram")]
    pub latency_us: Histogram<u64>,
    /// Bytes sent by clients, summed.
    pub bytes_up: u64,
    /// Bytes received by clients, summed.
    pub bytes_down: u64,
    /// CPU nanoseconds per party, summed.
    pub cpu_ns: [u64; PARTIES],
}

impl Default for ScaleStats {
    fn default() -> Self {
        Self {
            count: 0,
            size_sum: 0,
            // Constant bounds: cannot fail.
            latency_us: Histogram::new_with_bounds(1, MAX_LATENCY_US, 2)
                .unwrap_or_else(|_| unreachable!("constant histogram bounds are valid")),
            bytes_up: 0,
            bytes_down: 0,
            cpu_ns: [0; PARTIES],
        }
    }
}

impl ScaleStats {
    /// Records a sample of size `size`.
    pub fn record(&mut self, size: u64, s: &Sample) {
        let us = (s.latency_ns / 1000).clamp(1, MAX_LATENCY_US);
        // Within the bounds: cannot fail.
        let _ = self.latency_us.record(us);
        self.count += 1;
        self.size_sum += size;
        self.bytes_up += s.bytes_up;
        self.bytes_down += s.bytes_down;
        for (a, b) in self.cpu_ns.iter_mut().zip(s.cpu_ns) {
            *a += b;
        }
    }

    /// Adds another run's measurements of the same bucket.
    pub fn merge(&mut self, o: &ScaleStats) {
        // Same bounds: cannot fail.
        let _ = self.latency_us.add(&o.latency_us);
        self.count += o.count;
        self.size_sum += o.size_sum;
        self.bytes_up += o.bytes_up;
        self.bytes_down += o.bytes_down;
        for (a, b) in self.cpu_ns.iter_mut().zip(o.cpu_ns) {
            *a += b;
        }
    }

    /// The mean size of the samples: where the bucket sits on the axis.
    #[must_use]
    pub fn mean_size(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.size_sum as f64 / self.count as f64
        }
    }

    /// Median latency in milliseconds.
    #[must_use]
    pub fn p50_ms(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.latency_us.value_at_quantile(0.5) as f64 / 1000.0
        }
    }

    /// Mean client bytes (up and down) per sample.
    #[must_use]
    pub fn mean_bytes(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            (self.bytes_up + self.bytes_down) as f64 / self.count as f64
        }
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

/// Two-sided 97.5 % quantiles of Student's t distribution for 1 to 30 degrees of freedom.
const T_975: [f64; 30] = [
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
    2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
    2.052, 2.048, 2.045, 2.042,
];

/// The 95 % confidence interval of the mean of `values` (Student's t; the normal quantile
/// beyond 30 degrees of freedom), or `None` for fewer than two values. Applied to per-seed
/// p50s, it is the interval a run's p50 is expected in across seeds.
#[must_use]
pub fn confidence_interval_95(values: &[f64]) -> Option<(f64, f64)> {
    let n = values.len();
    if n < 2 {
        return None;
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    let t = T_975.get(n - 2).copied().unwrap_or(1.960);
    let half = t * (var / n as f64).sqrt();
    Some((mean - half, mean + half))
}

/// Run-level counters of one stack.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
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
    /// With `servers.key_retention` only: what expired at the key server and the rejoins it
    /// caused.
    pub key_retention: Option<RetentionCounters>,
    /// Bytes stored by the message server at the end of the run.
    pub message_store_bytes: u64,
    /// Bytes stored by the search server at the end of the run.
    pub search_index_bytes: u64,
}

/// What `servers.key_retention` did in a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionCounters {
    /// Key-distribution messages queued for offline users that the key server dropped unread.
    pub expired: u64,
    /// Rejoins those users made at their next login (one per room that lost traffic).
    pub rejoins: u64,
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
        if let Some(theirs) = o.key_retention {
            let ours = self.key_retention.get_or_insert_with(Default::default);
            ours.expired += theirs.expired;
            ours.rejoins += theirs.rejoins;
        }
        self.message_store_bytes += o.message_store_bytes;
        self.search_index_bytes += o.search_index_bytes;
    }
}

/// All measurements of one stack (merged over seeds).
#[derive(Debug, Clone, Serialize, Deserialize)]
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
    /// Per op and room-size bucket ([`size_bucket`] of the room's members when the op ended).
    #[serde(with = "crate::persist::pairs")]
    pub by_room_size: BTreeMap<(Op, u32), ScaleStats>,
    /// Re-encryptions per bucket of the room's stored history (messages) when they ended.
    pub reencrypt_by_history: BTreeMap<u32, ScaleStats>,
    /// Per op, the p50 latency (ms) of each seed that had a sample of it, in seed order.
    pub p50_per_seed: BTreeMap<Op, Vec<f64>>,
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
            by_room_size: BTreeMap::new(),
            reencrypt_by_history: BTreeMap::new(),
            p50_per_seed: BTreeMap::new(),
        }
    }

    /// Adds another run (another seed) of the same stack.
    pub fn merge(&mut self, other: &StackResult) {
        for (op, s) in &other.ops {
            self.ops.entry(*op).or_default().merge(s);
        }
        self.security.merge(&other.security);
        self.counters.merge(&other.counters);
        for (k, s) in &other.by_room_size {
            self.by_room_size.entry(*k).or_default().merge(s);
        }
        for (k, s) in &other.reencrypt_by_history {
            self.reencrypt_by_history.entry(*k).or_default().merge(s);
        }
        for (op, p50s) in &other.p50_per_seed {
            self.p50_per_seed
                .entry(*op)
                .or_default()
                .extend_from_slice(p50s);
        }
    }

    /// Checks what a result read back from a file (a shard's partial report) must satisfy to be
    /// merged: every histogram has the bounds and precision this build records with, and holds
    /// as many samples as its count says.
    ///
    /// # Errors
    /// What is wrong, naming the op or bucket.
    pub fn check_shape(&self) -> Result<(), String> {
        let shaped = |h: &Histogram<u64>, sigfig: u8, count: u64, what: String| {
            if h.low() != 1 || h.high() < MAX_LATENCY_US || h.sigfig() != sigfig {
                Err(format!(
                    "{what}: a latency histogram over {}..{} µs with {} significant digits (expected 1..{MAX_LATENCY_US} with {sigfig})",
                    h.low(),
                    h.high(),
                    h.sigfig()
                ))
            } else if h.len() != count {
                Err(format!(
                    "{what}: {} samples in its histogram, count {count}",
                    h.len()
                ))
            } else {
                Ok(())
            }
        };
        for (op, s) in &self.ops {
            shaped(&s.latency_us, 3, s.count, op.name().to_owned())?;
        }
        for ((op, bucket), s) in &self.by_room_size {
            shaped(
                &s.latency_us,
                2,
                s.count,
                format!("{} in room-size bucket {bucket}", op.name()),
            )?;
        }
        for (bucket, s) in &self.reencrypt_by_history {
            shaped(
                &s.latency_us,
                2,
                s.count,
                format!("reencrypt in history bucket {bucket}"),
            )?;
        }
        Ok(())
    }

    /// Records `sample` of `op` into the per-op statistics and its scale buckets.
    pub fn record(&mut self, op: Op, sample: &Sample) {
        self.ops.entry(op).or_default().record(sample);
        if let Some(n) = sample.room_size {
            self.by_room_size
                .entry((op, size_bucket(n)))
                .or_default()
                .record(n, sample);
        }
        if let (Op::Reencrypt, Some(h)) = (op, sample.history) {
            self.reencrypt_by_history
                .entry(size_bucket(h))
                .or_default()
                .record(h, sample);
        }
    }

    /// Notes this run's (one seed's) p50 of every op that had samples.
    pub fn note_seed_p50s(&mut self) {
        for (op, s) in &self.ops {
            if s.count > 0 {
                self.p50_per_seed
                    .entry(*op)
                    .or_default()
                    .push(s.percentile_ms(50.0));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confidence_intervals_follow_student() {
        assert_eq!(confidence_interval_95(&[3.0]), None);
        let (lo, hi) = confidence_interval_95(&[1.0, 3.0]).unwrap_or_default();
        // mean 2, s = √2, half-width 12.706 · √2 / √2.
        assert!((lo - (2.0 - 12.706)).abs() < 1e-9 && (hi - (2.0 + 12.706)).abs() < 1e-9);
        let same = confidence_interval_95(&[5.0; 40]).unwrap_or_default();
        assert_eq!(same, (5.0, 5.0));
    }

    #[test]
    fn size_buckets_split_each_doubling_in_two() {
        let b: Vec<u32> = [1, 2, 3, 4, 5, 6, 8, 11, 12, 16, 2048]
            .into_iter()
            .map(size_bucket)
            .collect();
        assert_eq!(b, vec![0, 2, 3, 4, 4, 5, 6, 6, 7, 8, 22]);
        assert_eq!(size_bucket(0), 0);
        assert_eq!(size_bucket(u64::MAX), 127);
    }
}
