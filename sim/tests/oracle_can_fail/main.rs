//! The security oracle can fail: six deliberately broken schemes, registered only here, each a
//! thin wrapper over a registered scheme and claiming what that scheme claims. Five make a run
//! of a small scenario (`scenario.yaml`) end with exactly the property they break violated and
//! the exit status of a violation, while the same scenario over the wrapped scheme is clean;
//! the sixth, a server that takes re-keying traffic from anyone, turns the active-member
//! experiment from safe to exposed. Registered without models, they are also what the `model`
//! cost mode refuses by name, every built-in scheme having a model.

#![allow(clippy::unwrap_used)]

mod broken_history;
mod broken_kd;
mod broken_rekey;
mod broken_search;

use std::path::{Path, PathBuf};

use conclave_schemes::registry::{Family, Registry};
use conclave_sim::cost::{CalibrationTable, CostModel};
use conclave_sim::engine::Engine;
use conclave_sim::fuzz::Registered;
use conclave_sim::metrics::StackResult;
use conclave_sim::oracle::Verdict;
use conclave_sim::run::{self, Costing, RunOutcome, EXIT_VIOLATION};
use conclave_sim::scenario::{self, CostModelKind, Scenario};
use rand::SeedableRng;

use broken_history::StoresCleartext;
use broken_kd::{Diverges, LeaksToRemoved};
use broken_rekey::TakesAnyRekey;
use broken_search::{AddsOne, DropsOne, Miscounts};

/// Each broken scheme, its family and the registered scheme it wraps.
const WRAPS: [(Family, &str, &str); 6] = [
    (
        Family::KeyDistribution,
        "broken-leaks-to-removed",
        "pairwise-dh",
    ),
    (Family::KeyDistribution, "broken-diverges", "pairwise-dh"),
    (Family::History, "broken-stores-cleartext", "epoch-keys"),
    (Family::History, "broken-takes-any-rekey", "epoch-keys"),
    (Family::Search, "broken-adds-result", "per-epoch"),
    (Family::Search, "broken-drops-result", "per-epoch"),
];

fn registry() -> Registry {
    Registry::builtin()
        .with_kd::<LeaksToRemoved>()
        .unwrap()
        .with_kd::<Diverges>()
        .unwrap()
        .with_history::<StoresCleartext>()
        .unwrap()
        .with_history::<TakesAnyRekey>()
        .unwrap()
        .with_sse::<Miscounts<AddsOne>>()
        .unwrap()
        .with_sse::<Miscounts<DropsOne>>()
        .unwrap()
}

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn scenario_path() -> PathBuf {
    manifest_dir().join("tests/oracle_can_fail/scenario.yaml")
}

fn load(registry: &Registry) -> Scenario {
    scenario::load(
        &scenario_path(),
        &Registered::from_registry(registry).known(),
    )
    .unwrap()
}

/// The committed table, with each broken scheme charged as the scheme it wraps (a wrapper's
/// extra work is not what these tests measure).
fn table() -> CalibrationTable {
    let full = CalibrationTable::load(&manifest_dir().join("tests/fixtures/calibration-full.json"))
        .unwrap();
    let mut entries = full.entries.clone();
    for (_, broken, wrapped) in WRAPS {
        let prefix = format!("{wrapped}/");
        for (key, points) in &full.entries {
            if let Some(op) = key.strip_prefix(&prefix) {
                entries.insert(format!("{broken}/{op}"), points.clone());
            }
        }
    }
    CalibrationTable::new(full.cpu_model.clone(), entries)
}

/// The scenario run with only `stack`: its result.
fn run_only(stack: &str) -> StackResult {
    let registry = registry();
    let scenario = run::select_stacks(&load(&registry), &[stack.to_owned()]).unwrap();
    let table = table();
    table
        .check_covers(&scenario_path(), &scenario.stacks, &registry, false)
        .unwrap();
    let mut results = run::run_with(
        &registry,
        &scenario,
        &[scenario.seed],
        &Costing::Calibrated(table),
        1,
        &[],
    )
    .unwrap_or_else(|e| panic!("{stack}: {e}"));
    assert_eq!(results.len(), 1);
    results.remove(0)
}

/// `broken` violates exactly `property` (exit status 3), and `control`, the same stack over
/// the wrapped scheme, claims it, checks it and is clean (exit status 0). Returns the first
/// failure's description.
fn breaks_exactly(broken: &str, control: &str, property: &str) -> String {
    let control_result = run_only(control);
    let clean = RunOutcome::of(std::slice::from_ref(&control_result));
    assert_eq!(clean, RunOutcome::Clean, "control {control}");
    assert_eq!(clean.exit_code(), 0);
    let (_, checked) = control_result
        .security
        .properties
        .iter()
        .find(|(p, _)| p.name() == property)
        .unwrap();
    assert!(
        checked.claimed && checked.checks > 0,
        "control {control}: {checked:?}"
    );

    let outcome = RunOutcome::of(&[run_only(broken)]);
    assert_eq!(outcome.exit_code(), EXIT_VIOLATION, "{broken}: {outcome:?}");
    assert_eq!(outcome.violated(), [property], "{broken}: {outcome:?}");
    let RunOutcome::Violations(violations) = outcome else {
        unreachable!("exit status 3 is only given for violations")
    };
    let v = &violations[0];
    assert_eq!(v.stack, broken);
    assert!(v.failures > 0);
    let shown = v.to_string();
    assert!(
        shown.starts_with(&format!("{broken}: {property} violated ")),
        "{shown}"
    );
    v.first.clone()
}

#[test]
fn a_removed_member_given_the_new_secret_violates_removed_excluded() {
    let first = breaks_exactly(
        "broken-leaks-to-removed+epoch-keys+plaintext",
        "pairwise-dh+epoch-keys+plaintext",
        "removed_excluded",
    );
    assert!(
        first.contains("that key distribution sent it after its removal"),
        "{first}"
    );
}

#[test]
fn members_on_different_secrets_violate_members_read() {
    let first = breaks_exactly(
        "broken-diverges+epoch-keys+plaintext",
        "pairwise-dh+epoch-keys+plaintext",
        "members_read",
    );
    assert!(first.contains("disagrees on the epoch secret"), "{first}");
}

#[test]
fn a_body_stored_in_the_clear_violates_server_blind_to_messages() {
    let first = breaks_exactly(
        "pairwise-dh+broken-stores-cleartext+plaintext",
        "pairwise-dh+epoch-keys+plaintext",
        "server_blind_to_messages",
    );
    assert!(first.contains("canary plaintext"), "{first}");
}

#[test]
fn a_search_with_an_extra_result_violates_search_matches_oracle() {
    breaks_exactly(
        "pairwise-dh+epoch-keys+broken-adds-result",
        "pairwise-dh+epoch-keys+per-epoch",
        "search_matches_oracle",
    );
}

#[test]
fn a_search_missing_a_result_violates_search_matches_oracle() {
    breaks_exactly(
        "pairwise-dh+epoch-keys+broken-drops-result",
        "pairwise-dh+epoch-keys+per-epoch",
        "search_matches_oracle",
    );
}

/// The verdict and explanation of experiment `name` in a result.
fn verdict(result: &StackResult, name: &str) -> (Verdict, String) {
    result
        .security
        .adversary
        .iter()
        .find(|(a, _)| a.name() == name)
        .map(|(_, v)| v.clone())
        .unwrap()
}

#[test]
fn a_server_taking_anyones_rekey_is_exposed_to_a_hostile_rekey() {
    let (control, why) = verdict(
        &run_only("pairwise-dh+epoch-keys+plaintext"),
        "hostile_rekey",
    );
    assert_eq!(control, Verdict::Safe, "{why}");
    assert!(why.contains("refused"), "{why}");
    let broken = run_only("pairwise-dh+broken-takes-any-rekey+plaintext");
    let (v, why) = verdict(&broken, "hostile_rekey");
    assert_eq!(v, Verdict::Exposed, "{why}");
    assert!(why.contains("took"), "{why}");
    // The flaw is one of trust, not of the run: every claimed property still holds.
    assert_eq!(RunOutcome::of(&[broken]), RunOutcome::Clean);
}

#[test]
fn broken_schemes_claim_what_they_wrap_and_exist_only_where_registered() {
    let registry = registry();
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(0);
    for (family, broken, wrapped) in WRAPS {
        assert!(registry.names(family).contains(&broken));
        assert!(!Registry::builtin().names(family).contains(&broken));
        match family {
            Family::KeyDistribution => assert_eq!(
                registry.kd(broken, &mut rng).unwrap().properties(),
                registry.kd(wrapped, &mut rng).unwrap().properties()
            ),
            Family::History => assert_eq!(
                registry.history(broken).unwrap().properties(),
                registry.history(wrapped).unwrap().properties()
            ),
            Family::Search => assert_eq!(
                registry.sse(broken).unwrap().properties(),
                registry.sse(wrapped).unwrap().properties()
            ),
        }
    }
    // Without the test's registry, the scenario's broken stacks are unknown names.
    let refused = scenario::load(&scenario_path(), &Registered::new().known()).unwrap_err();
    assert!(
        refused.to_string().contains("broken-leaks-to-removed"),
        "{refused}"
    );
    // And a name cannot be registered twice.
    assert!(registry.with_sse::<Miscounts<DropsOne>>().is_err());
}

/// A scheme registered without a model (each broken one) is refused under `cost_model: model`
/// by validation, which names it and what can run (every built-in scheme, `sakke` included),
/// and by the engine for a caller that skips validation; a stack of built-in schemes is not.
#[test]
fn a_scheme_without_a_model_is_refused_by_name_under_the_model_cost_mode() {
    let registry = registry();
    let registered = Registered::from_registry(&registry);
    let text = std::fs::read_to_string(scenario_path()).unwrap();
    let parse = |sets: &[(&str, &str)]| {
        let sets: Vec<(String, String)> = sets
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        scenario::parse_with(&text, &scenario_path(), &registered.known(), &sets)
    };
    let err = parse(&[
        ("cost_model", "model"),
        (
            "stacks",
            "[sakke+epoch-keys+plaintext, broken-diverges+epoch-keys+plaintext]",
        ),
    ])
    .unwrap_err()
    .to_string();
    assert!(err.contains("cost_model"), "{err}");
    assert!(err.contains("`broken-diverges` has no model"), "{err}");
    assert!(err.contains("pairwise-dh"), "names what can run: {err}");
    assert!(err.contains("sakke"), "names what can run: {err}");
    for (family, broken, _) in WRAPS {
        assert!(!registry.modelled(family).contains(&broken), "{broken}");
    }
    let ok = parse(&[
        ("cost_model", "model"),
        ("stacks", "[sakke+epoch-keys+plaintext]"),
    ])
    .unwrap();
    assert_eq!(ok.cost_model, CostModelKind::Model);
    let s = parse(&[("stacks", "[broken-diverges+epoch-keys+plaintext]")]).unwrap();
    let refused = Engine::with_registry(
        &registry,
        &s,
        &s.stacks[0],
        s.seed,
        CostModel::Model(table()),
    );
    let err = refused.err().unwrap().to_string();
    assert!(err.contains("no model"), "{err}");
}
