//! `manifest.json`: what produced a run (scenario hash, seeds, cost model and calibration, source
//! revision, compiler, machine) and when. The only report file that varies between identical runs.

use std::process::{Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

use super::{cost_model_name, round_to, RunReport};

/// The compiler that built this crate, captured by `build.rs` (`unknown` if it could not tell).
const RUSTC_VERSION: &str = env!("CONCLAVE_RUSTC_VERSION");

#[derive(Serialize)]
struct Manifest<'a> {
    conclave_version: &'static str,
    scenario: &'a str,
    scenario_path: String,
    scenario_sha256: &'a str,
    seeds: &'a [u64],
    cost_model: &'static str,
    calibration: Calibration<'a>,
    stacks: Vec<String>,
    git_revision: String,
    git_dirty: Option<bool>,
    rustc: &'static str,
    cpu_model: String,
    cpus: Option<usize>,
    os: String,
    wall_seconds: f64,
    created_unix: u64,
}

#[derive(Serialize)]
struct Calibration<'a> {
    source: &'a str,
    sha256: Option<&'a str>,
}

/// Runs `git` with `args` in the current directory; its trimmed stdout if it succeeded.
fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    String::from_utf8(out.stdout)
        .ok()
        .map(|s| s.trim().to_owned())
}

/// `(revision, dirty)`: `HEAD`'s hash and whether the work tree differs from it (untracked,
/// non-ignored files count), or `("unknown", None)` outside a git work tree or without git.
fn git_state() -> (String, Option<bool>) {
    match git(&["rev-parse", "HEAD"]).filter(|s| !s.is_empty()) {
        Some(rev) => (rev, git(&["status", "--porcelain"]).map(|s| !s.is_empty())),
        None => ("unknown".to_owned(), None),
    }
}

/// The first `model name` of `/proc/cpuinfo`, or `unknown`.
fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .filter(|l| l.starts_with("model name"))
                .find_map(|l| l.split_once(':').map(|(_, v)| v.trim().to_owned()))
        })
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// `manifest.json`, pretty-printed, ending with a newline: crate version, scenario name, path
/// and hash, seeds, effective cost model, calibration source and hash, stack names, git
/// revision of the current directory (`unknown` if there is none) and whether the tree is dirty
/// (`null` if unknown), rustc version, CPU model, available parallelism, OS and architecture,
/// wall time of the run and creation time (Unix seconds). Never panics on a missing tool or file.
#[must_use]
pub fn manifest_json(r: &RunReport) -> String {
    let (git_revision, git_dirty) = git_state();
    let m = Manifest {
        conclave_version: env!("CARGO_PKG_VERSION"),
        scenario: &r.scenario.name,
        scenario_path: r.scenario.source_path.display().to_string(),
        scenario_sha256: &r.scenario.source_sha256,
        seeds: &r.seeds,
        cost_model: cost_model_name(r.cost_model),
        calibration: Calibration {
            source: &r.calibration.source,
            sha256: r.calibration.sha256.as_deref(),
        },
        stacks: r.stacks.iter().map(|s| s.stack.name()).collect(),
        git_revision,
        git_dirty,
        rustc: RUSTC_VERSION,
        cpu_model: cpu_model(),
        cpus: std::thread::available_parallelism()
            .ok()
            .map(std::num::NonZeroUsize::get),
        os: format!("{}-{}", std::env::consts::OS, std::env::consts::ARCH),
        wall_seconds: round_to(r.wall_seconds, 3),
        created_unix: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    };
    // Every map key is a string and every value a number, bool, string or null, so
    // serialisation cannot fail.
    let mut text = serde_json::to_string_pretty(&m)
        .unwrap_or_else(|e| unreachable!("manifest.json serialisation cannot fail: {e}"));
    text.push('\n');
    text
}
