//! Chart axes: linear or logarithmic scales, bounds fitted to the data, and few ticks at round
//! values labelled with their unit.
//!
//! Data are mapped to plot space here (`log10` or `log2` for log axes) and plotters draws a
//! linear range of plot space, so the tick positions and labels are Conclave's own.

use std::ops::Range;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};

use super::style::Unit;

/// Longest tick list an axis gets: more would crowd the labels.
pub(super) const MAX_TICKS: usize = 7;

/// How an axis maps values to positions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// Evenly spaced values.
    Linear,
    /// Decades evenly spaced (ticks at powers of ten).
    Log10,
    /// Doublings evenly spaced (ticks at powers of two).
    Log2,
}

impl Scale {
    pub(super) fn to_plot(self, v: f64) -> f64 {
        match self {
            Scale::Linear => v,
            Scale::Log10 => v.log10(),
            Scale::Log2 => v.log2(),
        }
    }

    pub(super) fn value_at(self, t: f64) -> f64 {
        match self {
            Scale::Linear => t,
            Scale::Log10 => 10f64.powf(t),
            Scale::Log2 => 2f64.powf(t),
        }
    }

    /// Whether `v` can be shown (log axes have no room for zero or negatives).
    pub(super) fn shows(self, v: f64) -> bool {
        v.is_finite() && (self == Scale::Linear || v > 0.0)
    }
}

/// One axis of a chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    /// Axis title, with its unit or scale (`latency (log scale)`).
    pub label: String,
    /// Linear or logarithmic.
    pub scale: Scale,
    /// How tick values are labelled.
    pub unit: Unit,
    /// Fixed bounds in data units; `None` fits the data (a linear axis then starts at zero).
    pub range: Option<(f64, f64)>,
}

impl Axis {
    /// An axis fitted to the data.
    #[must_use]
    pub fn new(label: impl Into<String>, scale: Scale, unit: Unit) -> Self {
        Self {
            label: label.into(),
            scale,
            unit,
            range: None,
        }
    }

    /// The same axis with fixed bounds.
    #[must_use]
    pub fn with_range(mut self, lo: f64, hi: f64) -> Self {
        self.range = Some((lo, hi));
        self
    }

    /// Plot-space bounds for data values `values`, padded so markers at the ends stay inside.
    pub(super) fn bounds(&self, values: impl Iterator<Item = f64>) -> (f64, f64) {
        if let Some((lo, hi)) = self.range {
            let (lo, hi) = (self.scale.to_plot(lo), self.scale.to_plot(hi));
            // A range a log axis cannot show (zero or below) falls back to fitting the data.
            if lo.is_finite() && hi.is_finite() && lo < hi {
                return (lo, hi);
            }
        }
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for v in values.filter(|&v| self.scale.shows(v)) {
            let t = self.scale.to_plot(v);
            lo = lo.min(t);
            hi = hi.max(t);
        }
        if !lo.is_finite() {
            // Nothing to show: any non-empty range will do for the empty axes.
            return (0.0, 1.0);
        }
        if self.scale == Scale::Linear {
            lo = lo.min(0.0);
            if hi <= lo {
                hi = lo + 1.0;
            }
            return (lo, hi + (hi - lo) * 0.08);
        }
        // At least half a decade (or doubling) wide, so one point still gets ticks around it.
        let span = (hi - lo).max(0.5);
        let mid = (hi + lo) / 2.0;
        let (lo, hi) = (mid - span / 2.0, mid + span / 2.0);
        let pad = span * 0.06;
        (lo - pad, hi + pad)
    }

    /// Tick positions in plot space between `lo` and `hi`: at most `max` of them.
    pub(super) fn ticks(&self, lo: f64, hi: f64, max: usize) -> Vec<f64> {
        // Bounds come from finite data, but never loop over an absurd range: a log axis spans
        // exponents (10^4 decades is absurd), a linear one is stepped into at most `max` ticks.
        let absurd = self.scale != Scale::Linear && hi - lo >= 1e4;
        if !(lo.is_finite() && hi.is_finite() && lo <= hi) || absurd {
            return Vec::new();
        }
        let eps = (hi - lo).abs() * 1e-9;
        let mut ticks: Vec<f64> = match self.scale {
            Scale::Linear => {
                let step = nice_step((hi - lo) / max.saturating_sub(1).max(1) as f64);
                let first = (lo / step).ceil() as i64;
                let last = ((hi + eps) / step).floor() as i64;
                (first..=last).map(|k| k as f64 * step).collect()
            }
            Scale::Log2 => {
                let doublings: Vec<f64> = (lo.ceil() as i64..=(hi + eps).floor() as i64)
                    .map(|k| k as f64)
                    .collect();
                if doublings.len() >= 4 {
                    doublings
                } else {
                    // A narrow range: halfway ticks too (6, 12, 24 between 4, 8, 16, 32).
                    (lo.floor() as i64..=hi.ceil() as i64)
                        .flat_map(|k| [k as f64, k as f64 + 1.5f64.log2()])
                        .filter(|t| *t >= lo - eps && *t <= hi + eps)
                        .collect()
                }
            }
            Scale::Log10 => {
                let decades: Vec<f64> = (lo.ceil() as i64..=(hi + eps).floor() as i64)
                    .map(|k| k as f64)
                    .collect();
                if decades.len() >= 3 {
                    decades
                } else {
                    // A narrow range: 1-2-5 steps within each decade.
                    let mut v = Vec::new();
                    for k in (lo.floor() as i64)..=(hi.ceil() as i64) {
                        for m in [1.0f64, 2.0, 5.0] {
                            let t = k as f64 + m.log10();
                            if t >= lo - eps && t <= hi + eps {
                                v.push(t);
                            }
                        }
                    }
                    v
                }
            }
        };
        if ticks.len() > max {
            let keep = ticks.len().div_ceil(max);
            ticks = ticks.into_iter().step_by(keep).collect();
        }
        ticks
    }

    pub(super) fn tick_label(&self, t: f64) -> String {
        self.unit.label(self.scale.value_at(t))
    }
}

/// A plot-space axis range with ticks chosen by the chart (plotters' own `f64` ranges pick
/// their ticks themselves, and its key-point wrapper cannot take a label formatter for them).
#[derive(Debug, Clone)]
pub(super) struct Ticked {
    pub(super) lo: f64,
    pub(super) hi: f64,
    pub(super) ticks: Vec<f64>,
}

impl Ranged for Ticked {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let span = self.hi - self.lo;
        let pixels = f64::from(limit.1 - limit.0);
        if span == 0.0 || !v.is_finite() {
            return limit.0;
        }
        // Pixel coordinates: rounding a finite, clamped value to i32 is intended.
        let p = (pixels * (v - self.lo) / span).clamp(-1e6, 1e6);
        limit.0 + p.round() as i32
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        // Bold lines only: light grid lines would add clutter.
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.lo..self.hi
    }
}

/// The smallest 1-2-2.5-5 step of at least `raw`.
fn nice_step(raw: f64) -> f64 {
    if !(raw.is_finite() && raw > 0.0) {
        return 1.0;
    }
    let mag = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|&s| s >= raw * (1.0 - 1e-9))
        .unwrap_or(10.0 * mag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_ticks_sit_on_decades_and_are_few() {
        let a = Axis::new("t", Scale::Log10, Unit::Millis);
        let t = a.ticks(-2.2, 4.1, MAX_TICKS);
        assert_eq!(t, vec![-2.0, -1.0, 0.0, 1.0, 2.0, 3.0, 4.0]);
        let labels: Vec<String> = t.iter().map(|&v| a.tick_label(v)).collect();
        assert_eq!(
            labels,
            ["0.01 ms", "0.1 ms", "1 ms", "10 ms", "100 ms", "1 s", "10 s"]
        );
        assert!(a.ticks(-3.0, 8.0, MAX_TICKS).len() <= MAX_TICKS);
        let narrow = a.ticks(0.9, 1.8, MAX_TICKS);
        assert_eq!(narrow.len(), 3); // 10, 20, 50 ms
        let rooms = Axis::new("n", Scale::Log2, Unit::Count);
        let labels: Vec<String> = rooms
            .ticks(2.2, 5.0, MAX_TICKS)
            .iter()
            .map(|&t| rooms.tick_label(t))
            .collect();
        assert_eq!(labels, ["6", "8", "12", "16", "24", "32"]);
    }

    #[test]
    fn linear_ticks_use_round_steps() {
        let a = Axis::new("f", Scale::Linear, Unit::Number);
        assert_eq!(a.ticks(0.0, 1.0, 5), vec![0.0, 0.25, 0.5, 0.75, 1.0]);
        // Large linear ranges (bytes) get ticks too.
        let b = Axis::new("bytes", Scale::Linear, Unit::Bytes);
        assert_eq!(
            b.ticks(0.0, 60_000.0, 7),
            vec![0.0, 10_000.0, 20_000.0, 30_000.0, 40_000.0, 50_000.0, 60_000.0]
        );
    }

    #[test]
    fn impossible_ranges_give_no_ticks_and_refit() {
        let a = Axis::new("t", Scale::Log10, Unit::Millis).with_range(0.0, 10.0);
        let (lo, hi) = a.bounds([1.0, 100.0].into_iter());
        assert!((lo + 0.12).abs() < 1e-9 && (hi - 2.12).abs() < 1e-9);
        assert!(a.ticks(f64::NEG_INFINITY, 1.0, MAX_TICKS).is_empty());
    }
}
