//! The AFGH algebra on BLS12-381, in KEM form: epoch keys, capsules, re-keys, re-encryption.
//!
//! Type-3 adaptation of Ateniese–Fu–Green–Hohenberger's key-optimal scheme (NDSS 2005, §3.2;
//! research/pre.md §1.2 (c)), with `e: G_1 × G_2 → G_T`, generators `g_1`, `g_2` and
//! `Z = e(g_1, g_2)`:
//!
//! | operation | definition | cost |
//! |---|---|---|
//! | key of epoch `e` | `a_e ∈ Fr \ {0}` from HKDF of the epoch secret; `pk_1 = g_1^a`, `pk_2 = g_2^a` | one inversion (keys are cached lazily) |
//! | [`Capsule::encapsulate`] | `r ←$ Fr*`; capsule `α = pk_1^r ∈ G_1`; secret `Z^r` | one `G_1` and one `G_T` exponentiation |
//! | [`EpochKey::decapsulate_second`] | `Z^r = e(α, g_2^{1/a})`, `g_2^{1/a}` prepared once per epoch | one prepared pairing |
//! | [`Rekey::between`] | `rk_{j→K} = pk_{2,K}^{1/a_j} = g_2^{a_K/a_j} ∈ G_2` | one `G_2` exponentiation |
//! | [`Rekey::compose`] | `rk_{j→K} = rk_{j→t}^{a_K/a_t}` (needs `a_t`, `a_K`, not `a_j`) | one `G_2` exponentiation |
//! | [`PreparedRekey::reencrypt`] | `α' = e(α, rk_{j→K}) = Z^{a_K r} ∈ G_T` | one pairing with a prepared `G_2` point |
//! | [`EpochKey::decapsulate_first`] | `Z^r = α'^{1/a_K}` | one `G_T` exponentiation |
//!
//! The KEM secret `Z^r` is turned into symmetric keys by HKDF-SHA-256 over its 576-byte
//! encoding, with the caller's context (room, message or key id, the capsule itself) as `info`
//! ([`SharedSecret::derive_key`]).
//!
//! Encodings are arkworks' compressed ones: capsule 48 B ([`G1_LEN`]), re-key 96 B
//! ([`G2_LEN`]), re-encrypted capsule 576 B ([`GT_LEN`]; arkworks does not torus-compress
//! `F_{q^12}`). Every decoder checks the point is on the curve and in the prime-order subgroup
//! (for `G_T`, `x^r = 1`, about one pairing's cost) and rejects the identity, whose secret
//! anybody could compute: bad encodings are [`SchemeError::Malformed`].
//!
//! Security (eDBDH-style assumption in the Type-3 setting): a second-level capsule under `pk_1`
//! opens only with `a` or the "weak secret" `g_2^{1/a}`; a re-encrypted capsule only with `a_K`.
//! A re-key `g_2^{a_K/a_j}` together with `a_j` gives `pk_{2,K}` (public anyway), together with
//! `a_K` gives `g_2^{1/a_j}` (opens epoch `j`'s second-level capsules), never `a_K` or
//! `g_2^{1/a_K}` from `a_j`: unidirectional and safe for the delegatee's secret. Single hop:
//! an element of `G_T` cannot be re-encrypted again.
//!
//! The algebra is generic over its groups ([`PairingGroups`]): BLS12-381 ([`Bls12`], the
//! default) for the schemes, its exponents ([`Exponents`](super::groups::Exponents)) for their
//! models. Its HKDF is the groups' cipher provider's ([`PairingGroups::Cipher`]): the real one
//! with BLS12-381, the ideal one with the exponents, so a model runs no cryptography.
//!
//! **Not constant time.** arkworks 0.5 makes no constant-time claims: scalar multiplications by
//! `r` and by key ratios, the `G_T` exponentiation by `1/a` and the pairings may leak their
//! scalars through timing. Acceptable for a simulation, not for deployment.

use std::sync::OnceLock;

use ark_bls12_381::Fr;
use ark_ff::{Field, PrimeField, Zero};
use zeroize::{Zeroize, ZeroizeOnDrop};

pub use super::groups::{Bls12, PairingGroups, G1_LEN, G2_LEN, GT_LEN};
use crate::common::cipher::{HkdfHash, SymmetricCipher};
use crate::pre::KeyView;
use crate::{CryptoRngCore, SchemeError};

/// A uniformly random non-zero scalar (64 bytes reduced, so the bias is below 2^-128).
fn random_nonzero_fr(rng: &mut dyn CryptoRngCore) -> Fr {
    loop {
        let mut bytes = [0u8; 64];
        rng.fill_bytes(&mut bytes);
        let s = Fr::from_le_bytes_mod_order(&bytes);
        bytes.zeroize();
        if !s.is_zero() {
            return s;
        }
    }
}

/// One epoch's AFGH key pair, `a` and its public halves, with the per-epoch precomputations
/// (`pk_1`, prepared `g_2^{1/a}`) made on first use. Zeroised on drop; `Debug` prints nothing.
pub struct EpochKey<P: PairingGroups = Bls12> {
    a: Fr,
    a_inv: Fr,
    pk1: OnceLock<P::G1>,
    weak_secret: OnceLock<P::G2Prepared>,
}

crate::secret::debug_without_secrets!("EpochKey", EpochKey<P: PairingGroups> {});

/// Wipes `a`, `1/a` and the cached `g_2^{1/a}` (the "weak secret": it opens every
/// second-level capsule of the epoch). `pk_1` is public and left alone.
impl<P: PairingGroups> Zeroize for EpochKey<P> {
    fn zeroize(&mut self) {
        self.a.zeroize();
        self.a_inv.zeroize();
        if let Some(weak) = self.weak_secret.get_mut() {
            P::wipe_prepared(weak);
        }
    }
}

impl<P: PairingGroups> Drop for EpochKey<P> {
    fn drop(&mut self) {
        self.zeroize();
    }
}

impl<P: PairingGroups> ZeroizeOnDrop for EpochKey<P> {}

impl<P: PairingGroups> EpochKey<P> {
    fn from_scalar(a: Fr) -> Option<Self> {
        let a_inv = a.inverse()?;
        Some(Self {
            a,
            a_inv,
            pk1: OnceLock::new(),
            weak_secret: OnceLock::new(),
        })
    }

    /// Derives the key of `key`'s epoch: `a = HKDF-SHA-256(secret, info = domain ‖ room ‖ epoch
    /// ‖ attempt)`, 64 bytes reduced modulo the group order, retried with the next attempt
    /// byte in the (probability 2^-255) case it is zero. `domain` keeps schemes apart.
    ///
    /// # Errors
    /// [`SchemeError::Internal`] if 256 attempts all give zero (they do not).
    pub fn derive(domain: &str, key: KeyView<'_>) -> Result<Self, SchemeError> {
        let room = key.room.0.to_be_bytes();
        let epoch = key.epoch.0.to_be_bytes();
        for attempt in 0..=u8::MAX {
            let mut okm = [0u8; 64];
            let info: [&[u8]; 4] = [domain.as_bytes(), &room, &epoch, &[attempt]];
            P::Cipher::hkdf_into(HkdfHash::Sha256, key.secret.as_bytes(), &info, &mut okm)?;
            let a = Fr::from_le_bytes_mod_order(&okm);
            okm.zeroize();
            if let Some(k) = Self::from_scalar(a) {
                return Ok(k);
            }
        }
        Err(SchemeError::Internal("epoch key derivation gave zero"))
    }

    /// A uniformly random key, for tests and benches.
    pub fn random(rng: &mut dyn CryptoRngCore) -> Self {
        let a = random_nonzero_fr(rng);
        Self::from_scalar(a).unwrap_or_else(|| unreachable!("a non-zero scalar is invertible"))
    }

    /// `pk_1 = g_1^a`, the encapsulation key (computed once).
    pub fn public_g1(&self) -> P::G1 {
        *self.pk1.get_or_init(|| P::g1_base(&self.a))
    }

    /// `pk_2 = g_2^a`, the key re-keys are made to (not cached: the changer who needs it holds
    /// `a` and uses [`Rekey::between`] instead).
    pub fn public_g2(&self) -> P::G2 {
        P::g2_base(&self.a)
    }

    /// Opens a second-level capsule made under this key: `Z^r = e(α, g_2^{1/a})`.
    ///
    /// # Errors
    /// [`SchemeError::Internal`] if the pairing's final exponentiation fails (it does not for
    /// valid points).
    pub fn decapsulate_second(&self, capsule: &Capsule<P>) -> Result<SharedSecret<P>, SchemeError> {
        let weak = self
            .weak_secret
            .get_or_init(|| P::prepare(&P::g2_base(&self.a_inv)));
        P::pair(&capsule.0, weak).map(SharedSecret)
    }

    /// Opens a capsule re-encrypted to this key: `Z^r = α'^{1/a}`.
    #[must_use]
    pub fn decapsulate_first(&self, capsule: &Reencrypted<P>) -> SharedSecret<P> {
        SharedSecret(P::gt_mul(&capsule.0, &self.a_inv))
    }
}

/// The KEM secret `Z^r`. Zeroised on drop; `Debug` prints nothing.
pub struct SharedSecret<P: PairingGroups = Bls12>(P::Gt);

crate::secret::debug_without_secrets!("SharedSecret", SharedSecret<P: PairingGroups> {});

impl<P: PairingGroups> Drop for SharedSecret<P> {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl<P: PairingGroups> SharedSecret<P> {
    /// A 32-byte key: HKDF-SHA-256 with the secret's encoding as input keying material and the
    /// concatenation of `info` as context.
    ///
    /// # Errors
    /// [`SchemeError::Internal`] on an arkworks serialisation failure (does not happen).
    pub fn derive_key(&self, info: &[&[u8]]) -> Result<[u8; 32], SchemeError> {
        let mut ikm = P::gt_bytes(&self.0)?;
        let mut key = [0u8; 32];
        let derived = P::Cipher::hkdf_into(HkdfHash::Sha256, &ikm, info, &mut key);
        ikm.zeroize();
        derived.map(|()| key)
    }
}

/// A second-level capsule `α = pk_1^r ∈ G_1` (never the identity).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capsule<P: PairingGroups = Bls12>(P::G1);

impl<P: PairingGroups> Capsule<P> {
    /// Encapsulates to `pk_1`: a fresh capsule and its secret `Z^r`.
    pub fn encapsulate(pk1: &P::G1, rng: &mut dyn CryptoRngCore) -> (Self, SharedSecret<P>) {
        let mut r = random_nonzero_fr(rng);
        let capsule = Self(P::g1_mul(pk1, &r));
        let secret = SharedSecret(P::gt_mul(&P::z(), &r));
        r.zeroize();
        (capsule, secret)
    }

    /// The point, for benches comparing a prepared re-encryption with a plain pairing.
    pub fn point(&self) -> P::G1 {
        self.0
    }

    /// Compressed encoding.
    ///
    /// # Errors
    /// [`SchemeError::Internal`] on a serialisation failure (does not happen).
    pub fn to_bytes(&self) -> Result<[u8; G1_LEN], SchemeError> {
        P::g1_bytes(&self.0)
    }

    /// Decodes and validates a capsule (on the curve, in the subgroup, not the identity).
    ///
    /// # Errors
    /// [`SchemeError::Malformed`] otherwise.
    pub fn from_bytes(b: &[u8]) -> Result<Self, SchemeError> {
        P::g1_from(b, "AFGH capsule: not a G_1 point").map(Self)
    }
}

/// A first-level (re-encrypted) capsule `α' = Z^{a_K r} ∈ G_T` (never the identity).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reencrypted<P: PairingGroups = Bls12>(P::Gt);

impl<P: PairingGroups> Reencrypted<P> {
    /// Encoding (576 B).
    ///
    /// # Errors
    /// [`SchemeError::Internal`] on a serialisation failure (does not happen).
    pub fn to_bytes(&self) -> Result<[u8; GT_LEN], SchemeError> {
        P::gt_bytes(&self.0)
    }

    /// Decodes and validates a re-encrypted capsule (in the order-`r` subgroup of
    /// `F_{q^12}^*`, not the identity). The subgroup check costs about one pairing; it keeps a
    /// malicious server from probing `1/a` in small subgroups.
    ///
    /// # Errors
    /// [`SchemeError::Malformed`] otherwise.
    pub fn from_bytes(b: &[u8]) -> Result<Self, SchemeError> {
        P::gt_from(b, "AFGH re-encrypted capsule: not in G_T").map(Self)
    }
}

/// A re-key `rk_{j→K} = g_2^{a_K/a_j} ∈ G_2` (never the identity).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rekey<P: PairingGroups = Bls12>(P::G2);

impl<P: PairingGroups> Rekey<P> {
    /// `rk_{from→to} = pk_{2,to}^{1/a_from}`: what any holder of `a_from` can make from the
    /// target's public key alone (AFGH's non-interactive re-key generation).
    #[must_use]
    pub fn to_public(from: &EpochKey<P>, to: &P::G2) -> Self {
        Self(P::g2_mul(to, &from.a_inv))
    }

    /// The same re-key, `g_2^{a_to/a_from}`, for a caller holding both keys (one
    /// exponentiation of the generator instead of computing `pk_2` first).
    #[must_use]
    pub fn between(from: &EpochKey<P>, to: &EpochKey<P>) -> Self {
        Self(P::g2_base(&(to.a * from.a_inv)))
    }

    /// Moves the target of `self = rk_{j→via}` to `to`: `rk_{j→to} = rk_{j→via}^{a_to/a_via}`.
    /// The caller needs `a_via` and `a_to` but not `a_j`; whoever sees both re-keys learns
    /// only two `G_2` points, not the ratio.
    #[must_use]
    pub fn compose(&self, via: &EpochKey<P>, to: &EpochKey<P>) -> Self {
        Self(P::g2_mul(&self.0, &(to.a * via.a_inv)))
    }

    /// Precomputes the Miller-loop line coefficients, once for all capsules of an origin epoch.
    #[must_use]
    pub fn prepare(&self) -> PreparedRekey<P> {
        PreparedRekey(P::prepare(&self.0))
    }

    /// Compressed encoding (96 B).
    ///
    /// # Errors
    /// [`SchemeError::Internal`] on a serialisation failure (does not happen).
    pub fn to_bytes(&self) -> Result<[u8; G2_LEN], SchemeError> {
        P::g2_bytes(&self.0)
    }

    /// Decodes and validates a re-key (on the twist, in the subgroup, not the identity).
    ///
    /// # Errors
    /// [`SchemeError::Malformed`] otherwise.
    pub fn from_bytes(b: &[u8]) -> Result<Self, SchemeError> {
        P::g2_from(b, "AFGH re-key: not a G_2 point").map(Self)
    }

    /// The point, for benches comparing a prepared re-encryption with a plain pairing.
    pub fn point(&self) -> P::G2 {
        self.0
    }
}

/// A re-key with its Miller-loop lines precomputed (about 12% of a pairing saved per capsule).
#[derive(Debug, Clone)]
pub struct PreparedRekey<P: PairingGroups = Bls12>(P::G2Prepared);

impl<P: PairingGroups> PreparedRekey<P> {
    /// Re-encrypts a second-level capsule: `α' = e(α, rk)`.
    ///
    /// # Errors
    /// [`SchemeError::Internal`] if the final exponentiation fails (it does not for valid
    /// points).
    pub fn reencrypt(&self, capsule: &Capsule<P>) -> Result<Reencrypted<P>, SchemeError> {
        P::pair(&capsule.0, &self.0).map(Reencrypted)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use rand_chacha::rand_core::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    use super::*;

    /// The cached weak secret `g_2^{1/a}` is key material: wiping the key wipes it too.
    #[test]
    fn zeroize_wipes_the_cached_weak_secret() {
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let mut key = EpochKey::<Bls12>::random(&mut rng);
        let capsule = Capsule::<Bls12>(Bls12::g1_base(&random_nonzero_fr(&mut rng)));
        key.decapsulate_second(&capsule).unwrap();
        key.zeroize();
        assert!(key.a.is_zero() && key.a_inv.is_zero());
        let weak = key.weak_secret.get().unwrap();
        assert!(!weak.ell_coeffs.is_empty());
        assert!(weak
            .ell_coeffs
            .iter()
            .all(|(c0, c1, c2)| c0.is_zero() && c1.is_zero() && c2.is_zero()));
    }
}
