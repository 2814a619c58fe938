//! `conclave compare A B`: two reports side by side, matched by stack and op.
//!
//! Reads each report's `summary.json` (a report directory or the file itself), and for every
//! (stack, op) both have with samples gives A's and B's p50, p95 and p99, the ratio B/A of each,
//! bytes per op and client CPU per op. A difference counts as beyond noise when B's p50 lies
//! outside the 95 % confidence interval of A's p50 across seeds and A's outside B's (reports of
//! one seed have no interval, so nothing is marked). `fail_above` lists the ops whose p50 grew by
//! more than a given percentage: the regression gate.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// What could not be compared.
#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    /// A report could not be read.
    #[error("{}: cannot read the report: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A report is not a `summary.json`.
    #[error("{}: not a Conclave summary.json: {message}", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// One op of one stack in one report.
#[derive(Debug, Clone, PartialEq)]
pub struct OpFigures {
    /// Samples.
    pub count: u64,
    /// Latency percentiles, ms.
    pub p50: f64,
    /// p95, ms.
    pub p95: f64,
    /// p99, ms.
    pub p99: f64,
    /// Mean bytes up plus down per sample.
    pub bytes: f64,
    /// Mean client CPU per sample, ms.
    pub cpu_ms: f64,
    /// 95 % confidence interval of the p50 across seeds, when there were several.
    pub ci: Option<(f64, f64)>,
}

/// One matched (stack, op).
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The stack.
    pub stack: String,
    /// The op.
    pub op: String,
    /// In report A.
    pub a: OpFigures,
    /// In report B.
    pub b: OpFigures,
}

impl Row {
    /// B's p50 over A's (1 when both are 0).
    #[must_use]
    pub fn p50_ratio(&self) -> f64 {
        ratio(self.b.p50, self.a.p50)
    }

    /// Whether the p50s differ beyond the noise across seeds (see the module doc).
    #[must_use]
    pub fn beyond_noise(&self) -> Option<bool> {
        let (a_lo, a_hi) = self.a.ci?;
        let (b_lo, b_hi) = self.b.ci?;
        Some((self.b.p50 < a_lo || self.b.p50 > a_hi) && (self.a.p50 < b_lo || self.a.p50 > b_hi))
    }
}

fn ratio(b: f64, a: f64) -> f64 {
    if a > 0.0 {
        b / a
    } else if b > 0.0 {
        f64::INFINITY
    } else {
        1.0
    }
}

/// The `summary.json` of `path` (a report directory or the file).
fn summary_path(path: &Path) -> PathBuf {
    if path.is_dir() {
        path.join("summary.json")
    } else {
        path.to_path_buf()
    }
}

type Figures = Vec<(String, String, OpFigures)>;

/// Every (stack, op) with samples in the report at `path`, in the report's order.
///
/// # Errors
/// [`CompareError`] naming the file.
pub fn read(path: &Path) -> Result<Figures, CompareError> {
    let file = summary_path(path);
    let text = std::fs::read_to_string(&file).map_err(|source| CompareError::Io {
        path: file.clone(),
        source,
    })?;
    let bad = |message: &str| CompareError::Malformed {
        path: file.clone(),
        message: message.to_owned(),
    };
    let doc: Value = serde_json::from_str(&text).map_err(|e| bad(&e.to_string()))?;
    let stacks = doc
        .get("stacks")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("no `stacks` list"))?;
    let mut out = Vec::new();
    for st in stacks {
        let name = st
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("a stack without a `name`"))?;
        let ops = st
            .get("ops")
            .and_then(Value::as_object)
            .ok_or_else(|| bad("a stack without `ops`"))?;
        // The JSON reader sorts keys: put the ops back in table order.
        let mut ops: Vec<(&String, &Value)> = ops.iter().collect();
        ops.sort_by_key(|(op, _)| {
            crate::metrics::Op::ALL
                .iter()
                .position(|o| o.name() == op.as_str())
                .unwrap_or(usize::MAX)
        });
        for (op, v) in ops {
            let num = |k: &str| v.get(k).and_then(Value::as_f64).unwrap_or(0.0);
            let count = v.get("count").and_then(Value::as_u64).unwrap_or(0);
            if count == 0 {
                continue;
            }
            let ci = v
                .get("p50_ci95_ms")
                .and_then(Value::as_array)
                .and_then(|a| Some((a.first()?.as_f64()?, a.get(1)?.as_f64()?)));
            out.push((
                name.to_owned(),
                op.clone(),
                OpFigures {
                    count,
                    p50: num("p50_ms"),
                    p95: num("p95_ms"),
                    p99: num("p99_ms"),
                    bytes: num("bytes_up") + num("bytes_down"),
                    cpu_ms: v
                        .get("cpu_ms")
                        .and_then(|c| c.get("client"))
                        .and_then(Value::as_f64)
                        .unwrap_or(0.0),
                    ci,
                },
            ));
        }
    }
    Ok(out)
}

/// The (stack, op) pairs both reports have, in A's order.
#[must_use]
pub fn matched(a: &Figures, b: &Figures) -> Vec<Row> {
    a.iter()
        .filter_map(|(stack, op, fa)| {
            b.iter()
                .find(|(s, o, _)| s == stack && o == op)
                .map(|(_, _, fb)| Row {
                    stack: stack.clone(),
                    op: op.clone(),
                    a: fa.clone(),
                    b: fb.clone(),
                })
        })
        .collect()
}

/// The rows whose p50 in B exceeds A's by more than `percent` %.
#[must_use]
pub fn slower_than(rows: &[Row], percent: f64) -> Vec<&Row> {
    rows.iter()
        .filter(|r| r.p50_ratio() > 1.0 + percent / 100.0)
        .collect()
}

fn noise_mark(r: &Row) -> &'static str {
    match r.beyond_noise() {
        Some(true) => "*",
        Some(false) => "",
        None => "",
    }
}

/// The comparison as a markdown table.
#[must_use]
pub fn markdown(rows: &[Row], a: &str, b: &str) -> String {
    let mut out = format!("# Comparison\n\nA = `{a}`, B = `{b}`. Latencies in ms; ratios are B/A. `*` marks a p50 difference beyond the noise across seeds (each p50 outside the other's 95 % confidence interval; reports of one seed have none).\n\n");
    out.push_str("| stack | op | p50 A | p50 B | p50 B/A | p95 B/A | p99 B/A | bytes B/A | CPU B/A | samples A / B |\n");
    out.push_str("|:---|:---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for r in rows {
        let _ = writeln!(
            out,
            "| {} | {} | {:.3} | {:.3} | {:.3}×{} | {:.3}× | {:.3}× | {:.3}× | {:.3}× | {} / {} |",
            r.stack,
            r.op,
            r.a.p50,
            r.b.p50,
            r.p50_ratio(),
            noise_mark(r),
            ratio(r.b.p95, r.a.p95),
            ratio(r.b.p99, r.a.p99),
            ratio(r.b.bytes, r.a.bytes),
            ratio(r.b.cpu_ms, r.a.cpu_ms),
            r.a.count,
            r.b.count
        );
    }
    out
}

/// The comparison as CSV, one row per (stack, op).
#[must_use]
pub fn csv(rows: &[Row]) -> String {
    let mut out = String::from("stack,op,count_a,count_b,p50_a_ms,p50_b_ms,p50_ratio,p95_a_ms,p95_b_ms,p99_a_ms,p99_b_ms,bytes_a,bytes_b,cpu_a_ms,cpu_b_ms,beyond_noise\n");
    for r in rows {
        let _ = writeln!(
            out,
            "{},{},{},{},{:.3},{:.3},{:.4},{:.3},{:.3},{:.3},{:.3},{:.1},{:.1},{:.6},{:.6},{}",
            r.stack,
            r.op,
            r.a.count,
            r.b.count,
            r.a.p50,
            r.b.p50,
            r.p50_ratio(),
            r.a.p95,
            r.b.p95,
            r.a.p99,
            r.b.p99,
            r.a.bytes,
            r.b.bytes,
            r.a.cpu_ms,
            r.b.cpu_ms,
            r.beyond_noise().map_or_else(String::new, |b| b.to_string())
        );
    }
    out
}

/// The comparison as JSON: a list of objects with the CSV's fields.
#[must_use]
pub fn json(rows: &[Row]) -> String {
    let list: Vec<Value> = rows
        .iter()
        .map(|r| {
            serde_json::json!({
                "stack": r.stack, "op": r.op,
                "count_a": r.a.count, "count_b": r.b.count,
                "p50_a_ms": r.a.p50, "p50_b_ms": r.b.p50, "p50_ratio": r.p50_ratio(),
                "p95_a_ms": r.a.p95, "p95_b_ms": r.b.p95,
                "p99_a_ms": r.a.p99, "p99_b_ms": r.b.p99,
                "bytes_a": r.a.bytes, "bytes_b": r.b.bytes,
                "cpu_a_ms": r.a.cpu_ms, "cpu_b_ms": r.b.cpu_ms,
                "beyond_noise": r.beyond_noise(),
            })
        })
        .collect();
    let mut text = serde_json::to_string_pretty(&list).unwrap_or_else(|_| "[]".to_owned());
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figures(p50: f64, ci: Option<(f64, f64)>) -> OpFigures {
        OpFigures {
            count: 40,
            p50,
            p95: p50 * 2.0,
            p99: p50 * 3.0,
            bytes: 100.0,
            cpu_ms: 0.5,
            ci,
        }
    }

    #[test]
    fn ratios_noise_and_the_gate() {
        let row = |a: f64, b: f64, ci: Option<f64>| Row {
            stack: "s".into(),
            op: "send".into(),
            a: figures(a, ci.map(|w| (a - w, a + w))),
            b: figures(b, ci.map(|w| (b - w, b + w))),
        };
        let rows = vec![
            row(10.0, 13.0, Some(1.0)),
            row(10.0, 10.5, Some(1.0)),
            row(10.0, 11.0, None),
        ];
        assert!((rows[0].p50_ratio() - 1.3).abs() < 1e-12);
        assert_eq!(rows[0].beyond_noise(), Some(true));
        assert_eq!(rows[1].beyond_noise(), Some(false));
        assert_eq!(rows[2].beyond_noise(), None);
        let slow = slower_than(&rows, 20.0);
        assert_eq!(slow.len(), 1);
        assert!(markdown(&rows, "a", "b").contains("| 1.300×* |"));
        assert!(csv(&rows)
            .lines()
            .nth(1)
            .unwrap_or_default()
            .ends_with(",true"));
        assert_eq!(ratio(0.0, 0.0), 1.0);
    }
}
