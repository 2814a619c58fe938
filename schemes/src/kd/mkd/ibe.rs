//! Boneh–Franklin identity-based encryption on BLS12-381, used as a KEM with an AEAD DEM. It
//! stands in for DMKD's CP-ABE: the server encrypts `K_1` to the identity `user ‖ time frame`,
//! so only the holder of that user's key for that frame can read it.
//!
//! * Setup: `s ←$ Z_p`, public `P_pub = s·g_1 ∈ G_1`.
//! * Extract: `d_ID = s·Q_ID ∈ G_2` with `Q_ID = HashToG2(ID)` (RFC 9380,
//!   `BLS12381G2_XMD:SHA-256_SSWU_RO_`).
//! * Encrypt: `t ←$ Z_p`, `U = t·g_1`, `Z = e(t·P_pub, Q_ID) = e(g_1, Q_ID)^{st}`; the DEM key is
//!   `HKDF-SHA-256(Z, info = label ‖ U ‖ ID)` and the 32-byte message is sealed with
//!   ChaCha20-Poly1305 (fresh key per ciphertext, so a fixed nonce), `ID` as associated data.
//! * Decrypt: `Z = e(U, d_ID)`; one pairing.
//!
//! Ciphertext: 48 B (compressed `U ∈ G_1`) + 32 B + 16 B tag = 96 B. User key: 96 B (compressed
//! `G_2`). Cost: the encryptor does one hash to `G_2`, two `G_1` multiplications and one pairing;
//! the decryptor one pairing. A Waters-style CP-ABE for the 2-attribute policy `ID_i ∧ TF_t`
//! would cost about 2–3 pairings per decryption and O(#attributes) exponentiations per
//! encryption (research/mkd.md §1.9), so this substitution understates the paper's per-user
//! cost by 1–2 pairings per change.
//!
//! **Not constant time.** arkworks (0.5) is an academic library and makes no constant-time
//! claims; scalar multiplications with `s` and `t` and the pairing with `d_ID` may leak through
//! timing. Acceptable for a simulation, not for deployment.

use ark_bls12_381::{g2, Bls12_381, Fr, G1Affine, G1Projective, G2Affine, G2Projective};
use ark_ec::hashing::curve_maps::wb::WBMap;
use ark_ec::hashing::map_to_curve_hasher::MapToCurveBasedHasher;
use ark_ec::hashing::HashToCurve;
use ark_ec::pairing::Pairing;
use ark_ec::{CurveGroup, PrimeGroup};
use ark_ff::field_hashers::DefaultFieldHasher;
use ark_ff::PrimeField;
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize};
use hkdf::Hkdf;
use sha2::Sha256;

use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::common::aead;
use crate::{CryptoRngCore, SchemeError};

/// Length of a compressed `G_1` point.
pub const G1_LEN: usize = 48;
/// Length of a compressed `G_2` point (a user key).
pub const USER_KEY_LEN: usize = 96;
/// Length of a ciphertext of a 32-byte message.
pub const CIPHERTEXT_LEN: usize = G1_LEN + 32 + 16;

const DST: &[u8] = b"CONCLAVE-MKD-BF-IBE-V01-CS01-with-BLS12381G2_XMD:SHA-256_SSWU_RO_";

/// The key generation centre's master key (held by the key server). Zeroised on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct MasterKey {
    s: Fr,
    #[zeroize(skip)]
    public: G1Affine,
}

crate::secret::debug_without_secrets!("MasterKey", MasterKey { public });

/// A user's decryption key for one identity. Zeroised on drop.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct UserKey(G2Affine);

crate::secret::debug_without_secrets!("UserKey", UserKey {});

/// A ciphertext: compressed `U` and the DEM output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ciphertext {
    /// `U = t·g_1`, compressed.
    pub u: [u8; G1_LEN],
    /// ChaCha20-Poly1305 ciphertext of the 32-byte message, with its tag.
    pub body: [u8; 48],
}

fn random_fr(rng: &mut dyn CryptoRngCore) -> Fr {
    let mut b = [0u8; 64];
    rng.fill_bytes(&mut b);
    Fr::from_le_bytes_mod_order(&b)
}

fn hash_identity(id: &[u8]) -> Result<G2Affine, SchemeError> {
    let hasher = MapToCurveBasedHasher::<
        G2Projective,
        DefaultFieldHasher<Sha256, 128>,
        WBMap<g2::Config>,
    >::new(DST)
    .map_err(|_| SchemeError::Internal("hash to G2 setup"))?;
    hasher
        .hash(id)
        .map_err(|_| SchemeError::Internal("hash to G2"))
}

fn dem_key(
    z: &<Bls12_381 as Pairing>::TargetField,
    u: &[u8],
    id: &[u8],
) -> Result<Zeroizing<[u8; 32]>, SchemeError> {
    let mut zb = Vec::with_capacity(576);
    z.serialize_compressed(&mut zb)
        .map_err(|_| SchemeError::Internal("serialising G_T"))?;
    let hk = Hkdf::<Sha256>::new(None, &zb);
    let mut k = Zeroizing::new([0u8; 32]);
    let info: [&[u8]; 3] = [b"conclave mkd BF-IBE DEM v1", u, id];
    hk.expand_multi_info(&info, k.as_mut_slice())
        .map_err(|_| SchemeError::Internal("HKDF"))?;
    Ok(k)
}

impl MasterKey {
    /// Draws a master key.
    pub fn generate(rng: &mut dyn CryptoRngCore) -> Self {
        let s = random_fr(rng);
        let public = (G1Projective::generator() * s).into_affine();
        Self { s, public }
    }

    /// The public parameters `P_pub`.
    #[must_use]
    pub fn public(&self) -> PublicParams {
        PublicParams(self.public)
    }

    /// Extracts the key of identity `id`.
    ///
    /// # Errors
    /// [`SchemeError::Internal`] if hashing to the curve fails (it does not for valid parameters).
    pub fn extract(&self, id: &[u8]) -> Result<UserKey, SchemeError> {
        Ok(UserKey((hash_identity(id)? * self.s).into_affine()))
    }
}

/// The public parameters `P_pub = s·g_1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublicParams(G1Affine);

impl PublicParams {
    /// Encrypts a 32-byte message to identity `id`.
    ///
    /// # Errors
    /// [`SchemeError::Internal`] only on an arkworks serialisation failure (does not happen).
    pub fn encrypt(
        &self,
        id: &[u8],
        msg: &[u8; 32],
        rng: &mut dyn CryptoRngCore,
    ) -> Result<Ciphertext, SchemeError> {
        let q = hash_identity(id)?;
        let t = random_fr(rng);
        let u = (G1Projective::generator() * t).into_affine();
        let tp = (self.0 * t).into_affine();
        let z = Bls12_381::pairing(tp, q).0;
        let mut ub = [0u8; G1_LEN];
        u.serialize_compressed(&mut ub[..])
            .map_err(|_| SchemeError::Internal("serialising G_1"))?;
        let key = dem_key(&z, &ub, id)?;
        let ct = aead::seal_once(&key, id, msg)?;
        let body: [u8; 48] = ct
            .try_into()
            .map_err(|_| SchemeError::Internal("AEAD output length"))?;
        Ok(Ciphertext { u: ub, body })
    }
}

impl UserKey {
    /// Decrypts a ciphertext made for this key's identity `id`.
    ///
    /// # Errors
    /// [`SchemeError::Malformed`] if `U` is not a valid `G_1` point; [`SchemeError::Crypto`] if
    /// the ciphertext was not made for this identity or was modified.
    pub fn decrypt(&self, id: &[u8], ct: &Ciphertext) -> Result<[u8; 32], SchemeError> {
        let u = G1Affine::deserialize_compressed(&ct.u[..])
            .map_err(|_| SchemeError::Malformed("IBE ciphertext: U not in G_1"))?;
        let z = Bls12_381::pairing(u, self.0).0;
        let key = dem_key(&z, &ct.u, id)?;
        let pt = aead::open_once(&key, id, &ct.body)?;
        pt.try_into().map_err(|_| SchemeError::Crypto)
    }

    /// Compressed encoding (96 B).
    ///
    /// # Errors
    /// [`SchemeError::Internal`] on a serialisation failure (does not happen).
    pub fn to_bytes(&self) -> Result<[u8; USER_KEY_LEN], SchemeError> {
        let mut b = [0u8; USER_KEY_LEN];
        self.0
            .serialize_compressed(&mut b[..])
            .map_err(|_| SchemeError::Internal("serialising G_2"))?;
        Ok(b)
    }

    /// Decodes a compressed key (validated: on the curve and in the subgroup).
    ///
    /// # Errors
    /// [`SchemeError::Malformed`] if it is not a valid `G_2` point.
    pub fn from_bytes(b: &[u8]) -> Result<Self, SchemeError> {
        G2Affine::deserialize_compressed(b)
            .map(Self)
            .map_err(|_| SchemeError::Malformed("IBE user key: not in G_2"))
    }
}

#[cfg(test)]
mod tests {
    use rand_chacha::rand_core::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    use super::*;

    #[test]
    fn round_trip_and_wrong_identity() {
        let mut rng = ChaCha20Rng::seed_from_u64(11);
        let msk = MasterKey::generate(&mut rng);
        let pp = msk.public();
        let alice = msk.extract(b"alice|1").unwrap();
        let bob = msk.extract(b"bob|1").unwrap();
        let ct = pp.encrypt(b"alice|1", &[5; 32], &mut rng).unwrap();
        assert_eq!(alice.decrypt(b"alice|1", &ct).unwrap(), [5; 32]);
        assert_eq!(bob.decrypt(b"alice|1", &ct), Err(SchemeError::Crypto));
        assert_eq!(bob.decrypt(b"bob|1", &ct), Err(SchemeError::Crypto));
        let mut bad = ct.clone();
        bad.body[0] ^= 1;
        assert_eq!(alice.decrypt(b"alice|1", &bad), Err(SchemeError::Crypto));
        let back = UserKey::from_bytes(&alice.to_bytes().unwrap()).unwrap();
        assert_eq!(back, alice);
        assert!(UserKey::from_bytes(&[0xff; USER_KEY_LEN]).is_err());
    }

    /// The master key and user keys are key material: wiped on drop and on request.
    #[test]
    fn keys_are_zeroised() {
        fn wiped_on_drop<T: ZeroizeOnDrop>() {}
        wiped_on_drop::<MasterKey>();
        wiped_on_drop::<UserKey>();
        let mut msk = MasterKey::generate(&mut ChaCha20Rng::seed_from_u64(4));
        msk.zeroize();
        assert_eq!(msk.s, Fr::from(0u8));
    }
}
