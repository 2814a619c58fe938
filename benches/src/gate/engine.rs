//! The engine's own cost: one run of a small, fixed scenario on the conventional stack (whose
//! schemes do almost no cryptography), charged from the committed calibration table, so the
//! count is the engine's work per event: scheduling, the network model, the servers' queues,
//! the oracle and the metrics.

use std::path::Path;

use conclave_sim::cost::{CalibrationTable, CostModel};
use conclave_sim::engine::Engine;

use super::{Bytes, Case, Prepared, Ran};
use crate::parse_scenario;

/// The trace: 24 users in two departments and three project rooms for 20 minutes, with
/// messages, searches, logins and churn.
const TRACE: &str = r"
name: gate-engine-trace
seed: 11
duration: 20m
org:
  users: 24
  departments: 2
  rooms:
    - { kind: department }
    - { kind: project, count: 3, size: { uniform: { min: 3, max: 8 } } }
policy: { history: shared }
workload:
  messages: { rate: 30/h/user, size: { lognormal: { median: 160B, sigma: 1.0 } } }
  keywords: { vocabulary: 2000, zipf: 1.1, per_message: 8 }
  search: { rate: 4/h/user, fetch: 10 }
  login: { rate: 2/h/user, recent: 20, session: 30m, online_at_start: 0.6 }
  churn: { join: 20/h, leave: 20/h, move: 10/h }
  history: { read: 20 }
  canaries: 0.05
network:
  clients:
    - { share: 0.7, rtt: 30ms, jitter: 5ms, down: 50MB/s, up: 10MB/s }
    - { share: 0.3, rtt: 120ms, jitter: 30ms, down: 2MB/s, up: 1MB/s }
servers: { workers: 4 }
cost_model: calibrated
stacks:
  - conventional+none+plaintext
";

/// The calibration table the run is charged from (committed with the simulator's tests).
fn table() -> CalibrationTable {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../sim/tests/fixtures/calibration-full.json");
    CalibrationTable::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

fn prepare() -> Prepared {
    // The engine borrows its scenario for the run, which outlives this set-up: one small
    // scenario per process is leaked.
    let scenario: &'static _ = Box::leak(Box::new(parse_scenario("gate-engine-trace.yaml", TRACE)));
    let stack = scenario.stacks[0].clone();
    let engine = Engine::new(
        scenario,
        &stack,
        scenario.seed,
        CostModel::Calibrated(table()),
    )
    .unwrap_or_else(|e| panic!("the engine trace: {e}"));
    Prepared::new(move || {
        let result = engine
            .run(None)
            .unwrap_or_else(|e| panic!("the engine trace: {e}"));
        let bytes = Bytes::from([
            ("message_store", result.counters.message_store_bytes),
            ("search_index", result.counters.search_index_bytes),
        ]);
        Ran {
            bytes,
            state: Box::new(result),
        }
    })
}

/// Adds the engine's case.
pub fn cases(all: &mut Vec<Case>) {
    all.push(Case::new("engine/trace/conventional/1".to_owned(), prepare));
}
