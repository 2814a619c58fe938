//! `conclave`: run chat-security scenarios and report what each stack of schemes costs and buys.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand, ValueEnum};
use conclave_schemes::registry::{self, Registry};
use conclave_sim::calibrate;
use conclave_sim::compare;
use conclave_sim::cost::CalibrationTable;
use conclave_sim::engine::{EngineError, Progress};
use conclave_sim::fuzz::output::shell_word;
use conclave_sim::fuzz::Registered;
use conclave_sim::guard;
use conclave_sim::report::{self, CalibrationInfo, RunReport};
use conclave_sim::run::{self, Costing, RunOutcome, EXIT_VIOLATION};
use conclave_sim::scenario::{self, CostModelKind, Scenario};
use sha2::{Digest, Sha256};

#[path = "conclave/fuzz.rs"]
mod fuzz;

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
        } => run_scenario(&RunArgs {
            file,
            seed,
            out,
            cost_model,
            calibration,
            jobs,
            sets,
            stacks,
        }),
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
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
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

/// The arguments of `conclave run`.
struct RunArgs {
    file: PathBuf,
    seed: Option<u64>,
    out: Option<PathBuf>,
    cost_model: Option<CostArg>,
    calibration: Option<PathBuf>,
    jobs: Option<usize>,
    stacks: Vec<String>,
    sets: Vec<(String, String)>,
}

/// The command that runs the same thing again: scenario, seed, the calibration table written
/// beside the report and the stack subset.
fn rerun_line(args: &RunArgs, seed: u64, calibration: Option<&Path>, out: &Path) -> String {
    let mut line = format!(
        "rerun with: conclave run {} --seed {seed}",
        shell_word(&args.file.to_string_lossy())
    );
    match calibration {
        Some(c) => line.push_str(&format!(
            " --calibration {}",
            shell_word(&c.to_string_lossy())
        )),
        None => line.push_str(" --cost-model measured"),
    }
    for s in &args.stacks {
        line.push_str(&format!(" --stack {}", shell_word(s)));
    }
    for (k, v) in &args.sets {
        line.push_str(&format!(" --set {}", shell_word(&format!("{k}={v}"))));
    }
    if args.out.is_some() {
        line.push_str(&format!(" --out {}", shell_word(&out.to_string_lossy())));
    }
    line
}

fn run_scenario(args: &RunArgs) -> Result<(), Failure> {
    let file = args.file.as_path();
    let scenario = load(file, &args.sets)?;
    let select = |s: &Scenario| {
        run::select_stacks(s, &args.stacks)
            .map_err(|e| Failure::bad_input(format!("{}: --stack: {e}", file.display())))
    };
    let base = select(&scenario)?;
    let first = args.seed.unwrap_or(base.seed);
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| Path::new("reports").join(&base.name));
    // Each point of a sweep is a run of its own, reported in its own directory.
    let points: Vec<Point> = if scenario.sweep.is_empty() {
        vec![(Vec::new(), base.clone(), out.clone())]
    } else {
        let mut points = Vec::with_capacity(scenario.sweep.len());
        for (i, p) in scenario.sweep.iter().enumerate() {
            let dir = out.join(format!("point-{:02}", i + 1));
            points.push((p.values.clone(), select(&p.scenario)?, dir));
        }
        points
    };
    preflight(&base, args.jobs, Some(&out))?;
    for (_, s, dir) in &points {
        preflight(s, args.jobs, Some(dir))?;
    }
    // The manifest's wall time covers calibrating too.
    let run_start = Instant::now();
    let kind = match args.cost_model {
        Some(CostArg::Measured) => CostModelKind::Measured,
        Some(CostArg::Calibrated) => CostModelKind::Calibrated,
        None => base.cost_model,
    };
    // Every point's stacks, once: one calibration table serves the whole sweep.
    let mut all_stacks = Vec::new();
    for (_, s, _) in &points {
        for st in &s.stacks {
            if !all_stacks.contains(st) {
                all_stacks.push(st.clone());
            }
        }
    }
    let retention = points
        .iter()
        .any(|(_, s, _)| s.servers.key_retention.is_some());
    // The table in force is always written beside the report, so that the rerun line carries it.
    let beside = out.join("calibration.json");
    let (costing, calibration_info) = match (kind, &args.calibration) {
        (CostModelKind::Measured, Some(_)) => {
            return Err(Failure::bad_input(
                "--calibration only applies to the calibrated cost model",
            ))
        }
        (CostModelKind::Measured, None) => (
            Costing::Measured,
            CalibrationInfo {
                source: "none (measured cost model)".into(),
                sha256: None,
            },
        ),
        (CostModelKind::Calibrated, Some(path)) => {
            let table = CalibrationTable::load(path).map_err(Failure::bad_input)?;
            table
                .check_covers(path, &all_stacks, &Registry::builtin(), retention)
                .map_err(Failure::bad_input)?;
            let bytes = std::fs::read(path)
                .map_err(|e| Failure::bad_input(format!("{}: {e}", path.display())))?;
            copy_beside(path, &bytes, &beside)?;
            let info = CalibrationInfo {
                source: path.display().to_string(),
                sha256: Some(hex_sha256(&bytes)),
            };
            (Costing::Calibrated(table), info)
        }
        (CostModelKind::Calibrated, None) => {
            eprintln!("calibrating: measuring this machine for the scenario's schemes (seconds to a minute)...");
            let table = calibrate::calibrate_for(&all_stacks).map_err(Failure::other)?;
            table.save(&beside).map_err(Failure::other)?;
            let bytes = std::fs::read(&beside).unwrap_or_default();
            let info = CalibrationInfo {
                source: format!("measured at start of run, saved as {}", beside.display()),
                sha256: Some(hex_sha256(&bytes)),
            };
            (Costing::Calibrated(table), info)
        }
    };
    let rerun = rerun_line(
        args,
        first,
        matches!(costing, Costing::Calibrated(_)).then_some(beside.as_path()),
        &out,
    );

    let threads = args.jobs.unwrap_or_else(default_jobs);
    let mut reports: Vec<(Vec<(String, String)>, RunReport<'_>)> = Vec::new();
    let mut violations = Vec::new();
    let sweep = points.len() > 1 || !scenario.sweep.is_empty();
    for (i, (values, point, dir)) in points.iter().enumerate() {
        let seeds: Vec<u64> = (0..u64::from(point.replicates))
            .map(|k| first.wrapping_add(k))
            .collect();
        let job_count = point.stacks.len() * seeds.len();
        let progress: Vec<Progress> = (0..job_count).map(|_| Progress::default()).collect();
        let stage = if sweep {
            format!(
                "simulating point {}/{} ({})",
                i + 1,
                points.len(),
                label(values)
            )
        } else {
            "simulating".to_owned()
        };
        let point_start = Instant::now();
        let results = std::thread::scope(|s| {
            let handle = s.spawn(|| run::run(point, &seeds, &costing, threads, &progress));
            show_progress(&handle, &progress, point.duration, point_start, &stage);
            handle.join()
        })
        .map_err(|_| Failure::other(format!("a simulation thread panicked\n{rerun}")))?
        .map_err(|e| match e {
            // An operation a scheme reports for its own server jobs, missing from the table.
            run::RunError::Job {
                source: EngineError::Calibration(_),
                ..
            } => Failure::bad_input(format!("{e}\n{rerun}")),
            e => Failure::other(format!(
                "the run failed; no report was written: {e}\n{rerun}"
            )),
        })?;
        if let RunOutcome::Violations(v) = RunOutcome::of(&results) {
            violations.extend(v.into_iter().map(|v| {
                if sweep {
                    format!("{v} (point {}: {})", i + 1, label(values))
                } else {
                    v.to_string()
                }
            }));
        }
        let report = RunReport {
            scenario: point,
            seeds: seeds.clone(),
            cost_model: kind,
            calibration: calibration_info.clone(),
            stacks: results,
            wall_seconds: run_start.elapsed().as_secs_f64(),
        };
        eprintln!(
            "writing the report{}",
            if sweep {
                format!(" of point {}", i + 1)
            } else {
                String::new()
            }
        );
        let written = report::write_all(&report, dir).map_err(Failure::other)?;
        for p in &written {
            eprintln!("wrote {}", p.display());
        }
        reports.push((values.clone(), report));
    }
    if matches!(kind, CostModelKind::Calibrated) {
        eprintln!("wrote {}", beside.display());
    }
    if sweep {
        let written = report::write_sweep(&reports, &out).map_err(Failure::other)?;
        for p in &written {
            eprintln!("wrote {}", p.display());
        }
        if let Ok(table) = std::fs::read_to_string(out.join("sweep.md")) {
            println!("{table}");
        }
    } else if let Ok(table) = std::fs::read_to_string(out.join("table1.md")) {
        println!("{table}");
    }
    if violations.is_empty() {
        return Ok(());
    }
    let mut msg = String::from("security oracle violations:\n");
    for v in &violations {
        msg.push_str(&format!("  {v}\n"));
    }
    msg.push_str(&rerun);
    Err(Failure {
        code: run::EXIT_VIOLATION,
        message: msg,
    })
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

/// A run to make: the sweep point's values (none outside a sweep), its scenario and where its
/// report goes.
type Point = (Vec<(String, String)>, Scenario, PathBuf);

/// `key=value, key=value` of a sweep point.
fn label(values: &[(String, String)]) -> String {
    values
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Copies the calibration table given with `--calibration` beside the report (unless it is
/// that file already).
fn copy_beside(from: &Path, bytes: &[u8], beside: &Path) -> Result<(), Failure> {
    let same = match (from.canonicalize(), beside.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if same {
        return Ok(());
    }
    if let Some(dir) = beside.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| Failure::other(format!("cannot create {}: {e}", dir.display())))?;
    }
    std::fs::write(beside, bytes)
        .map_err(|e| Failure::other(format!("cannot write {}: {e}", beside.display())))
}

/// Draws a progress bar on stderr while the run lasts longer than a second (only on a terminal).
fn show_progress<T>(
    handle: &std::thread::ScopedJoinHandle<'_, T>,
    progress: &[Progress],
    duration: u64,
    start: Instant,
    stage: &str,
) {
    let tty = std::io::stderr().is_terminal();
    let total = (progress.len() as u64).saturating_mul(duration.max(1));
    let mut bar: Option<indicatif::ProgressBar> = None;
    while !handle.is_finished() {
        std::thread::sleep(Duration::from_millis(100));
        if !tty || start.elapsed() < Duration::from_secs(1) {
            continue;
        }
        let b = bar.get_or_insert_with(|| {
            let b = indicatif::ProgressBar::new(total);
            b.set_style(
                indicatif::ProgressStyle::with_template(
                    "{prefix} {elapsed_precise} [{bar:30}] {percent:>3}% of simulated time, {msg}, ETA {eta}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            b.set_prefix(stage.to_owned());
            b
        });
        let done: u64 = progress
            .iter()
            .map(|p| p.virtual_ns.load(Ordering::Relaxed))
            .sum();
        b.set_position(done.min(total));
        let events: u64 = progress
            .iter()
            .map(|p| p.events.load(Ordering::Relaxed))
            .sum();
        let seconds = start.elapsed().as_secs_f64().max(1e-3);
        let finished = progress
            .iter()
            .filter(|p| p.virtual_ns.load(Ordering::Relaxed) >= duration)
            .count();
        b.set_message(format!(
            "{finished}/{} stack runs done, {:.2} M events/s",
            progress.len(),
            events as f64 / seconds / 1e6
        ));
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
}

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
