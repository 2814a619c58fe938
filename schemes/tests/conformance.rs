//! Every registered scheme passes its family's conformance suite.

use conclave_schemes::kd::conventional::Conventional;
use conclave_schemes::pre::client_rewrap::ClientRewrap;
use conclave_schemes::pre::epoch_keys::EpochKeys;
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
fn none_late_store() {
    testing::history_late_store::<NoProtection>(&mut ChaCha20Rng::seed_from_u64(10));
}

/// The plaintext baseline has no keys: a joiner reads everything, whatever the policy says.
#[test]
#[should_panic(expected = "opened a message from before its join")]
fn none_fails_from_join_by_design() {
    testing::history_policy::<NoProtection>(&mut ChaCha20Rng::seed_from_u64(11));
}

/// The plaintext baseline authenticates nothing: a flipped bit reaches the reader.
#[test]
#[should_panic(expected = "a tampered record opened")]
fn none_fails_tampering_by_design() {
    testing::history_rejects_tampering::<NoProtection>(&mut ChaCha20Rng::seed_from_u64(12));
}

#[test]
fn none_storage_breach_is_exposed() {
    assert!(testing::history_storage_breach::<NoProtection>(
        &mut ChaCha20Rng::seed_from_u64(13)
    ));
}

#[test]
fn epoch_keys_round_trip() {
    testing::history_round_trip::<EpochKeys>(&mut ChaCha20Rng::seed_from_u64(20));
}

#[test]
fn epoch_keys_policy() {
    testing::history_policy::<EpochKeys>(&mut ChaCha20Rng::seed_from_u64(21));
}

#[test]
fn epoch_keys_late_store() {
    testing::history_late_store::<EpochKeys>(&mut ChaCha20Rng::seed_from_u64(22));
}

#[test]
fn epoch_keys_rejects_tampering() {
    testing::history_rejects_tampering::<EpochKeys>(&mut ChaCha20Rng::seed_from_u64(23));
}

/// epoch-keys never re-keys stored history: its module doc says an old key stays exposed.
#[test]
fn epoch_keys_storage_breach_is_exposed() {
    assert!(testing::history_storage_breach::<EpochKeys>(
        &mut ChaCha20Rng::seed_from_u64(24)
    ));
}

#[test]
fn client_rewrap_round_trip() {
    testing::history_round_trip::<ClientRewrap>(&mut ChaCha20Rng::seed_from_u64(30));
}

#[test]
fn client_rewrap_policy() {
    testing::history_policy::<ClientRewrap>(&mut ChaCha20Rng::seed_from_u64(31));
}

#[test]
fn client_rewrap_late_store() {
    testing::history_late_store::<ClientRewrap>(&mut ChaCha20Rng::seed_from_u64(32));
}

#[test]
fn client_rewrap_rejects_tampering() {
    testing::history_rejects_tampering::<ClientRewrap>(&mut ChaCha20Rng::seed_from_u64(33));
}

/// client-rewrap re-wraps every stored header: its module doc says an old key opens nothing.
#[test]
fn client_rewrap_storage_breach_is_safe() {
    assert!(!testing::history_storage_breach::<ClientRewrap>(
        &mut ChaCha20Rng::seed_from_u64(34)
    ));
}

/// The whole history suite for a scheme; `breach` is what its module doc says a storage breach
/// with an old epoch key opens after re-encryption.
macro_rules! history_suite {
    ($module:ident, $scheme:ty, $seed:expr, breach_opens: $breach:expr) => {
        mod $module {
            use super::*;

            #[test]
            fn round_trip() {
                testing::history_round_trip::<$scheme>(&mut ChaCha20Rng::seed_from_u64($seed));
            }

            #[test]
            fn policy() {
                testing::history_policy::<$scheme>(&mut ChaCha20Rng::seed_from_u64($seed + 1));
            }

            #[test]
            fn late_store() {
                testing::history_late_store::<$scheme>(&mut ChaCha20Rng::seed_from_u64($seed + 2));
            }

            #[test]
            fn rejects_tampering() {
                testing::history_rejects_tampering::<$scheme>(&mut ChaCha20Rng::seed_from_u64(
                    $seed + 3,
                ));
            }

            #[test]
            fn storage_breach() {
                assert_eq!(
                    testing::history_storage_breach::<$scheme>(&mut ChaCha20Rng::seed_from_u64(
                        $seed + 4
                    )),
                    $breach
                );
            }
        }
    };
}

history_suite!(bbs98, conclave_schemes::pre::bbs98::Bbs98, 210, breach_opens: false);
history_suite!(keyhom, conclave_schemes::pre::keyhom::KeyHom, 220, breach_opens: false);
// AFGH is single-hop: origin capsules stay stored and open with their epoch's key.
history_suite!(afgh, conclave_schemes::pre::afgh::Afgh, 230, breach_opens: true);
history_suite!(afgh_hybrid, conclave_schemes::pre::afgh::AfghHybrid, 240, breach_opens: true);

#[test]
fn mitra_matches_scan() {
    testing::sse_matches_scan::<conclave_schemes::sse::mitra::Mitra>(
        &mut ChaCha20Rng::seed_from_u64(5),
    );
}
