//! `security.md`: per stack, each oracle property and adversary experiment with its outcome,
//! and the stack's trust-model notes.

use std::fmt::Write as _;

use super::{md_cell, RunReport};
use crate::oracle::{Adversary, Property, PropertyOutcome, SearchLeakage, Verdict};
use crate::scenario::CostModelKind;

/// What a property's outcome means, as shown in the table.
fn outcome(o: &PropertyOutcome) -> &'static str {
    match (o.checks, o.claimed, o.failures) {
        (0, _, _) => "not checked",
        (_, true, 0) => "holds",
        (_, true, _) => "VIOLATED",
        (_, false, 0) => "holds (not claimed)",
        (_, false, _) => "exposed by design",
    }
}

fn verdict_text(v: Verdict) -> &'static str {
    match v {
        Verdict::Safe => "safe",
        Verdict::Exposed => "exposed",
        Verdict::NotRun => "not run",
        Verdict::NotApplicable => "not applicable",
    }
}

/// `1 check`, `2 checks`.
fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

const INTRO: &str = "\
The security oracle keeps a ground-truth model of who may read what (room membership, epochs, \
each room's history policy) and checks the real cryptography against it while the run goes on: \
current members must decrypt new messages, removed members must not, joiners read history only \
as the policy allows. Canaries are plaintexts and keywords planted in the workload; the oracle \
looks for them in every byte a server stores or receives. A stack's schemes claim some of these \
properties: a failure of a claimed property is a violation and fails the run. A failure of a \
property the stack does not claim is reported as an exposure by design (for example, the \
conventional stack's server reads every message). The adversary experiments test properties of \
the schemes rather than bugs: they are expected to succeed against some stacks. The first two \
are those of a passive server (it reads what it stores, and pools it with what a removed member \
kept); the others are those of an active one, which forges, splices, replays and rolls back what \
it sends, while members send re-keying traffic that is not theirs to send.";

/// What a `model` run did not check, said before any table.
const MODEL_RUN: &str = "\
**This run used the `model` cost mode: its schemes ran as their models.** Schemes that compute \
nothing secret ran as they are; every other scheme ran its own protocol code over ideal \
primitives, which send the same messages, of the same lengths, to the same recipients, and make \
the same checks of sender, roster, epoch and integrity, but keep nothing secret: ideal objects \
carry their content in the clear or under a public mask, and group elements are their discrete \
logarithms. No public-key cryptography ran in the modelled schemes, and symmetric cryptography \
ran only where a model keeps its scheme's own MACs or key derivations (each model's \
documentation says whether it does). The oracle's \
properties were therefore checked on who holds which key and who was sent what, not on \
ciphertexts. **Not checked by cryptography in this run**: that a removed member or a server \
cannot open what a modelled scheme protects (removed members excluded, key server blind), that \
forging a modelled scheme's message is infeasible (the model refuses what was altered, moved or \
replayed, as the scheme does), and that no canary can be read from a \
modelled scheme's bytes (the scans found none because a model masks or omits them, not because \
they are encrypted). The key-distribution adversary experiments, which build small systems of \
their own, ran the real schemes with their cryptography; the experiments that act on the run's \
own servers acted on what the run ran.";

/// What the search server learnt, as measured from the queries it received.
fn search_leakage(out: &mut String, l: &SearchLeakage) {
    out.push_str("\n### Search leakage\n\n");
    if l.searches == 0 {
        out.push_str("No search reached the search server.\n");
        return;
    }
    let per_keyword = l.distinct_queries as f64 / l.keywords.max(1) as f64;
    let _ = writeln!(
        out,
        "The search server answered {} ({} query messages in all, {:.2} rounds per search) for {} distinct keywords.\n",
        plural(l.searches, "search", "searches"),
        l.queries,
        l.queries as f64 / l.searches as f64,
        l.keywords
    );
    out.push_str("| leakage | measured | meaning |\n|:---|---:|:---|\n");
    let _ = writeln!(
        out,
        "| search pattern | {} of {} searches ({:.1} %) | first queries byte-identical to an earlier search's for the same keyword: the server knows they repeat a keyword |",
        l.linkable_searches,
        l.searches,
        100.0 * l.linkable_searches as f64 / l.searches as f64
    );
    if l.ambiguous_searches > 0 {
        let _ = writeln!(
            out,
            "| identical queries for different keywords | {} | first queries that do not depend on the keyword yet: they look like repeats but are not |",
            l.ambiguous_searches
        );
    }
    let _ = writeln!(
        out,
        "| distinct query messages per keyword | {per_keyword:.2} on average, at most {} | 1 means every search for a keyword looks the same; more means tokens change (new epochs, counters) |",
        l.max_queries_per_keyword
    );
    let _ = writeln!(
        out,
        "| access pattern | {} result ids ({:.1} per search) | matching message ids the server returned or looked up for the searches |",
        l.results,
        l.results as f64 / l.searches as f64
    );
}

/// `security.md`: an explanation of the oracle, then per stack a table of the properties
/// present (in [`Property::ALL`] order) with their outcome — `holds`, `VIOLATED`, `exposed by
/// design`, `holds (not claimed)` or `not checked` — the first failure of each failing
/// property, a table of the adversary experiments (in [`Adversary::ALL`] order; `not run` when
/// absent), and the trust notes. Deterministic.
#[must_use]
pub fn security_md(r: &RunReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Security: {}", r.scenario.name);
    out.push('\n');
    let _ = writeln!(out, "{INTRO}");
    if r.cost_model == CostModelKind::Model {
        out.push('\n');
        let _ = writeln!(out, "{MODEL_RUN}");
    }
    if r.stacks.is_empty() {
        out.push_str("\nNo stack was run.\n");
    }
    for st in &r.stacks {
        let sec = &st.security;
        out.push('\n');
        let _ = writeln!(out, "## {}", st.stack.name());
        out.push('\n');
        let _ = writeln!(
            out,
            "Oracle: {} of claimed properties, {}.",
            plural(sec.claimed_checks(), "check", "checks"),
            plural(sec.violations(), "violation", "violations")
        );

        out.push_str("\n### Properties\n\n");
        let present: Vec<(Property, &PropertyOutcome)> = Property::ALL
            .iter()
            .filter_map(|p| sec.properties.get(p).map(|o| (*p, o)))
            .collect();
        if present.is_empty() {
            out.push_str("The oracle recorded no property for this stack.\n");
        } else {
            out.push_str("| property | claimed | checks | failures | outcome |\n");
            out.push_str("|:---|:---:|---:|---:|:---|\n");
            for (p, o) in &present {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {} |",
                    md_cell(p.describe()),
                    if o.claimed { "yes" } else { "no" },
                    o.checks,
                    o.failures,
                    outcome(o)
                );
            }
            let failures: Vec<_> = present
                .iter()
                .filter_map(|(p, o)| o.first_failure.as_deref().map(|f| (*p, f)))
                .collect();
            if !failures.is_empty() {
                out.push_str("\nFirst failures:\n\n");
                for (p, f) in failures {
                    let _ = writeln!(out, "- `{}`: {}", p.name(), f.replace(['\r', '\n'], " "));
                }
            }
        }

        out.push_str("\n### Adversary experiments\n\n");
        out.push_str("| experiment | verdict | explanation |\n");
        out.push_str("|:---|:---|:---|\n");
        for a in Adversary::ALL {
            let (verdict, why) = match sec.adversary.get(&a) {
                Some((v, why)) => (*v, why.as_str()),
                None => (Verdict::NotRun, a.untried()),
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} |",
                md_cell(a.describe()),
                verdict_text(verdict),
                md_cell(why)
            );
        }

        search_leakage(&mut out, &sec.search_leakage);

        out.push_str("\n### Trust notes\n\n");
        let _ = writeln!(
            out,
            "KMS can derive epoch secrets (`kms_can_derive`): {}.\n",
            if sec.notes.kms_can_derive {
                "**yes**, exposed by design: each organisation's KMS computes the private key of every identity it issued and opens every key sent to it"
            } else {
                "no"
            }
        );
        if sec.notes.notes.is_empty() {
            out.push_str("None.\n");
        } else {
            for n in &sec.notes.notes {
                let _ = writeln!(out, "- {}", n.replace(['\r', '\n'], " "));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn o(claimed: bool, checks: u64, failures: u64) -> PropertyOutcome {
        PropertyOutcome {
            claimed,
            checks,
            failures,
            first_failure: None,
        }
    }

    #[test]
    fn outcomes() {
        assert_eq!(outcome(&o(true, 3, 0)), "holds");
        assert_eq!(outcome(&o(true, 3, 1)), "VIOLATED");
        assert_eq!(outcome(&o(false, 3, 1)), "exposed by design");
        assert_eq!(outcome(&o(false, 3, 0)), "holds (not claimed)");
        assert_eq!(outcome(&o(true, 0, 0)), "not checked");
        assert_eq!(outcome(&o(false, 0, 0)), "not checked");
    }
}
