//! Reusable chart building blocks: a line chart of named series on linear or logarithmic axes
//! ([`Axis`]), a grouped bar chart, and a figure that lays panels out in a grid with one legend
//! column on the right, rendered to SVG text or PNG bytes.

use std::error::Error;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::axis::{Axis, Scale, Ticked, MAX_TICKS};
use super::style::{self, series_style, Dash, SeriesStyle, FONT};

type DrawResult = Result<(), Box<dyn Error + Send + Sync>>;

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

/// Every chart's frame: its title, margins and room for the axis labels.
fn frame<'a, 'b, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    title: &str,
) -> ChartBuilder<'a, 'b, DB> {
    let mut builder = ChartBuilder::on(area);
    builder
        .caption(title, caption_font())
        .margin(12)
        .margin_right(22)
        .x_label_area_size(46)
        .y_label_area_size(76);
    builder
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
    let mut chart = frame(area, &c.title).build_cartesian_2d(
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
    let mut chart = frame(area, &b.title).build_cartesian_2d(
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
