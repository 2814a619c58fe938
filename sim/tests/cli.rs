//! The `conclave` binary: exit codes, error messages and outputs.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn conclave(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_conclave"))
        .args(args)
        .output()
        .unwrap()
}

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `conclave run SCENARIO --calibration CALIBRATION --out OUT`, which must exit 0.
fn run_ok(scenario: &Path, calibration: &Path, out: &Path) {
    let o = conclave(&[
        "run",
        scenario.to_str().unwrap(),
        "--calibration",
        calibration.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn every_malformed_scenario_exits_2_without_a_report() {
    let tmp = tempfile::tempdir().unwrap();
    let mut files: Vec<PathBuf> = std::fs::read_dir(manifest_dir().join("tests/bad"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 12);
    for f in &files {
        let name = f.file_stem().unwrap().to_string_lossy().into_owned();
        let out = tmp.path().join(&name);
        for args in [
            vec!["validate", f.to_str().unwrap()],
            vec!["run", f.to_str().unwrap(), "--out", out.to_str().unwrap()],
        ] {
            let o = conclave(&args);
            let stderr = String::from_utf8_lossy(&o.stderr);
            assert_eq!(o.status.code(), Some(2), "{name}: {args:?}: {stderr}");
            assert!(stderr.starts_with("error: "), "{name}: {stderr}");
            assert!(
                stderr.contains(f.to_str().unwrap()),
                "{name}: the message must name the file: {stderr}"
            );
            assert!(!stderr.contains("panicked"), "{name}: {stderr}");
        }
        assert!(
            !out.exists(),
            "{name}: a report was written for a bad scenario"
        );
    }
}

#[test]
fn messages_name_key_and_line() {
    let f = manifest_dir().join("tests/bad/room_too_large.yaml");
    let o = conclave(&["validate", f.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr.contains("org.rooms["), "{stderr}");
    assert!(
        stderr
            .split(':')
            .nth(2)
            .is_some_and(|line| line.trim().parse::<u32>().is_ok()),
        "no line number: {stderr}"
    );
}

#[test]
fn bad_arguments_exit_2() {
    let smoke = manifest_dir().join("../scenarios/ci-smoke.yaml");
    let smoke = smoke.to_str().unwrap();
    assert_eq!(
        conclave(&["run", smoke, "--jobs", "0"]).status.code(),
        Some(2)
    );
    assert_eq!(
        conclave(&["run", smoke, "--cost-model", "guess"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(conclave(&["frobnicate"]).status.code(), Some(2));
    assert_eq!(
        conclave(&["run", "/nonexistent/scenario.yaml"])
            .status
            .code(),
        Some(2)
    );
    let tmp = tempfile::tempdir().unwrap();
    let bogus = tmp.path().join("cal.json");
    std::fs::write(&bogus, "{ \"version\": 1 }").unwrap();
    let o = conclave(&[
        "run",
        smoke,
        "--calibration",
        bogus.to_str().unwrap(),
        "--out",
        tmp.path().join("r").to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("cal.json"));
}

#[test]
fn run_writes_the_report_and_validate_accepts_shipped_scenarios() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("smoke");
    let smoke = manifest_dir().join("../scenarios/ci-smoke.yaml");
    let cal = manifest_dir().join("tests/fixtures/calibration.json");
    let o = conclave(&[
        "run",
        smoke.to_str().unwrap(),
        "--calibration",
        cal.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--seed",
        "3",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for f in [
        "summary.json",
        "table1.md",
        "table1.csv",
        "security.md",
        "manifest.json",
    ] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["seed"], 3);
    assert!(String::from_utf8_lossy(&o.stdout).contains("# Table 1"));
    for s in std::fs::read_dir(manifest_dir().join("../scenarios")).unwrap() {
        let p = s.unwrap().path();
        if p.extension().is_some_and(|e| e == "yaml") {
            assert!(
                conclave(&["validate", p.to_str().unwrap()])
                    .status
                    .success(),
                "{}",
                p.display()
            );
        }
    }
    let schemes = String::from_utf8_lossy(&conclave(&["schemes"]).stdout).into_owned();
    for name in ["conventional", "none", "plaintext"] {
        assert!(schemes.contains(name));
    }
    let _ = Path::new(&out);
}

/// Runs `args`, expects exit 2 with a message containing every needle, and no panic.
fn expect_refused(args: &[&str], needles: &[&str]) {
    let o = conclave(args);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {stderr}");
    assert!(stderr.starts_with("error: "), "{args:?}: {stderr}");
    assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    for n in needles {
        assert!(stderr.contains(n), "{args:?}: expected {n:?} in: {stderr}");
    }
}

/// Every built-in scheme has a model, so `validate` and `run` take `--cost-model model` for a
/// `sakke` stack, and the run writes its report without cryptography. (The refusal of a scheme
/// without a model is reachable only with a registry that adds one: the binary's unit test of
/// its refusal and `oracle_can_fail` test it.)
#[test]
fn the_model_cost_mode_runs_a_sakke_stack() {
    let smoke = manifest_dir().join("../scenarios/ci-smoke.yaml");
    let smoke = smoke.to_str().unwrap();
    let calibration = manifest_dir().join("tests/fixtures/calibration-full.json");
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("r");
    let validated = conclave(&[
        "validate",
        smoke,
        "--set",
        "cost_model=model",
        "--set",
        "stacks=[sakke+none+plaintext]",
    ]);
    assert!(
        validated.status.success(),
        "{}",
        String::from_utf8_lossy(&validated.stderr)
    );
    let ran = conclave(&[
        "run",
        smoke,
        "--cost-model",
        "model",
        "--calibration",
        calibration.to_str().unwrap(),
        "--jobs",
        "1",
        "--set",
        "stacks=[sakke+none+plaintext]",
        "--out",
        out.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&ran.stderr);
    assert!(ran.status.success(), "{stderr}");
    let security = std::fs::read_to_string(out.join("security.md")).unwrap();
    assert!(security.contains("ran as their models"), "{security}");
}

#[test]
fn a_scenario_beyond_the_machine_is_refused_by_validate_and_run() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("r");
    let f = manifest_dir().join("tests/fixtures/memory_too_large.yaml");
    let f = f.to_str().unwrap();
    let needles = [
        "memory_too_large.yaml: org.rooms[0].preload: ",
        "GiB",
        "more than this machine's",
    ];
    expect_refused(&["validate", f], &needles);
    expect_refused(&["run", f, "--out", out.to_str().unwrap()], &needles);
    assert!(!out.exists(), "nothing is written for a refused run");
}

#[test]
fn jobs_out_of_range_and_an_out_file_are_refused_before_the_run() {
    let tmp = tempfile::tempdir().unwrap();
    let smoke = manifest_dir().join("../scenarios/ci-smoke.yaml");
    let smoke = smoke.to_str().unwrap();
    let cal = manifest_dir().join("tests/fixtures/calibration.json");
    let cal = cal.to_str().unwrap();
    let out = tmp.path().join("r");
    let out = out.to_str().unwrap();
    for jobs in ["0", "257"] {
        expect_refused(
            &[
                "run",
                smoke,
                "--calibration",
                cal,
                "--out",
                out,
                "--jobs",
                jobs,
            ],
            &["--jobs: expected 1 to 256", jobs],
        );
    }
    let file = tmp.path().join("report.txt");
    std::fs::write(&file, "keep me").unwrap();
    expect_refused(
        &[
            "run",
            smoke,
            "--calibration",
            cal,
            "--out",
            file.to_str().unwrap(),
        ],
        &["report.txt: exists and is not a directory"],
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep me");
    // Without --calibration the run would calibrate into --out first: still refused up front.
    expect_refused(
        &["run", smoke, "--out", file.to_str().unwrap()],
        &["report.txt: exists and is not a directory"],
    );
    assert!(!Path::new(out).exists());
}

#[test]
fn an_incomplete_calibration_table_is_refused_before_the_run() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("r");
    let secured = manifest_dir().join("tests/fixtures/secured.yaml");
    let cal = manifest_dir().join("tests/fixtures/calibration.json");
    expect_refused(
        &[
            "run",
            secured.to_str().unwrap(),
            "--cost-model",
            "calibrated",
            "--calibration",
            cal.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        &[
            "calibration.json: no entry for ",
            "pairwise-dh/client.change",
            "mkd/client.change",
            "conclave calibrate",
        ],
    );
    assert!(!out.exists(), "refused before simulating: nothing written");
}

#[test]
fn a_calibration_entry_missing_for_work_that_depends_on_the_run_is_bad_input() {
    let tmp = tempfile::tempdir().unwrap();
    let fixture = manifest_dir().join("tests/fixtures/calibration.json");
    let mut table: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fixture).unwrap()).unwrap();
    // The key server's handling is charged only when the run routes a change through it.
    table["entries"]
        .as_object_mut()
        .unwrap()
        .remove("conventional/server.handle")
        .unwrap();
    let cal = tmp.path().join("partial.json");
    std::fs::write(&cal, serde_json::to_vec(&table).unwrap()).unwrap();
    let smoke = manifest_dir().join("../scenarios/ci-smoke.yaml");
    expect_refused(
        &[
            "run",
            smoke.to_str().unwrap(),
            "--calibration",
            cal.to_str().unwrap(),
            "--out",
            tmp.path().join("r").to_str().unwrap(),
        ],
        &["conventional/server.handle", "conclave calibrate"],
    );
}

/// A small sweep: two room sizes, two stacks, charged from the committed calibration table.
const SMALL_SWEEP: &str = "name: small-sweep
seed: 3
duration: 10m
org:
  users: 30
  rooms:
    - { kind: project, count: 1, size: 6, admins: 1 }
workload:
  messages: { rate: 6/h/user, size: 100B }
  keywords: { vocabulary: 200, per_message: 2 }
  search: { rate: 0/h/user }
  login: { rate: 12/h/user, recent: 0, session: 365d, online_at_start: 1.0 }
  churn:
    events:
      - { at: 4m, join: all }
  history: { read: 0 }
stacks:
  - { kd: [conventional, pairwise-dh], pre: none, sse: plaintext }
sweep:
  org.rooms[0].size: [6, 12]
";

#[test]
fn set_overrides_a_key_and_names_it_when_wrong() {
    let f = manifest_dir().join("../scenarios/ci-smoke.yaml");
    let f = f.to_str().unwrap();
    let ok = conclave(&["validate", f, "--set", "org.users=45"]);
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("45 users"));
    let bad = conclave(&["validate", f, "--set", "org.users=many"]);
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        stderr.contains("org.users") && stderr.contains("--set org.users=many"),
        "{stderr}"
    );
    let missing = conclave(&["validate", f, "--set", "org.rooms[9].size=4"]);
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert_eq!(missing.status.code(), Some(2));
    assert!(stderr.contains("org.rooms[9].size"), "{stderr}");
    let malformed = conclave(&["validate", f, "--set", "org.users"]);
    assert_eq!(malformed.status.code(), Some(2));
}

#[test]
fn a_sweep_runs_every_point_and_writes_its_tables() {
    let tmp = tempfile::tempdir().unwrap();
    let scenario = tmp.path().join("sweep.yaml");
    std::fs::write(&scenario, SMALL_SWEEP).unwrap();
    let out = tmp.path().join("report");
    let calibration = manifest_dir().join("tests/fixtures/calibration-full.json");
    run_ok(&scenario, &calibration, &out);
    for point in ["point-01", "point-02"] {
        assert!(out.join(point).join("summary.json").exists(), "{point}");
    }
    let csv = std::fs::read_to_string(out.join("sweep.csv")).unwrap();
    let mut lines = csv.lines();
    assert!(lines
        .next()
        .unwrap()
        .starts_with("point,org.rooms[0].size,stack,op,count,p50_ms"));
    let rows: Vec<&str> = lines.collect();
    for (point, size) in [("1", "6"), ("2", "12")] {
        for stack in ["conventional+none+plaintext", "pairwise-dh+none+plaintext"] {
            assert!(
                rows.iter()
                    .any(|r| r.starts_with(&format!("{point},{size},{stack},join,1,"))),
                "no join row of {stack} at point {point}:\n{csv}"
            );
        }
    }
    let svg = std::fs::read_to_string(out.join("plots/sweep.svg")).unwrap();
    for stack in ["conventional+none+plaintext", "pairwise-dh+none+plaintext"] {
        assert!(svg.contains(stack), "{stack} missing from the sweep plot");
    }
    assert!(
        svg.contains("org.rooms[0].size"),
        "the axis is labelled with the sweep key"
    );
    assert!(out.join("plots/sweep.png").exists());
    let md = std::fs::read_to_string(out.join("sweep.md")).unwrap();
    assert!(
        md.contains("## Point 2 (`point-02/`): `org.rooms[0].size` = 12"),
        "{md}"
    );
    // A value the scenario cannot take is refused up front, naming the sweep.
    let bad = SMALL_SWEEP.replace("[6, 12]", "[6, 500]");
    std::fs::write(&scenario, bad).unwrap();
    let o = conclave(&["validate", scenario.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr.contains("sweep.org.rooms[0].size") && stderr.contains("= 500"),
        "{stderr}"
    );
}

/// A doubled calibration table makes every compute charge twice as long: on a network without
/// delays the p50s grow by far more than 20 %, and `compare --fail-above 20` says so.
#[test]
fn compare_catches_a_slowdown() {
    let tmp = tempfile::tempdir().unwrap();
    let scenario = tmp.path().join("fast.yaml");
    std::fs::write(
        &scenario,
        "name: fast
seed: 5
duration: 10m
org:
  users: 30
  rooms:
    - { kind: project, count: 3, size: 8, admins: 1 }
workload:
  messages: { rate: 20/h/user, size: 200B }
  keywords: { vocabulary: 200, per_message: 3 }
  search: { rate: 4/h/user, fetch: 3 }
  login: { rate: 2/h/user, recent: 3, online_at_start: 1.0 }
  history: { read: 0 }
network:
  clients: [ { share: 1, rtt: 1us, jitter: 0ms, down: 1GB/s, up: 1GB/s } ]
stacks: [ pairwise-dh+epoch-keys+per-epoch ]
",
    )
    .unwrap();
    let table = manifest_dir().join("tests/fixtures/calibration-full.json");
    let mut doubled: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&table).unwrap()).unwrap();
    for points in doubled["entries"].as_object_mut().unwrap().values_mut() {
        for point in points.as_array_mut().unwrap() {
            let ns = point[1].as_f64().unwrap();
            point[1] = serde_json::json!(ns * 2.0);
        }
    }
    let doubled_path = tmp.path().join("doubled.json");
    std::fs::write(&doubled_path, doubled.to_string()).unwrap();
    let mut reports = Vec::new();
    for (name, cal) in [("a", table.as_path()), ("b", doubled_path.as_path())] {
        let out = tmp.path().join(name);
        run_ok(&scenario, cal, &out);
        reports.push(out);
    }
    let (a, b) = (reports[0].to_str().unwrap(), reports[1].to_str().unwrap());
    let same = conclave(&["compare", a, a, "--fail-above", "20"]);
    assert_eq!(same.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&same.stdout)
        .contains("| pairwise-dh+epoch-keys+per-epoch | send |"));
    let slower = conclave(&["compare", a, b, "--fail-above", "20"]);
    let stderr = String::from_utf8_lossy(&slower.stderr);
    assert_eq!(slower.status.code(), Some(4), "{stderr}");
    assert!(
        stderr.contains("pairwise-dh+epoch-keys+per-epoch send"),
        "{stderr}"
    );
    let csv = conclave(&["compare", a, b, "--format", "csv"]);
    assert_eq!(csv.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&csv.stdout).starts_with("stack,op,count_a,count_b,p50_a_ms"));
    let missing = conclave(&["compare", a, "/nonexistent/report"]);
    assert_eq!(missing.status.code(), Some(2));
}
