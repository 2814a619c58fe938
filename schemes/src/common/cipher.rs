//! The cipher provider: the symmetric primitives the history and search schemes and the
//! back-chain use, behind one trait, so that a scheme runs either with its cryptography
//! ([`Real`]) or as its model ([`crate::model::ideal_cipher::Ideal`]).
//!
//! # Source
//!
//! The provider pattern of RustCrypto's `aead` and `digest` traits: a scheme is written against
//! a trait and instantiated with an implementation. The real primitives are those of
//! [`super::aead`] (ChaCha20-Poly1305 for single-use keys, XChaCha20-Poly1305 for shared keys),
//! HKDF-SHA-256 (RFC 5869), HMAC-SHA-256 (RFC 2104) and SHA-256 (FIPS 180-4).
//!
//! # Construction
//!
//! [`SymmetricCipher`] names, for one provider: the single-use AEAD ([`SymmetricCipher::seal_once`],
//! [`SymmetricCipher::open_once`]), the shared-key AEAD ([`SymmetricCipher::SharedKey`], with the
//! nonce layout of [`super::aead::SharedKey`]: a 16-byte prefix drawn once per sealer and a
//! 64-bit count), the key schedule of an epoch secret ([`SymmetricCipher::derive`], what
//! [`EpochSecret::derive`] computes), HKDF-SHA-256 expand of a 32-byte key
//! ([`SymmetricCipher::hkdf`]), HKDF over SHA-256 or SHA-512 of any input to any length
//! ([`SymmetricCipher::hkdf_into`], for the group schemes' derivations), a PRF keyed once and
//! applied to many inputs ([`SymmetricCipher::prf`], HMAC-SHA-256) and an unkeyed hash
//! ([`SymmetricCipher::hash`], SHA-256). [`Real`] calls exactly the code the schemes called
//! before the trait existed, so its outputs, and its draws from the random generator, are
//! unchanged.
//!
//! # Costs
//!
//! None of its own: the schemes are generic over the provider, so [`Real`]'s calls are
//! monomorphised to direct calls of the primitives (the instruction-count gate checks this).
//!
//! # Security
//!
//! [`Real`]'s is that of the primitives: IND-CCA2 AEADs (see [`super::aead`]), HKDF-SHA-256 as
//! a KDF, HMAC-SHA-256 as a PRF and SHA-256 as a collision-resistant hash. Failures are opaque
//! ([`SchemeError::Crypto`]) under every provider, so a scheme cannot tell which provider it
//! runs on from an error.
//!
//! # Weaknesses
//!
//! A scheme instantiated with the ideal provider has no security at all; only the registry's
//! models ([`crate::model`]) use it, and only under the `model` cost mode.
//!
//! # Side channels
//!
//! [`Real`]'s are those of the RustCrypto primitives: constant time.

use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256, Sha512};

use super::aead::{self, SharedKey, SHARED_NONCE_LEN};
use crate::{CryptoRngCore, Epoch, EpochSecret, Label, RoomId, SchemeError};

/// A shared-key AEAD: a key many members seal under, each with its own nonce prefix.
pub trait SharedAead: Send + Sync + core::fmt::Debug {
    /// Seals `plaintext` under this sealer's next nonce: the nonce, and body ‖ tag.
    ///
    /// # Errors
    /// [`SchemeError::Internal`] only for a plaintext beyond the AEAD's limit.
    fn seal(
        &mut self,
        aad: &[u8],
        plaintext: &[u8],
        rng: &mut dyn CryptoRngCore,
    ) -> Result<([u8; SHARED_NONCE_LEN], Vec<u8>), SchemeError>;

    /// Opens what a seal under the same key made with `nonce`.
    ///
    /// # Errors
    /// [`SchemeError::Crypto`] if anything differs from what was sealed.
    fn open(
        &mut self,
        nonce: &[u8; SHARED_NONCE_LEN],
        aad: &[u8],
        ciphertext: &[u8],
    ) -> Result<Vec<u8>, SchemeError>;

    /// The same key for another sealer, which draws its own nonce prefix (a copy of this
    /// sealer's state would repeat nonces).
    #[must_use]
    fn for_another_sealer(&self) -> Self
    where
        Self: Sized;
}

/// The hash an HKDF runs over ([`SymmetricCipher::hkdf_into`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HkdfHash {
    /// HKDF-SHA-256.
    Sha256,
    /// HKDF-SHA-512.
    Sha512,
}

impl SharedAead for SharedKey {
    #[inline]
    fn seal(
        &mut self,
        aad: &[u8],
        plaintext: &[u8],
        rng: &mut dyn CryptoRngCore,
    ) -> Result<([u8; SHARED_NONCE_LEN], Vec<u8>), SchemeError> {
        SharedKey::seal(self, aad, plaintext, rng)
    }

    #[inline]
    fn open(
        &mut self,
        nonce: &[u8; SHARED_NONCE_LEN],
        aad: &[u8],
        ciphertext: &[u8],
    ) -> Result<Vec<u8>, SchemeError> {
        SharedKey::open(self, nonce, aad, ciphertext)
    }

    #[inline]
    fn for_another_sealer(&self) -> Self {
        SharedKey::for_another_sealer(self)
    }
}

/// The symmetric primitives of the history and search schemes, from one provider.
pub trait SymmetricCipher: Copy + Default + core::fmt::Debug + Send + Sync + 'static {
    /// A key many members seal under ([`super::aead::SharedKey`]'s layout).
    type SharedKey: SharedAead;
    /// A PRF key, set once and applied to many inputs.
    type Prf: Clone + Send + Sync;

    /// Seals `plaintext` under a key that seals nothing else: body ‖ tag.
    ///
    /// # Errors
    /// [`SchemeError::Internal`] only for a plaintext beyond the AEAD's limit.
    fn seal_once(key: &[u8; 32], aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, SchemeError>;

    /// Opens what [`seal_once`](Self::seal_once) sealed.
    ///
    /// # Errors
    /// [`SchemeError::Crypto`] if the key, the associated data or the ciphertext differs.
    fn open_once(key: &[u8; 32], aad: &[u8], ciphertext: &[u8]) -> Result<Vec<u8>, SchemeError>;

    /// The shared-key cipher of `key`.
    fn shared_key(key: &[u8; 32]) -> Self::SharedKey;

    /// The key of `label` derived from an epoch secret, bound to `room` and `epoch` (under
    /// [`Real`], [`EpochSecret::derive`]).
    fn derive(secret: &EpochSecret, label: Label, room: RoomId, epoch: Epoch) -> [u8; 32];

    /// 32 bytes expanded from the 32-byte key `ikm` under the concatenation of `info`
    /// (HKDF-SHA-256 with no salt under [`Real`]).
    fn hkdf(ikm: &[u8; 32], info: &[&[u8]]) -> [u8; 32];

    /// [`hkdf`](Self::hkdf) of `ikm` under each of `infos`, in order; a provider may share the
    /// extraction between them (under [`Real`], one HKDF-Extract for all).
    fn hkdf_each<const N: usize>(ikm: &[u8; 32], infos: [&[&[u8]]; N]) -> [[u8; 32]; N] {
        infos.map(|info| Self::hkdf(ikm, info))
    }

    /// Fills `out` with HKDF over `hash`, with no salt, of the key material `ikm` under the
    /// concatenation of `info` (under [`Real`], exactly RustCrypto's `hkdf`).
    ///
    /// # Errors
    /// [`SchemeError::Internal`] if `out` is longer than the HKDF's limit (255 hash lengths).
    fn hkdf_into(
        hash: HkdfHash,
        ikm: &[u8],
        info: &[&[u8]],
        out: &mut [u8],
    ) -> Result<(), SchemeError>;

    /// The PRF keyed with `key`.
    fn prf_key(key: &[u8; 32]) -> Self::Prf;

    /// The PRF of `input` under `key` (HMAC-SHA-256 under [`Real`]).
    fn prf(key: &Self::Prf, input: &[u8]) -> [u8; 32];

    /// The hash of the concatenation of `parts` (SHA-256 under [`Real`]).
    fn hash(parts: &[&[u8]]) -> [u8; 32];
}

/// The real primitives: exactly what the schemes computed before the provider existed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Real;

impl SymmetricCipher for Real {
    type SharedKey = SharedKey;
    type Prf = Hmac<Sha256>;

    #[inline]
    fn seal_once(key: &[u8; 32], aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, SchemeError> {
        aead::seal_once(key, aad, plaintext)
    }

    #[inline]
    fn open_once(key: &[u8; 32], aad: &[u8], ciphertext: &[u8]) -> Result<Vec<u8>, SchemeError> {
        aead::open_once(key, aad, ciphertext)
    }

    #[inline]
    fn shared_key(key: &[u8; 32]) -> SharedKey {
        SharedKey::new(key)
    }

    #[inline]
    fn derive(secret: &EpochSecret, label: Label, room: RoomId, epoch: Epoch) -> [u8; 32] {
        secret.derive(label, room, epoch)
    }

    #[inline]
    fn hkdf(ikm: &[u8; 32], info: &[&[u8]]) -> [u8; 32] {
        let [out] = Self::hkdf_each(ikm, [info]);
        out
    }

    #[inline]
    fn hkdf_each<const N: usize>(ikm: &[u8; 32], infos: [&[&[u8]]; N]) -> [[u8; 32]; N] {
        let prk = Hkdf::<Sha256>::new(None, ikm);
        infos.map(|info| {
            let mut out = [0u8; 32];
            // 32 bytes is far below HKDF-SHA-256's limit, so expand cannot fail.
            if prk.expand_multi_info(info, &mut out).is_err() {
                unreachable!("HKDF output length 32 is always valid");
            }
            out
        })
    }

    #[inline]
    fn hkdf_into(
        hash: HkdfHash,
        ikm: &[u8],
        info: &[&[u8]],
        out: &mut [u8],
    ) -> Result<(), SchemeError> {
        let expanded = match hash {
            HkdfHash::Sha256 => Hkdf::<Sha256>::new(None, ikm).expand_multi_info(info, out),
            HkdfHash::Sha512 => Hkdf::<Sha512>::new(None, ikm).expand_multi_info(info, out),
        };
        expanded.map_err(|_| SchemeError::Internal("HKDF output too long"))
    }

    #[inline]
    fn prf_key(key: &[u8; 32]) -> Hmac<Sha256> {
        // HMAC takes keys of any length, so this cannot fail.
        <Hmac<Sha256> as Mac>::new_from_slice(key)
            .unwrap_or_else(|_| unreachable!("HMAC accepts 32-byte keys"))
    }

    #[inline]
    fn prf(key: &Hmac<Sha256>, input: &[u8]) -> [u8; 32] {
        let mut mac = key.clone();
        mac.update(input);
        mac.finalize().into_bytes().into()
    }

    #[inline]
    fn hash(parts: &[&[u8]]) -> [u8; 32] {
        parts
            .iter()
            .fold(Sha256::new(), |digest, part| digest.chain_update(part))
            .finalize()
            .into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `hkdf_into` is RustCrypto's HKDF: over SHA-256 at 32 bytes it is [`Real::hkdf`], over
    /// SHA-512 it reads `info` as one string, and both refuse more than 255 hash lengths.
    /// One extraction for several expansions gives what one HKDF per info gives.
    #[test]
    fn real_hkdf_each_is_hkdf_of_each() {
        let ikm = [9u8; 32];
        let [a, b] = Real::hkdf_each(&ikm, [&[b"one"], &[b"tw", b"o"]]);
        assert_eq!(a, Real::hkdf(&ikm, &[b"one"]));
        assert_eq!(b, Real::hkdf(&ikm, &[b"two"]));
        assert_ne!(a, b);
    }

    #[test]
    fn real_hkdf_into_is_rustcrypto_hkdf() {
        let ikm = [7u8; 32];
        let info: [&[u8]; 2] = [b"a", b"bc"];
        let mut out = [0u8; 32];
        Real::hkdf_into(HkdfHash::Sha256, &ikm, &info, &mut out).unwrap();
        assert_eq!(out, Real::hkdf(&ikm, &info));
        let mut wide = [0u8; 64];
        Real::hkdf_into(HkdfHash::Sha512, &ikm, &info, &mut wide).unwrap();
        let mut expected = [0u8; 64];
        Hkdf::<Sha512>::new(None, &ikm)
            .expand(b"abc", &mut expected)
            .unwrap();
        assert_eq!(wide, expected);
        let mut too_long = vec![0u8; 255 * 32 + 1];
        assert!(Real::hkdf_into(HkdfHash::Sha256, &ikm, &info, &mut too_long).is_err());
    }
}
