//! The symmetric functions of DMKD (research/mkd.md §1.3, typed per §1.10 item 1): the PRFs
//! `F`, `F'`, `F''`, `F'''`, the twisted PRF `tPRF`, the target-collision-resistant hash `TCR`
//! and the MAC, all from HMAC-SHA-256/512 and SHA-256 with a distinct domain-separation label each.
//!
//! Types: `V = {0,1}^512` (the ring values `K^l`, `K^r`, `T`), `Kspace = {0,1}^256`, `κ = 256`.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256, Sha512};

use crate::pre::dl_group::DlGroup;
use crate::SchemeError;

/// Length of a `V` value (PRF output masking `k_1 ‖ s_1`).
pub const V_LEN: usize = 64;
/// A `V` value.
pub type V = [u8; V_LEN];
/// Length of a MAC tag.
pub const TAG_LEN: usize = 32;
/// A MAC tag.
pub type Tag = [u8; TAG_LEN];

/// HMAC over `label` and the length-prefixed `parts`, not yet finalised: the one encoding every
/// function below uses, so distinct parts can never run into each other.
fn labelled_mac<M: Mac + hmac::digest::KeyInit>(key: &[u8], label: &[u8], parts: &[&[u8]]) -> M {
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail.
    let mut m = match <M as Mac>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    };
    m.update(label);
    for p in parts {
        m.update(&(p.len() as u32).to_be_bytes());
        m.update(p);
    }
    m
}

fn hmac512(key: &[u8], label: &[u8], parts: &[&[u8]]) -> V {
    labelled_mac::<Hmac<Sha512>>(key, label, parts)
        .finalize()
        .into_bytes()
        .into()
}

fn hmac256(key: &[u8], label: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    labelled_mac::<Hmac<Sha256>>(key, label, parts)
        .finalize()
        .into_bytes()
        .into()
}

/// `F(sid, H) → V`: the ring-link PRF, keyed by the pairwise DH value `H` (compressed point).
#[must_use]
pub fn f(sid: &[u8; 32], h: &[u8; 32]) -> V {
    hmac512(h, b"conclave mkd F v1", &[sid])
}

/// `F'(sid, x) → Kspace`: derives `K_2` from `k' ⊕ k_1`.
#[must_use]
pub fn f1(sid: &[u8; 32], x: &[u8; 32]) -> [u8; 32] {
    hmac256(x, b"conclave mkd F' v1", &[sid])
}

/// `F''(sid, K) → {0,1}^κ`: the two halves of the session key.
#[must_use]
pub fn f2(sid: &[u8; 32], k: &[u8; 32]) -> [u8; 32] {
    hmac256(k, b"conclave mkd F'' v1", &[sid])
}

/// `F'''(sid, K) → G`: the two factors of the stored state value `r` (in the scheme's group).
#[must_use]
pub fn f3<G: DlGroup>(sid: &[u8; 32], k: &[u8; 32]) -> G::Element {
    G::from_uniform(&hmac512(k, b"conclave mkd F''' v1", &[sid]))
}

/// Twisted PRF `tPRF(a, a', b, b') = F_κ(a, a') ⊕ F_κ(b, b')` (SCIS 2018 form) with `F_κ` =
/// HMAC-SHA-512 keyed by the `Kspace` argument; `purpose` separates the values drawn from it
/// (`r`, `k`, `s`, `k_S`, `K_1`). `(a, a')` are ephemeral, `(b, b')` static: the output stays
/// pseudorandom unless both pairs leak.
#[must_use]
pub fn tprf(purpose: &[u8], a: &[u8; 32], a1: &[u8; 32], b: &[u8; 32], b1: &[u8; 32]) -> V {
    let x = hmac512(a1, b"conclave mkd tPRF v1", &[purpose, a]);
    let y = hmac512(b1, b"conclave mkd tPRF v1", &[purpose, b]);
    xor64(&x, &y)
}

/// `TCR(…)`: SHA-256 over a label and length-prefixed parts (the session id).
#[must_use]
pub fn tcr(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"conclave mkd TCR v1");
    for p in parts {
        h.update((p.len() as u32).to_be_bytes());
        h.update(p);
    }
    h.finalize().into()
}

/// `MAC.Tag(mk, parts)`: HMAC-SHA-256 over a label and length-prefixed parts.
#[must_use]
pub fn tag(mk: &[u8; 32], parts: &[&[u8]]) -> Tag {
    hmac256(mk, b"conclave mkd MAC v1", parts)
}

/// `MAC.Ver`, in constant time.
///
/// # Errors
/// [`SchemeError::Crypto`] if the tag is wrong.
pub fn verify(mk: &[u8; 32], parts: &[&[u8]], tag: &Tag) -> Result<(), SchemeError> {
    labelled_mac::<Hmac<Sha256>>(mk, b"conclave mkd MAC v1", parts)
        .verify_slice(tag)
        .map_err(|_| SchemeError::Crypto)
}

/// XOR of two `V` values.
#[must_use]
pub fn xor64(a: &V, b: &V) -> V {
    let mut out = [0u8; V_LEN];
    for (o, (x, y)) in out.iter_mut().zip(a.iter().zip(b)) {
        *o = x ^ y;
    }
    out
}

/// XOR of two 32-byte strings.
#[must_use]
pub fn xor32(a: &[u8; 32], b: &[u8; 32]) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (o, (x, y)) in out.iter_mut().zip(a.iter().zip(b)) {
        *o = x ^ y;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn functions_are_domain_separated() {
        let (a, b) = ([1u8; 32], [2u8; 32]);
        assert_ne!(f1(&a, &b), f2(&a, &b));
        let c = [3u8; 32];
        assert_ne!(f(&a, &b), tprf(b"r", &a, &b, &c, &c));
        assert_ne!(tprf(b"r", &a, &b, &c, &c), tprf(b"k", &a, &b, &c, &c));
        // Twisted: changing either the ephemeral or the static pair changes the output.
        assert_ne!(tprf(b"r", &a, &b, &c, &c), tprf(b"r", &c, &b, &c, &c));
        assert_ne!(tprf(b"r", &a, &b, &c, &c), tprf(b"r", &a, &b, &c, &a));
        assert_ne!(tcr(&[&a, &b]), tcr(&[&a[..31], &[1], &b]));
        let t = tag(&a, &[b"x", &b]);
        assert!(verify(&a, &[b"x", &b], &t).is_ok());
        assert_eq!(verify(&b, &[b"x", &b], &t), Err(SchemeError::Crypto));
    }
}
