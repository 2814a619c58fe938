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
//!   search index's record key): XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha-03) with 192-bit
//!   nonces, [`SharedKey`]. Each sealer (a member's client holding the key) draws a random
//!   128-bit nonce prefix once and numbers its plaintexts in the nonce's last 64 bits. XChaCha20
//!   derives its subkey with HChaCha20 from the key and the prefix alone (§2.3 of the draft), so
//!   a sealer computes it once, and an opener keeps the subkeys of the last few prefixes it met;
//!   the ciphertexts are XChaCha20-Poly1305's, bit for bit (tested against RustCrypto's).
//!
//! Keys derived together with their nonce for one message (the sealed box, Sender Keys' message
//! keys) and the transport channel's counter nonces keep their own schedules.
//!
//! # Costs
//!
//! A single-use seal adds the 16-byte tag ([`TAG_LEN`]); a shared-key seal adds the tag and the
//! 24-byte nonce sent with each ciphertext ([`SHARED_NONCE_LEN`]). A shared key's first seal
//! draws 16 random bytes and runs HChaCha20 (one ChaCha20 block function), as does an open under
//! a prefix the opener has not kept; every other seal or open costs what ChaCha20-Poly1305 does.
//! A `SharedKey` holds the key, its sealer's prefix and subkey, and up to eight opened subkeys
//! (about 400 bytes).
//!
//! # Security
//!
//! Both give IND-CCA2 confidentiality and integrity of the plaintext and the associated data
//! against an active attacker, as long as the key is secret and used as its kind says.
//! Decryption failures are opaque ([`SchemeError::Crypto`]).
//!
//! A shared key's nonces repeat only if two of its sealers draw the same 128-bit prefix: with s
//! sealers (member clients, counting each restart of a stateless terminal) the chance is about
//! s²/2^129, and within one sealer the count never repeats (a sealer that used all 2^64 counts
//! draws a new prefix). That is no weaker than a random 192-bit nonce per plaintext (q²/2^193
//! for q ≥ s plaintexts, against 2^-65 here for s = 2^32 sealers). (A random 96-bit nonce, as
//! these keys used before, collides with probability about q²/2^97: 2^-33 after 2^32 messages,
//! which is NIST SP 800-38D's limit for random nonces, and a collision under ChaCha20-Poly1305
//! leaks the XOR of two plaintexts and the Poly1305 key.) A nonce reveals which sealer made a
//! ciphertext (its prefix) and how many it made before: the sender and its message count, which
//! the service sees anyway.
//!
//! # Weaknesses
//!
//! Safety rests on each caller choosing the right kind: a single-use key that sealed a second
//! plaintext would repeat its nonce, with the consequences of a collision above.
//!
//! # Side channels
//!
//! Constant time (RustCrypto `chacha20poly1305` and `chacha20`'s HChaCha20; the tag comparison
//! is constant time). Whether an open finds a kept subkey depends on the public nonce only.
//! Subkeys and the key copy are zeroised on drop.

use chacha20::cipher::consts::U10;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

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

/// Bytes of a shared-key nonce's prefix, which alone selects XChaCha20's HChaCha20 subkey.
const PREFIX_LEN: usize = 16;
/// Subkeys an opener keeps: one per sender it reads in turn (a room's active writers).
const OPEN_SUBKEYS: usize = 8;

/// An XChaCha20 subkey: HChaCha20 of the key and a nonce prefix. Zeroised on drop.
#[derive(Zeroize, ZeroizeOnDrop)]
struct Subkey([u8; 32]);

impl Subkey {
    fn of(key: &[u8; 32], prefix: &[u8; PREFIX_LEN]) -> Self {
        let mut out = chacha20::hchacha::<U10>(Key::from_slice(key), prefix.into());
        let subkey = Self(out.into());
        out.zeroize();
        subkey
    }

    /// ChaCha20-Poly1305 under this subkey, with the nonce's last 8 bytes: exactly
    /// XChaCha20-Poly1305 under the key and the whole nonce (draft-irtf-cfrg-xchacha-03 §2.3).
    fn cipher(&self) -> ChaCha20Poly1305 {
        ChaCha20Poly1305::new(Key::from_slice(&self.0))
    }
}

/// The 12-byte ChaCha20 nonce of a 24-byte XChaCha20 nonce: four zero bytes, then its last eight.
fn inner_nonce(nonce: &[u8; SHARED_NONCE_LEN]) -> Nonce {
    let mut inner = Nonce::default();
    inner[4..].copy_from_slice(&nonce[PREFIX_LEN..]);
    inner
}

/// What one sealer of a shared key sends under: its random prefix, the prefix's subkey and the
/// number of its next plaintext.
struct Sealer {
    prefix: [u8; PREFIX_LEN],
    subkey: Subkey,
    next: u64,
}

/// A key that seals many plaintexts, from many members: XChaCha20-Poly1305 with 192-bit nonces.
///
/// The first time it seals, a `SharedKey` draws a random 128-bit nonce prefix; its nonces are
/// that prefix followed by a 64-bit count of its plaintexts. XChaCha20's HChaCha20 subkey depends
/// on the prefix alone, so it is computed once per sealer rather than once per plaintext, and an
/// opener keeps the subkeys of the last few prefixes it met (one per sender it reads). Nonces and
/// ciphertexts are exactly those of XChaCha20-Poly1305; a reader needs nothing but the key.
pub struct SharedKey {
    key: Zeroizing<[u8; 32]>,
    sealer: Option<Sealer>,
    /// The subkeys of the prefixes opened most recently, newest last.
    opened: Vec<([u8; PREFIX_LEN], Subkey)>,
}

impl core::fmt::Debug for SharedKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("SharedKey(..)")
    }
}

impl SharedKey {
    /// The cipher for `key` (the caller keeps and zeroises the bytes; this keeps its own copy,
    /// zeroised on drop).
    #[must_use]
    pub fn new(key: &[u8; 32]) -> Self {
        Self {
            key: Zeroizing::new(*key),
            sealer: None,
            opened: Vec::new(),
        }
    }

    /// The same key for another sealer: it draws its own prefix, and opens with kept subkeys of
    /// its own. (A copy of the sealing state would repeat nonces, so there is no `Clone`.)
    #[must_use]
    pub fn for_another_sealer(&self) -> Self {
        Self::new(&self.key)
    }

    /// Seals `plaintext` under this sealer's next nonce: the nonce, and ciphertext ‖ tag.
    ///
    /// # Errors
    /// [`SchemeError::Internal`] only for a plaintext beyond the 256 GiB limit.
    pub fn seal(
        &mut self,
        aad: &[u8],
        plaintext: &[u8],
        rng: &mut dyn CryptoRngCore,
    ) -> Result<([u8; SHARED_NONCE_LEN], Vec<u8>), SchemeError> {
        let sealer = match &mut self.sealer {
            // A sealer that used every count of its prefix draws a new one.
            Some(sealer) if sealer.next < u64::MAX => sealer,
            sealer => {
                let mut prefix = [0u8; PREFIX_LEN];
                rng.fill_bytes(&mut prefix);
                sealer.insert(Sealer {
                    prefix,
                    subkey: Subkey::of(&self.key, &prefix),
                    next: 0,
                })
            }
        };
        let mut nonce = [0u8; SHARED_NONCE_LEN];
        nonce[..PREFIX_LEN].copy_from_slice(&sealer.prefix);
        nonce[PREFIX_LEN..].copy_from_slice(&sealer.next.to_be_bytes());
        sealer.next += 1;
        let ciphertext = sealer
            .subkey
            .cipher()
            .encrypt(
                &inner_nonce(&nonce),
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .map_err(|_| SchemeError::Internal("AEAD plaintext too long"))?;
        Ok((nonce, ciphertext))
    }

    /// Opens what a [`SharedKey::seal`] of the same key sealed under `nonce`.
    ///
    /// # Errors
    /// [`SchemeError::Crypto`] if anything differs from what was sealed.
    pub fn open(
        &mut self,
        nonce: &[u8; SHARED_NONCE_LEN],
        aad: &[u8],
        ciphertext: &[u8],
    ) -> Result<Vec<u8>, SchemeError> {
        let prefix: &[u8; PREFIX_LEN] = nonce[..PREFIX_LEN]
            .try_into()
            .map_err(|_| SchemeError::Internal("16-byte split"))?;
        let at = match self.opened.iter().rposition(|(p, _)| p == prefix) {
            Some(at) => at,
            None => {
                if self.opened.len() == OPEN_SUBKEYS {
                    self.opened.remove(0);
                }
                self.opened.push((*prefix, Subkey::of(&self.key, prefix)));
                self.opened.len() - 1
            }
        };
        self.opened[at]
            .1
            .cipher()
            .decrypt(
                &inner_nonce(nonce),
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

    /// XChaCha20-Poly1305 as RustCrypto implements it, for reference.
    fn reference(key: &[u8; 32], nonce: &[u8; 24], aad: &[u8], msg: &[u8]) -> Vec<u8> {
        use chacha20poly1305::{XChaCha20Poly1305, XNonce};
        XChaCha20Poly1305::new(Key::from_slice(key))
            .encrypt(XNonce::from_slice(nonce), Payload { msg, aad })
            .unwrap()
    }

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
        let ct = reference(&key, &nonce, &aad, plaintext);
        assert_eq!(&ct[ct.len() - TAG_LEN..], &tag[..]);
        assert_eq!(
            SharedKey::new(&key).open(&nonce, &aad, &ct).unwrap(),
            plaintext
        );
    }

    /// A sealer's nonces are its random prefix and a count; what it seals is XChaCha20-Poly1305
    /// under that nonce, whoever opens it.
    #[test]
    fn shared_key_seals_xchacha_under_a_prefix_and_a_count() {
        let mut rng = ChaCha20Rng::seed_from_u64(2);
        let key = [5u8; 32];
        let mut alice = SharedKey::new(&key);
        let mut bob = SharedKey::new(&key);
        let sealed: Vec<_> = (0..3)
            .map(|i| alice.seal(b"aad", &[i; 40], &mut rng).unwrap())
            .collect();
        for (i, (nonce, ct)) in sealed.iter().enumerate() {
            assert_eq!(nonce[..PREFIX_LEN], sealed[0].0[..PREFIX_LEN]);
            assert_eq!(nonce[PREFIX_LEN..], (i as u64).to_be_bytes());
            assert_eq!(ct, &reference(&key, nonce, b"aad", &[i as u8; 40]));
            assert_eq!(bob.open(nonce, b"aad", ct).unwrap(), [i as u8; 40]);
        }
        let (theirs, _) = bob.seal(b"aad", b"x", &mut rng).unwrap();
        assert_ne!(theirs[..PREFIX_LEN], sealed[0].0[..PREFIX_LEN]);
    }

    /// An opener reading more senders than it keeps subkeys for still opens every one.
    #[test]
    fn opener_reads_many_sealers() {
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let key = [6u8; 32];
        let mut reader = SharedKey::new(&key);
        let sealed: Vec<_> = (0..2 * OPEN_SUBKEYS as u8 + 1)
            .map(|i| SharedKey::new(&key).seal(b"", &[i], &mut rng).unwrap())
            .collect();
        for _ in 0..2 {
            for (i, (nonce, ct)) in sealed.iter().enumerate() {
                assert_eq!(reader.open(nonce, b"", ct).unwrap(), [i as u8]);
            }
        }
        assert_eq!(reader.opened.len(), OPEN_SUBKEYS);
    }

    #[test]
    fn shared_key_nonces_differ_and_tampering_is_refused() {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let mut key = SharedKey::new(&[9; 32]);
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
        let mut other_prefix = n1;
        other_prefix[0] ^= 1;
        assert_eq!(
            key.open(&other_prefix, b"aad", &c1),
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
