//! The four plots a scenario can request, built from a run's measurements.

use std::collections::BTreeSet;

use crate::metrics::{Op, OpStats, Party, ScaleStats, StackResult};

use super::axis::{Axis, Scale};
use super::chart::{BarChart, BarSeries, Figure, LegendKind, LineChart, Panel, Series};
use super::style::Unit;
use super::RunReport;

/// The figure of plot `name`, or `None` for a name Conclave does not know.
#[must_use]
pub fn build(name: &str, r: &RunReport) -> Option<Figure> {
    match name {
        "latency_cdf" => Some(latency_cdf(r)),
        "bytes_per_op" => Some(bytes_per_op(r)),
        "cost_vs_room_size" => Some(cost_vs_room_size(r)),
        "reencrypt_vs_history" => Some(reencrypt_vs_history(r)),
        _ => None,
    }
}

fn stats(s: &StackResult, op: Op) -> Option<&OpStats> {
    s.ops.get(&op).filter(|o| o.count > 0)
}

/// Every stack, in run order, for the legend.
fn legend(r: &RunReport) -> Vec<(usize, String)> {
    r.stacks
        .iter()
        .enumerate()
        .map(|(i, s)| (i, s.stack.name()))
        .collect()
}

/// Grid columns for `n` panels: near-square, at most three wide.
fn columns(n: usize) -> usize {
    match n {
        0 | 1 => 1,
        2 | 4 => 2,
        _ => 3,
    }
}

/// Linear unless the values span more than a factor of 30 (and are all positive).
fn auto_scale(values: impl Iterator<Item = f64>) -> Scale {
    let (mut lo, mut hi) = (f64::INFINITY, 0.0f64);
    for v in values {
        if v <= 0.0 {
            return Scale::Linear;
        }
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if lo.is_finite() && hi / lo > 30.0 {
        Scale::Log10
    } else {
        Scale::Linear
    }
}

fn scale_label(base: &str, scale: Scale) -> String {
    match scale {
        Scale::Linear => base.to_owned(),
        Scale::Log10 | Scale::Log2 => format!("{base} (log scale)"),
    }
}

/// Points per CDF line at most: the histogram's thousands of buckets would bloat the SVG
/// without changing what a reader sees.
const CDF_STEPS: f64 = 300.0;

/// The CDF of `s`'s latency in (ms, fraction) points, thinned to about [`CDF_STEPS`] steps
/// along either axis.
fn cdf_points(s: &OpStats) -> Vec<(f64, f64)> {
    let h = &s.latency_us;
    let total = h.len();
    if total == 0 {
        return Vec::new();
    }
    let min_ms = h.min() as f64 / 1000.0;
    let span = ((h.max().max(1) as f64).log10() - (h.min().max(1) as f64).log10()).max(1e-9);
    let mut out = vec![(min_ms, 0.0)];
    let (mut last_t, mut last_f) = ((h.min().max(1) as f64).log10(), 0.0);
    let mut cum = 0u64;
    let recorded: Vec<(u64, u64)> = h
        .iter_recorded()
        .map(|v| (v.value_iterated_to(), v.count_at_value()))
        .collect();
    for (i, (v, n)) in recorded.iter().enumerate() {
        cum += n;
        let f = cum as f64 / total as f64;
        let t = ((*v).max(1) as f64).log10();
        let last = i + 1 == recorded.len();
        if last || t - last_t >= span / CDF_STEPS || f - last_f >= 1.0 / CDF_STEPS {
            out.push((*v as f64 / 1000.0, f));
            last_t = t;
            last_f = f;
        }
    }
    out
}

/// `latency_cdf`: per op with samples, the cumulative distribution of latency, one line per
/// stack; markers at each stack's p50 and p90.
fn latency_cdf(r: &RunReport) -> Figure {
    let ops: Vec<Op> = Op::ALL
        .into_iter()
        .filter(|&op| r.stacks.iter().any(|s| stats(s, op).is_some()))
        .collect();
    let panels = ops
        .iter()
        .map(|&op| {
            let series = r
                .stacks
                .iter()
                .enumerate()
                .filter_map(|(i, s)| {
                    let st = stats(s, op)?;
                    let q = |p: f64| st.latency_us.value_at_quantile(p) as f64 / 1000.0;
                    Some(Series {
                        name: s.stack.name(),
                        style: i,
                        points: cdf_points(st),
                        markers: Some(vec![(q(0.5), 0.5), (q(0.9), 0.9)]),
                    })
                })
                .collect();
            Panel::Line(LineChart {
                title: op.name().to_owned(),
                x: Axis::new("latency (log scale)", Scale::Log10, Unit::Millis),
                y: Axis::new("fraction of ops done", Scale::Linear, Unit::Number)
                    .with_range(0.0, 1.0),
                series,
            })
        })
        .collect::<Vec<_>>();
    Figure {
        title: format!("Latency distribution per operation: {}", r.scenario.name),
        columns: columns(panels.len()),
        panels,
        panel_size: (470, 350),
        legend: legend(r),
        legend_kind: LegendKind::Lines,
        notes: vec![
            "Cumulative fraction of samples".to_owned(),
            "done within the latency.".to_owned(),
            "Markers: p50 and p90.".to_owned(),
        ],
    }
}

/// `bytes_per_op`: per op, for each stack, mean client bytes up and down per sample.
fn bytes_per_op(r: &RunReport) -> Figure {
    let ops: Vec<Op> = Op::ALL
        .into_iter()
        .filter(|&op| r.stacks.iter().any(|s| stats(s, op).is_some()))
        .collect();
    let bars: Vec<BarSeries> = r
        .stacks
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let values = ops
                .iter()
                .map(|&op| {
                    stats(s, op).map(|st| (st.mean_bytes_up() as f64, st.mean_bytes_down() as f64))
                })
                .collect();
            BarSeries {
                style: i,
                name: s.stack.name(),
                values,
            }
        })
        .collect();
    let scale = auto_scale(
        bars.iter()
            .flat_map(|s| s.values.iter().flatten().flat_map(|&(a, b)| [a, b]))
            .filter(|&v| v > 0.0),
    );
    let slots = 2 * r.stacks.len().max(1);
    // Room for every bar: about 7 px each, plus the group gaps and the axis.
    let width = (110 + ops.len() * (slots * 7 + 24)).clamp(640, 2400) as u32;
    Figure {
        title: format!("Client bytes per operation: {}", r.scenario.name),
        columns: 1,
        panels: vec![Panel::Bars(BarChart {
            title: "mean bytes per sample".to_owned(),
            groups: ops.iter().map(|op| op.name().to_owned()).collect(),
            y: Axis::new(scale_label("bytes per op", scale), scale, Unit::Bytes),
            bars,
        })],
        panel_size: (width, 520),
        legend: legend(r),
        legend_kind: LegendKind::Swatches,
        notes: vec![
            "Solid: bytes up (client to server).".to_owned(),
            "Pale: bytes down (server to client).".to_owned(),
        ],
    }
}

/// The `by_room_size` buckets of `op` in `s`, in size order.
fn room_buckets(s: &StackResult, op: Op) -> Vec<&ScaleStats> {
    s.by_room_size
        .range((op, 0)..=(op, u32::MAX))
        .map(|(_, b)| b)
        .filter(|b| b.count > 0)
        .collect()
}

/// `cost_vs_room_size`: per op with at least two room-size buckets in some stack, p50 latency,
/// client bytes and the initiator's CPU against room size.
fn cost_vs_room_size(r: &RunReport) -> Figure {
    let ops: Vec<Op> = Op::ALL
        .into_iter()
        .filter(|&op| r.stacks.iter().any(|s| room_buckets(s, op).len() >= 2))
        .collect();
    type Metric = (&'static str, &'static str, Unit, fn(&ScaleStats) -> f64);
    let metrics: [Metric; 3] = [
        ("p50 latency", "p50 latency", Unit::Millis, |b| b.p50_ms()),
        ("client bytes", "client bytes per op", Unit::Bytes, |b| {
            b.mean_bytes()
        }),
        ("initiator CPU", "initiator CPU per op", Unit::Millis, |b| {
            b.mean_cpu_ms(Party::Initiator)
        }),
    ];
    let mut panels = Vec::new();
    for &op in &ops {
        for (title, label, unit, f) in &metrics {
            let series: Vec<Series> = r
                .stacks
                .iter()
                .enumerate()
                .filter_map(|(i, s)| {
                    let b = room_buckets(s, op);
                    (!b.is_empty()).then(|| Series {
                        name: s.stack.name(),
                        style: i,
                        points: b.iter().map(|b| (b.mean_size(), f(b))).collect(),
                        markers: None,
                    })
                })
                .collect();
            let scale = auto_scale(series.iter().flat_map(|s| s.points.iter().map(|p| p.1)));
            panels.push(Panel::Line(LineChart {
                title: format!("{}: {title}", op.name()),
                x: Axis::new("room size (members, log scale)", Scale::Log2, Unit::Count),
                y: Axis::new(scale_label(label, scale), scale, *unit),
                series,
            }));
        }
    }
    Figure {
        title: format!("Cost against room size: {}", r.scenario.name),
        columns: 3,
        panels,
        panel_size: (470, 350),
        legend: legend(r),
        legend_kind: LegendKind::Lines,
        notes: vec![
            "One point per room-size bucket".to_owned(),
            "(two per doubling), at the mean".to_owned(),
            "size of its samples.".to_owned(),
        ],
    }
}

/// `reencrypt_vs_history`: p50 re-encryption latency against the room's stored history.
fn reencrypt_vs_history(r: &RunReport) -> Figure {
    let series: Vec<Series> = r
        .stacks
        .iter()
        .enumerate()
        .filter(|(_, s)| s.reencrypt_by_history.values().any(|b| b.count > 0))
        .map(|(i, s)| Series {
            name: s.stack.name(),
            style: i,
            points: s
                .reencrypt_by_history
                .values()
                .filter(|b| b.count > 0)
                .map(|b| (b.mean_size(), b.p50_ms()))
                .collect(),
            markers: None,
        })
        .collect();
    let scale = auto_scale(series.iter().flat_map(|s| s.points.iter().map(|p| p.1)));
    let shown: BTreeSet<usize> = series.iter().map(|s| s.style).collect();
    let legend = legend(r)
        .into_iter()
        .filter(|(i, _)| shown.contains(i))
        .collect();
    Figure {
        title: format!("Re-encryption against stored history: {}", r.scenario.name),
        columns: 1,
        panels: vec![Panel::Line(LineChart {
            title: "reencrypt: p50 latency".to_owned(),
            x: Axis::new(
                "stored history (messages, log scale)",
                Scale::Log10,
                Unit::Count,
            ),
            y: Axis::new(scale_label("p50 latency", scale), scale, Unit::Millis),
            series,
        })],
        panel_size: (680, 460),
        legend,
        legend_kind: LegendKind::Lines,
        notes: vec![
            "Stacks without re-encryption".to_owned(),
            "are left out.".to_owned(),
        ],
    }
}
