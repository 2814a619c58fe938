//! Engine throughput: how many discrete events per second the simulator processes, and how long
//! a whole `scenarios/paper-table1.yaml` run takes.
//!
//! Both run under the `calibrated` cost model, with a table measured once at the start of the
//! bench process (outside the timed region): the schemes still run, but no call is timed, so the
//! bench measures the engine rather than the clock. One iteration is a whole run, set-up
//! included (`Engine::new`, which enrols every user and creates every room, then `run`).
//!
//! * `engine/1000-users-1h/STACK`: [`ORG_1000`], an organisation of 1,000 users in department and
//!   project rooms over one simulated hour, for every stack the scenario lists; throughput in
//!   engine events (workload actions and message arrivals). The target is at least one million
//!   events per second on one core.
//! * `engine/paper-table1`: the whole scenario file, every stack and seed, on two threads as
//!   `conclave run --jobs 2` runs it (report writing excluded); throughput in events. The target
//!   is well under a minute.
//!
//! Both count their events with one untimed run first, and print it. The bench uses the
//! allocator of the `conclave` binary (mimalloc), so it measures the engine as it ships.

use std::hint::black_box;
use std::time::{Duration, Instant};

use conclave_benches::{calibration, load_scenario, parse_scenario};
use conclave_sim::cost::{CalibrationTable, CostModel};
use conclave_sim::engine::Engine;
use conclave_sim::metrics::StackResult;
use conclave_sim::run::{self, Costing};
use conclave_sim::scenario::{Scenario, StackSpec};
use criterion::{
    criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, SamplingMode, Throughput,
};

/// The throughput scenario: 1,000 users in 20 departments and 100 project rooms for one hour,
/// with message, search, login and churn rates of a busy office day.
const ORG_1000: &str = r"
name: engine-1000-users
seed: 7
duration: 1h
org:
  users: 1000
  departments: 20                     # 20 department rooms of 50
  rooms:
    - { kind: department }
    - { kind: project, count: 100, size: { zipf: { min: 3, max: 60, s: 1.1 } } }
policy: { history: shared }
workload:
  messages: { rate: 20/h/user, size: { lognormal: { median: 160B, sigma: 1.0 } } }
  keywords: { vocabulary: 20000, zipf: 1.1, per_message: 8 }
  search: { rate: 2/h/user, fetch: 10 }
  login: { rate: 1/h/user, recent: 20, session: 1h, online_at_start: 0.6 }
  churn: { join: 30/h, leave: 30/h, move: 10/h }
  history: { read: 50 }
  canaries: 0.05
network:
  clients:
    - { share: 0.7, rtt: 30ms, jitter: 5ms, down: 50MB/s, up: 10MB/s }
    - { share: 0.3, rtt: 120ms, jitter: 30ms, down: 2MB/s, up: 1MB/s }
servers: { workers: 8 }
cost_model: calibrated
stacks:
  - conventional+none+plaintext
";

/// One engine run of `stack` under the calibrated model.
fn run_once(scenario: &Scenario, stack: &StackSpec, table: &CalibrationTable) -> StackResult {
    let cost = CostModel::Calibrated(table.clone());
    Engine::new(scenario, stack, scenario.seed, cost)
        .and_then(|engine| engine.run(None))
        .unwrap_or_else(|e| panic!("{}: {e}", stack.name()))
}

/// Every job of `scenario` on `threads` threads, as `conclave run` does; returns the events.
fn run_all(scenario: &Scenario, costing: &Costing, threads: usize) -> u64 {
    let seeds: Vec<u64> = (0..u64::from(scenario.replicates))
        .map(|i| scenario.seed.wrapping_add(i))
        .collect();
    run::run(scenario, &seeds, costing, threads, &[])
        .unwrap_or_else(|e| panic!("{}: {e}", scenario.name))
        .iter()
        .map(|r| r.counters.events)
        .sum()
}

fn bench_engine(c: &mut Criterion) {
    let table = calibration();

    let org = parse_scenario("engine-1000-users.yaml", ORG_1000);
    let mut group = c.benchmark_group("engine");
    group.sampling_mode(SamplingMode::Flat);
    for stack in &org.stacks {
        let start = Instant::now();
        let events = run_once(&org, stack, &table).counters.events;
        let secs = start.elapsed().as_secs_f64();
        eprintln!(
            "engine: {} on {}: {events} events; first run {secs:.3} s ({:.0} events/s)",
            org.name,
            stack.name(),
            events as f64 / secs
        );
        group.throughput(Throughput::Elements(events));
        group.bench_function(BenchmarkId::new("1000-users-1h", stack.name()), |b| {
            b.iter_batched(
                || CostModel::Calibrated(table.clone()),
                |cost| {
                    Engine::new(&org, stack, org.seed, cost)
                        .and_then(|engine| engine.run(None))
                        .map(|r| black_box(r.counters.events))
                },
                BatchSize::PerIteration,
            );
        });
    }

    let paper = load_scenario("paper-table1.yaml");
    let costing = Costing::Calibrated(table);
    let start = Instant::now();
    let events = run_all(&paper, &costing, 2);
    let secs = start.elapsed().as_secs_f64();
    eprintln!(
        "engine: paper-table1 ({} stack(s) x {} seed(s)): {events} events; first run {secs:.3} s",
        paper.stacks.len(),
        paper.replicates
    );
    group.throughput(Throughput::Elements(events));
    group.bench_function("paper-table1", |b| {
        b.iter(|| run_all(&paper, &costing, 2));
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(10));
    targets = bench_engine
}
criterion_main!(benches);

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
