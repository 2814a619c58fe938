//! The models' one stand-in for a hash: a cheap, deterministic mix of length-prefixed fields.
//! **Not cryptography.**
//!
//! # Source
//!
//! This crate's own: a two-lane multiply-rotate absorber of length-prefixed fields with the
//! 64-bit finaliser of MurmurHash3 (`fmix64`) on the way out.
//!
//! # Construction
//!
//! [`Mix`] absorbs a domain string and then fields, each prefixed by its length (so that no two
//! sequences of fields absorb alike), eight bytes at a time, into 128 bits of state; it
//! squeezes 16-byte blocks, each a finalisation of the state and the block's index. Its mask is
//! a keystream of wyrand's output function (Wang Yi's `wyrand`) over a counter from the
//! finalised state. [`mix`] is the same over a list of fields, for a caller that has them as a
//! slice.
//!
//! # Costs
//!
//! A few multiplications per eight bytes absorbed or squeezed; one per eight bytes masked.
//!
//! # Security
//!
//! None: anyone can invert or collide it on purpose. A model uses it where its scheme uses a
//! hash, a MAC, a key derivation or a tag ([`super::ideal_cipher`], [`super::mls`], the
//! exponent groups' hash to the group), so that different inputs give different outputs in
//! practice, as the scheme's would, and so that a model's outcomes (which objects open, which
//! are refused) are the scheme's.
//!
//! # Weaknesses
//!
//! Collisions are easy to construct; nothing in a run constructs them (the simulator's active
//! server only alters, moves and replays bytes).
//!
//! # Side channels
//!
//! Not applicable: nothing secret is mixed.

const K1: u64 = 0x9E37_79B9_7F4A_7C15;
const K2: u64 = 0xC2B2_AE3D_27D4_EB4F;
const K3: u64 = 0x1656_67B1_9E37_79F9;
/// wyrand's increment and multiplier.
const WY0: u64 = 0xA076_1D64_78BD_642F;
const WY1: u64 = 0xE703_7ED1_A0B4_28DB;

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

    /// XORs `data` with a keystream drawn from this state (a mask, undone by applying it
    /// again).
    ///
    /// The keystream is wyrand's output function over a counter from the finalised state: one
    /// 64×64→128-bit multiplication per eight bytes rather than [`block`](Self::block)'s three
    /// finalisations per sixteen, since a model masks every body it seals and opens.
    pub fn mask(&self, data: &mut [u8]) {
        let start = fmix(self.a ^ fmix(self.b ^ K3));
        let stream = |i: u64| {
            let x = start.wrapping_add(i.wrapping_mul(WY0));
            let m = u128::from(x) * u128::from(x ^ WY1);
            (m as u64) ^ ((m >> 64) as u64)
        };
        let mut chunks = data.chunks_exact_mut(8);
        let mut i = 0;
        for chunk in &mut chunks {
            i += 1;
            let mut w = [0u8; 8];
            w.copy_from_slice(chunk);
            chunk.copy_from_slice(&(u64::from_le_bytes(w) ^ stream(i)).to_le_bytes());
        }
        let rest = chunks.into_remainder();
        for (d, m) in rest.iter_mut().zip(stream(i + 1).to_le_bytes()) {
            *d ^= m;
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

/// Fills `out` with the mix of `parts` under this module's own domain (each part's length
/// counts, so `["ab", "c"]` and `["a", "bc"]` differ).
pub fn mix(parts: &[&[u8]], out: &mut [u8]) {
    parts
        .iter()
        .fold(Mix::new("conclave model mix"), |m, p| m.field(p))
        .fill(out);
}

#[cfg(test)]
mod tests {
    use super::{mix, Mix};

    #[test]
    fn fields_and_their_boundaries_change_the_output() {
        assert_ne!(
            Mix::new("d").field(b"ab").field(b"c").block(0),
            Mix::new("d").field(b"a").field(b"bc").block(0)
        );
        let mixed = |parts: &[&[u8]]| {
            let mut out = [0u8; 40];
            mix(parts, &mut out);
            out
        };
        let base = mixed(&[b"ab", b"c"]);
        assert_eq!(base, mixed(&[b"ab", b"c"]));
        assert_ne!(base, mixed(&[b"a", b"bc"]));
        assert_ne!(base, mixed(&[b"ab", b"c", b""]));
        let words: Vec<&[u8]> = base.chunks(8).collect();
        for (i, w) in words.iter().enumerate() {
            assert!(words[i + 1..].iter().all(|v| v != w));
        }
    }

    #[test]
    fn the_mask_is_undone_by_itself_and_depends_on_the_state() {
        for len in [0, 1, 7, 8, 9, 16, 33, 200] {
            let data: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let mut masked = data.clone();
            Mix::new("k").mask(&mut masked);
            if len >= 8 {
                assert_ne!(masked, data);
                let mut other = data.clone();
                Mix::new("j").mask(&mut other);
                assert_ne!(masked, other);
                let words: Vec<&[u8]> = masked.chunks_exact(8).collect();
                for (i, w) in words.iter().enumerate() {
                    assert!(words[i + 1..].iter().all(|v| v != w));
                }
            }
            Mix::new("k").mask(&mut masked);
            assert_eq!(masked, data);
        }
    }
}
