//! A crypto provider for mls-rs whose every random draw comes from the scheme's `rng` argument.
//!
//! mls-rs draws randomness in two places: the cipher suite's `random_bytes` (path secrets,
//! init secrets, nonces' reuse guards, key-package init keys through `kem_generate`) and key
//! generation (HPKE ephemeral keys inside `hpke_seal`, signature keys). The RustCrypto
//! provider takes both from the operating system. [`SeededCrypto`] keeps its primitives
//! (hash, HKDF, AEAD, HPKE, Ed25519, X25519 arithmetic) and replaces those two sources with an
//! [`Entropy`] stream: a ChaCha20 generator that the scheme reseeds from its `rng` argument at
//! the start of every call into mls-rs ([`Entropy::reseed`]). So a run with a seeded `rng` is
//! byte-for-byte repeatable, and no draw ever reaches the operating system.
//!
//! Only the X25519/Ed25519 suites are offered (1, `CURVE25519_AES128`, and 3,
//! `CURVE25519_CHACHA`): their secret keys are uniform byte strings, so drawing them from the
//! stream needs no rejection sampling.

use std::sync::{Arc, Mutex, PoisonError};

use mls_rs::crypto::{
    HpkeCiphertext, HpkePsk, HpkePublicKey, HpkeSecretKey, SignaturePublicKey, SignatureSecretKey,
};
use mls_rs::{CipherSuite, CipherSuiteProvider, CryptoProvider};
use mls_rs_crypto_hpke::dhkem::DhKem;
use mls_rs_crypto_rustcrypto::{aead::Aead, ecdh::Ecdh, kdf::Kdf, RustCryptoCipherSuite};
use mls_rs_crypto_traits::{DhType, KemId, SamplingMethod};
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use zeroize::Zeroizing;

use crate::CryptoRngCore;

/// The stream every random draw of one MLS client comes from; clones share it.
#[derive(Clone)]
pub struct Entropy(Arc<Mutex<ChaCha20Rng>>);

impl core::fmt::Debug for Entropy {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Entropy")
    }
}

impl Entropy {
    /// A stream seeded from `rng`.
    pub fn new(rng: &mut dyn CryptoRngCore) -> Self {
        let e = Self(Arc::new(Mutex::new(ChaCha20Rng::from_seed([0; 32]))));
        e.reseed(rng);
        e
    }

    /// Restarts the stream from 32 bytes of `rng`: called before every use of mls-rs, so what
    /// the library draws is a function of the caller's `rng` alone.
    pub fn reseed(&self, rng: &mut dyn CryptoRngCore) {
        let mut seed = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(seed.as_mut());
        *self.lock() = ChaCha20Rng::from_seed(*seed);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ChaCha20Rng> {
        // A panic while holding the lock cannot leave a ChaCha state half-written.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Fills `out` from the stream.
    pub(crate) fn fill(&self, out: &mut [u8]) {
        self.lock().fill_bytes(out);
    }
}

/// A crypto provider the `mls` scheme can run on: one built on an [`Entropy`] stream, from which
/// it takes every random draw. [`SeededCrypto`] is the scheme's; the scheme's model runs on
/// [`IdealCrypto`](crate::model::mls::IdealCrypto), which computes no cryptography.
pub trait MlsCrypto: CryptoProvider + Clone + core::fmt::Debug + 'static {
    /// A provider drawing from `entropy`.
    fn from_entropy(entropy: Entropy) -> Self;
}

impl MlsCrypto for SeededCrypto {
    fn from_entropy(entropy: Entropy) -> Self {
        Self::new(entropy)
    }
}

/// X25519 whose fresh key pairs come from an [`Entropy`] stream (HPKE ephemeral keys and
/// key-package init and leaf keys); everything else is the RustCrypto provider's.
#[derive(Clone, Debug)]
pub struct SeededX25519 {
    inner: Ecdh,
    entropy: Entropy,
}

impl DhType for SeededX25519 {
    type Error = <Ecdh as DhType>::Error;

    fn dh(
        &self,
        secret_key: &HpkeSecretKey,
        public_key: &HpkePublicKey,
    ) -> Result<Vec<u8>, Self::Error> {
        self.inner.dh(secret_key, public_key)
    }

    fn generate(&self) -> Result<(HpkeSecretKey, HpkePublicKey), Self::Error> {
        let mut secret = Zeroizing::new(vec![0u8; self.inner.secret_key_size()]);
        self.entropy.fill(&mut secret);
        let secret = HpkeSecretKey::from(secret.to_vec());
        let public = self.inner.to_public(&secret)?;
        Ok((secret, public))
    }

    fn to_public(&self, secret_key: &HpkeSecretKey) -> Result<HpkePublicKey, Self::Error> {
        self.inner.to_public(secret_key)
    }

    fn bitmask_for_rejection_sampling(&self) -> SamplingMethod {
        self.inner.bitmask_for_rejection_sampling()
    }

    fn secret_key_size(&self) -> usize {
        self.inner.secret_key_size()
    }

    fn public_key_size(&self) -> usize {
        self.inner.public_key_size()
    }

    fn public_key_validate(&self, key: &HpkePublicKey) -> Result<(), Self::Error> {
        self.inner.public_key_validate(key)
    }
}

type Inner = RustCryptoCipherSuite<DhKem<SeededX25519, Kdf>, Kdf, Aead>;

/// One cipher suite of [`SeededCrypto`].
#[derive(Clone)]
pub struct SeededSuite {
    inner: Inner,
    entropy: Entropy,
}

impl core::fmt::Debug for SeededSuite {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SeededSuite")
            .field("cipher_suite", &self.inner.cipher_suite())
            .finish_non_exhaustive()
    }
}

/// The crypto provider of one MLS client: RustCrypto primitives, randomness from [`Entropy`].
#[derive(Clone, Debug)]
pub struct SeededCrypto {
    entropy: Entropy,
}

impl SeededCrypto {
    /// The cipher suites offered: those whose keys are X25519 and Ed25519.
    pub const SUITES: [CipherSuite; 2] = [
        CipherSuite::CURVE25519_AES128,
        CipherSuite::CURVE25519_CHACHA,
    ];

    /// A provider drawing from `entropy`.
    #[must_use]
    pub fn new(entropy: Entropy) -> Self {
        Self { entropy }
    }
}

impl CryptoProvider for SeededCrypto {
    type CipherSuiteProvider = SeededSuite;

    fn supported_cipher_suites(&self) -> Vec<CipherSuite> {
        Self::SUITES.to_vec()
    }

    fn cipher_suite_provider(&self, cipher_suite: CipherSuite) -> Option<SeededSuite> {
        if !Self::SUITES.contains(&cipher_suite) {
            return None;
        }
        let kdf = Kdf::new(cipher_suite)?;
        let dh = SeededX25519 {
            inner: Ecdh::new(cipher_suite)?,
            entropy: self.entropy.clone(),
        };
        let kem_id = KemId::new(cipher_suite)?;
        let kem = DhKem::new(dh, kdf, kem_id as u16, kem_id.n_secret());
        let inner = RustCryptoCipherSuite::new(cipher_suite, kem, kdf, Aead::new(cipher_suite)?)?;
        Some(SeededSuite {
            inner,
            entropy: self.entropy.clone(),
        })
    }
}

impl CipherSuiteProvider for SeededSuite {
    type Error = <Inner as CipherSuiteProvider>::Error;
    type HpkeContextR = <Inner as CipherSuiteProvider>::HpkeContextR;
    type HpkeContextS = <Inner as CipherSuiteProvider>::HpkeContextS;

    fn cipher_suite(&self) -> CipherSuite {
        self.inner.cipher_suite()
    }

    fn hash(&self, data: &[u8]) -> Result<Vec<u8>, Self::Error> {
        self.inner.hash(data)
    }

    fn mac(&self, key: &[u8], data: &[u8]) -> Result<Vec<u8>, Self::Error> {
        self.inner.mac(key, data)
    }

    fn aead_seal(
        &self,
        key: &[u8],
        data: &[u8],
        aad: Option<&[u8]>,
        nonce: &[u8],
    ) -> Result<Vec<u8>, Self::Error> {
        self.inner.aead_seal(key, data, aad, nonce)
    }

    fn aead_open(
        &self,
        key: &[u8],
        ciphertext: &[u8],
        aad: Option<&[u8]>,
        nonce: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, Self::Error> {
        self.inner.aead_open(key, ciphertext, aad, nonce)
    }

    fn aead_key_size(&self) -> usize {
        self.inner.aead_key_size()
    }

    fn aead_nonce_size(&self) -> usize {
        self.inner.aead_nonce_size()
    }

    fn kdf_extract(&self, salt: &[u8], ikm: &[u8]) -> Result<Zeroizing<Vec<u8>>, Self::Error> {
        self.inner.kdf_extract(salt, ikm)
    }

    fn kdf_expand(
        &self,
        prk: &[u8],
        info: &[u8],
        len: usize,
    ) -> Result<Zeroizing<Vec<u8>>, Self::Error> {
        self.inner.kdf_expand(prk, info, len)
    }

    fn kdf_extract_size(&self) -> usize {
        self.inner.kdf_extract_size()
    }

    fn hpke_seal(
        &self,
        remote_key: &HpkePublicKey,
        info: &[u8],
        aad: Option<&[u8]>,
        pt: &[u8],
    ) -> Result<HpkeCiphertext, Self::Error> {
        self.inner.hpke_seal(remote_key, info, aad, pt)
    }

    fn hpke_seal_psk(
        &self,
        remote_key: &HpkePublicKey,
        info: &[u8],
        aad: Option<&[u8]>,
        pt: &[u8],
        psk: HpkePsk<'_>,
    ) -> Result<HpkeCiphertext, Self::Error> {
        self.inner.hpke_seal_psk(remote_key, info, aad, pt, psk)
    }

    fn hpke_open(
        &self,
        ciphertext: &HpkeCiphertext,
        local_secret: &HpkeSecretKey,
        local_public: &HpkePublicKey,
        info: &[u8],
        aad: Option<&[u8]>,
    ) -> Result<Zeroizing<Vec<u8>>, Self::Error> {
        self.inner
            .hpke_open(ciphertext, local_secret, local_public, info, aad)
    }

    fn hpke_open_psk(
        &self,
        ciphertext: &HpkeCiphertext,
        local_secret: &HpkeSecretKey,
        local_public: &HpkePublicKey,
        info: &[u8],
        aad: Option<&[u8]>,
        psk: HpkePsk<'_>,
    ) -> Result<Zeroizing<Vec<u8>>, Self::Error> {
        self.inner
            .hpke_open_psk(ciphertext, local_secret, local_public, info, aad, psk)
    }

    fn hpke_setup_s(
        &self,
        remote_key: &HpkePublicKey,
        info: &[u8],
    ) -> Result<(Vec<u8>, Self::HpkeContextS), Self::Error> {
        self.inner.hpke_setup_s(remote_key, info)
    }

    fn hpke_setup_r(
        &self,
        kem_output: &[u8],
        local_secret: &HpkeSecretKey,
        local_public: &HpkePublicKey,
        info: &[u8],
    ) -> Result<Self::HpkeContextR, Self::Error> {
        self.inner
            .hpke_setup_r(kem_output, local_secret, local_public, info)
    }

    fn kem_derive(&self, ikm: &[u8]) -> Result<(HpkeSecretKey, HpkePublicKey), Self::Error> {
        self.inner.kem_derive(ikm)
    }

    fn kem_generate(&self) -> Result<(HpkeSecretKey, HpkePublicKey), Self::Error> {
        self.inner.kem_generate()
    }

    fn kem_public_key_validate(&self, key: &HpkePublicKey) -> Result<(), Self::Error> {
        self.inner.kem_public_key_validate(key)
    }

    fn random_bytes(&self, out: &mut [u8]) -> Result<(), Self::Error> {
        self.entropy.fill(out);
        Ok(())
    }

    fn sign(&self, secret_key: &SignatureSecretKey, data: &[u8]) -> Result<Vec<u8>, Self::Error> {
        self.inner.sign(secret_key, data)
    }

    fn verify(
        &self,
        public_key: &SignaturePublicKey,
        signature: &[u8],
        data: &[u8],
    ) -> Result<(), Self::Error> {
        self.inner.verify(public_key, signature, data)
    }

    fn signature_key_generate(
        &self,
    ) -> Result<(SignatureSecretKey, SignaturePublicKey), Self::Error> {
        // Ed25519 (both offered suites): the secret is a uniform 32-byte seed; the provider
        // stores it as the 64-byte keypair encoding (seed || public key).
        let mut seed = Zeroizing::new([0u8; 32]);
        self.entropy.fill(seed.as_mut());
        let signing = ed25519_dalek::SigningKey::from_bytes(&seed);
        let secret = SignatureSecretKey::new(signing.to_keypair_bytes().to_vec());
        let public = SignaturePublicKey::new(signing.verifying_key().to_bytes().to_vec());
        Ok((secret, public))
    }

    fn signature_key_derive_public(
        &self,
        secret_key: &SignatureSecretKey,
    ) -> Result<SignaturePublicKey, Self::Error> {
        self.inner.signature_key_derive_public(secret_key)
    }
}
