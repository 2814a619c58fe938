//! Plots of a run, as requested by the scenario's `report.plots`: each one an SVG and a PNG
//! file under `plots/` in the report directory.
//!
//! Drawing uses an embedded font and no clock or hash-map order, so the same report gives
//! byte-identical files.

mod axis;
mod chart;
mod figures;
mod style;

use std::fs;
use std::path::{Path, PathBuf};

pub use axis::{Axis, Scale};
pub use chart::{line_chart, BarChart, BarSeries, Figure, LegendKind, LineChart, Panel, Series};
pub use style::{number, series_style, Dash, Marker, SeriesStyle, Unit};

use super::{write_atomically, ReportError, RunReport};

/// Subdirectory of the report directory the plots go to.
pub const PLOTS_DIR: &str = "plots";

/// Draws the plots the scenario requests into `dir/plots/NAME.svg` and `dir/plots/NAME.png`, in
/// the scenario's order, and returns their paths (SVG before PNG). Writes nothing, and creates
/// no directory, when no plot is requested.
///
/// # Errors
///
/// [`ReportError::Plot`] naming the plot that could not be drawn (an unknown name, or a drawing
/// or encoding failure), [`ReportError::Io`] when a file cannot be written.
pub fn write_plots(r: &RunReport, dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
    let names = &r.scenario.report.plots;
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let out = dir.join(PLOTS_DIR);
    fs::create_dir_all(&out).map_err(|source| ReportError::Io {
        path: out.clone(),
        source,
    })?;
    let mut written = Vec::with_capacity(2 * names.len());
    for name in names {
        let figure = figures::build(name, r).ok_or_else(|| ReportError::Plot {
            plot: name.clone(),
            message: "unknown plot".to_owned(),
        })?;
        written.extend(write_figure(&figure, name, &out)?);
    }
    Ok(written)
}

/// Renders `figure` and writes it as `dir/NAME.svg` and `dir/NAME.png` (the directory must
/// exist), each to a temporary file renamed into place; returns both paths, SVG first.
///
/// # Errors
///
/// [`ReportError::Plot`] naming `name` when drawing or encoding fails, [`ReportError::Io`]
/// when a file cannot be written.
pub fn write_figure(figure: &Figure, name: &str, dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
    let fail = |message: String| ReportError::Plot {
        plot: name.to_owned(),
        message,
    };
    // Both renderings before any write, so a drawing failure leaves no half-updated pair.
    let svg = figure.svg().map_err(fail)?;
    let png = figure.png().map_err(fail)?;
    let mut written = Vec::with_capacity(2);
    for (ext, bytes) in [("svg", svg.as_bytes()), ("png", png.as_slice())] {
        let file = format!("{name}.{ext}");
        let path = dir.join(&file);
        write_atomically(dir, &file, &path, bytes)?;
        written.push(path);
    }
    Ok(written)
}
