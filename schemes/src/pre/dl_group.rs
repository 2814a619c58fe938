//! The prime-order group the discrete-log schemes ([`bbs98`](super::bbs98),
//! [`keyhom`](super::keyhom), [`rekey-index`](crate::sse::rekey_index), and the key-distribution
//! scheme [`mkd`](crate::kd::mkd)) compute in, with the symmetric provider that goes with it:
//! Ristretto255 and the real primitives for the schemes, or its exponents and the ideal
//! primitives for their models.
//!
//! # Source
//!
//! Ristretto255 (RFC 9496) from curve25519-dalek. The exponent group is the generic group model
//! of Shoup (EUROCRYPT'97): an element is named by its discrete logarithm to the base point, so
//! the group law is addition of scalars modulo the group order ℓ.
//!
//! # Construction
//!
//! [`DlGroup`] is what the schemes need of a group: the base-point exponentiation, the group
//! law, exponentiation (also of many elements by one exponent, which a group may batch),
//! hashing to the group (of arbitrary bytes, or of a PRF's 64 uniform bytes) and to its
//! exponents, the variable-time `g^a·e^b` of public values, and the 32-byte canonical encoding
//! with its decoding, which refuses non-canonical bytes and the identity (both groups encode the
//! identity as 32 zero bytes); and the provider of the symmetric primitives the schemes run
//! beside the group ([`DlGroup::Cipher`]), so that a model runs no cryptography at all.
//!
//! * [`Ristretto`]: the schemes' group. Encoding is Ristretto compression. Hashing is SHA-512,
//!   then RFC 9496's map to the group or the reduction of the 512 bits modulo ℓ. Raising many
//!   points by one exponent shares one field inversion per [`RAISE_BATCH`] points
//!   (`double_and_compress_batch`), in parallel batches.
//! * [`Exponents`]: the models' group ([`crate::model`]). `g^x` is `x`; `A·B` is `a + b`;
//!   `A^s` is `a·s`; the encoding is the scalar's canonical little-endian bytes, 32 like a
//!   Ristretto point's; the identity is `0`. Hashing to the group or to its exponents mixes its
//!   input with [`crate::model::mix`], which is not cryptography. Its cipher provider is the
//!   ideal one ([`Ideal`]).
//!
//! # Costs
//!
//! [`Ristretto`]: an exponentiation is a scalar multiplication (about 50 µs variable base,
//! 15 µs fixed base); [`Exponents`]: a multiplication modulo ℓ (tens of nanoseconds), with the
//! same encoded lengths, so a model sends and stores exactly the bytes the scheme does.
//!
//! # Security
//!
//! [`Ristretto`] is a prime-order group in which DDH is believed hard; both decoders refuse the
//! identity, which would make a capsule's key public (see [`bbs98`](super::bbs98)). In
//! [`Exponents`] every discrete logarithm is in the clear: it hides nothing and exists only so
//! that a model run can keep the schemes' algebra (re-encryption, composition of re-keys, the
//! collusion of a removed member with the server) at no cost.
//!
//! # Weaknesses
//!
//! A bit string that is a canonical scalar need not be a Ristretto encoding and the reverse, so
//! the two groups refuse different random strings; the schemes never decode bytes that an
//! encoder did not produce, except to refuse a forgery, which both refuse.
//!
//! # Side channels
//!
//! [`Ristretto`]: curve25519-dalek's operations are constant time. [`Exponents`] computes
//! nothing secret.

use curve25519_dalek::ristretto::CompressedRistretto;
use curve25519_dalek::traits::Identity;
use curve25519_dalek::{RistrettoPoint, Scalar};
use rayon::prelude::*;
use sha2::digest::Digest;
use sha2::Sha512;

use crate::common::cipher::{Real, SymmetricCipher};
use crate::model::ideal_cipher::Ideal;
use crate::SchemeError;

/// Elements raised per parallel task by [`DlGroup::raise_all`] (and, in [`Ristretto`], per
/// shared field inversion when encoding them).
pub const RAISE_BATCH: usize = 64;

/// A prime-order group of order ℓ (curve25519-dalek's [`Scalar`] field) with a 32-byte encoding.
pub trait DlGroup: Send + Sync + Copy + core::fmt::Debug + Default + 'static {
    /// A group element.
    type Element: Clone + Copy + core::fmt::Debug + Send + Sync + 'static;
    /// The symmetric primitives the schemes run beside the group: [`Real`] with Ristretto255,
    /// [`Ideal`] with the exponents.
    type Cipher: SymmetricCipher;

    /// `g^s`.
    fn mul_base(s: &Scalar) -> Self::Element;
    /// `e^s`.
    fn mul(e: &Self::Element, s: &Scalar) -> Self::Element;
    /// `a · b`.
    fn add(a: &Self::Element, b: &Self::Element) -> Self::Element;
    /// `a · b^{-1}`.
    fn sub(a: &Self::Element, b: &Self::Element) -> Self::Element;
    /// An element from the concatenation of `parts`, whose discrete logarithm nobody knows.
    fn hash(parts: &[&[u8]]) -> Self::Element;
    /// An element from 64 uniformly random bytes (the output of a PRF), whose discrete
    /// logarithm nobody knows.
    fn from_uniform(bytes: &[u8; 64]) -> Self::Element;
    /// `g^a · e^b` for public `a`, `b` and `e` (variable time: never for a secret).
    fn vartime_double_mul(a: &Scalar, e: &Self::Element, b: &Scalar) -> Self::Element {
        Self::add(&Self::mul_base(a), &Self::mul(e, b))
    }
    /// An exponent from the concatenation of `parts`, uniform modulo ℓ (in [`Ristretto`],
    /// SHA-512 reduced modulo ℓ).
    fn hash_to_scalar(parts: &[&[u8]]) -> Scalar;
    /// Raises the element `element` projects out of each of `items` to `s` in place and
    /// returns their encodings, in order: [`mul`](Self::mul) then [`encode`](Self::encode) of
    /// each, which a group may batch and run in parallel. The projection lets a caller raise
    /// elements where they are stored, without moving them out and back.
    fn raise_all<T, F>(items: &mut [T], element: F, s: &Scalar) -> Vec<[u8; 32]>
    where
        T: Send,
        F: Fn(&mut T) -> &mut Self::Element + Sync,
    {
        items
            .iter_mut()
            .map(|item| {
                let e = element(item);
                *e = Self::mul(e, s);
                Self::encode(e)
            })
            .collect()
    }
    /// The canonical 32-byte encoding.
    fn encode(e: &Self::Element) -> [u8; 32];
    /// Decodes an element.
    ///
    /// # Errors
    /// [`SchemeError::Malformed`] with `not_an_element` for bytes that encode no element, with
    /// `identity` for the identity.
    fn decode(
        bytes: [u8; 32],
        not_an_element: &'static str,
        identity: &'static str,
    ) -> Result<Self::Element, SchemeError>;
}

/// Ristretto255, the group of the schemes.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ristretto;

impl DlGroup for Ristretto {
    type Element = RistrettoPoint;
    type Cipher = Real;

    fn mul_base(s: &Scalar) -> RistrettoPoint {
        RistrettoPoint::mul_base(s)
    }
    fn mul(e: &RistrettoPoint, s: &Scalar) -> RistrettoPoint {
        e * s
    }
    fn add(a: &RistrettoPoint, b: &RistrettoPoint) -> RistrettoPoint {
        a + b
    }
    fn sub(a: &RistrettoPoint, b: &RistrettoPoint) -> RistrettoPoint {
        a - b
    }
    fn hash(parts: &[&[u8]]) -> RistrettoPoint {
        let mut h = Sha512::new();
        for p in parts {
            h.update(p);
        }
        RistrettoPoint::from_hash(h)
    }
    fn from_uniform(bytes: &[u8; 64]) -> RistrettoPoint {
        RistrettoPoint::from_uniform_bytes(bytes)
    }
    /// One variable-time multiscalar multiplication instead of two exponentiations.
    fn vartime_double_mul(a: &Scalar, e: &RistrettoPoint, b: &Scalar) -> RistrettoPoint {
        use curve25519_dalek::traits::VartimeMultiscalarMul;
        RistrettoPoint::vartime_multiscalar_mul(
            [*a, *b],
            [curve25519_dalek::constants::RISTRETTO_BASEPOINT_POINT, *e],
        )
    }
    fn hash_to_scalar(parts: &[&[u8]]) -> Scalar {
        let mut h = Sha512::new();
        for p in parts {
            h.update(p);
        }
        Scalar::from_hash(h)
    }
    fn raise_all<T, F>(items: &mut [T], element: F, s: &Scalar) -> Vec<[u8; 32]>
    where
        T: Send,
        F: Fn(&mut T) -> &mut RistrettoPoint + Sync,
    {
        // Compressing a point costs a field inversion; `double_and_compress_batch` shares one
        // per batch, so each point is raised to s/2 and doubled on the way out.
        let half = s * Scalar::from(2u8).invert();
        items
            .par_chunks_mut(RAISE_BATCH)
            .flat_map_iter(|batch| {
                for item in batch.iter_mut() {
                    *element(item) *= half;
                }
                let encoded = RistrettoPoint::double_and_compress_batch(
                    batch.iter_mut().map(|t| &*element(t)),
                );
                for item in batch.iter_mut() {
                    let point = element(item);
                    *point += *point;
                }
                encoded.into_iter().map(|c| c.to_bytes())
            })
            .collect()
    }
    fn encode(e: &RistrettoPoint) -> [u8; 32] {
        e.compress().to_bytes()
    }
    fn decode(
        bytes: [u8; 32],
        not_an_element: &'static str,
        identity: &'static str,
    ) -> Result<RistrettoPoint, SchemeError> {
        let point = CompressedRistretto(bytes)
            .decompress()
            .ok_or(SchemeError::Malformed(not_an_element))?;
        if point == RistrettoPoint::identity() {
            return Err(SchemeError::Malformed(identity));
        }
        Ok(point)
    }
}

/// The exponents of Ristretto255 as a group: the models' group (generic group model).
#[derive(Debug, Clone, Copy, Default)]
pub struct Exponents;

impl DlGroup for Exponents {
    type Element = Scalar;
    type Cipher = Ideal;

    fn mul_base(s: &Scalar) -> Scalar {
        *s
    }
    fn mul(e: &Scalar, s: &Scalar) -> Scalar {
        e * s
    }
    fn add(a: &Scalar, b: &Scalar) -> Scalar {
        a + b
    }
    fn sub(a: &Scalar, b: &Scalar) -> Scalar {
        a - b
    }
    fn hash(parts: &[&[u8]]) -> Scalar {
        let mut wide = [0u8; 64];
        crate::model::mix::mix(parts, &mut wide);
        Scalar::from_bytes_mod_order_wide(&wide)
    }
    /// The bytes are already uniform (a PRF's output), so reducing them is hashing enough.
    fn from_uniform(bytes: &[u8; 64]) -> Scalar {
        Scalar::from_bytes_mod_order_wide(bytes)
    }
    fn hash_to_scalar(parts: &[&[u8]]) -> Scalar {
        // The group's hash, read as an exponent: in this group they are the same thing.
        Self::hash(parts)
    }
    fn encode(e: &Scalar) -> [u8; 32] {
        e.to_bytes()
    }
    fn decode(
        bytes: [u8; 32],
        not_an_element: &'static str,
        identity: &'static str,
    ) -> Result<Scalar, SchemeError> {
        let e = Option::<Scalar>::from(Scalar::from_canonical_bytes(bytes))
            .ok_or(SchemeError::Malformed(not_an_element))?;
        if e == Scalar::ZERO {
            return Err(SchemeError::Malformed(identity));
        }
        Ok(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::rand_core::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    /// The algebra the schemes rely on holds in both groups: `(g^a)^b = g^{ab}`,
    /// `g^a · g^b = g^{a+b}`, and decoding inverts encoding.
    fn algebra<G: DlGroup>()
    where
        G::Element: PartialEq,
    {
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        let (a, b) = (Scalar::random(&mut rng), Scalar::random(&mut rng));
        let ga = G::mul_base(&a);
        assert_eq!(G::mul(&ga, &b), G::mul_base(&(a * b)));
        assert_eq!(G::add(&ga, &G::mul_base(&b)), G::mul_base(&(a + b)));
        assert_eq!(G::sub(&G::mul_base(&(a + b)), &G::mul_base(&b)), ga);
        assert_eq!(G::decode(G::encode(&ga), "bad", "identity").unwrap(), ga);
        assert_eq!(
            G::decode(G::encode(&G::mul_base(&Scalar::ZERO)), "bad", "identity").err(),
            Some(SchemeError::Malformed("identity"))
        );
        assert_eq!(
            G::decode([0xff; 32], "bad", "identity").err(),
            Some(SchemeError::Malformed("bad"))
        );
        assert_ne!(G::hash(&[b"x", b"1"]), G::hash(&[b"x", b"2"]));
        assert_ne!(G::from_uniform(&[1; 64]), G::from_uniform(&[2; 64]));
        let e = G::mul_base(&b);
        assert_eq!(G::vartime_double_mul(&a, &e, &b), G::mul_base(&(a + b * b)));
        // The identity encodes as 32 zero bytes in both groups (RFC 9496 for Ristretto).
        assert_eq!(G::encode(&G::mul_base(&Scalar::ZERO)), [0; 32]);
        assert_ne!(
            G::hash_to_scalar(&[b"x", b"1"]),
            G::hash_to_scalar(&[b"x", b"2"])
        );
        // Raising many at once, across batches, is raising each.
        let mut many: Vec<G::Element> = (0..2 * RAISE_BATCH as u64 + 3)
            .map(|i| G::mul_base(&Scalar::from(i + 1)))
            .collect();
        let expected: Vec<[u8; 32]> = many.iter().map(|e| G::encode(&G::mul(e, &b))).collect();
        assert_eq!(G::raise_all(&mut many, |e| e, &b), expected);
        let raised: Vec<[u8; 32]> = many.iter().map(G::encode).collect();
        assert_eq!(raised, expected);
    }

    /// Ristretto's exponent hash is SHA-512 reduced modulo ℓ, as the schemes computed it
    /// before the trait had it.
    #[test]
    fn ristretto_hashes_to_scalars_with_sha512() {
        let expected = Scalar::from_hash(Sha512::new().chain_update(b"ab").chain_update([3u8]));
        assert_eq!(Ristretto::hash_to_scalar(&[b"a", b"b", &[3]]), expected);
    }

    #[test]
    fn ristretto_has_the_algebra() {
        algebra::<Ristretto>();
    }

    #[test]
    fn exponents_have_the_same_algebra() {
        algebra::<Exponents>();
    }
}
