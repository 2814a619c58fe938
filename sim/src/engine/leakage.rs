//! Search-pattern and access-pattern leakage, measured from what the search server receives.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use conclave_schemes::erased::Packet;
use sha2::{Digest, Sha256};

use crate::oracle::SearchLeakage;

/// Counts what the search server could link: queries are compared by a hash of their bytes
/// (every byte string the scheme says the server sees, length-prefixed).
#[derive(Debug, Default)]
pub(super) struct LeakageMeter {
    by_keyword: BTreeMap<Arc<str>, BTreeSet<[u8; 32]>>,
    /// First queries seen, with the keyword of the first search that sent them.
    first_queries: BTreeMap<[u8; 32], Arc<str>>,
    figures: SearchLeakage,
}

fn fingerprint(packet: &Packet) -> [u8; 32] {
    let mut h = Sha256::new();
    packet.visit_bytes(&mut |b| {
        h.update((b.len() as u64).to_le_bytes());
        h.update(b);
    });
    h.finalize().into()
}

impl LeakageMeter {
    /// The search server received `packet`, a round of a search for `keyword`.
    pub(super) fn query(&mut self, keyword: &Arc<str>, packet: &Packet, first_round: bool) {
        let f = fingerprint(packet);
        self.figures.queries += 1;
        if first_round {
            self.figures.searches += 1;
            match self.first_queries.get(&f) {
                None => {
                    self.first_queries.insert(f, keyword.clone());
                }
                Some(k) if k == keyword => self.figures.linkable_searches += 1,
                // Identical bytes for another keyword: the server cannot link these correctly.
                Some(_) => self.figures.ambiguous_searches += 1,
            }
        }
        self.by_keyword
            .entry(keyword.clone())
            .or_default()
            .insert(f);
    }

    /// A search completed with `n` matching ids.
    pub(super) fn results(&mut self, n: usize) {
        self.figures.results += n as u64;
    }

    /// The figures of the run.
    pub(super) fn finish(mut self) -> SearchLeakage {
        self.figures.keywords = self.by_keyword.len() as u64;
        self.figures.distinct_queries = self.by_keyword.values().map(|s| s.len() as u64).sum();
        self.figures.max_queries_per_keyword = self
            .by_keyword
            .values()
            .map(|s| s.len() as u64)
            .max()
            .unwrap_or(0);
        self.figures
    }
}
