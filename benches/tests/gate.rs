//! The regression gate's cases: every registered scheme has them, their names are unique, and
//! each runs and reports the bytes it sent.

use std::collections::BTreeSet;

use conclave_benches::gate;
use conclave_schemes::registry::{self, Family};

#[test]
fn every_registered_scheme_has_cases_with_unique_names() {
    let cases = gate::cases();
    let names: BTreeSet<&str> = cases.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names.len(), cases.len(), "case names repeat");
    for (family, prefix) in [
        (Family::KeyDistribution, "kd"),
        (Family::History, "pre"),
        (Family::Search, "sse"),
    ] {
        for scheme in registry::names(family) {
            let prefix = format!("{prefix}/{scheme}/");
            let ops: BTreeSet<&str> = names
                .iter()
                .filter_map(|n| n.strip_prefix(prefix.as_str()))
                .filter_map(|rest| rest.split('/').next())
                .collect();
            assert!(ops.len() >= 3, "{prefix}: operations {ops:?}");
        }
    }
    assert!(names.iter().any(|n| n.starts_with("engine/")));
}

#[test]
fn every_case_runs_and_reports_its_bytes() {
    for case in gate::cases() {
        let ran = (case.prepare)().run();
        assert!(!ran.bytes.is_empty(), "{}: no bytes reported", case.name);
        // Only a re-keying may send nothing (schemes without re-keying traffic).
        if !case.name.contains("/rekey/") {
            assert!(
                ran.bytes.values().any(|&b| b > 0),
                "{}: sent nothing: {:?}",
                case.name,
                ran.bytes
            );
        }
    }
}
