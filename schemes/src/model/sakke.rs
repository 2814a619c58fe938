//! The model of `sakke`: the real scheme's I_MESSAGEs, checks and KMSs with ideal SAKKE and
//! ECCSI, no pairing and no curve arithmetic.
//!
//! # Source
//!
//! [`crate::kd::sakke`], which it stands for in the `model` cost mode (see [`crate::model`]),
//! and the ideal functionalities of [`super::ideal_kd`]: an ideal encapsulation or signature
//! carries what the real one is bound to and opens or verifies only there.
//!
//! # Construction
//!
//! [`SakkeModel`] is [`SakkeWith`] over the [`Ideal`] provider: the very client, KMS, relay,
//! I_MESSAGE encoding and checks of the real scheme (its module is the one code for both), with
//! the jobs [`IdentityKem`] and [`IdentitySignatures`] done by ideal objects of the real ones'
//! encoded lengths:
//!
//! * a KMS's **SAKKE master secret** is a random 64-bit identity (drawn as the real z is, 192
//!   octets) and its **public key Z** the same identity; an **RSK** (257 octets on the wire:
//!   `0x04`, the KMS, a 16-byte [`mix`](super::mix) digest of the identifier and zeros) names the
//!   KMS and the identifier it was issued for, and validates into a receiver only under that KMS
//!   and for that identifier, as the real one validates by a pairing;
//! * a **SED** (273 octets) is `0x04`, the KMS, the identifier's digest, a 16-byte check of
//!   those and the SSV, zeros up to the point's length, and the SSV complemented (no encryption:
//!   it keeps the key's bytes out of the servers' scans); it decapsulates only under a receiver
//!   of that identifier and that KMS, and only unaltered, where the real re-encryption test
//!   refuses everything else; non-zero padding is refused as a non-point;
//! * a KMS's **KSAK** is a random identity, its **KPAK** the same identity; an **(SSK, PVT)**
//!   names the KMS, the identifier's digest and the PVT's own random identity (SSK: those in 32
//!   octets; PVT: `0x04`, its identity and zeros, 65 octets), and validates into a signer only
//!   under that KPAK, for that identifier, with that PVT (the real check `KPAK = [SSK]G − [HS]PVT`
//!   binds the same three);
//! * a **signature** (129 octets, `r ‖ s ‖ PVT` as the real one) carries the nonce's identity as
//!   `r`, as `s` a 16-byte check of the KPAK, the identifier's digest, `r`, the PVT and the whole
//!   signed message, and the PVT; it verifies only under that KPAK and identifier for exactly
//!   that message.
//!
//! Every random value is drawn from the generator as the real scheme draws it: the master
//! secret's 192 octets, and each KSAK, PVT's `v` and signature nonce `j` as a P-256 scalar by the
//! same rejection sampling (the real scheme's own draw), so a model run consumes the run's
//! generator exactly as a real one does and the rest of the run (the GMKs, which are the real
//! scheme's 16 random octets) is the same. The epoch secret is still HKDF-SHA-256 of the GMK,
//! as in the real scheme (microseconds against a pairing's milliseconds).
//!
//! # Costs
//!
//! The real scheme's I_MESSAGEs, of [`message_len`](crate::kd::sakke::group::message_len)
//! octets, in the same order to the same parties; KMS issues of
//! [`ISSUED_OCTETS`](crate::kd::sakke::group::ISSUED_OCTETS); a member stores the real scheme's
//! state per room. Its clients hold an ideal receiver, a few fields, not the real one's 1.4 MiB
//! of tables, and declare that ([`KeyDistribution::CLIENT_CREDENTIAL_BYTES`](crate::kd::KeyDistribution::CLIENT_CREDENTIAL_BYTES)),
//! so that a model run's memory estimate does not count tables it never builds. No public-key
//! work runs: a run charges the real scheme's operations from the calibration table, under the
//! real scheme's name.
//!
//! # Security
//!
//! None of its own: every master secret, RSK, SSK and SSV is in the clear (an RSK names its
//! identifier, a SED its SSV under a public complement). The recipients' checks (room, epoch,
//! identities, KMSs, signature, decapsulation) and hence who holds which epoch are the real
//! scheme's code and stay checked by the oracle; a SED for another identifier or KMS, a
//! signature by another identity or KMS, and a message altered anywhere are refused where the
//! real ones are. What a model run does **not** check by cryptography: that the relaying server
//! cannot decapsulate a SED or forge a signature (nothing here is hard to compute), that a
//! removed member cannot open the next GMK's SEDs, and that a KMS of another organisation cannot
//! sign as a member under the member's KPAK. The KMS escrow the scheme has by design
//! ([`KdAuthority::escrow`](crate::kd::KdAuthority::escrow)) runs as the real code does, with
//! the ideal RSK.
//!
//! # Weaknesses
//!
//! Those of [`super::ideal_kd`]. Identifiers are named by a 16-byte digest of
//! [`mix`](super::mix), not a hash: identifiers that collide in it would share an RSK, which no
//! run constructs; the real scheme's own collisions (identifiers congruent mod q) are not
//! modelled. The real scheme draws again, with negligible probability, when an ECCSI nonce gives
//! a zero signature or a master secret is below 2; the model does not, which no run reaches.
//!
//! # Side channels
//!
//! Not applicable: nothing secret is computed.

use super::ideal_kd::{identity_digest, Ideal};
use super::mix::Mix;
use crate::kd::provider::{IdentityKem, IdentitySignatures};
use crate::kd::sakke::curve::POINT_OCTETS;
use crate::kd::sakke::eccsi::{
    random_nonzero_scalar, POINT_OCTETS as PVT_OCTETS, SCALAR_OCTETS, SIGNATURE_OCTETS,
};
use crate::kd::sakke::kem::{Ssv, SED_OCTETS, SSV_OCTETS, UNIFORM_SCALAR_OCTETS};
use crate::kd::sakke::SakkeWith;
use crate::{CryptoRngCore, SchemeError};

/// The model of [`Sakke`](crate::kd::sakke::Sakke).
pub type SakkeModel = SakkeWith<Ideal>;

/// The identity of a fresh P-256 scalar drawn as the real ECCSI draws one.
fn scalar_identity(rng: &mut dyn CryptoRngCore) -> u64 {
    u64_at(&random_nonzero_scalar(rng).to_bytes())
}

/// `u64` from the first 8 octets of `bytes` (at least 8 long).
fn u64_at(bytes: &[u8]) -> u64 {
    let mut be = [0u8; 8];
    be.copy_from_slice(&bytes[..8]);
    u64::from_be_bytes(be)
}

/// A KMS's SAKKE master secret: a random identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdealKemMaster(u64);

/// A KMS's SAKKE public key Z: the identity of its master secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdealKemPublic(u64);

/// An RSK: the KMS that issued it and the digest of its identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdealRsk {
    kms: u64,
    identity: [u8; 16],
}

/// A validated RSK.
#[derive(Debug)]
pub struct IdealReceiver {
    kms: u64,
    id: Vec<u8>,
    /// Whether the real receiver would hold its precomputed tables (no effect on what it opens).
    precomputed: bool,
}

/// A SED: the KMS and identifier it was made for, a check binding the SSV, the masked SSV.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdealSed {
    kms: u64,
    identity: [u8; 16],
    check: [u8; 16],
    masked: [u8; SSV_OCTETS],
}

/// Octets of the ideal point encodings that carry something: `0x04`, an identity and a digest.
const POINT_BODY: usize = 1 + 8 + 16;

/// The check of a SED: its KMS, identifier and SSV, so that a changed octet is refused as the
/// real re-encryption test refuses it.
fn sed_check(kms: u64, identity: &[u8; 16], ssv: &[u8; SSV_OCTETS]) -> [u8; 16] {
    Mix::new("conclave model sakke sed")
        .field(&kms.to_be_bytes())
        .field(identity)
        .field(ssv)
        .block(0)
}

fn complement<const N: usize>(bytes: &[u8; N]) -> [u8; N] {
    core::array::from_fn(|i| !bytes[i])
}

impl IdentityKem for Ideal {
    type KemMasterKey = IdealKemMaster;
    type KemPublicKey = IdealKemPublic;
    type Rsk = IdealRsk;
    type Receiver = IdealReceiver;
    type Sed = IdealSed;
    // The struct and an identifier of a few dozen octets: no tables.
    const RECEIVER_BYTES: usize = core::mem::size_of::<IdealReceiver>() + 64;

    /// Draws the 192 octets the real z is reduced from.
    fn kem_setup(rng: &mut dyn CryptoRngCore) -> IdealKemMaster {
        let mut wide = [0u8; UNIFORM_SCALAR_OCTETS];
        rng.fill_bytes(&mut wide);
        IdealKemMaster(u64_at(&wide))
    }
    fn kem_public(master: &IdealKemMaster) -> IdealKemPublic {
        IdealKemPublic(master.0)
    }
    fn issue_rsk(master: &IdealKemMaster, id: &[u8]) -> Result<IdealRsk, SchemeError> {
        Ok(IdealRsk {
            kms: master.0,
            identity: identity_digest(id),
        })
    }
    fn rsk_to_bytes(rsk: &IdealRsk) -> [u8; POINT_OCTETS] {
        let mut out: [u8; POINT_OCTETS] = point_of(rsk.kms);
        out[9..POINT_BODY].copy_from_slice(&rsk.identity);
        out
    }
    fn receiver(
        kms: &IdealKemPublic,
        id: &[u8],
        rsk: IdealRsk,
        precompute: bool,
    ) -> Result<IdealReceiver, SchemeError> {
        if rsk.kms != kms.0 || rsk.identity != identity_digest(id) {
            return Err(SchemeError::Crypto);
        }
        Ok(IdealReceiver {
            kms: kms.0,
            id: id.to_vec(),
            precomputed: precompute,
        })
    }
    fn receiver_id(receiver: &IdealReceiver) -> &[u8] {
        &receiver.id
    }
    fn without_precomputation(mut receiver: IdealReceiver) -> IdealReceiver {
        receiver.precomputed = false;
        receiver
    }
    fn encapsulate(kms: &IdealKemPublic, id: &[u8], ssv: &Ssv) -> Result<IdealSed, SchemeError> {
        let identity = identity_digest(id);
        Ok(IdealSed {
            kms: kms.0,
            identity,
            check: sed_check(kms.0, &identity, ssv.as_bytes()),
            masked: complement(ssv.as_bytes()),
        })
    }
    fn decapsulate(receiver: &IdealReceiver, sed: &IdealSed) -> Result<Ssv, SchemeError> {
        let ssv = complement(&sed.masked);
        let opens = sed.kms == receiver.kms
            && sed.identity == identity_digest(&receiver.id)
            && sed.check == sed_check(sed.kms, &sed.identity, &ssv);
        if opens {
            Ok(Ssv::new(ssv))
        } else {
            Err(SchemeError::Crypto)
        }
    }
    fn sed_to_bytes(sed: &IdealSed) -> [u8; SED_OCTETS] {
        let mut out: [u8; SED_OCTETS] = point_of(sed.kms);
        out[9..POINT_BODY].copy_from_slice(&sed.identity);
        out[POINT_BODY..POINT_BODY + 16].copy_from_slice(&sed.check);
        out[POINT_OCTETS..].copy_from_slice(&sed.masked);
        out
    }
    /// Anything but `0x04`, the fields and zeros in the point's place is refused, as a
    /// non-point is.
    fn sed_from_bytes(bytes: &[u8]) -> Result<IdealSed, SchemeError> {
        if bytes.len() != SED_OCTETS {
            return Err(SchemeError::Malformed("SAKKE encapsulated data length"));
        }
        if bytes[0] != 0x04 || bytes[POINT_BODY + 16..POINT_OCTETS].iter().any(|b| *b != 0) {
            return Err(SchemeError::Malformed("SAKKE encapsulated data R_(b,S)"));
        }
        let mut identity = [0u8; 16];
        identity.copy_from_slice(&bytes[9..POINT_BODY]);
        let mut check = [0u8; 16];
        check.copy_from_slice(&bytes[POINT_BODY..POINT_BODY + 16]);
        let mut masked = [0u8; SSV_OCTETS];
        masked.copy_from_slice(&bytes[POINT_OCTETS..]);
        Ok(IdealSed {
            kms: u64_at(&bytes[1..]),
            identity,
            check,
            masked,
        })
    }
}

/// A KMS's KSAK: a random identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdealKsak(u64);

/// A KMS's KPAK: the identity of its KSAK.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdealKpak(u64);

/// An SSK: the KMS that issued it, the digest of its identifier and the identity of its PVT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdealSsk {
    kms: u64,
    identity: [u8; 16],
    pvt: u64,
}

/// A PVT: the identity of the random `v` it was made with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdealPvt(u64);

/// A validated (SSK, PVT).
#[derive(Debug)]
pub struct IdealSigner {
    kms: u64,
    identity: [u8; 16],
    pvt: u64,
}

/// A signature: the nonce's identity, the check of what it signs, and the signer's PVT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdealSignature {
    r: u64,
    s: [u8; 16],
    pvt: u64,
}

/// The check `s` of a signature of `msg` by `identity` under KMS `kms`, with nonce `r` and PVT
/// `pvt`: the whole message counts, as it does in the real HE.
fn signature_check(kms: u64, identity: &[u8; 16], r: u64, pvt: u64, msg: &[u8]) -> [u8; 16] {
    Mix::new("conclave model eccsi signature")
        .field(&kms.to_be_bytes())
        .field(identity)
        .field(&r.to_be_bytes())
        .field(&pvt.to_be_bytes())
        .field(msg)
        .block(0)
}

/// An ideal point's encoding in `N` octets: `0x04` (uncompressed, as the real points), the
/// identity `id`, zeros for the caller's fields.
fn point_of<const N: usize>(id: u64) -> [u8; N] {
    let mut out = [0u8; N];
    out[0] = 0x04;
    out[1..9].copy_from_slice(&id.to_be_bytes());
    out
}

/// The PVT's encoding: `0x04`, its identity, zeros.
fn pvt_bytes(pvt: u64) -> [u8; PVT_OCTETS] {
    point_of(pvt)
}

impl IdentitySignatures for Ideal {
    type Ksak = IdealKsak;
    type Kpak = IdealKpak;
    type Ssk = IdealSsk;
    type Pvt = IdealPvt;
    type Signer = IdealSigner;
    type IdSignature = IdealSignature;

    fn sig_setup(rng: &mut dyn CryptoRngCore) -> IdealKsak {
        IdealKsak(scalar_identity(rng))
    }
    fn kpak(ksak: &IdealKsak) -> IdealKpak {
        IdealKpak(ksak.0)
    }
    fn issue_signing(
        ksak: &IdealKsak,
        id: &[u8],
        rng: &mut dyn CryptoRngCore,
    ) -> (IdealSsk, IdealPvt) {
        let v = scalar_identity(rng);
        let ssk = IdealSsk {
            kms: ksak.0,
            identity: identity_digest(id),
            pvt: v,
        };
        (ssk, IdealPvt(v))
    }
    fn ssk_to_bytes(ssk: &IdealSsk) -> [u8; SCALAR_OCTETS] {
        let mut out = [0u8; SCALAR_OCTETS];
        out[..8].copy_from_slice(&ssk.kms.to_be_bytes());
        out[8..24].copy_from_slice(&ssk.identity);
        out[24..].copy_from_slice(&ssk.pvt.to_be_bytes());
        out
    }
    fn pvt_to_bytes(pvt: &IdealPvt) -> [u8; PVT_OCTETS] {
        pvt_bytes(pvt.0)
    }
    fn signer(
        kpak: &IdealKpak,
        id: &[u8],
        ssk: IdealSsk,
        pvt: IdealPvt,
    ) -> Result<IdealSigner, SchemeError> {
        if ssk.kms != kpak.0 || ssk.identity != identity_digest(id) || ssk.pvt != pvt.0 {
            return Err(SchemeError::Crypto);
        }
        Ok(IdealSigner {
            kms: ssk.kms,
            identity: ssk.identity,
            pvt: pvt.0,
        })
    }
    /// Draws the nonce j as the real signature does.
    fn id_sign(signer: &IdealSigner, msg: &[u8], rng: &mut dyn CryptoRngCore) -> IdealSignature {
        let r = scalar_identity(rng);
        IdealSignature {
            r,
            s: signature_check(signer.kms, &signer.identity, r, signer.pvt, msg),
            pvt: signer.pvt,
        }
    }
    fn id_verify(
        kpak: &IdealKpak,
        id: &[u8],
        msg: &[u8],
        signature: &IdealSignature,
    ) -> Result<(), SchemeError> {
        let expected = signature_check(
            kpak.0,
            &identity_digest(id),
            signature.r,
            signature.pvt,
            msg,
        );
        if expected == signature.s {
            Ok(())
        } else {
            Err(SchemeError::Crypto)
        }
    }
    fn signature_to_bytes(signature: &IdealSignature) -> [u8; SIGNATURE_OCTETS] {
        let mut out = [0u8; SIGNATURE_OCTETS];
        out[..8].copy_from_slice(&signature.r.to_be_bytes());
        out[SCALAR_OCTETS..SCALAR_OCTETS + 16].copy_from_slice(&signature.s);
        out[2 * SCALAR_OCTETS..].copy_from_slice(&pvt_bytes(signature.pvt));
        out
    }
    /// Anything but the fields and zeros is refused, as an out-of-range `r` or `s` or a PVT off
    /// the curve is.
    fn signature_from_bytes(bytes: &[u8]) -> Result<IdealSignature, SchemeError> {
        if bytes.len() != SIGNATURE_OCTETS {
            return Err(SchemeError::Malformed("ECCSI signature length"));
        }
        let (r, rest) = bytes.split_at(SCALAR_OCTETS);
        let (s, pvt) = rest.split_at(SCALAR_OCTETS);
        if r[8..].iter().any(|b| *b != 0) {
            return Err(SchemeError::Malformed("ECCSI signature r"));
        }
        if s[16..].iter().any(|b| *b != 0) {
            return Err(SchemeError::Malformed("ECCSI signature s"));
        }
        if pvt[0] != 0x04 || pvt[9..].iter().any(|b| *b != 0) {
            return Err(SchemeError::Malformed("ECCSI PVT"));
        }
        let mut check = [0u8; 16];
        check.copy_from_slice(&s[..16]);
        Ok(IdealSignature {
            r: u64_at(r),
            s: check,
            pvt: u64_at(&pvt[1..]),
        })
    }
}

#[cfg(test)]
mod tests {
    use rand_chacha::rand_core::{RngCore, SeedableRng};
    use rand_chacha::ChaCha20Rng;

    use super::*;
    use crate::kd::provider::{Real, SakkeCrypto};

    /// What SAKKE gives for a SED made to one identifier under one KMS, opened by the right
    /// receiver, another identifier's, another KMS's, after a changed octet and through its
    /// encoding; which RSKs validate; then the generator's next draw.
    #[allow(clippy::type_complexity)]
    fn kem_outcomes<P: SakkeCrypto>() -> (Vec<Result<[u8; SSV_OCTETS], SchemeError>>, Vec<bool>, u64)
    {
        let mut rng = ChaCha20Rng::seed_from_u64(21);
        let (kms, other) = (P::kem_setup(&mut rng), P::kem_setup(&mut rng));
        let (z, z_other) = (P::kem_public(&kms), P::kem_public(&other));
        let (alice, bob) = (
            &b"2027-01\0conclave:user/1\0"[..],
            &b"2027-01\0conclave:user/2\0"[..],
        );
        let rsk = P::issue_rsk(&kms, alice).unwrap();
        assert_eq!(P::rsk_to_bytes(&rsk).len(), POINT_OCTETS);
        let validates = vec![
            P::receiver(&z, alice, rsk.clone(), false).is_ok(),
            P::receiver(&z, bob, rsk.clone(), false).is_ok(),
            P::receiver(&z_other, alice, rsk.clone(), false).is_ok(),
        ];
        let receiver = P::receiver(&z, alice, rsk, true).unwrap();
        let bob_receiver = P::receiver(&z, bob, P::issue_rsk(&kms, bob).unwrap(), false).unwrap();
        let elsewhere =
            P::receiver(&z_other, alice, P::issue_rsk(&other, alice).unwrap(), false).unwrap();
        let ssv = Ssv::new([7; SSV_OCTETS]);
        let sed = P::encapsulate(&z, alice, &ssv).unwrap();
        let bytes = P::sed_to_bytes(&sed);
        let mut masked = bytes;
        masked[SED_OCTETS - 1] ^= 1;
        let open = |r: &P::Receiver, b: &[u8]| {
            P::sed_from_bytes(b)
                .and_then(|s| P::decapsulate(r, &s))
                .map(|s| *s.as_bytes())
        };
        let receiver = P::without_precomputation(receiver);
        let outcomes = vec![
            open(&receiver, &bytes),
            open(&bob_receiver, &bytes),
            open(&elsewhere, &bytes),
            open(&receiver, &masked),
            open(&receiver, &bytes[..SED_OCTETS - 1]),
            open(&receiver, &[0u8; SED_OCTETS]),
        ];
        assert_eq!(P::receiver_id(&receiver), alice);
        (outcomes, validates, rng.next_u64())
    }

    #[test]
    fn an_ideal_sed_opens_only_where_the_real_one_opens() {
        let ideal = kem_outcomes::<Ideal>();
        assert_eq!(kem_outcomes::<Real>(), ideal);
        assert_eq!(ideal.0[0], Ok([7; SSV_OCTETS]));
        assert_eq!(ideal.1, [true, false, false]);
    }

    /// What ECCSI gives: which (SSK, PVT) validate, which signatures verify (right, another
    /// identity, another KMS, a changed message, a changed octet, through the encoding), and
    /// the generator's next draw.
    fn signature_outcomes<P: SakkeCrypto>() -> (Vec<bool>, Vec<Result<(), SchemeError>>, u64) {
        let mut rng = ChaCha20Rng::seed_from_u64(22);
        let (ksak, other) = (P::sig_setup(&mut rng), P::sig_setup(&mut rng));
        let (kpak, kpak_other) = (P::kpak(&ksak), P::kpak(&other));
        let (alice, bob) = (
            &b"2027-01\0conclave:user/1\0"[..],
            &b"2027-01\0conclave:user/2\0"[..],
        );
        let (ssk, pvt) = P::issue_signing(&ksak, alice, &mut rng);
        let (_, pvt_bob) = P::issue_signing(&ksak, bob, &mut rng);
        assert_eq!(
            P::ssk_to_bytes(&ssk).len() + P::pvt_to_bytes(&pvt).len(),
            97
        );
        let validates = vec![
            P::signer(&kpak, alice, ssk.clone(), pvt.clone()).is_ok(),
            P::signer(&kpak, bob, ssk.clone(), pvt.clone()).is_ok(),
            P::signer(&kpak_other, alice, ssk.clone(), pvt.clone()).is_ok(),
            P::signer(&kpak, alice, ssk.clone(), pvt_bob).is_ok(),
        ];
        let signer = P::signer(&kpak, alice, ssk, pvt).unwrap();
        let msg = b"an I_MESSAGE up to its signature".to_vec();
        let sig = P::signature_to_bytes(&P::id_sign(&signer, &msg, &mut rng));
        let verify = |k: &P::Kpak, id: &[u8], m: &[u8], bytes: &[u8]| {
            P::signature_from_bytes(bytes).and_then(|s| P::id_verify(k, id, m, &s))
        };
        let mut changed = msg.clone();
        changed[20] ^= 1;
        let mut bad_s = sig;
        bad_s[SCALAR_OCTETS] ^= 1;
        let verified = vec![
            verify(&kpak, alice, &msg, &sig),
            verify(&kpak, bob, &msg, &sig),
            verify(&kpak_other, alice, &msg, &sig),
            verify(&kpak, alice, &changed, &sig),
            verify(&kpak, alice, &msg, &bad_s),
            verify(&kpak, alice, &msg, &sig[1..]),
        ];
        (validates, verified, rng.next_u64())
    }

    #[test]
    fn an_ideal_signature_verifies_only_where_the_real_one_does() {
        let ideal = signature_outcomes::<Ideal>();
        assert_eq!(signature_outcomes::<Real>(), ideal);
        assert_eq!(ideal.0, [true, false, false, false]);
        assert_eq!(ideal.1[0], Ok(()));
    }

    /// Every octet of an ideal SED or signature changed is refused, with an error, never a
    /// panic.
    #[test]
    fn every_changed_octet_is_refused() {
        let mut rng = ChaCha20Rng::seed_from_u64(23);
        let id = b"2027-01\0conclave:user/3\0";
        let master = Ideal::kem_setup(&mut rng);
        let z = Ideal::kem_public(&master);
        let receiver =
            Ideal::receiver(&z, id, Ideal::issue_rsk(&master, id).unwrap(), true).unwrap();
        let sed = Ideal::sed_to_bytes(&Ideal::encapsulate(&z, id, &Ssv::new([1; 16])).unwrap());
        let ksak = Ideal::sig_setup(&mut rng);
        let (ssk, pvt) = Ideal::issue_signing(&ksak, id, &mut rng);
        let signer = Ideal::signer(&Ideal::kpak(&ksak), id, ssk, pvt).unwrap();
        let sig = Ideal::signature_to_bytes(&Ideal::id_sign(&signer, b"m", &mut rng));
        for at in 0..SED_OCTETS {
            let mut bad = sed;
            bad[at] ^= 0x80;
            let opened =
                Ideal::sed_from_bytes(&bad).and_then(|s| Ideal::decapsulate(&receiver, &s));
            assert!(opened.is_err(), "SED octet {at}");
        }
        for at in 0..SIGNATURE_OCTETS {
            let mut bad = sig;
            bad[at] ^= 0x80;
            let verified = Ideal::signature_from_bytes(&bad)
                .and_then(|s| Ideal::id_verify(&Ideal::kpak(&ksak), id, b"m", &s));
            assert!(verified.is_err(), "signature octet {at}");
        }
    }
}
