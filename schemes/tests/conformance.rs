//! Every registered scheme passes its family's conformance suite.

use conclave_schemes::kd::conventional::Conventional;
use conclave_schemes::pre::none::NoProtection;
use conclave_schemes::sse::plaintext::PlaintextIndex;
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
fn afgh_round_trip() {
    testing::history_round_trip::<conclave_schemes::pre::afgh::Afgh>(
        &mut ChaCha20Rng::seed_from_u64(20),
    );
}

#[test]
fn afgh_hybrid_round_trip() {
    testing::history_round_trip::<conclave_schemes::pre::afgh::AfghHybrid>(
        &mut ChaCha20Rng::seed_from_u64(21),
    );
}
