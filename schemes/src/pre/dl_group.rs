//! The prime-order group the discrete-log history schemes ([`bbs98`](super::bbs98),
//! [`keyhom`](super::keyhom)) and the key-distribution scheme [`mkd`](crate::kd::mkd) compute
//! in: Ristretto255 for the schemes, or its exponents for their models.
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
//! law, exponentiation, hashing to the group (of arbitrary bytes, or of a PRF's 64 uniform
//! bytes), the variable-time `g^a·e^b` of public values, and the 32-byte canonical encoding with
//! its decoding, which refuses non-canonical bytes and the identity. Both groups encode the
//! identity as 32 zero bytes.
//!
//! * [`Ristretto`]: the schemes' group. Encoding is Ristretto compression.
//! * [`Exponents`]: the models' group ([`crate::model`]). `g^x` is `x`; `A·B` is `a + b`;
//!   `A^s` is `a·s`; the encoding is the scalar's canonical little-endian bytes, 32 like a
//!   Ristretto point's; the identity is `0`. Hashing to the group mixes its input with
//!   [`crate::model::mix`], which is not cryptography.
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
use sha2::digest::Digest;
use sha2::Sha512;

use crate::SchemeError;

/// A prime-order group of order ℓ (curve25519-dalek's [`Scalar`] field) with a 32-byte encoding.
pub trait DlGroup: Send + Sync + Copy + core::fmt::Debug + Default + 'static {
    /// A group element.
    type Element: Clone + Copy + core::fmt::Debug + Send + Sync + 'static;

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
