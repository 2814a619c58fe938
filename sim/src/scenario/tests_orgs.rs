//! Validation of `organisations`, `org.rooms[i].orgs`, reorganisations across organisations and
//! `policy.key_period`: what is accepted and the message of each rejection.

#![allow(clippy::unwrap_used)]

use std::path::Path;

use super::{
    parse, KnownSchemes, ModelledSchemes, RoomKind, Scenario, ScenarioError, ScheduledKind,
};

const KNOWN: KnownSchemes<'static> = KnownSchemes {
    kd: &["conventional", "pairwise-dh", "mkd", "sakke"],
    pre: &["none", "afgh-hybrid"],
    sse: &["plaintext", "rekey-index"],
    kd_rejoining: &["mls"],
    modelled: ModelledSchemes::NONE,
};

const DAY: u64 = 86_400 * 1_000_000_000;

/// The brief's example: acme (150 users, 6 departments) and supplier (50 users, 2 departments),
/// trusting each other.
const FEDERATION: &str = "name: fed
duration: 2d
organisations:
  - name: acme
    users: 150
    departments: 6
    trusts: [supplier]
  - name: supplier
    users: 50
    departments: 2
    trusts: [acme]
org:
  rooms:
    - { kind: department }
    - { kind: project, count: 8, size: 5, orgs: [acme] }
    - { kind: project, count: 4, size: { uniform: { min: 4, max: 12 } }, orgs: [acme, supplier] }
    - { kind: org, orgs: [supplier] }
policy: { history: shared, key_period: 30d }
workload:
  churn: { join: 1/h, events: [ { at: 1d, reorg: { from: 6, to: 7, share: 0.5 } } ] }
stacks: [conventional+none+plaintext]
";

fn ok(text: &str) -> Scenario {
    parse(text, Path::new("orgs.yaml"), &KNOWN).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn rejected(text: &str, key: &str, needle: &str) -> ScenarioError {
    let err = match parse(text, Path::new("orgs.yaml"), &KNOWN) {
        Ok(_) => panic!("should be rejected ({key}):\n{text}"),
        Err(e) => e,
    };
    let shown = err.to_string();
    assert_eq!(err.key(), Some(key), "{shown}");
    assert!(shown.contains(needle), "expected {needle:?} in: {shown}");
    err
}

/// `FEDERATION` with `from` replaced by `to` (which must occur).
fn edit(from: &str, to: &str) -> String {
    assert!(FEDERATION.contains(from), "{from}");
    FEDERATION.replacen(from, to, 1)
}

#[test]
fn two_organisations_are_laid_out_in_file_order() {
    let s = ok(FEDERATION);
    let org = &s.org;
    assert_eq!((org.users, org.departments), (200, 8));
    assert_eq!(org.organisations.len(), 2);
    let (acme, supplier) = (&org.organisations[0], &org.organisations[1]);
    assert_eq!(acme.name, "acme");
    assert_eq!((acme.first_user, acme.users), (0, 150));
    assert_eq!((acme.first_department, acme.departments), (0, 6));
    assert_eq!(acme.trusts, vec![1]);
    assert_eq!(supplier.name, "supplier");
    assert_eq!((supplier.first_user, supplier.users), (150, 50));
    assert_eq!((supplier.first_department, supplier.departments), (6, 2));
    assert_eq!(supplier.trusts, vec![0]);
    assert_eq!(org.organisation_of(0), 0);
    assert_eq!(org.organisation_of(149), 0);
    assert_eq!(org.organisation_of(150), 1);
    assert_eq!(org.organisation_of(199), 1);
    assert!(org.mutually_trusted(0, 1) && org.mutually_trusted(1, 0));
    assert!(org.mutually_trusted(1, 1));
    let orgs: Vec<Vec<u16>> = org.rooms.iter().map(|g| g.orgs.clone()).collect();
    assert_eq!(orgs, vec![vec![0, 1], vec![0], vec![0, 1], vec![1]]);
    assert_eq!(org.rooms[3].kind, RoomKind::Org);
    assert_eq!(s.policy.key_period, 30 * DAY);
    assert_eq!(
        s.workload.churn.events[0].kind,
        ScheduledKind::Reorg {
            from: 6,
            to: 7,
            share: 0.5
        }
    );
}

#[test]
fn a_file_without_organisations_has_one_named_org() {
    let s = ok("name: one\nduration: 1h\norg: { users: 30, departments: 3, rooms: [ { kind: department }, { kind: project, count: 2, size: 30, orgs: [org] } ] }\nstacks: [conventional+none+plaintext]\n");
    assert_eq!(s.org.organisations.len(), 1);
    let o = &s.org.organisations[0];
    assert_eq!(o.name, "org");
    assert_eq!(
        (o.first_user, o.users, o.first_department, o.departments),
        (0, 30, 0, 3)
    );
    assert!(o.trusts.is_empty());
    assert!(s.org.rooms.iter().all(|g| g.orgs == vec![0]));
    assert_eq!(s.policy.key_period, 30 * DAY);
    assert_eq!(s.org.organisation_of(29), 0);
}

#[test]
fn trusts_default_to_nobody_and_single_org_groups_need_no_trust() {
    let text = edit("    trusts: [supplier]\n", "")
        .replace("    trusts: [acme]\n", "")
        .replace(
            "    - { kind: project, count: 4, size: { uniform: { min: 4, max: 12 } }, orgs: [acme, supplier] }\n",
            "",
        );
    let s = ok(&text);
    assert!(s.org.organisations.iter().all(|o| o.trusts.is_empty()));
    assert!(!s.org.mutually_trusted(0, 1));
    // `kind: department` without `orgs` never mixes organisations: accepted without trust.
    assert_eq!(s.org.rooms[0].orgs, vec![0, 1]);
}

#[test]
fn org_users_and_departments_are_not_allowed_with_organisations() {
    rejected(
        &edit("org:\n  rooms:", "org:\n  users: 10\n  rooms:"),
        "org.users",
        "`users` is not allowed with `organisations`",
    );
    rejected(
        &edit("org:\n  rooms:", "org:\n  departments: 2\n  rooms:"),
        "org.departments",
        "`departments` is not allowed with `organisations`",
    );
}

#[test]
fn organisation_names_are_unique_and_well_formed() {
    rejected(
        &edit("name: supplier", "name: acme"),
        "organisations[1].name",
        "duplicate organisation name `acme`",
    );
    rejected(
        &edit("name: acme", "name: Acme"),
        "organisations[0].name",
        "invalid character 'A' in `Acme`",
    );
    rejected(
        &edit("name: acme", "name: \"\""),
        "organisations[0].name",
        "expected a non-empty organisation name",
    );
    rejected(
        &edit("  - name: acme\n", "  - users: 3\n    name_: acme\n"),
        "organisations[0].name_",
        "unknown key",
    );
    rejected(
        &edit("  - name: acme\n", "  -\n"),
        "organisations[0].name",
        "missing required key `name`",
    );
}

#[test]
fn trusts_name_other_existing_organisations_once() {
    rejected(
        &edit("trusts: [supplier]", "trusts: [supplyer]"),
        "organisations[0].trusts[0]",
        "unknown organisation `supplyer`; organisations: acme, supplier",
    );
    rejected(
        &edit("trusts: [supplier]", "trusts: [supplier, acme]"),
        "organisations[0].trusts[1]",
        "`acme` cannot trust itself",
    );
    rejected(
        &edit("trusts: [supplier]", "trusts: [supplier, supplier]"),
        "organisations[0].trusts[1]",
        "`supplier` is listed twice",
    );
}

#[test]
fn users_and_departments_of_an_organisation_are_in_range() {
    rejected(
        &edit("users: 50", "users: 0"),
        "organisations[1].users",
        "too small: expected an integer from 1 to 1000000, found 0",
    );
    rejected(
        &edit("  - name: supplier\n", "  - name: supplier\n    bogus: 1\n"),
        "organisations[1].bogus",
        "unknown key",
    );
    rejected(
        &edit("departments: 2", "departments: 51"),
        "organisations[1].departments",
        "more departments (51) than users (50): expected 1 to 50",
    );
    rejected(
        &edit("departments: 2", "departments: 0"),
        "organisations[1].departments",
        "expected an integer from 1 to 50, found 0",
    );
    rejected(
        &edit("users: 50\n", "departments_: 1\n"),
        "organisations[1].departments_",
        "unknown key",
    );
    rejected(
        "name: x\nduration: 1h\norganisations: [ { name: solo, users: 1 } ]\norg: { rooms: [ { kind: org } ] }\nstacks: [conventional+none+plaintext]\n",
        "organisations",
        "a scenario needs at least 2 users",
    );
    rejected(
        "name: x\nduration: 1h\norganisations: []\norg: { rooms: [ { kind: org } ] }\nstacks: [conventional+none+plaintext]\n",
        "organisations",
        "expected at least one organisation",
    );
    // One organisation of one user beside another is fine; departments default to 1.
    let s = ok("name: x\nduration: 1h\norganisations: [ { name: a, users: 1 }, { name: b, users: 3 } ]\norg: { rooms: [ { kind: department } ] }\nstacks: [conventional+none+plaintext]\n");
    assert_eq!(s.org.departments, 2);
    assert_eq!(s.org.organisations[1].first_department, 1);
}

#[test]
fn room_orgs_name_existing_organisations_once() {
    rejected(
        &edit("orgs: [acme, supplier]", "orgs: [acme, suplier]"),
        "org.rooms[2].orgs[1]",
        "unknown organisation `suplier`; organisations: acme, supplier",
    );
    rejected(
        &edit("orgs: [acme, supplier]", "orgs: [acme, acme]"),
        "org.rooms[2].orgs[1]",
        "organisation `acme` is listed twice",
    );
    rejected(
        &edit("orgs: [acme, supplier]", "orgs: []"),
        "org.rooms[2].orgs",
        "expected at least one organisation name",
    );
    // Order does not matter: indices come out ascending.
    let s = ok(&edit("orgs: [acme, supplier]", "orgs: [supplier, acme]"));
    assert_eq!(s.org.rooms[2].orgs, vec![0, 1]);
}

#[test]
fn cross_organisation_groups_need_trust_both_ways() {
    // supplier trusts acme, acme does not trust supplier.
    let one_way = edit("    trusts: [supplier]\n", "");
    rejected(
        &one_way,
        "org.rooms[2].orgs",
        "acme does not trust supplier",
    );
    let other_way = edit("    trusts: [acme]\n", "");
    rejected(
        &other_way,
        "org.rooms[2].orgs",
        "supplier does not trust acme",
    );
    // Without `orgs`, a project or org group takes every organisation: the group is named.
    rejected(
        &one_way.replace(", orgs: [acme, supplier] }", " }"),
        "org.rooms[2]",
        "acme does not trust supplier",
    );
    rejected(
        &one_way.replace("{ kind: org, orgs: [supplier] }", "{ kind: org }"),
        "org.rooms[2].orgs",
        "acme does not trust supplier",
    );
    // Three organisations: every pair of a group's orgs is checked.
    let three = "name: x\nduration: 1h\norganisations:\n  - { name: a, users: 5, trusts: [b, c] }\n  - { name: b, users: 5, trusts: [a] }\n  - { name: c, users: 5, trusts: [a] }\norg:\n  rooms:\n    - { kind: project, count: 1, size: 4, orgs: [a, b] }\n    - { kind: project, count: 1, size: 4, orgs: [a, c] }\n    - { kind: org, orgs: [a, b, c] }\nstacks: [conventional+none+plaintext]\n";
    rejected(three, "org.rooms[2].orgs", "b does not trust c");
    let s = ok(&three.replace("    - { kind: org, orgs: [a, b, c] }\n", ""));
    assert!(s.org.mutually_trusted(0, 2) && !s.org.mutually_trusted(1, 2));
}

#[test]
fn project_sizes_are_checked_against_the_group_s_organisations() {
    rejected(
        &edit("size: 5, orgs: [acme]", "size: 51, orgs: [supplier]"),
        "org.rooms[1].size",
        "a room of 51 members is larger than the users of its organisations (50 users: supplier)",
    );
    rejected(
        &edit(
            "max: 12 } }, orgs: [acme, supplier]",
            "max: 201 } }, orgs: [acme, supplier]",
        ),
        "org.rooms[2].size.uniform.max",
        "larger than the users of its organisations (200 users: acme, supplier)",
    );
    ok(&edit("size: 5, orgs: [acme]", "size: 150, orgs: [acme]"));
    // One organisation: today's message.
    rejected(
        "name: x\nduration: 1h\norg: { users: 10, rooms: [ { kind: project, count: 1, size: 11 } ] }\nstacks: [conventional+none+plaintext]\n",
        "org.rooms[0].size",
        "a room of 11 members is larger than the organisation (10 users)",
    );
}

#[test]
fn admins_fit_the_smallest_department_of_the_group_s_organisations() {
    // acme's departments hold 25 users, supplier's 25; a group of supplier departments only.
    let text = edit(
        "- { kind: department }",
        "- { kind: department, orgs: [supplier], admins: 25 }",
    );
    let s = ok(&text);
    assert_eq!(s.org.rooms[0].orgs, vec![1]);
    rejected(
        &edit(
            "- { kind: department }",
            "- { kind: department, orgs: [supplier], admins: 26 }",
        ),
        "org.rooms[0].admins",
        "26 admins do not fit in the smallest room of this group (25 members)",
    );
}

#[test]
fn reorganisations_stay_within_one_organisation() {
    rejected(
        &edit("reorg: { from: 6, to: 7", "reorg: { from: 5, to: 6"),
        "workload.churn.events[0].reorg.to",
        "department 6 belongs to supplier but department 5 belongs to acme: a reorganisation moves users between departments of one organisation (acme's departments are 0 to 5)",
    );
    rejected(
        &edit("reorg: { from: 6, to: 7", "reorg: { from: 6, to: 8"),
        "workload.churn.events[0].reorg.to",
        "department 8 is out of range: departments are numbered 0 to 7 (the organisations have 8 departments in all",
    );
    ok(&edit("reorg: { from: 6, to: 7", "reorg: { from: 0, to: 5"));
}

#[test]
fn key_period_is_a_duration_from_one_second_to_a_year() {
    let with = |v: &str| edit("key_period: 30d", &format!("key_period: {v}"));
    assert_eq!(ok(&with("1s")).policy.key_period, 1_000_000_000);
    assert_eq!(ok(&with("365d")).policy.key_period, 365 * DAY);
    assert_eq!(ok(&with("12h")).policy.key_period, DAY / 2);
    rejected(
        &with("500ms"),
        "policy.key_period",
        "too short: expected a key period of at least 1s, found `500ms`",
    );
    rejected(&with("0"), "policy.key_period", "too short");
    rejected(
        &with("366d"),
        "policy.key_period",
        "too large: expected at most 365d",
    );
    rejected(&with("30"), "policy.key_period", "expected a duration");
    rejected(
        &with("30 parsecs"),
        "policy.key_period",
        "expected a duration",
    );
    let default = ok(&edit(
        "policy: { history: shared, key_period: 30d }",
        "policy: { history: shared }",
    ));
    assert_eq!(default.policy.key_period, 30 * DAY);
}

#[test]
fn organisation_keys_can_be_swept() {
    let text = format!(
        "{FEDERATION}sweep:\n  organisations[1].users: [20, 60]\n  policy.key_period: [1d, 7d]\n"
    );
    let s = ok(&text);
    assert_eq!(s.sweep.len(), 4);
    assert_eq!(s.sweep[0].scenario.org.users, 170);
    assert_eq!(s.sweep[3].scenario.org.users, 210);
    assert_eq!(s.sweep[3].scenario.policy.key_period, 7 * DAY);
    // A point that breaks a rule is reported naming the sweep key and the rule.
    let bad = format!("{FEDERATION}sweep:\n  organisations[1].users: [1]\n");
    rejected(
        &bad,
        "sweep.organisations[1].users",
        "organisations[1].departments: more departments (2) than users (1)",
    );
}
