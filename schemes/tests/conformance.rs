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

#[test]
fn mitra_matches_oracle() {
    testing::sse_matches_oracle::<conclave_schemes::sse::mitra::Mitra>(
        &mut ChaCha20Rng::seed_from_u64(50),
    );
}

#[test]
fn mitra_late_update() {
    testing::sse_late_update::<conclave_schemes::sse::mitra::Mitra>(
        &mut ChaCha20Rng::seed_from_u64(51),
    );
}

#[test]
fn mitra_removed_member() {
    testing::sse_removed_member::<conclave_schemes::sse::mitra::Mitra>(
        &mut ChaCha20Rng::seed_from_u64(52),
    );
}

/// Mitra's keys enforce `from_join`: without the back-chain a joiner derives no old address.
#[test]
fn mitra_joiner_policy() {
    testing::sse_joiner_policy::<conclave_schemes::sse::mitra::Mitra>(
        &mut ChaCha20Rng::seed_from_u64(53),
        true,
    );
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

/// A searcher whose key lags behind entries indexed under the room's newest epoch is told to
/// search again, never handed a partial result.
#[test]
fn per_epoch_lagging_searcher() {
    testing::sse_lagging_searcher::<PerEpoch>(&mut ChaCha20Rng::seed_from_u64(19));
}

#[test]
fn mitra_lagging_searcher() {
    testing::sse_lagging_searcher::<conclave_schemes::sse::mitra::Mitra>(
        &mut ChaCha20Rng::seed_from_u64(54),
    );
}

#[test]
fn rekey_index_lagging_searcher() {
    testing::sse_lagging_searcher::<RekeyIndex>(&mut ChaCha20Rng::seed_from_u64(20));
}

#[test]
fn plaintext_lagging_searcher() {
    testing::sse_lagging_searcher::<PlaintextIndex>(&mut ChaCha20Rng::seed_from_u64(21));
}
