//! Censored operations: ops still in flight when a run ends are counted as `incomplete`,
//! workload actions a stack dropped as `skipped` with their reason, and every trace action of an
//! op is accounted for exactly once (completed, incomplete or skipped).

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use conclave_schemes::registry::{self, Family};
use conclave_sim::cost::CalibrationTable;
use conclave_sim::metrics::{Op, SkipReason, StackResult};
use conclave_sim::report::{self, CalibrationInfo, RunReport};
use conclave_sim::run::{self, Costing};
use conclave_sim::scenario::{self, KnownSchemes, ModelledSchemes, Scenario};
use conclave_sim::workload::{Generator, Org};

fn parse(text: &str) -> Scenario {
    let kd = registry::names(Family::KeyDistribution);
    let pre = registry::names(Family::History);
    let sse = registry::names(Family::Search);
    scenario::parse(
        text,
        Path::new("censored.yaml"),
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

fn costing() -> Costing {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../reports/reference/paper-table1/calibration.json");
    Costing::Calibrated(CalibrationTable::load(&path).unwrap())
}

fn run(s: &Scenario) -> Vec<StackResult> {
    run::run(s, &[s.seed], &costing(), 2, &[]).unwrap()
}

/// Trace actions per op, counted from the generator itself.
fn trace_actions(s: &Scenario) -> BTreeMap<Op, u64> {
    let org = Org::build(s, s.seed);
    let mut counts = BTreeMap::new();
    for ev in Generator::new(s, s.seed, &org).unwrap() {
        if let Some(op) = ev.action.op() {
            *counts.entry(op).or_insert(0u64) += 1;
        }
    }
    counts
}

/// For every op the trace starts, completed + incomplete + skipped equals the trace's actions.
fn assert_conserved(s: &Scenario, stacks: &[StackResult]) {
    let actions = trace_actions(s);
    for st in stacks {
        for op in [Op::Login, Op::Send, Op::Search, Op::Join, Op::Leave] {
            let want = actions.get(&op).copied().unwrap_or(0);
            let got = st
                .ops
                .get(&op)
                .map_or(0, |x| x.count + x.incomplete + x.skipped_total());
            assert_eq!(
                got,
                want,
                "{} {}: completed + incomplete + skipped = {got}, trace has {want} ({:?})",
                st.stack.name(),
                op.name(),
                st.ops.get(&op).map(|x| (x.count, x.incomplete, &x.skipped))
            );
        }
    }
}

/// mkd needs every member online to finish a change; with most users offline and churn until
/// the end, changes are left in flight and the changes and actions behind them are dropped.
const OFFLINE_MKD: &str = "\
name: offline-mkd
seed: 11
duration: 20m
org:
  users: 14
  departments: 2
  rooms:
    - { kind: department }
    - { kind: project, count: 2, size: 5 }
workload:
  messages: { rate: 40/h/user, size: 100B }
  keywords: { vocabulary: 100, zipf: 1.0, per_message: 2 }
  search: { rate: 10/h/user, fetch: 3 }
  login: { rate: 3/h/user, recent: 3, session: 5m, online_at_start: 0.4 }
  churn: { join: 30/h, leave: 30/h }
  history: { read: 5 }
network:
  clients:
    - { share: 1.0, rtt: 40ms, jitter: 4ms, down: 10MB/s, up: 2MB/s }
servers: { workers: 2 }
stacks: [ conventional+none+plaintext, mkd+none+plaintext ]
";

#[test]
fn a_run_ending_with_changes_in_flight_reports_them_incomplete() {
    let s = parse(OFFLINE_MKD);
    let stacks = run(&s);
    let mkd = &stacks[1];
    let changes_incomplete: u64 = [Op::Join, Op::Leave]
        .iter()
        .filter_map(|op| mkd.ops.get(op))
        .map(|x| x.incomplete)
        .sum();
    assert!(
        changes_incomplete > 0,
        "mkd left no change in flight: {:?}",
        mkd.ops
    );
    let conv = &stacks[0];
    assert_eq!(
        conv.ops
            .get(&Op::Join)
            .map_or(0, |x| x.incomplete + x.skipped_total()),
        0,
        "the conventional stack finishes every join"
    );
    assert_conserved(&s, &stacks);
}

#[test]
fn dropped_actions_are_skipped_with_their_reason() {
    let s = parse(OFFLINE_MKD);
    let stacks = run(&s);
    let mkd = &stacks[1];
    let skipped: BTreeMap<SkipReason, u64> = mkd.ops.values().fold(BTreeMap::new(), |mut m, x| {
        for (r, n) in &x.skipped {
            *m.entry(*r).or_default() += n;
        }
        m
    });
    assert!(
        skipped
            .get(&SkipReason::BehindUnfinishedChange)
            .copied()
            .unwrap_or(0)
            > 0,
        "changes queued behind mkd's unfinished ones are skipped: {skipped:?}"
    );
    assert!(
        skipped.get(&SkipReason::NoKeyByEnd).copied().unwrap_or(0) > 0,
        "sends of joiners that never got mkd's key are skipped: {skipped:?}"
    );
    // The same trace gives the two stacks different sample counts, so the ratio is unpaired.
    let r = RunReport {
        scenario: &s,
        seeds: vec![s.seed],
        cost_model: s.cost_model,
        calibration: CalibrationInfo {
            source: "../reports/reference/paper-table1/calibration.json".into(),
            sha256: None,
        },
        stacks: stacks.clone(),
        wall_seconds: 0.0,
    };
    let md = report::table1_md(&r);
    assert!(md.contains("×†"), "an unpaired ratio is marked:\n{md}");
    assert!(md.contains("| incomplete | skipped |"), "{md}");
    assert!(
        md.contains("`behind_unfinished_change`"),
        "the legend names the reasons:\n{md}"
    );
    let json: serde_json::Value = serde_json::from_str(&report::summary_json(&r)).unwrap();
    let ops = &json["stacks"][1]["ops"];
    let total: u64 = ops
        .as_object()
        .unwrap()
        .values()
        .map(|o| o["skipped"].as_u64().unwrap())
        .sum();
    assert_eq!(total, skipped.values().sum::<u64>());
    assert_conserved(&s, &stacks);
}

#[test]
fn actions_are_conserved_with_everyone_online() {
    let text = OFFLINE_MKD
        .replace("online_at_start: 0.4", "online_at_start: 1.0")
        .replace("session: 5m", "session: 100h")
        .replace(
            "stacks: [ conventional+none+plaintext, mkd+none+plaintext ]",
            "stacks: [ conventional+none+plaintext, mkd+none+plaintext, pairwise-dh+epoch-keys+per-epoch ]",
        );
    let s = parse(&text);
    let stacks = run(&s);
    assert_conserved(&s, &stacks);
}

/// Offline members, moves and churn faster than keys travel. A change whose admin has not
/// caught up with the room's current epoch waits for it, and the room's later changes wait
/// behind it: every stack applies the trace's changes in the trace's order, so none becomes moot
/// and no two changers start the same epoch (before, later changes overtook a waiting one; some
/// then no longer applied, and a stale changer's epoch disagreed with the room's:
/// `members_read` "disagrees on the epoch secret" with pairwise-dh and sender-keys).
const REORDERED_CHANGES: &str = "\
name: reordered-changes
seed: 3
duration: 40m
org:
  users: 14
  departments: 2
  rooms:
    - { kind: department }
    - { kind: project, count: 2, size: 5 }
workload:
  messages: { rate: 40/h/user, size: 100B }
  keywords: { vocabulary: 100, zipf: 1.0, per_message: 2 }
  search: { rate: 10/h/user, fetch: 3 }
  login: { rate: 3/h/user, recent: 3, session: 5m, online_at_start: 0.4 }
  churn: { join: 60/h, leave: 60/h, move: 20/h }
  history: { read: 5 }
network:
  clients:
    - { share: 1.0, rtt: 40ms, jitter: 4ms, down: 10MB/s, up: 2MB/s }
servers: { workers: 2 }
stacks: [ pairwise-dh+none+plaintext, sender-keys+none+plaintext ]
";

#[test]
fn changes_keep_the_trace_order_and_every_action_is_accounted_for() {
    let s = parse(REORDERED_CHANGES);
    let stacks = run(&s);
    for st in &stacks {
        let moot: u64 = [Op::Join, Op::Leave]
            .iter()
            .filter_map(|op| st.ops.get(op))
            .map(|x| {
                x.skipped
                    .get(&SkipReason::ChangeNoLongerApplies)
                    .copied()
                    .unwrap_or(0)
            })
            .sum();
        assert_eq!(moot, 0, "{}: a change overtook another", st.stack.name());
        let violated: Vec<_> = st
            .security
            .properties
            .iter()
            .filter(|(_, o)| o.claimed && o.failures > 0)
            .map(|(p, o)| (p.name(), o.first_failure.clone()))
            .collect();
        assert!(violated.is_empty(), "{}: {violated:?}", st.stack.name());
    }
    assert_conserved(&s, &stacks);
}
