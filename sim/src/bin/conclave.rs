//! `conclave`: run chat-security scenarios and report what each stack of schemes costs and buys.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand, ValueEnum};
use conclave_schemes::registry;
use conclave_sim::calibrate;
use conclave_sim::compare;
use conclave_sim::fuzz::Registered;
use conclave_sim::guard;
use conclave_sim::run::EXIT_VIOLATION;
use conclave_sim::scenario::{self, Scenario};
use conclave_sim::shard::Shard;
use sha2::{Digest, Sha256};

#[path = "conclave/fuzz.rs"]
mod fuzz;
#[path = "conclave/run.rs"]
mod run_cmd;

/// Exit code for bad input (scenario files, arguments, calibration files).
const EXIT_BAD_INPUT: u8 = 2;

#[derive(Parser)]
#[command(
    name = "conclave",
    version,
    about = "Simulate end-to-end encrypted business chat and measure what its schemes cost"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum CostArg {
    /// Charge each operation its measured wall time.
    Measured,
    /// Charge each operation from a calibration table (deterministic).
    Calibrated,
    /// As calibrated, with every scheme run as its model: no public-key cryptography runs.
    Model,
}

#[derive(Clone, Copy, ValueEnum)]
enum CompareFormat {
    /// A markdown table.
    Markdown,
    /// CSV, one row per stack and op.
    Csv,
    /// JSON, a list of objects.
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run a scenario and write its report.
    Run {
        /// The scenario file.
        file: PathBuf,
        /// Seed of the run (overrides the scenario's `seed`).
        #[arg(long)]
        seed: Option<u64>,
        /// Output directory (default `reports/<scenario name>/`, relative to the current
        /// directory).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Cost model (overrides the scenario's `cost_model`).
        #[arg(long, value_enum)]
        cost_model: Option<CostArg>,
        /// Calibration table to charge from (default: calibrate now and save it beside the report).
        #[arg(long)]
        calibration: Option<PathBuf>,
        /// Jobs (stack × seed) run in parallel, 1 to 256 (default: available cores).
        #[arg(long)]
        jobs: Option<usize>,
        /// Run only this stack of the scenario (`kd+pre+sse`; repeatable).
        #[arg(long = "stack", value_name = "NAME")]
        stacks: Vec<String>,
        /// Set a scenario key before validating (`org.rooms[0].size=32`; the value is YAML;
        /// repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE", value_parser = key_value)]
        sets: Vec<(String, String)>,
        /// Run only the K-th of N slices of the run's jobs (stack × seed × sweep point, dealt
        /// round-robin) and write their results as `partial.json` into the output directory,
        /// for `conclave merge` (needs `--calibration` under the calibrated cost model).
        #[arg(long, value_name = "K/N")]
        shard: Option<Shard>,
    },
    /// Merge the partial reports of all shards of a run (`run --shard`) into its report.
    Merge {
        /// The shards' output directories (or their `partial.json` files), in any order.
        #[arg(required = true)]
        partials: Vec<PathBuf>,
        /// Output directory (default `reports/<scenario name>/`).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Run random valid scenarios, check every run, and shrink each failure to a reproducer.
    Fuzz {
        /// Scenarios to generate.
        #[arg(long, default_value_t = 100)]
        count: u32,
        /// Batch seed (default: drawn from the clock and printed); scenario k's seed derives from
        /// it, so the same seed reproduces the whole batch.
        #[arg(long)]
        seed: Option<u64>,
        /// Stacks to draw from: `all` (random stacks of every registered scheme) or a
        /// comma-separated list of `kd+pre+sse`.
        #[arg(long, default_value = "all")]
        stacks: String,
        /// Largest organisation generated (organisations have 20 users or more unless this is
        /// smaller).
        #[arg(long, default_value_t = 60)]
        max_users: u32,
        /// Stop starting new scenarios after this wall time (`2m`, `90s`).
        #[arg(long)]
        time_limit: Option<String>,
        /// Output directory: the batch's calibration table and one `failure-NNN/` per distinct
        /// failure.
        #[arg(long, default_value = "reports/fuzz")]
        out: PathBuf,
        /// Calibration table to charge from (default: calibrate the batch's schemes now).
        #[arg(long)]
        calibration: Option<PathBuf>,
        /// Scenarios run in parallel (default: available cores).
        #[arg(long)]
        jobs: Option<usize>,
        /// Wall time allowed for shrinking each distinct failure.
        #[arg(long, default_value = "60s")]
        shrink_time: String,
    },
    /// Check a scenario file without running it.
    Validate {
        /// The scenario file.
        file: PathBuf,
        /// Set a scenario key before validating (as with `run`; repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE", value_parser = key_value)]
        sets: Vec<(String, String)>,
    },
    /// Compare two reports (directories or summary.json files), matched by stack and op.
    Compare {
        /// The reference report.
        a: PathBuf,
        /// The report compared with it.
        b: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value = "markdown")]
        format: CompareFormat,
        /// Exit with status 4, naming them, if any op's p50 in B exceeds A's by more than PCT %.
        #[arg(long, value_name = "PCT")]
        fail_above: Option<f64>,
    },
    /// List the registered schemes.
    Schemes,
    /// Measure every registered scheme operation and write a calibration table.
    Calibrate {
        /// Where to write it.
        #[arg(long, default_value = "reports/calibration.json")]
        out: PathBuf,
    },
}

/// A failure with its exit code.
struct Failure {
    code: u8,
    message: String,
}

impl Failure {
    fn bad_input(message: impl ToString) -> Self {
        Self {
            code: EXIT_BAD_INPUT,
            message: message.to_string(),
        }
    }
    fn other(message: impl ToString) -> Self {
        Self {
            code: 1,
            message: message.to_string(),
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run {
            file,
            seed,
            out,
            cost_model,
            calibration,
            jobs,
            stacks,
            sets,
            shard,
        } => run_cmd::run_scenario(&run_cmd::RunArgs {
            file,
            seed,
            out,
            cost_model,
            calibration,
            jobs,
            stacks,
            sets,
            shard,
        }),
        Command::Merge { partials, out } => run_cmd::merge(&partials, out),
        Command::Fuzz {
            count,
            seed,
            stacks,
            max_users,
            time_limit,
            out,
            calibration,
            jobs,
            shrink_time,
        } => fuzz::fuzz(&fuzz::FuzzArgs {
            count,
            seed,
            stacks,
            max_users,
            time_limit,
            out,
            calibration,
            jobs,
            shrink_time,
        }),
        Command::Validate { file, sets } => validate(&file, &sets),
        Command::Compare {
            a,
            b,
            format,
            fail_above,
        } => compare_reports(&a, &b, format, fail_above),
        Command::Schemes => {
            for info in registry::all() {
                println!(
                    "{:<4} {:<14} {}",
                    info.family.key(),
                    info.name,
                    info.summary
                );
            }
            Ok(())
        }
        Command::Calibrate { out } => calibrate_to(&out),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("error: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}

fn load(file: &Path, sets: &[(String, String)]) -> Result<Scenario, Failure> {
    scenario::load_with(file, &Registered::new().known(), sets).map_err(Failure::bad_input)
}

/// `KEY=VALUE` of `--set`.
fn key_value(arg: &str) -> Result<(String, String), String> {
    match arg.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_owned(), v.to_owned())),
        _ => Err(format!(
            "`{arg}` is not KEY=VALUE (for example org.rooms[0].size=32)"
        )),
    }
}

/// Jobs run in parallel without `--jobs`.
fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Refuses, before simulating, what cannot run here (memory, `--jobs`, `--out`).
fn preflight(s: &Scenario, jobs: Option<usize>, out: Option<&Path>) -> Result<(), Failure> {
    let request = guard::RunRequest {
        jobs,
        default_jobs: default_jobs(),
        out,
        memory_limit: guard::machine_memory(),
    };
    guard::preflight(s, &request).map_err(Failure::bad_input)
}

fn validate(file: &Path, sets: &[(String, String)]) -> Result<(), Failure> {
    let s = load(file, sets)?;
    preflight(&s, None, None)?;
    for p in &s.sweep {
        preflight(&p.scenario, None, None)?;
    }
    let jobs = s.stacks.len() * s.replicates as usize;
    println!(
        "{}: ok ({} users, {} room groups, {} stack(s), {} seed(s), {} job(s))",
        file.display(),
        s.org.users,
        s.org.rooms.len(),
        s.stacks.len(),
        s.replicates,
        jobs
    );
    if !s.sweep.is_empty() {
        println!("  sweep of {} point(s):", s.sweep.len());
        for (i, p) in s.sweep.iter().enumerate() {
            println!("  {:>3}. {}", i + 1, p.label());
        }
    }
    Ok(())
}

fn hex_sha256(bytes: &[u8]) -> String {
    conclave_sim::persist::hex(&Sha256::digest(bytes))
}

fn calibrate_to(out: &Path) -> Result<(), Failure> {
    eprintln!("calibrating every registered scheme operation...");
    let start = Instant::now();
    let table = calibrate::calibrate().map_err(Failure::other)?;
    table.save(out).map_err(Failure::other)?;
    eprintln!(
        "wrote {} ({} operations, {:.1} s)",
        out.display(),
        table.entries.len(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Exit status of `compare --fail-above` when an op got slower by more than allowed.
const EXIT_SLOWER: u8 = 4;

fn compare_reports(
    a: &Path,
    b: &Path,
    format: CompareFormat,
    fail_above: Option<f64>,
) -> Result<(), Failure> {
    if let Some(p) = fail_above.filter(|p| !p.is_finite() || *p < 0.0) {
        return Err(Failure::bad_input(format!(
            "--fail-above {p}: expected a percentage, 0 or more"
        )));
    }
    let fa = compare::read(a).map_err(Failure::bad_input)?;
    let fb = compare::read(b).map_err(Failure::bad_input)?;
    let rows = compare::matched(&fa, &fb);
    let text = match format {
        CompareFormat::Markdown => {
            compare::markdown(&rows, &a.to_string_lossy(), &b.to_string_lossy())
        }
        CompareFormat::Csv => compare::csv(&rows),
        CompareFormat::Json => compare::json(&rows),
    };
    print!("{text}");
    let Some(pct) = fail_above else {
        return Ok(());
    };
    let slower = compare::slower_than(&rows, pct);
    if slower.is_empty() {
        return Ok(());
    }
    let mut message = format!("{} op(s) got slower by more than {pct} %:\n", slower.len());
    for r in slower {
        message.push_str(&format!(
            "  {} {}: p50 {:.3} ms -> {:.3} ms ({:+.1} %)\n",
            r.stack,
            r.op,
            r.a.p50,
            r.b.p50,
            (r.p50_ratio() - 1.0) * 100.0
        ));
    }
    Err(Failure {
        code: EXIT_SLOWER,
        message: message.trim_end().to_owned(),
    })
}

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
