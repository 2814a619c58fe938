//! Message text: synthetic vocabularies and bodies whose keywords are exactly the words chosen,
//! and canaries for the security oracle.

use conclave_schemes::sse::tokenize;

const CONSONANTS: &[u8; 16] = b"bdfgklmnprstvwxz";
const VOWELS: &[u8; 5] = b"aeiou";

/// The synthetic word of Zipf rank `rank` (0-based): consonant-vowel syllables, at least two, so
/// no word is a stop word and every word survives tokenisation unchanged.
#[must_use]
pub fn synthetic_word(rank: u32) -> String {
    let syllables = CONSONANTS.len() * VOWELS.len();
    let mut n = rank as usize;
    let mut out = Vec::with_capacity(8);
    loop {
        let s = n % syllables;
        out.push(CONSONANTS[s / VOWELS.len()]);
        out.push(VOWELS[s % VOWELS.len()]);
        n /= syllables;
        if n == 0 && out.len() >= 4 {
            break;
        }
    }
    // Only ASCII letters were pushed.
    String::from_utf8(out).unwrap_or_default()
}

/// Prefix of every canary; the oracle scans server bytes for it.
pub const CANARY_PREFIX: &[u8] = b"cnry";
/// Canary plaintext marker: longer than the tokeniser's 64-character limit, so it is never a
/// keyword and only shows up where message bodies do.
pub const CANARY_MESSAGE_TAG: &[u8] = b"cnrymsg";
/// Canary keyword marker: an ordinary keyword that gets indexed and searched.
pub const CANARY_KEYWORD_TAG: &[u8] = b"cnrykw";

/// The canary plaintext marker of canary number `n`.
#[must_use]
pub fn canary_message(n: u64) -> String {
    format!(
        "cnrymsg{n:016x}{:048x}",
        u128::from(n).wrapping_mul(0x9e37_79b9_7f4a_7c15)
    )
}

/// The canary keyword of canary number `n`.
#[must_use]
pub fn canary_keyword(n: u64) -> String {
    format!("cnrykw{n:010x}")
}

/// Builds a body of (at least) `size` bytes holding `words` separated and padded by stop words,
/// so that tokenising it gives back exactly `words` (assumed distinct and tokeniser-clean).
#[must_use]
pub fn body(words: &[&str], size: usize) -> String {
    const FILLERS: &[&str] = &["the", "and", "of", "to", "in", "is", "for", "with"];
    let mut s = String::with_capacity(size.max(16));
    for (i, w) in words.iter().enumerate() {
        if i > 0 {
            s.push(' ');
            s.push_str(FILLERS[i % FILLERS.len()]);
            s.push(' ');
        }
        s.push_str(w);
    }
    // Pad with " a" (a one-letter stop word the tokeniser drops) and a final space if needed.
    while s.len() + 2 <= size {
        s.push_str(" a");
    }
    if s.len() < size {
        s.push(' ');
    }
    s
}

/// Keywords of a body (the tokeniser's view).
#[must_use]
pub fn keywords(text: &str) -> Vec<String> {
    tokenize(text)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn words_are_unique_and_clean() {
        let mut seen = BTreeSet::new();
        for r in 0..20_000 {
            let w = synthetic_word(r);
            assert_eq!(tokenize(&w), vec![w.clone()], "{w}");
            assert!(seen.insert(w));
        }
    }

    #[test]
    fn body_round_trips_keywords() {
        let kw = canary_keyword(7);
        let words = ["kaba", "lomi", kw.as_str()];
        for size in [0, 10, 160, 1000] {
            let b = body(&words, size);
            assert!(b.len() >= size);
            assert_eq!(b.len(), size.max(b.len()));
            assert_eq!(keywords(&b), words);
        }
        let m = canary_message(3);
        assert!(m.len() > 64 && tokenize(&m).is_empty());
    }
}
