//! `keyhom`: hybrid per-epoch history protection with a key-homomorphic wrap, the instantiation
//! of NTT's secure business chat inferred from its patents, on Ristretto255.
//!
//! # Source
//!
//! research/mkd.md §2.3 (\[INF\]: US 11,336,441 and US 11,902,421 describe one message key
//! per epoch, "encrypted to be re-encryptable by using the shared key" and overwritten after a
//! re-encryption by a key the terminal made from the old and new shared keys; the algebra is in
//! the style of the key-homomorphic PRF of Boneh, Lewi, Montgomery and Raghunathan, CRYPTO 2013).
//!
//! # Construction
//!
//! Records, key ids, the wrap table, re-key bookkeeping, the roles and the claimed properties are
//! [`dl_hybrid`]'s.
//!
//! * Epoch key: `a_e` derived from the epoch secret.
//! * Wrap (48 B): a fresh 16-byte nonce `x` and `W_2 = M · H(x)^{a_e}`, where `M = g^m` is a
//!   random group element and `H` hashes to Ristretto255 (SHA-512, Elligator). The message key
//!   is `HKDF-SHA-256(M, conclave/keyhom/message-key ‖ room ‖ key id)`. Unwrap:
//!   `M = W_2 / H(x)^{a_e}`.
//! * Re-key from epoch `K-1` to `K`: `Δ = a_K − a_{K-1}`, computed by the changer and sent to the
//!   server only (48 B). Re-encryption: `W_2 ↦ W_2 · H(x)^Δ`, one scalar multiplication per
//!   wrap (the server keeps `H(x)` decoded next to each wrap, 32 B more of storage, so it does not
//!   hash again). Re-keys compose by addition: a wrap stored late under an older epoch is brought
//!   forward with one multiplication by their sum.
//!
//! # Costs
//!
//! A wrap is 48 B (80 B as the server stores it) and a re-key 48 B; a record is [`record_len`]
//! (the body plus 56 B, and 56 B more with a wrap), and a change's messages and server work are
//! [`dl_hybrid::change_traffic`] and [`dl_hybrid::change_work`]. Wrapping takes one fixed-base and one variable-base scalar multiplication, a
//! hash to the group and one HKDF; unwrapping a hash to the group, one scalar multiplication and
//! one HKDF. The server's re-encryption is one scalar multiplication per wrap, and one for a late
//! wrap whatever the number of hops.
//!
//! # Security
//!
//! `H(x)^{a}` is a pseudorandom mask under DDH in the random-oracle model, so a wrap
//! hides `M`. A wrap carries no tag: a wrong key or a forged wrap yields a wrong message key,
//! which the body's tag rejects. Current members open all history when the policy shares it; a
//! removed member opens nothing sealed after its removal. After re-keying, wraps are
//! overwritten: a storage breach together with an old epoch key opens nothing re-keyed (wraps of
//! epochs before a `from_join` change stay under their epoch's key, by design). A removed
//! member's client that cached a message key (or the plaintexts) still opens the bodies it could
//! read before: bodies are never re-encrypted.
//!
//! # Weaknesses
//!
//! **Known weakness: not collusion-safe**, as research/mkd.md §2.3 notes. A removed member who
//! kept `a_{K-1}` and obtains `Δ` from the server gets `a_K = a_{K-1} + Δ`, then every later
//! epoch key, and reads everything sealed after its removal; `−Δ` re-keys backwards. The server
//! keeps every re-key (it needs them for late stores), so a breach of its re-key table is the
//! same attack. `Δ` must reach the server alone, never other members.
//!
//! # Side channels
//!
//! Scalar multiplications and the hash to the group are constant time
//! (curve25519-dalek), as is HKDF-SHA-256 (RustCrypto); nothing secret-dependent is variable time.

use core::marker::PhantomData;

use curve25519_dalek::Scalar;

use super::dl_group::{DlGroup, Ristretto};
use super::dl_hybrid::{self, EpochKey, EpochWrap, MessageKey, CONTEXT_LEN};
use crate::{CryptoRngCore, SchemeError, Wire};

/// The `keyhom` construction in group `G`, with its symmetric primitives from `G`'s provider
/// ([`DlGroup::Cipher`]): [`KeyHom`] in Ristretto255 with the real ones, its model
/// ([`crate::model`]) in the exponents with the ideal ones.
#[derive(Debug, Clone, Copy, Default)]
pub struct KeyHomIn<G>(PhantomData<G>);

/// The `keyhom` scheme.
pub type KeyHom = KeyHomIn<Ristretto>;

/// Length of a wrap's nonce `x`.
pub const WRAP_NONCE_LEN: usize = 16;
/// Length of an encoded wrap: `x` and `W_2`.
pub const WRAP_LEN: usize = WRAP_NONCE_LEN + 32;

/// Bytes of a `keyhom` record of a `plaintext`-byte body, with or without a wrap (see
/// [`dl_hybrid::record_len`]).
#[must_use]
pub const fn record_len(plaintext: usize, wrap: bool) -> usize {
    dl_hybrid::record_len::<KeyHom>(plaintext, wrap)
}

/// A key-homomorphic wrap `(x, W_2 = M · H(x)^a)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HomWrap {
    /// The nonce `x`.
    pub nonce: [u8; WRAP_NONCE_LEN],
    /// `W_2`, compressed.
    pub masked: [u8; 32],
}

impl Wire for HomWrap {
    fn wire_len(&self) -> usize {
        WRAP_LEN
    }
    fn visit_bytes(&self, f: &mut dyn FnMut(&[u8])) {
        f(&self.nonce);
        f(&self.masked);
    }
}

/// A wrap as the server keeps it: `W_2` decoded and `H(x)` cached.
#[derive(Debug, Clone)]
pub struct StoredHomWrap<G: DlGroup> {
    nonce: [u8; WRAP_NONCE_LEN],
    masked: G::Element,
    nonce_point: G::Element,
}

/// A sealed record of `keyhom`.
pub type Record = dl_hybrid::Record<HomWrap>;

/// `H(x)`: the nonce hashed to the group.
fn nonce_point<G: DlGroup>(nonce: &[u8; WRAP_NONCE_LEN]) -> G::Element {
    G::hash(&[KeyHom::LABEL.as_bytes(), b"/nonce-point", nonce])
}

/// The message key `M` encodes, bound to the context.
fn message_key<G: DlGroup>(m: &G::Element, context: &[u8; CONTEXT_LEN]) -> MessageKey {
    let mk =
        dl_hybrid::point_key::<G::Cipher>(KeyHom::LABEL, b"/message-key", &G::encode(m), context);
    MessageKey(*mk)
}

impl<G: DlGroup> EpochWrap for KeyHomIn<G> {
    const SCHEME_NAME: &'static str = "keyhom";
    const SCHEME_SUMMARY: &'static str =
        "key-homomorphic per-epoch message-key wraps (x, M·H(x)^a), re-keyed by a' − a";
    const LABEL: &'static str = "conclave/keyhom";
    const STORED_LEN: usize = WRAP_LEN + 32;
    const WRAP_LEN: usize = self::WRAP_LEN;
    type Wrap = HomWrap;
    type Stored = StoredHomWrap<G>;
    type Cipher = G::Cipher;

    fn wrap(
        key: &EpochKey,
        context: &[u8; CONTEXT_LEN],
        rng: &mut dyn CryptoRngCore,
    ) -> Result<(MessageKey, HomWrap), SchemeError> {
        let mut nonce = [0u8; WRAP_NONCE_LEN];
        rng.fill_bytes(&mut nonce);
        let m = G::mul_base(&Scalar::random(rng));
        let masked = G::add(&m, &G::mul(&nonce_point::<G>(&nonce), key.scalar()));
        let wrap = HomWrap {
            nonce,
            masked: G::encode(&masked),
        };
        Ok((message_key::<G>(&m, context), wrap))
    }

    fn unwrap(
        key: &EpochKey,
        context: &[u8; CONTEXT_LEN],
        wrap: &HomWrap,
    ) -> Result<MessageKey, SchemeError> {
        let stored = Self::decode(wrap)?;
        let m = G::sub(&stored.masked, &G::mul(&stored.nonce_point, key.scalar()));
        Ok(message_key::<G>(&m, context))
    }

    fn decode(wrap: &HomWrap) -> Result<StoredHomWrap<G>, SchemeError> {
        // The identity is never produced honestly (it would take `M = H(x)^{-a}`).
        let masked = G::decode(
            wrap.masked,
            "wrap point is not a Ristretto encoding",
            "wrap point is the identity",
        )?;
        Ok(StoredHomWrap {
            nonce: wrap.nonce,
            masked,
            nonce_point: nonce_point::<G>(&wrap.nonce),
        })
    }

    fn encode(stored: &StoredHomWrap<G>) -> HomWrap {
        HomWrap {
            nonce: stored.nonce,
            masked: G::encode(&stored.masked),
        }
    }

    fn rekey(prev: &EpochKey, next: &EpochKey) -> Scalar {
        next.scalar() - prev.scalar()
    }

    fn check_rekey(_rekey: &Scalar) -> Result<(), SchemeError> {
        // Every scalar is a difference of two epoch keys.
        Ok(())
    }

    fn compose(first: &Scalar, then: &Scalar) -> Scalar {
        first + then
    }

    fn reencrypt(rekey: &Scalar, stored: &mut StoredHomWrap<G>) {
        stored.masked = G::add(&stored.masked, &G::mul(&stored.nonce_point, rekey));
    }

    fn advance(prev: &Scalar, rekey: &Scalar) -> Scalar {
        prev + rekey
    }
}
