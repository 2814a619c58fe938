//! The canary scanner: finds the workload's marked plaintexts and keywords in raw bytes.
//!
//! The workload plants canaries in some messages; a canary in any byte a server receives or
//! produces proves the server could read that content. Scanning looks for the shared prefix once
//! and classifies each hit by its tag, so one pass covers both kinds.

use conclave_schemes::erased::Packet;
use memchr::memmem;

use crate::workload::text::{CANARY_KEYWORD_TAG, CANARY_MESSAGE_TAG, CANARY_PREFIX};

/// Which canaries a byte string holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CanaryHits {
    /// A canary plaintext marker.
    pub message: bool,
    /// A canary keyword.
    pub keyword: bool,
}

/// Scans bytes for canaries.
#[derive(Debug)]
pub struct CanaryScanner {
    finder: memmem::Finder<'static>,
}

impl Default for CanaryScanner {
    fn default() -> Self {
        Self {
            finder: memmem::Finder::new(CANARY_PREFIX),
        }
    }
}

impl CanaryScanner {
    /// Canaries in `bytes`.
    #[must_use]
    pub fn scan(&self, bytes: &[u8]) -> CanaryHits {
        let mut hits = CanaryHits::default();
        for at in self.finder.find_iter(bytes) {
            let rest = &bytes[at..];
            hits.message |= rest.starts_with(CANARY_MESSAGE_TAG);
            hits.keyword |= rest.starts_with(CANARY_KEYWORD_TAG);
        }
        hits
    }

    /// Canaries anywhere in a packet.
    #[must_use]
    pub fn scan_packet(&self, p: &Packet) -> CanaryHits {
        let mut hits = CanaryHits::default();
        p.visit_bytes(&mut |b| {
            let h = self.scan(b);
            hits.message |= h.message;
            hits.keyword |= h.keyword;
        });
        hits
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::text::{canary_keyword, canary_message};

    #[test]
    fn scanner_classifies() {
        let s = CanaryScanner::default();
        assert_eq!(s.scan(b"nothing here cnr"), CanaryHits::default());
        let m = canary_message(1);
        let k = canary_keyword(2);
        assert_eq!(
            s.scan(m.as_bytes()),
            CanaryHits {
                message: true,
                keyword: false
            }
        );
        assert_eq!(
            s.scan(format!("x {k} y").as_bytes()),
            CanaryHits {
                message: false,
                keyword: true
            }
        );
    }
}
