//! Pairwise channels between members: one-shot authenticated encryption to a user's static
//! X25519 key, used by the schemes that distribute keys member to member (`pairwise-dh`,
//! `sender-keys`).
//!
//! # Source
//!
//! The shape of HPKE's authenticated mode, RFC 9180 §5.1.3, with X25519, HKDF-SHA-256 and
//! ChaCha20-Poly1305; the contributory check of RFC 9180 §7.1.4. [`mkd`](super::mkd) also uses
//! these boxes, from the key server's static key, for each time frame's credentials.
//!
//! # Construction
//!
//! The sender draws an ephemeral key `e` and computes
//! `ikm = X25519(e, R) || X25519(s, R)` where `R` is the recipient's and `s` the sender's static
//! key; the AEAD key and nonce are `HKDF(ikm, info = label || E || S || R || context)`.
//! Each box uses a fresh ephemeral, so key and nonce are never reused. A box is `E` and the
//! ciphertext; `context` is the associated data as well. The shared secrets, the key material
//! derived from them and the AEAD key are zeroised after use.
//!
//! # Costs
//!
//! A box is its plaintext plus 48 bytes ([`SealedBox::OVERHEAD`]: the 32-byte ephemeral public key
//! and the 16-byte tag). Sealing: a fresh ephemeral key pair, two X25519, one HKDF and one AEAD
//! seal. Opening: two X25519, one HKDF and one AEAD open.
//!
//! # Security
//!
//! Only the holder of `R`'s secret can open a box, and only the holder of `s` can make one that
//! opens as coming from `S` (sender authentication; a compromised `R` can forge boxes to itself,
//! as in HPKE auth mode). Both X25519 outputs must be contributory (not all zero, RFC 9180
//! §7.1.4): a small-order ephemeral or static key is refused with [`SchemeError::Malformed`], so
//! a box never rests on a shared secret fixed by public data.
//!
//! # Weaknesses
//!
//! No forward secrecy against a later compromise of `R`'s static key (boxes use it, not only the
//! ephemeral). A compromised `R` can also forge boxes to itself (above).
//!
//! # Side channels
//!
//! X25519 is constant time (curve25519-dalek); so are HKDF-SHA-256 and ChaCha20-Poly1305
//! (RustCrypto).

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hkdf::Hkdf;
use sha2::Sha256;
use x25519_dalek::{EphemeralSecret, PublicKey, SharedSecret, StaticSecret};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::{CryptoRngCore, SchemeError, Wire};

/// Why a box with a small-order key is refused.
pub const NON_CONTRIBUTORY: &str = "X25519 with a small-order key (all-zero shared secret)";

/// A user's long-term X25519 key pair.
#[derive(Clone)]
pub struct StaticKeyPair {
    secret: StaticSecret,
    public: PublicKey,
}

crate::secret::debug_without_secrets!("StaticKeyPair", StaticKeyPair { public });

impl StaticKeyPair {
    /// A fresh key pair.
    pub fn generate(rng: &mut dyn CryptoRngCore) -> Self {
        let mut bytes = [0u8; 32];
        rng.fill_bytes(&mut bytes);
        let secret = StaticSecret::from(bytes);
        let public = PublicKey::from(&secret);
        Self { secret, public }
    }

    /// The public half.
    #[must_use]
    pub fn public(&self) -> PublicKey {
        self.public
    }
}

/// A sealed box: the sender's ephemeral public key and the AEAD ciphertext (with its tag).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedBox {
    ephemeral: [u8; 32],
    ciphertext: Vec<u8>,
}

impl Wire for SealedBox {
    fn wire_len(&self) -> usize {
        32 + self.ciphertext.len()
    }
    fn visit_bytes(&self, f: &mut dyn FnMut(&[u8])) {
        f(&self.ephemeral);
        f(&self.ciphertext);
    }
}

impl SealedBox {
    /// Bytes a box adds to its plaintext.
    pub const OVERHEAD: usize = 32 + 16;

    /// The ciphertext, for tests that tamper with it.
    #[doc(hidden)]
    pub fn ciphertext_mut(&mut self) -> &mut Vec<u8> {
        &mut self.ciphertext
    }
}

#[cfg(any(test, feature = "testing"))]
impl crate::testing::Tamper for SealedBox {
    fn tamper(&mut self) -> bool {
        match self.ciphertext.first_mut() {
            Some(b) => {
                *b ^= 1;
                true
            }
            None => false,
        }
    }
}

/// The two X25519 outputs a box's key is derived from, zeroised on drop.
#[derive(Zeroize, ZeroizeOnDrop)]
struct Ikm([u8; 64]);

impl Ikm {
    /// Concatenates the ephemeral and static shared secrets, refusing either if it is all zero
    /// (a small-order public key: RFC 9180 §7.1.4). The `SharedSecret`s zeroise themselves.
    fn new(ephemeral: SharedSecret, static_: SharedSecret) -> Result<Self, SchemeError> {
        if !ephemeral.was_contributory() || !static_.was_contributory() {
            return Err(SchemeError::Malformed(NON_CONTRIBUTORY));
        }
        let mut ikm = Self([0u8; 64]);
        ikm.0[..32].copy_from_slice(ephemeral.as_bytes());
        ikm.0[32..].copy_from_slice(static_.as_bytes());
        Ok(ikm)
    }
}

fn key_schedule(
    ikm: &[u8],
    e: &[u8; 32],
    s: &PublicKey,
    r: &PublicKey,
    context: &[u8],
) -> (Key, Nonce) {
    let hk = Hkdf::<Sha256>::new(None, ikm);
    let mut okm = [0u8; 44];
    let info: [&[u8]; 5] = [
        b"conclave sealed box v1",
        e,
        s.as_bytes(),
        r.as_bytes(),
        context,
    ];
    // 44 bytes is far below HKDF-SHA-256's limit.
    if hk.expand_multi_info(&info, &mut okm).is_err() {
        unreachable!("HKDF output length 44 is always valid");
    }
    let keys = (*Key::from_slice(&okm[..32]), *Nonce::from_slice(&okm[32..]));
    okm.zeroize();
    keys
}

/// Seals `plaintext` from `sender` to `recipient`; `context` (room, epoch, purpose) is bound in.
///
/// # Errors
/// [`SchemeError::Internal`] if the AEAD refuses (plaintext over 256 GiB).
pub fn seal(
    sender: &StaticKeyPair,
    recipient: &PublicKey,
    context: &[u8],
    plaintext: &[u8],
    rng: &mut dyn CryptoRngCore,
) -> Result<SealedBox, SchemeError> {
    let eph = EphemeralSecret::random_from_rng(&mut *rng);
    let eph_pub = PublicKey::from(&eph).to_bytes();
    let ikm = Ikm::new(
        eph.diffie_hellman(recipient),
        sender.secret.diffie_hellman(recipient),
    )?;
    let (mut key, nonce) = key_schedule(&ikm.0, &eph_pub, &sender.public, recipient, context);
    let cipher = ChaCha20Poly1305::new(&key);
    key.zeroize();
    let ciphertext = cipher
        .encrypt(
            &nonce,
            Payload {
                msg: plaintext,
                aad: context,
            },
        )
        .map_err(|_| SchemeError::Internal("sealed box encryption failed"))?;
    Ok(SealedBox {
        ephemeral: eph_pub,
        ciphertext,
    })
}

/// Opens a box sealed to `me` by the holder of `sender`'s static key.
///
/// # Errors
/// [`SchemeError::Crypto`] if it does not authenticate (wrong recipient, wrong sender, wrong
/// context, tampering).
pub fn open(
    me: &StaticKeyPair,
    sender: &PublicKey,
    context: &[u8],
    sealed: &SealedBox,
) -> Result<Vec<u8>, SchemeError> {
    let eph = PublicKey::from(sealed.ephemeral);
    let ikm = Ikm::new(
        me.secret.diffie_hellman(&eph),
        me.secret.diffie_hellman(sender),
    )?;
    let (mut key, nonce) = key_schedule(&ikm.0, &sealed.ephemeral, sender, &me.public, context);
    let cipher = ChaCha20Poly1305::new(&key);
    key.zeroize();
    cipher
        .decrypt(
            &nonce,
            Payload {
                msg: &sealed.ciphertext,
                aad: context,
            },
        )
        .map_err(|_| SchemeError::Crypto)
}

#[cfg(test)]
mod tests {
    use rand_chacha::rand_core::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    use super::*;

    #[test]
    fn round_trip_and_rejections() {
        let mut rng = ChaCha20Rng::seed_from_u64(9);
        let (a, b, c) = (
            StaticKeyPair::generate(&mut rng),
            StaticKeyPair::generate(&mut rng),
            StaticKeyPair::generate(&mut rng),
        );
        let sb = seal(&a, &b.public(), b"ctx", b"epoch secret", &mut rng).unwrap();
        assert_eq!(sb.wire_len(), 12 + SealedBox::OVERHEAD);
        assert_eq!(open(&b, &a.public(), b"ctx", &sb).unwrap(), b"epoch secret");
        assert_eq!(
            open(&c, &a.public(), b"ctx", &sb),
            Err(SchemeError::Crypto),
            "wrong recipient"
        );
        assert_eq!(
            open(&b, &c.public(), b"ctx", &sb),
            Err(SchemeError::Crypto),
            "wrong sender"
        );
        assert_eq!(
            open(&b, &a.public(), b"other", &sb),
            Err(SchemeError::Crypto),
            "wrong context"
        );
        let mut bad = sb.clone();
        bad.ciphertext_mut()[0] ^= 1;
        assert_eq!(
            open(&b, &a.public(), b"ctx", &bad),
            Err(SchemeError::Crypto),
            "tampered"
        );
    }

    /// A box whose ephemeral key is a small-order point (here `u = 0`) makes the first X25519
    /// output all zero, whatever the recipient's key: RFC 9180 §7.1.4 requires refusing it.
    #[test]
    fn small_order_ephemeral_and_recipient_are_refused() {
        let mut rng = ChaCha20Rng::seed_from_u64(10);
        let (a, b) = (
            StaticKeyPair::generate(&mut rng),
            StaticKeyPair::generate(&mut rng),
        );
        // Built as a sender holding `a`'s static key would, with the identity as ephemeral.
        let zero = [0u8; 32];
        let mut ikm = [0u8; 64];
        ikm[32..].copy_from_slice(a.secret.diffie_hellman(&b.public()).as_bytes());
        let (key, nonce) = key_schedule(&ikm, &zero, &a.public(), &b.public(), b"ctx");
        let ciphertext = ChaCha20Poly1305::new(&key)
            .encrypt(
                &nonce,
                Payload {
                    msg: b"epoch secret".as_slice(),
                    aad: b"ctx",
                },
            )
            .unwrap();
        let forged = SealedBox {
            ephemeral: zero,
            ciphertext,
        };
        assert_eq!(
            open(&b, &a.public(), b"ctx", &forged),
            Err(SchemeError::Malformed(NON_CONTRIBUTORY))
        );
        // A small-order sender or recipient key is refused on both sides.
        let small = PublicKey::from(zero);
        assert_eq!(
            seal(&a, &small, b"ctx", b"x", &mut rng),
            Err(SchemeError::Malformed(NON_CONTRIBUTORY))
        );
        let sb = seal(&a, &b.public(), b"ctx", b"x", &mut rng).unwrap();
        assert_eq!(
            open(&b, &small, b"ctx", &sb),
            Err(SchemeError::Malformed(NON_CONTRIBUTORY))
        );
    }
}
