//! The fields of SAKKE parameter set 1 (RFC 6509 Appendix A): the 1024-bit base field F_p, the
//! scalar field F_q of the prime subgroup (q | p + 1, (p + 1)/q = 4) and F_p² = F_p\[i\]/(i² + 1)
//! (RFC 6508 §2.1), all on ark-ff's Montgomery backend with 16 64-bit limbs.
//!
//! ark-ff's generic Montgomery multiplication is not constant time (it branches on the final
//! subtraction, and inversion is a variable-time binary extended Euclid); see the module docs of
//! [`super`].

use ark_ff::{BigInteger, Fp2Config, MontBackend, MontConfig, MontFp, PrimeField};

use crate::SchemeError;

/// Octets of an F_p element on the wire: L = ⌈lg(p)/8⌉ = 128 (RFC 6508 §2.1).
pub const FP_OCTETS: usize = 128;

/// Limbs of the 1024-bit moduli.
const LIMBS: usize = 16;

/// Montgomery constants of p (RFC 6509 Appendix A). The generator 2 is a quadratic non-residue
/// mod p; ark-ff uses it only for its two-adic root of unity (two-adicity of p − 1 is 1, so that
/// root is −1). Nothing here needs a primitive root.
#[derive(MontConfig, Debug)]
#[modulus = "107776912351767483724739977548606843985540498878641423105577715691810713208347008430124487427245492503456614864713029365115716881999449427504648259157287177520471587635426314856931866503910325347064282570287823805753820858649828151148071915455580275904337745568249622230254539932079256944300120511019812937707"]
#[generator = "2"]
pub struct BaseFieldConfig;

/// An element of the 1024-bit base field F_p.
pub type Fp = ark_ff::Fp<MontBackend<BaseFieldConfig, LIMBS>, LIMBS>;

/// Montgomery constants of the 1022-bit subgroup order q (RFC 6509 Appendix A). As for
/// [`BaseFieldConfig`], the generator 2 is a quadratic non-residue, which is all ark-ff uses it for.
#[derive(MontConfig, Debug)]
#[modulus = "26944228087941870931184994387151710996385124719660355776394428922952678302086752107531121856811373125864153716178257341278929220499862356876162064789321794380117896908856578714232966625977581336766070642571955951438455214662457037787017978863895068976084436392062405557563634983019814236075030127754953234427"]
#[generator = "2"]
pub struct ScalarFieldConfig;

/// An integer mod q: SAKKE scalars (the master secret z, identifiers, r).
pub type Fq = ark_ff::Fp<MontBackend<ScalarFieldConfig, LIMBS>, LIMBS>;

/// F_p² = F_p\[i\] with i² = −1 (p ≡ 3 mod 4, so −1 is a non-residue).
#[derive(Debug, Clone, Copy)]
pub struct Fp2Params;

impl Fp2Config for Fp2Params {
    type Fp = Fp;
    const NONRESIDUE: Fp = MontFp!("-1");
    /// i^(p^k − 1) for k = 0, 1: 1 and −1, since (p − 1)/2 is odd.
    const FROBENIUS_COEFF_FP2_C1: &'static [Fp] = &[MontFp!("1"), MontFp!("-1")];

    fn mul_fp_by_nonresidue_in_place(fe: &mut Fp) -> &mut Fp {
        *fe = -*fe;
        fe
    }
}

/// An element x₁ + i·x₂ of F_p² (`c0` = x₁, `c1` = x₂).
pub type Fp2 = ark_ff::Fp2<Fp2Params>;

/// The 128-octet big-endian encoding of an element of F_p or of the integers mod q (both held
/// in `LIMBS` 64-bit limbs).
fn to_octets<F: PrimeField>(x: &F) -> [u8; FP_OCTETS] {
    let mut out = [0u8; FP_OCTETS];
    out.copy_from_slice(&x.into_bigint().to_bytes_be());
    out
}

/// The 128-octet big-endian encoding of an F_p element (RFC 6508 §4).
#[must_use]
pub fn fp_to_bytes(x: &Fp) -> [u8; FP_OCTETS] {
    to_octets(x)
}

/// Parses a 128-octet big-endian F_p element, rejecting values ≥ p (non-canonical encodings).
/// `field` names the value in the error.
pub fn fp_from_bytes(bytes: &[u8], field: &'static str) -> Result<Fp, SchemeError> {
    if bytes.len() != FP_OCTETS {
        return Err(SchemeError::Malformed(field));
    }
    let x = Fp::from_be_bytes_mod_order(bytes);
    if fp_to_bytes(&x).as_slice() != bytes {
        return Err(SchemeError::Malformed(field));
    }
    Ok(x)
}

/// The 128-octet big-endian encoding of an integer mod q.
#[must_use]
pub fn fq_to_bytes(x: &Fq) -> [u8; FP_OCTETS] {
    to_octets(x)
}

/// Parses a big-endian integer of at most 128 octets that must be below q (a secret scalar such
/// as the KMS master key; RFC 6508 §6.1 draws it from \[2, q − 1\]). `field` names the value in the
/// error.
pub fn fq_from_bytes(bytes: &[u8], field: &'static str) -> Result<Fq, SchemeError> {
    if bytes.len() > FP_OCTETS {
        return Err(SchemeError::Malformed(field));
    }
    let x = Fq::from_be_bytes_mod_order(bytes);
    let canonical = fq_to_bytes(&x);
    let (zeros, tail) = canonical.split_at(FP_OCTETS - bytes.len());
    if zeros.iter().any(|&b| b != 0) || tail != bytes {
        return Err(SchemeError::Malformed(field));
    }
    Ok(x)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_ff::Field;

    #[test]
    fn i_squared_is_minus_one() {
        let i = Fp2::new(Fp::from(0u64), Fp::from(1u64));
        assert_eq!(i.square(), -Fp2::from(1u64));
    }

    #[test]
    fn encodings_reject_out_of_range_values() {
        let p_bytes = fp_to_bytes(&(-Fp::from(1u64)));
        // p − 1 round-trips; p − 1 + 1 = p does not fit the canonical range.
        assert!(fp_from_bytes(&p_bytes, "x").is_ok());
        let mut p = p_bytes;
        p[FP_OCTETS - 1] += 1;
        assert_eq!(fp_from_bytes(&p, "x"), Err(SchemeError::Malformed("x")));
        assert_eq!(
            fp_from_bytes(&p[1..], "x"),
            Err(SchemeError::Malformed("x"))
        );
        assert_eq!(
            fq_from_bytes(&[0x12, 0x34], "z").map(|z| z == Fq::from(0x1234u64)),
            Ok(true)
        );
        assert_eq!(
            fq_from_bytes(&[0xff; FP_OCTETS], "z"),
            Err(SchemeError::Malformed("z"))
        );
    }
}
