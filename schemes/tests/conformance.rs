//! Every registered scheme passes its family's conformance suite.

use conclave_schemes::kd::conventional::Conventional;
use conclave_schemes::pre::none::NoProtection;
use conclave_schemes::sse::per_epoch::PerEpoch;
use conclave_schemes::sse::plaintext::PlaintextIndex;
use conclave_schemes::sse::rekey_index::RekeyIndex;
use conclave_schemes::testing;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

#[test]
fn conventional_membership() {
    testing::kd_membership::<Conventional>(&mut ChaCha20Rng::seed_from_u64(1));
}

/// The conventional scheme trusts TLS and the server: an insider who sees the key messages
/// reads the new key. The suite must catch that.
#[test]
#[should_panic(expected = "derived a later epoch secret")]
fn conventional_fails_exclusion_by_design() {
    testing::kd_exclusion::<Conventional>(&mut ChaCha20Rng::seed_from_u64(4));
}

#[test]
fn none_round_trip() {
    testing::history_round_trip::<NoProtection>(&mut ChaCha20Rng::seed_from_u64(2));
}

#[test]
fn plaintext_matches_scan() {
    testing::sse_matches_scan::<PlaintextIndex>(&mut ChaCha20Rng::seed_from_u64(3));
}

#[test]
fn plaintext_matches_oracle() {
    testing::sse_matches_oracle::<PlaintextIndex>(&mut ChaCha20Rng::seed_from_u64(5));
}

#[test]
fn plaintext_late_update() {
    testing::sse_late_update::<PlaintextIndex>(&mut ChaCha20Rng::seed_from_u64(6));
}

/// The plaintext index has the server's ACL only: with `from_join` the bound hides pre-join
/// messages, and nothing else does.
#[test]
fn plaintext_joiner_policy() {
    testing::sse_joiner_policy::<PlaintextIndex>(&mut ChaCha20Rng::seed_from_u64(7), false);
}

/// A plaintext query works for anyone, removed members included. The suite must catch that.
#[test]
#[should_panic(expected = "sse_removed_member")]
fn plaintext_fails_removed_member_by_design() {
    testing::sse_removed_member::<PlaintextIndex>(&mut ChaCha20Rng::seed_from_u64(8));
}

#[test]
fn rekey_index_matches_scan() {
    testing::sse_matches_scan::<RekeyIndex>(&mut ChaCha20Rng::seed_from_u64(9));
}

#[test]
fn rekey_index_matches_oracle() {
    testing::sse_matches_oracle::<RekeyIndex>(&mut ChaCha20Rng::seed_from_u64(10));
}

#[test]
fn rekey_index_late_update() {
    testing::sse_late_update::<RekeyIndex>(&mut ChaCha20Rng::seed_from_u64(11));
}

#[test]
fn rekey_index_removed_member() {
    testing::sse_removed_member::<RekeyIndex>(&mut ChaCha20Rng::seed_from_u64(12));
}

/// The index is re-keyed at every change, so a joiner's key matches pre-join entries; under
/// `from_join` the server's ACL hides them (the scheme does not claim more).
#[test]
fn rekey_index_joiner_policy() {
    testing::sse_joiner_policy::<RekeyIndex>(&mut ChaCha20Rng::seed_from_u64(13), false);
}

#[test]
fn per_epoch_matches_scan() {
    testing::sse_matches_scan::<PerEpoch>(&mut ChaCha20Rng::seed_from_u64(14));
}

#[test]
fn per_epoch_matches_oracle() {
    testing::sse_matches_oracle::<PerEpoch>(&mut ChaCha20Rng::seed_from_u64(15));
}

#[test]
fn per_epoch_late_update() {
    testing::sse_late_update::<PerEpoch>(&mut ChaCha20Rng::seed_from_u64(16));
}

#[test]
fn per_epoch_removed_member() {
    testing::sse_removed_member::<PerEpoch>(&mut ChaCha20Rng::seed_from_u64(17));
}

/// Under `from_join` no back-chain link is uploaded, so the joiner's keys cannot find pre-join
/// messages even when the server ignores the access bound.
#[test]
fn per_epoch_joiner_policy() {
    testing::sse_joiner_policy::<PerEpoch>(&mut ChaCha20Rng::seed_from_u64(18), true);
}
