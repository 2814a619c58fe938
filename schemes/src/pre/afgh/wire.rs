//! Exact wire lengths of both AFGH schemes' records and re-keying messages, and the server work
//! of a change, as functions of the sizes they depend on: what a model of `afgh` and
//! `afgh-hybrid` charges without running a pairing.
//!
//! In a room whose every change shares history, the change into epoch `K ≥ 1` sends the
//! [`REKEY_REQUEST_LEN`] request, and from `K = 2` on the server's [`held_rekeys_len`]`(K − 1)`
//! answer (one re-key per earlier origin epoch, whether or not capsules of it are stored: they
//! are kept for late records) and the changer's [`rekeys_len`]`(K − 1)` upload. A record's
//! current re-encryption is there exactly when its origin epoch is older than the room's.
//! These counts hold when each change's re-keying is done before the next change's begins;
//! when changes overlap, the server also forwards late re-keys ([`held_rekeys_len`] again).

use super::core::{G1_LEN, G2_LEN};
use super::hybrid::KeyId;
use super::rekeying::{CurrentCapsule, COUNT_LEN, EPOCH_LEN, TAG_LEN};
use crate::common::aead::{SHARED_NONCE_LEN, TAG_LEN as AEAD_TAG_LEN};
use crate::pre::{Traffic, Work};
use crate::Epoch;

/// Bytes of the changer's [`Control::RekeyRequest`](super::rekeying::Control::RekeyRequest):
/// the kind, the new epoch, and the re-key from the previous epoch with its origin.
pub const REKEY_REQUEST_LEN: usize = TAG_LEN + EPOCH_LEN + EPOCH_LEN + G2_LEN;

/// Bytes of the server's [`Control::HeldRekeys`](super::rekeying::Control::HeldRekeys) with
/// the re-keys of `origins` origin epochs, each with its origin and target.
#[must_use]
pub const fn held_rekeys_len(origins: usize) -> usize {
    TAG_LEN + EPOCH_LEN + COUNT_LEN + origins * (2 * EPOCH_LEN + G2_LEN)
}

/// Bytes of the changer's [`Control::Rekeys`](super::rekeying::Control::Rekeys) with the
/// re-keys of `origins` origin epochs moved to the new epoch, each with its origin.
#[must_use]
pub const fn rekeys_len(origins: usize) -> usize {
    TAG_LEN + EPOCH_LEN + COUNT_LEN + origins * (EPOCH_LEN + G2_LEN)
}

/// Bytes of an `afgh` record of a `plaintext`-byte body: the origin epoch and capsule, the
/// flag, the current re-encryption with its target if `reencrypted` (never as sealed; as
/// stored, once a re-key of the origin epoch is held), and the body with its tag.
#[must_use]
pub const fn record_len(plaintext: usize, reencrypted: bool) -> usize {
    let current = if reencrypted { CurrentCapsule::LEN } else { 0 };
    EPOCH_LEN + G1_LEN + TAG_LEN + current + plaintext + AEAD_TAG_LEN
}

/// Bytes of an `afgh-hybrid` record of a `plaintext`-byte body: the key id, the flag, the wrap
/// if `wrap` (as sealed: the first record of a new message key; as stored: always), its current
/// re-encryption if `reencrypted` (as for [`record_len`]), the nonce, and the body with its tag.
#[must_use]
pub const fn hybrid_record_len(plaintext: usize, wrap: bool, reencrypted: bool) -> usize {
    let wrap = if wrap { G1_LEN } else { 0 };
    let current = if reencrypted { CurrentCapsule::LEN } else { 0 };
    KeyId::LEN + TAG_LEN + wrap + current + SHARED_NONCE_LEN + plaintext + AEAD_TAG_LEN
}

/// Origin epochs whose re-keys the server sends the changer of `to`: every epoch before the
/// previous one, in a room whose every change shared history.
fn older_origins(to: Epoch) -> usize {
    usize::try_from(to.0.saturating_sub(1)).unwrap_or(usize::MAX)
}

/// The control messages of a change into epoch `to` in a room whose policy is
/// `shares_history`, the same for both schemes (module doc). A creation (epoch 0) or a change
/// that does not share history sends nothing.
#[must_use]
pub fn change_traffic(shares_history: bool, to: Epoch) -> Traffic {
    if !shares_history || to == Epoch(0) {
        return Traffic::default();
    }
    let older = older_origins(to);
    let any = usize::from(older > 0);
    Traffic {
        up: vec![(1, REKEY_REQUEST_LEN), (any, rekeys_len(older))],
        down: vec![(any, held_rekeys_len(older))],
    }
}

/// The server work of the change [`change_traffic`] describes, as `(count, work)` pairs, with
/// `of_prev` capsules stored under the previous epoch and `older` under the epochs before it:
/// the request re-encrypts the former, the moved re-keys the latter, each capsule once,
/// data-parallel. Capsules are messages for `afgh`, message keys for `afgh-hybrid`; one stored
/// later is re-encrypted at `store`, which reports no work.
#[must_use]
pub fn change_work(
    shares_history: bool,
    to: Epoch,
    of_prev: usize,
    older: usize,
) -> Vec<(usize, Work)> {
    if !shares_history || to == Epoch(0) {
        return Vec::new();
    }
    let reencrypt = |units: usize| Work {
        op: "reencrypt",
        units: units as u64,
        parallel: true,
    };
    vec![
        (1, reencrypt(of_prev)),
        (usize::from(older_origins(to) > 0), reencrypt(older)),
    ]
}
