//! `summary.json`: the machine-readable result of a run, with a stable schema.
//!
//! Built from structs that derive `Serialize` in field order, and from [`Ordered`] maps that keep
//! the order of the crate's `ALL` constants, so the output is byte-for-byte deterministic.

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use super::{cost_model_name, op_entry, round_to, RunReport};
use crate::metrics::{
    confidence_interval_95, Counters, Op, OpStats, Party, ScaleStats, SkipReason, StackResult,
};
use crate::oracle::{Adversary, Property, PropertyOutcome, Verdict};

/// A JSON object whose keys keep insertion order.
struct Ordered<V>(Vec<(&'static str, V)>);

impl<V: Serialize> Serialize for Ordered<V> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

#[derive(Serialize)]
struct Summary<'a> {
    scenario: &'a str,
    seed: u64,
    seeds: &'a [u64],
    cost_model: &'static str,
    stacks: Vec<StackSummary<'a>>,
}

#[derive(Serialize)]
struct StackSummary<'a> {
    name: String,
    kd: &'a str,
    pre: &'a str,
    sse: &'a str,
    ops: Ordered<OpSummary>,
    oracle: Oracle<'a>,
    adversary: Ordered<AdversaryVerdict<'a>>,
    /// An organisation's KMS can derive the epoch secrets its users receive (escrow by design).
    kms_can_derive: bool,
    search_leakage: LeakageSummary,
    counters: CountersSummary,
    trace_sha256: &'a str,
    by_room_size: Vec<ScaleSummary>,
    reencrypt_by_history: Vec<ScaleSummary>,
}

/// One op in one size bucket: where the bucket sits (the mean size of its samples) and what
/// the op cost there.
#[derive(Serialize)]
struct ScaleSummary {
    op: &'static str,
    size: f64,
    count: u64,
    p50_ms: f64,
    bytes: f64,
    cpu_ms: Ordered<f64>,
}

/// One adversary experiment's verdict and the one line that explains it.
#[derive(Serialize)]
struct AdversaryVerdict<'a> {
    verdict: &'static str,
    why: &'a str,
}

#[derive(Serialize)]
struct LeakageSummary {
    searches: u64,
    queries: u64,
    keywords: u64,
    distinct_queries: u64,
    max_queries_per_keyword: u64,
    linkable_searches: u64,
    ambiguous_searches: u64,
    results: u64,
}

#[derive(Serialize)]
struct OpSummary {
    count: u64,
    p50_ms: f64,
    p95_ms: f64,
    p99_ms: f64,
    mean_ms: f64,
    bytes_up: u64,
    bytes_down: u64,
    rounds: u64,
    cpu_ms: Ordered<f64>,
    incomplete: u64,
    skipped: u64,
    skipped_reasons: Ordered<u64>,
    p50_per_seed_ms: Vec<f64>,
    p50_ci95_ms: Option<[f64; 2]>,
}

#[derive(Serialize)]
struct Oracle<'a> {
    checks: u64,
    violations: u64,
    properties: Ordered<PropertySummary<'a>>,
}

#[derive(Serialize)]
struct PropertySummary<'a> {
    claimed: bool,
    checks: u64,
    failures: u64,
    first_failure: Option<&'a str>,
}

#[derive(Serialize)]
struct RetentionSummary {
    expired: u64,
    rejoins: u64,
}

#[derive(Serialize)]
struct CountersSummary {
    events: u64,
    messages: u64,
    preloaded: u64,
    changes: u64,
    churn_skipped: u64,
    kd_stale: u64,
    /// Only in runs with `servers.key_retention`.
    #[serde(skip_serializing_if = "Option::is_none")]
    key_retention: Option<RetentionSummary>,
    message_store_bytes: u64,
    search_index_bytes: u64,
}

/// Latencies are rounded to microseconds, CPU times to nanoseconds.
const LATENCY_DECIMALS: i32 = 3;
const CPU_DECIMALS: i32 = 6;

fn cpu_summary(mean_cpu_ms: impl Fn(Party) -> f64) -> Ordered<f64> {
    Ordered(
        Party::ALL
            .iter()
            .map(|&p| (p.name(), round_to(mean_cpu_ms(p), CPU_DECIMALS)))
            .collect(),
    )
}

fn scale_summary(op: Op, s: &ScaleStats) -> ScaleSummary {
    ScaleSummary {
        op: op.name(),
        size: round_to(s.mean_size(), 2),
        count: s.count,
        p50_ms: round_to(s.p50_ms(), LATENCY_DECIMALS),
        bytes: round_to(s.mean_bytes(), 1),
        cpu_ms: cpu_summary(|p| s.mean_cpu_ms(p)),
    }
}

fn op_summary(s: &OpStats, p50_per_seed: &[f64]) -> OpSummary {
    OpSummary {
        count: s.count,
        p50_ms: round_to(s.percentile_ms(50.0), LATENCY_DECIMALS),
        p95_ms: round_to(s.percentile_ms(95.0), LATENCY_DECIMALS),
        p99_ms: round_to(s.percentile_ms(99.0), LATENCY_DECIMALS),
        mean_ms: round_to(s.mean_ms(), LATENCY_DECIMALS),
        bytes_up: s.mean_bytes_up(),
        bytes_down: s.mean_bytes_down(),
        rounds: s.mean_rounds(),
        cpu_ms: cpu_summary(|p| s.mean_cpu_ms(p)),
        incomplete: s.incomplete,
        skipped: s.skipped_total(),
        skipped_reasons: Ordered(
            SkipReason::ALL
                .iter()
                .filter_map(|r| s.skipped.get(r).filter(|n| **n > 0).map(|n| (r.name(), *n)))
                .collect(),
        ),
        p50_per_seed_ms: p50_per_seed
            .iter()
            .map(|p| round_to(*p, LATENCY_DECIMALS))
            .collect(),
        p50_ci95_ms: confidence_interval_95(p50_per_seed).map(|(lo, hi)| {
            [
                round_to(lo, LATENCY_DECIMALS),
                round_to(hi, LATENCY_DECIMALS),
            ]
        }),
    }
}

fn property_summary(o: &PropertyOutcome) -> PropertySummary<'_> {
    PropertySummary {
        claimed: o.claimed,
        checks: o.checks,
        failures: o.failures,
        first_failure: o.first_failure.as_deref(),
    }
}

fn counters_summary(c: &Counters) -> CountersSummary {
    CountersSummary {
        events: c.events,
        messages: c.messages,
        preloaded: c.preloaded,
        changes: c.changes,
        churn_skipped: c.churn_skipped,
        kd_stale: c.kd_stale,
        key_retention: c.key_retention.map(|k| RetentionSummary {
            expired: k.expired,
            rejoins: k.rejoins,
        }),
        message_store_bytes: c.message_store_bytes,
        search_index_bytes: c.search_index_bytes,
    }
}

fn stack_summary(st: &StackResult) -> StackSummary<'_> {
    let sec = &st.security;
    StackSummary {
        name: st.stack.name(),
        kd: &st.stack.kd,
        pre: &st.stack.pre,
        sse: &st.stack.sse,
        ops: Ordered(
            Op::ALL
                .iter()
                .filter_map(|&op| {
                    op_entry(st, op).map(|s| {
                        let seeds = st.p50_per_seed.get(&op).map_or(&[][..], Vec::as_slice);
                        (op.name(), op_summary(s, seeds))
                    })
                })
                .collect(),
        ),
        oracle: Oracle {
            checks: sec.claimed_checks(),
            violations: sec.violations(),
            properties: Ordered(
                Property::ALL
                    .iter()
                    .filter_map(|p| {
                        sec.properties
                            .get(p)
                            .map(|o| (p.name(), property_summary(o)))
                    })
                    .collect(),
            ),
        },
        adversary: Ordered(
            Adversary::ALL
                .iter()
                .map(|a| {
                    let (verdict, why) = sec
                        .adversary
                        .get(a)
                        .map_or((Verdict::NotRun, a.untried()), |(v, why)| (*v, why));
                    (
                        a.name(),
                        AdversaryVerdict {
                            verdict: verdict.name(),
                            why,
                        },
                    )
                })
                .collect(),
        ),
        kms_can_derive: sec.notes.kms_can_derive,
        search_leakage: {
            let l = &sec.search_leakage;
            LeakageSummary {
                searches: l.searches,
                queries: l.queries,
                keywords: l.keywords,
                distinct_queries: l.distinct_queries,
                max_queries_per_keyword: l.max_queries_per_keyword,
                linkable_searches: l.linkable_searches,
                ambiguous_searches: l.ambiguous_searches,
                results: l.results,
            }
        },
        counters: counters_summary(&st.counters),
        trace_sha256: &st.trace_sha256,
        by_room_size: st
            .by_room_size
            .iter()
            .map(|((op, _), s)| scale_summary(*op, s))
            .collect(),
        reencrypt_by_history: st
            .reencrypt_by_history
            .values()
            .map(|s| scale_summary(Op::Reencrypt, s))
            .collect(),
    }
}

/// `summary.json`: pretty-printed (2-space indentation), keys in a fixed order, ending with a
/// newline. Deterministic: the same report gives byte-identical output.
///
/// Per stack and op (only ops with samples or censored actions, in [`Op::ALL`] order): sample
/// count, p50/p95/p99 and mean latency in ms (rounded to 3 decimals; 0 without samples), mean
/// bytes up/down and round trips per sample, mean CPU ms per sample and party (rounded to 6
/// decimals), then the censored actions: `incomplete` (started, unfinished at the end of the
/// run, not in the latencies), `skipped` (workload actions the stack dropped) and
/// `skipped_reasons` (the non-zero counts per [`SkipReason`], in its order). Then the oracle's totals and
/// per-property outcomes, each adversary verdict (`not_run` when absent), the run counters and
/// the trace hash.
#[must_use]
pub fn summary_json(r: &RunReport) -> String {
    let summary = Summary {
        scenario: &r.scenario.name,
        seed: r.seeds.first().copied().unwrap_or(r.scenario.seed),
        seeds: &r.seeds,
        cost_model: cost_model_name(r.cost_model),
        stacks: r.stacks.iter().map(stack_summary).collect(),
    };
    // Every map key is a string and every value a number, bool or string, so serialisation
    // cannot fail.
    let mut text = serde_json::to_string_pretty(&summary)
        .unwrap_or_else(|e| unreachable!("summary.json serialisation cannot fail: {e}"));
    text.push('\n');
    text
}
