//! The DH group `G` of DMKD: Ristretto255 with generator `g` (the standard basepoint) and a second
//! generator `h` whose discrete logarithm nobody knows (hash to group of a fixed public string,
//! "nothing up my sleeve"), and Pedersen commitments `c = g^k h^s`.
//!
//! `k` is a 32-byte string (it is XOR-combined into `k'`); it is reduced mod the group order inside
//! the commitment (research/mkd.md §1.10 item 2). All of this is constant time (curve25519-dalek),
//! except [`opens`], the server's check of members' openings, which uses variable-time multiscalar
//! multiplication on values every party sees; a member checking the representative's opening,
//! whose `k_1` is secret, uses the constant-time [`opens_secret`].

use curve25519_dalek::constants::RISTRETTO_BASEPOINT_TABLE;
use curve25519_dalek::ristretto::{CompressedRistretto, RistrettoPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{Identity, VartimeMultiscalarMul};
use sha2::Sha512;
use subtle::ConstantTimeEq;

use crate::SchemeError;

/// The string `h` is hashed from.
pub const H_SEED: &[u8] = b"conclave mkd Pedersen generator h v1";

/// The second generator `h = HashToGroup(H_SEED)`.
#[must_use]
pub fn h() -> RistrettoPoint {
    RistrettoPoint::hash_from_bytes::<Sha512>(H_SEED)
}

/// `g^x` (fixed base).
#[must_use]
pub fn g_pow(x: &Scalar) -> [u8; 32] {
    (RISTRETTO_BASEPOINT_TABLE * x).compress().to_bytes()
}

/// `P^x` for a received point `P` (variable base), compressed.
///
/// # Errors
/// [`SchemeError::Malformed`] if `p` is not a valid encoding.
pub fn pow(p: &[u8; 32], x: &Scalar) -> Result<[u8; 32], SchemeError> {
    let value = decompress(p)? * x;
    // A zero exponent would give the identity as a link value: refused like an identity share.
    if value == RistrettoPoint::identity() {
        return Err(SchemeError::Malformed(IDENTITY_POINT));
    }
    Ok(value.compress().to_bytes())
}

/// Why an identity share, link value or commitment is refused.
pub const IDENTITY_POINT: &str = "a DMKD share, link value or commitment is the identity";

/// Decodes a point (a share `R_i`, a commitment), refusing the identity: as a share it would
/// make the link value the identity whatever the member's secret.
///
/// # Errors
/// [`SchemeError::Malformed`] if `p` is not a valid Ristretto encoding or is the identity.
pub fn decompress(p: &[u8; 32]) -> Result<RistrettoPoint, SchemeError> {
    let point = CompressedRistretto(*p)
        .decompress()
        .ok_or(SchemeError::Malformed("not a Ristretto255 point"))?;
    if point == RistrettoPoint::identity() {
        return Err(SchemeError::Malformed(IDENTITY_POINT));
    }
    Ok(point)
}

/// Reduces 64 uniform bytes to a scalar.
#[must_use]
pub fn scalar_wide(v: &[u8; 64]) -> Scalar {
    Scalar::from_bytes_mod_order_wide(v)
}

/// Parses a canonical scalar encoding.
///
/// # Errors
/// [`SchemeError::Malformed`] if it is not canonical.
pub fn scalar(bytes: &[u8; 32]) -> Result<Scalar, SchemeError> {
    Option::from(Scalar::from_canonical_bytes(*bytes))
        .ok_or(SchemeError::Malformed("non-canonical scalar"))
}

/// Pedersen commitment `c = g^k h^s` (k reduced mod the group order).
#[must_use]
pub fn commit(k: &[u8; 32], s: &Scalar) -> [u8; 32] {
    let k = Scalar::from_bytes_mod_order(*k);
    (RISTRETTO_BASEPOINT_TABLE * &k + h() * s)
        .compress()
        .to_bytes()
}

/// Checks an opening `(k, s)` of `c` in constant time: for a secret `k` (the representative's
/// `k_1` as a member recovers it).
#[must_use]
pub fn opens_secret(c: &[u8; 32], k: &[u8; 32], s: &Scalar) -> bool {
    let identity = RistrettoPoint::identity().compress().to_bytes();
    let opened = commit(k, s);
    bool::from(!c.ct_eq(&identity) & opened.ct_eq(c))
}

/// Checks an opening `(k, s)` of `c` (variable time: for openings the server and every member
/// see, never for a secret `k`; see [`opens_secret`]).
#[must_use]
pub fn opens(c: &[u8; 32], k: &[u8; 32], s: &Scalar) -> bool {
    if *c == RistrettoPoint::identity().compress().to_bytes() {
        return false;
    }
    let k = Scalar::from_bytes_mod_order(*k);
    let g = curve25519_dalek::constants::RISTRETTO_BASEPOINT_POINT;
    let p = RistrettoPoint::vartime_multiscalar_mul([k, *s], [g, h()]);
    p.compress().to_bytes() == *c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pedersen_opens_only_its_own_opening() {
        let k = [7u8; 32];
        let s = scalar_wide(&[9u8; 64]);
        let c = commit(&k, &s);
        assert!(opens(&c, &k, &s));
        assert!(opens_secret(&c, &k, &s));
        let mut k2 = k;
        k2[0] ^= 1;
        assert!(!opens(&c, &k2, &s));
        assert!(!opens(&c, &k, &(s + Scalar::ONE)));
        assert!(!opens_secret(&c, &k2, &s));
        assert!(!opens_secret(&c, &k, &(s + Scalar::ONE)));
        assert_ne!(h().compress(), RistrettoPoint::default().compress());
        assert_ne!(
            h().compress(),
            curve25519_dalek::constants::RISTRETTO_BASEPOINT_COMPRESSED
        );
    }

    #[test]
    fn dh_agrees() {
        let (a, b) = (scalar_wide(&[1; 64]), scalar_wide(&[2; 64]));
        let (ga, gb) = (g_pow(&a), g_pow(&b));
        assert_eq!(pow(&gb, &a).unwrap(), pow(&ga, &b).unwrap());
        assert!(pow(&[0xff; 32], &a).is_err());
    }

    /// An identity share (or commitment) relayed by an active server is refused.
    #[test]
    fn identity_shares_and_commitments_are_refused() {
        let identity = RistrettoPoint::identity().compress().to_bytes();
        let a = scalar_wide(&[1; 64]);
        assert_eq!(
            decompress(&identity),
            Err(SchemeError::Malformed(IDENTITY_POINT))
        );
        assert_eq!(
            pow(&identity, &a),
            Err(SchemeError::Malformed(IDENTITY_POINT))
        );
        assert_eq!(
            pow(&g_pow(&a), &Scalar::ZERO),
            Err(SchemeError::Malformed(IDENTITY_POINT))
        );
        // `g^0 h^0` is the identity: a commitment the server could "open" with zeros.
        assert!(!opens(&identity, &[0; 32], &Scalar::ZERO));
        assert!(!opens_secret(&identity, &[0; 32], &Scalar::ZERO));
    }
}
