//! `conclave fuzz`: the command line of [`conclave_sim::fuzz`].

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use conclave_sim::calibrate;
use conclave_sim::cost::CalibrationTable;
use conclave_sim::fuzz::{self, BatchConfig, Registered, ScenarioOutcome, Verdict};
use conclave_sim::run::Costing;
use conclave_sim::scenario::{parse_duration, StackSpec};

use super::{Failure, EXIT_VIOLATION};

/// The arguments of `conclave fuzz`.
pub(crate) struct FuzzArgs {
    pub count: u32,
    pub seed: Option<u64>,
    pub stacks: String,
    pub max_users: u32,
    pub time_limit: Option<String>,
    pub out: PathBuf,
    pub calibration: Option<PathBuf>,
    pub jobs: Option<usize>,
    pub shrink_time: String,
}

/// Largest `--max-users`: the fuzzer is for small scenarios.
const MAX_USERS_LIMIT: u32 = 1000;
/// Largest `--jobs`.
const MAX_JOBS: usize = 256;

/// The chat corpus shipped in the repository, used for `workload.keywords.corpus` when present.
fn shipped_corpus() -> Option<PathBuf> {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../data/chitchat-sample.jsonl"
    ))
    .canonicalize()
    .ok()
}

fn duration_arg(flag: &str, text: &str) -> Result<Duration, Failure> {
    let ns = parse_duration(text).map_err(|e| {
        Failure::bad_input(format!(
            "{flag} `{text}`: {e}; expected a duration such as 90s or 2m"
        ))
    })?;
    if ns == 0 {
        return Err(Failure::bad_input(format!(
            "{flag} must be greater than zero"
        )));
    }
    Ok(Duration::from_nanos(ns))
}

/// Parses `--stacks`: `all` or `kd+pre+sse,kd+pre+sse,...`, each name registered.
fn stacks_arg(text: &str, registered: &Registered) -> Result<Vec<StackSpec>, Failure> {
    if text.trim() == "all" {
        return Ok(Vec::new());
    }
    let known = registered.known();
    let mut stacks = Vec::new();
    for entry in text.split(',') {
        let parts: Vec<&str> = entry.split('+').map(str::trim).collect();
        let [kd, pre, sse] = parts.as_slice() else {
            return Err(Failure::bad_input(format!(
                "--stacks: `{}` is not a stack: expected kd+pre+sse, for example conventional+none+plaintext",
                entry.trim()
            )));
        };
        for (family, name, allowed) in [
            ("kd", kd, known.kd),
            ("pre", pre, known.pre),
            ("sse", sse, known.sse),
        ] {
            if !allowed.contains(name) {
                return Err(Failure::bad_input(format!(
                    "--stacks: unknown {family} scheme `{name}` in `{}`; allowed {family} schemes: {}",
                    entry.trim(),
                    allowed.join(", ")
                )));
            }
        }
        let s = StackSpec {
            kd: (*kd).to_owned(),
            pre: (*pre).to_owned(),
            sse: (*sse).to_owned(),
        };
        if !stacks.contains(&s) {
            stacks.push(s);
        }
    }
    Ok(stacks)
}

/// The batch's calibration table, written (or copied) to `out/calibration.json` and read back
/// from there, so that the batch charges exactly what its reproducers will.
fn batch_calibration(
    args: &FuzzArgs,
    stacks: &[StackSpec],
) -> Result<(PathBuf, CalibrationTable), Failure> {
    let path = args.out.join("calibration.json");
    std::fs::create_dir_all(&args.out)
        .map_err(|e| Failure::bad_input(format!("--out {}: {e}", args.out.display())))?;
    let stale = fuzz::output::clear_reproducers(&args.out)
        .map_err(|e| Failure::other(format!("--out {}: {e}", args.out.display())))?;
    if stale > 0 {
        eprintln!(
            "fuzz: removed {stale} reproducer(s) of an earlier batch from {}",
            args.out.display()
        );
    }
    match &args.calibration {
        Some(given) => {
            CalibrationTable::load(given).map_err(Failure::bad_input)?;
            let same =
                matches!((given.canonicalize(), path.canonicalize()), (Ok(a), Ok(b)) if a == b);
            if !same {
                std::fs::copy(given, &path).map_err(|e| {
                    Failure::other(format!(
                        "cannot copy {} to {}: {e}",
                        given.display(),
                        path.display()
                    ))
                })?;
            }
        }
        None => {
            eprintln!("fuzz: calibrating the schemes the batch can use (seconds to a minute)...");
            let t = Instant::now();
            let table = calibrate::calibrate_for(stacks).map_err(Failure::other)?;
            table.save(&path).map_err(Failure::other)?;
            eprintln!(
                "fuzz: wrote {} ({:.1} s)",
                path.display(),
                t.elapsed().as_secs_f64()
            );
        }
    }
    let table = CalibrationTable::load(&path).map_err(Failure::other)?;
    Ok((path, table))
}

fn verdict_text(o: &ScenarioOutcome) -> String {
    match &o.verdict {
        Verdict::Clean { twice: true } => "ok (ran twice: identical)".to_owned(),
        Verdict::Clean { twice: false } => "ok".to_owned(),
        Verdict::Failed(found) => {
            let classes: Vec<String> = found.iter().map(|f| f.class.to_string()).collect();
            format!("FAIL {}", classes.join("; "))
        }
        Verdict::Rejected(e) => format!("GENERATOR REJECT {e}"),
        Verdict::NotStarted => "not started".to_owned(),
    }
}

pub(crate) fn fuzz(args: &FuzzArgs) -> Result<(), Failure> {
    let registered = Registered::new();
    if args.count == 0 {
        return Err(Failure::bad_input("--count must be at least 1"));
    }
    if !(2..=MAX_USERS_LIMIT).contains(&args.max_users) {
        return Err(Failure::bad_input(format!(
            "--max-users must be from 2 to {MAX_USERS_LIMIT}, found {}",
            args.max_users
        )));
    }
    let jobs = match args.jobs {
        Some(0) => return Err(Failure::bad_input("--jobs must be at least 1")),
        Some(n) if n > MAX_JOBS => {
            return Err(Failure::bad_input(format!(
                "--jobs must be at most {MAX_JOBS}, found {n}"
            )))
        }
        Some(n) => n,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let time_limit = args
        .time_limit
        .as_deref()
        .map(|t| duration_arg("--time-limit", t))
        .transpose()?;
    let shrink_budget = duration_arg("--shrink-time", &args.shrink_time)?;
    let stacks = stacks_arg(&args.stacks, &registered)?;
    if args.out.is_file() {
        return Err(Failure::bad_input(format!(
            "--out {} is a file; expected a directory",
            args.out.display()
        )));
    }
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    });
    eprintln!(
        "fuzz: seed {seed}, {} scenario(s), {jobs} job(s); reproduce the batch with --seed {seed}",
        args.count
    );
    let (calibration_path, table) = batch_calibration(args, &stacks)?;
    let costly = fuzz::costly_schemes(&table);
    let mut generator = registered.generator(args.max_users, shipped_corpus(), costly);
    generator.stacks = stacks;
    let cfg = BatchConfig {
        count: args.count,
        seed,
        generator,
        time_limit,
        jobs,
        shrink_budget,
        out: args.out.clone(),
        calibration_path,
        costing: Costing::Calibrated(table),
    };
    let count = args.count;
    let stdout = Mutex::new(std::io::stdout());
    let progress = |o: &ScenarioOutcome| {
        let line = format!(
            "[{:>width$}/{count}] seed {}: {}: {} ({:.1} s)",
            o.index + 1,
            o.seed,
            o.scenario.shape(),
            verdict_text(o),
            o.seconds,
            width = count.to_string().len()
        );
        if let Ok(mut out) = stdout.lock() {
            let _ = writeln!(out, "{line}");
        }
    };
    let outcome = fuzz::run_batch(&cfg, &progress);

    for r in &outcome.reproducers {
        println!(
            "{}: {} ({})",
            r.dir.display(),
            r.class,
            if r.verified {
                "reproduced from the written files"
            } else {
                "NOT reproduced from the written files"
            }
        );
        println!("  {}", r.message);
        println!(
            "  shrunk to {} ({} tries{})",
            r.shrink.scenario.shape(),
            r.shrink.tried,
            if r.shrink.out_of_time {
                ", time budget spent"
            } else {
                ""
            }
        );
        println!("  reproduce: {}", r.command);
        if let Some(e) = &r.write_error {
            println!("  error: {e}");
        }
    }
    for s in &outcome.scenarios {
        if let Verdict::Rejected(e) = &s.verdict {
            println!("generator reject (scenario {}): {e}", s.index);
        }
    }
    println!(
        "fuzz: {} scenarios (seed {seed}), {} failures, {} generator rejects, {:.0} s",
        outcome.ran(),
        outcome.failed(),
        outcome.rejected(),
        outcome.seconds
    );
    if outcome.has_violation() {
        Err(Failure {
            code: EXIT_VIOLATION,
            message: format!(
                "{} scenario(s) failed, with violated security properties; reproducers in {}",
                outcome.failed(),
                args.out.display()
            ),
        })
    } else if outcome.failed() > 0 || outcome.rejected() > 0 {
        Err(Failure::other(format!(
            "{} scenario(s) failed and {} generated scenario(s) did not validate; see {}",
            outcome.failed(),
            outcome.rejected(),
            args.out.display()
        )))
    } else {
        Ok(())
    }
}
