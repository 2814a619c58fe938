//! `mls` against MLS interop test vectors in the working group's format (mlswg/mls-implementations,
//! `test-vectors/`): a passive client joins by each vector's Welcome and follows its epochs
//! through the scheme's own code path ([`member::join_at`], [`member::follow_at`]: `join` and
//! `follow` with the lifetimes judged at a time the vectors allow) with the scheme's seeded
//! crypto provider, and the exporter of `key-schedule.json` is recomputed with that
//! provider's KDF.
//!
//! The passive-client files read are those named in `CONCLAVE_MLS_VECTORS` (paths separated by
//! `:`), or else the copies in `tests/data/mls/` (see tests/data/README.md). Entries of cipher
//! suites other than 1 and 3 (the ones [`SeededCrypto`] offers) are counted and skipped.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use conclave_schemes::kd::mls::member::{self, Followed};
use conclave_schemes::kd::mls::provider::{Entropy, SeededCrypto, SeededSuite};
use mls_rs::crypto::{HpkeSecretKey, SignatureSecretKey};
use mls_rs::identity::basic::BasicIdentityProvider;
use mls_rs::mls_rs_codec::MlsEncode;
use mls_rs::psk::{ExternalPskId, PreSharedKey};
use mls_rs::storage_provider::in_memory::{InMemoryKeyPackageStorage, InMemoryPreSharedKeyStorage};
use mls_rs::storage_provider::KeyPackageData;
use mls_rs::time::MlsTime;
use mls_rs::{CipherSuite, CipherSuiteProvider, CryptoProvider, MlsMessage};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use serde_json::Value;

/// The passive-client files read when `CONCLAVE_MLS_VECTORS` is not set.
const DEFAULT_FILES: [&str; 2] = [
    "tests/data/mls/passive-client-welcome.json",
    "tests/data/mls/passive-client-handling-commit.json",
];

fn data_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

fn vector_files() -> Vec<PathBuf> {
    match std::env::var("CONCLAVE_MLS_VECTORS") {
        Ok(list) if !list.trim().is_empty() => list
            .split(':')
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
            .collect(),
        _ => DEFAULT_FILES.iter().map(|f| data_path(f)).collect(),
    }
}

fn load(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: cannot read: {e}", path.display()));
    match serde_json::from_str(&text) {
        Ok(Value::Array(entries)) => entries,
        Ok(_) => panic!("{}: not a JSON array of test cases", path.display()),
        Err(e) => panic!("{}: not JSON: {e}", path.display()),
    }
}

fn unhex(s: &str) -> Vec<u8> {
    assert!(s.len() % 2 == 0, "odd-length hex string");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// The hex field `key` of `v` as bytes.
fn bytes(v: &Value, key: &str) -> Vec<u8> {
    unhex(
        v.get(key)
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("field {key:?} missing")),
    )
}

fn suite_of(entry: &Value) -> u16 {
    let suite = entry["cipher_suite"].as_u64().unwrap();
    u16::try_from(suite).unwrap()
}

fn provider(suite: u16) -> Option<SeededSuite> {
    let entropy = Entropy::new(&mut ChaCha20Rng::seed_from_u64(u64::from(suite)));
    SeededCrypto::new(entropy).cipher_suite_provider(CipherSuite::new(suite))
}

/// Runs one passive-client entry: `Ok` gives the number of epochs followed and whether leaf
/// lifetimes were judged; `Err` names the step that failed.
fn passive_client(entry: &Value) -> Result<(usize, bool), String> {
    let suite = suite_of(entry);
    let cs = provider(suite).ok_or("suite not offered")?;
    let crypto = SeededCrypto::new(Entropy::new(&mut ChaCha20Rng::seed_from_u64(7)));

    let key_package = MlsMessage::from_bytes(&bytes(entry, "key_package"))
        .map_err(|e| format!("key package does not parse: {e:?}"))?
        .into_key_package()
        .ok_or("key_package is not a KeyPackage")?;
    let signing_identity = key_package.signing_identity().clone();

    // The vectors give Ed25519 keys as their 32-octet seed; the RustCrypto provider takes the
    // 64-octet keypair encoding (seed || public key).
    let seed: [u8; 32] = bytes(entry, "signature_priv")
        .try_into()
        .map_err(|_| "signature_priv is not 32 octets")?;
    let signing = ed25519_dalek::SigningKey::from_bytes(&seed);
    if signing.verifying_key().as_bytes() != signing_identity.signature_key.as_bytes() {
        return Err("signature_priv is not the key package's signature key".into());
    }
    let signer = SignatureSecretKey::new(signing.to_keypair_bytes().to_vec());

    let key_packages = InMemoryKeyPackageStorage::new();
    let reference = key_package
        .to_reference(&cs)
        .map_err(|e| format!("key package reference: {e:?}"))?;
    let expiration = key_package
        .expiration()
        .map_err(|e| format!("key package lifetime: {e:?}"))?
        .seconds_since_epoch();
    // The vectors' lifetimes end before the scheme's fixed clock. Leaves are judged a week
    // before this key package expires, inside the lifetimes its generator issued; a key package
    // that never expires says nothing of the other leaves' lifetimes, which are then not judged.
    let time =
        (expiration != u64::MAX).then(|| MlsTime::from(expiration.saturating_sub(7 * 24 * 3600)));
    key_packages.insert(
        reference.to_vec(),
        KeyPackageData::new(
            key_package.mls_encode_to_vec().unwrap(),
            HpkeSecretKey::from(bytes(entry, "init_priv")),
            HpkeSecretKey::from(bytes(entry, "encryption_priv")),
            expiration,
        ),
    );

    let mut psks = InMemoryPreSharedKeyStorage::default();
    for psk in entry["external_psks"].as_array().into_iter().flatten() {
        psks.insert(
            ExternalPskId::new(bytes(psk, "psk_id")),
            PreSharedKey::new(bytes(psk, "psk")),
        );
    }

    let client = mls_rs::Client::builder()
        .crypto_provider(crypto)
        .identity_provider(BasicIdentityProvider::new())
        .key_package_repo(key_packages)
        .psk_store(psks)
        .signing_identity(signing_identity, signer, CipherSuite::new(suite))
        .build();

    let tree = match entry.get("ratchet_tree") {
        Some(Value::String(t)) => Some(unhex(t)),
        _ => None,
    };
    let mut group = member::join_at(&client, &bytes(entry, "welcome"), tree.as_deref(), time)
        .map_err(|e| format!("join: {e:?}"))?;
    let authenticator = group.epoch_authenticator().unwrap();
    if authenticator.as_bytes() != bytes(entry, "initial_epoch_authenticator") {
        return Err("join: wrong epoch_authenticator".into());
    }

    let epochs = entry["epochs"].as_array().cloned().unwrap_or_default();
    for (i, epoch) in epochs.iter().enumerate() {
        let at = |what: &str| format!("epoch {i}: {what}");
        for (j, proposal) in epoch["proposals"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            let message = member::parse(&unhex(proposal.as_str().unwrap()))
                .map_err(|e| at(&format!("proposal {j}: {e:?}")))?;
            match member::follow_at(&mut group, message, time) {
                Ok(Followed::Proposal) => {}
                other => return Err(at(&format!("proposal {j}: {other:?}"))),
            }
        }
        let commit =
            member::parse(&bytes(epoch, "commit")).map_err(|e| at(&format!("commit: {e:?}")))?;
        match member::follow_at(&mut group, commit, time) {
            Ok(Followed::Advanced) => {}
            other => return Err(at(&format!("commit: {other:?}"))),
        }
        let authenticator = group.epoch_authenticator().unwrap();
        if authenticator.as_bytes() != bytes(epoch, "epoch_authenticator") {
            return Err(at("wrong epoch_authenticator"));
        }
    }
    Ok((epochs.len(), time.is_some()))
}

#[test]
fn mls_vectors_passive_client() {
    let mut failures = Vec::new();
    for path in vector_files() {
        let mut passed = 0;
        let mut epochs = 0;
        let mut judged = 0;
        let mut skipped: BTreeMap<u16, usize> = BTreeMap::new();
        let entries = load(&path);
        for (index, entry) in entries.iter().enumerate() {
            let suite = suite_of(entry);
            if !SeededCrypto::SUITES.contains(&CipherSuite::new(suite)) {
                *skipped.entry(suite).or_default() += 1;
                continue;
            }
            match passive_client(entry) {
                Ok((n, lifetimes)) => {
                    passed += 1;
                    epochs += n;
                    judged += usize::from(lifetimes);
                }
                Err(why) => failures.push(format!(
                    "{}: entry {index} (suite {suite}): {why}",
                    path.display()
                )),
            }
        }
        println!(
            "{}: {} entries, {passed} passed ({epochs} epochs followed, lifetimes judged in \
             {judged}), skipped by suite {skipped:?}",
            path.display(),
            entries.len(),
        );
    }
    assert!(
        failures.is_empty(),
        "{} entries failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// `ExpandWithLabel(secret, label, context, length)` (RFC 9420 §8).
fn expand_with_label(
    cs: &SeededSuite,
    secret: &[u8],
    label: &[u8],
    context: &[u8],
    length: usize,
) -> Vec<u8> {
    fn varint(out: &mut Vec<u8>, n: usize) {
        // RFC 9420 §2.1.2: 1, 2 or 4 octets with the length of the length in the top two bits.
        match n {
            0..=0x3f => out.push(u8::try_from(n).unwrap()),
            0x40..=0x3fff => out.extend(u16::try_from(n | 0x4000).unwrap().to_be_bytes()),
            _ => out.extend(u32::try_from(n | 0x8000_0000).unwrap().to_be_bytes()),
        }
    }
    let full_label = [b"MLS 1.0 ".as_slice(), label].concat();
    let mut info = u16::try_from(length).unwrap().to_be_bytes().to_vec();
    varint(&mut info, full_label.len());
    info.extend(&full_label);
    varint(&mut info, context.len());
    info.extend(context);
    cs.kdf_expand(secret, &info, length).unwrap().to_vec()
}

/// `MLS-Exporter(label, context, length)` from the epoch's `exporter_secret` (RFC 9420 §8.5).
fn mls_exporter(
    cs: &SeededSuite,
    exporter_secret: &[u8],
    label: &[u8],
    context: &[u8],
    length: usize,
) -> Vec<u8> {
    let derived = expand_with_label(cs, exporter_secret, label, &[], cs.kdf_extract_size());
    let context_hash = cs.hash(context).unwrap();
    expand_with_label(cs, &derived, b"exported", &context_hash, length)
}

#[test]
fn mls_vectors_key_schedule_exporter() {
    let path = data_path("tests/data/mls/key-schedule.json");
    let mut checked = 0;
    let mut skipped: BTreeMap<u16, usize> = BTreeMap::new();
    for (index, entry) in load(&path).iter().enumerate() {
        let suite = suite_of(entry);
        let Some(cs) = provider(suite) else {
            *skipped.entry(suite).or_default() += 1;
            continue;
        };
        for (i, epoch) in entry["epochs"].as_array().unwrap().iter().enumerate() {
            let exporter = &epoch["exporter"];
            // The label is a string: its characters, not the hex they spell, are the label (as
            // the vectors' generators, mls-rs among them, use it).
            let length = usize::try_from(exporter["length"].as_u64().unwrap()).unwrap();
            let got = mls_exporter(
                &cs,
                &bytes(epoch, "exporter_secret"),
                exporter["label"].as_str().unwrap().as_bytes(),
                &bytes(exporter, "context"),
                length,
            );
            assert_eq!(
                got,
                bytes(exporter, "secret"),
                "{}: entry {index} (suite {suite}), epoch {i}: wrong exporter value",
                path.display()
            );
            checked += 1;
        }
    }
    println!(
        "{}: {checked} exporter values checked, skipped by suite {skipped:?}",
        path.display()
    );
    assert!(checked > 0, "no entry of suite 1 or 3");
}

/// The check is not vacuous: a wrong authenticator is caught.
#[test]
fn mls_vectors_catch_a_wrong_authenticator() {
    let mut entry = load(&data_path(DEFAULT_FILES[1]))
        .into_iter()
        .find(|e| suite_of(e) == 1)
        .unwrap();
    assert_eq!(passive_client(&entry).map(|r| r.0), Ok(2));
    let last = &mut entry["epochs"][1]["epoch_authenticator"];
    let mut wrong = unhex(last.as_str().unwrap());
    wrong[0] ^= 1;
    *last = Value::String(wrong.iter().map(|b| format!("{b:02x}")).collect());
    assert_eq!(
        passive_client(&entry),
        Err("epoch 1: wrong epoch_authenticator".into())
    );
}
