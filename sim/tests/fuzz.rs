//! `conclave fuzz`: the generator's scenarios are valid and cover the scenario language, the
//! shrinker reaches the minimal failing scenario, and the command line runs a batch; `conclave
//! run --stack` and the calibration table and rerun line written with a run.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use conclave_schemes::registry::{self, Family};
use conclave_sim::fuzz::generate::{GenKeywords, GenRoomKind, GenRoomSize};
use conclave_sim::fuzz::shrink::shrink;
use conclave_sim::fuzz::{self, check, FuzzScenario, GenConfig, Registered};

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn conclave(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_conclave"))
        .args(args)
        .output()
        .unwrap()
}

fn generator(registered: &Registered) -> GenConfig {
    let corpus = manifest_dir()
        .join("../data/chitchat-sample.jsonl")
        .canonicalize()
        .unwrap();
    registered.generator(60, Some(corpus), vec!["afgh".to_owned()])
}

/// Every key of the scenario language (`scenarios/README.md`), as a path with list items written
/// `[]`; `=x` names a value form (`=int` an integer, `=str` a string, other values literally).
const KEYS: &[&str] = &[
    "name",
    "seed",
    "replicates",
    "duration",
    "organisations[].name",
    "organisations[].users",
    "organisations[].departments",
    "organisations[].trusts[]",
    "org.users",
    "org.departments",
    "org.rooms[].kind=department",
    "org.rooms[].kind=org",
    "org.rooms[].kind=project",
    "org.rooms[].count",
    "org.rooms[].size=int",
    "org.rooms[].size.uniform.min",
    "org.rooms[].size.uniform.max",
    "org.rooms[].size.zipf.min",
    "org.rooms[].size.zipf.max",
    "org.rooms[].size.zipf.s",
    "org.rooms[].admins",
    "org.rooms[].history=shared",
    "org.rooms[].history=from_join",
    "org.rooms[].preload",
    "org.rooms[].orgs[]",
    "policy.history=shared",
    "policy.history=from_join",
    "policy.key_period",
    "workload.messages.rate",
    "workload.messages.size=str",
    "workload.messages.size.uniform.min",
    "workload.messages.size.uniform.max",
    "workload.messages.size.lognormal.median",
    "workload.messages.size.lognormal.sigma",
    "workload.keywords.vocabulary",
    "workload.keywords.zipf",
    "workload.keywords.corpus",
    "workload.keywords.per_message",
    "workload.search.rate",
    "workload.search.fetch",
    "workload.login.rate",
    "workload.login.recent",
    "workload.login.session",
    "workload.login.online_at_start",
    "workload.churn.join",
    "workload.churn.leave",
    "workload.churn.move",
    "workload.churn.events[].at",
    "workload.churn.events[].reorg.from",
    "workload.churn.events[].reorg.to",
    "workload.churn.events[].reorg.share",
    "workload.churn.events[].leave=all",
    "workload.churn.events[].join=all",
    "workload.history.read",
    "workload.canaries",
    "network.clients[].share",
    "network.clients[].rtt",
    "network.clients[].jitter",
    "network.clients[].down",
    "network.clients[].up",
    "servers.workers",
    "servers.key_retention",
    "cost_model=calibrated",
    "stacks[]=str",
    "stacks[].kd[]",
    "stacks[].pre",
    "stacks[].sse",
    "report.percentiles[]",
    "report.plots[]",
];

/// Records every key path of `v` (and the value forms named in [`KEYS`]).
fn walk(v: &serde_yaml::Value, path: &str, out: &mut BTreeSet<String>) {
    use serde_yaml::Value;
    match v {
        Value::Mapping(m) => {
            for (k, v) in m {
                let k = k.as_str().unwrap();
                let p = if path.is_empty() {
                    k.to_owned()
                } else {
                    format!("{path}.{k}")
                };
                out.insert(p.clone());
                walk(v, &p, out);
            }
        }
        Value::Sequence(items) => {
            let p = format!("{path}[]");
            out.insert(p.clone());
            for item in items {
                walk(item, &p, out);
            }
        }
        Value::Number(n) if n.is_u64() => {
            out.insert(format!("{path}=int"));
        }
        Value::String(s) => {
            out.insert(format!("{path}=str"));
            out.insert(format!("{path}={s}"));
        }
        _ => {}
    }
}

#[test]
fn generated_scenarios_are_valid_and_cover_every_key_and_scheme() {
    let registered = Registered::new();
    let cfg = generator(&registered);
    let known = registered.known();
    let mut keys = BTreeSet::new();
    let mut schemes = BTreeSet::new();
    let (mut rooms_of_one, mut rooms_of_two, mut offline, mut conventional) = (0, 0, 0, 0);
    for index in 0..300 {
        let s = fuzz::draw(&cfg, 7, index);
        let yaml = s.to_yaml();
        let loaded = fuzz::load(&s, Path::new("generated.yaml"), &known)
            .unwrap_or_else(|e| panic!("scenario {index} does not validate: {e}\n{yaml}"));
        assert_eq!(loaded.seed, s.seed);
        assert!((20..=60).contains(&loaded.org.users), "{yaml}");
        walk(&serde_yaml::from_str(&yaml).unwrap(), "", &mut keys);
        for st in &loaded.stacks {
            schemes.insert(format!("kd:{}", st.kd));
            schemes.insert(format!("pre:{}", st.pre));
            schemes.insert(format!("sse:{}", st.sse));
            if st.name() == "conventional+none+plaintext" {
                conventional += 1;
            }
        }
        if s.departments == Some(s.users) {
            rooms_of_one += 1;
        }
        if s.rooms.iter().any(|r| {
            matches!(
                r.kind,
                GenRoomKind::Project {
                    size: GenRoomSize::Fixed(2),
                    ..
                }
            )
        }) {
            rooms_of_two += 1;
        }
        if s.login
            .as_ref()
            .is_some_and(|l| l.online_tenths.is_some_and(|t| t < 10))
        {
            offline += 1;
        }
    }
    let missing: Vec<&&str> = KEYS.iter().filter(|k| !keys.contains(**k)).collect();
    assert!(missing.is_empty(), "keys never generated: {missing:?}");
    for (family, key) in [
        (Family::KeyDistribution, "kd"),
        (Family::History, "pre"),
        (Family::Search, "sse"),
    ] {
        for name in registry::names(family) {
            assert!(
                schemes.contains(&format!("{key}:{name}")),
                "{key} scheme {name} never drawn"
            );
        }
    }
    assert!(rooms_of_one > 0 && rooms_of_two > 10 && offline > 100 && conventional > 10);
}

/// About one scenario in three has 2 or 3 organisations within the user budget, at least one
/// mutually trusting pair, single- and cross-organisation room groups (cross-organisation ones
/// only between organisations that trust each other), and reorganisations inside one
/// organisation; a key period, when drawn, ends inside the run.
#[test]
fn organisations_and_key_periods_are_generated() {
    let registered = Registered::new();
    let cfg = generator(&registered);
    let known = registered.known();
    let (mut multi, mut three, mut cross, mut single_org_groups, mut periods) = (0, 0, 0, 0, 0);
    let mut reorgs = 0;
    for index in 0..300 {
        let s = fuzz::draw(&cfg, 23, index);
        let yaml = s.to_yaml();
        let loaded = fuzz::load(&s, Path::new("generated.yaml"), &known)
            .unwrap_or_else(|e| panic!("scenario {index} does not validate: {e}\n{yaml}"));
        let org = &loaded.org;
        assert!((20..=60).contains(&org.users), "{yaml}");
        if let Some(p) = s.key_period_s {
            periods += 1;
            assert!(p * 4 >= s.duration_s && p <= s.duration_s, "{yaml}");
            assert_eq!(loaded.policy.key_period, p * 1_000_000_000);
        }
        let n = org.organisations.len();
        if n == 1 {
            continue;
        }
        multi += 1;
        assert!(n <= 3, "{yaml}");
        three += usize::from(n == 3);
        assert!(org.organisations.iter().all(|o| o.users >= 2), "{yaml}");
        let pairs = (0..n as u16).flat_map(|a| (a + 1..n as u16).map(move |b| (a, b)));
        assert!(
            pairs.clone().any(|(a, b)| org.mutually_trusted(a, b)),
            "no mutually trusting pair: {yaml}"
        );
        for g in &org.rooms {
            if g.orgs.len() == 1 {
                single_org_groups += 1;
            }
            if g.orgs.len() > 1 && g.kind != conclave_sim::scenario::RoomKind::Department {
                cross += 1;
                for &a in &g.orgs {
                    for &b in &g.orgs {
                        assert!(org.mutually_trusted(a, b), "{yaml}");
                    }
                }
            }
        }
        for e in &loaded.workload.churn.events {
            if let conclave_sim::scenario::ScheduledKind::Reorg { from, to, .. } = e.kind {
                reorgs += 1;
                assert_eq!(
                    org.organisation_of_department(from),
                    org.organisation_of_department(to),
                    "{yaml}"
                );
            }
        }
    }
    assert!(
        (70..=130).contains(&multi),
        "{multi} of 300 with organisations"
    );
    assert!(three > 10 && cross > 20 && single_org_groups > 20 && reorgs > 5);
    assert!(
        (60..=120).contains(&periods),
        "{periods} of 300 with a key period"
    );
}

/// A synthetic vocabulary smaller than the default keywords per message comes with a per-message
/// count that fits it: without one, the default did not fit and the scenario did not validate
/// (`conclave fuzz --seed 91212`, scenario 64).
#[test]
fn small_vocabularies_get_a_per_message_count_that_fits() {
    let cfg = generator(&Registered::new());
    let mut small = 0;
    for index in 0..20_000 {
        let s = fuzz::draw(&cfg, 91212, index);
        if let Some(GenKeywords::Synthetic {
            vocabulary: Some(v),
            per_message,
            ..
        }) = s.keywords
        {
            if v < 8 {
                small += 1;
                assert!(
                    per_message.is_some_and(|n| n <= v),
                    "scenario {index}: vocabulary {v}, per_message {per_message:?}"
                );
            }
        }
    }
    assert!(small > 0, "no small vocabulary drawn");
}

#[test]
fn the_same_seed_draws_the_same_batch() {
    let registered = Registered::new();
    let cfg = generator(&registered);
    assert_eq!(fuzz::draw(&cfg, 3, 5), fuzz::draw(&cfg, 3, 5));
    assert_ne!(fuzz::draw(&cfg, 3, 5), fuzz::draw(&cfg, 3, 6));
    assert_ne!(fuzz::draw(&cfg, 3, 5), fuzz::draw(&cfg, 4, 5));
}

#[test]
fn stacks_are_drawn_from_the_given_list() {
    let registered = Registered::new();
    let mut cfg = generator(&registered);
    let only = conclave_sim::fuzz::generate::conventional_stack();
    cfg.stacks = vec![only.clone()];
    for i in 0..20 {
        assert_eq!(fuzz::draw(&cfg, 1, i).stacks, vec![only.clone()]);
    }
}

fn is_project(s: &FuzzScenario) -> bool {
    s.rooms
        .iter()
        .any(|r| matches!(r.kind, GenRoomKind::Project { .. }))
}

#[test]
fn the_shrinker_reaches_the_minimal_failing_scenario() {
    let registered = Registered::new();
    let cfg = generator(&registered);
    let known = registered.known();
    let fails = |s: &FuzzScenario| s.users >= 7 && is_project(s);
    // A big starting point: several stacks, groups and events.
    let start = (0..200)
        .map(|i| fuzz::draw(&cfg, 11, i))
        .find(|s| {
            fails(s)
                && s.rooms.len() >= 3
                && s.stacks.len() >= 2
                && s.churn.as_ref().is_some_and(|c| !c.events.is_empty())
        })
        .unwrap();
    let mut evaluated = 0;
    let out = shrink(
        start,
        Duration::from_secs(60),
        |s| fuzz::load(s, Path::new("shrunk.yaml"), &known).is_ok(),
        |s| {
            evaluated += 1;
            fails(s)
        },
    );
    assert!(!out.out_of_time);
    assert_eq!(out.tried, evaluated);
    let s = &out.scenario;
    assert_eq!(s.users, 7, "{}", s.to_yaml());
    assert_eq!(s.rooms.len(), 1);
    assert_eq!(
        s.rooms[0].kind,
        GenRoomKind::Project {
            count: 1,
            size: GenRoomSize::Fixed(2)
        }
    );
    assert_eq!(s.stacks.len(), 1);
    assert_eq!(s.duration_s, 60);
    assert!(s.churn.is_none() && s.departments.is_none() && s.clients.is_none());
    assert!(s.workers.is_none() && s.replicates.is_none() && s.report.is_none());
    assert!(s.rooms[0].preload.is_none() && s.rooms[0].admins.is_none());
    assert!(fuzz::load(s, Path::new("shrunk.yaml"), &known).is_ok());
}

/// A failure that needs two organisations sharing a room shrinks to two organisations of one
/// user each, trusting each other, and one cross-organisation room of two; one that does not
/// need them shrinks to a single organisation.
#[test]
fn the_shrinker_reduces_organisations() {
    let registered = Registered::new();
    let cfg = generator(&registered);
    let known = registered.known();
    let crossing = |s: &FuzzScenario| {
        s.organisations.len() >= 2
            && s.rooms
                .iter()
                .any(|r| r.orgs.as_ref().is_some_and(|o| o.len() >= 2))
    };
    let start = (0..300)
        .map(|i| fuzz::draw(&cfg, 17, i))
        .find(|s| s.organisations.len() == 3 && crossing(s) && s.rooms.len() >= 2)
        .unwrap();
    let valid = |s: &FuzzScenario| fuzz::load(s, Path::new("shrunk.yaml"), &known).is_ok();
    let out = shrink(start.clone(), Duration::from_secs(60), valid, crossing);
    let s = &out.scenario;
    assert!(!out.out_of_time);
    assert_eq!(s.organisations.len(), 2, "{}", s.to_yaml());
    assert!(
        s.organisations.iter().all(|o| o.users == 1),
        "{}",
        s.to_yaml()
    );
    assert!(s.mutually_trusted(0, 1));
    assert_eq!(s.rooms.len(), 1, "{}", s.to_yaml());
    assert_eq!(s.users, 2);
    assert!(valid(s));
    let single = shrink(start, Duration::from_secs(60), valid, |s| s.users >= 7);
    assert!(
        single.scenario.organisations.is_empty(),
        "{}",
        single.scenario.to_yaml()
    );
    assert_eq!(single.scenario.users, 7);
}

#[test]
fn numbers_are_blanked_in_failure_classes() {
    assert_eq!(
        check::blank_numbers("user 13 handling control traffic about room 2 at t=24.5 ms"),
        "user # handling control traffic about room # at t=# ms"
    );
}

fn fixture_calibration() -> PathBuf {
    manifest_dir().join("tests/fixtures/calibration.json")
}

#[test]
fn fuzz_runs_a_small_batch_and_prints_a_summary() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("fuzz");
    let o = conclave(&[
        "fuzz",
        "--count",
        "2",
        "--seed",
        "1",
        "--stacks",
        "conventional+none+plaintext",
        "--max-users",
        "20",
        "--calibration",
        fixture_calibration().to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        matches!(o.status.code(), Some(0 | 3)),
        "{stdout}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(stdout.contains("fuzz: 2 scenarios (seed 1), "), "{stdout}");
    assert!(stdout.contains("[1/2] seed "), "{stdout}");
    assert_eq!(
        std::fs::read(out.join("calibration.json")).unwrap(),
        std::fs::read(fixture_calibration()).unwrap()
    );
}

#[test]
fn fuzz_rejects_bad_arguments() {
    for args in [
        vec!["fuzz", "--stacks", "conventional+none"],
        vec!["fuzz", "--stacks", "mlss+none+plaintext"],
        vec!["fuzz", "--max-users", "1"],
        vec!["fuzz", "--time-limit", "soon"],
        vec!["fuzz", "--jobs", "0"],
        vec!["fuzz", "--count", "0"],
    ] {
        let o = conclave(&args);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

/// A copy of the smoke scenario with a second stack.
fn two_stack_scenario(dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(manifest_dir().join("../scenarios/ci-smoke.yaml")).unwrap();
    let text = text.replace(
        "stacks:\n  - conventional+none+plaintext\n",
        "stacks:\n  - conventional+none+plaintext\n  - pairwise-dh+none+plaintext\n",
    );
    assert!(text.contains("pairwise-dh+none+plaintext"));
    let path = dir.join("two-stacks.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn run_stack_runs_a_subset_and_writes_the_calibration_beside_the_report() {
    let tmp = tempfile::tempdir().unwrap();
    let file = two_stack_scenario(tmp.path());
    let out = tmp.path().join("r");
    let o = conclave(&[
        "run",
        file.to_str().unwrap(),
        "--stack",
        "conventional + none + plaintext",
        "--calibration",
        fixture_calibration().to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    let text = summary.to_string();
    assert!(text.contains("conventional+none+plaintext"));
    assert!(!text.contains("pairwise-dh"), "{text}");
    assert_eq!(
        std::fs::read(out.join("calibration.json")).unwrap(),
        std::fs::read(fixture_calibration()).unwrap()
    );

    let o = conclave(&[
        "run",
        file.to_str().unwrap(),
        "--stack",
        "mls+none+plaintext",
        "--out",
        tmp.path().join("x").to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("mls+none+plaintext"), "{stderr}");
    assert!(
        stderr.contains("conventional+none+plaintext, pairwise-dh+none+plaintext"),
        "{stderr}"
    );
}

#[test]
fn a_failed_run_prints_the_full_rerun_line_and_keeps_its_calibration() {
    // A table without the conventional key server's entry: what a scheme's server charges is
    // found only while the run charges it (the pre-flight check covers the client side), so the
    // run stops at the first membership change with an error naming the missing entry.
    let tmp = tempfile::tempdir().unwrap();
    let file = two_stack_scenario(tmp.path());
    let mut table: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fixture_calibration()).unwrap()).unwrap();
    table["entries"]
        .as_object_mut()
        .unwrap()
        .remove("conventional/server.handle")
        .unwrap();
    let partial = tmp.path().join("partial.json");
    std::fs::write(&partial, table.to_string()).unwrap();
    let out = tmp.path().join("r");
    let o = conclave(&[
        "run",
        file.to_str().unwrap(),
        "--stack",
        "conventional+none+plaintext",
        "--seed",
        "5",
        "--calibration",
        partial.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("conventional/server.handle") || stderr.contains("server.handle"),
        "{stderr}"
    );
    let beside = out.join("calibration.json");
    assert!(beside.is_file());
    assert!(!out.join("summary.json").exists(), "{stderr}");
    let rerun = stderr
        .lines()
        .find(|l| l.starts_with("rerun with: conclave run "))
        .unwrap_or_else(|| panic!("no rerun line: {stderr}"));
    for part in [
        file.to_str().unwrap(),
        " --seed 5",
        &format!(" --calibration {}", beside.display()),
        " --stack conventional+none+plaintext",
    ] {
        assert!(rerun.contains(part), "`{part}` missing from: {rerun}");
    }
}
