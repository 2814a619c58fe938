//! Running a scenario and judging the outcome: no run error, no panic, no violation of a claimed
//! property; when asked, two runs with byte-identical `summary.json` (the second run job by job
//! as shards run it, so that the check covers `conclave run --shard` and `merge` too); and, for a
//! stack whose schemes can run as models, the same `summary.json` from a `model` run as from the
//! `calibrated` one (the models' fidelity).
//!
//! Each stack runs on its own (a run stops at the first failing job, and one stack's failure must
//! not hide another's), so every failure found names the stack it belongs to.

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Once;

use crate::engine::EngineError;
use crate::metrics::StackResult;
use crate::report::{self, CalibrationInfo, RunReport};
use crate::run::{self, Costing, RunError};
use crate::scenario::{CostModelKind, ModelledSchemes, Scenario, StackSpec};

/// What went wrong, reduced to what must stay the same while shrinking.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FailureClass {
    /// A property the stack claims was violated.
    Violation {
        /// `kd+pre+sse`
        stack: String,
        /// the property's name (`members_read`, ...)
        property: String,
    },
    /// A scheme failed during the run ([`EngineError::Scheme`]).
    SchemeError {
        /// `kd+pre+sse`
        stack: String,
        /// the failing scheme
        scheme: String,
        /// what the engine was doing, with numbers blanked (`user # handling ... room #`)
        context: String,
    },
    /// The run failed for another reason (calibration, workload, setup).
    RunError {
        /// `kd+pre+sse`
        stack: String,
        /// the error with numbers blanked
        kind: String,
    },
    /// The run panicked.
    Panic {
        /// `kd+pre+sse`
        stack: String,
    },
    /// Two runs of the same scenario and seed rendered different `summary.json`.
    Nondeterministic {
        /// `kd+pre+sse`
        stack: String,
    },
    /// The stack's `model` run rendered another `summary.json` than its `calibrated` run.
    ModelDiverges {
        /// `kd+pre+sse`
        stack: String,
    },
}

impl FailureClass {
    /// The stack the failure belongs to.
    #[must_use]
    pub fn stack(&self) -> &str {
        match self {
            Self::Violation { stack, .. }
            | Self::SchemeError { stack, .. }
            | Self::RunError { stack, .. }
            | Self::Panic { stack }
            | Self::Nondeterministic { stack }
            | Self::ModelDiverges { stack } => stack,
        }
    }

    /// Whether this is a violated security property (exit status 3 rather than 1).
    #[must_use]
    pub fn is_violation(&self) -> bool {
        matches!(self, Self::Violation { .. })
    }

    /// What makes two failures the same bug, for reporting each bug once: a scheme error is the
    /// same bug in whatever stack the scheme runs (same scheme, same kind of engine step); the
    /// other classes belong to their stack.
    #[must_use]
    pub fn same_bug_key(&self) -> String {
        match self {
            Self::SchemeError {
                scheme, context, ..
            } => format!("{scheme} fails ({context})"),
            other => other.to_string(),
        }
    }

    /// Whether checking this class needs two runs.
    #[must_use]
    pub fn needs_second_run(&self) -> bool {
        matches!(self, Self::Nondeterministic { .. })
    }
}

impl std::fmt::Display for FailureClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Violation { stack, property } => write!(f, "{stack}: violates {property}"),
            Self::SchemeError {
                stack,
                scheme,
                context,
            } => write!(f, "{stack}: {scheme} fails ({context})"),
            Self::RunError { stack, kind } => write!(f, "{stack}: run error ({kind})"),
            Self::Panic { stack } => write!(f, "{stack}: panic"),
            Self::Nondeterministic { stack } => write!(f, "{stack}: nondeterministic summary.json"),
            Self::ModelDiverges { stack } => {
                write!(f, "{stack}: the model run's summary.json differs")
            }
        }
    }
}

/// A failure found, with its full message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// What kind of failure.
    pub class: FailureClass,
    /// The message as `conclave run` would print it.
    pub message: String,
}

/// Replaces every run of digits (and a following `.digits`) by `#`, so that messages differing
/// only in ids and times compare equal.
#[must_use]
pub fn blank_numbers(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_number = false;
    for c in s.chars() {
        if c.is_ascii_digit() || (in_number && c == '.') {
            if !in_number {
                out.push('#');
                in_number = true;
            }
        } else {
            in_number = false;
            out.push(c);
        }
    }
    out
}

/// How many fuzz runs are under way in this process; while there is one, the panic hook stays
/// silent (the fuzzer catches the panic and reports its message itself). Panics happen on the
/// run's worker threads, so a per-thread flag would not reach them.
static QUIET_RUNS: AtomicUsize = AtomicUsize::new(0);

/// Installs, once per process, a panic hook that is silent while a fuzz run is under way and
/// behaves as the default hook otherwise.
fn install_quiet_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if QUIET_RUNS.load(Ordering::SeqCst) == 0 {
                default(info);
            }
        }));
    });
}

/// Runs `f`, catching a panic as its message.
fn quietly<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    install_quiet_hook();
    QUIET_RUNS.fetch_add(1, Ordering::SeqCst);
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    QUIET_RUNS.fetch_sub(1, Ordering::SeqCst);
    result.map_err(|payload| {
        payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic without a message".to_owned())
    })
}

/// `scenario` with only `stack` in it.
fn only(scenario: &Scenario, stack: &StackSpec) -> Scenario {
    let mut s = scenario.clone();
    s.stacks = vec![stack.clone()];
    s
}

/// The seeds a scenario runs with.
#[must_use]
pub fn seeds_of(scenario: &Scenario) -> Vec<u64> {
    (0..u64::from(scenario.replicates))
        .map(|i| scenario.seed.wrapping_add(i))
        .collect()
}

/// How a stack's jobs are run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Runner {
    /// All together, as `conclave run` runs them.
    Whole,
    /// One by one, each result through the encoding of a shard's partial report and merged as
    /// `conclave merge` merges them: equal to a whole run, byte for byte, only if the run is
    /// deterministic and sharding loses nothing.
    Sharded,
}

/// Every job of a run of `scenario` one by one, each result encoded and decoded as a shard's
/// partial report carries it, then merged in job order.
fn run_sharded(
    scenario: &Scenario,
    seeds: &[u64],
    costing: &Costing,
) -> Result<Vec<StackResult>, RunError> {
    let registry = conclave_schemes::registry::Registry::builtin();
    let jobs = run::jobs(scenario, seeds);
    let mut results = Vec::with_capacity(jobs.len());
    for job in &jobs {
        let ran = run::run_jobs(
            &registry,
            scenario,
            std::slice::from_ref(job),
            costing,
            1,
            &[],
        )?;
        for r in ran {
            let encoded =
                serde_json::to_vec(&r).unwrap_or_else(|e| panic!("encoding a job's result: {e}"));
            let decoded: StackResult = serde_json::from_slice(&encoded)
                .unwrap_or_else(|e| panic!("decoding a job's result: {e}"));
            results.push((job.0.clone(), decoded));
        }
    }
    Ok(run::merge_jobs(results))
}

/// One run of one stack: its result, or the failure that stopped it.
fn run_stack(
    scenario: &Scenario,
    costing: &Costing,
    runner: Runner,
) -> Result<Vec<StackResult>, Found> {
    let stack = scenario
        .stacks
        .first()
        .map(StackSpec::name)
        .unwrap_or_default();
    let seeds = seeds_of(scenario);
    // One thread: the batch runs scenarios in parallel instead.
    let outcome = quietly(|| match runner {
        Runner::Whole => run::run(scenario, &seeds, costing, 1, &[]),
        Runner::Sharded => run_sharded(scenario, &seeds, costing),
    });
    match outcome {
        Err(message) => Err(Found {
            class: FailureClass::Panic {
                stack: stack.clone(),
            },
            message: format!("stack {stack}: panicked: {message}"),
        }),
        Ok(Err(e)) => {
            let class = match &e {
                RunError::Job {
                    source:
                        EngineError::Scheme {
                            scheme, context, ..
                        },
                    ..
                } => FailureClass::SchemeError {
                    stack: stack.clone(),
                    scheme: scheme.clone(),
                    context: blank_numbers(context),
                },
                other => FailureClass::RunError {
                    stack: stack.clone(),
                    kind: blank_numbers(&other.to_string()),
                },
            };
            Err(Found {
                class,
                message: e.to_string(),
            })
        }
        Ok(Ok(results)) => Ok(results),
    }
}

/// `summary.json` of a finished run, rendered in memory.
fn summary(scenario: &Scenario, results: Vec<StackResult>) -> String {
    report::summary_json(&RunReport {
        scenario,
        seeds: seeds_of(scenario),
        cost_model: CostModelKind::Calibrated,
        calibration: CalibrationInfo {
            source: "fuzz batch".to_owned(),
            sha256: None,
        },
        stacks: results,
        wall_seconds: 0.0,
    })
}

/// Checks every stack of `scenario` (run with its own seed and replicates); `twice` also runs
/// each clean stack a second time, job by job as shards run it, and compares the rendered
/// `summary.json`; a clean stack whose schemes are all `modelled`, run under a calibration
/// table, runs again as models and must render the same `summary.json`. Returns every failure
/// found, in stack order.
#[must_use]
pub fn check(
    scenario: &Scenario,
    costing: &Costing,
    twice: bool,
    modelled: &ModelledSchemes<'_>,
) -> Vec<Found> {
    let mut found = Vec::new();
    for stack in &scenario.stacks {
        found.extend(check_stack(
            &only(scenario, stack),
            costing,
            twice,
            modelled,
        ));
    }
    found
}

/// Checks the single stack of `scenario`.
fn check_stack(
    scenario: &Scenario,
    costing: &Costing,
    twice: bool,
    modelled: &ModelledSchemes<'_>,
) -> Vec<Found> {
    let results = match run_stack(scenario, costing, Runner::Whole) {
        Ok(r) => r,
        Err(f) => return vec![f],
    };
    let stack = scenario
        .stacks
        .first()
        .map(StackSpec::name)
        .unwrap_or_default();
    let as_models = match (costing, scenario.stacks.first()) {
        (Costing::Calibrated(table), Some(spec)) if modelled.refusal(spec).is_none() => {
            Some(Costing::Model(table.clone()))
        }
        _ => None,
    };
    let mut found = Vec::new();
    for v in results.iter().flat_map(run::violations) {
        found.push(Found {
            class: FailureClass::Violation {
                stack: v.stack.clone(),
                property: v.property.name().to_owned(),
            },
            message: v.to_string(),
        });
    }
    if !found.is_empty() {
        return found;
    }
    let first = summary(scenario, results);
    // Another run of the same jobs must render the same summary.json: `what` names it.
    let mut again =
        |costing: &Costing, runner, what: &str, class| match run_stack(scenario, costing, runner) {
            Err(f) => found.push(f),
            Ok(results) => {
                let second = summary(scenario, results);
                if first != second {
                    found.push(Found {
                        message: format!(
                            "{stack}: {what} of seed {} rendered another summary.json: {}",
                            scenario.seed,
                            first_difference(&first, &second)
                        ),
                        class,
                    });
                }
            }
        };
    if let Some(as_models) = as_models {
        again(
            &as_models,
            Runner::Whole,
            "the run with its schemes as models (cost model `model`) and the calibrated run",
            FailureClass::ModelDiverges {
                stack: stack.clone(),
            },
        );
    }
    if twice {
        again(
            costing,
            Runner::Sharded,
            "two runs (the second job by job through a shard's partial-report encoding, as `run --shard` and `merge` make it)",
            FailureClass::Nondeterministic {
                stack: stack.clone(),
            },
        );
    }
    found
}

/// The failure of class `class` when `scenario` is checked, if it still shows (only the class's
/// stack is run).
#[must_use]
pub fn reproduces(
    scenario: &Scenario,
    costing: &Costing,
    class: &FailureClass,
    modelled: &ModelledSchemes<'_>,
) -> Option<Found> {
    let stack = scenario.stacks.iter().find(|s| s.name() == class.stack())?;
    check_stack(
        &only(scenario, stack),
        costing,
        class.needs_second_run(),
        modelled,
    )
    .into_iter()
    .find(|f| f.class == *class)
}

/// The first line on which two texts differ, for the nondeterminism message.
fn first_difference(a: &str, b: &str) -> String {
    for (i, (x, y)) in a.lines().zip(b.lines()).enumerate() {
        if x != y {
            return format!("line {}: `{}` vs `{}`", i + 1, x.trim(), y.trim());
        }
    }
    format!("{} vs {} lines", a.lines().count(), b.lines().count())
}
