//! Running a scenario: every (stack, seed) job in parallel with rayon, each with its own
//! engine, histograms and oracle, merged per stack at the end in a fixed order; and what the
//! oracle's findings make of the run ([`RunOutcome`], with its exit status).

use conclave_schemes::registry::Registry;
use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::cost::{CalibrationTable, CostModel};
use crate::engine::{Engine, EngineError, Progress};
use crate::metrics::StackResult;
use crate::oracle::Property;
use crate::scenario::{Scenario, StackSpec};

/// The jobs of a run, in report order: stacks in scenario order, seeds ascending.
#[must_use]
pub fn jobs(scenario: &Scenario, seeds: &[u64]) -> Vec<(StackSpec, u64)> {
    scenario
        .stacks
        .iter()
        .flat_map(|s| seeds.iter().map(move |seed| (s.clone(), *seed)))
        .collect()
}

/// How the run charges compute.
#[derive(Debug, Clone)]
pub enum Costing {
    /// Measured wall time.
    Measured,
    /// A calibration table.
    Calibrated(CalibrationTable),
    /// A calibration table, with every scheme run as its model (no cryptography).
    Model(CalibrationTable),
}

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// One job failed.
    #[error("stack {stack}, seed {seed}: {source}")]
    Job {
        /// the stack
        stack: String,
        /// the seed
        seed: u64,
        /// why
        #[source]
        source: EngineError,
    },
    /// The thread pool could not be built.
    #[error("cannot start {0} worker threads")]
    Threads(usize),
}

/// Runs every job on `threads` threads with the schemes of [`Registry::builtin`]; `progress`
/// has one entry per job (or is empty).
///
/// # Errors
/// The first failing job, in job order.
pub fn run(
    scenario: &Scenario,
    seeds: &[u64],
    costing: &Costing,
    threads: usize,
    progress: &[Progress],
) -> Result<Vec<StackResult>, RunError> {
    run_with(
        &Registry::builtin(),
        scenario,
        seeds,
        costing,
        threads,
        progress,
    )
}

/// As [`run`], taking the stacks' schemes from `registry`.
///
/// # Errors
/// As [`run`].
pub fn run_with(
    registry: &Registry,
    scenario: &Scenario,
    seeds: &[u64],
    costing: &Costing,
    threads: usize,
    progress: &[Progress],
) -> Result<Vec<StackResult>, RunError> {
    let jobs = jobs(scenario, seeds);
    let results = run_jobs(registry, scenario, &jobs, costing, threads, progress)?;
    Ok(merge_jobs(
        jobs.into_iter().map(|(stack, _)| stack).zip(results),
    ))
}

/// Runs `jobs` of `scenario` on `threads` threads and returns each job's own result, in job
/// order; `progress` has one entry per job (or is empty).
///
/// # Errors
/// The first failing job, in job order.
pub fn run_jobs(
    registry: &Registry,
    scenario: &Scenario,
    jobs: &[(StackSpec, u64)],
    costing: &Costing,
    threads: usize,
    progress: &[Progress],
) -> Result<Vec<StackResult>, RunError> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads.max(1))
        .build()
        .map_err(|_| RunError::Threads(threads))?;
    pool.install(|| {
        jobs.par_iter()
            .enumerate()
            .map(|(i, (stack, seed))| {
                let cost = match costing {
                    Costing::Measured => CostModel::Measured { samples: None },
                    Costing::Calibrated(t) => CostModel::Calibrated(t.clone()),
                    Costing::Model(t) => CostModel::Model(t.clone()),
                };
                let fail = |source| RunError::Job {
                    stack: stack.name(),
                    seed: *seed,
                    source,
                };
                Engine::with_registry(registry, scenario, stack, *seed, cost)
                    .map_err(fail)?
                    .run(progress.get(i))
                    .map_err(fail)
            })
            .collect()
    })
}

/// Merges per-job results, given in job order, into one result per stack, in the order the
/// stacks first appear. The same jobs in the same order give the same merged results whether
/// they ran in one process or in several (`conclave run --shard`, then `conclave merge`).
pub fn merge_jobs(results: impl IntoIterator<Item = (StackSpec, StackResult)>) -> Vec<StackResult> {
    let mut merged: Vec<StackResult> = Vec::new();
    let mut traces: Vec<Vec<String>> = Vec::new();
    for (stack, r) in results {
        match merged.iter().position(|m| m.stack == stack) {
            Some(i) => {
                merged[i].merge(&r);
                traces[i].push(r.trace_sha256);
            }
            None => {
                traces.push(vec![r.trace_sha256.clone()]);
                merged.push(r);
            }
        }
    }
    for (m, t) in merged.iter_mut().zip(traces) {
        if t.len() > 1 {
            let mut h = Sha256::new();
            for x in &t {
                h.update(x.as_bytes());
            }
            m.trace_sha256 = crate::persist::hex(&h.finalize());
        }
    }
    merged
}

/// The exit status of `conclave run` and `conclave fuzz` when a property a stack claims was
/// violated.
pub const EXIT_VIOLATION: u8 = 3;

/// A property a stack claims that its run violated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The stack, `kd+pre+sse`.
    pub stack: String,
    /// The property.
    pub property: Property,
    /// How many of its checks failed.
    pub failures: u64,
    /// The first failure, as the oracle described it.
    pub first: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {} violated {} time(s); first: {}",
            self.stack,
            self.property.name(),
            self.failures,
            self.first
        )
    }
}

/// The violations of claimed properties in one stack's result, in report order of the
/// properties. A property the stack does not claim is an exposure by design, never a violation.
#[must_use]
pub fn violations(r: &StackResult) -> Vec<Violation> {
    r.security
        .properties
        .iter()
        .filter(|(_, o)| o.claimed && o.failures > 0)
        .map(|(p, o)| Violation {
            stack: r.stack.name(),
            property: *p,
            failures: o.failures,
            first: o.first_failure.clone().unwrap_or_else(|| "?".to_owned()),
        })
        .collect()
}

/// What the oracle's findings make of a finished run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunOutcome {
    /// No claimed property was violated (exit status 0).
    Clean,
    /// Some were ([`EXIT_VIOLATION`]): every violation, stack by stack in result order.
    Violations(Vec<Violation>),
}

impl RunOutcome {
    /// The outcome of a run's results.
    #[must_use]
    pub fn of(results: &[StackResult]) -> Self {
        let all: Vec<Violation> = results.iter().flat_map(violations).collect();
        if all.is_empty() {
            Self::Clean
        } else {
            Self::Violations(all)
        }
    }

    /// The process exit status for this outcome: 0, or [`EXIT_VIOLATION`].
    #[must_use]
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Clean => 0,
            Self::Violations(_) => EXIT_VIOLATION,
        }
    }

    /// The violated properties, by name, in order (empty when clean).
    #[must_use]
    pub fn violated(&self) -> Vec<&'static str> {
        match self {
            Self::Clean => Vec::new(),
            Self::Violations(v) => v.iter().map(|v| v.property.name()).collect(),
        }
    }
}

/// A `--stack` name that the scenario does not have.
#[derive(Debug, thiserror::Error)]
#[error("the scenario has no stack `{wanted}`; its stacks are: {available}")]
pub struct UnknownStack {
    /// the name asked for
    pub wanted: String,
    /// the scenario's stacks, comma-separated
    pub available: String,
}

/// `scenario` with only the stacks named in `names` (`kd+pre+sse`, whitespace around `+`
/// ignored), in the scenario's order; all of them when `names` is empty.
///
/// # Errors
/// [`UnknownStack`] for the first name the scenario does not have.
pub fn select_stacks(scenario: &Scenario, names: &[String]) -> Result<Scenario, UnknownStack> {
    let normalise = |n: &str| n.split('+').map(str::trim).collect::<Vec<_>>().join("+");
    let wanted: Vec<String> = names.iter().map(|n| normalise(n)).collect();
    for (name, given) in wanted.iter().zip(names) {
        if !scenario.stacks.iter().any(|s| s.name() == *name) {
            return Err(UnknownStack {
                wanted: given.clone(),
                available: scenario
                    .stacks
                    .iter()
                    .map(StackSpec::name)
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
    }
    let mut subset = scenario.clone();
    if !wanted.is_empty() {
        subset.stacks.retain(|s| wanted.contains(&s.name()));
    }
    Ok(subset)
}
