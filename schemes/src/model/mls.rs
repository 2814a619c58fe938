//! The model of `mls`: the scheme's own code (mls-rs driven by [`crate::kd::mls`]) on an ideal
//! crypto provider, [`IdealCrypto`], that computes no cryptography.
//!
//! # Source
//!
//! The `mls` scheme ([`crate::kd::mls`]: RFC 9420 through mls-rs 0.57) and the interface its
//! crypto provider implements (`mls_rs_core::crypto::CipherSuiteProvider`); the sizes are those
//! of the scheme's provider, [`SeededCrypto`]
//! (RustCrypto's SHA-256, HKDF, AES-128-GCM or ChaCha20-Poly1305, DHKEM(X25519) HPKE and
//! Ed25519), for cipher suites 1 and 3.
//!
//! # Construction
//!
//! [`MlsModel`] is [`MlsWith<1, IdealCrypto>`](crate::kd::mls::MlsWith): every line of the
//! scheme and of mls-rs runs (TreeKEM, the key schedule, the framing, the tree hashes, the
//! delivery service, the serialised group state); only the provider's calls change, each to a
//! stand-in whose output has the length of the real one, computed with [`mix::mix`](super::mix::mix):
//!
//! * **hash**: `mix(data)`, 32 octets; **MAC**: `mix(key, data)`, 32 octets.
//! * **KDF**: extract `mix(salt, ikm)`, 32 octets; expand `mix(prk, info)`, the asked length.
//!   Both refuse what HKDF refuses (an empty `ikm`; a `prk` under 32 octets; more than 255
//!   blocks).
//! * **AEAD**: the plaintext in the clear followed by a 16-octet tag `mix(key, nonce, aad,
//!   plaintext)`; opening recomputes the tag, so a wrong key, nonce or aad, or a changed
//!   ciphertext, is refused, as the real AEAD refuses them. Key sizes are the suite's (16 octets
//!   for AES-128-GCM, 32 for ChaCha20-Poly1305), nonces 12.
//! * **Key pairs**: an ideal key pair's public key is its secret key. An HPKE key pair is 32
//!   drawn octets (or, derived, `mix(ikm)`) as both halves; a signature key pair is 32 drawn
//!   octets as public key and those octets twice as the 64-octet secret (the real encoding is
//!   seed and public key).
//! * **Signatures**: `mix(public key, data)`, 64 octets; verifying recomputes it.
//! * **HPKE**: the KEM output is 32 fresh octets (the ephemeral key); the context key is
//!   `mix(recipient key, KEM output, recipient key, info, psk)`, where the recipient computes
//!   the first recipient key from its secret key and the second from its public key, so only
//!   the key pair sealed to opens. Ciphertexts are AEAD ones under the context key and its
//!   sequence number: plaintext plus 16 octets. Exports are `mix(exporter, context)`.
//!
//! Every random draw (fresh HPKE, ephemeral and signature keys, `random_bytes`) takes the same
//! number of octets from the same [`Entropy`] stream as the real provider's, reseeded by the
//! scheme from its `rng` argument, so a model run draws from its callers' generators exactly
//! what the scheme does.
//!
//! # Costs
//!
//! Nanoseconds per provider call, against tens of microseconds for an X25519 or Ed25519
//! operation; mls-rs's own work (tree maintenance, encoding, the group state's serialisation)
//! still runs and dominates. The engine charges the calibrated costs of the real scheme.
//!
//! # Security
//!
//! None, by design: nothing in the ideal provider is secret. Public keys are the secret keys,
//! every "ciphertext" carries its plaintext, and anyone can compute any tag or signature. What
//! a model run keeps is the protocol and its outcomes: which member holds which epoch, every
//! message's destination and exact length, every state's exact length, and which opens and
//! signature checks pass for the members the protocol meant them for (a member without the
//! key pair sealed to, or with another group's key schedule, is refused where the real one
//! is).
//!
//! What a model run does not check: that a delivery service, a removed member or an outsider
//! cannot read or forge (here everyone can), that the path secrets a commit encrypts are
//! unpredictable, and anything resting on the hardness of X25519, Ed25519, SHA-256 or the
//! AEAD. The oracle's confidentiality checks therefore hold by construction in a model run; the
//! adversary experiments (an interposing key server, a forged credential, a removed member
//! listening, a leaked state) run the real scheme.
//!
//! # Weaknesses
//!
//! * The stand-ins are not cryptography: a test that tampers with a message so that
//!   [`mix::mix`](super::mix::mix) collides would pass where the real scheme refuses; nothing in a run does.
//! * Failures the real primitives have and the stand-ins do not: an X25519 public key of low
//!   order, an Ed25519 public key off the curve (neither occurs among honestly made keys).
//!
//! # Side channels
//!
//! Not applicable: nothing is secret.

use mls_rs::crypto::{
    HpkeCiphertext, HpkeContextR, HpkeContextS, HpkePsk, HpkePublicKey, HpkeSecretKey,
    SignaturePublicKey, SignatureSecretKey,
};
use mls_rs::error::IntoAnyError;
use mls_rs::{CipherSuite, CipherSuiteProvider, CryptoProvider};
use zeroize::Zeroizing;

use super::mix::mix;
use crate::kd::mls::provider::{Entropy, MlsCrypto, SeededCrypto};
use crate::kd::mls::MlsWith;

/// The model of `mls` (suite 1), registered under the scheme's name.
pub type MlsModel = MlsWith<1, IdealCrypto>;

/// Octets of a hash, a MAC, an extracted key and an HKDF block (SHA-256).
pub const HASH_LEN: usize = 32;
/// Octets of an AEAD tag (AES-GCM and ChaCha20-Poly1305 alike).
pub const TAG_LEN: usize = 16;
/// Octets of an AEAD nonce.
pub const NONCE_LEN: usize = 12;
/// Octets of an X25519 key, secret or public, and so of a KEM output.
pub const KEM_KEY_LEN: usize = 32;
/// Octets of an Ed25519 public key.
pub const SIGNATURE_PUBLIC_LEN: usize = 32;
/// Octets of an Ed25519 secret key as the provider encodes it (seed and public key).
pub const SIGNATURE_SECRET_LEN: usize = 64;
/// Octets of an Ed25519 signature.
pub const SIGNATURE_LEN: usize = 64;
/// HKDF-Expand's limit: 255 blocks.
const EXPAND_MAX: usize = 255 * HASH_LEN;

/// What an ideal primitive refuses: each where the real one refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IdealError {
    /// A key, nonce, signature or KEM output of the wrong length.
    #[error("an input of the wrong length")]
    Length,
    /// An empty plaintext to seal, or an empty `ikm` to extract from.
    #[error("an empty input")]
    Empty,
    /// More output than HKDF-Expand gives.
    #[error("too long an output")]
    TooLong,
    /// A tag, signature or HPKE ciphertext that does not check.
    #[error("does not authenticate")]
    Refused,
}

impl IntoAnyError for IdealError {
    fn into_dyn_error(self) -> Result<Box<dyn std::error::Error + Send + Sync>, Self> {
        Ok(Box::new(self))
    }
}

/// The ideal crypto provider of one MLS client: no cryptography, randomness from [`Entropy`].
#[derive(Clone, Debug)]
pub struct IdealCrypto {
    entropy: Entropy,
}

impl IdealCrypto {
    /// A provider drawing from `entropy`.
    #[must_use]
    pub fn new(entropy: Entropy) -> Self {
        Self { entropy }
    }
}

impl MlsCrypto for IdealCrypto {
    fn from_entropy(entropy: Entropy) -> Self {
        Self::new(entropy)
    }
}

impl CryptoProvider for IdealCrypto {
    type CipherSuiteProvider = IdealSuite;

    fn supported_cipher_suites(&self) -> Vec<CipherSuite> {
        SeededCrypto::SUITES.to_vec()
    }

    fn cipher_suite_provider(&self, cipher_suite: CipherSuite) -> Option<IdealSuite> {
        let aead_key_len = match cipher_suite {
            CipherSuite::CURVE25519_AES128 => 16,
            CipherSuite::CURVE25519_CHACHA => 32,
            _ => return None,
        };
        Some(IdealSuite {
            cipher_suite,
            aead_key_len,
            entropy: self.entropy.clone(),
        })
    }
}

/// One cipher suite of [`IdealCrypto`].
#[derive(Clone, Debug)]
pub struct IdealSuite {
    cipher_suite: CipherSuite,
    aead_key_len: usize,
    entropy: Entropy,
}

/// The tag of an ideal AEAD.
fn tag(key: &[u8], nonce: &[u8], aad: &[u8], plaintext: &[u8]) -> [u8; TAG_LEN] {
    let mut t = [0u8; TAG_LEN];
    mix(&[b"aead", key, nonce, aad, plaintext], &mut t);
    t
}

/// An ideal AEAD ciphertext: the plaintext, then its tag. Refuses an empty plaintext, as the
/// RustCrypto provider does.
fn seal(key: &[u8], nonce: &[u8], aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, IdealError> {
    if plaintext.is_empty() {
        return Err(IdealError::Empty);
    }
    let mut out = Vec::with_capacity(plaintext.len() + TAG_LEN);
    out.extend_from_slice(plaintext);
    out.extend_from_slice(&tag(key, nonce, aad, plaintext));
    Ok(out)
}

/// Opens [`seal`]'s output: refuses one no longer than a tag, as the RustCrypto provider does,
/// and any whose tag does not check.
fn open(
    key: &[u8],
    nonce: &[u8],
    aad: &[u8],
    ciphertext: &[u8],
) -> Result<Zeroizing<Vec<u8>>, IdealError> {
    if ciphertext.len() <= TAG_LEN {
        return Err(IdealError::Length);
    }
    let (plaintext, t) = ciphertext.split_at(ciphertext.len() - TAG_LEN);
    if tag(key, nonce, aad, plaintext) != t {
        return Err(IdealError::Refused);
    }
    Ok(Zeroizing::new(plaintext.to_vec()))
}

/// `len` octets of `mix(parts)`.
fn mixed(parts: &[&[u8]], len: usize) -> Vec<u8> {
    let mut out = vec![0u8; len];
    mix(parts, &mut out);
    out
}

/// The sequence number of an HPKE context, as the nonce of its next AEAD call.
fn sequence_nonce(seq: u64) -> [u8; NONCE_LEN] {
    let mut nonce = [0u8; NONCE_LEN];
    nonce[NONCE_LEN - 8..].copy_from_slice(&seq.to_be_bytes());
    nonce
}

/// An ideal HPKE context, sender's or recipient's: a key both sides compute, and the sequence
/// number of the next message.
#[derive(Clone)]
pub struct IdealHpkeContext {
    key: Zeroizing<[u8; HASH_LEN]>,
    seq: u64,
}

impl core::fmt::Debug for IdealHpkeContext {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("IdealHpkeContext")
            .field("seq", &self.seq)
            .finish_non_exhaustive()
    }
}

impl IdealHpkeContext {
    /// The context of `kem_output` for recipient key `dh_key` (the public key on the sender's
    /// side, the secret key on the recipient's: an ideal key pair's halves are equal) and public
    /// key `recipient` (RFC 9180's `kem_context` holds it).
    fn new(
        dh_key: &[u8],
        kem_output: &[u8],
        recipient: &[u8],
        info: &[u8],
        psk: Option<HpkePsk<'_>>,
    ) -> Self {
        let (psk_id, psk_value) = psk.map_or((&[][..], &[][..]), |p| (p.id, p.value));
        let mut key = Zeroizing::new([0u8; HASH_LEN]);
        mix(
            &[
                b"hpke", dh_key, kem_output, recipient, info, psk_id, psk_value,
            ],
            key.as_mut(),
        );
        Self { key, seq: 0 }
    }

    fn export_secret(&self, context: &[u8], len: usize) -> Result<Zeroizing<Vec<u8>>, IdealError> {
        if len > EXPAND_MAX {
            return Err(IdealError::TooLong);
        }
        Ok(Zeroizing::new(mixed(
            &[b"hpke export", self.key.as_ref(), context],
            len,
        )))
    }
}

impl HpkeContextS for IdealHpkeContext {
    type Error = IdealError;

    fn seal(&mut self, aad: Option<&[u8]>, data: &[u8]) -> Result<Vec<u8>, IdealError> {
        let out = seal(
            self.key.as_ref(),
            &sequence_nonce(self.seq),
            aad.unwrap_or_default(),
            data,
        )?;
        self.seq += 1;
        Ok(out)
    }

    fn export(&self, context: &[u8], len: usize) -> Result<Zeroizing<Vec<u8>>, IdealError> {
        self.export_secret(context, len)
    }
}

impl HpkeContextR for IdealHpkeContext {
    type Error = IdealError;

    fn open(
        &mut self,
        aad: Option<&[u8]>,
        ciphertext: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, IdealError> {
        let out = open(
            self.key.as_ref(),
            &sequence_nonce(self.seq),
            aad.unwrap_or_default(),
            ciphertext,
        )?;
        self.seq += 1;
        Ok(out)
    }

    fn export(&self, context: &[u8], len: usize) -> Result<Zeroizing<Vec<u8>>, IdealError> {
        self.export_secret(context, len)
    }
}

impl IdealSuite {
    /// A fresh ideal X25519 key pair: 32 drawn octets as both halves (the real provider draws
    /// the secret's 32 octets).
    fn kem_pair(&self) -> (HpkeSecretKey, HpkePublicKey) {
        let mut key = Zeroizing::new(vec![0u8; KEM_KEY_LEN]);
        self.entropy.fill(&mut key);
        (
            HpkeSecretKey::from(key.to_vec()),
            HpkePublicKey::from(key.to_vec()),
        )
    }

    fn setup_s(
        &self,
        remote_key: &HpkePublicKey,
        info: &[u8],
        psk: Option<HpkePsk<'_>>,
    ) -> Result<(Vec<u8>, IdealHpkeContext), IdealError> {
        // The real DH refuses a public key that is not 32 octets, after drawing the ephemeral.
        let (_, ephemeral) = self.kem_pair();
        if remote_key.len() != KEM_KEY_LEN {
            return Err(IdealError::Length);
        }
        let context = IdealHpkeContext::new(remote_key, &ephemeral, remote_key, info, psk);
        Ok((ephemeral.to_vec(), context))
    }

    fn setup_r(
        kem_output: &[u8],
        local_secret: &HpkeSecretKey,
        local_public: &HpkePublicKey,
        info: &[u8],
        psk: Option<HpkePsk<'_>>,
    ) -> Result<IdealHpkeContext, IdealError> {
        if kem_output.len() != KEM_KEY_LEN || local_secret.len() != KEM_KEY_LEN {
            return Err(IdealError::Length);
        }
        Ok(IdealHpkeContext::new(
            local_secret,
            kem_output,
            local_public,
            info,
            psk,
        ))
    }

    fn seal_to(
        &self,
        remote_key: &HpkePublicKey,
        info: &[u8],
        aad: Option<&[u8]>,
        pt: &[u8],
        psk: Option<HpkePsk<'_>>,
    ) -> Result<HpkeCiphertext, IdealError> {
        let (kem_output, mut context) = self.setup_s(remote_key, info, psk)?;
        let ciphertext = HpkeContextS::seal(&mut context, aad, pt)?;
        Ok(HpkeCiphertext {
            kem_output,
            ciphertext,
        })
    }

    fn open_from(
        ciphertext: &HpkeCiphertext,
        local_secret: &HpkeSecretKey,
        local_public: &HpkePublicKey,
        info: &[u8],
        aad: Option<&[u8]>,
        psk: Option<HpkePsk<'_>>,
    ) -> Result<Zeroizing<Vec<u8>>, IdealError> {
        let mut context = Self::setup_r(
            &ciphertext.kem_output,
            local_secret,
            local_public,
            info,
            psk,
        )?;
        HpkeContextR::open(&mut context, aad, &ciphertext.ciphertext)
    }

    fn check_aead_inputs(&self, key: &[u8], nonce: &[u8]) -> Result<(), IdealError> {
        if key.len() != self.aead_key_len || nonce.len() != NONCE_LEN {
            return Err(IdealError::Length);
        }
        Ok(())
    }
}

impl CipherSuiteProvider for IdealSuite {
    type Error = IdealError;
    type HpkeContextR = IdealHpkeContext;
    type HpkeContextS = IdealHpkeContext;

    fn cipher_suite(&self) -> CipherSuite {
        self.cipher_suite
    }

    fn hash(&self, data: &[u8]) -> Result<Vec<u8>, IdealError> {
        Ok(mixed(&[b"hash", data], HASH_LEN))
    }

    fn mac(&self, key: &[u8], data: &[u8]) -> Result<Vec<u8>, IdealError> {
        Ok(mixed(&[b"mac", key, data], HASH_LEN))
    }

    fn aead_seal(
        &self,
        key: &[u8],
        data: &[u8],
        aad: Option<&[u8]>,
        nonce: &[u8],
    ) -> Result<Vec<u8>, IdealError> {
        if data.is_empty() {
            return Err(IdealError::Empty);
        }
        self.check_aead_inputs(key, nonce)?;
        seal(key, nonce, aad.unwrap_or_default(), data)
    }

    fn aead_open(
        &self,
        key: &[u8],
        ciphertext: &[u8],
        aad: Option<&[u8]>,
        nonce: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, IdealError> {
        if ciphertext.len() <= TAG_LEN {
            return Err(IdealError::Length);
        }
        self.check_aead_inputs(key, nonce)?;
        open(key, nonce, aad.unwrap_or_default(), ciphertext)
    }

    fn aead_key_size(&self) -> usize {
        self.aead_key_len
    }

    fn aead_nonce_size(&self) -> usize {
        NONCE_LEN
    }

    fn kdf_extract(&self, salt: &[u8], ikm: &[u8]) -> Result<Zeroizing<Vec<u8>>, IdealError> {
        if ikm.is_empty() {
            return Err(IdealError::Empty);
        }
        Ok(Zeroizing::new(mixed(&[b"extract", salt, ikm], HASH_LEN)))
    }

    fn kdf_expand(
        &self,
        prk: &[u8],
        info: &[u8],
        len: usize,
    ) -> Result<Zeroizing<Vec<u8>>, IdealError> {
        if prk.len() < HASH_LEN {
            return Err(IdealError::Length);
        }
        if len > EXPAND_MAX {
            return Err(IdealError::TooLong);
        }
        Ok(Zeroizing::new(mixed(&[b"expand", prk, info], len)))
    }

    fn kdf_extract_size(&self) -> usize {
        HASH_LEN
    }

    fn hpke_seal(
        &self,
        remote_key: &HpkePublicKey,
        info: &[u8],
        aad: Option<&[u8]>,
        pt: &[u8],
    ) -> Result<HpkeCiphertext, IdealError> {
        self.seal_to(remote_key, info, aad, pt, None)
    }

    fn hpke_seal_psk(
        &self,
        remote_key: &HpkePublicKey,
        info: &[u8],
        aad: Option<&[u8]>,
        pt: &[u8],
        psk: HpkePsk<'_>,
    ) -> Result<HpkeCiphertext, IdealError> {
        self.seal_to(remote_key, info, aad, pt, Some(psk))
    }

    fn hpke_open(
        &self,
        ciphertext: &HpkeCiphertext,
        local_secret: &HpkeSecretKey,
        local_public: &HpkePublicKey,
        info: &[u8],
        aad: Option<&[u8]>,
    ) -> Result<Zeroizing<Vec<u8>>, IdealError> {
        Self::open_from(ciphertext, local_secret, local_public, info, aad, None)
    }

    fn hpke_open_psk(
        &self,
        ciphertext: &HpkeCiphertext,
        local_secret: &HpkeSecretKey,
        local_public: &HpkePublicKey,
        info: &[u8],
        aad: Option<&[u8]>,
        psk: HpkePsk<'_>,
    ) -> Result<Zeroizing<Vec<u8>>, IdealError> {
        Self::open_from(ciphertext, local_secret, local_public, info, aad, Some(psk))
    }

    fn hpke_setup_s(
        &self,
        remote_key: &HpkePublicKey,
        info: &[u8],
    ) -> Result<(Vec<u8>, IdealHpkeContext), IdealError> {
        self.setup_s(remote_key, info, None)
    }

    fn hpke_setup_r(
        &self,
        kem_output: &[u8],
        local_secret: &HpkeSecretKey,
        local_public: &HpkePublicKey,
        info: &[u8],
    ) -> Result<IdealHpkeContext, IdealError> {
        Self::setup_r(kem_output, local_secret, local_public, info, None)
    }

    fn kem_derive(&self, ikm: &[u8]) -> Result<(HpkeSecretKey, HpkePublicKey), IdealError> {
        let key = Zeroizing::new(mixed(&[b"kem derive", ikm], KEM_KEY_LEN));
        Ok((
            HpkeSecretKey::from(key.to_vec()),
            HpkePublicKey::from(key.to_vec()),
        ))
    }

    fn kem_generate(&self) -> Result<(HpkeSecretKey, HpkePublicKey), IdealError> {
        Ok(self.kem_pair())
    }

    fn kem_public_key_validate(&self, key: &HpkePublicKey) -> Result<(), IdealError> {
        // Every 32-octet string is an X25519 public key.
        if key.len() != KEM_KEY_LEN {
            return Err(IdealError::Length);
        }
        Ok(())
    }

    fn random_bytes(&self, out: &mut [u8]) -> Result<(), IdealError> {
        self.entropy.fill(out);
        Ok(())
    }

    fn sign(&self, secret_key: &SignatureSecretKey, data: &[u8]) -> Result<Vec<u8>, IdealError> {
        let public = self.signature_key_derive_public(secret_key)?;
        Ok(mixed(&[b"sign", &public, data], SIGNATURE_LEN))
    }

    fn verify(
        &self,
        public_key: &SignaturePublicKey,
        signature: &[u8],
        data: &[u8],
    ) -> Result<(), IdealError> {
        if public_key.as_bytes().len() != SIGNATURE_PUBLIC_LEN || signature.len() != SIGNATURE_LEN {
            return Err(IdealError::Length);
        }
        if mixed(&[b"sign", public_key.as_bytes(), data], SIGNATURE_LEN) != signature {
            return Err(IdealError::Refused);
        }
        Ok(())
    }

    fn signature_key_generate(
        &self,
    ) -> Result<(SignatureSecretKey, SignaturePublicKey), IdealError> {
        // As the real provider: 32 drawn octets; the secret is encoded as 64 (there, seed and
        // public key; here, the public key twice).
        let mut public = [0u8; SIGNATURE_PUBLIC_LEN];
        self.entropy.fill(&mut public);
        let secret = SignatureSecretKey::new([public, public].concat());
        Ok((secret, SignaturePublicKey::new(public.to_vec())))
    }

    fn signature_key_derive_public(
        &self,
        secret_key: &SignatureSecretKey,
    ) -> Result<SignaturePublicKey, IdealError> {
        let bytes = secret_key.as_bytes();
        if bytes.len() != SIGNATURE_SECRET_LEN {
            return Err(IdealError::Length);
        }
        let (first, second) = bytes.split_at(SIGNATURE_PUBLIC_LEN);
        // The real decoding refuses a keypair whose public half is not the seed's.
        if first != second {
            return Err(IdealError::Refused);
        }
        Ok(SignaturePublicKey::new(second.to_vec()))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::kd::mls::provider::SeededCrypto;
    use rand_chacha::rand_core::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    /// The real and the ideal suite `suite`, on streams of the same seed.
    fn suites(suite: CipherSuite) -> (impl CipherSuiteProvider, IdealSuite) {
        let mut r = ChaCha20Rng::seed_from_u64(u64::from(u16::from(suite)));
        let real = SeededCrypto::new(Entropy::new(&mut r.clone()))
            .cipher_suite_provider(suite)
            .unwrap();
        let ideal = IdealCrypto::new(Entropy::new(&mut r))
            .cipher_suite_provider(suite)
            .unwrap();
        (real, ideal)
    }

    #[test]
    fn every_output_has_the_real_providers_length() {
        for suite in SeededCrypto::SUITES {
            let (real, ideal) = suites(suite);
            assert_eq!(ideal.cipher_suite(), real.cipher_suite());
            assert_eq!(ideal.aead_key_size(), real.aead_key_size());
            assert_eq!(ideal.aead_nonce_size(), real.aead_nonce_size());
            assert_eq!(ideal.kdf_extract_size(), real.kdf_extract_size());
            for data in [&b""[..], b"x", &[7u8; 300]] {
                assert_eq!(
                    ideal.hash(data).unwrap().len(),
                    real.hash(data).unwrap().len()
                );
                assert_eq!(
                    ideal.mac(&[1; 32], data).unwrap().len(),
                    real.mac(&[1; 32], data).unwrap().len()
                );
                assert_eq!(
                    ideal.kdf_extract(data, b"ikm").unwrap().len(),
                    real.kdf_extract(data, b"ikm").unwrap().len()
                );
            }
            for len in [1, 16, 32, 33, 100, 255 * 32] {
                assert_eq!(
                    ideal.kdf_expand(&[2; 32], b"info", len).unwrap().len(),
                    real.kdf_expand(&[2; 32], b"info", len).unwrap().len()
                );
            }
            let key = vec![3u8; real.aead_key_size()];
            let nonce = [4u8; NONCE_LEN];
            for pt in [&b"a"[..], &[5u8; 1000]] {
                assert_eq!(
                    ideal
                        .aead_seal(&key, pt, Some(b"aad"), &nonce)
                        .unwrap()
                        .len(),
                    real.aead_seal(&key, pt, Some(b"aad"), &nonce)
                        .unwrap()
                        .len()
                );
            }
            let (rsk, rpk) = real.kem_generate().unwrap();
            let (isk, ipk) = ideal.kem_generate().unwrap();
            assert_eq!((isk.len(), ipk.len()), (rsk.len(), rpk.len()));
            let (rsk, rpk) = real.kem_derive(&[6; 32]).unwrap();
            let (isk, ipk) = ideal.kem_derive(&[6; 32]).unwrap();
            assert_eq!((isk.len(), ipk.len()), (rsk.len(), rpk.len()));
            for pt in [&b"p"[..], &[8u8; 77]] {
                let r = real.hpke_seal(&rpk, b"info", None, pt).unwrap();
                let i = ideal.hpke_seal(&ipk, b"info", None, pt).unwrap();
                assert_eq!(
                    (i.kem_output.len(), i.ciphertext.len()),
                    (r.kem_output.len(), r.ciphertext.len())
                );
                assert_eq!(i.ciphertext.len(), pt.len() + TAG_LEN);
            }
            let (rs, ri) = (
                real.hpke_setup_s(&rpk, b"i").unwrap(),
                ideal.hpke_setup_s(&ipk, b"i").unwrap(),
            );
            assert_eq!(rs.0.len(), ri.0.len());
            assert_eq!(
                rs.1.export(b"c", 42).unwrap().len(),
                HpkeContextS::export(&ri.1, b"c", 42).unwrap().len()
            );
            let (rsk, rpk) = real.signature_key_generate().unwrap();
            let (isk, ipk) = ideal.signature_key_generate().unwrap();
            assert_eq!(
                (isk.as_bytes().len(), ipk.as_bytes().len()),
                (rsk.as_bytes().len(), rpk.as_bytes().len())
            );
            assert_eq!(
                ideal.sign(&isk, b"m").unwrap().len(),
                real.sign(&rsk, b"m").unwrap().len()
            );
            assert_eq!(ideal.signature_key_derive_public(&isk).unwrap(), ipk);
            assert_eq!(ideal.random_bytes_vec(50).unwrap().len(), 50);
        }
    }

    #[test]
    fn draws_take_as_many_octets_from_the_stream_as_the_real_ones() {
        // After the same draws, both streams are at the same point: the next draw agrees.
        let (real, ideal) = suites(CipherSuite::CURVE25519_AES128);
        let (_, rpk) = real.kem_generate().unwrap();
        let (_, ipk) = ideal.kem_generate().unwrap();
        real.hpke_seal(&rpk, b"", None, b"x").unwrap();
        ideal.hpke_seal(&ipk, b"", None, b"x").unwrap();
        real.signature_key_generate().unwrap();
        ideal.signature_key_generate().unwrap();
        assert_eq!(
            real.random_bytes_vec(32).unwrap(),
            ideal.random_bytes_vec(32).unwrap()
        );
    }

    #[test]
    fn aead_round_trips_and_refuses_what_was_not_sealed() {
        let (_, s) = suites(CipherSuite::CURVE25519_CHACHA);
        let (key, nonce) = ([1u8; 32], [2u8; NONCE_LEN]);
        let ct = s.aead_seal(&key, b"hello", Some(b"ad"), &nonce).unwrap();
        assert_eq!(&ct[..5], b"hello");
        assert_eq!(
            s.aead_open(&key, &ct, Some(b"ad"), &nonce)
                .unwrap()
                .as_slice(),
            b"hello"
        );
        let mut other = key;
        other[0] ^= 1;
        assert_eq!(
            s.aead_open(&other, &ct, Some(b"ad"), &nonce),
            Err(IdealError::Refused)
        );
        assert!(s.aead_open(&key, &ct, Some(b"da"), &nonce).is_err());
        assert!(s.aead_open(&key, &ct, None, &nonce).is_err());
        assert!(s
            .aead_open(&key, &ct, Some(b"ad"), &[0; NONCE_LEN])
            .is_err());
        for i in 0..ct.len() {
            let mut bad = ct.clone();
            bad[i] ^= 0x80;
            assert!(s.aead_open(&key, &bad, Some(b"ad"), &nonce).is_err(), "{i}");
        }
        // Where the real AEAD refuses: wrong key length, empty plaintext, a bare tag.
        assert!(s.aead_seal(&[1; 16], b"x", None, &nonce).is_err());
        assert!(s.aead_seal(&key, b"", None, &nonce).is_err());
        assert!(s.aead_open(&key, &ct[..TAG_LEN], None, &nonce).is_err());
    }

    #[test]
    fn hpke_opens_only_for_the_key_pair_sealed_to() {
        let (_, s) = suites(CipherSuite::CURVE25519_AES128);
        let (sk, pk) = s.kem_generate().unwrap();
        let (sk2, pk2) = s.kem_generate().unwrap();
        let ct = s.hpke_seal(&pk, b"info", Some(b"aad"), b"secret").unwrap();
        let open = |sk: &HpkeSecretKey, pk: &HpkePublicKey, info: &[u8], aad: &[u8], ct| {
            s.hpke_open(ct, sk, pk, info, Some(aad))
        };
        assert_eq!(
            open(&sk, &pk, b"info", b"aad", &ct).unwrap().as_slice(),
            b"secret"
        );
        assert!(open(&sk2, &pk2, b"info", b"aad", &ct).is_err());
        assert!(open(&sk2, &pk, b"info", b"aad", &ct).is_err());
        assert!(open(&sk, &pk2, b"info", b"aad", &ct).is_err());
        assert!(open(&sk, &pk, b"other", b"aad", &ct).is_err());
        assert!(open(&sk, &pk, b"info", b"", &ct).is_err());
        let mut bad = ct.clone();
        bad.kem_output[3] ^= 1;
        assert!(open(&sk, &pk, b"info", b"aad", &bad).is_err());
        let mut bad = ct.clone();
        bad.ciphertext[0] ^= 1;
        assert!(open(&sk, &pk, b"info", b"aad", &bad).is_err());
        // A key pair derived from the same ikm opens; PSK mode needs the same PSK.
        let (dsk, dpk) = s.kem_derive(b"path secret").unwrap();
        assert_eq!(s.kem_derive(b"path secret").unwrap().1, dpk);
        let (value, other) = ([9u8; 32], [8u8; 32]);
        let psk = || HpkePsk::new(b"id", &value);
        let ct = s.hpke_seal_psk(&dpk, b"", None, b"m", psk()).unwrap();
        assert!(s.hpke_open_psk(&ct, &dsk, &dpk, b"", None, psk()).is_ok());
        let wrong = HpkePsk::new(b"id", &other);
        assert!(s.hpke_open_psk(&ct, &dsk, &dpk, b"", None, wrong).is_err());
        assert!(s.hpke_open(&ct, &dsk, &dpk, b"", None).is_err());
        // Contexts: messages in order, the same exports on both sides.
        let (enc, mut sender) = s.hpke_setup_s(&pk, b"ctx").unwrap();
        let mut receiver = s.hpke_setup_r(&enc, &sk, &pk, b"ctx").unwrap();
        let (c0, c1) = (
            sender.seal(None, b"m0").unwrap(),
            sender.seal(None, b"m1").unwrap(),
        );
        assert!(receiver.open(None, &c1).is_err());
        assert_eq!(receiver.open(None, &c0).unwrap().as_slice(), b"m0");
        assert_eq!(receiver.open(None, &c1).unwrap().as_slice(), b"m1");
        assert_eq!(
            HpkeContextS::export(&sender, b"e", 32).unwrap(),
            HpkeContextR::export(&receiver, b"e", 32).unwrap()
        );
        assert!(s
            .hpke_setup_s(&HpkePublicKey::from(vec![0; 31]), b"")
            .is_err());
    }

    #[test]
    fn signatures_verify_only_under_their_key_and_data() {
        let (_, s) = suites(CipherSuite::CURVE25519_AES128);
        let (sk, pk) = s.signature_key_generate().unwrap();
        let (_, pk2) = s.signature_key_generate().unwrap();
        let sig = s.sign(&sk, b"data").unwrap();
        assert!(s.verify(&pk, &sig, b"data").is_ok());
        assert_eq!(s.verify(&pk2, &sig, b"data"), Err(IdealError::Refused));
        assert!(s.verify(&pk, &sig, b"dat").is_err());
        let mut bad = sig.clone();
        bad[63] ^= 1;
        assert!(s.verify(&pk, &bad, b"data").is_err());
        assert_eq!(s.verify(&pk, &sig[..63], b"data"), Err(IdealError::Length));
        let mut mismatched = sk.as_bytes().to_vec();
        mismatched[0] ^= 1;
        assert!(s
            .sign(&SignatureSecretKey::new(mismatched), b"data")
            .is_err());
    }

    #[test]
    fn the_kdf_refuses_what_hkdf_refuses() {
        let (real, ideal) = suites(CipherSuite::CURVE25519_AES128);
        assert!(
            real.kdf_extract(b"salt", b"").is_err() && ideal.kdf_extract(b"salt", b"").is_err()
        );
        assert!(real.kdf_expand(&[0; 31], b"", 8).is_err());
        assert!(ideal.kdf_expand(&[0; 31], b"", 8).is_err());
        assert!(real.kdf_expand(&[0; 32], b"", 255 * 32 + 1).is_err());
        assert!(ideal.kdf_expand(&[0; 32], b"", 255 * 32 + 1).is_err());
        assert_ne!(
            ideal.kdf_expand(&[0; 32], b"a", 32).unwrap(),
            ideal.kdf_expand(&[0; 32], b"b", 32).unwrap()
        );
    }
}
