//! End-to-end runs of the simulator: determinism, the trace's independence from the stack and
//! cost model, the plaintext search against the oracle, and a golden Table 1.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use conclave_schemes::registry::{self, Family};
use conclave_sim::cost::{CalibrationTable, CostModel};
use conclave_sim::engine::Engine;
use conclave_sim::metrics::Op;
use conclave_sim::oracle::Property;
use conclave_sim::report::{self, CalibrationInfo, RunReport};
use conclave_sim::run::{self, Costing};
use conclave_sim::scenario::{self, KnownSchemes, ModelledSchemes, Scenario};
use conclave_sim::workload::{Generator, Org};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn load(path: &Path) -> Scenario {
    let kd = registry::names(Family::KeyDistribution);
    let pre = registry::names(Family::History);
    let sse = registry::names(Family::Search);
    scenario::load(
        path,
        &KnownSchemes {
            kd: &kd,
            pre: &pre,
            sse: &sse,
            kd_rejoining: &["mls"],
            modelled: ModelledSchemes::NONE,
        },
    )
    .unwrap()
}

fn table() -> CalibrationTable {
    CalibrationTable::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/calibration.json"),
    )
    .unwrap()
}

fn report_of<'a>(s: &'a Scenario, costing: &Costing) -> RunReport<'a> {
    let stacks = run::run(s, &[s.seed], costing, 2, &[]).unwrap();
    RunReport {
        scenario: s,
        seeds: vec![s.seed],
        cost_model: s.cost_model,
        calibration: CalibrationInfo {
            source: "tests/fixtures/calibration.json".into(),
            sha256: None,
        },
        stacks,
        wall_seconds: 0.0,
    }
}

#[test]
fn calibrated_runs_are_byte_identical() {
    let s = load(&root().join("scenarios/ci-smoke.yaml"));
    let costing = Costing::Calibrated(table());
    let a = report_of(&s, &costing);
    let b = report_of(&s, &costing);
    assert_eq!(report::summary_json(&a), report::summary_json(&b));
    assert_eq!(report::table1_md(&a), report::table1_md(&b));
    assert_eq!(report::security_md(&a), report::security_md(&b));
    assert!(
        a.stacks[0].counters.events > 1000,
        "the smoke scenario should do real work"
    );
}

#[test]
fn trace_does_not_depend_on_the_stack_or_cost_model() {
    let s = load(&root().join("scenarios/ci-smoke.yaml"));
    let stack = &s.stacks[0];
    let measured = Engine::new(&s, stack, s.seed, CostModel::Measured { samples: None })
        .unwrap()
        .run(None)
        .unwrap();
    let calibrated = Engine::new(&s, stack, s.seed, CostModel::Calibrated(table()))
        .unwrap()
        .run(None)
        .unwrap();
    // The generator on its own, with no engine at all, emits the same trace.
    let mut g = Generator::new(&s, s.seed, &Org::build(&s, s.seed)).unwrap();
    for _ in g.by_ref() {}
    assert_eq!(measured.trace_sha256, calibrated.trace_sha256);
    assert_eq!(measured.trace_sha256, g.trace_sha256());
    // Another stack replays exactly the same workload.
    let mut secured = stack.clone();
    secured.kd = "pairwise-dh".to_owned();
    let other_stack = Engine::new(&s, &secured, s.seed, CostModel::Measured { samples: None })
        .unwrap()
        .run(None)
        .unwrap();
    assert_eq!(other_stack.trace_sha256, measured.trace_sha256);
    assert_eq!(other_stack.counters.messages, measured.counters.messages);
    let other = Engine::new(&s, stack, s.seed + 1, CostModel::Calibrated(table()))
        .unwrap()
        .run(None)
        .unwrap();
    assert_ne!(
        other.trace_sha256, measured.trace_sha256,
        "another seed is another trace"
    );
}

#[test]
fn plaintext_search_matches_the_oracle_and_members_read() {
    let s = load(&root().join("scenarios/ci-smoke.yaml"));
    let r = run::run(
        &s,
        &[s.seed, s.seed + 1],
        &Costing::Calibrated(table()),
        2,
        &[],
    )
    .unwrap();
    let sec = &r[0].security;
    let search = &sec.properties[&Property::SearchMatchesOracle];
    assert!(
        search.checks >= 50,
        "too few searches checked: {}",
        search.checks
    );
    assert_eq!(search.failures, 0, "{:?}", search.first_failure);
    let read = &sec.properties[&Property::MembersRead];
    assert!(read.checks >= 500);
    assert_eq!(read.failures, 0, "{:?}", read.first_failure);
    assert_eq!(sec.violations(), 0);
    // The conventional stack is exposed by design, and the oracle must say so.
    for p in [
        Property::ServerBlindToMessages,
        Property::ServerBlindToKeywords,
        Property::KeyServerBlind,
    ] {
        let o = &sec.properties[&p];
        assert!(!o.claimed && o.failures > 0, "{p:?}: {o:?}");
    }
    for op in [
        Op::Login,
        Op::Send,
        Op::Receive,
        Op::Search,
        Op::Join,
        Op::Leave,
    ] {
        assert!(
            r[0].ops.get(&op).is_some_and(|o| o.count > 0),
            "no samples of {op:?}"
        );
    }
}

#[test]
fn golden_table1_of_a_tiny_scenario() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let s = load(&dir.join("tiny.yaml"));
    let got = report::table1_md(&report_of(&s, &Costing::Calibrated(table())));
    let path = dir.join("tiny-table1.md");
    if std::env::var_os("CONCLAVE_UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &got).unwrap();
    }
    let want = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        got, want,
        "table1.md changed; if deliberate, rerun with CONCLAVE_UPDATE_GOLDEN=1"
    );
}

/// Every history and search scheme, with every key-distribution scheme but the conventional
/// one, end to end: no oracle violation, re-encryption and history happen, and the adversary
/// experiments give the verdicts the schemes' documentation claims.
#[test]
fn secured_stacks_pass_the_oracle() {
    use conclave_sim::oracle::{Adversary, Verdict};
    let s = load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/secured.yaml"));
    let results = run::run(&s, &[s.seed], &Costing::Measured, 2, &[]).unwrap();
    assert_eq!(results.len(), s.stacks.len());
    for r in &results {
        let name = r.stack.name();
        let sec = &r.security;
        for (p, o) in &sec.properties {
            assert!(
                !o.claimed || o.failures == 0,
                "{name}: {p:?} violated: {:?}",
                o.first_failure
            );
        }
        assert!(
            sec.properties[&Property::SearchMatchesOracle].checks >= 20,
            "{name}: too few searches checked"
        );
        for op in [Op::Reencrypt, Op::History, Op::Search, Op::Join, Op::Leave] {
            assert!(
                r.ops.get(&op).is_some_and(|o| o.count > 0),
                "{name}: no samples of {op:?}"
            );
        }
        assert!(r.counters.preloaded >= 40, "{name}: preload missing");
        let verdict = |a: Adversary| sec.adversary.get(&a).map(|(v, _)| *v);
        // The message server's re-keys turn a removed member's key into the new one for
        // BBS98 and keyhom (unless Sender Keys protects every message on top).
        let collusion_exposed =
            (r.stack.pre == "bbs98" || r.stack.pre == "keyhom") && r.stack.kd != "sender-keys";
        let expected = if collusion_exposed {
            Verdict::Exposed
        } else {
            Verdict::Safe
        };
        assert_eq!(
            verdict(Adversary::ServerPlusRemovedMember),
            Some(expected),
            "{name}: server plus removed member"
        );
    }
}

/// A storage breach with an old epoch's key opens stored history exactly where the history
/// scheme does not claim to re-key it: under `from_join` for the schemes that re-key only
/// history a room shares, everywhere for those that never re-key; the explanation says which.
#[test]
fn storage_breach_follows_the_rotation_claim_of_the_policy() {
    use conclave_sim::oracle::{Adversary, Verdict};
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/secured.yaml"),
    )
    .unwrap();
    let stacks = "stacks:\n  - pairwise-dh+bbs98+plaintext\n  - pairwise-dh+epoch-keys+plaintext\n";
    let base = format!("{}{stacks}", &text[..text.find("stacks:").unwrap()]);
    for (policy, bbs98) in [("shared", Verdict::Safe), ("from_join", Verdict::Exposed)] {
        let yaml = base
            .replace("history: shared", &format!("history: {policy}"))
            .replace("cost_model: measured", "cost_model: calibrated");
        let dir = std::env::temp_dir().join(format!("conclave-breach-{policy}"));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("breach.yaml");
        std::fs::write(&path, yaml).unwrap();
        let s = load(&path);
        let full = CalibrationTable::load(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/calibration-full.json"),
        )
        .unwrap();
        let results = run::run(&s, &[s.seed], &Costing::Calibrated(full), 2, &[]).unwrap();
        for r in &results {
            let (verdict, why) = &r.security.adversary[&Adversary::StorageBreachOldKey];
            let (want, because) = if r.stack.pre == "bbs98" {
                (bbs98, "this room's is from_join")
            } else {
                (Verdict::Exposed, "never re-keys stored history")
            };
            assert_eq!(*verdict, want, "{policy}, {}: {why}", r.stack.name());
            if want == Verdict::Exposed {
                assert!(why.contains(because), "{policy}, {}: {why}", r.stack.name());
            }
        }
    }
}

/// The active-server experiments give each stack the verdicts its design predicts: the
/// conventional stack (the key server holds the epoch secret, records are plaintext) is
/// exposed to forgery and splicing; authenticated records (afgh-hybrid, bbs98) are safe from
/// both, and their servers refuse an impostor's re-key; keyhom, which re-protects shared
/// history, has earlier versions of its records for a rollback, which members do not detect.
#[test]
fn active_server_verdicts_follow_each_stacks_design() {
    use conclave_sim::oracle::{Adversary, Verdict};
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/secured.yaml"),
    )
    .unwrap();
    let stacks = "stacks:\n  - conventional+none+plaintext\n  - pairwise-dh+afgh-hybrid+rekey-index\n  - pairwise-dh+bbs98+per-epoch\n  - pairwise-dh+keyhom+plaintext\n  - mkd+none+plaintext\n";
    let yaml = format!("{}{stacks}", &text[..text.find("stacks:").unwrap()])
        .replace("cost_model: measured", "cost_model: calibrated");
    let dir = std::env::temp_dir().join("conclave-active-server");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("active.yaml");
    std::fs::write(&path, yaml).unwrap();
    let s = load(&path);
    let full = CalibrationTable::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/calibration-full.json"),
    )
    .unwrap();
    let results = run::run(&s, &[s.seed], &Costing::Calibrated(full), 2, &[]).unwrap();
    // Each stack is found by the one scheme of it that the verdicts are about.
    let expect: [(&str, &[(Adversary, Verdict)]); 5] = [
        (
            "conventional",
            &[
                (Adversary::ForgedRecord, Verdict::Exposed),
                (Adversary::Splice, Verdict::Exposed),
                (Adversary::Rollback, Verdict::NotApplicable),
            ],
        ),
        (
            "afgh-hybrid",
            &[
                (Adversary::ForgedRecord, Verdict::Safe),
                (Adversary::Splice, Verdict::Safe),
                (Adversary::HostileRekey, Verdict::Safe),
                (Adversary::KdSubstitution, Verdict::Safe),
                (Adversary::Rollback, Verdict::NotApplicable),
            ],
        ),
        (
            "bbs98",
            &[
                (Adversary::ForgedRecord, Verdict::Safe),
                (Adversary::Splice, Verdict::Safe),
                (Adversary::HostileRekey, Verdict::Safe),
            ],
        ),
        ("keyhom", &[(Adversary::Rollback, Verdict::Exposed)]),
        // The key server's share substitution (research/mkd.md): its blindness is passive only.
        ("mkd", &[(Adversary::KdSubstitution, Verdict::Exposed)]),
    ];
    for (scheme, verdicts) in expect {
        let r = results
            .iter()
            .find(|r| r.stack.name().split('+').any(|part| part == scheme))
            .unwrap_or_else(|| panic!("no stack with {scheme}"));
        for (a, want) in verdicts {
            let (got, why) = &r.security.adversary[a];
            assert_eq!(got, want, "{}, {}: {why}", r.stack.name(), a.name());
        }
    }
}
