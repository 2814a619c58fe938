//! Scenarios that once failed, each shrunk from a random scenario that showed a root cause (the
//! comment at the top of each file says which): every one must run clean, with no claimed
//! property violated, under the committed calibration table its failure depended on.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use conclave_sim::cost::CalibrationTable;
use conclave_sim::fuzz::Registered;
use conclave_sim::run::{self, Costing};
use conclave_sim::scenario;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/regressions")
}

fn run_clean(file: &str) -> Vec<conclave_sim::metrics::StackResult> {
    let s = scenario::load(&dir().join(file), &Registered::new().known()).unwrap();
    let table = CalibrationTable::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/calibration-full.json"),
    )
    .unwrap();
    let results = run::run(&s, &[s.seed], &Costing::Calibrated(table), 2, &[])
        .unwrap_or_else(|e| panic!("{file}: {e}"));
    for r in &results {
        let violated: Vec<String> = r
            .security
            .properties
            .iter()
            .filter(|(_, o)| o.claimed && o.failures > 0)
            .map(|(p, o)| format!("{}: {:?}", p.name(), o.first_failure))
            .collect();
        assert!(
            violated.is_empty(),
            "{file}, {}: {violated:?}",
            r.stack.name()
        );
    }
    results
}

#[test]
fn stale_changer_and_late_roster() {
    run_clean("stale-changer-and-late-roster.yaml");
}

#[test]
fn superseded_mkd_session() {
    run_clean("superseded-mkd-session.yaml");
}

#[test]
fn oracle_key_trials_detached() {
    run_clean("oracle-key-trials-detached.yaml");
}

#[test]
fn key_message_overtakes_login() {
    run_clean("key-message-overtakes-login.yaml");
}

#[test]
fn send_concurrent_with_join() {
    run_clean("send-concurrent-with-join.yaml");
}

#[test]
fn rejoin_after_late_mailbox() {
    run_clean("rejoin-after-late-mailbox.yaml");
}

#[test]
fn late_rekey_overlapping_joins() {
    run_clean("late-rekey-overlapping-joins.yaml");
}

#[test]
fn retry_after_new_epoch() {
    run_clean("retry-after-new-epoch.yaml");
}

#[test]
fn search_before_back_chain() {
    run_clean("search-before-back-chain.yaml");
}

#[test]
fn from_join_lagging_sender_search() {
    run_clean("from-join-lagging-sender-search.yaml");
}

#[test]
fn per_epoch_search_before_back_chain() {
    run_clean("per-epoch-search-before-back-chain.yaml");
}

#[test]
fn join_stalled_by_offline_member() {
    run_clean("join-stalled-by-offline-member.yaml");
}

#[test]
fn query_overtaken_by_rekey() {
    run_clean("query-overtaken-by-rekey.yaml");
}

#[test]
fn rejoin_outlives_its_change() {
    run_clean("rejoin-outlives-its-change.yaml");
}

#[test]
fn rejoin_removed_before_it_completes() {
    run_clean("rejoin-removed-before-it-completes.yaml");
}

#[test]
fn rejoin_reads_history_rewrapped_at_removal() {
    run_clean("rejoin-reads-history-rewrapped-at-removal.yaml");
}

#[test]
fn per_epoch_search_by_lagging_member() {
    run_clean("per-epoch-search-by-lagging-member.yaml");
}

#[test]
fn mitra_search_by_lagging_member() {
    run_clean("mitra-search-by-lagging-member.yaml");
}

#[test]
fn removed_member_reads_late_record_of_shared_history() {
    run_clean("removed-member-reads-late-record-of-shared-history.yaml");
}

#[test]
fn removal_overtakes_read_of_rewrapped_history() {
    run_clean("removal-overtakes-read-of-rewrapped-history.yaml");
}

#[test]
fn mls_readded_member() {
    run_clean("mls-readded-member.yaml");
}

#[test]
fn mls_retention_rejoins() {
    // The run exercises what it is about: traffic expired, members were brought back.
    for r in &run_clean("mls-retention-rejoins.yaml") {
        let k = r
            .counters
            .key_retention
            .expect("a run with a retention counts it");
        assert!(
            k.expired > 100 && k.rejoins > 20,
            "{}: {k:?}",
            r.stack.name()
        );
    }
}

#[test]
fn rejoin_behind_a_change_awaiting_it() {
    run_clean("rejoin-behind-a-change-awaiting-it.yaml");
}

#[test]
fn rejoin_made_while_offline() {
    run_clean("rejoin-made-while-offline.yaml");
}

#[test]
fn sender_key_lost_to_removal() {
    run_clean("sender-key-lost-to-removal.yaml");
}

#[test]
fn rewrap_answered_after_a_later_change() {
    run_clean("rewrap-answered-after-a-later-change.yaml");
}

#[test]
fn rejoiner_missed_final() {
    run_clean("rejoiner-missed-final.yaml");
}
