//! `conclave run` (whole, or one shard of it with `--shard K/N`) and `conclave merge`.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use conclave_schemes::registry::Registry;
use conclave_sim::calibrate;
use conclave_sim::cost::CalibrationTable;
use conclave_sim::engine::{EngineError, Progress};
use conclave_sim::fuzz::output::shell_word;
use conclave_sim::fuzz::Registered;
use conclave_sim::metrics::StackResult;
use conclave_sim::report::{self, CalibrationInfo, RunReport};
use conclave_sim::run::{self, Costing, RunOutcome};
use conclave_sim::scenario::{self, CostModelKind, ModelledSchemes, Scenario, StackSpec};
use conclave_sim::shard::{self, JobResult, Partial, RunIdentity, Shard};

use super::{default_jobs, hex_sha256, preflight, CostArg, Failure};

/// The arguments of `conclave run`.
pub struct RunArgs {
    pub file: PathBuf,
    pub seed: Option<u64>,
    pub out: Option<PathBuf>,
    pub cost_model: Option<CostArg>,
    pub calibration: Option<PathBuf>,
    pub jobs: Option<usize>,
    pub stacks: Vec<String>,
    pub sets: Vec<(String, String)>,
    pub shard: Option<Shard>,
}

/// A run to make: the sweep point's values (none outside a sweep), its scenario and where its
/// report goes.
type Point = (Vec<(String, String)>, Scenario, PathBuf);

/// What a run (or a merge) reports on: its sweep points, seeds and output directory.
struct Plan {
    /// The scenario, with only the selected stacks.
    base: Scenario,
    /// One point outside a sweep.
    points: Vec<Point>,
    /// Whether the scenario is a sweep (each point reported in its own directory).
    sweep: bool,
    /// The first seed.
    first: u64,
    /// The report's directory.
    out: PathBuf,
}

impl Plan {
    /// Reads the scenario from `text` (the file's) and lays out its points.
    fn new(args: &RunArgs, text: &str) -> Result<Self, Failure> {
        let file = args.file.as_path();
        let scenario = scenario::parse_with(text, file, &Registered::new().known(), &args.sets)
            .map_err(Failure::bad_input)?;
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
        Ok(Self {
            sweep: !scenario.sweep.is_empty(),
            base,
            points,
            first,
            out,
        })
    }

    fn seeds(&self, point: &Scenario) -> Vec<u64> {
        (0..u64::from(point.replicates))
            .map(|k| self.first.wrapping_add(k))
            .collect()
    }

    /// Every job of the run, numbered in report order: points, then stacks, then seeds.
    fn jobs(&self) -> Vec<(usize, StackSpec, u64)> {
        self.points
            .iter()
            .enumerate()
            .flat_map(|(i, (_, p, _))| {
                run::jobs(p, &self.seeds(p))
                    .into_iter()
                    .map(move |(stack, seed)| (i, stack, seed))
            })
            .collect()
    }

    /// Every point's stacks, once.
    fn all_stacks(&self) -> Vec<StackSpec> {
        let mut all = Vec::new();
        for (_, s, _) in &self.points {
            for st in &s.stacks {
                if !all.contains(st) {
                    all.push(st.clone());
                }
            }
        }
        all
    }

    fn stage(&self, i: usize) -> String {
        match &self.points[i] {
            (values, _, _) if self.sweep => format!(
                "simulating point {}/{} ({})",
                i + 1,
                self.points.len(),
                label(values)
            ),
            _ => "simulating".to_owned(),
        }
    }
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
    if matches!(args.cost_model, Some(CostArg::Model)) {
        line.push_str(" --cost-model model");
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

/// The table a run charges from, where it came from, and the text of its file.
struct Charging {
    kind: CostModelKind,
    costing: Costing,
    info: CalibrationInfo,
    table_text: Option<String>,
}

/// Refuses `--cost-model model` for `stacks` if one has a scheme `modelled` cannot run, naming
/// it (every built-in scheme has a model; a registry may add one that has none).
fn refuse_unmodelled(modelled: ModelledSchemes<'_>, stacks: &[StackSpec]) -> Result<(), Failure> {
    match stacks.iter().find_map(|s| modelled.refusal(s)) {
        Some(refusal) => Err(Failure::bad_input(format!("--cost-model model: {refusal}"))),
        None => Ok(()),
    }
}

/// Settles the cost model: the table given, or one measured now and saved as `beside`.
fn charging(args: &RunArgs, plan: &Plan, beside: &Path) -> Result<Charging, Failure> {
    let kind = match args.cost_model {
        Some(CostArg::Measured) => CostModelKind::Measured,
        Some(CostArg::Calibrated) => CostModelKind::Calibrated,
        Some(CostArg::Model) => CostModelKind::Model,
        None => plan.base.cost_model,
    };
    if kind == CostModelKind::Model {
        let registered = Registered::new();
        refuse_unmodelled(registered.known().modelled, &plan.all_stacks())?;
    }
    let table_costing = |table| match kind {
        CostModelKind::Model => Costing::Model(table),
        _ => Costing::Calibrated(table),
    };
    let retention = plan
        .points
        .iter()
        .any(|(_, s, _)| s.servers.key_retention.is_some());
    match (kind, &args.calibration) {
        (CostModelKind::Measured, Some(_)) => Err(Failure::bad_input(
            "--calibration only applies to the calibrated and model cost models",
        )),
        (CostModelKind::Measured, None) => Ok(Charging {
            kind,
            costing: Costing::Measured,
            info: CalibrationInfo {
                source: "none (measured cost model)".into(),
                sha256: None,
            },
            table_text: None,
        }),
        (CostModelKind::Calibrated | CostModelKind::Model, Some(path)) => {
            let table = CalibrationTable::load(path).map_err(Failure::bad_input)?;
            table
                .check_covers(path, &plan.all_stacks(), &Registry::builtin(), retention)
                .map_err(Failure::bad_input)?;
            let bytes = std::fs::read(path)
                .map_err(|e| Failure::bad_input(format!("{}: {e}", path.display())))?;
            copy_beside(Some(path), &bytes, beside)?;
            Ok(Charging {
                kind,
                costing: table_costing(table),
                info: CalibrationInfo {
                    source: path.display().to_string(),
                    sha256: Some(hex_sha256(&bytes)),
                },
                table_text: Some(String::from_utf8_lossy(&bytes).into_owned()),
            })
        }
        (CostModelKind::Calibrated | CostModelKind::Model, None) if args.shard.is_some() => {
            Err(Failure::bad_input(
                "--shard needs --calibration FILE: every shard must charge from the same table (measure one with `conclave calibrate`), or use --cost-model measured",
            ))
        }
        (CostModelKind::Calibrated | CostModelKind::Model, None) => {
            eprintln!("calibrating: measuring this machine for the scenario's schemes (seconds to a minute)...");
            let table = calibrate::calibrate_for(&plan.all_stacks()).map_err(Failure::other)?;
            table.save(beside).map_err(Failure::other)?;
            let bytes = std::fs::read(beside).unwrap_or_default();
            Ok(Charging {
                kind,
                costing: table_costing(table),
                info: CalibrationInfo {
                    source: format!("measured at start of run, saved as {}", beside.display()),
                    sha256: Some(hex_sha256(&bytes)),
                },
                table_text: Some(String::from_utf8_lossy(&bytes).into_owned()),
            })
        }
    }
}

/// How the reports of a run are written, whether it ran here or in shards.
struct Reporting<'a> {
    plan: &'a Plan,
    kind: CostModelKind,
    calibration: CalibrationInfo,
    /// The calibration table written beside the report, if any.
    beside: Option<&'a Path>,
    rerun: String,
}

impl Reporting<'_> {
    /// Writes point `i`'s report and notes its violations.
    fn point<'p>(
        &self,
        i: usize,
        results: Vec<StackResult>,
        wall_seconds: f64,
        violations: &mut Vec<String>,
    ) -> Result<(Vec<(String, String)>, RunReport<'p>), Failure>
    where
        Self: 'p,
    {
        let (values, point, dir) = &self.plan.points[i];
        if let RunOutcome::Violations(v) = RunOutcome::of(&results) {
            violations.extend(v.into_iter().map(|v| {
                if self.plan.sweep {
                    format!("{v} (point {}: {})", i + 1, label(values))
                } else {
                    v.to_string()
                }
            }));
        }
        let report = RunReport {
            scenario: point,
            seeds: self.plan.seeds(point),
            cost_model: self.kind,
            calibration: self.calibration.clone(),
            stacks: results,
            wall_seconds,
        };
        eprintln!(
            "writing the report{}",
            if self.plan.sweep {
                format!(" of point {}", i + 1)
            } else {
                String::new()
            }
        );
        let written = report::write_all(&report, dir).map_err(Failure::other)?;
        for p in &written {
            eprintln!("wrote {}", p.display());
        }
        Ok((values.clone(), report))
    }

    /// Writes the sweep's summary, prints the main table, and fails on violations.
    fn finish(
        &self,
        reports: &[(Vec<(String, String)>, RunReport<'_>)],
        violations: &[String],
    ) -> Result<(), Failure> {
        let out = &self.plan.out;
        if let Some(beside) = self.beside {
            eprintln!("wrote {}", beside.display());
        }
        if self.plan.sweep {
            let written = report::write_sweep(reports, out).map_err(Failure::other)?;
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
        for v in violations {
            msg.push_str(&format!("  {v}\n"));
        }
        msg.push_str(&self.rerun);
        Err(Failure {
            code: run::EXIT_VIOLATION,
            message: msg,
        })
    }
}

/// Runs `jobs` of point `i` with a progress bar.
fn simulate(
    plan: &Plan,
    i: usize,
    jobs: &[(StackSpec, u64)],
    costing: &Costing,
    threads: usize,
    rerun: &str,
) -> Result<Vec<StackResult>, Failure> {
    let (_, point, _) = &plan.points[i];
    let progress: Vec<Progress> = (0..jobs.len()).map(|_| Progress::default()).collect();
    let start = Instant::now();
    let registry = Registry::builtin();
    std::thread::scope(|s| {
        let handle = s.spawn(|| run::run_jobs(&registry, point, jobs, costing, threads, &progress));
        show_progress(&handle, &progress, point.duration, start, &plan.stage(i));
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
    })
}

/// `conclave run`.
pub fn run_scenario(args: &RunArgs) -> Result<(), Failure> {
    let text = scenario::read_text(&args.file).map_err(Failure::bad_input)?;
    let plan = Plan::new(args, &text)?;
    preflight(&plan.base, args.jobs, Some(&plan.out))?;
    for (_, s, dir) in &plan.points {
        preflight(s, args.jobs, Some(dir))?;
    }
    // The manifest's wall time covers calibrating too.
    let run_start = Instant::now();
    // The table in force is always written beside the report, so that the rerun line carries it.
    let beside = plan.out.join("calibration.json");
    let charging = charging(args, &plan, &beside)?;
    let calibrated = matches!(charging.costing, Costing::Calibrated(_) | Costing::Model(_));
    let rerun = rerun_line(
        args,
        plan.first,
        calibrated.then_some(beside.as_path()),
        &plan.out,
    );
    let threads = args.jobs.unwrap_or_else(default_jobs);
    if let Some(shard) = args.shard {
        let rerun = format!("{rerun} --shard {shard}");
        return run_shard(args, &plan, shard, &charging, &text, run_start, &rerun);
    }
    let reporting = Reporting {
        plan: &plan,
        kind: charging.kind,
        calibration: charging.info.clone(),
        beside: calibrated.then_some(beside.as_path()),
        rerun: rerun.clone(),
    };
    let mut reports = Vec::new();
    let mut violations = Vec::new();
    for i in 0..plan.points.len() {
        let (_, point, _) = &plan.points[i];
        let jobs = run::jobs(point, &plan.seeds(point));
        let results = simulate(&plan, i, &jobs, &charging.costing, threads, &rerun)?;
        let merged = run::merge_jobs(jobs.into_iter().map(|(stack, _)| stack).zip(results));
        let wall = run_start.elapsed().as_secs_f64();
        reports.push(reporting.point(i, merged, wall, &mut violations)?);
    }
    reporting.finish(&reports, &violations)
}

/// `conclave run --shard K/N`: runs the shard's jobs and writes their results, for `merge`.
fn run_shard(
    args: &RunArgs,
    plan: &Plan,
    shard: Shard,
    charging: &Charging,
    text: &str,
    run_start: Instant,
    rerun: &str,
) -> Result<(), Failure> {
    let threads = args.jobs.unwrap_or_else(default_jobs);
    let all = plan.jobs();
    let mut results = Vec::new();
    let mut oracle_findings = Vec::new();
    for i in 0..plan.points.len() {
        let mine: Vec<(usize, StackSpec, u64)> = all
            .iter()
            .enumerate()
            .filter(|(n, (p, _, _))| *p == i && shard.takes(*n))
            .map(|(n, (_, stack, seed))| (n, stack.clone(), *seed))
            .collect();
        if mine.is_empty() {
            continue;
        }
        let jobs: Vec<(StackSpec, u64)> =
            mine.iter().map(|(_, s, seed)| (s.clone(), *seed)).collect();
        let ran = simulate(plan, i, &jobs, &charging.costing, threads, rerun)?;
        for ((n, _, seed), result) in mine.into_iter().zip(ran) {
            oracle_findings.extend(run::violations(&result).into_iter().map(|v| v.to_string()));
            results.push(JobResult {
                job: n,
                point: i,
                seed,
                result,
            });
        }
    }
    let partial = Partial {
        format: shard::PARTIAL_FORMAT,
        run: RunIdentity {
            scenario_file: args.file.clone(),
            scenario_text: text.to_owned(),
            sets: args.sets.clone(),
            stacks: args.stacks.clone(),
            seed: plan.first,
            cost_model: charging.kind,
            calibration_source: charging.info.source.clone(),
            calibration_sha256: charging.info.sha256.clone(),
            shards: shard.count,
            jobs: all.len(),
        },
        shard: shard.index,
        wall_seconds: run_start.elapsed().as_secs_f64(),
        calibration_table: charging.table_text.clone(),
        jobs: results,
    };
    let n = partial.jobs.len();
    let path = partial.write(&plan.out).map_err(Failure::other)?;
    eprintln!(
        "shard {shard}: ran {n} of the run's {} jobs; wrote {}",
        all.len(),
        path.display()
    );
    // The verdict is the whole run's: `conclave merge` reports violations and fails on them.
    for v in &oracle_findings {
        eprintln!("shard {shard}: oracle violation (the merge will fail on it): {v}");
    }
    Ok(())
}

/// `conclave merge`: the report of a sharded run, from its shards' partial reports.
pub fn merge(inputs: &[PathBuf], out: Option<PathBuf>) -> Result<(), Failure> {
    let partials = inputs
        .iter()
        .map(|p| Partial::read(p))
        .collect::<Result<Vec<_>, _>>()
        .map_err(Failure::bad_input)?;
    let first_file = partials.first().map(|(f, _)| f.clone()).unwrap_or_default();
    let assembled = shard::assemble(partials).map_err(Failure::bad_input)?;
    let identity = &assembled.run;
    let args = RunArgs {
        file: identity.scenario_file.clone(),
        seed: Some(identity.seed),
        out,
        cost_model: None,
        calibration: None,
        jobs: None,
        stacks: identity.stacks.clone(),
        sets: identity.sets.clone(),
        shard: None,
    };
    let plan = Plan::new(&args, &identity.scenario_text).map_err(|f| {
        Failure::bad_input(format!(
            "{}: its scenario: {}",
            first_file.display(),
            f.message
        ))
    })?;
    let expected = plan.jobs();
    if expected.len() != identity.jobs {
        return Err(Failure::bad_input(format!(
            "{}: the shards ran {} jobs; their scenario has {}",
            first_file.display(),
            identity.jobs,
            expected.len()
        )));
    }
    let mut per_point: Vec<Vec<(StackSpec, StackResult)>> = vec![Vec::new(); plan.points.len()];
    for (job, (point, stack, seed)) in assembled.jobs.into_iter().zip(expected) {
        if job.point != point || job.seed != seed || job.result.stack != stack {
            return Err(Failure::bad_input(format!(
                "job {}: the shards ran point {} stack {} seed {}; the scenario's job is point {} stack {} seed {seed}",
                job.job,
                job.point + 1,
                job.result.stack.name(),
                job.seed,
                point + 1,
                stack.name()
            )));
        }
        per_point[point].push((stack, job.result));
    }
    let beside = plan.out.join("calibration.json");
    if let Some(text) = &assembled.calibration_table {
        if identity.calibration_sha256.as_deref() != Some(hex_sha256(text.as_bytes()).as_str()) {
            return Err(Failure::bad_input(format!(
                "{}: the calibration table it carries is not the one its run names (SHA-256)",
                first_file.display()
            )));
        }
        copy_beside(None, text.as_bytes(), &beside)?;
    }
    let calibrated = assembled.calibration_table.is_some();
    let rerun = rerun_line(
        &args,
        plan.first,
        calibrated.then_some(beside.as_path()),
        &plan.out,
    );
    let reporting = Reporting {
        plan: &plan,
        kind: identity.cost_model,
        calibration: CalibrationInfo {
            source: identity.calibration_source.clone(),
            sha256: identity.calibration_sha256.clone(),
        },
        beside: calibrated.then_some(beside.as_path()),
        rerun,
    };
    let mut reports = Vec::new();
    let mut violations = Vec::new();
    for (i, jobs) in per_point.into_iter().enumerate() {
        let merged = run::merge_jobs(jobs);
        reports.push(reporting.point(i, merged, assembled.wall_seconds, &mut violations)?);
    }
    reporting.finish(&reports, &violations)
}

/// `key=value, key=value` of a sweep point.
fn label(values: &[(String, String)]) -> String {
    values
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Writes the calibration table (given with `--calibration`, or carried by the shards) beside
/// the report, unless it is that file already.
fn copy_beside(from: Option<&Path>, bytes: &[u8], beside: &Path) -> Result<(), Failure> {
    let same = match (from.map(Path::canonicalize), beside.canonicalize()) {
        (Some(Ok(a)), Ok(b)) => a == b,
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The refusal the built-in schemes no longer reach (each has a model): a stack whose scheme
    /// `modelled` does not list is refused as bad input, naming the scheme and what can run.
    #[test]
    fn the_model_cost_mode_refuses_a_stack_whose_scheme_has_no_model() {
        let modelled = ModelledSchemes {
            kd: &["pairwise-dh", "sakke"],
            pre: &["none"],
            sse: &["plaintext"],
        };
        let stack = |kd: &str| StackSpec {
            kd: kd.to_owned(),
            pre: "none".to_owned(),
            sse: "plaintext".to_owned(),
        };
        let refused = refuse_unmodelled(modelled, &[stack("sakke"), stack("unmodelled")]);
        let Err(failure) = refused else {
            panic!("a stack without a model was accepted")
        };
        assert_eq!(failure.code, super::super::EXIT_BAD_INPUT);
        let m = &failure.message;
        assert!(m.starts_with("--cost-model model: "), "{m}");
        assert!(m.contains("`unmodelled` has no model"), "{m}");
        assert!(m.contains("pairwise-dh, sakke"), "names what can run: {m}");
        assert!(refuse_unmodelled(modelled, &[stack("pairwise-dh"), stack("sakke")]).is_ok());
    }
}
