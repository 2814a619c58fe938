//! The security oracle: a ground-truth model of who may read what, checked against the real
//! cryptography as the run goes.
//!
//! The engine reports every check here; the [`Oracle`] tallies outcomes per [`Property`], scans
//! every byte the servers receive or produce for canaries, remembers each epoch's secret for the
//! adversary experiments, and decides which properties the stack claims. Its parts:
//!
//! - `canary`: the scanner that finds planted plaintexts and keywords in raw bytes;
//! - `truth`: the epoch secrets per (room, epoch), the ground truth the checks compare against;
//! - `adversary`: the adversary experiments and how their verdicts are recorded;
//! - `security`: the findings themselves, per run and merged over seeds.

mod adversary;
mod canary;
mod security;
mod truth;

use std::collections::BTreeMap;

use conclave_schemes::erased::Packet;
use conclave_schemes::kd::KdProperties;
use conclave_schemes::pre::HistoryProperties;
use conclave_schemes::sse::SseProperties;
use conclave_schemes::{Epoch, EpochSecret, RoomId};

pub use adversary::{Adversary, Verdict};
pub use canary::{CanaryHits, CanaryScanner};
pub use security::{Property, PropertyOutcome, SearchLeakage, Security, TrustNotes};

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
        pre: HistoryProperties,
        sse: SseProperties,
        kd_name: &str,
        pre_name: &str,
    ) -> Self {
        let e2e = !pre.server_reads_bodies;
        // A key-distribution layer that also protects every message and gives joiners only
        // what is sent after their join (Sender Keys) keeps them from history whatever the
        // history scheme stores: such a stack cannot honour a shared-history policy.
        let layer_excludes_joiners = kd.layer_hides_history_from_joiners;
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
            (Property::HealsAfterUpdate, kd.heals_after_update),
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
        security.notes.kms_can_derive = kd.authority_can_derive;
        if kd.authority_can_derive {
            security.notes.notes.push(format!(
                "each organisation's KMS can derive every epoch secret sent to its users (`{kd_name}`: escrow by design). The chat servers cannot read (the key server only relays), so NTT's goal of a service that cannot read holds only as far as the KMS is run apart from them and trusted: whoever runs or breaches a KMS reads every room with one of its users, in every key period, opens the message server's stored records and can sign as any of its users"
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

    /// The findings; adversary experiments never tried are reported as not run.
    #[must_use]
    pub fn finish(mut self) -> Security {
        self.mark_untried_not_run();
        self.security
    }
}
