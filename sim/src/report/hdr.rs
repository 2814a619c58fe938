//! `latency.hlog`: every latency histogram of a report in HdrHistogram's interval-log format, so
//! the distributions can be redrawn with HdrHistogram's own tools (`HistogramLogProcessor`, the
//! plotter at hdrhistogram.github.io) or read back with any HdrHistogram library.
//!
//! One interval histogram per (stack, op) with samples, tagged `STACK:OP`, all spanning the run
//! (start 0, the scenario's duration), each compressed with the V2 deflate encoding. Values are
//! microseconds of simulated time.

use std::time::Duration;

use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};
use hdrhistogram::serialization::V2DeflateSerializer;

use super::RunReport;

/// The interval log of every (stack, op) of `r` with samples.
///
/// # Errors
/// A message naming the histogram that could not be encoded.
pub fn latency_log(r: &RunReport) -> Result<String, String> {
    let mut buf = Vec::new();
    let mut serializer = V2DeflateSerializer::new();
    let mut builder = IntervalLogWriterBuilder::new();
    builder.add_comment(&format!(
        "Conclave latency histograms of scenario {}, seeds {:?}: microseconds of simulated time; one interval per stack and op, tagged STACK:OP",
        r.scenario.name, r.seeds
    ));
    let mut log = builder
        .begin_log_with(&mut buf, &mut serializer)
        .map_err(|e| format!("starting the log: {e}"))?;
    let span = Duration::from_nanos(r.scenario.duration);
    for stack in &r.stacks {
        let name = stack.stack.name();
        for (op, s) in &stack.ops {
            if s.count == 0 {
                continue;
            }
            let tag_text = format!("{name}:{}", op.name());
            let tag = Tag::new(&tag_text);
            log.write_histogram(&s.latency_us, Duration::ZERO, span, tag)
                .map_err(|e| format!("encoding {tag_text}: {e}"))?;
        }
    }
    String::from_utf8(buf).map_err(|e| format!("the log is not text: {e}"))
}
