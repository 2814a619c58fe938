//! ECCSI (RFC 6507) on NIST P-256 with SHA-256, as MIKEY-SAKKE uses it (RFC 6509 §2.4): the KMS
//! Secret/Public Authentication Keys (KSAK/KPAK), issue of a Secret Signing Key and Public
//! Validation Token (SSK/PVT, §5.1.1), their validation by the user (§5.1.2), signing (§5.2.1)
//! and verification (§5.2.2). Signatures are `r || s || PVT`, 129 octets.

use p256::elliptic_curve::ff::{Field, PrimeField};
use p256::elliptic_curve::ops::{LinearCombination, Reduce};
use p256::elliptic_curve::point::AffineCoordinates;
use p256::elliptic_curve::sec1::{FromEncodedPoint, ToEncodedPoint};
use p256::elliptic_curve::Group;
use p256::{AffinePoint, EncodedPoint, FieldBytes, ProjectivePoint, Scalar, U256};
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::{CryptoRngCore, SchemeError};

/// N: octets of a P-256 integer or coordinate.
pub const SCALAR_OCTETS: usize = 32;

/// Octets of an uncompressed P-256 point `0x04 || x || y`.
pub const POINT_OCTETS: usize = 2 * SCALAR_OCTETS + 1;

/// Octets of a signature `r || s || PVT`.
pub const SIGNATURE_OCTETS: usize = 2 * SCALAR_OCTETS + POINT_OCTETS;

/// The P-256 field prime p, big-endian: r is a coordinate, so it lies below p.
const FIELD_PRIME: [u8; SCALAR_OCTETS] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
];

/// The uncompressed encoding of a non-identity point.
fn point_bytes(point: &AffinePoint) -> [u8; POINT_OCTETS] {
    let encoded = point.to_encoded_point(false);
    let mut out = [0u8; POINT_OCTETS];
    // Every point handled here has been checked not to be the identity, whose encoding is
    // the single octet 0x00.
    if encoded.as_bytes().len() == POINT_OCTETS {
        out.copy_from_slice(encoded.as_bytes());
    }
    out
}

/// Parses `0x04 || x || y`: on the curve and not the identity. `field` names it in errors.
fn parse_point(bytes: &[u8], field: &'static str) -> Result<AffinePoint, SchemeError> {
    if bytes.len() != POINT_OCTETS || bytes[0] != 0x04 {
        return Err(SchemeError::Malformed(field));
    }
    let encoded = EncodedPoint::from_bytes(bytes).map_err(|_| SchemeError::Malformed(field))?;
    Option::from(AffinePoint::from_encoded_point(&encoded)).ok_or(SchemeError::Malformed(field))
}

/// Parses a 32-octet big-endian scalar in \[1, q − 1\].
fn parse_nonzero_scalar(bytes: &[u8], field: &'static str) -> Result<Scalar, SchemeError> {
    let bytes: [u8; SCALAR_OCTETS] = bytes
        .try_into()
        .map_err(|_| SchemeError::Malformed(field))?;
    let scalar: Option<Scalar> = Scalar::from_repr(FieldBytes::from(bytes)).into();
    match scalar {
        Some(s) if !bool::from(s.is_zero()) => Ok(s),
        _ => Err(SchemeError::Malformed(field)),
    }
}

/// A uniformly random scalar in \[1, q − 1\].
pub(crate) fn random_nonzero_scalar(rng: &mut dyn CryptoRngCore) -> Scalar {
    loop {
        let s = Scalar::random(&mut *rng);
        if !bool::from(s.is_zero()) {
            return s;
        }
    }
}

/// Calls `attempt` with fresh random nonzero scalars until it succeeds (a retry is needed only
/// with negligible probability), zeroising each scalar after use.
fn with_fresh_scalar<T>(
    rng: &mut dyn CryptoRngCore,
    attempt: impl Fn(&Scalar) -> Result<T, SchemeError>,
) -> T {
    loop {
        let mut k = random_nonzero_scalar(rng);
        let outcome = attempt(&k);
        k.zeroize();
        if let Ok(value) = outcome {
            return value;
        }
    }
}

/// An integer of N octets reduced mod q.
fn reduce(bytes: &[u8; SCALAR_OCTETS]) -> Scalar {
    <Scalar as Reduce<U256>>::reduce_bytes(&FieldBytes::from(*bytes))
}

/// HS = hash(G || KPAK || ID || PVT) (RFC 6507 §5.1.1 step 3).
#[must_use]
pub fn hash_hs(kpak: &Kpak, id: &[u8], pvt: &Pvt) -> [u8; SCALAR_OCTETS] {
    let mut h = Sha256::new();
    h.update(point_bytes(&AffinePoint::GENERATOR));
    h.update(point_bytes(&kpak.0));
    h.update(id);
    h.update(point_bytes(&pvt.0));
    h.finalize().into()
}

/// HE = hash(HS || r || M) (RFC 6507 §5.2.1 step 3).
#[must_use]
pub fn hash_he(
    hs: &[u8; SCALAR_OCTETS],
    r: &[u8; SCALAR_OCTETS],
    message: &[u8],
) -> [u8; SCALAR_OCTETS] {
    let mut h = Sha256::new();
    h.update(hs);
    h.update(r);
    h.update(message);
    h.finalize().into()
}

/// The KMS Public Authentication Key KPAK = \[KSAK\]G.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kpak(AffinePoint);

impl Kpak {
    /// `0x04 || x || y` (65 octets).
    #[must_use]
    pub fn to_bytes(&self) -> [u8; POINT_OCTETS] {
        point_bytes(&self.0)
    }

    /// Parses a KPAK: on P-256, not the identity.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SchemeError> {
        parse_point(bytes, "ECCSI KPAK").map(Self)
    }
}

/// A Public Validation Token PVT = \[v\]G, published with every signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pvt(AffinePoint);

impl Pvt {
    /// `0x04 || x || y` (65 octets).
    #[must_use]
    pub fn to_bytes(&self) -> [u8; POINT_OCTETS] {
        point_bytes(&self.0)
    }

    /// Parses a PVT: on P-256, not the identity (RFC 6507 §5.1.2 step 1, §5.2.2 step 1).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SchemeError> {
        parse_point(bytes, "ECCSI PVT").map(Self)
    }
}

/// A Secret Signing Key SSK = KSAK + HS·v (mod q).
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct Ssk(Scalar);

impl std::fmt::Debug for Ssk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Ssk(redacted)")
    }
}

impl Ssk {
    /// 32 octets, big-endian.
    #[must_use]
    pub fn to_bytes(&self) -> [u8; SCALAR_OCTETS] {
        self.0.to_repr().into()
    }

    /// Parses an SSK in \[1, q − 1\]. Whether it matches an identity is [`SigningKey::new`]'s
    /// question.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SchemeError> {
        parse_nonzero_scalar(bytes, "ECCSI SSK").map(Self)
    }
}

/// The KMS Secret Authentication Key KSAK. Whoever holds it can issue a signing key for any
/// identity of this KMS.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct Ksak(Scalar);

impl std::fmt::Debug for Ksak {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Ksak(redacted)")
    }
}

impl Ksak {
    /// Draws a KSAK uniformly from \[1, q − 1\].
    pub fn generate(rng: &mut dyn CryptoRngCore) -> Self {
        Self(random_nonzero_scalar(rng))
    }

    /// A given KSAK (32 octets, big-endian, in \[1, q − 1\]).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SchemeError> {
        parse_nonzero_scalar(bytes, "ECCSI KSAK").map(Self)
    }

    /// KPAK = \[KSAK\]G.
    #[must_use]
    pub fn kpak(&self) -> Kpak {
        Kpak((ProjectivePoint::GENERATOR * self.0).to_affine())
    }

    /// Issues (SSK, PVT) for `id` with a fresh random v (RFC 6507 §5.1.1).
    pub fn issue(&self, rng: &mut dyn CryptoRngCore, id: &[u8]) -> (Ssk, Pvt) {
        with_fresh_scalar(rng, |v| self.issue_with_v(v, id))
    }

    /// Issues (SSK, PVT) for `id` with the given ephemeral v (RFC 6507 §5.1.1 steps 2–6). v
    /// must be uniformly random, secret and used once: [`Ksak::issue`] draws it; this form
    /// reproduces the RFC's known answers. Fails (opaquely) if v, HS or SSK is 0 mod q, in which
    /// case the RFC asks for a new v.
    pub fn issue_with_v(&self, v: &Scalar, id: &[u8]) -> Result<(Ssk, Pvt), SchemeError> {
        if bool::from(v.is_zero()) {
            return Err(SchemeError::Crypto);
        }
        let pvt = Pvt((ProjectivePoint::GENERATOR * v).to_affine());
        let hs = reduce(&hash_hs(&self.kpak(), id, &pvt));
        let ssk = self.0 + hs * v;
        if bool::from(hs.is_zero()) || bool::from(ssk.is_zero()) {
            return Err(SchemeError::Crypto);
        }
        Ok((Ssk(ssk), pvt))
    }
}

/// A user's validated signing key: identity, KPAK, SSK, PVT and the cached HS.
pub struct SigningKey {
    id: Vec<u8>,
    ssk: Ssk,
    pvt: Pvt,
    hs: [u8; SCALAR_OCTETS],
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("id", &self.id)
            .field("pvt", &self.pvt)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Validates (SSK, PVT) for `id` under `kpak` (RFC 6507 §5.1.2: KPAK = \[SSK\]G − \[HS\]PVT)
    /// and keeps them.
    pub fn new(kpak: &Kpak, id: &[u8], ssk: Ssk, pvt: Pvt) -> Result<Self, SchemeError> {
        let hs = hash_hs(kpak, id, &pvt);
        let check = ProjectivePoint::lincomb(
            &ProjectivePoint::GENERATOR,
            &ssk.0,
            &ProjectivePoint::from(pvt.0),
            &-reduce(&hs),
        );
        if check.to_affine() != kpak.0 {
            return Err(SchemeError::Crypto);
        }
        Ok(Self {
            id: id.to_vec(),
            ssk,
            pvt,
            hs,
        })
    }

    /// The identity signed for.
    #[must_use]
    pub fn id(&self) -> &[u8] {
        &self.id
    }

    /// HS = hash(G || KPAK || ID || PVT).
    #[must_use]
    pub fn hs(&self) -> &[u8; SCALAR_OCTETS] {
        &self.hs
    }

    /// Signs `message` with a fresh random j (RFC 6507 §5.2.1).
    pub fn sign(&self, rng: &mut dyn CryptoRngCore, message: &[u8]) -> Signature {
        with_fresh_scalar(rng, |j| self.sign_with_nonce(j, message))
    }

    /// Signs with the given ephemeral j (RFC 6507 §5.2.1 steps 2–7). Reusing j for two messages
    /// reveals the SSK: [`SigningKey::sign`] draws it; this form reproduces the RFC's known
    /// answers. Fails (opaquely) if j = 0 or HE + r·SSK ≡ 0 (mod q), when the RFC asks for a new
    /// j.
    pub fn sign_with_nonce(&self, j: &Scalar, message: &[u8]) -> Result<Signature, SchemeError> {
        if bool::from(j.is_zero()) {
            return Err(SchemeError::Crypto);
        }
        let big_j = (ProjectivePoint::GENERATOR * j).to_affine();
        let r: [u8; SCALAR_OCTETS] = big_j.x().into();
        let he = reduce(&hash_he(&self.hs, &r, message));
        let denominator = he + reduce(&r) * self.ssk.0;
        let inverse: Option<Scalar> = denominator.invert().into();
        let inverse = inverse.ok_or(SchemeError::Crypto)?;
        // s' < q always fits N octets for P-256, so s = s' (step 6).
        let s = inverse * j;
        if bool::from(s.is_zero()) {
            return Err(SchemeError::Crypto);
        }
        Ok(Signature {
            r,
            s,
            pvt: self.pvt,
        })
    }
}

/// An ECCSI signature `r || s || PVT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signature {
    r: [u8; SCALAR_OCTETS],
    s: Scalar,
    pvt: Pvt,
}

impl Signature {
    /// r, the x-coordinate of J = \[j\]G.
    #[must_use]
    pub fn r(&self) -> &[u8; SCALAR_OCTETS] {
        &self.r
    }

    /// s, 32 octets big-endian.
    #[must_use]
    pub fn s_bytes(&self) -> [u8; SCALAR_OCTETS] {
        self.s.to_repr().into()
    }

    /// The signer's PVT.
    #[must_use]
    pub fn pvt(&self) -> &Pvt {
        &self.pvt
    }

    /// `r || s || PVT` (129 octets).
    #[must_use]
    pub fn to_bytes(&self) -> [u8; SIGNATURE_OCTETS] {
        let mut out = [0u8; SIGNATURE_OCTETS];
        out[..SCALAR_OCTETS].copy_from_slice(&self.r);
        out[SCALAR_OCTETS..2 * SCALAR_OCTETS].copy_from_slice(&self.s_bytes());
        out[2 * SCALAR_OCTETS..].copy_from_slice(&self.pvt.to_bytes());
        out
    }

    /// Parses `r || s || PVT`: r a coordinate below the field prime, s in \[1, q − 1\], PVT on
    /// the curve.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SchemeError> {
        if bytes.len() != SIGNATURE_OCTETS {
            return Err(SchemeError::Malformed("ECCSI signature length"));
        }
        let mut r = [0u8; SCALAR_OCTETS];
        r.copy_from_slice(&bytes[..SCALAR_OCTETS]);
        // Equal-length big-endian arrays compare as the integers they encode.
        if r >= FIELD_PRIME {
            return Err(SchemeError::Malformed("ECCSI signature r"));
        }
        let s = parse_nonzero_scalar(
            &bytes[SCALAR_OCTETS..2 * SCALAR_OCTETS],
            "ECCSI signature s",
        )?;
        let pvt = Pvt::from_bytes(&bytes[2 * SCALAR_OCTETS..])?;
        Ok(Self { r, s, pvt })
    }
}

/// Y = \[HS\]PVT + KPAK, the signer's public validation point (RFC 6507 §5.2.2 step 4).
#[must_use]
pub fn validation_point(kpak: &Kpak, id: &[u8], pvt: &Pvt) -> AffinePoint {
    let hs = reduce(&hash_hs(kpak, id, pvt));
    (ProjectivePoint::from(pvt.0) * hs + ProjectivePoint::from(kpak.0)).to_affine()
}

/// J = \[s\](\[HE\]G + \[r\]Y) (RFC 6507 §5.2.2 step 5), which equals the signer's \[j\]G for a valid
/// signature. Computed as \[s·HE\]G + \[s·r\]KPAK + \[s·r·HS\]PVT (Y = \[HS\]PVT + KPAK): one
/// two-point linear combination and one multiplication instead of four multiplications.
#[must_use]
pub fn recover_j(kpak: &Kpak, id: &[u8], message: &[u8], signature: &Signature) -> AffinePoint {
    let hs_bytes = hash_hs(kpak, id, &signature.pvt);
    let he = reduce(&hash_he(&hs_bytes, &signature.r, message));
    let s_r = signature.s * reduce(&signature.r);
    let fixed = ProjectivePoint::lincomb(
        &ProjectivePoint::GENERATOR,
        &(signature.s * he),
        &ProjectivePoint::from(kpak.0),
        &s_r,
    );
    (fixed + ProjectivePoint::from(signature.pvt.0) * (s_r * reduce(&hs_bytes))).to_affine()
}

/// Verifies `signature` on `message` by `id` under `kpak` (RFC 6507 §5.2.2): accepts iff
/// J_x = r and J is not the identity.
pub fn verify(
    kpak: &Kpak,
    id: &[u8],
    message: &[u8],
    signature: &Signature,
) -> Result<(), SchemeError> {
    let j = recover_j(kpak, id, message, signature);
    if bool::from(ProjectivePoint::from(j).is_identity()) {
        return Err(SchemeError::Crypto);
    }
    let jx: [u8; SCALAR_OCTETS] = j.x().into();
    if jx == signature.r {
        Ok(())
    } else {
        Err(SchemeError::Crypto)
    }
}
