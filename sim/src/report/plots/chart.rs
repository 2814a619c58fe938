//! Reusable chart building blocks: a line chart of named series on linear or logarithmic axes, a
//! grouped bar chart, and a figure that lays panels out in a grid with one legend column on the
//! right, rendered to SVG text or PNG bytes.
//!
//! Data are mapped to plot space by the chart itself (`log10` or `log2` for log axes), so tick
//! positions and labels are chosen here: few ticks, at round values, labelled with their unit.

use std::error::Error;

use std::ops::Range;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::style::{self, series_style, Dash, SeriesStyle, Unit, FONT};

type DrawResult = Result<(), Box<dyn Error + Send + Sync>>;

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
    fn to_plot(self, v: f64) -> f64 {
        match self {
            Scale::Linear => v,
            Scale::Log10 => v.log10(),
            Scale::Log2 => v.log2(),
        }
    }

    fn value_at(self, t: f64) -> f64 {
        match self {
            Scale::Linear => t,
            Scale::Log10 => 10f64.powf(t),
            Scale::Log2 => 2f64.powf(t),
        }
    }

    /// Whether `v` can be shown (log axes have no room for zero or negatives).
    fn shows(self, v: f64) -> bool {
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
    fn bounds(&self, values: impl Iterator<Item = f64>) -> (f64, f64) {
        if let Some((lo, hi)) = self.range {
            return (self.scale.to_plot(lo), self.scale.to_plot(hi));
        }
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for v in values.filter(|&v| self.scale.shows(v)) {
            let t = self.scale.to_plot(v);
            lo = lo.min(t);
            hi = hi.max(t);
        }
        if !lo.is_finite() {
            return match self.scale {
                Scale::Linear => (0.0, 1.0),
                _ => (0.0, 1.0),
            };
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
    fn ticks(&self, lo: f64, hi: f64, max: usize) -> Vec<f64> {
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

    fn tick_label(&self, t: f64) -> String {
        self.unit.label(self.scale.value_at(t))
    }
}

/// A plot-space axis range with ticks chosen by the chart (plotters' own `f64` ranges pick
/// their ticks themselves, and its key-point wrapper cannot take a label formatter for them).
#[derive(Debug, Clone)]
struct Ticked {
    lo: f64,
    hi: f64,
    ticks: Vec<f64>,
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

/// One named line of a chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Name shown in the legend.
    pub name: String,
    /// Index into the palette: the same index draws the same way in every panel.
    pub style: usize,
    /// Points in data units, drawn in order.
    pub points: Vec<(f64, f64)>,
    /// Where to put markers; `None` marks every point.
    pub markers: Option<Vec<(f64, f64)>>,
}

/// A line chart: title, two axes and some series.
#[derive(Debug, Clone, PartialEq)]
pub struct LineChart {
    /// Panel title.
    pub title: String,
    /// Horizontal axis.
    pub x: Axis,
    /// Vertical axis.
    pub y: Axis,
    /// The lines, in legend order.
    pub series: Vec<Series>,
}

/// A grouped bar chart: for each group (an op), for each series (a stack), a pair of bars (a
/// solid one and a pale one, such as bytes up and bytes down).
#[derive(Debug, Clone, PartialEq)]
pub struct BarChart {
    /// Panel title.
    pub title: String,
    /// Names of the groups along the horizontal axis.
    pub groups: Vec<String>,
    /// Vertical axis.
    pub y: Axis,
    /// The series, in legend order.
    pub bars: Vec<BarSeries>,
}

/// One series of a [`BarChart`].
#[derive(Debug, Clone, PartialEq)]
pub struct BarSeries {
    /// Index into the palette.
    pub style: usize,
    /// Name shown in the legend.
    pub name: String,
    /// Per group, the solid and the pale bar's value (`None`: no data).
    pub values: Vec<Option<(f64, f64)>>,
}

/// One panel of a figure.
#[derive(Debug, Clone, PartialEq)]
pub enum Panel {
    /// Lines.
    Line(LineChart),
    /// Grouped bars.
    Bars(BarChart),
}

/// What the legend shows next to a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LegendKind {
    /// A line sample with its marker.
    Lines,
    /// A solid and a pale swatch.
    Swatches,
}

/// Panels in a grid, a title above and a legend column on the right.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    /// Title above the panels.
    pub title: String,
    /// The panels, row by row.
    pub panels: Vec<Panel>,
    /// Panels per row.
    pub columns: usize,
    /// Size of one panel in pixels.
    pub panel_size: (u32, u32),
    /// Legend entries: style index and name.
    pub legend: Vec<(usize, String)>,
    /// How legend entries are drawn.
    pub legend_kind: LegendKind,
    /// Lines of explanation under the legend entries.
    pub notes: Vec<String>,
}

const TITLE_HEIGHT: u32 = 44;
const LEGEND_ROW: i32 = 24;
/// Longest tick list an axis gets: more would crowd the labels.
const MAX_TICKS: usize = 7;

/// A one-panel figure of `chart`, its series in the legend: the building block for "metric
/// against a parameter" charts.
#[must_use]
pub fn line_chart(title: impl Into<String>, chart: LineChart) -> Figure {
    let legend = chart
        .series
        .iter()
        .map(|s| (s.style, s.name.clone()))
        .collect();
    Figure {
        title: title.into(),
        panels: vec![Panel::Line(chart)],
        columns: 1,
        panel_size: (640, 420),
        legend,
        legend_kind: LegendKind::Lines,
        notes: Vec::new(),
    }
}

impl Figure {
    /// Width of the legend column: room for the longest name.
    fn legend_width(&self) -> u32 {
        let longest = self
            .legend
            .iter()
            .map(|(_, n)| n.chars().count())
            .chain(
                self.notes
                    .iter()
                    .map(|n| n.chars().count().saturating_sub(8)),
            )
            .max()
            .unwrap_or(0);
        // About 8 px per character at the legend's 14 px size, plus the line sample.
        (80 + 8 * longest as u32).clamp(160, 420)
    }

    /// Figure size in pixels.
    #[must_use]
    pub fn size(&self) -> (u32, u32) {
        let columns = self.columns.max(1);
        let rows = self.panels.len().div_ceil(columns).max(1);
        let (pw, ph) = self.panel_size;
        let legend_rows = (self.legend.len() + self.notes.len() + 2) as u32;
        let height = (ph * rows as u32).max(legend_rows * LEGEND_ROW as u32);
        (
            pw * columns as u32 + self.legend_width(),
            TITLE_HEIGHT + height + 8,
        )
    }

    /// The figure as SVG text.
    ///
    /// # Errors
    ///
    /// A message when drawing fails (for instance, the font cannot be loaded).
    pub fn svg(&self) -> Result<String, String> {
        style::register()?;
        let mut out = String::new();
        {
            let root = SVGBackend::with_string(&mut out, self.size()).into_drawing_area();
            self.draw(&root).map_err(|e| e.to_string())?;
            root.present().map_err(|e| e.to_string())?;
        }
        Ok(out)
    }

    /// The figure as a PNG file's bytes.
    ///
    /// # Errors
    ///
    /// A message when drawing or encoding fails.
    pub fn png(&self) -> Result<Vec<u8>, String> {
        style::register()?;
        let (w, h) = self.size();
        let mut rgb = vec![0u8; w as usize * h as usize * 3];
        {
            let root = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
            self.draw(&root).map_err(|e| e.to_string())?;
            root.present().map_err(|e| e.to_string())?;
        }
        let mut out = Vec::new();
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut writer = enc.write_header().map_err(|e| e.to_string())?;
        writer.write_image_data(&rgb).map_err(|e| e.to_string())?;
        writer.finish().map_err(|e| e.to_string())?;
        Ok(out)
    }

    fn draw<DB>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB: DrawingBackend,
        DB::ErrorType: 'static,
    {
        root.fill(&WHITE)?;
        let (w, _) = self.size();
        let (top, body) = root.split_vertically(TITLE_HEIGHT);
        top.draw(&Text::new(
            self.title.clone(),
            (12, TITLE_HEIGHT as i32 / 2),
            (FONT, 22)
                .into_font()
                .color(&BLACK)
                .pos(Pos::new(HPos::Left, VPos::Center)),
        ))?;
        let (panels, legend) = body.split_horizontally(w - self.legend_width());
        let columns = self.columns.max(1);
        let (pw, ph) = self.panel_size;
        for (i, panel) in self.panels.iter().enumerate() {
            let (col, row) = ((i % columns) as i32, (i / columns) as i32);
            let x = col * pw as i32;
            let y = row * ph as i32;
            let area = panels.clone().shrink((x, y), (pw, ph));
            match panel {
                Panel::Line(c) => draw_line_chart(c, &area)?,
                Panel::Bars(b) => draw_bar_chart(b, &area)?,
            }
        }
        self.draw_legend(&legend)
    }

    fn draw_legend<DB>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB: DrawingBackend,
        DB::ErrorType: 'static,
    {
        let text = (FONT, 14)
            .into_font()
            .color(&BLACK)
            .pos(Pos::new(HPos::Left, VPos::Center));
        let mut y = 24;
        area.draw(&Text::new(
            "Stacks",
            (12, y),
            (FONT, 15)
                .into_font()
                .color(&BLACK)
                .pos(Pos::new(HPos::Left, VPos::Center)),
        ))?;
        for (idx, name) in &self.legend {
            y += LEGEND_ROW;
            let s = series_style(*idx);
            match self.legend_kind {
                LegendKind::Lines => {
                    for seg in dash_segments(12, 56, y, s.dash) {
                        area.draw(&PathElement::new(seg, s.colour.stroke_width(2)))?;
                    }
                    style::draw_marker(area, (34, y), &s, 4)?;
                }
                LegendKind::Swatches => {
                    area.draw(&Rectangle::new(
                        [(14, y - 7), (32, y + 7)],
                        s.colour.filled(),
                    ))?;
                    area.draw(&Rectangle::new(
                        [(34, y - 7), (52, y + 7)],
                        style::pale(s.colour, 0.6).filled(),
                    ))?;
                    area.draw(&Rectangle::new([(34, y - 7), (52, y + 7)], s.colour))?;
                }
            }
            area.draw(&Text::new(name.clone(), (64, y), text.clone()))?;
        }
        y += LEGEND_ROW / 2;
        let note = (FONT, 13)
            .into_font()
            .color(&RGBColor(70, 70, 70))
            .pos(Pos::new(HPos::Left, VPos::Center));
        for n in &self.notes {
            y += LEGEND_ROW - 4;
            area.draw(&Text::new(n.clone(), (12, y), note.clone()))?;
        }
        Ok(())
    }
}

/// Pieces of a horizontal line from `x0` to `x1` at `y` in pattern `dash`.
fn dash_segments(x0: i32, x1: i32, y: i32, dash: Dash) -> Vec<Vec<(i32, i32)>> {
    let Some((on, off)) = dash.pattern() else {
        return vec![vec![(x0, y), (x1, y)]];
    };
    let (on, off) = (on as i32, off as i32);
    let mut out = Vec::new();
    let mut x = x0;
    while x < x1 {
        out.push(vec![(x, y), ((x + on).min(x1), y)]);
        x += on + off;
    }
    out
}

fn caption_font() -> TextStyle<'static> {
    (FONT, 17).into_font().color(&BLACK)
}

fn mesh_label_font() -> TextStyle<'static> {
    (FONT, 13).into_font().color(&BLACK)
}

fn axis_title_font() -> TextStyle<'static> {
    (FONT, 14).into_font().color(&BLACK)
}

fn grid_colour() -> ShapeStyle {
    RGBColor(225, 225, 225).stroke_width(1)
}

/// Centred text in an empty panel.
fn draw_empty<DB>(title: &str, area: &DrawingArea<DB, Shift>) -> DrawResult
where
    DB: DrawingBackend,
    DB::ErrorType: 'static,
{
    let (w, h) = area.dim_in_pixel();
    area.draw(&Text::new(
        title.to_owned(),
        (w as i32 / 2, 20),
        caption_font().pos(Pos::new(HPos::Center, VPos::Center)),
    ))?;
    area.draw(&Text::new(
        "no samples",
        (w as i32 / 2, h as i32 / 2),
        axis_title_font().pos(Pos::new(HPos::Center, VPos::Center)),
    ))?;
    Ok(())
}

fn draw_line_chart<DB>(c: &LineChart, area: &DrawingArea<DB, Shift>) -> DrawResult
where
    DB: DrawingBackend,
    DB::ErrorType: 'static,
{
    let shown = |s: &Series| -> Vec<(f64, f64)> {
        s.points
            .iter()
            .copied()
            .filter(|&(x, y)| c.x.scale.shows(x) && c.y.scale.shows(y))
            .collect()
    };
    if c.series.iter().all(|s| shown(s).is_empty()) {
        return draw_empty(&c.title, area);
    }
    let all = || {
        c.series
            .iter()
            .flat_map(|s| s.points.iter().chain(s.markers.iter().flatten()))
    };
    let (x0, x1) = c.x.bounds(all().map(|p| p.0));
    let (y0, y1) = c.y.bounds(all().map(|p| p.1));
    let xt = c.x.ticks(x0, x1, MAX_TICKS);
    let yt = c.y.ticks(y0, y1, MAX_TICKS);
    let mut chart = ChartBuilder::on(area)
        .caption(c.title.clone(), caption_font())
        .margin(12)
        .margin_right(22)
        .x_label_area_size(46)
        .y_label_area_size(76)
        .build_cartesian_2d(
            Ticked {
                lo: x0,
                hi: x1,
                ticks: xt,
            },
            Ticked {
                lo: y0,
                hi: y1,
                ticks: yt,
            },
        )?;
    let xf = |t: &f64| c.x.tick_label(*t);
    let yf = |t: &f64| c.y.tick_label(*t);
    chart
        .configure_mesh()
        .x_desc(c.x.label.clone())
        .y_desc(c.y.label.clone())
        .x_label_formatter(&xf)
        .y_label_formatter(&yf)
        .label_style(mesh_label_font())
        .axis_desc_style(axis_title_font())
        .bold_line_style(grid_colour())
        .light_line_style(TRANSPARENT)
        .draw()?;
    let to_plot = |(x, y): (f64, f64)| (c.x.scale.to_plot(x), c.y.scale.to_plot(y));
    for s in &c.series {
        let st = series_style(s.style);
        let pts: Vec<(f64, f64)> = shown(s).into_iter().map(to_plot).collect();
        let line = st.colour.stroke_width(2);
        match st.dash.pattern() {
            None => {
                chart.draw_series(LineSeries::new(pts.iter().copied(), line))?;
            }
            Some((on, off)) => {
                chart.draw_series(DashedLineSeries::new(pts.iter().copied(), on, off, line))?;
            }
        }
        let marks: Vec<(f64, f64)> = match &s.markers {
            None => pts,
            Some(m) => m
                .iter()
                .copied()
                .filter(|&(x, y)| c.x.scale.shows(x) && c.y.scale.shows(y))
                .map(to_plot)
                .collect(),
        };
        let plot = chart.plotting_area();
        for p in marks {
            style::draw_marker(plot, p, &st, 4)?;
        }
    }
    Ok(())
}

fn draw_bar_chart<DB>(b: &BarChart, area: &DrawingArea<DB, Shift>) -> DrawResult
where
    DB: DrawingBackend,
    DB::ErrorType: 'static,
{
    let values = b
        .bars
        .iter()
        .flat_map(|s| s.values.iter().flatten().flat_map(|&(a, c)| [a, c]));
    if values.clone().all(|v| !b.y.scale.shows(v)) || b.groups.is_empty() {
        return draw_empty(&b.title, area);
    }
    let (y0, y1) = b.y.bounds(values);
    // Bars start at a round value below the data, so the shortest bar is still visible, and
    // the tallest keeps some headroom under the title.
    let y0 = match b.y.scale {
        Scale::Linear => y0,
        _ => y0.floor(),
    };
    let y1 = y1 + (y1 - y0) * 0.05;
    let yt = b.y.ticks(y0, y1, MAX_TICKS);
    let n = b.groups.len();
    let centres: Vec<f64> = (0..n).map(|g| g as f64 + 0.5).collect();
    let mut chart = ChartBuilder::on(area)
        .caption(b.title.clone(), caption_font())
        .margin(12)
        .margin_right(22)
        .x_label_area_size(46)
        .y_label_area_size(76)
        .build_cartesian_2d(
            Ticked {
                lo: 0.0,
                hi: n as f64,
                ticks: centres,
            },
            Ticked {
                lo: y0,
                hi: y1,
                ticks: yt,
            },
        )?;
    let xf = |t: &f64| {
        let g = t.floor().max(0.0) as usize;
        b.groups.get(g).cloned().unwrap_or_default()
    };
    let yf = |t: &f64| b.y.tick_label(*t);
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_desc("operation")
        .y_desc(b.y.label.clone())
        .x_label_formatter(&xf)
        .y_label_formatter(&yf)
        .label_style(mesh_label_font())
        .axis_desc_style(axis_title_font())
        .bold_line_style(grid_colour())
        .light_line_style(TRANSPARENT)
        .draw()?;
    // Each group spans 0.8 of its unit; within it, two bars per series side by side.
    let slots = (2 * b.bars.len()).max(1) as f64;
    let width = 0.8 / slots;
    for (k, series) in b.bars.iter().enumerate() {
        let st: SeriesStyle = series_style(series.style);
        for (g, v) in series.values.iter().enumerate() {
            let Some((solid, pale)) = v else { continue };
            let left = g as f64 + 0.1 + 2.0 * k as f64 * width;
            for (j, (val, colour)) in [(solid, st.colour), (pale, style::pale(st.colour, 0.6))]
                .into_iter()
                .enumerate()
            {
                if !b.y.scale.shows(*val) {
                    continue;
                }
                let x = left + j as f64 * width;
                let top = b.y.scale.to_plot(*val).max(y0);
                let rect = [(x, y0), (x + width, top)];
                chart.draw_series([Rectangle::new(rect, colour.filled())])?;
                chart.draw_series([Rectangle::new(rect, st.colour.stroke_width(1))])?;
            }
        }
    }
    Ok(())
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
    }
}
