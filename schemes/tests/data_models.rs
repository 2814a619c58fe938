//! The models of the data families' schemes (epoch-keys, per-epoch on the ideal cipher
//! provider, rekey-index in the exponent group with the ideal cipher provider, afgh and
//! afgh-hybrid in the exponents of the pairing groups) against the real schemes: driven through the same harness flow from generators in
//! the same state, they send the same messages with the same lengths, store records of the same
//! lengths and reach the same open, refuse and search outcomes; and they pass the family's
//! conformance suite as the real schemes do.

#![allow(clippy::unwrap_used)]

use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

use conclave_schemes::model::ideal_cipher::Ideal;
use conclave_schemes::pre::afgh::groups::Exponents as PairingExponents;
use conclave_schemes::pre::afgh::{Afgh, AfghHybrid, AfghHybridIn, AfghIn};
use conclave_schemes::pre::dl_group::Exponents;
use conclave_schemes::pre::epoch_keys::{EpochKeys, EpochKeysWith};
use conclave_schemes::pre::HistoryProtection;
use conclave_schemes::rekeying::RekeyingServer;
use conclave_schemes::sse::per_epoch::{PerEpoch, PerEpochWith};
use conclave_schemes::sse::rekey_index::{RekeyIndex, RekeyIndexIn};
use conclave_schemes::sse::{Access, SearchableEncryption};
use conclave_schemes::testing::{self, readable, HistoryHarness, SseHarness, Tamper};
use conclave_schemes::{MsgId, RoomId, UserId, Wire};

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
    h.rekey(u(1), &mut rng);
    send(&mut h, u(0), 17, &mut rng);
    h.join(&[u(2)], u(0), &mut rng);
    send(&mut h, u(2), 300, &mut rng);
    h.remove(&[u(0)], u(1), &mut rng);
    send(&mut h, u(1), 1, &mut rng);
    h.join(&[u(3), u(4)], u(2), &mut rng);
    send(&mut h, u(4), 4096, &mut rng);
    h.rekey(u(3), &mut rng);
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

#[test]
fn the_epoch_keys_model_behaves_as_the_scheme() {
    for (shares, seed) in [(true, 1), (false, 2), (true, 3)] {
        let real = history_trace::<EpochKeys>(shares, seed);
        let model = history_trace::<EpochKeysWith<Ideal>>(shares, seed);
        assert_eq!(real, model, "shares history: {shares}");
        assert!(real.iter().any(|l| l.contains("tampered: Err(Crypto)")));
        assert!(real
            .iter()
            .any(|l| l.contains("moved to another message: Err(Crypto)")));
    }
}

/// The pairing models, whose HKDF and AEADs are the ideal provider's: the same trace as the
/// schemes, tampered and moved records refused alike.
#[test]
fn the_afgh_models_behave_as_the_schemes() {
    for (shares, seed) in [(true, 10), (false, 11)] {
        let real = history_trace::<Afgh>(shares, seed);
        let model = history_trace::<AfghIn<PairingExponents>>(shares, seed);
        assert_eq!(real, model, "afgh, shares history: {shares}");
        assert!(real.iter().any(|l| l.contains("tampered: Err(")));
        let real = history_trace::<AfghHybrid>(shares, seed);
        let model = history_trace::<AfghHybridIn<PairingExponents>>(shares, seed);
        assert_eq!(real, model, "afgh-hybrid, shares history: {shares}");
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
        let real = sse_trace::<PerEpoch>(shares, seed);
        let model = sse_trace::<PerEpochWith<Ideal>>(shares, seed);
        assert_eq!(real, model, "shares history: {shares}");
    }
}

#[test]
fn the_rekey_index_model_behaves_as_the_scheme() {
    for (shares, seed) in [(true, 7), (false, 8), (true, 9)] {
        let real = sse_trace::<RekeyIndex>(shares, seed);
        let model = sse_trace::<RekeyIndexIn<Exponents, Ideal>>(shares, seed);
        assert_eq!(real, model, "shares history: {shares}");
        // The trace covers re-keying and searches that find something.
        assert!(real.iter().any(|l| l.contains("rekey")));
        assert!(real.iter().any(|l| l.contains("Ok([MsgId")));
    }
}

#[test]
fn the_models_pass_their_families_suites() {
    let mut rng = ChaCha20Rng::seed_from_u64(6);
    testing::history_conformance::<EpochKeysWith<Ideal>>(&mut rng);
    testing::sse_conformance::<PerEpochWith<Ideal>>(&mut rng);
    testing::sse_conformance::<RekeyIndexIn<Exponents, Ideal>>(&mut rng);
}
