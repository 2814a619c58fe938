//! Report writers: turn the measurements of a finished run into `summary.json`,
//! `table1.md`, `table1.csv`, `security.md` and `manifest.json`, and the plots the scenario
//! requests under `plots/`.
//!
//! Every writer except [`manifest_json`] is a pure function of its [`RunReport`]: the same inputs
//! give byte-identical output (no clock, no hash-map order, fixed float formatting). The manifest
//! records the machine, the time and the source revision, and is the only file allowed to vary
//! between identical runs.

mod hdr;
pub mod human;
mod manifest;
pub mod plots;
mod security;
mod summary;
mod sweep;
mod table;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::metrics::{Op, OpStats, StackResult};
use crate::scenario::{CostModelKind, Scenario};

pub use manifest::manifest_json;
pub use plots::write_plots;
pub use security::security_md;
pub use summary::summary_json;
pub use sweep::{sweep_csv, sweep_md, write_sweep, PointReport};
pub use table::{table1_csv, table1_md};

/// Name of the conventional stack, the reference column of Table 1.
pub const CONVENTIONAL_STACK: &str = "conventional+none+plaintext";

/// Where the calibration came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalibrationInfo {
    /// A path, or `measured at start of run`, or `none (measured cost model)`.
    pub source: String,
    /// Lower-case hex SHA-256 of the calibration file, when there is one.
    pub sha256: Option<String>,
}

/// A finished run, ready to report.
#[derive(Debug, Clone)]
pub struct RunReport<'a> {
    /// The scenario that was run.
    pub scenario: &'a Scenario,
    /// The seeds run, in order (their results are merged in `stacks`).
    pub seeds: Vec<u64>,
    /// The effective cost model (the command line may override the scenario's).
    pub cost_model: CostModelKind,
    /// Where the calibration came from.
    pub calibration: CalibrationInfo,
    /// Per stack, in the scenario's stack order.
    pub stacks: Vec<StackResult>,
    /// Real time the run took, in seconds (reported in the manifest only).
    pub wall_seconds: f64,
}

/// A report file could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A file's content could not be produced.
    #[error("cannot encode report file {file}: {message}")]
    Encode {
        /// The file.
        file: &'static str,
        /// Why.
        message: String,
    },
    /// Creating the directory, writing the temporary file or renaming it failed.
    #[error("cannot write report file {}: {source}", path.display())]
    Io {
        /// The file or directory that could not be written.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A requested plot could not be drawn or encoded.
    #[error("cannot draw plot {plot}: {message}")]
    Plot {
        /// The plot's name, as in `report.plots`.
        plot: String,
        /// What went wrong.
        message: String,
    },
}

/// Writes all report files into `dir` (created if missing), then the requested plots (see
/// [`write_plots`]), and returns their paths, in the order `summary.json`, `table1.md`,
/// `table1.csv`, `security.md`, `manifest.json`, `latency.hlog`, then the plots.
///
/// Each file is written to a temporary name in `dir`, flushed to disk and renamed into place, so
/// a crash never leaves a half-written file under its final name.
///
/// # Errors
///
/// [`ReportError::Io`] naming the directory or file that could not be created, written or
/// renamed; [`ReportError::Plot`] naming a plot that could not be drawn. A temporary file left
/// by a failed write is removed on a best-effort basis.
pub fn write_all(r: &RunReport, dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
    fs::create_dir_all(dir).map_err(|source| ReportError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let hlog = hdr::latency_log(r).map_err(|message| ReportError::Encode {
        file: "latency.hlog",
        message,
    })?;
    let files: [(&str, String); 6] = [
        ("summary.json", summary_json(r)),
        ("table1.md", table1_md(r)),
        ("table1.csv", table1_csv(r)),
        ("security.md", security_md(r)),
        ("manifest.json", manifest_json(r)),
        ("latency.hlog", hlog),
    ];
    let mut written = Vec::with_capacity(files.len());
    for (name, text) in &files {
        let path = dir.join(name);
        write_atomically(dir, name, &path, text.as_bytes())?;
        written.push(path);
    }
    written.extend(write_plots(r, dir)?);
    Ok(written)
}

/// Writes `bytes` to a temporary file in `dir`, syncs it and renames it to `path`.
pub(crate) fn write_atomically(
    dir: &Path,
    name: &str,
    path: &Path,
    bytes: &[u8],
) -> Result<(), ReportError> {
    // Unique per process and call, so concurrent writers into one directory never share a
    // temporary file.
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let tmp = dir.join(format!(".{name}.tmp-{}-{n}", std::process::id()));
    let result = (|| {
        let mut f = fs::File::create(&tmp).map_err(|source| ReportError::Io {
            path: tmp.clone(),
            source,
        })?;
        f.write_all(bytes)
            .and_then(|()| f.sync_all())
            .map_err(|source| ReportError::Io {
                path: tmp.clone(),
                source,
            })?;
        drop(f);
        fs::rename(&tmp, path).map_err(|source| ReportError::Io {
            path: path.to_path_buf(),
            source,
        })
    })();
    if result.is_err() {
        // Best effort: the error being reported matters more than a failed clean-up.
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// `measured`, `calibrated` or `model`, as in scenario files.
fn cost_model_name(k: CostModelKind) -> &'static str {
    match k {
        CostModelKind::Measured => "measured",
        CostModelKind::Calibrated => "calibrated",
        CostModelKind::Model => "model",
    }
}

/// The stats of `op` in `stack`, if it has at least one sample.
fn op_stats(stack: &StackResult, op: Op) -> Option<&OpStats> {
    stack.ops.get(&op).filter(|s| s.count > 0)
}

/// The stats of `op` in `stack`, if it has a sample or a censored action (incomplete or
/// skipped): what the summary and the sample table list.
fn op_entry(stack: &StackResult, op: Op) -> Option<&OpStats> {
    stack.ops.get(&op).filter(|s| s.count > 0 || s.censored())
}

/// Ops with samples or censored actions in at least one stack, in [`Op::ALL`] order.
fn measured_ops(stacks: &[StackResult]) -> Vec<Op> {
    Op::ALL
        .into_iter()
        .filter(|&op| stacks.iter().any(|s| op_entry(s, op).is_some()))
        .collect()
}

/// Whether a comparison of `op` between two stacks is paired: both have the same number of
/// samples. Every stack replays the same trace, so counts differ only when a stack left ops
/// incomplete or skipped actions (or, for ops the engine derives, such as `reencrypt`, when
/// the stacks' schemes differ in what they do); a ratio over different sample sets is then not
/// a like-for-like comparison.
fn paired(a: &StackResult, b: &StackResult, op: Op) -> bool {
    let count = |s: &StackResult| s.ops.get(&op).map_or(0, |x| x.count);
    count(a) == count(b)
}

/// Skipped actions of an op, as `N (reason n, reason m)`; empty when none.
fn skipped_text(s: &OpStats) -> String {
    let total = s.skipped_total();
    if total == 0 {
        return String::new();
    }
    let reasons = s
        .skipped
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(r, n)| format!("{} {n}", r.name()))
        .collect::<Vec<_>>()
        .join(", ");
    format!("{total} ({reasons})")
}

/// Index of the conventional stack in the run, if present.
fn conventional_index(stacks: &[StackResult]) -> Option<usize> {
    stacks
        .iter()
        .position(|s| s.stack.name() == CONVENTIONAL_STACK)
}

/// `value / reference` at percentile `p` for `op`, or `None` when either is missing or zero.
fn ratio(stack: &StackResult, conventional: &StackResult, op: Op, p: f64) -> Option<f64> {
    let mine = op_stats(stack, op)?.percentile_ms(p);
    let theirs = op_stats(conventional, op)?.percentile_ms(p);
    (mine > 0.0 && theirs > 0.0 && mine.is_finite() && theirs.is_finite()).then(|| mine / theirs)
}

/// Rounds to `decimals` decimal places (half away from zero); non-finite values become 0.
fn round_to(x: f64, decimals: i32) -> f64 {
    if !x.is_finite() {
        return 0.0;
    }
    let scale = 10f64.powi(decimals);
    let r = (x * scale).round() / scale;
    // Avoid printing `-0.0`.
    if r == 0.0 {
        0.0
    } else {
        r
    }
}

/// A percentile as a label: `50`, `95`, `99.9` (no trailing `.0`).
fn percentile_label(p: f64) -> String {
    // `Display` for f64 prints the shortest representation that round-trips, without a
    // trailing `.0` for integral values.
    format!("{p}")
}

/// Makes text safe inside one markdown table cell: no line breaks, pipes escaped.
fn md_cell(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace(['\r', '\n'], " ")
}
