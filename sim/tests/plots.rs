//! Plot files: each requested plot is written as SVG and PNG under `plots/`, with a line (or a
//! bar pair) per stack, titled axes and a legend naming every stack; unrequested plots are not
//! written, and the same report gives the same bytes.

#![allow(clippy::unwrap_used)]

use std::fs;
use std::path::{Path, PathBuf};

use conclave_schemes::registry::{self, Family};
use conclave_sim::metrics::{Op, Sample, StackResult};
use conclave_sim::report::plots::series_style;
use conclave_sim::report::{write_all, write_plots, CalibrationInfo, RunReport};
use conclave_sim::scenario::{
    self, CostModelKind, KnownSchemes, ModelledSchemes, Scenario, StackSpec,
};

const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];

fn scenario(plots: &[&str]) -> Scenario {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios/ci-smoke.yaml");
    let text = fs::read_to_string(&path).unwrap();
    let kd = registry::names(Family::KeyDistribution);
    let pre = registry::names(Family::History);
    let sse = registry::names(Family::Search);
    let known = KnownSchemes {
        kd: &kd,
        pre: &pre,
        sse: &sse,
        kd_rejoining: &["mls"],
        modelled: ModelledSchemes::NONE,
    };
    let mut s = scenario::parse(&text, Path::new("ci-smoke.yaml"), &known).unwrap();
    s.report.plots = plots.iter().map(|p| (*p).to_owned()).collect();
    s
}

/// A stack whose ops cost `factor` times the base; with `reencrypt`, it re-encrypts history.
fn stack(kd: &str, factor: u64, reencrypt: bool) -> StackResult {
    let mut r = StackResult::new(StackSpec {
        kd: kd.to_owned(),
        pre: "none".to_owned(),
        sse: "plaintext".to_owned(),
    });
    for i in 0..40u64 {
        let room = 2 + (i % 6) * 7; // sizes 2 .. 37: several room-size buckets
        let sample = |base_us: u64, up: u64, down: u64| Sample {
            latency_ns: (base_us + 37 * i) * factor * 1000,
            bytes_up: up * factor,
            bytes_down: down * factor,
            rounds: 1,
            cpu_ns: [50_000 * factor, 0, 0, 10_000, 0, 20_000 * factor * room],
            room_size: Some(room),
            history: Some(10 * (i + 1)),
        };
        r.record(Op::Send, &sample(800, 300, 40));
        r.record(Op::Join, &sample(5_000, 900, 2_000));
        if i % 4 == 0 {
            r.record(
                Op::Login,
                &Sample {
                    room_size: None,
                    ..sample(20_000, 100, 9_000)
                },
            );
        }
        if reencrypt {
            r.record(Op::Reencrypt, &sample(3_000, 0, 0));
        }
    }
    r
}

fn stacks() -> Vec<StackResult> {
    vec![
        stack("conventional", 1, false),
        stack("mkd", 3, true),
        stack("pairwise-dh", 7, true),
    ]
}

fn report<'a>(s: &'a Scenario, stacks: Vec<StackResult>) -> RunReport<'a> {
    RunReport {
        scenario: s,
        seeds: vec![1],
        cost_model: CostModelKind::Calibrated,
        calibration: CalibrationInfo {
            source: "test".to_owned(),
            sha256: None,
        },
        stacks,
        wall_seconds: 1.0,
    }
}

fn names(stacks: &[StackResult]) -> Vec<String> {
    stacks.iter().map(|s| s.stack.name()).collect()
}

/// Polylines (lines, legend samples, hollow markers) drawn in the colour of series `style`.
fn polylines_in_colour(svg: &str, style: usize) -> usize {
    let c = series_style(style).colour;
    let stroke = format!("stroke=\"#{:02X}{:02X}{:02X}\"", c.0, c.1, c.2);
    svg.split("<polyline")
        .skip(1)
        .filter(|el| {
            el.split("/>")
                .next()
                .is_some_and(|attrs| attrs.contains(&stroke))
        })
        .count()
}

/// Checks that a bar plot fills bars in each listed stack's colour, besides its legend swatch.
fn check_bars(dir: &Path, plot: &str, styles: &[usize]) {
    let svg = fs::read_to_string(dir.join("plots").join(format!("{plot}.svg"))).unwrap();
    for &i in styles {
        let c = series_style(i).colour;
        let fill = format!("fill=\"#{:02X}{:02X}{:02X}\"", c.0, c.1, c.2);
        let n = svg
            .split("<rect")
            .skip(1)
            .filter(|el| {
                el.split("/>")
                    .next()
                    .is_some_and(|attrs| attrs.contains(&fill))
            })
            .count();
        assert!(n >= 2, "{plot}: series {i} has {n} bars in its colour");
    }
}

/// Checks that a line plot draws a line in each listed stack's colour (the stacks' styles are
/// their indices in the run), besides its legend sample.
fn check_lines(dir: &Path, plot: &str, styles: &[usize]) {
    let svg = fs::read_to_string(dir.join("plots").join(format!("{plot}.svg"))).unwrap();
    for &i in styles {
        let n = polylines_in_colour(&svg, i);
        assert!(n >= 2, "{plot}: series {i} has {n} polylines in its colour");
    }
}

/// Checks one plot's files; `expected` are the stacks it must name, `absent` those it must not.
fn check_plot(dir: &Path, plot: &str, axes: &[&str], expected: &[String], absent: &[String]) {
    let svg = fs::read_to_string(dir.join("plots").join(format!("{plot}.svg"))).unwrap();
    assert!(svg.starts_with("<svg"), "{plot}: not an SVG document");
    assert!(svg.trim_end().ends_with("</svg>"), "{plot}: SVG not closed");
    assert_eq!(
        svg.matches("<text").count(),
        svg.matches("</text>").count(),
        "{plot}: unbalanced text elements"
    );
    for label in axes {
        assert!(svg.contains(label), "{plot}: axis label `{label}` missing");
    }
    for name in expected {
        assert!(
            svg.contains(&format!(">\n{name}\n</text>")),
            "{plot}: no legend entry {name}"
        );
    }
    for name in absent {
        assert!(
            !svg.contains(name.as_str()),
            "{plot}: {name} should be left out"
        );
    }
    // At least one drawn line or bar per stack beyond the axes and grid.
    let shapes = svg.matches("<polyline").count() + svg.matches("<rect").count();
    assert!(shapes > expected.len(), "{plot}: too few shapes ({shapes})");
    let png = fs::read(dir.join("plots").join(format!("{plot}.png"))).unwrap();
    assert!(png.starts_with(&PNG_SIGNATURE), "{plot}: not a PNG file");
}

#[test]
fn requested_plots_are_written_with_a_series_per_stack() {
    let plots = [
        "latency_cdf",
        "bytes_per_op",
        "cost_vs_room_size",
        "reencrypt_vs_history",
    ];
    let s = scenario(&plots);
    let r = report(&s, stacks());
    let dir = tempfile::tempdir().unwrap();
    let written = write_plots(&r, dir.path()).unwrap();
    let expected: Vec<PathBuf> = plots
        .iter()
        .flat_map(|p| ["svg", "png"].map(|e| dir.path().join("plots").join(format!("{p}.{e}"))))
        .collect();
    assert_eq!(written, expected);

    let all = names(&r.stacks);
    check_plot(
        dir.path(),
        "latency_cdf",
        &["latency (log scale)", "fraction of ops done"],
        &all,
        &[],
    );
    check_plot(
        dir.path(),
        "bytes_per_op",
        &["operation", "bytes per op"],
        &all,
        &[],
    );
    check_plot(
        dir.path(),
        "cost_vs_room_size",
        &[
            "room size (members, log scale)",
            "p50 latency",
            "client bytes per op",
            "initiator CPU per op",
        ],
        &all,
        &[],
    );
    // The conventional stack never re-encrypts: it is left out of that plot.
    check_plot(
        dir.path(),
        "reencrypt_vs_history",
        &["stored history (messages, log scale)", "p50 latency"],
        &all[1..],
        &all[..1],
    );
    check_lines(dir.path(), "latency_cdf", &[0, 1, 2]);
    check_bars(dir.path(), "bytes_per_op", &[0, 1, 2]);
    check_lines(dir.path(), "cost_vs_room_size", &[0, 1, 2]);
    check_lines(dir.path(), "reencrypt_vs_history", &[1, 2]);
    // No temporary files are left behind.
    let leftovers: Vec<_> = fs::read_dir(dir.path().join("plots"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn unrequested_plots_are_not_written() {
    let s = scenario(&["latency_cdf"]);
    let r = report(&s, stacks());
    let dir = tempfile::tempdir().unwrap();
    write_plots(&r, dir.path()).unwrap();
    let mut files: Vec<String> = fs::read_dir(dir.path().join("plots"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(files, ["latency_cdf.png", "latency_cdf.svg"]);

    let none = scenario(&[]);
    let r = report(&none, stacks());
    let dir = tempfile::tempdir().unwrap();
    assert!(write_plots(&r, dir.path()).unwrap().is_empty());
    assert!(!dir.path().join("plots").exists());
}

#[test]
fn write_all_adds_the_plots_after_the_report_files() {
    let s = scenario(&["bytes_per_op"]);
    let r = report(&s, stacks());
    let dir = tempfile::tempdir().unwrap();
    let written = write_all(&r, dir.path()).unwrap();
    // After summary.json, table1.md, table1.csv, security.md, manifest.json and latency.hlog.
    let tail: Vec<PathBuf> = written[6..].to_vec();
    assert_eq!(
        tail,
        [
            dir.path().join("plots/bytes_per_op.svg"),
            dir.path().join("plots/bytes_per_op.png")
        ]
    );
}

#[test]
fn plots_are_deterministic_and_nine_stacks_get_nine_styles() {
    let kds = [
        "conventional",
        "mkd",
        "pairwise-dh",
        "sender-keys",
        "kd-five",
        "kd-six",
        "kd-seven",
        "kd-eight",
        "kd-nine",
    ];
    let nine: Vec<StackResult> = kds
        .iter()
        .enumerate()
        .map(|(i, kd)| stack(kd, i as u64 + 1, true))
        .collect();
    let s = scenario(&["latency_cdf", "cost_vs_room_size"]);
    let r = report(&s, nine.clone());
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    write_plots(&r, a.path()).unwrap();
    write_plots(&report(&s, nine), b.path()).unwrap();
    for f in [
        "latency_cdf.svg",
        "latency_cdf.png",
        "cost_vs_room_size.svg",
        "cost_vs_room_size.png",
    ] {
        let x = fs::read(a.path().join("plots").join(f)).unwrap();
        let y = fs::read(b.path().join("plots").join(f)).unwrap();
        assert!(x == y, "{f} differs between identical reports");
    }
    let all = names(&r.stacks);
    check_plot(a.path(), "latency_cdf", &["latency (log scale)"], &all, &[]);
}
