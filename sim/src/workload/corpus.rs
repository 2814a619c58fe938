//! Real-text workloads: a JSONL corpus of chat messages, one JSON object per line with a
//! `"text"` string (other fields, such as a sender or a time, are ignored).

use std::path::{Path, PathBuf};

use rand::Rng;

use super::text;

/// Why a corpus could not be used.
#[derive(Debug, thiserror::Error)]
pub enum CorpusError {
    /// The file could not be read.
    #[error("cannot read corpus {}: {source}", .path.display())]
    Io {
        /// the corpus file
        path: PathBuf,
        /// why
        source: std::io::Error,
    },
    /// A line is not a JSON object with a string `text`.
    #[error("{}:{line}: {reason}; expected a JSON object with a string field \"text\" on every line", .path.display())]
    Line {
        /// the corpus file
        path: PathBuf,
        /// 1-based line number
        line: usize,
        /// what is wrong with the line
        reason: String,
    },
    /// No line had any keyword.
    #[error("{}: the corpus has no message with a keyword (it is empty, blank, or its texts have no word a search could find)", .path.display())]
    Empty {
        /// the corpus file
        path: PathBuf,
    },
}

/// Chat messages to draw bodies from.
#[derive(Debug, Clone)]
pub struct Corpus {
    texts: Vec<String>,
}

impl Corpus {
    /// Reads a JSONL corpus. Blank lines are skipped; messages without any keyword are dropped.
    ///
    /// # Errors
    /// [`CorpusError`] naming the file (and line) that is wrong.
    pub fn load(path: &Path) -> Result<Self, CorpusError> {
        let raw = std::fs::read_to_string(path).map_err(|source| CorpusError::Io {
            path: path.to_owned(),
            source,
        })?;
        let mut texts = Vec::new();
        for (i, line) in raw.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let bad = |reason: String| CorpusError::Line {
                path: path.to_owned(),
                line: i + 1,
                reason,
            };
            let value: serde_json::Value =
                serde_json::from_str(line).map_err(|e| bad(format!("not valid JSON ({e})")))?;
            let t = match value.get("text") {
                Some(serde_json::Value::String(t)) => t,
                Some(_) => return Err(bad("field \"text\" is not a string".to_owned())),
                None if value.is_object() => return Err(bad("missing field \"text\"".to_owned())),
                None => return Err(bad("not a JSON object".to_owned())),
            };
            if !text::keywords(t).is_empty() {
                texts.push(t.to_owned());
            }
        }
        if texts.is_empty() {
            return Err(CorpusError::Empty {
                path: path.to_owned(),
            });
        }
        Ok(Self { texts })
    }

    /// Number of messages.
    #[must_use]
    pub fn len(&self) -> usize {
        self.texts.len()
    }

    /// Whether there are no messages (never true for a loaded corpus).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.texts.is_empty()
    }

    /// Message `i`.
    #[must_use]
    pub fn text(&self, i: usize) -> &str {
        self.texts.get(i).map_or("", String::as_str)
    }

    /// A keyword of a random message.
    pub fn random_word(&self, rng: &mut impl Rng) -> String {
        let kws = text::keywords(self.text(rng.gen_range(0..self.len().max(1))));
        if kws.is_empty() {
            return String::new();
        }
        kws[rng.gen_range(0..kws.len())].clone()
    }
}
