//! Every registered scheme passes its family's conformance suite: the suites run over the
//! registry's own lists ([`registry::each_kd`], [`registry::each_history`],
//! [`registry::each_sse`]), so a scheme added there is checked at once, and each family's test
//! asserts that the schemes it ran are exactly [`Registry::names`] of [`Registry::builtin`].
//!
//! Each scheme runs on its own random generator, seeded from its name, and a failure names the
//! scheme: a family's test runs every scheme even after one fails, then reports all failures.
//!
//! Below them, the baselines' failures by design: the suites skip what a scheme does not claim,
//! and these tests show that the skipped checks would catch it.

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};

use conclave_schemes::kd::conventional::Conventional;
use conclave_schemes::pre::none::NoProtection;
use conclave_schemes::registry::{
    self, Family, HistoryScheme, HistoryVisitor, KdScheme, KdVisitor, Registry, SseVisitor,
};
use conclave_schemes::sse::plaintext::PlaintextIndex;
use conclave_schemes::sse::SearchableEncryption;
use conclave_schemes::testing;
use conclave_schemes::CryptoRngCore;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

/// The random generator of scheme `name`: seeded from the name (FNV-1a), so each scheme's run
/// is reproducible and independent of the others and of the list's order.
fn rng_for(name: &str) -> ChaCha20Rng {
    let seed = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    ChaCha20Rng::seed_from_u64(seed)
}

/// What a panic said.
fn panic_message(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "(a panic without a message)".to_owned())
}

/// What `suites.check(family)` panics with; a failure if it passes.
fn check_failure(suites: Suites, family: Family) -> String {
    let payload =
        catch_unwind(AssertUnwindSafe(|| suites.check(family))).expect_err("the check passed");
    panic_message(&*payload)
}

/// Runs one family's suite on every scheme it visits, catching each scheme's failure.
#[derive(Default)]
struct Suites {
    /// The schemes run, in order.
    ran: Vec<&'static str>,
    /// The schemes that failed, with what their suite said.
    failed: Vec<(&'static str, String)>,
}

impl Suites {
    fn run(&mut self, name: &'static str, suite: fn(&mut dyn CryptoRngCore)) {
        self.ran.push(name);
        let mut rng = rng_for(name);
        if let Err(payload) = catch_unwind(AssertUnwindSafe(|| suite(&mut rng))) {
            self.failed.push((name, panic_message(&*payload)));
        }
    }

    /// Panics naming every failed scheme, and if the schemes run are not exactly the registry's
    /// names of `family`.
    fn check(self, family: Family) {
        let failures: Vec<String> = self
            .failed
            .iter()
            .map(|(name, message)| format!("  {} scheme `{name}`: {message}", family.key()))
            .collect();
        assert!(
            failures.is_empty(),
            "{} of {} {} schemes failed their conformance suite:\n{}",
            failures.len(),
            self.ran.len(),
            family.key(),
            failures.join("\n")
        );
        assert_eq!(
            self.ran,
            Registry::builtin().names(family),
            "the {} suite did not run exactly the registered schemes",
            family.key()
        );
    }
}

impl KdVisitor for Suites {
    fn visit<K: KdScheme>(&mut self) {
        self.run(K::NAME, testing::kd_conformance::<K>);
    }
}

impl HistoryVisitor for Suites {
    fn visit<H: HistoryScheme>(&mut self) {
        self.run(H::NAME, testing::history_conformance::<H>);
    }
}

impl SseVisitor for Suites {
    fn visit<S: SearchableEncryption>(&mut self) {
        self.run(S::NAME, testing::sse_conformance::<S>);
    }
}

/// A test for each family, named first: its suite over the registry's list (`each`), checked.
macro_rules! family_tests {
    ($($test:ident: $each:ident, $family:ident;)*) => {$(
        #[test]
        fn $test() {
            let mut suites = Suites::default();
            registry::$each(&mut suites);
            suites.check(Family::$family);
        }
    )*};
}

family_tests! {
    every_kd_scheme_passes_its_suite: each_kd, KeyDistribution;
    every_history_scheme_passes_its_suite: each_history, History;
    every_sse_scheme_passes_its_suite: each_sse, Search;
}

/// The check of the family test itself: a failing scheme is reported by name, and a scheme the
/// registry lists but the suite did not run is caught.
#[test]
fn a_failure_names_its_scheme_and_a_missed_scheme_is_caught() {
    let mut suites = Suites::default();
    suites.run("broken", |_| panic!("the property does not hold"));
    let message = check_failure(suites, Family::Search);
    assert!(
        message.contains("sse scheme `broken`: the property does not hold"),
        "{message}"
    );

    let mut suites = Suites::default();
    suites.run(PlaintextIndex::NAME, |_| {});
    let message = check_failure(suites, Family::Search);
    assert!(
        message.contains("did not run exactly the registered schemes"),
        "{message}"
    );
}

/// The conventional scheme trusts TLS and the server: an insider who sees the key messages
/// reads the new key. The suite must catch that.
#[test]
#[should_panic(expected = "derived a later epoch secret")]
fn conventional_fails_exclusion_by_design() {
    testing::kd_exclusion::<Conventional>(&mut rng_for("conventional/exclusion"));
}

/// The plaintext baseline has no keys: a joiner reads everything, whatever the policy says.
#[test]
#[should_panic(expected = "opened a message from before its join")]
fn none_fails_from_join_by_design() {
    testing::history_policy::<NoProtection>(&mut rng_for("none/policy"));
}

/// The plaintext baseline authenticates nothing: a flipped bit reaches the reader.
#[test]
#[should_panic(expected = "a tampered record opened")]
fn none_fails_tampering_by_design() {
    testing::history_rejects_tampering::<NoProtection>(&mut rng_for("none/tampering"));
}

/// A plaintext query works for anyone, removed members included. The suite must catch that.
#[test]
#[should_panic(expected = "sse_removed_member")]
fn plaintext_fails_removed_member_by_design() {
    testing::sse_removed_member::<PlaintextIndex>(&mut rng_for("plaintext/removed-member"));
}
