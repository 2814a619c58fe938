//! Every registered scheme passes its family's conformance suite.

use conclave_schemes::kd::conventional::Conventional;
use conclave_schemes::pre::client_rewrap::ClientRewrap;
use conclave_schemes::pre::epoch_keys::EpochKeys;
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

// epoch-keys never re-keys stored history: its module doc says an old key stays exposed.
history_suite!(epoch_keys, EpochKeys, 20, breach_opens: true);
// client-rewrap re-wraps every stored header: its module doc says an old key opens nothing.
history_suite!(client_rewrap, ClientRewrap, 30, breach_opens: false);
history_suite!(bbs98, conclave_schemes::pre::bbs98::Bbs98, 210, breach_opens: false);
history_suite!(keyhom, conclave_schemes::pre::keyhom::KeyHom, 220, breach_opens: false);
// AFGH is single-hop: origin capsules stay stored and open with their epoch's key.
history_suite!(afgh, conclave_schemes::pre::afgh::Afgh, 230, breach_opens: true);
history_suite!(afgh_hybrid, conclave_schemes::pre::afgh::AfghHybrid, 240, breach_opens: true);

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

/// The whole search suite for a scheme; `keys_enforce_from_join` is what its module doc says:
/// whether its keys, not only the server's access bound, keep a `from_join` joiner from pre-join
/// messages.
macro_rules! sse_suite {
    ($module:ident, $scheme:ty, $seed:expr, keys_enforce_from_join: $enforced:expr) => {
        mod $module {
            use super::*;

            #[test]
            fn matches_scan() {
                testing::sse_matches_scan::<$scheme>(&mut ChaCha20Rng::seed_from_u64($seed));
            }

            #[test]
            fn matches_oracle() {
                testing::sse_matches_oracle::<$scheme>(&mut ChaCha20Rng::seed_from_u64($seed + 1));
            }

            #[test]
            fn late_update() {
                testing::sse_late_update::<$scheme>(&mut ChaCha20Rng::seed_from_u64($seed + 2));
            }

            #[test]
            fn removed_member() {
                testing::sse_removed_member::<$scheme>(&mut ChaCha20Rng::seed_from_u64($seed + 3));
            }

            #[test]
            fn joiner_policy() {
                testing::sse_joiner_policy::<$scheme>(
                    &mut ChaCha20Rng::seed_from_u64($seed + 4),
                    $enforced,
                );
            }

            /// A searcher whose key lags behind entries indexed under the room's newest epoch
            /// is told to search again, never handed a partial result.
            #[test]
            fn lagging_searcher() {
                testing::sse_lagging_searcher::<$scheme>(&mut ChaCha20Rng::seed_from_u64(
                    $seed + 5,
                ));
            }
        }
    };
}

// The index is re-keyed at every change, so a joiner's key matches pre-join entries; under
// `from_join` the server's ACL hides them (the scheme does not claim more).
sse_suite!(rekey_index, RekeyIndex, 9, keys_enforce_from_join: false);
// Under `from_join` no back-chain link is uploaded, so the joiner's keys cannot find pre-join
// messages even when the server ignores the access bound.
sse_suite!(per_epoch, PerEpoch, 14, keys_enforce_from_join: true);
// Mitra's keys enforce `from_join`: without the back-chain a joiner derives no old address.
sse_suite!(mitra, conclave_schemes::sse::mitra::Mitra, 50, keys_enforce_from_join: true);

/// The plaintext index answers from the room's whole index, so a lagging searcher finds all.
#[test]
fn plaintext_lagging_searcher() {
    testing::sse_lagging_searcher::<PlaintextIndex>(&mut ChaCha20Rng::seed_from_u64(21));
}
