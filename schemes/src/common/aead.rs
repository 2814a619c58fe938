//! The crate's one AEAD, in the two ways its schemes use a key.
//!
//! # Source
//!
//! ChaCha20-Poly1305 (RFC 8439) and XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha-03), from
//! RustCrypto's `chacha20poly1305`.
//!
//! # Construction
//!
//! * A **single-use key** seals exactly one plaintext (a key drawn or derived per message, per
//!   capsule, per link): ChaCha20-Poly1305 (RFC 8439) with the all-zero nonce, which is safe
//!   because the key never seals a second plaintext. [`seal_once`], [`open_once`].
//! * A **shared key** seals many plaintexts, from many members (a room's epoch or message key, a
//!   search index's record key): XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha-03) with a random
//!   192-bit nonce per plaintext, [`SharedKey`].
//!
//! Keys derived together with their nonce for one message (the sealed box, Sender Keys' message
//! keys) and the transport channel's counter nonces keep their own schedules.
//!
//! # Costs
//!
//! A single-use seal adds the 16-byte tag ([`TAG_LEN`]); a shared-key seal adds the tag and the
//! 24-byte nonce sent with each ciphertext ([`SHARED_NONCE_LEN`]), and draws that nonce from the
//! caller's random generator.
//!
//! # Security
//!
//! Both give IND-CCA2 confidentiality and integrity of the plaintext and the associated data
//! against an active attacker, as long as the key is secret and used as its kind says.
//! Decryption failures are opaque ([`SchemeError::Crypto`]).
//!
//! With q plaintexts under one shared key the chance of a nonce collision is about q²/2^193,
//! negligible for any number of messages a room sends. (A random 96-bit nonce, as these keys used
//! before, collides with probability about q²/2^97: 2^-33 after 2^32 messages, which is NIST
//! SP 800-38D's limit for random nonces, and a collision under ChaCha20-Poly1305 leaks the XOR of
//! two plaintexts and the Poly1305 key.)
//!
//! # Weaknesses
//!
//! Safety rests on each caller choosing the right kind: a single-use key that sealed a second
//! plaintext would repeat its nonce, with the consequences of a collision above.
//!
//! # Side channels
//!
//! Constant time (RustCrypto `chacha20poly1305`; the tag comparison is constant time).

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce, XChaCha20Poly1305, XNonce};

use crate::{CryptoRngCore, Epoch, MsgId, RoomId, SchemeError, UserId};

/// Bytes of an authentication tag.
pub const TAG_LEN: usize = 16;
/// Bytes of a shared key's nonce, sent with each ciphertext.
pub const SHARED_NONCE_LEN: usize = 24;

/// Seals `plaintext` under a key that seals nothing else: ciphertext ‖ tag.
///
/// # Errors
/// [`SchemeError::Internal`] only for a plaintext beyond ChaCha20-Poly1305's 256 GiB limit.
pub fn seal_once(key: &[u8; 32], aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, SchemeError> {
    ChaCha20Poly1305::new(Key::from_slice(key))
        .encrypt(
            &Nonce::default(),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .map_err(|_| SchemeError::Internal("AEAD plaintext too long"))
}

/// Opens what [`seal_once`] sealed.
///
/// # Errors
/// [`SchemeError::Crypto`] if the key, the associated data or the ciphertext is not the one
/// sealed (or the ciphertext is shorter than a tag).
pub fn open_once(key: &[u8; 32], aad: &[u8], ciphertext: &[u8]) -> Result<Vec<u8>, SchemeError> {
    ChaCha20Poly1305::new(Key::from_slice(key))
        .decrypt(
            &Nonce::default(),
            Payload {
                msg: ciphertext,
                aad,
            },
        )
        .map_err(|_| SchemeError::Crypto)
}

/// Bytes of associated data an [`Aad`] holds at most.
pub const AAD_CAPACITY: usize = 96;

/// Associated data, assembled on the stack: the length of a domain string that keeps one use of
/// a key apart from every other, the domain, then fixed-width fields, big-endian. The length
/// prefix and the fixed widths make the encoding injective: different domains or field values
/// never give the same bytes.
#[derive(Clone)]
pub struct Aad {
    buf: [u8; AAD_CAPACITY],
    len: usize,
}

impl core::fmt::Debug for Aad {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_tuple("Aad").field(&self.as_ref()).finish()
    }
}

impl Aad {
    /// Starts with `domain` (at most 255 bytes).
    ///
    /// # Panics
    /// If `domain` is longer than 255 bytes or the data outgrows [`AAD_CAPACITY`]: domains and
    /// fields are fixed by the scheme's code, never by input, so either is a bug.
    #[must_use]
    pub fn new(domain: &str) -> Self {
        let len =
            u8::try_from(domain.len()).unwrap_or_else(|_| panic!("AAD domain {domain:?} too long"));
        Self {
            buf: [0; AAD_CAPACITY],
            len: 0,
        }
        .bytes(&[len])
        .bytes(domain.as_bytes())
    }

    /// Appends `bytes` (fixed width at this position for every use of the domain).
    ///
    /// # Panics
    /// As [`Aad::new`].
    #[must_use]
    pub fn bytes(mut self, bytes: &[u8]) -> Self {
        let end = self.len + bytes.len();
        assert!(
            end <= AAD_CAPACITY,
            "associated data beyond {AAD_CAPACITY} bytes"
        );
        self.buf[self.len..end].copy_from_slice(bytes);
        self.len = end;
        self
    }

    /// Appends a room id.
    #[must_use]
    pub fn room(self, room: RoomId) -> Self {
        self.bytes(&room.0.to_be_bytes())
    }

    /// Appends a message id.
    #[must_use]
    pub fn msg(self, msg: MsgId) -> Self {
        self.bytes(&msg.0.to_be_bytes())
    }

    /// Appends an epoch.
    #[must_use]
    pub fn epoch(self, epoch: Epoch) -> Self {
        self.bytes(&epoch.0.to_be_bytes())
    }

    /// Appends a user id.
    #[must_use]
    pub fn user(self, user: UserId) -> Self {
        self.bytes(&user.0.to_be_bytes())
    }
}

impl AsRef<[u8]> for Aad {
    fn as_ref(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// A key that seals many plaintexts: XChaCha20-Poly1305 with random nonces.
pub struct SharedKey(XChaCha20Poly1305);

impl core::fmt::Debug for SharedKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("SharedKey(..)")
    }
}

impl SharedKey {
    /// The cipher for `key` (the caller keeps and zeroises the bytes).
    #[must_use]
    pub fn new(key: &[u8; 32]) -> Self {
        Self(XChaCha20Poly1305::new(Key::from_slice(key)))
    }

    /// Seals `plaintext` under a fresh random nonce: the nonce, and ciphertext ‖ tag.
    ///
    /// # Errors
    /// [`SchemeError::Internal`] only for a plaintext beyond the 256 GiB limit.
    pub fn seal(
        &self,
        aad: &[u8],
        plaintext: &[u8],
        rng: &mut dyn CryptoRngCore,
    ) -> Result<([u8; SHARED_NONCE_LEN], Vec<u8>), SchemeError> {
        let mut nonce = [0u8; SHARED_NONCE_LEN];
        rng.fill_bytes(&mut nonce);
        let ciphertext = self
            .0
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .map_err(|_| SchemeError::Internal("AEAD plaintext too long"))?;
        Ok((nonce, ciphertext))
    }

    /// Opens what [`SharedKey::seal`] sealed under `nonce`.
    ///
    /// # Errors
    /// [`SchemeError::Crypto`] if anything differs from what was sealed.
    pub fn open(
        &self,
        nonce: &[u8; SHARED_NONCE_LEN],
        aad: &[u8],
        ciphertext: &[u8],
    ) -> Result<Vec<u8>, SchemeError> {
        self.0
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad,
                },
            )
            .map_err(|_| SchemeError::Crypto)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::rand_core::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    /// draft-irtf-cfrg-xchacha-03 §A.3.1: the AEAD_XChaCha20_Poly1305 test vector.
    #[test]
    fn xchacha_matches_the_draft_vector() {
        let hex = |s: &str| -> Vec<u8> {
            (0..s.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
                .collect()
        };
        let plaintext = b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.";
        let aad = hex("50515253c0c1c2c3c4c5c6c7");
        let key: [u8; 32] = hex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f")
            .try_into()
            .unwrap();
        let nonce: [u8; 24] = hex("404142434445464748494a4b4c4d4e4f5051525354555657")
            .try_into()
            .unwrap();
        let tag = hex("c0875924c1c7987947deafd8780acf49");
        let sealed = SharedKey::new(&key);
        let ct = sealed
            .0
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            .unwrap();
        assert_eq!(&ct[ct.len() - TAG_LEN..], &tag[..]);
        assert_eq!(sealed.open(&nonce, &aad, &ct).unwrap(), plaintext);
    }

    #[test]
    fn shared_key_nonces_differ_and_tampering_is_refused() {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let key = SharedKey::new(&[9; 32]);
        let (n1, c1) = key.seal(b"aad", b"body", &mut rng).unwrap();
        let (n2, c2) = key.seal(b"aad", b"body", &mut rng).unwrap();
        assert_ne!(n1, n2);
        assert_ne!(c1, c2);
        assert_eq!(c1.len(), 4 + TAG_LEN);
        assert_eq!(key.open(&n1, b"aad", &c1).unwrap(), b"body");
        assert_eq!(key.open(&n2, b"aad", &c1), Err(SchemeError::Crypto));
        assert_eq!(key.open(&n1, b"aaD", &c1), Err(SchemeError::Crypto));
        assert_eq!(
            key.open(&n1, b"aad", &c1[..TAG_LEN - 1]),
            Err(SchemeError::Crypto)
        );
    }

    #[test]
    fn aad_is_prefixed_and_fixed_width() {
        let a = Aad::new("ab").room(RoomId(1)).msg(MsgId(2));
        assert_eq!(
            a.as_ref(),
            [&[2u8][..], b"ab", &[0, 0, 0, 1], &[0, 0, 0, 0, 0, 0, 0, 2]].concat()
        );
        // A domain that is a prefix of another never yields the same bytes.
        assert_ne!(Aad::new("a").bytes(b"b").as_ref(), Aad::new("ab").as_ref());
    }

    #[test]
    fn single_use_key_round_trips_and_refuses_another_key() {
        let ct = seal_once(&[1; 32], b"ctx", b"secret").unwrap();
        assert_eq!(open_once(&[1; 32], b"ctx", &ct).unwrap(), b"secret");
        assert_eq!(open_once(&[2; 32], b"ctx", &ct), Err(SchemeError::Crypto));
        assert_eq!(open_once(&[1; 32], b"cty", &ct), Err(SchemeError::Crypto));
    }
}
