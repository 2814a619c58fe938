//! The security oracle: a ground-truth model of who may read what, checked against the real
//! cryptography as the run goes.
//!
//! The engine reports every check here; this module tallies outcomes per [`Property`], scans
//! every byte the servers receive or produce for canaries, remembers each epoch's secret for the
//! adversary experiments, and decides which properties the stack claims.

use std::collections::BTreeMap;

use conclave_schemes::erased::Packet;
use conclave_schemes::kd::KdProperties;
use conclave_schemes::pre::HistoryProperties;
use conclave_schemes::sse::SseProperties;
use conclave_schemes::{Epoch, EpochSecret, RoomId};
use memchr::memmem;

use crate::metrics::{Adversary, Property, PropertyOutcome, Security, Verdict};
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

/// The oracle of one run of one stack.
#[derive(Debug)]
pub struct Oracle {
    scanner: CanaryScanner,
    security: Security,
    /// The secret of each (room, epoch), as the first member to reach it holds it.
    secrets: BTreeMap<(RoomId, Epoch), EpochSecret>,
}

impl Oracle {
    /// An oracle for a stack with these claims.
    #[must_use]
    pub fn new(
        kd: KdProperties,
        kd_message_layer: bool,
        pre: HistoryProperties,
        sse: SseProperties,
        kd_name: &str,
        pre_name: &str,
    ) -> Self {
        let e2e = !pre.server_reads_bodies;
        // A key-distribution layer that also protects every message and gives joiners only
        // what is sent after their join (Sender Keys) keeps them from history whatever the
        // history scheme stores: such a stack cannot honour a shared-history policy.
        let layer_excludes_joiners = kd_message_layer && kd.join_excludes_past;
        let claims = [
            (Property::MembersRead, true),
            (Property::SearchMatchesOracle, true),
            (
                Property::RemovedExcluded,
                kd.removal_excludes && pre.removal_excludes,
            ),
            (
                Property::JoinerHistoryPolicy,
                e2e && !layer_excludes_joiners,
            ),
            (Property::ServerBlindToMessages, e2e),
            (
                Property::ServerBlindToKeywords,
                e2e && !sse.server_reads_keywords,
            ),
            (Property::KeyServerBlind, !kd.server_knows_epoch_secret),
        ];
        let mut security = Security::default();
        for (p, claimed) in claims {
            security.properties.insert(
                p,
                PropertyOutcome {
                    claimed,
                    ..PropertyOutcome::default()
                },
            );
        }
        if kd.server_knows_epoch_secret {
            security.notes.notes.push(format!(
                "the key server holds every epoch secret by design (`{kd_name}`)"
            ));
        }
        if layer_excludes_joiners {
            security.notes.notes.push(format!(
                "`{kd_name}` protects every message with keys a joiner never receives: joiners cannot read history from before their join, whatever the room's policy"
            ));
        }
        if pre.server_reads_bodies {
            security
                .notes
                .notes
                .push(format!("the message server stores plaintext by design (`{pre_name}`); access control is its ACL alone"));
        }
        if sse.server_reads_keywords {
            security
                .notes
                .notes
                .push("the search server sees keywords and queries in the clear".to_owned());
        }
        Self {
            scanner: CanaryScanner::default(),
            security,
            secrets: BTreeMap::new(),
        }
    }

    /// Records one check of `p`; `ok` false is a failure described by `what`.
    pub fn check(&mut self, p: Property, ok: bool, what: impl FnOnce() -> String) {
        let o = self.security.properties.entry(p).or_default();
        o.checks += 1;
        if !ok {
            o.failures += 1;
            if o.first_failure.is_none() {
                o.first_failure = Some(what());
            }
        }
    }

    /// Scans a packet a server received or produced; `what` describes it for the report.
    pub fn scan(&mut self, p: &Packet, what: impl Fn() -> String) {
        let hits = self.scanner.scan_packet(p);
        self.check(Property::ServerBlindToMessages, !hits.message, || {
            format!("canary plaintext seen by a server in {}", what())
        });
        self.check(Property::ServerBlindToKeywords, !hits.keyword, || {
            format!("canary keyword seen by a server in {}", what())
        });
    }

    /// Registers the secret of a new epoch (the first member to reach it), or checks agreement
    /// with the registered one. Returns whether the member agrees.
    pub fn epoch_secret(
        &mut self,
        room: RoomId,
        epoch: Epoch,
        secret: &EpochSecret,
        who: impl FnOnce() -> String,
    ) -> bool {
        let agree = match self.secrets.get(&(room, epoch)) {
            Some(s) => s == secret,
            None => {
                self.secrets.insert((room, epoch), secret.clone());
                true
            }
        };
        self.check(Property::MembersRead, agree, || {
            format!("{} disagrees on the epoch secret", who())
        });
        agree
    }

    /// The registered secret of an epoch.
    #[must_use]
    pub fn secret_of(&self, room: RoomId, epoch: Epoch) -> Option<&EpochSecret> {
        self.secrets.get(&(room, epoch))
    }

    /// The first epoch registered for a room and the number of epochs seen.
    #[must_use]
    pub fn epochs_of(&self, room: RoomId) -> Vec<Epoch> {
        self.secrets
            .range((room, Epoch(0))..=(room, Epoch(u64::MAX)))
            .map(|((_, e), _)| *e)
            .collect()
    }

    /// Whether `bytes` contain an epoch secret of `room` registered so far.
    #[must_use]
    pub fn contains_secret(&self, room: RoomId, bytes: &[u8]) -> bool {
        self.secrets
            .range((room, Epoch(0))..=(room, Epoch(u64::MAX)))
            .any(|(_, s)| memmem::find(bytes, s.as_bytes()).is_some())
    }

    /// Records the outcome of one adversary attempt: exposed wins over safe.
    pub fn adversary(&mut self, a: Adversary, exposed: bool, why: impl FnOnce() -> String) {
        let v = if exposed {
            Verdict::Exposed
        } else {
            Verdict::Safe
        };
        let entry = self
            .security
            .adversary
            .entry(a)
            .or_insert((Verdict::NotRun, String::new()));
        if entry.0.merge(v) != entry.0 {
            *entry = (v, why());
        }
    }

    /// The findings; adversary experiments never tried are reported as not run.
    #[must_use]
    pub fn finish(mut self) -> Security {
        for a in Adversary::ALL {
            self.security.adversary.entry(a).or_insert((
                Verdict::NotRun,
                "the run gave no occasion to try".to_owned(),
            ));
        }
        self.security
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
