//! The tokeniser every index and the workload generator share, so that "the keywords of a
//! message" means the same thing everywhere.

/// Words too common to index (a short English list).
pub const STOPWORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it",
    "no", "not", "of", "on", "or", "so", "such", "that", "the", "their", "then", "there", "these",
    "they", "this", "to", "was", "we", "will", "with", "you",
];

/// The distinct keywords of `text`, in order of first appearance: maximal runs of ASCII letters
/// and digits, lower-cased, at least two characters long, at most 64, stop words removed.
/// Non-ASCII characters separate words.
#[must_use]
pub fn tokenize(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for word in text.split(|c: char| !c.is_ascii_alphanumeric()) {
        if word.len() < 2 || word.len() > 64 {
            continue;
        }
        let lower = word.to_ascii_lowercase();
        if STOPWORDS.binary_search(&lower.as_str()).is_ok() {
            continue;
        }
        if !out.contains(&lower) {
            out.push(lower);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stopwords_are_sorted() {
        assert!(STOPWORDS.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn tokenizes() {
        assert_eq!(
            tokenize("The Budget, the budget and Q3-report: été x"),
            vec!["budget", "q3", "report"]
        );
        assert!(tokenize("").is_empty());
        assert!(tokenize("a an the !!").is_empty());
    }
}
