//! The models' stand-in for a hash: a cheap, deterministic mix of its inputs. Not cryptography.
//!
//! # Source
//!
//! The finaliser of SplitMix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number
//! generators", OOPSLA 2014), applied to a running state and then in counter mode.
//!
//! # Construction
//!
//! Two 64-bit lanes absorb every part's length and then its bytes, eight at a time, each word
//! followed by a SplitMix64 finalisation; the output is the finalisation of the lanes with a
//! counter, eight bytes per counter value.
//!
//! # Costs
//!
//! A few nanoseconds per eight input bytes and per eight output bytes.
//!
//! # Security
//!
//! None: anyone can invert or collide it. A model uses it where the scheme uses a hash or a
//! key derivation (to name a group element, to bind an ideal object to its context), so that
//! different inputs give different outputs in practice, as the scheme's would, and so that a
//! model's outcome (which objects open, which are refused) is the scheme's.
//!
//! # Weaknesses
//!
//! Collisions are easy to construct; nothing in a run constructs them.
//!
//! # Side channels
//!
//! Not applicable: nothing secret is mixed.

/// The SplitMix64 finaliser.
const fn finalise(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Fills `out` with a mix of `parts` (each part's length counts, so `["ab", "c"]` and
/// `["a", "bc"]` differ).
pub fn mix(parts: &[&[u8]], out: &mut [u8]) {
    let mut lanes = [0x9e37_79b9_7f4a_7c15_u64, 0x6a09_e667_f3bc_c908_u64];
    let mut absorb = |word: u64| {
        lanes[0] = finalise(lanes[0] ^ word);
        lanes[1] = finalise(lanes[1].rotate_left(23) ^ word ^ lanes[0]);
    };
    for part in parts {
        absorb(part.len() as u64);
        for chunk in part.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            absorb(u64::from_le_bytes(word));
        }
    }
    for (i, chunk) in out.chunks_mut(8).enumerate() {
        let word = finalise(lanes[0] ^ finalise(lanes[1] ^ i as u64));
        chunk.copy_from_slice(&word.to_le_bytes()[..chunk.len()]);
    }
}

#[cfg(test)]
mod tests {
    use super::mix;

    fn mixed(parts: &[&[u8]]) -> [u8; 40] {
        let mut out = [0u8; 40];
        mix(parts, &mut out);
        out
    }

    #[test]
    fn parts_and_their_boundaries_change_the_output() {
        let base = mixed(&[b"ab", b"c"]);
        assert_eq!(base, mixed(&[b"ab", b"c"]));
        assert_ne!(base, mixed(&[b"a", b"bc"]));
        assert_ne!(base, mixed(&[b"ab", b"d"]));
        assert_ne!(base, mixed(&[b"ab", b"c", b""]));
        // Every output word differs from the others.
        let words: Vec<&[u8]> = base.chunks(8).collect();
        for (i, w) in words.iter().enumerate() {
            assert!(words[i + 1..].iter().all(|v| v != w));
        }
    }
}
