//! The ideal cipher provider: the symmetric primitives of [`crate::common::cipher`] without
//! cryptography, for the models of the history and search schemes. **Nothing here is
//! cryptography**: every function is a cheap, public, non-cryptographic mix, which anyone can
//! invert or forge on purpose; it only keeps apart what the real primitives keep apart, as long
//! as nobody searches for collisions.
//!
//! # Source
//!
//! [`crate::common::cipher::Real`], which it stands for in the `model` cost mode (see
//! [`crate::model`]). The mix is this crate's own: a two-lane multiply-rotate absorber of
//! length-prefixed fields with the 64-bit finaliser of MurmurHash3 (`fmix64`) on the way out.
//!
//! # Construction
//!
//! * **[`Mix`]**: absorbs a domain string and then fields, each prefixed by its length (so
//!   that no two sequences of fields absorb alike), eight bytes at a time, into 128 bits of
//!   state; it squeezes 16-byte blocks, each a finalisation of the state and the block's index.
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
//! * **Derivations** (the key schedule, HKDF, the PRF): the mix of their inputs to the real
//!   output length, under a domain per primitive. Deterministic, and different inputs give
//!   different outputs in practice.
//!
//! # Costs
//!
//! A few multiplications per eight bytes absorbed or squeezed; no allocation beyond the
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

use crate::common::aead::{SHARED_NONCE_LEN, TAG_LEN};
use crate::common::cipher::{SharedAead, SymmetricCipher};
use crate::{CryptoRngCore, Epoch, EpochSecret, Label, RoomId, SchemeError};

const K1: u64 = 0x9E37_79B9_7F4A_7C15;
const K2: u64 = 0xC2B2_AE3D_27D4_EB4F;
const K3: u64 = 0x1656_67B1_9E37_79F9;

/// MurmurHash3's 64-bit finaliser: every input bit reaches every output bit.
const fn fmix(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    x ^= x >> 33;
    x = x.wrapping_mul(0xC4CE_B9FE_1A85_EC53);
    x ^ (x >> 33)
}

/// A cheap 128-bit mix of length-prefixed fields. **Not cryptography** (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mix {
    a: u64,
    b: u64,
}

impl Mix {
    /// A mix under `domain`, which keeps one use apart from every other.
    #[must_use]
    pub fn new(domain: &str) -> Self {
        Self { a: K1, b: K2 }.field(domain.as_bytes())
    }

    /// Each step is a bijection of the input word for a fixed state, so one word never
    /// absorbs like another from the same state.
    fn word(&mut self, w: u64) {
        self.a = ((self.a ^ w).wrapping_mul(K1)).rotate_left(31) ^ self.b;
        self.b = ((self.b ^ w.rotate_left(29)).wrapping_mul(K2))
            .rotate_left(27)
            .wrapping_add(self.a);
    }

    /// Absorbs `bytes`, prefixed by their length.
    #[must_use]
    pub fn field(mut self, bytes: &[u8]) -> Self {
        self.word(bytes.len() as u64);
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(chunk);
            self.word(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.word(u64::from_le_bytes(w));
        }
        self
    }

    /// The 16-byte output block number `i`.
    #[must_use]
    pub fn block(&self, i: u64) -> [u8; 16] {
        let a = fmix(self.a ^ i.wrapping_mul(K3));
        let b = fmix(self.b.wrapping_add(a) ^ K3);
        let a = fmix(a ^ b.rotate_left(32));
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&a.to_le_bytes());
        out[8..].copy_from_slice(&b.to_le_bytes());
        out
    }

    /// Fills `out` with output blocks 1, 2, … (block 0 is the tag's).
    pub fn fill(&self, out: &mut [u8]) {
        for (i, chunk) in out.chunks_mut(16).enumerate() {
            chunk.copy_from_slice(&self.block(i as u64 + 1)[..chunk.len()]);
        }
    }

    /// XORs `data` with output blocks 1, 2, … (a mask, undone by applying it again).
    pub fn mask(&self, data: &mut [u8]) {
        for (i, chunk) in data.chunks_mut(16).enumerate() {
            let block = self.block(i as u64 + 1);
            for (d, m) in chunk.iter_mut().zip(block) {
                *d ^= m;
            }
        }
    }

    /// 32 bytes of output.
    #[must_use]
    pub fn key32(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        self.fill(&mut out);
        out
    }
}

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

    fn prf_key(key: &[u8; 32]) -> [u8; 32] {
        *key
    }

    fn prf(key: &[u8; 32], input: &[u8]) -> [u8; 32] {
        Mix::new("conclave ideal prf")
            .field(key)
            .field(input)
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
        let k = Ideal::prf_key(&[6; 32]);
        assert_eq!(Ideal::prf(&k, b"w"), Ideal::prf(&k, b"w"));
        assert_ne!(Ideal::prf(&k, b"w"), Ideal::prf(&k, b"v"));
        assert_ne!(
            Ideal::prf(&k, b"w"),
            Ideal::prf(&Ideal::prf_key(&[7; 32]), b"w")
        );
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
