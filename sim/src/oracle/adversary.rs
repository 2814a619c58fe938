//! The adversary experiments: which attacks the engine tries, and how their outcomes are
//! recorded.
//!
//! The engine runs an experiment whenever the run gives it occasion (a removal, an epoch change
//! over stored history, re-keying traffic) and reports each attempt here. One exposure is
//! enough to break the stack, so an exposed attempt overrides any number of safe ones, and the
//! explanation kept is that of the attempt that set the verdict.
//!
//! Two kinds of server are tried. The first two experiments are those of a *passive* server,
//! which reads what it stores and relays (and here pools it with what a removed member kept).
//! The others are those of an *active* server, which sends what it likes: it forges records,
//! splices and rolls back stored history, replays key-distribution messages, and members or
//! the server send re-keying traffic that is not theirs to send.

use serde::{Deserialize, Serialize};

use super::Oracle;

/// The adversary experiments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Adversary {
    /// The servers collude with a removed member and try to read messages sent after the removal.
    ServerPlusRemovedMember,
    /// An attacker with a copy of the server's storage and an old epoch secret tries to read
    /// stored history of that epoch.
    StorageBreachOldKey,
    /// The message server builds a record with what the servers hold (or a key it makes up)
    /// and hands it to a member as a message of the room; it also checks whether the member
    /// then seals its own messages under the forger's key.
    ForgedRecord,
    /// The key server substitutes key-distribution messages: it replays to a member holding
    /// the current epoch messages it relayed earlier (an earlier epoch's, another room's), and,
    /// where the scheme has a known active attack by its key server, runs it on a fresh room
    /// and checks the secret it derives against the members'.
    KdSubstitution,
    /// A member other than the changer the directory names sends the changer's re-keying
    /// traffic to the message or search server.
    HostileRekey,
    /// The message server hands a member a stored record as another message of the room, or as
    /// a message of another room the member is in.
    Splice,
    /// The message server hands a member a record as it was stored before the room's stored
    /// history was re-protected.
    Rollback,
    /// A KMS derives a room's epoch secret from the key-distribution messages the key server
    /// relayed to its users, and opens the message server's stored records with it.
    KmsPlusServers,
    /// An authority nobody trusts issues credentials for a user of another organisation, and
    /// their holder creates a room in that user's name.
    UntrustedKms,
    /// A removed member, holding its credentials of the current key period, ignores its
    /// removal and handles a copy of every message of the change that removed it.
    RemovedMemberOverhears,
}

impl Adversary {
    /// Every experiment, in report order.
    pub const ALL: [Adversary; 10] = [
        Adversary::ServerPlusRemovedMember,
        Adversary::StorageBreachOldKey,
        Adversary::ForgedRecord,
        Adversary::KdSubstitution,
        Adversary::HostileRekey,
        Adversary::Splice,
        Adversary::Rollback,
        Adversary::KmsPlusServers,
        Adversary::UntrustedKms,
        Adversary::RemovedMemberOverhears,
    ];

    /// Snake-case name used in JSON.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Adversary::ServerPlusRemovedMember => "server_plus_removed_member",
            Adversary::StorageBreachOldKey => "storage_breach_old_key",
            Adversary::ForgedRecord => "forged_record",
            Adversary::KdSubstitution => "kd_substitution",
            Adversary::HostileRekey => "hostile_rekey",
            Adversary::Splice => "splice",
            Adversary::Rollback => "rollback",
            Adversary::KmsPlusServers => "kms_plus_servers",
            Adversary::UntrustedKms => "untrusted_kms",
            Adversary::RemovedMemberOverhears => "removed_member_overhears",
        }
    }

    /// The experiment as a sentence, for security.md.
    #[must_use]
    pub fn describe(self) -> &'static str {
        match self {
            Adversary::ServerPlusRemovedMember => {
                "the servers collude with a removed member to read messages sent after its removal"
            }
            Adversary::StorageBreachOldKey => {
                "a copy of the server's storage plus an old epoch secret opens stored history"
            }
            Adversary::ForgedRecord => {
                "active message server: a record it builds (with the secret the servers hold, or one it makes up) is accepted by a member, or the member then seals under the forger's key"
            }
            Adversary::KdSubstitution => {
                "active key server: a member leaves its epoch for a key-distribution message replayed from an earlier epoch or another room, or the key server, substituting messages it relays, derives the secret members agree on"
            }
            Adversary::HostileRekey => {
                "active member: a server takes the changer's re-keying traffic from another member"
            }
            Adversary::Splice => {
                "active message server: a member accepts a stored record as another message of the room or of another room"
            }
            Adversary::Rollback => {
                "active message server: a member accepts a record as it was stored before the room's history was re-protected (no stack authenticates the set of stored records, so withholding later ones goes unnoticed in all)"
            }
            Adversary::KmsPlusServers => {
                "a KMS, with the key-distribution messages the key server relayed to its users, derives a room's epoch secret and opens the message server's stored records"
            }
            Adversary::UntrustedKms => {
                "an authority nobody trusts issues credentials for a user of another organisation, and a member accepts the key their holder sends in that user's name"
            }
            Adversary::RemovedMemberOverhears => {
                "a removed member with its credentials of the current key period and a copy of every message of the change that removed it (ignoring its removal) gets the new epoch secret"
            }
        }
    }

    /// Why a run may not have tried the experiment.
    #[must_use]
    pub fn untried(self) -> &'static str {
        match self {
            Adversary::ServerPlusRemovedMember => "no member was removed before a later message",
            Adversary::StorageBreachOldKey => "no room with stored history changed epochs",
            Adversary::ForgedRecord | Adversary::Splice | Adversary::KdSubstitution => {
                "no room had a member holding its current epoch at the end"
            }
            Adversary::HostileRekey => "no re-keying traffic reached a server",
            Adversary::Rollback => "no stored record was re-protected during the run",
            Adversary::KmsPlusServers => {
                "no KMS derived the current secret of a room with a stored record of that epoch"
            }
            Adversary::UntrustedKms | Adversary::RemovedMemberOverhears => {
                "the experiment did not run"
            }
        }
    }
}

/// Outcome of an adversary experiment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The adversary learned nothing it should not.
    Safe,
    /// The adversary read protected content.
    Exposed,
    /// The run gave no occasion to try (for example no member was removed).
    NotRun,
    /// The attack has nothing to act on in this stack (for example a rollback of records that
    /// the stack never re-protects).
    NotApplicable,
}

impl Verdict {
    /// `safe`, `exposed`, `not_applicable` or `not_run`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Safe => "safe",
            Verdict::Exposed => "exposed",
            Verdict::NotRun => "not_run",
            Verdict::NotApplicable => "not_applicable",
        }
    }

    /// Combines the verdicts of two attempts or runs: exposed wins, then safe, then not
    /// applicable (a run where the attack had something to act on outweighs one where not).
    #[must_use]
    pub fn merge(self, other: Verdict) -> Verdict {
        match (self, other) {
            (Verdict::Exposed, _) | (_, Verdict::Exposed) => Verdict::Exposed,
            (Verdict::Safe, _) | (_, Verdict::Safe) => Verdict::Safe,
            (Verdict::NotApplicable, _) | (_, Verdict::NotApplicable) => Verdict::NotApplicable,
            _ => Verdict::NotRun,
        }
    }
}

impl Oracle {
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

    /// Records that experiment `a` has nothing to act on in this stack; a safe or exposed
    /// attempt of the same run overrides it.
    pub fn adversary_not_applicable(&mut self, a: Adversary, why: impl FnOnce() -> String) {
        let entry = self
            .security
            .adversary
            .entry(a)
            .or_insert((Verdict::NotRun, String::new()));
        if entry.0 == Verdict::NotRun {
            *entry = (Verdict::NotApplicable, why());
        }
    }

    /// Reports every experiment the run never tried as not run, saying why it may not have.
    pub(super) fn mark_untried_not_run(&mut self) {
        for a in Adversary::ALL {
            self.security
                .adversary
                .entry(a)
                .or_insert((Verdict::NotRun, a.untried().to_owned()));
        }
    }
}
