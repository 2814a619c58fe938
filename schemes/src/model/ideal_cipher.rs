//! The ideal cipher provider: the symmetric primitives of [`crate::common::cipher`] without
//! cryptography, for the models of the history and search schemes. **Nothing here is
//! cryptography**: every function is a cheap, public, non-cryptographic mix, which anyone can
//! invert or forge on purpose; it only keeps apart what the real primitives keep apart, as long
//! as nobody searches for collisions.
//!
//! # Source
//!
//! [`crate::common::cipher::Real`], which it stands for in the `model` cost mode (see
//! [`crate::model`]), over the models' mix ([`super::mix::Mix`]).
//!
//! # Construction
//!
//! * **AEAD**: an ideal ciphertext has the real one's layout and length. A shared key's nonce is
//!   drawn and counted exactly as [`crate::common::aead::SharedKey`]'s (a 16-byte prefix drawn
//!   from the generator at a sealer's first seal, then a 64-bit big-endian count), a single-use
//!   key's is the real one's all-zero nonce; the body is the plaintext, masked with the mix of
//!   key and nonce, and the 16-byte tag is the mix of key, nonce, associated data and plaintext.
//!   It opens only under the same key, nonce and associated data, and only unaltered; anything
//!   else is [`SchemeError::Crypto`], as a real open's failure is. The mask is not there for
//!   secrecy: it keeps a body's bytes from carrying its plaintext verbatim, so that the
//!   simulator's scan of server-held bytes for canaries finds in a model exactly what it finds
//!   in the real scheme, nothing (a verbatim body would be reported as a server reading
//!   messages, which the real scheme does not do).
//! * **Derivations** (the key schedule, HKDF, the PRF, the hash): the mix of their inputs to
//!   the real output length, under a domain per primitive. Deterministic, and different inputs give
//!   different outputs in practice.
//!
//! # Costs
//!
//! The mix's: a few multiplications per eight bytes absorbed or squeezed; no allocation beyond the
//! ciphertext (and, for HKDF, the joined `info`).
//!
//! # Security
//!
//! None. A model run checks who holds which key and who was sent what; what the real
//! primitives guarantee against a server that searches for forgeries is not checked
//! ([`crate::model`] lists what is not).
//!
//! # Weaknesses
//!
//! The tag is a public function of public-looking inputs: whoever knows the key forges any
//! ciphertext, and the mix was not designed to resist a search for collisions. Neither matters
//! to the simulator, whose active server only alters, moves and replays bytes.
//!
//! # Side channels
//!
//! Not applicable: nothing secret is computed. (Comparisons are not constant time.)

use super::mix::Mix;
use crate::common::aead::{SHARED_NONCE_LEN, TAG_LEN};
use crate::common::cipher::{HkdfHash, SharedAead, SymmetricCipher};
use crate::{CryptoRngCore, Epoch, EpochSecret, Label, RoomId, SchemeError};

/// The mask of the body sealed under `key` and `nonce`.
fn body_mask(key: &[u8; 32], nonce: &[u8]) -> Mix {
    Mix::new("conclave ideal aead body").field(key).field(nonce)
}

/// The tag of `plaintext` sealed under `key`, `nonce` and `aad`.
fn tag(key: &[u8; 32], nonce: &[u8], aad: &[u8], plaintext: &[u8]) -> [u8; TAG_LEN] {
    Mix::new("conclave ideal aead tag")
        .field(key)
        .field(nonce)
        .field(aad)
        .field(plaintext)
        .block(0)
}

/// Masked body ‖ tag: the real ciphertext's layout and length.
fn seal_at(key: &[u8; 32], nonce: &[u8], aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(plaintext.len() + TAG_LEN);
    out.extend_from_slice(plaintext);
    body_mask(key, nonce).mask(&mut out);
    out.extend_from_slice(&tag(key, nonce, aad, plaintext));
    out
}

/// Opens what [`seal_at`] sealed with the same key, nonce and associated data.
fn open_at(
    key: &[u8; 32],
    nonce: &[u8],
    aad: &[u8],
    ciphertext: &[u8],
) -> Result<Vec<u8>, SchemeError> {
    let body_len = ciphertext
        .len()
        .checked_sub(TAG_LEN)
        .ok_or(SchemeError::Crypto)?;
    let (body, sent_tag) = ciphertext.split_at(body_len);
    let mut plaintext = body.to_vec();
    body_mask(key, nonce).mask(&mut plaintext);
    if tag(key, nonce, aad, &plaintext)[..] == *sent_tag {
        Ok(plaintext)
    } else {
        Err(SchemeError::Crypto)
    }
}

/// The single-use key's nonce, as the real one's: 12 zero bytes.
const ONCE_NONCE: [u8; 12] = [0; 12];
/// Bytes of a shared-key nonce's random prefix, as [`crate::common::aead::SharedKey`]'s.
const PREFIX_LEN: usize = 16;

/// The ideal shared key: nonces drawn and counted as the real [`SharedKey`]'s.
///
/// [`SharedKey`]: crate::common::aead::SharedKey
#[derive(Debug)]
pub struct IdealSharedKey {
    key: [u8; 32],
    /// This sealer's prefix and the count of its next plaintext.
    sealer: Option<([u8; PREFIX_LEN], u64)>,
}

impl SharedAead for IdealSharedKey {
    fn seal(
        &mut self,
        aad: &[u8],
        plaintext: &[u8],
        rng: &mut dyn CryptoRngCore,
    ) -> Result<([u8; SHARED_NONCE_LEN], Vec<u8>), SchemeError> {
        // The same draws as the real key: a prefix at the first seal, and again after 2^64 - 1.
        let (prefix, next) = match &mut self.sealer {
            Some(sealer) if sealer.1 < u64::MAX => sealer,
            sealer => {
                let mut prefix = [0u8; PREFIX_LEN];
                rng.fill_bytes(&mut prefix);
                sealer.insert((prefix, 0))
            }
        };
        let mut nonce = [0u8; SHARED_NONCE_LEN];
        nonce[..PREFIX_LEN].copy_from_slice(prefix);
        nonce[PREFIX_LEN..].copy_from_slice(&next.to_be_bytes());
        *next += 1;
        Ok((nonce, seal_at(&self.key, &nonce, aad, plaintext)))
    }

    fn open(
        &mut self,
        nonce: &[u8; SHARED_NONCE_LEN],
        aad: &[u8],
        ciphertext: &[u8],
    ) -> Result<Vec<u8>, SchemeError> {
        open_at(&self.key, nonce, aad, ciphertext)
    }

    fn for_another_sealer(&self) -> Self {
        Self {
            key: self.key,
            sealer: None,
        }
    }
}

/// The ideal provider. **Not cryptography** (see the module doc).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ideal;

impl SymmetricCipher for Ideal {
    type SharedKey = IdealSharedKey;
    type Prf = [u8; 32];

    fn seal_once(key: &[u8; 32], aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, SchemeError> {
        Ok(seal_at(key, &ONCE_NONCE, aad, plaintext))
    }

    fn open_once(key: &[u8; 32], aad: &[u8], ciphertext: &[u8]) -> Result<Vec<u8>, SchemeError> {
        open_at(key, &ONCE_NONCE, aad, ciphertext)
    }

    fn shared_key(key: &[u8; 32]) -> IdealSharedKey {
        IdealSharedKey {
            key: *key,
            sealer: None,
        }
    }

    fn derive(secret: &EpochSecret, label: Label, room: RoomId, epoch: Epoch) -> [u8; 32] {
        Mix::new("conclave ideal derive")
            .field(secret.as_bytes())
            .field(label.as_bytes())
            .field(&room.0.to_be_bytes())
            .field(&epoch.0.to_be_bytes())
            .key32()
    }

    fn hkdf(ikm: &[u8; 32], info: &[&[u8]]) -> [u8; 32] {
        // The real HKDF reads `info` as one string, so the mix does too.
        Mix::new("conclave ideal hkdf")
            .field(ikm)
            .field(&info.concat())
            .key32()
    }

    fn hkdf_into(
        hash: HkdfHash,
        ikm: &[u8],
        info: &[&[u8]],
        out: &mut [u8],
    ) -> Result<(), SchemeError> {
        // The real limit, so that a model refuses what the scheme refuses.
        let hash_len = match hash {
            HkdfHash::Sha256 => 32,
            HkdfHash::Sha512 => 64,
        };
        if out.len() > 255 * hash_len {
            return Err(SchemeError::Internal("HKDF output too long"));
        }
        let domain = match hash {
            HkdfHash::Sha256 => "conclave ideal hkdf-sha256",
            HkdfHash::Sha512 => "conclave ideal hkdf-sha512",
        };
        Mix::new(domain).field(ikm).field(&info.concat()).fill(out);
        Ok(())
    }

    fn prf_key(key: &[u8; 32]) -> [u8; 32] {
        *key
    }

    fn prf(key: &[u8; 32], input: &[u8]) -> [u8; 32] {
        Mix::new("conclave ideal prf")
            .field(key)
            .field(input)
            .key32()
    }

    fn hash(parts: &[&[u8]]) -> [u8; 32] {
        // The real hash reads its parts as one string, so the mix does too.
        Mix::new("conclave ideal hash")
            .field(&parts.concat())
            .key32()
    }
}

#[cfg(test)]
mod tests {
    use rand_chacha::rand_core::{RngCore, SeedableRng};
    use rand_chacha::ChaCha20Rng;

    use super::*;
    use crate::common::cipher::Real;

    /// Seals with both providers from generators in the same state: the same nonces, lengths
    /// and draws.
    #[test]
    fn ideal_ciphertexts_have_the_real_layout_and_draws() {
        let (mut r1, mut r2) = (ChaCha20Rng::seed_from_u64(1), ChaCha20Rng::seed_from_u64(1));
        let mut real = Real::shared_key(&[3; 32]);
        let mut ideal = Ideal::shared_key(&[3; 32]);
        for len in [0, 1, 15, 16, 17, 100, 4096] {
            let (rn, rc) = real.seal(b"aad", &vec![9; len], &mut r1).unwrap();
            let (inn, ic) = ideal.seal(b"aad", &vec![9; len], &mut r2).unwrap();
            assert_eq!(rn, inn, "the same nonce");
            assert_eq!(rc.len(), ic.len());
            assert_eq!(ic.len(), len + TAG_LEN);
        }
        assert_eq!(r1.next_u64(), r2.next_u64(), "the same draws");
        let once = Real::seal_once(&[1; 32], b"x", &[5; 32]).unwrap();
        assert_eq!(
            Ideal::seal_once(&[1; 32], b"x", &[5; 32]).unwrap().len(),
            once.len()
        );
        assert_eq!(
            Real::derive(
                &EpochSecret::from_bytes([1; 32]),
                Label::MessageKey,
                RoomId(1),
                Epoch(1)
            )
            .len(),
            32
        );
    }

    #[test]
    fn ideal_opens_only_under_the_same_key_nonce_and_aad() {
        let mut rng = ChaCha20Rng::seed_from_u64(2);
        let mut key = Ideal::shared_key(&[7; 32]);
        let mut reader = Ideal::shared_key(&[7; 32]);
        let mut other = Ideal::shared_key(&[8; 32]);
        let body = b"a canary message, not to be seen verbatim";
        let (nonce, ct) = key.seal(b"aad", body, &mut rng).unwrap();
        assert!(
            !ct.windows(8).any(|w| w == &body[..8]),
            "the body is masked"
        );
        assert_eq!(reader.open(&nonce, b"aad", &ct).unwrap(), body);
        assert_eq!(other.open(&nonce, b"aad", &ct), Err(SchemeError::Crypto));
        assert_eq!(reader.open(&nonce, b"aaD", &ct), Err(SchemeError::Crypto));
        let mut moved = nonce;
        moved[SHARED_NONCE_LEN - 1] ^= 1;
        assert_eq!(reader.open(&moved, b"aad", &ct), Err(SchemeError::Crypto));
        for at in 0..ct.len() {
            let mut flipped = ct.clone();
            flipped[at] ^= 0x40;
            assert_eq!(
                reader.open(&nonce, b"aad", &flipped),
                Err(SchemeError::Crypto),
                "byte {at}"
            );
        }
        assert_eq!(
            reader.open(&nonce, b"aad", &ct[..TAG_LEN - 1]),
            Err(SchemeError::Crypto)
        );
        let once = Ideal::seal_once(&[1; 32], b"ctx", b"secret").unwrap();
        assert_eq!(
            Ideal::open_once(&[1; 32], b"ctx", &once).unwrap(),
            b"secret"
        );
        assert_eq!(
            Ideal::open_once(&[2; 32], b"ctx", &once),
            Err(SchemeError::Crypto)
        );
        assert_eq!(
            Ideal::open_once(&[1; 32], b"cty", &once),
            Err(SchemeError::Crypto)
        );
        let mut flipped = once;
        flipped[0] ^= 1;
        assert_eq!(
            Ideal::open_once(&[1; 32], b"ctx", &flipped),
            Err(SchemeError::Crypto)
        );
    }

    #[test]
    fn ideal_derivations_are_deterministic_and_separate_their_inputs() {
        let s = EpochSecret::from_bytes([4; 32]);
        let d = |label, room, epoch| Ideal::derive(&s, label, RoomId(room), Epoch(epoch));
        let a = d(Label::MessageKey, 1, 2);
        assert_eq!(a, d(Label::MessageKey, 1, 2));
        for other in [
            d(Label::SearchIndex, 1, 2),
            d(Label::MessageKey, 2, 2),
            d(Label::MessageKey, 1, 3),
            Ideal::derive(
                &EpochSecret::from_bytes([5; 32]),
                Label::MessageKey,
                RoomId(1),
                Epoch(2),
            ),
        ] {
            assert_ne!(a, other);
        }
        // HKDF reads its info as one string, as the real one does.
        assert_eq!(
            Ideal::hkdf(&[1; 32], &[b"ab", b"c"]),
            Ideal::hkdf(&[1; 32], &[b"a", b"bc"])
        );
        assert_ne!(
            Ideal::hkdf(&[1; 32], &[b"abc"]),
            Ideal::hkdf(&[2; 32], &[b"abc"])
        );
        assert_ne!(
            Ideal::hkdf(&[1; 32], &[b"abc"]),
            Ideal::hkdf(&[1; 32], &[b"abd"])
        );
        // The general HKDF: deterministic, one string of info, hashes apart, the real limit.
        let wide = |hash, ikm: &[u8], info: &[&[u8]]| {
            let mut out = [0u8; 64];
            Ideal::hkdf_into(hash, ikm, info, &mut out).map(|()| out)
        };
        let x = wide(HkdfHash::Sha512, &[1; 48], &[b"ab", b"c"]);
        assert_eq!(x, wide(HkdfHash::Sha512, &[1; 48], &[b"a", b"bc"]));
        assert_ne!(x, wide(HkdfHash::Sha256, &[1; 48], &[b"abc"]));
        assert_ne!(x, wide(HkdfHash::Sha512, &[2; 48], &[b"abc"]));
        let mut too_long = vec![0u8; 255 * 32 + 1];
        assert!(Ideal::hkdf_into(HkdfHash::Sha256, &[1; 32], &[], &mut too_long).is_err());
        let k = Ideal::prf_key(&[6; 32]);
        assert_eq!(Ideal::prf(&k, b"w"), Ideal::prf(&k, b"w"));
        assert_ne!(Ideal::prf(&k, b"w"), Ideal::prf(&k, b"v"));
        assert_ne!(
            Ideal::prf(&k, b"w"),
            Ideal::prf(&Ideal::prf_key(&[7; 32]), b"w")
        );
        // The hash reads its parts as one string, as SHA-256 does.
        assert_eq!(Ideal::hash(&[b"ab", b"c"]), Ideal::hash(&[b"a", b"bc"]));
        assert_ne!(Ideal::hash(&[b"abc"]), Ideal::hash(&[b"abd"]));
        assert_eq!(Ideal::hash(&[b"abc"]).len(), Real::hash(&[b"abc"]).len());
        // Fields are length-prefixed: moving a byte between fields changes the mix.
        assert_ne!(
            Mix::new("d").field(b"ab").field(b"c").block(0),
            Mix::new("d").field(b"a").field(b"bc").block(0)
        );
        // Many short inputs, no collision among their 128-bit outputs.
        let mut seen = std::collections::BTreeSet::new();
        for i in 0u32..20_000 {
            assert!(seen.insert(Mix::new("t").field(&i.to_le_bytes()).block(0)));
        }
    }
}
