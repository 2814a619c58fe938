//! `conclave calibrate`: measures every registered scheme operation in-process and writes the
//! calibration table the `calibrated` cost model charges from.
//!
//! It runs a built-in calibration scenario under the measured cost model, once per registered
//! scheme (each combined with the baselines of the other two families), collecting the wall time
//! of every call with its size, and reduces the samples to per-operation medians by size class
//! ([`crate::cost::build_table`]). Rooms span 2 to 64 members and bodies 16 B to 16 KB; larger
//! sizes are extrapolated linearly from the two largest measured points.

use std::path::PathBuf;

use conclave_schemes::registry::{self, Family, Registry};

use crate::cost::{build_table, CalibrationTable, CostModel, CostSample};
use crate::engine::{Engine, EngineError};
use crate::scenario::*;

const SECOND: Nanos = 1_000_000_000;

/// The scenario calibration runs: small rooms to large, short and long messages, every op.
#[must_use]
pub fn calibration_scenario() -> Scenario {
    let project = |size: u32, count: u32| RoomGroup {
        kind: RoomKind::Project {
            count,
            size: SizeDist::Fixed(size),
        },
        admins: 1,
        history: None,
        preload: 0,
        activity: 1.0,
        orgs: vec![0],
    };
    Scenario {
        name: "calibration".to_owned(),
        seed: 1,
        replicates: 1,
        duration: 3600 * SECOND,
        org: Org {
            users: 160,
            departments: 8,
            rooms: vec![
                RoomGroup {
                    kind: RoomKind::Department,
                    admins: 1,
                    history: None,
                    preload: 0,
                    activity: 1.0,
                    orgs: vec![0],
                },
                project(2, 4),
                project(8, 3),
                project(32, 2),
                project(64, 1),
            ],
            organisations: Org::single(160, 8, Vec::new()).organisations,
        },
        policy: Policy {
            history: HistoryPolicy::Shared,
            // Two period starts in the hour, so key renewal is measured.
            key_period: 1200 * SECOND,
        },
        workload: Workload {
            messages: Messages {
                rate_per_user: 20.0 / 3600.0,
                size: ByteDist::LogNormal {
                    median: 300,
                    sigma: 1.5,
                },
            },
            keywords: Keywords {
                source: KeywordSource::Synthetic {
                    vocabulary: 2000,
                    zipf: 1.0,
                },
                per_message: 8,
            },
            search: Search {
                rate_per_user: 6.0 / 3600.0,
                fetch: 10,
            },
            login: Login {
                rate_per_user: 4.0 / 3600.0,
                recent: 10,
                session: 600 * SECOND,
                online_at_start: 0.8,
            },
            churn: Churn {
                join_rate: 30.0 / 3600.0,
                leave_rate: 30.0 / 3600.0,
                move_rate: 6.0 / 3600.0,
                events: Vec::new(),
            },
            history: History { read: 20 },
            canaries: 0.05,
        },
        network: Network {
            clients: vec![ClientClass {
                share: 1.0,
                rtt: 40_000_000,
                jitter: 5_000_000,
                down: 50e6,
                up: 10e6,
            }],
        },
        servers: Servers {
            workers: 2,
            key_retention: None,
        },
        cost_model: CostModelKind::Measured,
        stacks: Vec::new(),
        report: ReportOptions {
            percentiles: vec![50.0, 95.0, 99.0],
            plots: Vec::new(),
        },
        source_sha256: String::new(),
        source_path: PathBuf::from("<calibration>"),
        sweep: Vec::new(),
    }
}

/// One stack per registered scheme, the other two families at their baselines.
#[must_use]
pub fn calibration_stacks() -> Vec<StackSpec> {
    calibration_stacks_for(&[])
}

/// As [`calibration_stacks`], for the schemes `stacks` use only (every registered scheme when
/// `stacks` is empty).
#[must_use]
pub fn calibration_stacks_for(stacks: &[StackSpec]) -> Vec<StackSpec> {
    let used = |family: Family, name: &str| {
        stacks.is_empty()
            || stacks.iter().any(|s| match family {
                Family::KeyDistribution => s.kd == name,
                Family::History => s.pre == name,
                Family::Search => s.sse == name,
            })
    };
    let base = StackSpec {
        kd: "conventional".into(),
        pre: "none".into(),
        sse: "plaintext".into(),
    };
    let mut stacks = vec![base.clone()];
    for name in registry::names(Family::KeyDistribution) {
        if !used(Family::KeyDistribution, name) {
            continue;
        }
        stacks.push(StackSpec {
            kd: name.into(),
            ..base.clone()
        });
    }
    for name in registry::names(Family::History) {
        if !used(Family::History, name) {
            continue;
        }
        stacks.push(StackSpec {
            pre: name.into(),
            ..base.clone()
        });
    }
    for name in registry::names(Family::Search) {
        if !used(Family::Search, name) {
            continue;
        }
        stacks.push(StackSpec {
            sse: name.into(),
            ..base.clone()
        });
    }
    stacks.sort();
    stacks.dedup();
    stacks
}

/// Measures a calibration table (single-threaded, so timings are not disturbed by other jobs).
///
/// # Errors
/// [`EngineError`] if a scheme fails during the calibration run.
pub fn calibrate() -> Result<CalibrationTable, EngineError> {
    calibrate_for(&[])
}

/// As [`calibrate`], measuring only the schemes `stacks` use (all when empty).
///
/// # Errors
/// [`EngineError`] if a scheme fails during the calibration run.
pub fn calibrate_for(stacks: &[StackSpec]) -> Result<CalibrationTable, EngineError> {
    let scenario = calibration_scenario();
    // Key-distribution schemes can cost O(n^2) per change (Sender Keys); a few changes per size
    // class are enough to measure them, so their stacks run with a quarter of the churn.
    let mut kd_scenario = scenario.clone();
    let churn = &mut kd_scenario.workload.churn;
    churn.join_rate /= 4.0;
    churn.leave_rate /= 4.0;
    churn.move_rate /= 4.0;
    // A scheme that can rejoin a member is also run with a key server that keeps queued key
    // traffic ten minutes, so users away longer (sessions average 15 minutes apart) rejoin; only
    // the rejoins are taken from that run, so the mix of the other operations stays that of
    // the runs without a retention.
    let mut rejoin_scenario = kd_scenario.clone();
    rejoin_scenario.servers.key_retention = Some(600 * SECOND);
    let rejoining = Registry::builtin().rejoining_kd();
    let mut samples: Vec<CostSample> = Vec::new();
    for stack in calibration_stacks_for(stacks) {
        let cost = CostModel::Measured {
            samples: Some(Vec::new()),
        };
        let scenario = if stack.kd == "conventional" {
            &scenario
        } else {
            &kd_scenario
        };
        samples.extend(measure(scenario, &stack, cost)?);
        if rejoining.contains(&stack.kd.as_str()) {
            let cost = CostModel::Measured {
                samples: Some(Vec::new()),
            };
            samples.extend(
                measure(&rejoin_scenario, &stack, cost)?
                    .into_iter()
                    .filter(|s| s.key.op == "client.rejoin"),
            );
        }
    }
    Ok(build_table(&samples, cpu_model()))
}

/// The samples of one calibration run of `stack` over `scenario`.
fn measure(
    scenario: &Scenario,
    stack: &StackSpec,
    cost: CostModel,
) -> Result<Vec<CostSample>, EngineError> {
    let engine = Engine::new(scenario, stack, scenario.seed, cost)?;
    let (_, mut cost) = engine.run_keeping_cost(None)?;
    Ok(cost.take_samples())
}

/// The CPU model, from `/proc/cpuinfo` where there is one.
#[must_use]
pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned())
}
