//! The regression gate: runs the instruction-count benches (`benches/gate.rs`, gungraun under
//! Callgrind), runs the same cases natively for their bytes, compares both with the committed
//! baseline, and, for the end-to-end view, compares a calibrated run of `paper-table1.yaml`
//! with its reference report (`conclave compare --fail-above`).
//!
//! ```sh
//! cargo run --release -p conclave-benches --bin regress               # the gate
//! cargo run --release -p conclave-benches --bin regress -- --write    # record the baseline
//! ```
//!
//! Exit status: 0 when every benchmark passes, 1 when the gate could not run, 3 when a
//! benchmark regressed (named on standard error), 4 when the end-to-end comparison found an op
//! slower by more than `--fail-above`. With `--expect-regressed`, 0 exactly when the named
//! benchmarks, and no others, fail.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use clap::Parser;
use conclave_benches::gate::baseline::{self, Baseline, Measured, Tools};
use conclave_benches::gate::{self, Ran};

/// The gungraun version the bench is built with; its runner must be the same.
const GUNGRAUN: &str = "0.20.0";

/// Exit status when a benchmark regressed.
const EXIT_REGRESSED: u8 = 3;

/// Exit status when the end-to-end comparison failed (as `conclave compare --fail-above`).
const EXIT_END_TO_END: u8 = 4;

#[derive(Debug, Parser)]
#[command(
    about = "Conclave's regression gate: instruction counts and bytes per scheme operation against the committed baseline"
)]
struct Args {
    /// Record this run as the baseline instead of comparing (keeps the file's thresholds).
    #[arg(long)]
    write: bool,
    /// The baseline file.
    #[arg(long, default_value = "benches/baseline/gate.json")]
    baseline: PathBuf,
    /// Features of conclave-benches to build the instruction-count bench with
    /// (`gate-slowdown` is the gate's own test).
    #[arg(long, value_name = "LIST")]
    features: Option<String>,
    /// Succeed exactly when these benchmarks, and no others, fail (repeatable): the proof that
    /// the gate catches a deliberate slowdown.
    #[arg(long, value_name = "NAME")]
    expect_regressed: Vec<String>,
    /// Skip the end-to-end comparison of a calibrated `paper-table1` run with its reference.
    #[arg(long)]
    no_end_to_end: bool,
    /// Allowed growth of an op's p50 in the end-to-end comparison, percent.
    #[arg(long, value_name = "PCT", default_value_t = 3.0)]
    fail_above: f64,
}

/// Why the gate could not run.
#[derive(Debug)]
struct Broken(String);

impl<E: std::fmt::Display> From<E> for Broken {
    fn from(e: E) -> Self {
        Self(e.to_string())
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    match gate(&args) {
        Ok(code) => code,
        Err(Broken(msg)) => {
            eprintln!("regress: {msg}");
            ExitCode::from(1)
        }
    }
}

/// The workspace root (this crate's parent).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_owned)
}

/// Where cargo builds.
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from)
}

fn cargo() -> Command {
    let mut c = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    c.current_dir(root());
    c
}

/// The first line `program --version` prints.
fn version(program: &str) -> Result<String, Broken> {
    let out = Command::new(program)
        .arg("--version")
        .output()
        .map_err(|e| Broken(format!("{program} --version: {e}")))?;
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(text.lines().next().unwrap_or_default().trim().to_owned())
}

fn tools() -> Result<Tools, Broken> {
    let runner = version("gungraun-runner").map_err(|e| {
        Broken(format!(
            "{} (install it with `cargo install --locked --version {GUNGRAUN} gungraun-runner`)",
            e.0
        ))
    })?;
    if !runner.contains(GUNGRAUN) {
        return Err(Broken(format!(
            "gungraun-runner is `{runner}`; the bench needs {GUNGRAUN} (`cargo install --locked --version {GUNGRAUN} gungraun-runner`)"
        )));
    }
    Ok(Tools {
        rustc: version("rustc")?,
        valgrind: version("valgrind").map_err(|e| {
            Broken(format!(
                "{} (install valgrind: `apt-get install valgrind`)",
                e.0
            ))
        })?,
        gungraun: GUNGRAUN.to_owned(),
    })
}

/// Runs the instruction-count bench and reads every case's instructions, by case number.
fn instructions(features: Option<&str>, cases: usize) -> Result<Vec<u64>, Broken> {
    let summaries = target_dir().join("gungraun/conclave-benches/gate");
    if summaries.exists() {
        std::fs::remove_dir_all(&summaries)?;
    }
    let mut bench = cargo();
    // `--workspace` resolves features as `cargo test --workspace` does, so the bench reuses the
    // test build's artifacts instead of rebuilding the dependency tree for one package.
    bench.args(["bench", "--workspace", "--bench", "gate"]);
    if let Some(f) = features {
        let qualified: Vec<String> = f
            .split([',', ' '])
            .filter(|f| !f.is_empty())
            .map(|f| {
                if f.contains('/') {
                    f.to_owned()
                } else {
                    format!("conclave-benches/{f}")
                }
            })
            .collect();
        bench.args(["--features", &qualified.join(",")]);
    }
    // One benchmark per core: each is a process of its own, and its count does not depend on
    // what runs beside it.
    bench.args(["--", "--save-summary=json", "--parallel=auto"]);
    let status = bench.status()?;
    if !status.success() {
        return Err(Broken(format!("cargo bench --bench gate: {status}")));
    }
    (0..cases)
        .map(|i| {
            let path = summaries.join(format!("cases/op.case_{i}/summary.json"));
            let text = std::fs::read_to_string(&path)
                .map_err(|e| Broken(format!("{}: {e}", path.display())))?;
            let summary: serde_json::Value = serde_json::from_str(&text)
                .map_err(|e| Broken(format!("{}: {e}", path.display())))?;
            summary_instructions(&summary)
                .ok_or_else(|| Broken(format!("{}: no Callgrind Ir total", path.display())))
        })
        .collect()
}

/// Callgrind's total `Ir` in a gungraun summary.
fn summary_instructions(summary: &serde_json::Value) -> Option<u64> {
    summary["profiles"]
        .as_array()?
        .iter()
        .find(|p| p["tool"] == "Callgrind")?["data"]["total"]["metrics"]["Ir"]["values"]["new"]
        .as_u64()
}

/// Runs every case natively, for its bytes.
fn bytes(cases: &[gate::Case]) -> Vec<BTreeMap<String, u64>> {
    cases
        .iter()
        .map(|case| {
            let Ran { bytes, state } = (case.prepare)().run();
            drop(state);
            bytes.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
        })
        .collect()
}

fn gate(args: &Args) -> Result<ExitCode, Broken> {
    let tools = tools()?;
    let cases = gate::cases();
    let counts = instructions(args.features.as_deref(), cases.len())?;
    let bytes = bytes(&cases);
    let now: BTreeMap<String, Measured> = cases
        .iter()
        .zip(counts)
        .zip(bytes)
        .map(|((case, instructions), bytes)| {
            (
                case.name.clone(),
                Measured {
                    instructions,
                    bytes,
                },
            )
        })
        .collect();
    let path = root().join(&args.baseline);
    let existing = match std::fs::read_to_string(&path) {
        Ok(text) => Some(
            serde_json::from_str::<Baseline>(&text)
                .map_err(|e| Broken(format!("{}: {e}", path.display())))?,
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && args.write => None,
        Err(e) => return Err(Broken(format!("{}: {e}", path.display()))),
    };
    if args.write {
        let base = Baseline {
            recorded_with: tools,
            threshold_percent: existing
                .as_ref()
                .map_or(baseline::DEFAULT_THRESHOLD_PERCENT, |b| b.threshold_percent),
            slack_instructions: existing
                .as_ref()
                .map_or(baseline::DEFAULT_SLACK_INSTRUCTIONS, |b| {
                    b.slack_instructions
                }),
            thresholds: existing.map(|b| b.thresholds).unwrap_or_default(),
            benchmarks: now,
        };
        let text = serde_json::to_string_pretty(&base)? + "\n";
        std::fs::write(&path, text)?;
        println!(
            "regress: wrote {} benchmarks to {}",
            base.benchmarks.len(),
            path.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let base = existing.ok_or_else(|| Broken(format!("{}: missing", path.display())))?;
    if base.recorded_with != tools {
        eprintln!(
            "regress: warning: the baseline was recorded with {:?}, this run uses {:?}; counts may differ for that reason alone",
            base.recorded_with, tools
        );
    }
    let rows = baseline::compare(&base, &now);
    print!("{}", baseline::table(&base, &rows));
    let failed: BTreeSet<&str> = rows
        .iter()
        .filter(|r| r.verdict.fails())
        .map(|r| r.name.as_str())
        .collect();
    for r in rows.iter().filter(|r| r.verdict.fails()) {
        eprintln!("regress: {}: {}", r.name, r.verdict.label());
    }
    if !args.expect_regressed.is_empty() {
        let expected: BTreeSet<&str> = args.expect_regressed.iter().map(String::as_str).collect();
        if failed == expected {
            println!("regress: the gate named exactly the expected benchmarks: {expected:?}");
            return Ok(ExitCode::SUCCESS);
        }
        eprintln!("regress: expected exactly {expected:?} to fail; failed: {failed:?}");
        return Ok(ExitCode::from(EXIT_REGRESSED));
    }
    println!(
        "regress: {} benchmarks, {} failed (threshold {} %, beyond {} instructions)",
        rows.len(),
        failed.len(),
        base.threshold_percent,
        base.slack_instructions
    );
    if !failed.is_empty() {
        return Ok(ExitCode::from(EXIT_REGRESSED));
    }
    if args.no_end_to_end {
        return Ok(ExitCode::SUCCESS);
    }
    end_to_end(args.fail_above)
}

/// A calibrated run of `paper-table1.yaml` compared with its reference report.
fn end_to_end(fail_above: f64) -> Result<ExitCode, Broken> {
    let reference = Path::new("reports/reference/paper-table1");
    let out = target_dir().join("gate/paper-table1");
    let conclave = |args: &[&str]| {
        let mut c = cargo();
        c.args([
            "run",
            "--release",
            "-q",
            "-p",
            "conclave-sim",
            "--bin",
            "conclave",
            "--",
        ]);
        c.args(args);
        c.status()
    };
    let calibration = reference.join("calibration.json");
    let status = conclave(&[
        "run",
        "scenarios/paper-table1.yaml",
        "--calibration",
        &calibration.to_string_lossy(),
        "--out",
        &out.to_string_lossy(),
    ])?;
    if !status.success() {
        return Err(Broken(format!(
            "conclave run scenarios/paper-table1.yaml: {status}"
        )));
    }
    let status = conclave(&[
        "compare",
        &reference.to_string_lossy(),
        &out.to_string_lossy(),
        "--fail-above",
        &fail_above.to_string(),
    ])?;
    Ok(if status.success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_END_TO_END)
    })
}
