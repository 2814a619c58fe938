//! Known answers of RFC 6507 Appendix A (ECCSI) and RFC 6508 Appendix A (SAKKE, parameter set 1
//! of RFC 6509): every intermediate value is recomputed, not only the results.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;

use conclave_schemes::kd::sakke::curve::{point_to_bytes, Point};
use conclave_schemes::kd::sakke::eccsi::{
    hash_hs, recover_j, validation_point, verify, Ksak, Pvt, Signature, SigningKey, Ssk,
};
use conclave_schemes::kd::sakke::field::fq_to_bytes;
use conclave_schemes::kd::sakke::kem::{
    derive_r, encapsulate_ssv, ssv_mask, KmsMasterKey, Receiver, Rsk, Sed, Ssv,
};
use conclave_schemes::kd::sakke::pairing::{pairing, pf_pow_generator};
use conclave_schemes::SchemeError;
use p256::elliptic_curve::point::AffineCoordinates;
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::elliptic_curve::PrimeField;

/// The vectors, copied into the repository with their provenance (tests/data/README.md).
const VECTORS: &str = include_str!("data/sakke-eccsi-vectors.json");

struct Vectors(HashMap<String, String>);

impl Vectors {
    fn load() -> Self {
        Self(serde_json::from_str(VECTORS).unwrap())
    }

    fn bytes(&self, key: &str) -> Vec<u8> {
        let hex = self
            .0
            .get(key)
            .unwrap_or_else(|| panic!("vector {key:?} missing"));
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect()
    }

    /// `0x04 || x || y` from the two coordinate entries.
    fn point(&self, x: &str, y: &str) -> Vec<u8> {
        let mut out = vec![0x04];
        out.extend(self.bytes(x));
        out.extend(self.bytes(y));
        out
    }
}

fn p256_scalar(bytes: &[u8]) -> p256::Scalar {
    let array: [u8; 32] = bytes.try_into().unwrap();
    Option::from(p256::Scalar::from_repr(array.into())).unwrap()
}

fn sakke_point(point: &Point) -> Vec<u8> {
    point_to_bytes(point).unwrap().to_vec()
}

#[test]
fn eccsi_rfc6507_appendix_a() {
    let v = Vectors::load();
    let ksak = Ksak::from_bytes(&v.bytes("ECCSI KSAK")).unwrap();
    let kpak = ksak.kpak();
    assert_eq!(
        kpak.to_bytes().to_vec(),
        v.point("ECCSI KPAK x", "ECCSI KPAK y"),
        "KPAK"
    );

    let id = v.bytes("ECCSI ID (octets)");
    let vee = p256_scalar(&v.bytes("ECCSI v"));
    let (ssk, pvt) = ksak.issue_with_v(&vee, &id).unwrap();
    assert_eq!(
        pvt.to_bytes().to_vec(),
        v.point("ECCSI PVT x", "ECCSI PVT y"),
        "PVT"
    );
    assert_eq!(
        hash_hs(&kpak, &id, &pvt).to_vec(),
        v.bytes("ECCSI HS"),
        "HS"
    );
    assert_eq!(ssk.to_bytes().to_vec(), v.bytes("ECCSI SSK"), "SSK");

    // §5.1.2: the user accepts the issued pair, from its encodings.
    let key = SigningKey::new(
        &kpak,
        &id,
        Ssk::from_bytes(&v.bytes("ECCSI SSK")).unwrap(),
        Pvt::from_bytes(&v.point("ECCSI PVT x", "ECCSI PVT y")).unwrap(),
    )
    .unwrap();
    assert_eq!(key.hs().to_vec(), v.bytes("ECCSI HS"));

    let message = v.bytes("ECCSI M (octets)");
    let j = p256_scalar(&v.bytes("ECCSI j"));
    let big_j = (p256::ProjectivePoint::GENERATOR * j).to_affine();
    assert_eq!(big_j.x().to_vec(), v.bytes("ECCSI J x (= r)"), "J x");
    let he = conclave_schemes::kd::sakke::eccsi::hash_he(
        key.hs(),
        &v.bytes("ECCSI J x (= r)").try_into().unwrap(),
        &message,
    );
    assert_eq!(he.to_vec(), v.bytes("ECCSI HE"), "HE");

    let signature = key.sign_with_nonce(&j, &message).unwrap();
    assert_eq!(signature.r().to_vec(), v.bytes("ECCSI J x (= r)"), "r");
    assert_eq!(signature.s_bytes().to_vec(), v.bytes("ECCSI s'"), "s'");
    assert_eq!(signature.s_bytes().to_vec(), v.bytes("ECCSI s"), "s");
    assert_eq!(
        signature.to_bytes().to_vec(),
        v.bytes("ECCSI Signature r||s||PVT (129 octets)"),
        "signature"
    );

    // §5.2.2 from the encoded signature: Y, J and acceptance.
    let parsed = Signature::from_bytes(&v.bytes("ECCSI Signature r||s||PVT (129 octets)")).unwrap();
    let y = validation_point(&kpak, &id, parsed.pvt());
    assert_eq!(
        y.to_encoded_point(false).as_bytes().to_vec(),
        v.point("ECCSI Y = [HS]PVT + KPAK, x", "ECCSI Y y"),
        "Y"
    );
    let recovered = recover_j(&kpak, &id, &message, &parsed);
    assert_eq!(
        recovered.to_encoded_point(false).as_bytes().to_vec(),
        v.point("ECCSI J x (= r)", "ECCSI J y"),
        "J"
    );
    assert_eq!(verify(&kpak, &id, &message, &parsed), Ok(()));

    // A different message, identity or KPAK fails.
    assert_eq!(
        verify(&kpak, &id, b"messagf\0", &parsed),
        Err(SchemeError::Crypto)
    );
    let mut other_id = id.clone();
    other_id[5] ^= 1;
    assert_eq!(
        verify(&kpak, &other_id, &message, &parsed),
        Err(SchemeError::Crypto)
    );
    let other_kpak = Ksak::from_bytes(&[7u8; 32]).unwrap().kpak();
    assert_eq!(
        verify(&other_kpak, &id, &message, &parsed),
        Err(SchemeError::Crypto)
    );
}

#[test]
fn sakke_rfc6508_appendix_a() {
    let v = Vectors::load();
    let kms = KmsMasterKey::from_bytes(&v.bytes("SAKKE z_S")).unwrap();
    let public = kms.public_key();
    assert_eq!(
        public.to_bytes().to_vec(),
        v.point("SAKKE Z_S x", "SAKKE Z_S y"),
        "Z_S"
    );

    let id = v.bytes("SAKKE b (identifier octets)");
    let rsk = kms.issue_rsk(&id).unwrap();
    assert_eq!(
        rsk.to_bytes().to_vec(),
        v.point("SAKKE RSK K_(b,S) x", "SAKKE RSK K_(b,S) y"),
        "RSK"
    );
    // §6.1.2 on the decoded RSK.
    let rsk = Rsk::from_bytes(&v.point("SAKKE RSK K_(b,S) x", "SAKKE RSK K_(b,S) y")).unwrap();
    assert_eq!(rsk.validate(&public, &id), Ok(()));

    let ssv = Ssv::new(v.bytes("SAKKE SSV").try_into().unwrap());
    let r = derive_r(&ssv, &id);
    assert_eq!(fq_to_bytes(&r).to_vec(), v.bytes("SAKKE r"), "r");
    let w = pf_pow_generator(&r).unwrap();
    assert_eq!(
        conclave_schemes::kd::sakke::field::fp_to_bytes(&w).to_vec(),
        v.bytes("SAKKE g^r (= w)"),
        "g^r"
    );
    assert_eq!(ssv_mask(&w).to_vec(), v.bytes("SAKKE mask"), "mask");

    let sed = encapsulate_ssv(&public, &id, &ssv).unwrap();
    assert_eq!(
        sakke_point(sed.r_point()),
        v.point("SAKKE R_(b,S) x", "SAKKE R_(b,S) y"),
        "R_(b,S)"
    );
    assert_eq!(sed.masked_ssv().to_vec(), v.bytes("SAKKE H"), "H");
    let sed_bytes = v.bytes("SAKKE Encapsulated Data 0x04||Rx||Ry||H (273 octets)");
    assert_eq!(sed.to_bytes().to_vec(), sed_bytes, "encapsulated data");

    // §6.2.2: the pairing of R with the RSK is w, and both receivers recover the SSV.
    let parsed = Sed::from_bytes(&sed_bytes).unwrap();
    assert_eq!(
        pairing(parsed.r_point(), rsk.point()),
        Ok(w),
        "<R, K> = g^r"
    );
    assert_eq!(
        pairing(rsk.point(), parsed.r_point()),
        Ok(w),
        "<K, R> = g^r"
    );
    let plain = Receiver::new(&public, &id, rsk.clone()).unwrap();
    assert_eq!(plain.decapsulate(&parsed).unwrap(), ssv);
    let prepared = Receiver::with_precomputation(&public, &id, rsk).unwrap();
    assert_eq!(prepared.decapsulate(&parsed).unwrap(), ssv);

    // A flipped bit of H changes the SSV and fails the re-encryption test.
    let mut tampered = sed_bytes.clone();
    tampered[272] ^= 1;
    let tampered = Sed::from_bytes(&tampered).unwrap();
    assert!(matches!(
        plain.decapsulate(&tampered),
        Err(SchemeError::Crypto)
    ));
    assert!(matches!(
        prepared.decapsulate(&tampered),
        Err(SchemeError::Crypto)
    ));
}

#[test]
fn bad_encodings_are_refused_with_the_field_named() {
    let v = Vectors::load();
    let sed = v.bytes("SAKKE Encapsulated Data 0x04||Rx||Ry||H (273 octets)");
    assert_eq!(
        Sed::from_bytes(&sed[..272]),
        Err(SchemeError::Malformed("SAKKE encapsulated data length"))
    );
    let mut off_curve = sed.clone();
    off_curve[100] ^= 1;
    assert_eq!(
        Sed::from_bytes(&off_curve),
        Err(SchemeError::Malformed("SAKKE encapsulated data R_(b,S)"))
    );
    let mut z_bytes = v.point("SAKKE Z_S x", "SAKKE Z_S y");
    z_bytes[0] = 0x02;
    assert_eq!(
        conclave_schemes::kd::sakke::kem::KmsPublicKey::from_bytes(&z_bytes),
        Err(SchemeError::Malformed("SAKKE KMS public key Z"))
    );
    assert_eq!(
        KmsMasterKey::from_bytes(&[1]).map(|_| ()),
        Err(SchemeError::Malformed("SAKKE KMS master secret z"))
    );

    let signature = v.bytes("ECCSI Signature r||s||PVT (129 octets)");
    assert_eq!(
        Signature::from_bytes(&signature[1..]),
        Err(SchemeError::Malformed("ECCSI signature length"))
    );
    let mut zero_s = signature.clone();
    zero_s[32..64].fill(0);
    assert_eq!(
        Signature::from_bytes(&zero_s),
        Err(SchemeError::Malformed("ECCSI signature s"))
    );
    let mut big_r = signature.clone();
    big_r[..32].fill(0xff);
    assert_eq!(
        Signature::from_bytes(&big_r),
        Err(SchemeError::Malformed("ECCSI signature r"))
    );
    let mut bad_pvt = signature;
    bad_pvt[128] ^= 1;
    assert_eq!(
        Signature::from_bytes(&bad_pvt),
        Err(SchemeError::Malformed("ECCSI PVT"))
    );
}

#[test]
fn fresh_keys_round_trip_and_stay_with_their_identity() {
    use rand_chacha::rand_core::SeedableRng;
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(9);
    let master = KmsMasterKey::generate(&mut rng);
    let kms = master.public_key();
    let alice: &[u8] = b"2026-12\0tel:+15550100\0";
    let bob: &[u8] = b"2026-12\0tel:+15550101\0";
    let next_period: &[u8] = b"2027-01\0tel:+15550100\0";
    let receiver = Receiver::new(&kms, alice, master.issue_rsk(alice).unwrap()).unwrap();
    let (ssv, sed) = conclave_schemes::kd::sakke::kem::encapsulate(&mut rng, &kms, alice).unwrap();
    assert_eq!(
        receiver
            .decapsulate(&Sed::from_bytes(&sed.to_bytes()).unwrap())
            .unwrap(),
        ssv
    );
    // Bob's RSK does not validate as Alice's, and cannot open Alice's SED.
    let bob_rsk = master.issue_rsk(bob).unwrap();
    assert_eq!(bob_rsk.validate(&kms, alice), Err(SchemeError::Crypto));
    assert!(Receiver::new(&kms, alice, bob_rsk.clone()).is_err());
    let bob_receiver = Receiver::new(&kms, bob, bob_rsk).unwrap();
    assert!(bob_receiver.decapsulate(&sed).is_err());
    // Next period's SED is not opened with this period's key.
    let (_, next) =
        conclave_schemes::kd::sakke::kem::encapsulate(&mut rng, &kms, next_period).unwrap();
    assert!(receiver.decapsulate(&next).is_err());
    // Another KMS's RSK for the same identifier fails validation.
    let other = KmsMasterKey::generate(&mut rng);
    assert_eq!(
        other.issue_rsk(alice).unwrap().validate(&kms, alice),
        Err(SchemeError::Crypto)
    );
}
