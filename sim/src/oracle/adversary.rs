//! The adversary experiments: which attacks the engine tries, and how their outcomes are
//! recorded.
//!
//! The engine runs an experiment whenever the run gives it occasion (a removal, an epoch change
//! over stored history) and reports each attempt here. One exposure is enough to break the
//! stack, so an exposed attempt overrides any number of safe ones, and the explanation kept is
//! that of the attempt that set the verdict.

use super::Oracle;

/// The adversary experiments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Adversary {
    /// The servers collude with a removed member and try to read messages sent after the removal.
    ServerPlusRemovedMember,
    /// An attacker with a copy of the server's storage and an old epoch secret tries to read
    /// stored history of that epoch.
    StorageBreachOldKey,
}

impl Adversary {
    /// Every experiment, in report order.
    pub const ALL: [Adversary; 2] = [
        Adversary::ServerPlusRemovedMember,
        Adversary::StorageBreachOldKey,
    ];

    /// Snake-case name used in JSON.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Adversary::ServerPlusRemovedMember => "server_plus_removed_member",
            Adversary::StorageBreachOldKey => "storage_breach_old_key",
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
        }
    }
}

/// Outcome of an adversary experiment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verdict {
    /// The adversary learned nothing it should not.
    Safe,
    /// The adversary read protected content.
    Exposed,
    /// The run gave no occasion to try (for example no member was removed).
    NotRun,
}

impl Verdict {
    /// `safe`, `exposed` or `not_run`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Safe => "safe",
            Verdict::Exposed => "exposed",
            Verdict::NotRun => "not_run",
        }
    }

    /// Combines the verdicts of two attempts or runs: exposed wins, then safe.
    #[must_use]
    pub fn merge(self, other: Verdict) -> Verdict {
        match (self, other) {
            (Verdict::Exposed, _) | (_, Verdict::Exposed) => Verdict::Exposed,
            (Verdict::Safe, _) | (_, Verdict::Safe) => Verdict::Safe,
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

    /// Reports every experiment the run never tried as not run.
    pub(super) fn mark_untried_not_run(&mut self) {
        for a in Adversary::ALL {
            self.security.adversary.entry(a).or_insert((
                Verdict::NotRun,
                "the run gave no occasion to try".to_owned(),
            ));
        }
    }
}
