//! The look shared by every plot: the embedded font, the series palette (colour, marker and dash
//! per series) and human tick labels.

use std::sync::OnceLock;

use plotters::coord::CoordTranslate;
use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};

/// Family name the embedded font is registered under. SVG files name it too, so a viewer
/// without DejaVu Sans falls back to its own sans-serif face.
pub const FONT: &str = "sans-serif";

/// DejaVu Sans, embedded so the PNG files look the same whatever fonts the machine has.
static DEJAVU_SANS: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");

/// Registers the embedded font once per process.
///
/// # Errors
///
/// A message when the font data cannot be parsed.
pub fn register() -> Result<(), String> {
    static DONE: OnceLock<bool> = OnceLock::new();
    let ok = *DONE.get_or_init(|| register_font(FONT, FontStyle::Normal, DEJAVU_SANS).is_ok());
    if ok {
        Ok(())
    } else {
        Err("the embedded font DejaVu Sans could not be loaded".to_owned())
    }
}

/// Marker shapes, filled and hollow, so series differ in greyscale too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marker {
    /// Filled disc.
    Disc,
    /// Filled square.
    Square,
    /// Filled triangle, point up.
    TriangleUp,
    /// Filled diamond.
    Diamond,
    /// Filled triangle, point down.
    TriangleDown,
    /// Hollow circle.
    Ring,
    /// Hollow square.
    Box,
    /// Hollow triangle, point up.
    HollowTriangle,
    /// A diagonal cross.
    Cross,
}

/// Line pattern of a series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dash {
    /// Unbroken.
    Solid,
    /// Long dashes.
    Dashed,
    /// Short dashes.
    Dotted,
}

impl Dash {
    /// Dash and gap length in pixels, or `None` for a solid line.
    #[must_use]
    pub fn pattern(self) -> Option<(u32, u32)> {
        match self {
            Dash::Solid => None,
            Dash::Dashed => Some((9, 5)),
            Dash::Dotted => Some((3, 4)),
        }
    }
}

/// How series number `i` is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeriesStyle {
    /// Line and marker colour.
    pub colour: RGBColor,
    /// Marker shape.
    pub marker: Marker,
    /// Line pattern.
    pub dash: Dash,
}

/// Nine colours of distinct hue and lightness (the Okabe–Ito set, yellow swapped for darker
/// tones), dark and light entries alternating so neighbours differ in greyscale.
const PALETTE: [RGBColor; 9] = [
    RGBColor(0, 0, 0),
    RGBColor(230, 159, 0),
    RGBColor(0, 114, 178),
    RGBColor(86, 180, 233),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(106, 61, 154),
    RGBColor(204, 121, 167),
    RGBColor(136, 136, 40),
];

const MARKERS: [Marker; 9] = [
    Marker::Disc,
    Marker::Square,
    Marker::TriangleUp,
    Marker::Diamond,
    Marker::TriangleDown,
    Marker::Ring,
    Marker::Box,
    Marker::HollowTriangle,
    Marker::Cross,
];

const DASHES: [Dash; 3] = [Dash::Solid, Dash::Dashed, Dash::Dotted];

/// The style of series number `i` (a stack's index in the run, so a stack looks the same in
/// every panel). Beyond nine series the colours repeat with another dash pattern.
#[must_use]
pub fn series_style(i: usize) -> SeriesStyle {
    SeriesStyle {
        colour: PALETTE[i % PALETTE.len()],
        marker: MARKERS[i % MARKERS.len()],
        dash: DASHES[(i + i / PALETTE.len()) % DASHES.len()],
    }
}

/// `c` blended towards white by `amount` (0 = unchanged, 1 = white).
#[must_use]
pub fn pale(c: RGBColor, amount: f64) -> RGBColor {
    let mix = |v: u8| -> u8 {
        let v = f64::from(v);
        // In 0..=255 by construction.
        (v + (255.0 - v) * amount.clamp(0.0, 1.0)).round() as u8
    };
    RGBColor(mix(c.0), mix(c.1), mix(c.2))
}

/// Draws a marker of `style` centred on `at` (in `area`'s coordinates), `r` pixels in radius.
///
/// # Errors
///
/// The drawing area's error.
pub fn draw_marker<DB, CT>(
    area: &DrawingArea<DB, CT>,
    at: CT::From,
    style: &SeriesStyle,
    r: i32,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>>
where
    DB: DrawingBackend,
    CT: CoordTranslate,
    CT::From: Clone,
{
    let filled = ShapeStyle::from(style.colour).filled();
    let stroke = ShapeStyle::from(style.colour).stroke_width(2);
    let base = EmptyElement::at(at);
    let tri_up = vec![(0, -r - 1), (r + 1, r), (-r - 1, r)];
    match style.marker {
        Marker::Disc => area.draw(&(base + Circle::new((0, 0), r, filled))),
        Marker::Square => area.draw(&(base + Rectangle::new([(-r, -r), (r, r)], filled))),
        Marker::TriangleUp => area.draw(&(base + Polygon::new(tri_up, filled))),
        Marker::Diamond => {
            let d = r + 1;
            area.draw(&(base + Polygon::new(vec![(0, -d), (d, 0), (0, d), (-d, 0)], filled)))
        }
        Marker::TriangleDown => {
            area.draw(&(base + Polygon::new(vec![(0, r + 1), (r + 1, -r), (-r - 1, -r)], filled)))
        }
        Marker::Ring => area.draw(&(base + Circle::new((0, 0), r, stroke))),
        Marker::Box => area.draw(&(base + Rectangle::new([(-r, -r), (r, r)], stroke))),
        Marker::HollowTriangle => {
            let mut path = tri_up.clone();
            path.push(tri_up[0]);
            area.draw(&(base + PathElement::new(path, stroke)))
        }
        Marker::Cross => area.draw(
            &(base
                + PathElement::new(vec![(-r, -r), (r, r)], stroke)
                + PathElement::new(vec![(-r, r), (r, -r)], stroke)),
        ),
    }
}

/// What a tick value measures, for its label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Milliseconds: `0.1 ms`, `10 ms`, `1 s`.
    Millis,
    /// Bytes: `100 B`, `1 kB`, `2 MB` (SI prefixes).
    Bytes,
    /// A plain count: `8`, `512`, `10k`.
    Count,
    /// A bare number: `0.25`.
    Number,
}

impl Unit {
    /// A tick label for `v`.
    #[must_use]
    pub fn label(self, v: f64) -> String {
        match self {
            Unit::Millis if v.abs() >= 1000.0 => format!("{} s", number(v / 1000.0)),
            Unit::Millis => format!("{} ms", number(v)),
            Unit::Bytes if v.abs() >= 1e9 => format!("{} GB", number(v / 1e9)),
            Unit::Bytes if v.abs() >= 1e6 => format!("{} MB", number(v / 1e6)),
            Unit::Bytes if v.abs() >= 1e3 => format!("{} kB", number(v / 1e3)),
            Unit::Bytes => format!("{} B", number(v)),
            Unit::Count if v.abs() >= 1e6 => format!("{}M", number(v / 1e6)),
            Unit::Count if v.abs() >= 1e4 => format!("{}k", number(v / 1e3)),
            Unit::Count | Unit::Number => number(v),
        }
    }
}

/// `v` with at most three significant digits and no trailing zeros: `0.1`, `2.5`, `1024`.
#[must_use]
pub fn number(v: f64) -> String {
    if !v.is_finite() || v == 0.0 {
        return "0".to_owned();
    }
    if v.abs() >= 100.0 {
        return format!("{}", v.round());
    }
    // Decimals for three significant digits, then trailing zeros dropped.
    let decimals = (2 - v.abs().log10().floor() as i32).clamp(0, 9) as usize;
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tick_labels_are_human() {
        let ms: Vec<String> = [0.01, 0.1, 1.0, 10.0, 100.0, 1000.0, 2500.0]
            .into_iter()
            .map(|v| Unit::Millis.label(v))
            .collect();
        assert_eq!(
            ms,
            ["0.01 ms", "0.1 ms", "1 ms", "10 ms", "100 ms", "1 s", "2.5 s"]
        );
        assert_eq!(Unit::Bytes.label(1500.0), "1.5 kB");
        assert_eq!(Unit::Bytes.label(100.0), "100 B");
        assert_eq!(Unit::Count.label(1024.0), "1024");
        assert_eq!(Unit::Count.label(100_000.0), "100k");
        assert_eq!(Unit::Number.label(0.25), "0.25");
    }

    #[test]
    fn nine_series_styles_differ_in_colour_and_marker() {
        let styles: Vec<SeriesStyle> = (0..9).map(series_style).collect();
        for (i, a) in styles.iter().enumerate() {
            for b in &styles[i + 1..] {
                assert!(a.colour != b.colour && a.marker != b.marker);
            }
        }
    }
}
