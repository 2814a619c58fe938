//! The DH group `G` of DMKD: Ristretto255 with generator `g` (the standard basepoint) and a second
//! generator `h` whose discrete logarithm nobody knows (hash to group of a fixed public string,
//! "nothing up my sleeve"), and Pedersen commitments `c = g^k h^s`.
//!
//! `k` is a 32-byte string (it is XOR-combined into `k'`); it is reduced mod the group order inside
//! the commitment (research/mkd.md §1.10 item 2). All of this is constant time (curve25519-dalek),
//! except [`opens`], the server's check of members' openings, which uses variable-time multiscalar
//! multiplication on values every party sees; a member checking the representative's opening,
//! whose `k_1` is secret, uses the constant-time [`opens_secret`].
//!
//! Every function is generic over the group ([`DlGroup`]): the scheme runs in
//! [`Ristretto`](crate::pre::dl_group::Ristretto), its model in the exponent group
//! [`Exponents`](crate::pre::dl_group::Exponents), where the same algebra runs on discrete
//! logarithms in the clear.

use curve25519_dalek::scalar::Scalar;
use subtle::ConstantTimeEq;

use crate::pre::dl_group::DlGroup;
use crate::SchemeError;

/// The string `h` is hashed from.
pub const H_SEED: &[u8] = b"conclave mkd Pedersen generator h v1";

/// The encoding of the identity in either group ([`DlGroup`]'s encodings agree on it).
const IDENTITY: [u8; 32] = [0; 32];

/// The second generator `h = HashToGroup(H_SEED)` (for Ristretto255, `hash_from_bytes::<Sha512>`).
#[must_use]
pub fn h<G: DlGroup>() -> G::Element {
    G::hash(&[H_SEED])
}

/// `g^x` (fixed base).
#[must_use]
pub fn g_pow<G: DlGroup>(x: &Scalar) -> [u8; 32] {
    G::encode(&G::mul_base(x))
}

/// `P^x` for a received point `P` (variable base), encoded.
///
/// # Errors
/// [`SchemeError::Malformed`] if `p` is not a valid encoding.
pub fn pow<G: DlGroup>(p: &[u8; 32], x: &Scalar) -> Result<[u8; 32], SchemeError> {
    let value = G::encode(&G::mul(&decompress::<G>(p)?, x));
    // A zero exponent would give the identity as a link value: refused like an identity share.
    if value == IDENTITY {
        return Err(SchemeError::Malformed(IDENTITY_POINT));
    }
    Ok(value)
}

/// Why an identity share, link value or commitment is refused.
pub const IDENTITY_POINT: &str = "a DMKD share, link value or commitment is the identity";

/// Decodes a point (a share `R_i`, a commitment), refusing the identity: as a share it would
/// make the link value the identity whatever the member's secret.
///
/// # Errors
/// [`SchemeError::Malformed`] if `p` is not a valid encoding or is the identity.
pub fn decompress<G: DlGroup>(p: &[u8; 32]) -> Result<G::Element, SchemeError> {
    G::decode(*p, "not a Ristretto255 point", IDENTITY_POINT)
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
pub fn commit<G: DlGroup>(k: &[u8; 32], s: &Scalar) -> [u8; 32] {
    let k = Scalar::from_bytes_mod_order(*k);
    G::encode(&G::add(&G::mul_base(&k), &G::mul(&h::<G>(), s)))
}

/// Checks an opening `(k, s)` of `c` in constant time: for a secret `k` (the representative's
/// `k_1` as a member recovers it).
#[must_use]
pub fn opens_secret<G: DlGroup>(c: &[u8; 32], k: &[u8; 32], s: &Scalar) -> bool {
    let opened = commit::<G>(k, s);
    bool::from(!c.ct_eq(&IDENTITY) & opened.ct_eq(c))
}

/// Checks an opening `(k, s)` of `c` (variable time: for openings the server and every member
/// see, never for a secret `k`; see [`opens_secret`]).
#[must_use]
pub fn opens<G: DlGroup>(c: &[u8; 32], k: &[u8; 32], s: &Scalar) -> bool {
    if *c == IDENTITY {
        return false;
    }
    let k = Scalar::from_bytes_mod_order(*k);
    G::encode(&G::vartime_double_mul(&k, &h::<G>(), s)) == *c
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pre::dl_group::{Exponents, Ristretto};

    fn pedersen_opens_only_its_own_opening<G: DlGroup>() {
        let k = [7u8; 32];
        let s = scalar_wide(&[9u8; 64]);
        let c = commit::<G>(&k, &s);
        assert!(opens::<G>(&c, &k, &s));
        assert!(opens_secret::<G>(&c, &k, &s));
        let mut k2 = k;
        k2[0] ^= 1;
        assert!(!opens::<G>(&c, &k2, &s));
        assert!(!opens::<G>(&c, &k, &(s + Scalar::ONE)));
        assert!(!opens_secret::<G>(&c, &k2, &s));
        assert!(!opens_secret::<G>(&c, &k, &(s + Scalar::ONE)));
        assert_ne!(G::encode(&h::<G>()), IDENTITY);
        assert_ne!(G::encode(&h::<G>()), g_pow::<G>(&Scalar::ONE));
    }

    fn dh_agrees<G: DlGroup>() {
        let (a, b) = (scalar_wide(&[1; 64]), scalar_wide(&[2; 64]));
        let (ga, gb) = (g_pow::<G>(&a), g_pow::<G>(&b));
        assert_eq!(pow::<G>(&gb, &a).unwrap(), pow::<G>(&ga, &b).unwrap());
        assert!(pow::<G>(&[0xff; 32], &a).is_err());
    }

    /// An identity share (or commitment) relayed by an active server is refused.
    fn identity_shares_and_commitments_are_refused<G: DlGroup>() {
        let a = scalar_wide(&[1; 64]);
        assert_eq!(g_pow::<G>(&Scalar::ZERO), IDENTITY);
        assert_eq!(
            decompress::<G>(&IDENTITY).err(),
            Some(SchemeError::Malformed(IDENTITY_POINT))
        );
        assert_eq!(
            pow::<G>(&IDENTITY, &a),
            Err(SchemeError::Malformed(IDENTITY_POINT))
        );
        assert_eq!(
            pow::<G>(&g_pow::<G>(&a), &Scalar::ZERO),
            Err(SchemeError::Malformed(IDENTITY_POINT))
        );
        // `g^0 h^0` is the identity: a commitment the server could "open" with zeros.
        assert!(!opens::<G>(&IDENTITY, &[0; 32], &Scalar::ZERO));
        assert!(!opens_secret::<G>(&IDENTITY, &[0; 32], &Scalar::ZERO));
    }

    #[test]
    fn ristretto_commitments_and_dh() {
        pedersen_opens_only_its_own_opening::<Ristretto>();
        dh_agrees::<Ristretto>();
        identity_shares_and_commitments_are_refused::<Ristretto>();
        // `h` is the hash of its seed as curve25519-dalek hashes to the group.
        assert_eq!(
            h::<Ristretto>(),
            curve25519_dalek::RistrettoPoint::hash_from_bytes::<sha2::Sha512>(H_SEED)
        );
    }

    #[test]
    fn exponent_commitments_and_dh() {
        pedersen_opens_only_its_own_opening::<Exponents>();
        dh_agrees::<Exponents>();
        identity_shares_and_commitments_are_refused::<Exponents>();
    }
}
