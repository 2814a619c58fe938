//! The `model` cost mode: a run whose schemes run as their models, without cryptography, renders
//! the `summary.json` the calibrated run renders, in one organisation and across two with key
//! periods; every built-in scheme has a model (the refusal of a scheme registered without one
//! is tested in `oracle_can_fail`, whose broken schemes have none).

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use conclave_sim::cost::{CalibrationTable, CostModel};
use conclave_sim::engine::Engine;
use conclave_sim::fuzz::Registered;
use conclave_sim::report::{self, CalibrationInfo, RunReport};
use conclave_sim::run::{self, Costing};
use conclave_sim::scenario::{self, CostModelKind, Scenario};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `scenarios/ci-smoke.yaml` with `sets` applied, validated against the built-in registry.
fn smoke(sets: &[(&str, &str)]) -> Result<Scenario, String> {
    parse(&root().join("scenarios/ci-smoke.yaml"), sets)
}

/// The scenario at `path` with `sets` applied, validated against the built-in registry.
fn parse(path: &Path, sets: &[(&str, &str)]) -> Result<Scenario, String> {
    let text = std::fs::read_to_string(path).unwrap();
    let sets: Vec<(String, String)> = sets
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    scenario::parse_with(&text, path, &Registered::new().known(), &sets).map_err(|e| e.to_string())
}

fn table() -> CalibrationTable {
    CalibrationTable::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/calibration-full.json"),
    )
    .unwrap()
}

/// Every document of a run of `s`; the report names one cost model whatever ran, so that the
/// two modes' documents compare byte for byte.
fn documents(s: &Scenario, costing: &Costing) -> [String; 3] {
    let stacks = run::run(s, &[s.seed], costing, 2, &[]).unwrap();
    let r = RunReport {
        scenario: s,
        seeds: vec![s.seed],
        cost_model: CostModelKind::Calibrated,
        calibration: CalibrationInfo {
            source: "tests/fixtures/calibration-full.json".into(),
            sha256: None,
        },
        stacks,
        wall_seconds: 0.0,
    };
    [
        report::summary_json(&r),
        report::table1_md(&r),
        report::security_md(&r),
    ]
}

#[test]
fn a_model_run_renders_what_the_calibrated_run_renders() {
    for policy in ["shared", "from_join"] {
        let s = smoke(&[
            (
                "stacks",
                "[conventional+none+plaintext, pairwise-dh+none+plaintext, sender-keys+none+plaintext, pairwise-dh+epoch-keys+per-epoch, pairwise-dh+bbs98+plaintext, conventional+keyhom+per-epoch, pairwise-dh+afgh+plaintext, sender-keys+afgh-hybrid+per-epoch, mls+none+plaintext, pairwise-dh+client-rewrap+mitra, sender-keys+client-rewrap+plaintext, mkd+none+plaintext, mkd+epoch-keys+per-epoch, pairwise-dh+none+rekey-index, sender-keys+afgh+rekey-index, sakke+none+plaintext]",
            ),
            ("policy.history", policy),
        ])
        .unwrap();
        let calibrated = documents(&s, &Costing::Calibrated(table()));
        let modelled = documents(&s, &Costing::Model(table()));
        for (c, m) in calibrated.iter().zip(&modelled) {
            assert!(c == m, "policy {policy}: the model run differs");
        }
    }
}

/// Two organisations that trust each other, a joint room and key periods rolling over inside the
/// run: `sakke`'s KMSs issue and its terminals renew keys, I_MESSAGEs cross organisations, and
/// the model run renders what the calibrated run renders.
#[test]
fn a_model_run_across_organisations_and_key_periods_renders_the_calibrated_run() {
    let s = parse(
        &root().join("sim/tests/fixtures/two-organisations.yaml"),
        &[(
            "stacks",
            "[sakke+none+plaintext, sakke+afgh-hybrid+rekey-index, mkd+epoch-keys+per-epoch]",
        )],
    )
    .unwrap();
    assert_eq!(s.org.organisations.len(), 2);
    let calibrated = documents(&s, &Costing::Calibrated(table()));
    let modelled = documents(&s, &Costing::Model(table()));
    for (c, m) in calibrated.iter().zip(&modelled) {
        assert!(c == m, "the model run across organisations differs");
    }
    assert!(calibrated[0].contains("sakke+afgh-hybrid+rekey-index"));
}

/// Every built-in scheme has a model, so no built-in stack is refused under `cost_model: model`
/// and the engine builds a `sakke` stack as its model.
#[test]
fn every_built_in_scheme_can_run_as_a_model() {
    let registered = Registered::new();
    let known = registered.known();
    for (modelled, all) in [
        (known.modelled.kd, known.kd),
        (known.modelled.pre, known.pre),
        (known.modelled.sse, known.sse),
    ] {
        let (mut modelled, mut all) = (modelled.to_vec(), all.to_vec());
        modelled.sort_unstable();
        all.sort_unstable();
        assert_eq!(modelled, all);
    }
    let s = smoke(&[
        ("cost_model", "model"),
        (
            "stacks",
            "[pairwise-dh+none+plaintext, sakke+afgh-hybrid+rekey-index]",
        ),
    ])
    .unwrap();
    assert_eq!(s.cost_model, CostModelKind::Model);
    assert!(s
        .stacks
        .iter()
        .all(|st| known.modelled.refusal(st).is_none()));
    assert!(Engine::new(&s, &s.stacks[1], s.seed, CostModel::Model(table())).is_ok());
}

#[test]
fn the_security_report_of_a_model_run_says_what_was_not_checked() {
    let s = smoke(&[
        ("cost_model", "model"),
        ("stacks", "[pairwise-dh+none+plaintext]"),
    ])
    .unwrap();
    let stacks = run::run(&s, &[s.seed], &Costing::Model(table()), 1, &[]).unwrap();
    let report = |cost_model| {
        report::security_md(&RunReport {
            scenario: &s,
            seeds: vec![s.seed],
            cost_model,
            calibration: CalibrationInfo {
                source: "tests/fixtures/calibration-full.json".into(),
                sha256: None,
            },
            stacks: stacks.clone(),
            wall_seconds: 0.0,
        })
    };
    let model = report(CostModelKind::Model);
    assert!(model.contains("its schemes ran as their models"), "{model}");
    assert!(model.contains("Not checked by cryptography"), "{model}");
    assert!(!report(CostModelKind::Calibrated).contains("ran as their models"));
}

/// The whole of `paper-table1.yaml`, every one of whose schemes has a model, run as models and
/// charged from the table its committed reference report was charged from, renders that
/// reference's `summary.json` (a `calibrated` run) byte for byte but for the cost model it names.
#[test]
fn paper_table1_as_models_renders_its_calibrated_reference() {
    let path = root().join("scenarios/paper-table1.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let s = scenario::parse_with(&text, &path, &Registered::new().known(), &[]).unwrap();
    let reference = root().join("reports/reference/paper-table1");
    let table = CalibrationTable::load(&reference.join("calibration.json")).unwrap();
    let seeds: Vec<u64> = (0..u64::from(s.replicates))
        .map(|k| s.seed.wrapping_add(k))
        .collect();
    let stacks = run::run(&s, &seeds, &Costing::Model(table), 2, &[]).unwrap();
    let r = RunReport {
        scenario: &s,
        seeds,
        cost_model: CostModelKind::Calibrated,
        calibration: CalibrationInfo {
            source: "reports/reference/paper-table1/calibration.json".into(),
            sha256: None,
        },
        stacks,
        wall_seconds: 0.0,
    };
    let expected = std::fs::read_to_string(reference.join("summary.json")).unwrap();
    assert!(
        report::summary_json(&r) == expected,
        "the model run of paper-table1 differs from reports/reference/paper-table1/summary.json"
    );
}
