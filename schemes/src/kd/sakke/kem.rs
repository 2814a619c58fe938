//! SAKKE (RFC 6508) with parameter set 1 of RFC 6509: the KMS master key and receiver secret
//! keys (§6.1), RSK validation (§6.1.2), encapsulation of a 128-bit shared secret value (SSV)
//! to an identifier (§6.2.1) and its decapsulation (§6.2.2).

use ark_ec::AffineRepr;
use ark_ff::{Field, PrimeField};
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::curve::{
    check_subgroup_point, mul, mul_generator, point_from_bytes, point_to_bytes, to_affine,
    FixedBase, Point, PAIRING_GENERATOR, POINT_OCTETS,
};
use super::field::{fp_from_bytes, fp_to_bytes, fq_from_bytes, Fp, Fq, FP_OCTETS};
use super::hash::{hash_to_128_bits, hash_to_scalar};
use super::pairing::{pairing, pf_pow_generator, PreparedPairing};
use crate::{CryptoRngCore, SchemeError};

/// Octets of the SSV: n/8 = 16 (n = 128 in parameter set 1).
pub const SSV_OCTETS: usize = 16;

/// Octets of the Encapsulated Data `0x04 || Rx || Ry || H`: 2L + 1 + n/8 = 273.
pub const SED_OCTETS: usize = POINT_OCTETS + SSV_OCTETS;

/// Octets drawn for a uniform scalar mod q: 64 more than q's 128, so the reduction's bias is
/// below 2⁻⁵⁰⁰.
pub(crate) const UNIFORM_SCALAR_OCTETS: usize = FP_OCTETS + 64;

/// Draws a scalar uniformly from \[2, q − 1\].
fn random_scalar(rng: &mut dyn CryptoRngCore) -> Fq {
    let mut buf = [0u8; UNIFORM_SCALAR_OCTETS];
    loop {
        rng.fill_bytes(&mut buf);
        let z = Fq::from_be_bytes_mod_order(&buf);
        buf.zeroize();
        if z.into_bigint() > 1u64.into() {
            return z;
        }
    }
}

/// An identifier's octets read as a big-endian integer, reduced mod q (RFC 6508 §6.1.1 "b …
/// interpreted as an integer").
fn identifier_scalar(id: &[u8]) -> Fq {
    Fq::from_be_bytes_mod_order(id)
}

/// The 128-bit shared secret value carried by an encapsulation.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct Ssv([u8; SSV_OCTETS]);

impl Ssv {
    /// Wraps 16 octets. The SSV of an encapsulation must be uniformly random:
    /// [`encapsulate`] draws it; this is for callers that bring their own key material.
    #[must_use]
    pub fn new(bytes: [u8; SSV_OCTETS]) -> Self {
        Self(bytes)
    }

    /// The 16 octets.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8; SSV_OCTETS] {
        &self.0
    }
}

impl std::fmt::Debug for Ssv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Ssv(redacted)")
    }
}

/// The KMS's public key Z = \[z\]P (RFC 6508 §2.2, "Z_T").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KmsPublicKey {
    point: Point,
}

impl KmsPublicKey {
    /// The point Z.
    pub fn point(&self) -> &Point {
        &self.point
    }

    /// `0x04 || Zx || Zy` (257 octets).
    #[must_use]
    pub fn to_bytes(&self) -> [u8; POINT_OCTETS] {
        // A KMS public key is never the identity (z ∈ [2, q − 1]).
        point_to_bytes(&self.point).unwrap_or([0u8; POINT_OCTETS])
    }

    /// Parses and validates Z: on E, in the order-q subgroup.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SchemeError> {
        Ok(Self {
            point: point_from_bytes(bytes, "SAKKE KMS public key Z")?,
        })
    }

    /// \[b\]P + Z for identifier `id`: the point every encapsulation to `id` is a multiple of.
    pub fn receiver_point(&self, id: &[u8]) -> Result<Point, SchemeError> {
        let point = to_affine(&(mul_generator(&identifier_scalar(id)) + self.point));
        if point.is_zero() {
            // b ≡ −z (mod q): the identifier has no RSK; negligible for real identifiers.
            return Err(SchemeError::Crypto);
        }
        Ok(point)
    }
}

/// The KMS master secret z (RFC 6508 §6.1). Whoever holds it can derive every RSK it issues:
/// SAKKE escrows by design.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct KmsMasterKey {
    z: Fq,
}

impl std::fmt::Debug for KmsMasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KmsMasterKey(redacted)")
    }
}

impl KmsMasterKey {
    /// Draws z uniformly from \[2, q − 1\].
    pub fn generate(rng: &mut dyn CryptoRngCore) -> Self {
        Self {
            z: random_scalar(rng),
        }
    }

    /// A given master secret (big-endian, at most 128 octets), which must lie in \[2, q − 1\].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SchemeError> {
        let z = fq_from_bytes(bytes, "SAKKE KMS master secret z")?;
        if z.into_bigint() <= 1u64.into() {
            return Err(SchemeError::Malformed("SAKKE KMS master secret z"));
        }
        Ok(Self { z })
    }

    /// Z = \[z\]P.
    #[must_use]
    pub fn public_key(&self) -> KmsPublicKey {
        KmsPublicKey {
            point: to_affine(&mul_generator(&self.z)),
        }
    }

    /// The RSK K_(a,T) = \[(a + z)⁻¹\]P for identifier `id` (RFC 6508 §6.1.1).
    pub fn issue_rsk(&self, id: &[u8]) -> Result<Rsk, SchemeError> {
        let mut sum = identifier_scalar(id) + self.z;
        let inverse = sum.inverse().ok_or(SchemeError::Crypto);
        sum.zeroize();
        let mut inverse = inverse?;
        let point = to_affine(&mul_generator(&inverse));
        inverse.zeroize();
        Ok(Rsk { point })
    }
}

/// A receiver secret key K_(a,T): a point of order q.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct Rsk {
    point: Point,
}

impl std::fmt::Debug for Rsk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Rsk(redacted)")
    }
}

impl Rsk {
    /// The point K.
    pub fn point(&self) -> &Point {
        &self.point
    }

    /// `0x04 || Kx || Ky` (257 octets).
    #[must_use]
    pub fn to_bytes(&self) -> [u8; POINT_OCTETS] {
        point_to_bytes(&self.point).unwrap_or([0u8; POINT_OCTETS])
    }

    /// Parses K and checks it lies on E in the order-q subgroup. Whether it belongs to an
    /// identifier is [`Rsk::validate`]'s question.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SchemeError> {
        Ok(Self {
            point: point_from_bytes(bytes, "SAKKE RSK")?,
        })
    }

    /// RFC 6508 §6.1.2: ⟨\[a\]P + Z, K⟩ = g, i.e. this is the RSK of `id` under `kms`.
    pub fn validate(&self, kms: &KmsPublicKey, id: &[u8]) -> Result<(), SchemeError> {
        let receiver_point = kms.receiver_point(id)?;
        if pairing(&receiver_point, &self.point)? == PAIRING_GENERATOR {
            Ok(())
        } else {
            Err(SchemeError::Crypto)
        }
    }
}

/// Encapsulated Data (RFC 6508 §4): the point R_(b,S) and the masked SSV H.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sed {
    r_point: Point,
    masked_ssv: [u8; SSV_OCTETS],
}

impl Sed {
    /// R_(b,S).
    pub fn r_point(&self) -> &Point {
        &self.r_point
    }

    /// H = SSV ⊕ HashToIntegerRange(g^r, 2^n).
    #[must_use]
    pub fn masked_ssv(&self) -> &[u8; SSV_OCTETS] {
        &self.masked_ssv
    }

    /// `0x04 || Rx || Ry || H` (273 octets).
    #[must_use]
    pub fn to_bytes(&self) -> [u8; SED_OCTETS] {
        let mut out = [0u8; SED_OCTETS];
        out[..POINT_OCTETS]
            .copy_from_slice(&point_to_bytes(&self.r_point).unwrap_or([0; POINT_OCTETS]));
        out[POINT_OCTETS..].copy_from_slice(&self.masked_ssv);
        out
    }

    /// Parses `0x04 || Rx || Ry || H`; R must be an affine point of E. Membership of the
    /// order-q subgroup is left to decapsulation's re-encryption test (§6.2.2 step 5), which
    /// rejects every R outside it at no extra cost.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SchemeError> {
        if bytes.len() != SED_OCTETS {
            return Err(SchemeError::Malformed("SAKKE encapsulated data length"));
        }
        if bytes[0] != 0x04 {
            return Err(SchemeError::Malformed("SAKKE encapsulated data R_(b,S)"));
        }
        let x = fp_from_bytes(&bytes[1..=FP_OCTETS], "SAKKE encapsulated data R_(b,S)")?;
        let y = fp_from_bytes(
            &bytes[FP_OCTETS + 1..POINT_OCTETS],
            "SAKKE encapsulated data R_(b,S)",
        )?;
        let r_point = Point::new_unchecked(x, y);
        if !r_point.is_on_curve() {
            return Err(SchemeError::Malformed("SAKKE encapsulated data R_(b,S)"));
        }
        let mut masked_ssv = [0u8; SSV_OCTETS];
        masked_ssv.copy_from_slice(&bytes[POINT_OCTETS..]);
        Ok(Self {
            r_point,
            masked_ssv,
        })
    }
}

/// r = HashToIntegerRange(SSV || b, q) (RFC 6508 §6.2.1 step 2).
#[must_use]
pub fn derive_r(ssv: &Ssv, id: &[u8]) -> Fq {
    let mut input = Vec::with_capacity(SSV_OCTETS + id.len());
    input.extend_from_slice(ssv.as_bytes());
    input.extend_from_slice(id);
    let r = hash_to_scalar(&input);
    input.zeroize();
    r
}

/// HashToIntegerRange(w, 2^n) for a pairing value w (as L octets): the SSV mask.
#[must_use]
pub fn ssv_mask(w: &Fp) -> [u8; SSV_OCTETS] {
    hash_to_128_bits(&fp_to_bytes(w))
}

fn xor(a: &[u8; SSV_OCTETS], b: &[u8; SSV_OCTETS]) -> [u8; SSV_OCTETS] {
    std::array::from_fn(|i| a[i] ^ b[i])
}

/// Encapsulates a fresh random SSV to identifier `id` under `kms` (RFC 6508 §6.2.1).
pub fn encapsulate(
    rng: &mut dyn CryptoRngCore,
    kms: &KmsPublicKey,
    id: &[u8],
) -> Result<(Ssv, Sed), SchemeError> {
    let mut bytes = [0u8; SSV_OCTETS];
    rng.fill_bytes(&mut bytes);
    let ssv = Ssv::new(bytes);
    bytes.zeroize();
    let sed = encapsulate_ssv(kms, id, &ssv)?;
    Ok((ssv, sed))
}

/// Encapsulates a given SSV (RFC 6508 §6.2.1 steps 2–5): deterministic in the SSV, which must
/// therefore be uniformly random and secret. [`encapsulate`] is the usual entry point; this one
/// carries a key chosen elsewhere (a group key) and reproduces the RFC's known answers.
pub fn encapsulate_ssv(kms: &KmsPublicKey, id: &[u8], ssv: &Ssv) -> Result<Sed, SchemeError> {
    let mut r = derive_r(ssv, id);
    let r_point = to_affine(&mul(&kms.receiver_point(id)?, &r));
    let w = pf_pow_generator(&r);
    r.zeroize();
    if r_point.is_zero() {
        return Err(SchemeError::Crypto);
    }
    let masked_ssv = xor(ssv.as_bytes(), &ssv_mask(&w?));
    Ok(Sed {
        r_point,
        masked_ssv,
    })
}

/// A receiver's decapsulation key: its identifier, its KMS's public key and its validated RSK,
/// with \[b\]P + Z cached and optionally the RSK's Miller-loop lines precomputed.
pub struct Receiver {
    id: Vec<u8>,
    receiver_point: Point,
    rsk: Rsk,
    lines: Option<PreparedPairing>,
    receiver_multiples: Option<FixedBase>,
}

impl std::fmt::Debug for Receiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver")
            .field("id", &self.id)
            .field("precomputed", &self.lines.is_some())
            .finish_non_exhaustive()
    }
}

impl Receiver {
    /// Validates `rsk` for `id` under `kms` (RFC 6508 §6.1.2, one pairing) and keeps it.
    pub fn new(kms: &KmsPublicKey, id: &[u8], rsk: Rsk) -> Result<Self, SchemeError> {
        check_subgroup_point(rsk.point(), "SAKKE RSK")?;
        rsk.validate(kms, id)?;
        Ok(Self {
            id: id.to_vec(),
            receiver_point: kms.receiver_point(id)?,
            rsk,
            lines: None,
            receiver_multiples: None,
        })
    }

    /// As [`Receiver::new`], and precomputes what every decapsulation to this receiver shares
    /// (as wolfSSL's RSK table): the Miller-loop lines of the RSK (about 1,530 lines, 390 KiB, as
    /// secret as the RSK itself), which cut the pairing to about a third, and a window-4 table
    /// of multiples of \[b\]P + Z (1 MiB, public), which turns the re-encryption test into 256
    /// mixed additions.
    pub fn with_precomputation(
        kms: &KmsPublicKey,
        id: &[u8],
        rsk: Rsk,
    ) -> Result<Self, SchemeError> {
        let mut receiver = Self::new(kms, id, rsk)?;
        receiver.lines = Some(PreparedPairing::new(receiver.rsk.point())?);
        receiver.receiver_multiples = Some(FixedBase::new(&receiver.receiver_point));
        Ok(receiver)
    }

    /// The identifier.
    #[must_use]
    pub fn id(&self) -> &[u8] {
        &self.id
    }

    /// This receiver without its precomputation (for a key period that has ended: its late
    /// messages are rare, and the tables are 1.4 MiB).
    #[must_use]
    pub fn without_precomputation(mut self) -> Self {
        self.lines = None;
        self.receiver_multiples = None;
        self
    }

    /// Recovers the SSV of `sed` (RFC 6508 §6.2.2) and checks that `sed` is the encapsulation
    /// of that SSV to this receiver (step 5); any other input fails with an opaque error.
    pub fn decapsulate(&self, sed: &Sed) -> Result<Ssv, SchemeError> {
        if sed.r_point.is_zero() {
            return Err(SchemeError::Crypto);
        }
        let w = match &self.lines {
            // ⟨K, R⟩ = ⟨R, K⟩ for R in the order-q subgroup; other R fail the test below.
            Some(lines) => lines.evaluate(&sed.r_point),
            None => pairing(&sed.r_point, self.rsk.point()),
        }
        .map_err(|_| SchemeError::Crypto)?;
        let ssv = Ssv::new(xor(&sed.masked_ssv, &ssv_mask(&w)));
        let mut r = derive_r(&ssv, &self.id);
        let test = match &self.receiver_multiples {
            Some(table) => table.mul(&r),
            None => to_affine(&mul(&self.receiver_point, &r)),
        };
        r.zeroize();
        if test != sed.r_point {
            return Err(SchemeError::Crypto);
        }
        Ok(ssv)
    }
}
