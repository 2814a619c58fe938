//! Simulation testing with shrinking (`conclave fuzz`), as FoundationDB and madsim do it.
//!
//! A batch draws random valid scenarios ([`generate`]), renders each as YAML and loads it through
//! [`crate::scenario::parse`], the path `conclave run` takes. Each scenario then runs in-process
//! under one calibration table, and [`check`] judges it: no run error, no panic, no violated
//! claimed property; for every fourth scenario, two runs with byte-identical `summary.json`; for
//! a stack whose schemes all have models, the same `summary.json` from its `model` run. Every
//! distinct failure ([`FailureClass`]) is then shrunk from the first scenario that showed
//! it ([`shrink`]) and written with the exact command that reproduces it ([`output`]).
//!
//! Scenario `k` of a batch is drawn from its own stream of the batch seed, so `--seed S`
//! reproduces the whole batch, and any one scenario is independent of how many ran before it.

pub mod check;
pub mod generate;
pub mod output;
pub mod shrink;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use rand::RngCore;

use conclave_schemes::registry::{Family, Registry};

use crate::cost::CalibrationTable;
use crate::run::Costing;
use crate::scenario::{self, KnownSchemes, ModelledSchemes, Scenario, ScenarioError};

pub use check::{FailureClass, Found};
pub use generate::{FuzzScenario, GenConfig};
pub use output::Reproducer;

/// One batch.
#[derive(Debug, Clone)]
pub struct BatchConfig {
    /// Scenarios to draw.
    pub count: u32,
    /// Batch seed.
    pub seed: u64,
    /// What scenarios look like.
    pub generator: GenConfig,
    /// Stop starting new scenarios after this much wall time.
    pub time_limit: Option<Duration>,
    /// Scenarios run in parallel.
    pub jobs: usize,
    /// Wall time allowed for shrinking each distinct failure.
    pub shrink_budget: Duration,
    /// Output directory (reproducers go to `failure-NNN/` in it).
    pub out: PathBuf,
    /// The calibration table of the batch, as written in `out` (reproducers point at it).
    pub calibration_path: PathBuf,
    /// The same table, loaded from that file.
    pub costing: Costing,
}

/// What became of one scenario.
#[derive(Debug, Clone)]
pub enum Verdict {
    /// Ran clean (`twice`: and two runs rendered the same `summary.json`).
    Clean {
        /// whether determinism was checked
        twice: bool,
    },
    /// Failed, with every failure found.
    Failed(Vec<Found>),
    /// The generated file did not validate: a generator bug; the scenario was not run.
    Rejected(String),
    /// Not started: the time limit had passed.
    NotStarted,
}

/// One scenario's outcome, for the progress line and the summary.
#[derive(Debug, Clone)]
pub struct ScenarioOutcome {
    /// Index in the batch.
    pub index: u32,
    /// The seed it was run with.
    pub seed: u64,
    /// The generated scenario.
    pub scenario: FuzzScenario,
    /// The verdict.
    pub verdict: Verdict,
    /// Wall time it took.
    pub seconds: f64,
}

/// A finished batch.
#[derive(Debug)]
pub struct BatchOutcome {
    /// Per scenario, in index order.
    pub scenarios: Vec<ScenarioOutcome>,
    /// One reproducer per distinct failure ([`FailureClass::same_bug_key`]), in order of first
    /// appearance.
    pub reproducers: Vec<Reproducer>,
    /// Wall time of the whole batch.
    pub seconds: f64,
}

impl BatchOutcome {
    /// Scenarios that ran (clean or failed).
    #[must_use]
    pub fn ran(&self) -> usize {
        self.scenarios
            .iter()
            .filter(|s| matches!(s.verdict, Verdict::Clean { .. } | Verdict::Failed(_)))
            .count()
    }

    /// Scenarios that failed.
    #[must_use]
    pub fn failed(&self) -> usize {
        self.scenarios
            .iter()
            .filter(|s| matches!(s.verdict, Verdict::Failed(_)))
            .count()
    }

    /// Generated scenarios that did not validate.
    #[must_use]
    pub fn rejected(&self) -> usize {
        self.scenarios
            .iter()
            .filter(|s| matches!(s.verdict, Verdict::Rejected(_)))
            .count()
    }

    /// Whether some failure is a violated property.
    #[must_use]
    pub fn has_violation(&self) -> bool {
        self.scenarios.iter().any(|s| match &s.verdict {
            Verdict::Failed(f) => f.iter().any(|f| f.class.is_violation()),
            _ => false,
        })
    }
}

/// The registered scheme names, for validation.
#[derive(Debug, Clone)]
pub struct Registered {
    kd: Vec<&'static str>,
    pre: Vec<&'static str>,
    sse: Vec<&'static str>,
    kd_rejoining: Vec<&'static str>,
    modelled: [Vec<&'static str>; 3],
}

impl Registered {
    /// The names of [`Registry::builtin`].
    #[must_use]
    pub fn new() -> Self {
        Self::from_registry(&Registry::builtin())
    }

    /// The names of `registry`, so that scenarios may name the schemes it adds.
    #[must_use]
    pub fn from_registry(registry: &Registry) -> Self {
        Self {
            kd: registry.names(Family::KeyDistribution),
            pre: registry.names(Family::History),
            sse: registry.names(Family::Search),
            kd_rejoining: registry.rejoining_kd(),
            modelled: [
                registry.modelled(Family::KeyDistribution),
                registry.modelled(Family::History),
                registry.modelled(Family::Search),
            ],
        }
    }

    /// As [`KnownSchemes`].
    #[must_use]
    pub fn known(&self) -> KnownSchemes<'_> {
        KnownSchemes {
            kd: &self.kd,
            pre: &self.pre,
            sse: &self.sse,
            kd_rejoining: &self.kd_rejoining,
            modelled: ModelledSchemes {
                kd: &self.modelled[0],
                pre: &self.modelled[1],
                sse: &self.modelled[2],
            },
        }
    }

    /// A generator configuration drawing from every registered scheme.
    #[must_use]
    pub fn generator(
        &self,
        max_users: u32,
        corpus: Option<PathBuf>,
        costly: Vec<String>,
    ) -> GenConfig {
        let owned = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect();
        GenConfig {
            max_users,
            stacks: Vec::new(),
            kd: owned(&self.kd),
            kd_rejoining: owned(&self.kd_rejoining),
            pre: owned(&self.pre),
            sse: owned(&self.sse),
            costly,
            corpus,
        }
    }
}

impl Default for Registered {
    fn default() -> Self {
        Self::new()
    }
}

/// Opening a message costs more than this (nanoseconds, smallest size measured): the scheme gets
/// a lighter workload in generated scenarios.
pub const COSTLY_OPEN_NS: f64 = 200_000.0;

/// The schemes of `table` whose `open` costs more than [`COSTLY_OPEN_NS`] at the smallest size
/// measured (a pairing per message, for example).
#[must_use]
pub fn costly_schemes(table: &CalibrationTable) -> Vec<String> {
    table
        .entries
        .iter()
        .filter(|(k, points)| {
            k.ends_with("/open") && points.first().is_some_and(|[_, ns]| *ns > COSTLY_OPEN_NS)
        })
        .filter_map(|(k, _)| k.split('/').next().map(str::to_owned))
        .collect()
}

/// Validates a generated scenario as `conclave run` would read it from `path`.
///
/// # Errors
/// The validation error.
pub fn load(
    s: &FuzzScenario,
    path: &Path,
    known: &KnownSchemes<'_>,
) -> Result<Scenario, ScenarioError> {
    scenario::parse(&s.to_yaml(), path, known)
}

/// Scenario `index` of batch `seed`: its run seed and the scenario.
#[must_use]
pub fn draw(cfg: &GenConfig, batch_seed: u64, index: u32) -> FuzzScenario {
    let mut rng = crate::rng::workload(batch_seed, "fuzz scenario", u64::from(index));
    let seed = rng.next_u64();
    let name = format!("fuzz-{batch_seed}-{index}");
    generate::generate(&mut rng, cfg, name, seed)
}

/// Every fourth scenario is run twice to check determinism.
#[must_use]
pub fn checks_twice(index: u32) -> bool {
    index % 4 == 0
}

/// Runs a batch: every scenario (in parallel), then shrinks and writes one reproducer per
/// distinct failure. `progress` is called as each scenario finishes (from worker threads).
///
#[must_use]
pub fn run_batch(cfg: &BatchConfig, progress: &(dyn Fn(&ScenarioOutcome) + Sync)) -> BatchOutcome {
    let start = Instant::now();
    let registered = Registered::new();
    let known = registered.known();
    let scenarios: Vec<ScenarioOutcome> = parallel_map(cfg.jobs, cfg.count as usize, |i| {
        let index = u32::try_from(i).unwrap_or(u32::MAX);
        let outcome = run_one(cfg, &known, index, start);
        if !matches!(outcome.verdict, Verdict::NotStarted) {
            progress(&outcome);
        }
        outcome
    });

    // The first scenario showing each distinct failure is the one shrunk.
    let mut first: BTreeMap<String, (usize, Found)> = BTreeMap::new();
    for (i, s) in scenarios.iter().enumerate() {
        if let Verdict::Failed(found) = &s.verdict {
            for f in found {
                first
                    .entry(f.class.same_bug_key())
                    .or_insert((i, f.clone()));
            }
        }
    }
    let mut order: Vec<(usize, Found)> = first.into_values().collect();
    // In order of appearance: by scenario, then as the scenario reported them.
    order.sort_by_key(|(i, f)| {
        let position = match &scenarios[*i].verdict {
            Verdict::Failed(found) => found.iter().position(|g| g == f).unwrap_or(0),
            _ => 0,
        };
        (*i, position)
    });
    let reproducers: Vec<Reproducer> = parallel_map(cfg.jobs, order.len(), |n| {
        let (i, found) = &order[n];
        let s = &scenarios[*i];
        output::reproduce(
            cfg,
            &known,
            &s.scenario,
            s.index,
            n + 1,
            &found.class,
            found,
        )
    });
    BatchOutcome {
        scenarios,
        reproducers,
        seconds: start.elapsed().as_secs_f64(),
    }
}

/// `f(0..n)` on `jobs` plain threads, results in index order. Plain threads rather than a rayon
/// pool: each run builds its own pool, and a rayon worker waiting on another pool steals other
/// scenarios meanwhile, which would blur the per-scenario timings.
fn parallel_map<T: Send>(jobs: usize, n: usize, f: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<T>>> = Mutex::new((0..n).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, n.max(1)) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= n {
                    break;
                }
                let r = f(i);
                if let Ok(mut all) = results.lock() {
                    all[i] = Some(r);
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_default()
        .into_iter()
        .flatten()
        .collect()
}

fn run_one(
    cfg: &BatchConfig,
    known: &KnownSchemes<'_>,
    index: u32,
    start: Instant,
) -> ScenarioOutcome {
    let scenario = draw(&cfg.generator, cfg.seed, index);
    let mut outcome = ScenarioOutcome {
        index,
        seed: scenario.seed,
        scenario,
        verdict: Verdict::NotStarted,
        seconds: 0.0,
    };
    if cfg.time_limit.is_some_and(|limit| start.elapsed() >= limit) {
        return outcome;
    }
    let t = Instant::now();
    let path = cfg.out.join(format!("{}.yaml", outcome.scenario.name));
    outcome.verdict = match load(&outcome.scenario, &path, known) {
        Err(e) => Verdict::Rejected(e.to_string()),
        Ok(loaded) => {
            let twice = checks_twice(index);
            let found = check::check(&loaded, &cfg.costing, twice, &known.modelled);
            if found.is_empty() {
                Verdict::Clean { twice }
            } else {
                Verdict::Failed(found)
            }
        }
    };
    outcome.seconds = t.elapsed().as_secs_f64();
    outcome
}
