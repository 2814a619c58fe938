//! What the oracle found about one stack: per property, the checks and failures and whether
//! the stack claims it; what the search server learnt; the adversary verdicts; trust-model notes.
//!
//! These findings are per run and add up over seeds ([`Security::merge`]): counts sum, a claim by
//! any run stands, the first failure seen is kept, and an exposure in any run wins.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Adversary, Verdict};

/// The security properties the oracle checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Property {
    /// Every current member can decrypt new messages of its rooms (and members agree on the
    /// epoch secret).
    MembersRead,
    /// A search returns exactly the messages containing the keyword that the searcher may read.
    SearchMatchesOracle,
    /// A removed member, using everything it kept, cannot decrypt messages sent after its removal.
    RemovedExcluded,
    /// A joiner can read history from before its join if and only if the room's policy says so.
    JoinerHistoryPolicy,
    /// No canary plaintext appears in any byte the servers store or receive.
    ServerBlindToMessages,
    /// No canary keyword appears in any byte the servers store or receive.
    ServerBlindToKeywords,
    /// The key server never holds an epoch secret.
    KeyServerBlind,
    /// Post-compromise security: a member whose whole state leaked is healed by its own update
    /// (checked only for schemes that claim it).
    HealsAfterUpdate,
}

impl Property {
    /// Every property, in report order.
    pub const ALL: [Property; 8] = [
        Property::MembersRead,
        Property::SearchMatchesOracle,
        Property::RemovedExcluded,
        Property::JoinerHistoryPolicy,
        Property::ServerBlindToMessages,
        Property::ServerBlindToKeywords,
        Property::KeyServerBlind,
        Property::HealsAfterUpdate,
    ];

    /// Snake-case name used in JSON.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Property::MembersRead => "members_read",
            Property::SearchMatchesOracle => "search_matches_oracle",
            Property::RemovedExcluded => "removed_excluded",
            Property::JoinerHistoryPolicy => "joiner_history_policy",
            Property::ServerBlindToMessages => "server_blind_to_messages",
            Property::ServerBlindToKeywords => "server_blind_to_keywords",
            Property::KeyServerBlind => "key_server_blind",
            Property::HealsAfterUpdate => "heals_after_update",
        }
    }

    /// The property as a sentence, for security.md.
    #[must_use]
    pub fn describe(self) -> &'static str {
        match self {
            Property::MembersRead => "every current member can decrypt new messages of its rooms",
            Property::SearchMatchesOracle => {
                "a search returns exactly the messages containing the keyword that the searcher may read (under from_join, a message sent after the join but sealed under the epoch before it by a member that had not caught up may be returned or not: the service's bound admits it, the joiner's keys do not)"
            }
            Property::RemovedExcluded => {
                "a removed member, using everything it kept, cannot decrypt messages sent after its removal"
            }
            Property::JoinerHistoryPolicy => {
                "a joiner can read history from before its join if and only if the room's policy says so"
            }
            Property::ServerBlindToMessages => "no canary plaintext appears in any byte a server stores or receives",
            Property::ServerBlindToKeywords => "no canary keyword appears in any byte a server stores or receives",
            Property::KeyServerBlind => "the key server never holds an epoch secret",
            Property::HealsAfterUpdate => {
                "post-compromise security: after a member whose whole state leaked makes an update, a copy of the leaked state handed every later message addressed to the member derives no later epoch secret (checked where the key-distribution scheme claims it)"
            }
        }
    }
}

/// What the oracle found about one property.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PropertyOutcome {
    /// Whether the stack's schemes claim the property (a failure is then a violation and fails
    /// the run); an unclaimed property that fails is an exposure by design.
    pub claimed: bool,
    /// Checks made.
    pub checks: u64,
    /// Checks that failed.
    pub failures: u64,
    /// The first failure, described (event, time, who).
    pub first_failure: Option<String>,
}

/// Facts about a stack's trust model that the security report states.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustNotes {
    /// Sentences such as "the key server holds every epoch secret by design".
    pub notes: Vec<String>,
    /// Whether an organisation's credential authority (an identity-based KMS) can derive the
    /// epoch secrets its users receive: escrow by design.
    pub kms_can_derive: bool,
}

/// What the search server saw of the searches: the search pattern, measured from the bytes of
/// every query it received (two queries with identical bytes are linkable), and the access
/// pattern (result ids it returned or entries it looked up).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchLeakage {
    /// Searches the server answered (first rounds).
    pub searches: u64,
    /// Query messages it received (every round).
    pub queries: u64,
    /// Distinct keywords searched (ground truth, which the server does not see).
    pub keywords: u64,
    /// Distinct query messages, by their bytes, summed over keywords.
    pub distinct_queries: u64,
    /// Most distinct query messages for one keyword.
    pub max_queries_per_keyword: u64,
    /// Searches whose first query is byte-identical to an earlier search's: the server can tell
    /// they are for the same keyword.
    pub linkable_searches: u64,
    /// Searches whose first query is byte-identical to an earlier search's for another keyword
    /// (a query that does not depend on the keyword yet, such as Mitra's for a keyword the
    /// client has never seen): the server sees a repeat that is not one.
    pub ambiguous_searches: u64,
    /// Matching message ids the searches returned, which the server learns (access pattern).
    pub results: u64,
}

impl SearchLeakage {
    /// Adds another run's figures.
    pub fn merge(&mut self, o: &SearchLeakage) {
        self.searches += o.searches;
        self.queries += o.queries;
        self.keywords += o.keywords;
        self.distinct_queries += o.distinct_queries;
        self.max_queries_per_keyword = self.max_queries_per_keyword.max(o.max_queries_per_keyword);
        self.linkable_searches += o.linkable_searches;
        self.ambiguous_searches += o.ambiguous_searches;
        self.results += o.results;
    }
}

/// Everything the oracle found for one stack.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Security {
    /// Per property.
    pub properties: BTreeMap<Property, PropertyOutcome>,
    /// What the search server learnt from the searches.
    pub search_leakage: SearchLeakage,
    /// Per adversary experiment, with a one-line explanation of the outcome.
    pub adversary: BTreeMap<Adversary, (Verdict, String)>,
    /// Trust-model notes.
    pub notes: TrustNotes,
}

impl Security {
    /// Total checks of claimed properties.
    #[must_use]
    pub fn claimed_checks(&self) -> u64 {
        self.properties
            .values()
            .filter(|o| o.claimed)
            .map(|o| o.checks)
            .sum()
    }

    /// Total failures of claimed properties (violations).
    #[must_use]
    pub fn violations(&self) -> u64 {
        self.properties
            .values()
            .filter(|o| o.claimed)
            .map(|o| o.failures)
            .sum()
    }

    /// Adds another run's findings.
    pub fn merge(&mut self, other: &Security) {
        self.search_leakage.merge(&other.search_leakage);
        for (p, o) in &other.properties {
            let mine = self.properties.entry(*p).or_default();
            mine.claimed |= o.claimed;
            mine.checks += o.checks;
            mine.failures += o.failures;
            if mine.first_failure.is_none() {
                mine.first_failure.clone_from(&o.first_failure);
            }
        }
        for (a, (v, why)) in &other.adversary {
            let mine = self
                .adversary
                .entry(*a)
                .or_insert((Verdict::NotRun, String::new()));
            let merged = mine.0.merge(*v);
            if merged != mine.0 {
                *mine = (merged, why.clone());
            }
        }
        self.notes.kms_can_derive |= other.notes.kms_can_derive;
        for n in &other.notes.notes {
            if !self.notes.notes.contains(n) {
                self.notes.notes.push(n.clone());
            }
        }
    }
}
