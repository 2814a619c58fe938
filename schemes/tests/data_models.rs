//! The models of the data families' schemes (epoch-keys, client-rewrap, per-epoch and mitra on
//! the ideal cipher provider, rekey-index in the exponent group with the ideal cipher provider,
//! afgh and afgh-hybrid in the exponents of the pairing groups) against the real schemes: driven
//! through the same harness flow from generators in the same state, they send the same messages
//! with the same lengths, store records of the same lengths and reach the same open, refuse and
//! search outcomes; and they pass the family's conformance suite as the real schemes do. A model
//! broken on purpose is caught by the same comparison.

#![allow(clippy::unwrap_used)]

use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

use conclave_schemes::common::cipher::{HkdfHash, SymmetricCipher};
use conclave_schemes::model::ideal_cipher::{Ideal, IdealSharedKey};
use conclave_schemes::pre::afgh::groups::Exponents as PairingExponents;
use conclave_schemes::pre::afgh::{Afgh, AfghHybrid, AfghHybridIn, AfghIn};
use conclave_schemes::pre::client_rewrap::{ClientRewrap, ClientRewrapWith};
use conclave_schemes::pre::dl_group::Exponents;
use conclave_schemes::pre::epoch_keys::{EpochKeys, EpochKeysWith};
use conclave_schemes::pre::HistoryProtection;
use conclave_schemes::rekeying::RekeyingServer;
use conclave_schemes::sse::mitra::{Mitra, MitraWith};
use conclave_schemes::sse::per_epoch::{PerEpoch, PerEpochWith};
use conclave_schemes::sse::rekey_index::{RekeyIndex, RekeyIndexIn};
use conclave_schemes::sse::{Access, SearchableEncryption};
use conclave_schemes::testing::{self, readable, HistoryHarness, SseHarness, Tamper};
use conclave_schemes::{Epoch, EpochSecret, Label, MsgId, RoomId, SchemeError, UserId, Wire};

/// Everything observable of a history flow: control messages, record lengths, server state
/// length, and who opens what (also tampered and moved records).
fn history_trace<H: HistoryProtection>(shares_history: bool, seed: u64) -> Vec<String>
where
    H::Sealed: Tamper,
{
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let u = UserId;
    let mut h = HistoryHarness::<H>::new(6, RoomId(9), shares_history);
    h.record_control();
    h.create(&[u(0), u(1)], u(0), &mut rng);
    let mut trace = Vec::new();
    let mut ids = Vec::new();
    let mut send = |h: &mut HistoryHarness<H>, by: UserId, len: usize, rng: &mut ChaCha20Rng| {
        let (id, record) = h.seal(by, &vec![b'a' + (len % 26) as u8; len], rng);
        trace.push(format!("record {id} {}", record.wire_len()));
        h.store(id, record);
        ids.push(id);
    };
    send(&mut h, u(0), 0, &mut rng);
    send(&mut h, u(1), 100, &mut rng);
    // Sealed now, stored only after four changes (a sender that had not caught up).
    let (late, late_record) = h.seal(u(1), b"late", &mut rng);
    h.rekey(u(1), &mut rng);
    send(&mut h, u(0), 17, &mut rng);
    h.join(&[u(2)], u(0), &mut rng);
    send(&mut h, u(2), 300, &mut rng);
    h.remove(&[u(0)], u(1), &mut rng);
    send(&mut h, u(1), 1, &mut rng);
    h.join(&[u(3), u(4)], u(2), &mut rng);
    send(&mut h, u(4), 4096, &mut rng);
    h.rekey(u(3), &mut rng);
    trace.push(format!("record {late} {}", late_record.wire_len()));
    h.store(late, late_record);
    trace.push(format!("stored late as {}", h.get(late).wire_len()));
    ids.push(late);
    h.rekey(u(2), &mut rng);
    for c in &h.control_log {
        trace.push(format!("control {c:?}"));
    }
    trace.push(format!("stored {}", h.server.stored_len()));
    trace.push(format!("work {:?}", h.work));
    for &id in &ids {
        for user in 0..5 {
            if h.keys[user].is_some() {
                let opened = readable(h.read(u(user as u32), id)).map(|p| p.len());
                trace.push(format!("{id} read by {user}: {opened:?}"));
            }
        }
        let epoch = h.sent(id).epoch;
        let record = h.get(id);
        let fresh = readable(h.open_fresh(epoch, id, &record)).map(|p| p.len());
        trace.push(format!("{id} with its epoch's key alone: {fresh:?}"));
        let moved = readable(h.open_fresh(epoch, MsgId(id.0 + 100), &record));
        trace.push(format!("{id} moved to another message: {moved:?}"));
        let mut tampered = record.clone();
        if tampered.tamper() {
            let refused = readable(h.open_fresh(epoch, id, &tampered));
            trace.push(format!("{id} tampered: {refused:?}"));
        }
    }
    trace
}

/// A flow's trace: whether the room shares history, the seed.
type Trace = fn(bool, u64) -> Vec<String>;

/// The trace of a scheme (`real`), asserted to be its model's (`model`) too.
fn same_trace(real: Trace, model: Trace, shares: bool, seed: u64) -> Vec<String> {
    let real = real(shares, seed);
    assert_eq!(real, model(shares, seed), "shares history: {shares}");
    real
}

/// Whether a line of `trace` says `what`.
fn traced(trace: &[String], what: &str) -> bool {
    trace.iter().any(|l| l.contains(what))
}

/// The symmetric schemes' models, whose trace also shows tampered and moved records refused.
fn symmetric_model_trace<R: HistoryProtection, M: HistoryProtection>(
    shares: bool,
    seed: u64,
) -> Vec<String>
where
    R::Sealed: Tamper,
    M::Sealed: Tamper,
{
    let real = same_trace(history_trace::<R>, history_trace::<M>, shares, seed);
    assert!(traced(&real, "tampered: Err(Crypto)"));
    assert!(traced(&real, "moved to another message: Err(Crypto)"));
    real
}

#[test]
fn the_epoch_keys_model_behaves_as_the_scheme() {
    for (shares, seed) in [(true, 1), (false, 2), (true, 3)] {
        symmetric_model_trace::<EpochKeys, EpochKeysWith<Ideal>>(shares, seed);
    }
}

/// Client-rewrap's flow also re-wraps every stored header at each change that shares history,
/// and attaches links to the record stored late.
#[test]
fn the_client_rewrap_model_behaves_as_the_scheme() {
    for (shares, seed) in [(true, 11), (false, 12), (true, 13), (true, 14)] {
        let real = symmetric_model_trace::<ClientRewrap, ClientRewrapWith<Ideal>>(shares, seed);
        if shares {
            assert!(traced(&real, "\"rewrap\""), "{real:?}");
        }
    }
}

/// The pairing models, whose HKDF and AEADs are the ideal provider's: the same trace as the
/// schemes, tampered and moved records refused alike.
#[test]
fn the_afgh_models_behave_as_the_schemes() {
    for (shares, seed) in [(true, 10), (false, 11)] {
        let real = same_trace(
            history_trace::<Afgh>,
            history_trace::<AfghIn<PairingExponents>>,
            shares,
            seed,
        );
        assert!(traced(&real, "tampered: Err("));
        same_trace(
            history_trace::<AfghHybrid>,
            history_trace::<AfghHybridIn<PairingExponents>>,
            shares,
            seed,
        );
    }
}

/// Everything observable of a search flow: update lengths, control messages, server state
/// length and search results (also of a removed member and of a joiner).
fn sse_trace<S: SearchableEncryption>(shares_history: bool, seed: u64) -> Vec<String> {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let u = UserId;
    let room = RoomId(4);
    let mut h = SseHarness::<S>::new(6);
    h.record_deliveries();
    h.create(room, &[u(0), u(1)], u(0), shares_history, &mut rng);
    let mut trace = Vec::new();
    let mut index = |h: &mut SseHarness<S>, by: UserId, kws: &[&str], rng: &mut ChaCha20Rng| {
        let pending = h.prepare_index(room, by, kws, rng);
        trace.push(format!("update {}", pending.wire_len()));
        h.apply(pending);
    };
    index(&mut h, u(0), &["alpha", "beta"], &mut rng);
    index(&mut h, u(1), &["beta"], &mut rng);
    h.change(room, u(1), &[], &[], &mut rng);
    index(&mut h, u(0), &["alpha", "gamma", "delta"], &mut rng);
    h.change(room, u(0), &[u(2)], &[], &mut rng);
    index(&mut h, u(2), &["alpha"], &mut rng);
    h.change(room, u(2), &[], &[u(0)], &mut rng);
    index(&mut h, u(1), &["beta", "alpha"], &mut rng);
    let first = h.next_msg();
    h.change(room, u(1), &[u(3)], &[], &mut rng);
    index(&mut h, u(3), &["gamma"], &mut rng);
    for user in 0..4 {
        for keyword in ["alpha", "beta", "gamma", "absent"] {
            for access in [
                Access::WHOLE_ROOM,
                Access {
                    readable_from: first,
                },
            ] {
                let found = h.try_search(room, u(user), keyword, access, &mut rng);
                trace.push(format!("{user} {keyword} {access:?}: {found:?}"));
            }
        }
    }
    for d in &h.delivered {
        trace.push(format!(
            "control {:?} {:?} {}",
            d.from,
            d.to,
            d.msg.wire_len()
        ));
    }
    trace.push(format!("stored {}", h.server.stored_len()));
    trace.push(format!("work {:?}", h.work));
    trace
}

#[test]
fn the_per_epoch_model_behaves_as_the_scheme() {
    for (shares, seed) in [(true, 4), (false, 5)] {
        same_trace(
            sse_trace::<PerEpoch>,
            sse_trace::<PerEpochWith<Ideal>>,
            shares,
            seed,
        );
    }
}

/// Mitra's searches take several rounds, read the log and (for a joiner) the back-chain.
#[test]
fn the_mitra_model_behaves_as_the_scheme() {
    for (shares, seed) in [(true, 15), (false, 16), (true, 17)] {
        same_trace(
            sse_trace::<Mitra>,
            sse_trace::<MitraWith<Ideal>>,
            shares,
            seed,
        );
    }
}

#[test]
fn the_rekey_index_model_behaves_as_the_scheme() {
    for (shares, seed) in [(true, 7), (false, 8), (true, 9)] {
        let real = same_trace(
            sse_trace::<RekeyIndex>,
            sse_trace::<RekeyIndexIn<Exponents, Ideal>>,
            shares,
            seed,
        );
        // The trace covers re-keying and searches that find something.
        assert!(traced(&real, "rekey"));
        assert!(traced(&real, "Ok([MsgId"));
    }
}

#[test]
fn the_models_pass_their_families_suites() {
    let mut rng = ChaCha20Rng::seed_from_u64(6);
    testing::history_conformance::<EpochKeysWith<Ideal>>(&mut rng);
    testing::history_conformance::<ClientRewrapWith<Ideal>>(&mut rng);
    testing::sse_conformance::<PerEpochWith<Ideal>>(&mut rng);
    testing::sse_conformance::<MitraWith<Ideal>>(&mut rng);
    testing::sse_conformance::<RekeyIndexIn<Exponents, Ideal>>(&mut rng);
}

/// A model broken on purpose, to show that the trace comparisons catch it: the ideal provider,
/// except that a single-use seal of a body is one byte short (`SHORT_SEAL`; a back-chain link,
/// which seals a 32-byte key, is left whole so that the flow runs to the end) or the keyword
/// hash ignores the keyword (`BLIND_HASH`).
#[derive(Debug, Clone, Copy, Default)]
struct Broken<const SHORT_SEAL: bool, const BLIND_HASH: bool>;

impl<const SHORT_SEAL: bool, const BLIND_HASH: bool> SymmetricCipher
    for Broken<SHORT_SEAL, BLIND_HASH>
{
    type SharedKey = IdealSharedKey;
    type Prf = [u8; 32];

    fn seal_once(key: &[u8; 32], aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, SchemeError> {
        let mut sealed = Ideal::seal_once(key, aad, plaintext)?;
        if SHORT_SEAL && plaintext.len() != 32 {
            sealed.pop();
        }
        Ok(sealed)
    }

    fn open_once(key: &[u8; 32], aad: &[u8], ciphertext: &[u8]) -> Result<Vec<u8>, SchemeError> {
        Ideal::open_once(key, aad, ciphertext)
    }

    fn shared_key(key: &[u8; 32]) -> IdealSharedKey {
        Ideal::shared_key(key)
    }

    fn derive(secret: &EpochSecret, label: Label, room: RoomId, epoch: Epoch) -> [u8; 32] {
        Ideal::derive(secret, label, room, epoch)
    }

    fn hkdf(ikm: &[u8; 32], info: &[&[u8]]) -> [u8; 32] {
        Ideal::hkdf(ikm, info)
    }

    fn hkdf_into(
        hash: HkdfHash,
        ikm: &[u8],
        info: &[&[u8]],
        out: &mut [u8],
    ) -> Result<(), SchemeError> {
        Ideal::hkdf_into(hash, ikm, info, out)
    }

    fn prf_key(key: &[u8; 32]) -> [u8; 32] {
        Ideal::prf_key(key)
    }

    fn prf(key: &[u8; 32], input: &[u8]) -> [u8; 32] {
        Ideal::prf(key, input)
    }

    fn hash(parts: &[&[u8]]) -> [u8; 32] {
        if BLIND_HASH {
            Ideal::hash(&[])
        } else {
            Ideal::hash(parts)
        }
    }
}

#[test]
fn the_trace_comparisons_catch_a_broken_model() {
    let real = history_trace::<ClientRewrap>(true, 11);
    assert_eq!(
        real,
        history_trace::<ClientRewrapWith<Broken<false, false>>>(true, 11)
    );
    assert_ne!(
        real,
        history_trace::<ClientRewrapWith<Broken<true, false>>>(true, 11)
    );
    let real = sse_trace::<Mitra>(true, 15);
    assert_eq!(real, sse_trace::<MitraWith<Broken<false, false>>>(true, 15));
    assert_ne!(real, sse_trace::<MitraWith<Broken<false, true>>>(true, 15));
}
