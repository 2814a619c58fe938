//! The report of a sweep: `sweep.csv` (one row per point, stack and op) and `sweep.md` (a table
//! per point), beside the full report of each point in its own directory.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::plots::{self, Axis, Figure, LegendKind, LineChart, Panel, Scale, Series, Unit};
use super::{human, measured_ops, op_stats, write_atomically, ReportError, RunReport};
use crate::metrics::{Op, Party, StackResult};
use crate::scenario::parse_duration;

/// A point of a sweep: per axis, its key path and value; and the point's report.
pub type PointReport<'a> = (Vec<(String, String)>, RunReport<'a>);

/// Quotes a CSV field when it needs it.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// `sweep.csv`: per point, stack and op with samples: the axis values, then the op's count,
/// latency percentiles and mean (ms), mean bytes up and down, round trips, mean CPU ms of all
/// terminals and of the initiator, and the censored counts.
#[must_use]
pub fn sweep_csv(points: &[PointReport<'_>]) -> String {
    let axes: Vec<&str> = points
        .first()
        .map(|(v, _)| v.iter().map(|(k, _)| k.as_str()).collect())
        .unwrap_or_default();
    let mut out = String::from("point");
    for a in &axes {
        out.push(',');
        out.push_str(&csv_field(a));
    }
    out.push_str(",stack,op,count,p50_ms,p95_ms,p99_ms,mean_ms,bytes_up,bytes_down,rounds,cpu_client_ms,cpu_initiator_ms,incomplete,skipped\n");
    for (i, (values, report)) in points.iter().enumerate() {
        for stack in &report.stacks {
            for (op, s) in &stack.ops {
                let _ = write!(out, "{}", i + 1);
                for (_, v) in values {
                    let _ = write!(out, ",{}", csv_field(v));
                }
                let _ = writeln!(
                    out,
                    ",{},{},{},{:.3},{:.3},{:.3},{:.3},{},{},{},{:.6},{:.6},{},{}",
                    stack.stack.name(),
                    op.name(),
                    s.count,
                    s.percentile_ms(50.0),
                    s.percentile_ms(95.0),
                    s.percentile_ms(99.0),
                    s.mean_ms(),
                    s.mean_bytes_up(),
                    s.mean_bytes_down(),
                    s.mean_rounds(),
                    s.mean_cpu_ms(Party::Client),
                    s.mean_cpu_ms(Party::Initiator),
                    s.incomplete,
                    s.skipped_total()
                );
            }
        }
    }
    out
}

/// `sweep.md`: the axes, then per point a table of each op's p50 per stack (with the sample
/// count where an op was censored), and where each point's full report is.
#[must_use]
pub fn sweep_md(points: &[PointReport<'_>]) -> String {
    let mut out = String::new();
    let name = points.first().map_or("", |(_, r)| r.scenario.name.as_str());
    let _ = writeln!(out, "# Sweep: {name}\n");
    let _ = writeln!(
        out,
        "{} point(s). Each point is a full run of every stack with the same seeds; its complete \
         report (Table 1, security table, summary.json) is in `point-NN/`. Cells are p50 \
         latencies of simulated time; `n/N` after a value counts finished ops of all started \
         where some were left incomplete or skipped.\n",
        points.len()
    );
    for (i, (values, report)) in points.iter().enumerate() {
        let label = values
            .iter()
            .map(|(k, v)| format!("`{k}` = {v}"))
            .collect::<Vec<_>>()
            .join(", ");
        let _ = writeln!(out, "## Point {} (`point-{:02}/`): {label}\n", i + 1, i + 1);
        let ops = measured_ops(&report.stacks);
        if ops.is_empty() {
            out.push_str("No op had a sample.\n\n");
            continue;
        }
        out.push_str("| stack |");
        for op in &ops {
            let _ = write!(out, " {} |", op.name());
        }
        out.push_str("\n|:---|");
        for _ in &ops {
            out.push_str("---:|");
        }
        out.push('\n');
        for stack in &report.stacks {
            let _ = write!(out, "| {} |", stack.stack.name());
            for op in &ops {
                let cell = match (op_stats(stack, *op), stack.ops.get(op)) {
                    (Some(s), _) if s.censored() => format!(
                        "{} ({}/{})",
                        human::latency(s.percentile_ms(50.0)),
                        s.count,
                        s.count + s.incomplete + s.skipped_total()
                    ),
                    (Some(s), _) => human::latency(s.percentile_ms(50.0)),
                    (None, Some(s)) if s.censored() => {
                        format!("– (0/{})", s.incomplete + s.skipped_total())
                    }
                    _ => "–".to_owned(),
                };
                let _ = write!(out, " {cell} |");
            }
            out.push('\n');
        }
        out.push('\n');
    }
    out
}

/// An axis value as a number for a plot: a plain number, or a duration in milliseconds.
fn numeric(value: &str) -> Option<f64> {
    value
        .parse::<f64>()
        .ok()
        .or_else(|| parse_duration(value).ok().map(|ns| ns as f64 / 1e6))
        .filter(|v| v.is_finite())
}

/// `sweep.png`/`.svg`: for a sweep of one axis whose values are numbers (or durations), each
/// op's p50 against the axis value, one line per stack; `None` otherwise.
fn against_axis(points: &[PointReport<'_>]) -> Option<Figure> {
    let (values, first) = points.first()?;
    if values.len() != 1 {
        return None;
    }
    let key = &values[0].0;
    let xs: Vec<f64> = points
        .iter()
        .map(|(v, _)| v.first().and_then(|(_, x)| numeric(x)))
        .collect::<Option<_>>()?;
    let duration_axis = points
        .iter()
        .any(|(v, _)| v.first().is_some_and(|(_, x)| x.parse::<f64>().is_err()));
    let positive = xs.iter().all(|x| *x > 0.0);
    let spread =
        xs.iter().copied().fold(f64::NAN, f64::max) / xs.iter().copied().fold(f64::NAN, f64::min);
    let scale = if positive && spread > 20.0 {
        Scale::Log2
    } else {
        Scale::Linear
    };
    let x_unit = if duration_axis {
        Unit::Millis
    } else {
        Unit::Count
    };
    let stacks: Vec<String> = first.stacks.iter().map(|s| s.stack.name()).collect();
    let mut panels = Vec::new();
    for op in Op::ALL {
        let series: Vec<Series> = stacks
            .iter()
            .enumerate()
            .map(|(i, name)| Series {
                name: name.clone(),
                style: i,
                points: points
                    .iter()
                    .zip(&xs)
                    .filter_map(|((_, r), x)| {
                        let st = r.stacks.iter().find(|s| s.stack.name() == *name)?;
                        op_stats(st, op).map(|s| (*x, s.percentile_ms(50.0)))
                    })
                    .collect(),
                markers: None,
            })
            .filter(|s| !s.points.is_empty())
            .collect();
        if series.is_empty() {
            continue;
        }
        panels.push(Panel::Line(LineChart {
            title: format!("{}: p50 latency", op.name()),
            x: Axis::new(key.clone(), scale, x_unit),
            y: Axis::new("p50 latency", Scale::Linear, Unit::Millis),
            series,
        }));
    }
    if panels.is_empty() {
        return None;
    }
    Some(Figure {
        title: format!("{}: p50 latency against {key}", first.scenario.name),
        columns: panels.len().min(3),
        panels,
        panel_size: (420, 320),
        legend: stacks.into_iter().enumerate().collect(),
        legend_kind: LegendKind::Lines,
        notes: Vec::new(),
    })
}

/// Every point's results merged per stack (the points have the same stacks), for the plots
/// that key results by scale (room size, stored history) rather than by point.
fn merged(points: &[PointReport<'_>]) -> Vec<StackResult> {
    let mut out: Vec<StackResult> = Vec::new();
    for (_, r) in points {
        for st in &r.stacks {
            match out.iter_mut().find(|m| m.stack == st.stack) {
                Some(m) => m.merge(st),
                None => out.push(st.clone()),
            }
        }
    }
    out
}

/// Writes `sweep.csv` and `sweep.md` into `dir`, and into `dir/plots/` the p50 of each op
/// against the sweep's axis (`sweep`, for one numeric axis) and the scale plots the scenario
/// requests (`cost_vs_room_size`, `reencrypt_vs_history`) over all points together; returns
/// their paths.
///
/// # Errors
/// [`ReportError::Io`] naming the file that could not be written, [`ReportError::Plot`] a plot
/// that could not be drawn.
pub fn write_sweep(points: &[PointReport<'_>], dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
    std::fs::create_dir_all(dir).map_err(|source| ReportError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut written = Vec::new();
    for (name, text) in [
        ("sweep.csv", sweep_csv(points)),
        ("sweep.md", sweep_md(points)),
    ] {
        let path = dir.join(name);
        write_atomically(dir, name, &path, text.as_bytes())?;
        written.push(path);
    }
    let Some((_, first)) = points.first() else {
        return Ok(written);
    };
    let plot_dir = dir.join(plots::PLOTS_DIR);
    if let Some(figure) = against_axis(points) {
        std::fs::create_dir_all(&plot_dir).map_err(|source| ReportError::Io {
            path: plot_dir.clone(),
            source,
        })?;
        written.extend(plots::write_figure(&figure, "sweep", &plot_dir)?);
    }
    let mut scenario = first.scenario.clone();
    scenario
        .report
        .plots
        .retain(|p| p == "cost_vs_room_size" || p == "reencrypt_vs_history");
    let all = RunReport {
        scenario: &scenario,
        stacks: merged(points),
        ..first.clone()
    };
    written.extend(plots::write_plots(&all, dir)?);
    Ok(written)
}
