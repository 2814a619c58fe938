//! `conclave run --shard K/N` in separate processes, then `conclave merge`: the merged report is
//! the unsharded run's, byte for byte (but for the manifest's wall time and date), and partial
//! reports that do not make up one run are refused, naming what is wrong.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn conclave(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_conclave"))
        .args(args)
        .output()
        .unwrap()
}

fn fixture(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

fn ok(o: &Output) {
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

fn bad(o: &Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(needle), "expected `{needle}` in: {stderr}");
}

/// Every file under `dir`, relative to it, sorted.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().to_path_buf());
            }
        }
    }
    out.sort();
    out
}

fn shard(scenario: &str, calibration: &str, k: &str, out: &Path) -> Output {
    conclave(&[
        "run",
        scenario,
        "--calibration",
        calibration,
        "--shard",
        k,
        "--out",
        out.to_str().unwrap(),
    ])
}

/// `conclave merge` of `inputs`.
fn merge(inputs: &[&Path]) -> Output {
    let mut args = vec!["merge"];
    args.extend(inputs.iter().map(|p| p.to_str().unwrap()));
    conclave(&args)
}

#[test]
fn three_shards_merge_into_the_unsharded_report() {
    let tmp = tempfile::tempdir().unwrap();
    let (scenario, calibration) = (fixture("sharded.yaml"), fixture("calibration-full.json"));
    let whole = tmp.path().join("whole");
    ok(&conclave(&[
        "run",
        &scenario,
        "--calibration",
        &calibration,
        "--out",
        whole.to_str().unwrap(),
    ]));
    let shards: Vec<PathBuf> = (1..=3).map(|k| tmp.path().join(format!("s{k}"))).collect();
    for (k, dir) in shards.iter().enumerate() {
        ok(&shard(
            &scenario,
            &calibration,
            &format!("{}/3", k + 1),
            dir,
        ));
    }
    let merged = tmp.path().join("merged");
    // In any order.
    ok(&conclave(&[
        "merge",
        shards[2].to_str().unwrap(),
        shards[0].join("partial.json").to_str().unwrap(),
        shards[1].to_str().unwrap(),
        "--out",
        merged.to_str().unwrap(),
    ]));
    let expected = files(&whole);
    assert_eq!(files(&merged), expected);
    let summaries = expected
        .iter()
        .filter(|f| f.ends_with("summary.json"))
        .count();
    assert_eq!(summaries, 2, "one summary per sweep point");
    for f in &expected {
        let (a, b) = (
            std::fs::read(whole.join(f)).unwrap(),
            std::fs::read(merged.join(f)).unwrap(),
        );
        if f.ends_with("manifest.json") {
            continue;
        }
        assert!(a == b, "{} differs", f.display());
    }

    // A shard missing, a shard given twice, a shard of another run.
    bad(&merge(&[&shards[0], &shards[2]]), "shard(s) 2 of 3 missing");
    bad(
        &merge(&[&shards[0], &shards[1], &shards[0]]),
        "shard 1 again",
    );
    let other = tmp.path().join("other");
    ok(&shard(&scenario, &calibration, "2/2", &other));
    bad(&merge(&[&shards[0], &other]), "a shard of another run");
    // A count that disagrees with its histogram (a corrupt or edited file).
    let mut text: serde_json::Value =
        serde_json::from_slice(&std::fs::read(shards[0].join("partial.json")).unwrap()).unwrap();
    let count = &mut text["jobs"][0]["result"]["ops"]["send"]["count"];
    *count = serde_json::json!(count.as_u64().unwrap() + 1);
    let edited = tmp.path().join("edited");
    std::fs::create_dir_all(&edited).unwrap();
    std::fs::write(edited.join("partial.json"), text.to_string()).unwrap();
    bad(
        &merge(&[&edited, &shards[1], &shards[2]]),
        "samples in its histogram",
    );
    // A calibration table other than the one its run names.
    let mut text: serde_json::Value =
        serde_json::from_slice(&std::fs::read(shards[0].join("partial.json")).unwrap()).unwrap();
    text["calibration_table"] = serde_json::json!("{}");
    std::fs::write(edited.join("partial.json"), text.to_string()).unwrap();
    bad(
        &merge(&[&edited, &shards[1], &shards[2]]),
        "is not the one its run names",
    );
    // Not a partial report.
    bad(
        &merge(&[&whole.join("point-01/summary.json")]),
        "not a partial report",
    );
}

#[test]
fn model_shards_merge_into_the_unsharded_model_report() {
    let tmp = tempfile::tempdir().unwrap();
    let (scenario, calibration) = (fixture("sharded.yaml"), fixture("calibration-full.json"));
    let run = |extra: &[&str], out: &Path| {
        let mut args = vec![
            "run",
            &scenario,
            "--cost-model",
            "model",
            "--set",
            "stacks=[conventional+none+plaintext, pairwise-dh+none+plaintext]",
            "--calibration",
            &calibration,
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        ok(&conclave(&args));
    };
    let whole = tmp.path().join("whole");
    run(&[], &whole);
    let shards: Vec<PathBuf> = (1..=3).map(|k| tmp.path().join(format!("s{k}"))).collect();
    for (k, dir) in shards.iter().enumerate() {
        run(&["--shard", &format!("{}/3", k + 1)], dir);
    }
    let merged = tmp.path().join("merged");
    let mut args = vec!["merge"];
    args.extend(shards.iter().map(|p| p.to_str().unwrap()));
    args.extend(["--out", merged.to_str().unwrap()]);
    ok(&conclave(&args));
    let summaries: Vec<PathBuf> = files(&whole)
        .into_iter()
        .filter(|f| f.ends_with("summary.json"))
        .collect();
    assert!(!summaries.is_empty());
    for f in &summaries {
        let a = std::fs::read_to_string(whole.join(f)).unwrap();
        assert!(a.contains("\"cost_model\": \"model\""), "{}", f.display());
        assert!(
            a == std::fs::read_to_string(merged.join(f)).unwrap(),
            "{} differs",
            f.display()
        );
    }
}

#[test]
fn a_calibrated_shard_needs_a_calibration_table_and_a_valid_slice() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("s");
    let scenario = fixture("sharded.yaml");
    bad(
        &conclave(&[
            "run",
            &scenario,
            "--shard",
            "1/2",
            "--out",
            out.to_str().unwrap(),
        ]),
        "--shard needs --calibration",
    );
    for slice in ["0/2", "3/2", "2", "a/b"] {
        let o = conclave(&["run", &scenario, "--shard", slice]);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{slice}: {stderr}");
        assert!(stderr.contains("is not K/N"), "{slice}: {stderr}");
    }
    assert!(!out.exists(), "nothing is written for a refused shard");
}
