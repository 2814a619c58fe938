//! Conclave's simulator: the scenario language, the workload generator, the discrete-event
//! engine with its network and server models, cost models, the security oracle, and reports.
//!
//! The `conclave` binary drives it: `conclave run FILE` runs every stack of a scenario over the
//! same workload trace and writes the report (see the repository README).

pub mod calibrate;
pub mod compare;
pub mod cost;
pub mod engine;
pub mod fuzz;
pub mod guard;
pub mod metrics;
pub mod net;
pub mod oracle;
pub mod persist;
pub mod report;
pub mod rng;
pub mod run;
pub mod scenario;
pub mod shard;
pub mod workload;
