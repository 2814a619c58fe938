//! The regression gate's instruction counts: every case of [`conclave_benches::gate`], run once
//! under Callgrind by gungraun. Only the operation is counted, not its set-up nor freeing what
//! it leaves. Case `N` of the list is benchmark `op.case_N`; the `regress` binary maps the
//! numbers back to names and compares the counts with the committed baseline:
//!
//! ```sh
//! cargo run --release -p conclave-benches --bin regress
//! ```

// gungraun's macros generate public items without docs.
#![allow(missing_docs)]

use std::hint::black_box;

use conclave_benches::gate::{self, Prepared};
use gungraun::{
    library_benchmark, library_benchmark_group, main, Callgrind, LibraryBenchmarkConfig,
};

#[library_benchmark]
#[benches::case(iter = 0..gate::count(), setup = gate::prepare)]
fn op(case: Prepared) -> gate::Ran {
    black_box(case.run())
}

library_benchmark_group!(name = cases, benchmarks = [op]);

main!(
    // Instructions only: without the cache simulation Callgrind runs several times faster,
    // and the gate compares nothing else.
    config = LibraryBenchmarkConfig::default().tool(Callgrind::with_args(["--cache-sim=no"]));
    library_benchmark_groups = cases
);
