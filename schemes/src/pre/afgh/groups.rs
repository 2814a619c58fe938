//! The pairing groups AFGH computes in ([`super::core`]): BLS12-381 for the schemes, or its
//! exponents for their models.
//!
//! # Source
//!
//! BLS12-381 and its optimal ate pairing from arkworks (`ark-bls12-381`). The exponent groups
//! are the generic group model (Shoup, EUROCRYPT'97) of the same three groups.
//!
//! # Construction
//!
//! [`PairingGroups`] is what the AFGH algebra needs: exponentiations in `G_1`, `G_2` and `G_T`
//! by scalars of `Fr`, the pairing (its second argument prepared once), and each group's
//! encoding, whose decoder refuses bad encodings and the identity; and the provider of the
//! symmetric primitives (HKDF, the AEADs) the schemes run beside the groups
//! ([`PairingGroups::Cipher`]), so that a model runs no cryptography at all.
//!
//! * [`Bls12`]: BLS12-381 with arkworks' compressed encodings (48, 96 and 576 bytes) and
//!   subgroup checks. The schemes' groups.
//! * [`Exponents`]: for the models ([`crate::model`]), an element of any of the three groups is
//!   its discrete logarithm in `Fr` to that group's generator (`Z = e(g_1, g_2)` for `G_T`), so
//!   an exponentiation is a multiplication in `Fr` and the pairing is the product of the two
//!   logarithms. Its encodings are the logarithm's 32 canonical bytes followed by zeros, as
//!   long as the real group's; the identity is `0`. Its cipher provider is the ideal one
//!   ([`Ideal`]).
//!
//! # Costs
//!
//! [`Bls12`]: a pairing about 1.2 ms, a `G_T` exponentiation about as much, a `G_1`
//! exponentiation about 0.2 ms (research/pre.md §4). [`Exponents`]: a multiplication in `Fr`,
//! tens of nanoseconds, for every one of them; the encodings keep the real lengths, so a model
//! sends and stores exactly the bytes a scheme does.
//!
//! # Security
//!
//! [`Bls12`]: the Type-3 setting in which AFGH's eDBDH-style assumption is made; its decoders
//! check the curve, the subgroup and the identity. [`Exponents`] hides nothing (every discrete
//! logarithm is in the clear); it keeps AFGH's algebra (what opens with which key, which re-key
//! composes with which) so that a model run has the schemes' outcomes.
//!
//! # Weaknesses
//!
//! A byte string that decodes in one of the two need not decode in the other; the schemes
//! decode only what an encoder produced, or refuse a forgery, which both refuse.
//!
//! # Side channels
//!
//! [`Bls12`]: arkworks 0.5 makes no constant-time claims (see [`super`]). [`Exponents`]
//! computes nothing secret.

use ark_bls12_381::{Bls12_381, Fr, G1Affine, G1Projective, G2Affine, G2Projective};
use ark_ec::pairing::{Pairing, PairingOutput};
use ark_ec::{AffineRepr, CurveGroup, PrimeGroup};
use ark_ff::{One, Zero};
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize};
use std::sync::OnceLock;
use zeroize::Zeroize;

use crate::common::cipher::{Real, SymmetricCipher};
use crate::model::ideal_cipher::Ideal;
use crate::SchemeError;

/// Length of a compressed `G_1` element (a capsule).
pub const G1_LEN: usize = 48;
/// Length of a compressed `G_2` element (a re-key).
pub const G2_LEN: usize = 96;
/// Length of an encoded `G_T` element (a re-encrypted capsule), uncompressed `F_{q^12}`.
pub const GT_LEN: usize = 576;

/// The three groups of a Type-3 pairing of order `|Fr|`, and the pairing.
pub trait PairingGroups: Send + Sync + Copy + Eq + core::fmt::Debug + Default + 'static {
    /// Whether elements are their discrete logarithms in the clear (the models' groups, whose
    /// every canonical encoding is an element: no subgroup to check).
    const IN_THE_CLEAR: bool;
    /// An element of `G_1`.
    type G1: Copy + Eq + core::fmt::Debug + Send + Sync + 'static;
    /// An element of `G_2`.
    type G2: Copy + Eq + core::fmt::Debug + Send + Sync + 'static;
    /// A `G_2` element prepared as the pairing's second argument.
    type G2Prepared: Clone + core::fmt::Debug + Send + Sync + 'static;
    /// An element of `G_T`.
    type Gt: Copy + Eq + core::fmt::Debug + Send + Sync + Zeroize + 'static;
    /// The symmetric primitives the schemes run beside the groups: [`Real`] with BLS12-381,
    /// [`Ideal`] with the exponents.
    type Cipher: SymmetricCipher;

    /// `g_1^s`.
    fn g1_base(s: &Fr) -> Self::G1;
    /// `p^s` in `G_1`.
    fn g1_mul(p: &Self::G1, s: &Fr) -> Self::G1;
    /// `g_2^s`.
    fn g2_base(s: &Fr) -> Self::G2;
    /// `q^s` in `G_2`.
    fn g2_mul(q: &Self::G2, s: &Fr) -> Self::G2;
    /// `x^s` in `G_T`.
    fn gt_mul(x: &Self::Gt, s: &Fr) -> Self::Gt;
    /// `Z = e(g_1, g_2)`.
    fn z() -> Self::Gt;
    /// `q` prepared for pairings.
    fn prepare(q: &Self::G2) -> Self::G2Prepared;
    /// Wipes a prepared point that is key material.
    fn wipe_prepared(q: &mut Self::G2Prepared);
    /// `e(p, q)`.
    ///
    /// # Errors
    /// [`SchemeError::Internal`] if the final exponentiation fails (it does not for valid
    /// points).
    fn pair(p: &Self::G1, q: &Self::G2Prepared) -> Result<Self::Gt, SchemeError>;

    /// The encoding of a `G_1` element.
    ///
    /// # Errors
    /// [`SchemeError::Internal`] on a serialisation failure (does not happen).
    fn g1_bytes(p: &Self::G1) -> Result<[u8; G1_LEN], SchemeError>;
    /// The encoding of a `G_2` element.
    ///
    /// # Errors
    /// As [`Self::g1_bytes`].
    fn g2_bytes(q: &Self::G2) -> Result<[u8; G2_LEN], SchemeError>;
    /// The encoding of a `G_T` element.
    ///
    /// # Errors
    /// As [`Self::g1_bytes`].
    fn gt_bytes(x: &Self::Gt) -> Result<[u8; GT_LEN], SchemeError>;
    /// Decodes a `G_1` element, refusing a bad encoding and the identity.
    ///
    /// # Errors
    /// [`SchemeError::Malformed`] with `what`.
    fn g1_from(b: &[u8], what: &'static str) -> Result<Self::G1, SchemeError>;
    /// Decodes a `G_2` element, refusing a bad encoding and the identity.
    ///
    /// # Errors
    /// [`SchemeError::Malformed`] with `what`.
    fn g2_from(b: &[u8], what: &'static str) -> Result<Self::G2, SchemeError>;
    /// Decodes a `G_T` element (in the order-`r` subgroup), refusing the identity.
    ///
    /// # Errors
    /// [`SchemeError::Malformed`] with `what`.
    fn gt_from(b: &[u8], what: &'static str) -> Result<Self::Gt, SchemeError>;
}

type Gt = PairingOutput<Bls12_381>;

/// BLS12-381 (arkworks), the schemes' groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Bls12;

/// The compressed encoding of `x` into `N` bytes; `what` is the error of a failure to
/// serialise (which does not happen: the lengths above are the compressed sizes).
fn compressed<const N: usize>(
    x: &impl CanonicalSerialize,
    what: &'static str,
) -> Result<[u8; N], SchemeError> {
    let mut b = [0u8; N];
    x.serialize_compressed(&mut b[..])
        .map_err(|_| SchemeError::Internal(what))?;
    Ok(b)
}

/// Decodes an arkworks element, validated by its decoder (on the curve, in the subgroup) and
/// refused if it is the identity.
fn validated<T: CanonicalDeserialize>(
    b: &[u8],
    is_identity: impl Fn(&T) -> bool,
    what: &'static str,
) -> Result<T, SchemeError> {
    match T::deserialize_compressed(b) {
        Ok(x) if !is_identity(&x) => Ok(x),
        _ => Err(SchemeError::Malformed(what)),
    }
}

impl PairingGroups for Bls12 {
    const IN_THE_CLEAR: bool = false;
    type G1 = G1Affine;
    type G2 = G2Affine;
    type G2Prepared = <Bls12_381 as Pairing>::G2Prepared;
    type Gt = Gt;
    type Cipher = Real;

    fn g1_base(s: &Fr) -> G1Affine {
        (G1Projective::generator() * s).into_affine()
    }
    fn g1_mul(p: &G1Affine, s: &Fr) -> G1Affine {
        (*p * s).into_affine()
    }
    fn g2_base(s: &Fr) -> G2Affine {
        (G2Projective::generator() * s).into_affine()
    }
    fn g2_mul(q: &G2Affine, s: &Fr) -> G2Affine {
        (*q * s).into_affine()
    }
    fn gt_mul(x: &Gt, s: &Fr) -> Gt {
        *x * s
    }
    fn z() -> Gt {
        // A constant of the curve, computed once per process.
        static Z: OnceLock<Gt> = OnceLock::new();
        *Z.get_or_init(|| Bls12_381::pairing(G1Affine::generator(), G2Affine::generator()))
    }
    fn prepare(q: &G2Affine) -> Self::G2Prepared {
        Self::G2Prepared::from(*q)
    }
    fn wipe_prepared(q: &mut Self::G2Prepared) {
        for (c0, c1, c2) in &mut q.ell_coeffs {
            c0.zeroize();
            c1.zeroize();
            c2.zeroize();
        }
        q.infinity = false;
    }
    fn pair(p: &G1Affine, q: &Self::G2Prepared) -> Result<Gt, SchemeError> {
        // The Miller loop consumes its prepared input, hence the clone (68 line coefficients,
        // negligible next to the pairing).
        let f = Bls12_381::multi_miller_loop([*p], [q.clone()]);
        Bls12_381::final_exponentiation(f).ok_or(SchemeError::Internal("final exponentiation"))
    }
    fn g1_bytes(p: &G1Affine) -> Result<[u8; G1_LEN], SchemeError> {
        compressed(p, "serialising G_1")
    }
    fn g2_bytes(q: &G2Affine) -> Result<[u8; G2_LEN], SchemeError> {
        compressed(q, "serialising G_2")
    }
    fn gt_bytes(x: &Gt) -> Result<[u8; GT_LEN], SchemeError> {
        compressed(x, "serialising G_T")
    }
    fn g1_from(b: &[u8], what: &'static str) -> Result<G1Affine, SchemeError> {
        validated(b, G1Affine::is_zero, what)
    }
    fn g2_from(b: &[u8], what: &'static str) -> Result<G2Affine, SchemeError> {
        validated(b, G2Affine::is_zero, what)
    }
    fn gt_from(b: &[u8], what: &'static str) -> Result<Gt, SchemeError> {
        // The decoder checks membership of the order-r subgroup (about a pairing's cost),
        // which keeps a malicious server from probing 1/a in small subgroups.
        validated(b, |x: &Gt| x.0.is_one(), what)
    }
}

/// The exponents of BLS12-381's groups, the models' groups (generic group model).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Exponents;

/// A discrete logarithm standing for an element of a group of `N`-byte encodings: its 32
/// canonical bytes (arkworks' encoding of `Fr`), then zeros.
fn log_bytes<const N: usize>(x: &Fr) -> Result<[u8; N], SchemeError> {
    let mut b = [0u8; N];
    x.serialize_compressed(&mut b[..32])
        .map_err(|_| SchemeError::Internal("serialising Fr"))?;
    Ok(b)
}

/// The discrete logarithm `b` encodes: 32 canonical bytes, zeros after, not zero.
fn log_from(b: &[u8], what: &'static str) -> Result<Fr, SchemeError> {
    if b.len() < 32 || b[32..].iter().any(|&x| x != 0) {
        return Err(SchemeError::Malformed(what));
    }
    match Fr::deserialize_compressed(&b[..32]) {
        Ok(x) if !x.is_zero() => Ok(x),
        _ => Err(SchemeError::Malformed(what)),
    }
}

impl PairingGroups for Exponents {
    const IN_THE_CLEAR: bool = true;
    type G1 = Fr;
    type G2 = Fr;
    type G2Prepared = Fr;
    type Gt = Fr;
    type Cipher = Ideal;

    fn g1_base(s: &Fr) -> Fr {
        *s
    }
    fn g1_mul(p: &Fr, s: &Fr) -> Fr {
        *p * s
    }
    fn g2_base(s: &Fr) -> Fr {
        *s
    }
    fn g2_mul(q: &Fr, s: &Fr) -> Fr {
        *q * s
    }
    fn gt_mul(x: &Fr, s: &Fr) -> Fr {
        *x * s
    }
    fn z() -> Fr {
        Fr::one()
    }
    fn prepare(q: &Fr) -> Fr {
        *q
    }
    fn wipe_prepared(q: &mut Fr) {
        q.zeroize();
    }
    fn pair(p: &Fr, q: &Fr) -> Result<Fr, SchemeError> {
        Ok(*p * q)
    }
    fn g1_bytes(p: &Fr) -> Result<[u8; G1_LEN], SchemeError> {
        log_bytes(p)
    }
    fn g2_bytes(q: &Fr) -> Result<[u8; G2_LEN], SchemeError> {
        log_bytes(q)
    }
    fn gt_bytes(x: &Fr) -> Result<[u8; GT_LEN], SchemeError> {
        log_bytes(x)
    }
    fn g1_from(b: &[u8], what: &'static str) -> Result<Fr, SchemeError> {
        log_from(b, what)
    }
    fn g2_from(b: &[u8], what: &'static str) -> Result<Fr, SchemeError> {
        log_from(b, what)
    }
    fn gt_from(b: &[u8], what: &'static str) -> Result<Fr, SchemeError> {
        log_from(b, what)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use ark_ff::{Field, UniformRand};
    use rand_chacha::rand_core::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    /// The identities AFGH rests on hold in both: `e(g_1^a, g_2^b) = Z^{ab}`, `(g^a)^b =
    /// g^{ab}`, and every decoder inverts its encoder and refuses the identity.
    fn algebra<P: PairingGroups>() {
        let mut rng = ChaCha20Rng::seed_from_u64(5);
        let (a, b) = (Fr::rand(&mut rng), Fr::rand(&mut rng));
        let (p, q) = (P::g1_base(&a), P::g2_base(&b));
        let e = P::pair(&p, &P::prepare(&q)).unwrap();
        assert_eq!(e, P::gt_mul(&P::z(), &(a * b)));
        assert_eq!(P::g1_mul(&p, &b), P::g1_base(&(a * b)));
        assert_eq!(P::g2_mul(&q, &a), P::g2_base(&(a * b)));
        let a_inv = a.inverse().unwrap();
        assert_eq!(P::gt_mul(&e, &a_inv), P::gt_mul(&P::z(), &b));
        assert_eq!(P::g1_from(&P::g1_bytes(&p).unwrap(), "g1").unwrap(), p);
        assert_eq!(P::g2_from(&P::g2_bytes(&q).unwrap(), "g2").unwrap(), q);
        assert_eq!(P::gt_from(&P::gt_bytes(&e).unwrap(), "gt").unwrap(), e);
        let zero = Fr::zero();
        let g1_zero = P::g1_bytes(&P::g1_base(&zero)).unwrap();
        assert!(P::g1_from(&g1_zero, "g1").is_err());
        let g2_zero = P::g2_bytes(&P::g2_base(&zero)).unwrap();
        assert!(P::g2_from(&g2_zero, "g2").is_err());
        let gt_one = P::gt_bytes(&P::gt_mul(&e, &zero)).unwrap();
        assert!(P::gt_from(&gt_one, "gt").is_err());
        assert!(P::g1_from(&[0xff; G1_LEN], "g1").is_err());
    }

    #[test]
    fn bls12_has_the_algebra() {
        algebra::<Bls12>();
    }

    #[test]
    fn exponents_have_the_same_algebra() {
        algebra::<Exponents>();
    }
}
