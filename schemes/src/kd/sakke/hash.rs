//! HashToIntegerRange of RFC 6508 §5.1 with SHA-256 (the hash of parameter set 1).

use ark_ff::PrimeField;
use sha2::{Digest, Sha256};

use super::field::Fq;

/// Octets of a SHA-256 output.
const HASH_OCTETS: usize = 32;

/// The chained blocks v_1 … v_l of HashToIntegerRange(`s`, n, SHA-256), concatenated:
/// A = H(s), h_0 = 0^256, h_i = H(h_(i−1)), v_i = H(h_i || A).
fn blocks(s: &[u8], count: usize) -> Vec<u8> {
    let a = Sha256::digest(s);
    let mut h = [0u8; HASH_OCTETS];
    let mut out = Vec::with_capacity(count * HASH_OCTETS);
    for _ in 0..count {
        h = Sha256::digest(h).into();
        let mut v = Sha256::new();
        v.update(h);
        v.update(a);
        out.extend_from_slice(&v.finalize());
    }
    out
}

/// HashToIntegerRange(`s`, q, SHA-256): l = ⌈lg(q)/256⌉ = 4 blocks, reduced mod q.
#[must_use]
pub fn hash_to_scalar(s: &[u8]) -> Fq {
    let bits = usize::try_from(Fq::MODULUS_BIT_SIZE).unwrap_or(usize::MAX);
    let count = bits.div_ceil(HASH_OCTETS * 8);
    Fq::from_be_bytes_mod_order(&blocks(s, count))
}

/// HashToIntegerRange(`s`, 2^128, SHA-256): one block, of which the low 128 bits are the value
/// (16 big-endian octets).
#[must_use]
pub fn hash_to_128_bits(s: &[u8]) -> [u8; 16] {
    let block = blocks(s, 1);
    let mut out = [0u8; 16];
    out.copy_from_slice(&block[HASH_OCTETS - 16..]);
    out
}
