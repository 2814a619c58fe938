//! `bbs98`: hybrid per-epoch history protection with the ElGamal proxy re-encryption of Blaze,
//! Bleumer and Strauss (EUROCRYPT'98) in KEM form, on Ristretto255.
//!
//! # Source
//!
//! research/pre.md §1.1 (the algorithms as in charm's `pre_bbs98.py`, and the KEM form
//! of the hybrid harness); the per-epoch message keys follow NTT's patent US 11,336,441
//! (research/mkd.md §2.3).
//!
//! # Construction
//!
//! Records, key ids, the wrap table, re-key bookkeeping, the roles and the claimed properties are
//! [`dl_hybrid`]'s.
//!
//! * Epoch key: `a_e ≠ 0` derived from the epoch secret, public key `pk_e = g^{a_e}`.
//! * Wrap of a random 32-byte message key `mk` (a capsule, 80 B): `r ←$ Z_q`,
//!   `c = pk_e^r = g^{a_e·r}` (32 B), and `mk` sealed with ChaCha20-Poly1305 under
//!   `HKDF-SHA-256(g^r, conclave/bbs98/dem ‖ room ‖ key id)` (32 B + 16 B tag; the key is fresh
//!   per capsule, so the nonce is fixed). Unwrap: `g^r = c^{1/a_e}`.
//! * Re-key from epoch `K-1` to `K`: `rk = a_K / a_{K-1}`, computed by the changer (it holds
//!   both secrets) and sent to the server only (48 B). Re-encryption: `c ↦ c^{rk}`, one scalar
//!   multiplication per capsule; the sealed `mk` is untouched. Re-keys compose by
//!   multiplication, so a capsule stored late under an older epoch is brought forward with one
//!   multiplication by their product (multi-hop, constant-size ciphertexts).
//!
//! # Costs
//!
//! A capsule is 80 B and a re-key 48 B; a record is [`record_len`] (the body plus 56 B, and
//! 88 B more with a capsule), and a change's messages and server work are
//! [`dl_hybrid::change_traffic`] and [`dl_hybrid::change_work`]. Wrapping takes two
//! fixed-base scalar multiplications (`g^{a_e·r}`, `g^r`), one HKDF and one AEAD seal;
//! unwrapping an inversion, one scalar multiplication, one HKDF and one AEAD open. The server's
//! re-encryption is one scalar multiplication per capsule, and one for a late capsule whatever
//! the number of hops.
//!
//! # Security
//!
//! CPA-secure capsules under DDH (the DEM tag makes a wrong key or a forged capsule
//! fail). A capsule with `c` the identity is refused at decoding (client and server): it would
//! make `g^r` the identity for every epoch key, a DEM key anyone computes, so the message server
//! could forge a capsule whose message key it chose. Any other `c` needs `pk_e = g^{a_e}`,
//! which only holders of the epoch secret know, to yield a message key its maker knows. Current
//! members open all history when the policy shares it; a removed member opens nothing sealed
//! after its removal. After re-keying, stored capsules are overwritten: a storage breach together
//! with an old epoch key opens nothing re-keyed (but capsules of epochs before a `from_join`
//! change stay under their epoch's key, by design). A removed member's client that cached a
//! message key (or the plaintexts) still opens the bodies it could read before: bodies are never
//! re-encrypted. The server alone learns nothing about message keys.
//!
//! # Weaknesses
//!
//! **Known weakness: not collusion-safe.** The scheme is bidirectional (`1/rk` re-keys back)
//! and interactive. A removed member who kept `a_{K-1}` and obtains `rk` from the server gets
//! `a_K = rk · a_{K-1}`, then every later epoch key by the same step, and reads everything sealed
//! after its removal. The server keeps every re-key (it needs them for late stores), so a breach
//! of its re-key table is the same attack.
//!
//! # Side channels
//!
//! Scalar multiplications, the inversion of `a_e` and the hash are
//! constant time (curve25519-dalek), as are HKDF-SHA-256 and ChaCha20-Poly1305 (RustCrypto);
//! nothing secret-dependent is variable time.

use core::marker::PhantomData;

use curve25519_dalek::Scalar;
use zeroize::Zeroizing;

use super::dl_group::{DlGroup, Ristretto};
use super::dl_hybrid::{self, EpochKey, EpochWrap, MessageKey, CONTEXT_LEN, TAG_LEN};
use crate::common::cipher::SymmetricCipher;
use crate::{CryptoRngCore, SchemeError, Wire};

/// The `bbs98` construction in group `G`, with its symmetric primitives from `G`'s provider
/// ([`DlGroup::Cipher`]): [`Bbs98`] in Ristretto255 with the real ones, its model
/// ([`crate::model`]) in the exponents with the ideal ones.
#[derive(Debug, Clone, Copy, Default)]
pub struct Bbs98In<G>(PhantomData<G>);

/// The `bbs98` scheme.
pub type Bbs98 = Bbs98In<Ristretto>;

/// Length of an encoded capsule: `c` and the sealed message key.
pub const CAPSULE_LEN: usize = 32 + SEALED_KEY_LEN;
/// Length of the sealed message key.
pub const SEALED_KEY_LEN: usize = 32 + TAG_LEN;

/// Bytes of a `bbs98` record of a `plaintext`-byte body, with or without a capsule (see
/// [`dl_hybrid::record_len`]).
#[must_use]
pub const fn record_len(plaintext: usize, capsule: bool) -> usize {
    dl_hybrid::record_len::<Bbs98>(plaintext, capsule)
}

/// Why a capsule whose `c` is the identity is refused.
pub const IDENTITY_CAPSULE: &str = "capsule point is the identity";

/// A capsule: `c = pk^r` and the message key sealed under a key derived from `g^r`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capsule {
    /// `c = g^{a·r}`, compressed.
    pub c: [u8; 32],
    /// The message key, sealed with its tag.
    pub sealed_key: [u8; SEALED_KEY_LEN],
}

impl Wire for Capsule {
    fn wire_len(&self) -> usize {
        CAPSULE_LEN
    }
    fn visit_bytes(&self, f: &mut dyn FnMut(&[u8])) {
        f(&self.c);
        f(&self.sealed_key);
    }
}

/// A capsule as the server keeps it: `c` decoded.
#[derive(Debug, Clone)]
pub struct StoredCapsule<G: DlGroup> {
    c: G::Element,
    sealed_key: [u8; SEALED_KEY_LEN],
}

/// A sealed record of `bbs98`.
pub type Record = dl_hybrid::Record<Capsule>;

/// The DEM key of a capsule, from `g^r` and the context: fresh per capsule, so single-use
/// ([`SymmetricCipher::seal_once`]).
fn dem<G: DlGroup>(g_r: &G::Element, context: &[u8; CONTEXT_LEN]) -> Zeroizing<[u8; 32]> {
    dl_hybrid::point_key::<G::Cipher>(Bbs98::LABEL, b"/dem", &G::encode(g_r), context)
}

impl<G: DlGroup> EpochWrap for Bbs98In<G> {
    const SCHEME_NAME: &'static str = "bbs98";
    const SCHEME_SUMMARY: &'static str =
        "ElGamal (BBS98) bidirectional multi-hop PRE on per-epoch message-key capsules";
    const LABEL: &'static str = "conclave/bbs98";
    const STORED_LEN: usize = CAPSULE_LEN;
    const WRAP_LEN: usize = CAPSULE_LEN;
    type Wrap = Capsule;
    type Stored = StoredCapsule<G>;
    type Cipher = G::Cipher;

    fn wrap(
        key: &EpochKey,
        context: &[u8; CONTEXT_LEN],
        rng: &mut dyn CryptoRngCore,
    ) -> Result<(MessageKey, Capsule), SchemeError> {
        let mut mk = [0u8; 32];
        rng.fill_bytes(&mut mk);
        let message_key = MessageKey(mk);
        let r = Scalar::random(rng);
        let c = G::mul_base(&(key.scalar() * r));
        let dem_key = dem::<G>(&G::mul_base(&r), context);
        let sealed = G::Cipher::seal_once(&dem_key, context, message_key.as_bytes())?;
        let sealed_key = <[u8; SEALED_KEY_LEN]>::try_from(sealed.as_slice())
            .map_err(|_| SchemeError::Internal("sealed message key of unexpected length"))?;
        Ok((
            message_key,
            Capsule {
                c: G::encode(&c),
                sealed_key,
            },
        ))
    }

    fn unwrap(
        key: &EpochKey,
        context: &[u8; CONTEXT_LEN],
        wrap: &Capsule,
    ) -> Result<MessageKey, SchemeError> {
        let StoredCapsule { c, sealed_key } = Self::decode(wrap)?;
        let g_r = G::mul(&c, &key.scalar().invert());
        let dem_key = dem::<G>(&g_r, context);
        let opened = G::Cipher::open_once(&dem_key, context, &sealed_key)?;
        let mk = <[u8; 32]>::try_from(opened.as_slice()).map_err(|_| SchemeError::Crypto)?;
        Ok(MessageKey(mk))
    }

    fn decode(wrap: &Capsule) -> Result<StoredCapsule<G>, SchemeError> {
        // With `c` the identity, `g^r` is the identity under every epoch key and the DEM key
        // is public: anyone (the server) could make a capsule whose message key it knows.
        let not_a_point = "capsule point is not a Ristretto encoding";
        let c = G::decode(wrap.c, not_a_point, IDENTITY_CAPSULE)?;
        Ok(StoredCapsule {
            c,
            sealed_key: wrap.sealed_key,
        })
    }

    fn encode(stored: &StoredCapsule<G>) -> Capsule {
        Capsule {
            c: G::encode(&stored.c),
            sealed_key: stored.sealed_key,
        }
    }

    fn rekey(prev: &EpochKey, next: &EpochKey) -> Scalar {
        next.scalar() * prev.scalar().invert()
    }

    fn check_rekey(rekey: &Scalar) -> Result<(), SchemeError> {
        // a_K / a_{K-1} is never zero; a zero re-key would destroy every capsule.
        if *rekey == Scalar::ZERO {
            return Err(SchemeError::Malformed("zero re-key"));
        }
        Ok(())
    }

    fn compose(first: &Scalar, then: &Scalar) -> Scalar {
        first * then
    }

    fn reencrypt(rekey: &Scalar, stored: &mut StoredCapsule<G>) {
        stored.c = G::mul(&stored.c, rekey);
    }

    fn advance(prev: &Scalar, rekey: &Scalar) -> Scalar {
        rekey * prev
    }
}
