//! Several organisations and key periods end to end: every key-distribution scheme runs in a
//! scenario of two organisations with a joint room and key periods that roll over inside the run;
//! the oracle finds nothing, `sakke` terminals renew their keys at period starts and logins, and
//! the report says what each stack's authorities can do.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use conclave_schemes::registry::{self, Family};
use conclave_sim::cost::CalibrationTable;
use conclave_sim::metrics::{Op, Party, StackResult};
use conclave_sim::oracle::{Adversary, Verdict};
use conclave_sim::run::{self, Costing};
use conclave_sim::scenario::{self, KnownSchemes, ModelledSchemes, Scenario};

const SCENARIO: &str = include_str!("fixtures/two-organisations.yaml");

fn scenario() -> Scenario {
    let kd = registry::names(Family::KeyDistribution);
    let pre = registry::names(Family::History);
    let sse = registry::names(Family::Search);
    scenario::parse(
        SCENARIO,
        Path::new("two-organisations.yaml"),
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

fn results() -> Vec<StackResult> {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/calibration-full.json");
    let costing = Costing::Calibrated(CalibrationTable::load(&path).unwrap());
    let s = scenario();
    run::run(&s, &[s.seed], &costing, 2, &[]).unwrap()
}

fn verdict(r: &StackResult, a: Adversary) -> Verdict {
    r.security
        .adversary
        .get(&a)
        .map_or(Verdict::NotRun, |(v, _)| *v)
}

#[test]
fn every_key_distribution_scheme_runs_across_organisations_and_key_periods() {
    let results = results();
    assert_eq!(results.len(), 5);
    for r in &results {
        let name = r.stack.name();
        assert_eq!(r.security.violations(), 0, "{name}: {:?}", r.security);
        assert!(r.security.claimed_checks() > 0, "{name}");
        let renewals = r.ops.get(&Op::Renew).map_or(0, |s| s.count);
        let sakke = r.stack.kd == "sakke";
        if sakke {
            // Four period starts in 50 minutes, about half the users online at each.
            assert!(renewals >= 4, "{name}: {renewals} renewals");
            let kms = Party::ALL.iter().position(|p| *p == Party::Kms).unwrap();
            let kms_cpu: u64 = r.ops.values().map(|s| s.cpu_ns[kms]).sum();
            assert!(kms_cpu > 0, "{name}: the KMS was charged nothing");
        } else {
            assert_eq!(renewals, 0, "{name} renewed keys it does not have");
        }
        assert_eq!(r.security.notes.kms_can_derive, sakke, "{name}");
        let (kms, untrusted) = (
            verdict(r, Adversary::KmsPlusServers),
            verdict(r, Adversary::UntrustedKms),
        );
        if sakke {
            assert_eq!(kms, Verdict::Exposed, "{name}");
            assert_eq!(untrusted, Verdict::Safe, "{name}");
        } else {
            assert_eq!(kms, Verdict::NotApplicable, "{name}");
            assert_eq!(untrusted, Verdict::NotApplicable, "{name}");
        }
        let overheard = verdict(r, Adversary::RemovedMemberOverhears);
        assert!(
            matches!(overheard, Verdict::Safe | Verdict::Exposed),
            "{name}: {overheard:?}"
        );
    }
}
