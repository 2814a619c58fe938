//! Real-text workloads: a JSONL corpus of chat messages, one JSON object per line with a
//! `"text"` string (other fields, such as a sender or a time, are ignored).

use std::path::{Path, PathBuf};

use rand::Rng;

use super::text;

/// Why a corpus could not be used.
#[derive(Debug, thiserror::Error)]
pub enum CorpusError {
    /// The file could not be read.
    #[error("cannot read corpus {path}: {source}")]
    Io {
        /// the corpus file
        path: PathBuf,
        /// why
        source: std::io::Error,
    },
    /// A line is not a JSON object with a string `text`.
    #[error("{path}:{line}: expected a JSON object with a string field \"text\"")]
    Line {
        /// the corpus file
        path: PathBuf,
        /// 1-based line number
        line: usize,
    },
    /// No line had any keyword.
    #[error("{path}: the corpus has no message with a keyword")]
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
            let value: serde_json::Value =
                serde_json::from_str(line).map_err(|_| CorpusError::Line {
                    path: path.to_owned(),
                    line: i + 1,
                })?;
            let t = value
                .get("text")
                .and_then(serde_json::Value::as_str)
                .ok_or_else(|| CorpusError::Line {
                    path: path.to_owned(),
                    line: i + 1,
                })?;
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
