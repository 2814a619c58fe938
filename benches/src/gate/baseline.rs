//! The gate's committed baseline (`benches/baseline/gate.json`) and its comparison with a run.
//!
//! A benchmark fails the gate when its instructions grew by more than its threshold (the
//! file's `threshold_percent`, or its entry in `thresholds`) and by more than the file's
//! `slack_instructions`, when any of its bytes changed,
//! when it is new (not in the baseline) or gone (in the baseline, not run). Instructions that
//! fell are reported and pass: the baseline should then be updated, so that the gain is kept.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

/// What one benchmark measured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Measured {
    /// Instructions executed by the operation (Callgrind's `Ir`).
    pub instructions: u64,
    /// Bytes it sent, by role or message kind.
    pub bytes: BTreeMap<String, u64>,
}

/// The tools a baseline was recorded with: counts are comparable only under the same ones.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tools {
    /// `rustc --version`.
    pub rustc: String,
    /// `valgrind --version`.
    pub valgrind: String,
    /// The gungraun library and runner version.
    pub gungraun: String,
}

/// The committed baseline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    /// What recorded it.
    pub recorded_with: Tools,
    /// Growth of instructions a benchmark may show before it fails, in percent.
    pub threshold_percent: f64,
    /// Per-benchmark thresholds that replace [`threshold_percent`](Self::threshold_percent).
    #[serde(default)]
    pub thresholds: BTreeMap<String, f64>,
    /// Growth in instructions that never fails, whatever the percentage.
    ///
    /// The C library picks its `memcpy`, `memset` and `strlen` by the CPU it runs on, so a
    /// case of a few thousand instructions moves by a few hundred on another machine (measured:
    /// +371 on `kd/conventional/join/4`, 3.4 % of it); no regression worth a gate is that small.
    #[serde(default = "default_slack_instructions")]
    pub slack_instructions: u64,
    /// Every benchmark, by name.
    pub benchmarks: BTreeMap<String, Measured>,
}

/// The default [`Baseline::threshold_percent`].
pub const DEFAULT_THRESHOLD_PERCENT: f64 = 3.0;

/// The default [`Baseline::slack_instructions`].
pub const DEFAULT_SLACK_INSTRUCTIONS: u64 = 1_000;

fn default_slack_instructions() -> u64 {
    DEFAULT_SLACK_INSTRUCTIONS
}

impl Baseline {
    /// The threshold of `name`, in percent.
    #[must_use]
    pub fn threshold(&self, name: &str) -> f64 {
        self.thresholds
            .get(name)
            .copied()
            .unwrap_or(self.threshold_percent)
    }
}

/// How a benchmark compares with the baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Within the threshold, bytes equal.
    Pass,
    /// Instructions grew beyond the threshold and the slack.
    Slower,
    /// Bytes changed.
    BytesChanged,
    /// Not in the baseline.
    New,
    /// In the baseline, not run.
    Gone,
}

impl Verdict {
    /// Whether the verdict fails the gate.
    #[must_use]
    pub fn fails(self) -> bool {
        self != Verdict::Pass
    }

    /// How the table shows the verdict.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Pass => "ok",
            Verdict::Slower => "SLOWER",
            Verdict::BytesChanged => "BYTES CHANGED",
            Verdict::New => "NEW (not in the baseline)",
            Verdict::Gone => "GONE (not run)",
        }
    }
}

/// One line of the comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The benchmark.
    pub name: String,
    /// Its baseline, if any.
    pub base: Option<Measured>,
    /// This run, if it ran.
    pub now: Option<Measured>,
    /// Change of instructions in percent, where both exist.
    pub change_percent: Option<f64>,
    /// The verdict.
    pub verdict: Verdict,
}

/// Compares a run with the baseline, one row per benchmark of either, by name.
#[must_use]
pub fn compare(base: &Baseline, now: &BTreeMap<String, Measured>) -> Vec<Row> {
    let mut names: Vec<&String> = base.benchmarks.keys().chain(now.keys()).collect();
    names.sort();
    names.dedup();
    names
        .into_iter()
        .map(|name| {
            let b = base.benchmarks.get(name);
            let n = now.get(name);
            let change_percent = match (b, n) {
                (Some(b), Some(n)) if b.instructions > 0 => {
                    Some((n.instructions as f64 / b.instructions as f64 - 1.0) * 100.0)
                }
                _ => None,
            };
            let verdict = match (b, n) {
                (None, _) => Verdict::New,
                (_, None) => Verdict::Gone,
                (Some(b), Some(n)) if b.bytes != n.bytes => Verdict::BytesChanged,
                (Some(b), Some(n)) if grew_too_much(base, name, b, n) => Verdict::Slower,
                (Some(_), Some(_)) => Verdict::Pass,
            };
            Row {
                name: name.clone(),
                base: b.cloned(),
                now: n.cloned(),
                change_percent,
                verdict,
            }
        })
        .collect()
}

/// Growth × 100 against threshold × baseline: exact for counts below 2^53, so a growth of
/// exactly the threshold (or exactly the slack) passes.
fn grew_too_much(base: &Baseline, name: &str, b: &Measured, n: &Measured) -> bool {
    let growth = n.instructions.saturating_sub(b.instructions);
    growth > base.slack_instructions
        && growth as f64 * 100.0 > base.threshold(name) * b.instructions as f64
}

fn bytes_text(m: Option<&Measured>) -> String {
    m.map_or_else(String::new, |m| {
        m.bytes
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    })
}

/// The comparison as a Markdown table; bytes are shown where they changed.
#[must_use]
pub fn table(base: &Baseline, rows: &[Row]) -> String {
    let mut out = String::from(
        "| benchmark | baseline Ir | Ir | change | threshold | bytes | verdict |\n|:---|---:|---:|---:|---:|:---|:---|\n",
    );
    for r in rows {
        let ir = |m: &Option<Measured>| {
            m.as_ref()
                .map_or("-".to_owned(), |m| m.instructions.to_string())
        };
        let change = r
            .change_percent
            .map_or("-".to_owned(), |c| format!("{c:+.3} %"));
        let bytes = if r.verdict == Verdict::BytesChanged {
            format!(
                "{} → {}",
                bytes_text(r.base.as_ref()),
                bytes_text(r.now.as_ref())
            )
        } else {
            bytes_text(r.now.as_ref().or(r.base.as_ref()))
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {change} | {} % | {bytes} | {} |",
            r.name,
            ir(&r.base),
            ir(&r.now),
            base.threshold(&r.name),
            r.verdict.label()
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measured(instructions: u64, record: u64) -> Measured {
        Measured {
            instructions,
            bytes: BTreeMap::from([("record".to_owned(), record)]),
        }
    }

    fn baseline(entries: &[(&str, Measured)]) -> Baseline {
        Baseline {
            recorded_with: Tools {
                rustc: "rustc".into(),
                valgrind: "valgrind".into(),
                gungraun: "0".into(),
            },
            threshold_percent: DEFAULT_THRESHOLD_PERCENT,
            thresholds: BTreeMap::new(),
            slack_instructions: 10,
            benchmarks: entries
                .iter()
                .map(|(n, m)| ((*n).to_owned(), m.clone()))
                .collect(),
        }
    }

    fn verdicts(base: &Baseline, now: &[(&str, Measured)]) -> Vec<(String, Verdict)> {
        let now = now
            .iter()
            .map(|(n, m)| ((*n).to_owned(), m.clone()))
            .collect();
        compare(base, &now)
            .into_iter()
            .map(|r| (r.name, r.verdict))
            .collect()
    }

    #[test]
    fn growth_beyond_the_threshold_fails_and_within_it_passes() {
        let base = baseline(&[("a", measured(1000, 10)), ("b", measured(1000, 10))]);
        let got = verdicts(
            &base,
            &[("a", measured(1031, 10)), ("b", measured(1030, 10))],
        );
        assert_eq!(
            got,
            [("a".into(), Verdict::Slower), ("b".into(), Verdict::Pass)]
        );
    }

    #[test]
    fn growth_within_the_slack_passes_whatever_its_percentage() {
        let base = baseline(&[("a", measured(100, 10)), ("b", measured(100, 10))]);
        let got = verdicts(&base, &[("a", measured(110, 10)), ("b", measured(111, 10))]);
        assert_eq!(
            got,
            [("a".into(), Verdict::Pass), ("b".into(), Verdict::Slower)]
        );
    }

    #[test]
    fn a_baseline_without_slack_gets_the_default() {
        let mut text = serde_json::to_value(baseline(&[])).unwrap();
        text.as_object_mut().unwrap().remove("slack_instructions");
        let base: Baseline = serde_json::from_value(text).unwrap();
        assert_eq!(base.slack_instructions, DEFAULT_SLACK_INSTRUCTIONS);
    }

    #[test]
    fn fewer_instructions_pass() {
        let base = baseline(&[("a", measured(1000, 10))]);
        assert_eq!(
            verdicts(&base, &[("a", measured(500, 10))]),
            [("a".into(), Verdict::Pass)]
        );
    }

    #[test]
    fn any_change_of_bytes_fails() {
        let base = baseline(&[("a", measured(1000, 10))]);
        assert_eq!(
            verdicts(&base, &[("a", measured(1000, 11))]),
            [("a".into(), Verdict::BytesChanged)]
        );
    }

    #[test]
    fn a_per_benchmark_threshold_replaces_the_default() {
        let mut base = baseline(&[("a", measured(1000, 10))]);
        base.thresholds.insert("a".into(), 10.0);
        assert_eq!(
            verdicts(&base, &[("a", measured(1090, 10))]),
            [("a".into(), Verdict::Pass)]
        );
        assert_eq!(
            verdicts(&base, &[("a", measured(1101, 10))]),
            [("a".into(), Verdict::Slower)]
        );
    }

    #[test]
    fn new_and_gone_benchmarks_fail() {
        let base = baseline(&[("old", measured(1000, 10))]);
        assert_eq!(
            verdicts(&base, &[("new", measured(1000, 10))]),
            [("new".into(), Verdict::New), ("old".into(), Verdict::Gone)]
        );
    }

    #[test]
    fn the_baseline_file_round_trips() {
        let base = baseline(&[("a", measured(1000, 10))]);
        let text = serde_json::to_string_pretty(&base).unwrap();
        assert_eq!(serde_json::from_str::<Baseline>(&text).unwrap(), base);
    }
}
