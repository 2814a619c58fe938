//! Scenario files: every malformed fixture under `tests/bad/` is rejected with the right key path
//! and line, the fixtures under `tests/good/` and the shipped scenarios load, and nothing panics.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use conclave_sim::scenario::{
    load, parse, ByteDist, CostModelKind, HistoryPolicy, KeywordSource, KnownSchemes,
    ModelledSchemes, RoomKind, ScenarioError, ScheduledKind, SizeDist, StackSpec,
};

const KNOWN: KnownSchemes<'static> = KnownSchemes {
    kd: &[
        "conventional",
        "pairwise-dh",
        "sender-keys",
        "mkd",
        "mls",
        "sakke",
    ],
    pre: &[
        "none",
        "epoch-keys",
        "client-rewrap",
        "afgh",
        "afgh-hybrid",
        "bbs98",
        "keyhom",
    ],
    sse: &["plaintext", "rekey-index", "per-epoch", "mitra"],
    kd_rejoining: &["mls"],
    modelled: ModelledSchemes::NONE,
};

const NS_PER_SEC: u64 = 1_000_000_000;

fn fixture(dir: &str, file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(dir)
        .join(file)
}

fn scenario_file(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("scenarios")
        .join(file)
}

/// Loads `tests/bad/FILE` and checks the error: key path, line, and a part of the message.
fn expect_bad(file: &str, key: Option<&str>, line: Option<usize>, needle: &str) -> ScenarioError {
    let path = fixture("bad", file);
    let err = match load(&path, &KNOWN) {
        Ok(s) => panic!("{file} should be rejected, got {s:?}"),
        Err(e) => e,
    };
    let shown = err.to_string();
    assert!(
        shown.starts_with(&path.display().to_string()),
        "{file}: message should start with the path: {shown}"
    );
    assert_eq!(err.key(), key, "{file}: key path in: {shown}");
    if let Some(key) = key {
        assert!(shown.contains(&format!(": {key}: ")), "{file}: {shown}");
    }
    assert_eq!(err.line(), line, "{file}: line in: {shown}");
    match line {
        Some(line) => assert!(shown.contains(&format!(":{line}:")), "{file}: {shown}"),
        None => assert!(
            shown.starts_with(&format!("{}: ", path.display())),
            "{file}: no line expected: {shown}"
        ),
    }
    assert!(
        shown.contains(needle),
        "{file}: expected {needle:?} in: {shown}"
    );
    err
}

macro_rules! bad {
    ($name:ident, $file:literal, $key:expr, $line:expr, $needle:literal) => {
        #[test]
        fn $name() {
            let _ = expect_bad($file, $key, $line, $needle);
        }
    };
}

bad!(
    yaml_syntax_error,
    "syntax_error.yaml",
    Some("org.rooms[0]"),
    Some(8),
    "YAML syntax error"
);
bad!(empty_file, "empty.yaml", None, None, "the file is empty");
bad!(
    retention_needs_a_rejoining_key_distribution,
    "retention_without_rejoin.yaml",
    Some("servers.key_retention"),
    Some(6),
    "stack `sender-keys+none+plaintext` uses key distribution `sender-keys`, which cannot rejoin"
);
bad!(
    retention_of_zero,
    "retention_zero.yaml",
    Some("servers.key_retention"),
    Some(6),
    "expected a duration greater than zero"
);
bad!(
    comments_only_file,
    "comments_only.yaml",
    None,
    None,
    "the file is empty"
);
bad!(
    unknown_key,
    "unknown_key.yaml",
    Some("workload.mesages"),
    Some(8),
    "allowed keys: messages, keywords, search, login, churn, history, canaries"
);
bad!(
    wrong_type,
    "wrong_type.yaml",
    Some("org.users"),
    Some(4),
    "expected an integer"
);
bad!(
    negative_rate,
    "negative_rate.yaml",
    Some("workload.search.rate"),
    Some(8),
    "must not be negative"
);
bad!(
    zero_workers,
    "zero_workers.yaml",
    Some("servers.workers"),
    Some(7),
    "expected an integer from 1 to 1024, found 0"
);
bad!(
    absurdly_many_users,
    "huge_users.yaml",
    Some("org.users"),
    Some(4),
    "too large"
);
bad!(
    room_larger_than_organisation,
    "room_too_large.yaml",
    Some("org.rooms[1].size.zipf.max"),
    Some(13),
    "larger than the organisation (100 users)"
);
bad!(
    bad_unit,
    "bad_unit.yaml",
    Some("network.clients[1].rtt"),
    Some(9),
    "unknown unit `parsecs`"
);
bad!(
    unknown_scheme_name,
    "unknown_scheme.yaml",
    Some("stacks[1].kd[1]"),
    Some(8),
    "allowed kd schemes: conventional, pairwise-dh, sender-keys, mkd, mls, sakke"
);
bad!(
    empty_stacks,
    "empty_stacks.yaml",
    Some("stacks"),
    Some(6),
    "at least one stack"
);
bad!(
    missing_required_key,
    "missing_required.yaml",
    Some("org.users"),
    Some(3),
    "missing required key `users`"
);
bad!(
    top_level_list,
    "top_level_list.yaml",
    None,
    Some(2),
    "the top level is a list"
);
bad!(
    stack_with_two_parts,
    "stack_two_parts.yaml",
    Some("stacks[0]"),
    Some(7),
    "has 2 parts"
);
bad!(
    network_shares_not_summing_to_one,
    "shares_sum.yaml",
    Some("network.clients"),
    Some(7),
    "sum to 0.9, expected 1"
);
bad!(
    reorg_department_out_of_range,
    "reorg_out_of_range.yaml",
    Some("workload.churn.events[1].reorg.to"),
    Some(12),
    "numbered 0 to 11"
);
bad!(
    flow_style_count_zero,
    "flow_count_zero.yaml",
    Some("org.rooms[2].count"),
    Some(7),
    "found 0"
);
bad!(
    per_user_rate_written_org_wide,
    "rate_not_per_user.yaml",
    Some("workload.messages.rate"),
    Some(7),
    "write N/UNIT/user"
);
bad!(
    churn_rate_written_per_user,
    "churn_per_user.yaml",
    Some("workload.churn.leave"),
    Some(9),
    "churn rates are organisation-wide"
);
bad!(
    uniform_min_greater_than_max,
    "min_greater_than_max.yaml",
    Some("org.rooms[0].size.uniform.min"),
    Some(6),
    "larger than max"
);
bad!(
    room_size_below_two,
    "room_size_one.yaml",
    Some("org.rooms[0].size"),
    Some(6),
    "at least 2 members"
);
bad!(
    name_with_bad_characters,
    "bad_name.yaml",
    Some("name"),
    Some(1),
    "may hold only letters"
);
bad!(
    more_departments_than_users,
    "departments_over_users.yaml",
    Some("org.departments"),
    Some(5),
    "more departments (11) than users (10)"
);
bad!(
    percentile_out_of_range,
    "percentile_out_of_range.yaml",
    Some("report.percentiles[2]"),
    Some(8),
    "at most 100, found 150"
);
bad!(
    unknown_plot,
    "unknown_plot.yaml",
    Some("report.plots[1]"),
    Some(8),
    "allowed plots: latency_cdf, cost_vs_room_size, reencrypt_vs_history, bytes_per_op"
);
bad!(
    corpus_not_found,
    "corpus_missing.yaml",
    Some("workload.keywords.corpus"),
    Some(7),
    "corpus file not found"
);
bad!(
    corpus_and_vocabulary_together,
    "corpus_and_vocabulary.yaml",
    Some("workload.keywords.vocabulary"),
    Some(9),
    "mutually exclusive"
);
bad!(
    duration_too_long,
    "duration_too_long.yaml",
    Some("duration"),
    Some(2),
    "at most 365d"
);
bad!(
    message_size_too_large,
    "message_too_large.yaml",
    Some("workload.messages.size.uniform.max"),
    Some(9),
    "at most 1GiB"
);
bad!(
    duplicate_key,
    "duplicate_key.yaml",
    Some("org.users"),
    Some(6),
    "duplicate key `users`"
);
bad!(
    unknown_room_kind,
    "unknown_room_kind.yaml",
    Some("org.rooms[0].kind"),
    Some(6),
    "allowed values: department, org, project"
);
bad!(
    nan_share,
    "nan_share.yaml",
    Some("network.clients[0].share"),
    Some(8),
    "finite number"
);
bad!(
    two_documents,
    "two_documents.yaml",
    None,
    Some(7),
    "exactly one YAML document"
);

#[test]
fn every_bad_fixture_is_covered_and_rejected() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) == Some("yaml") {
            n += 1;
            let err = load(&path, &KNOWN).err();
            assert!(err.is_some(), "{} should be rejected", path.display());
        }
    }
    assert!(n >= 14, "only {n} bad fixtures");
}

#[test]
fn missing_file_is_an_io_error() {
    let path = fixture("bad", "does-not-exist.yaml");
    let err = load(&path, &KNOWN).err().unwrap();
    assert!(matches!(err, ScenarioError::Io { .. }), "{err:?}");
    let shown = err.to_string();
    assert!(shown.contains("does-not-exist.yaml"), "{shown}");
    assert!(shown.contains("cannot read the scenario file"), "{shown}");
    // A directory is not a file either.
    let err = load(&fixture("bad", ""), &KNOWN).err().unwrap();
    assert!(matches!(err, ScenarioError::Io { .. }), "{err:?}");
}

#[test]
fn non_utf8_file_is_rejected_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("latin1.yaml");
    std::fs::write(&path, b"name: a\nduration: 1h\n# caf\xe9\n").unwrap();
    let err = load(&path, &KNOWN).err().unwrap();
    assert_eq!(err.line(), Some(3), "{err}");
    assert!(err.to_string().contains("UTF-8"), "{err}");
}

#[test]
fn flow_style_errors_point_at_the_right_line() {
    let text = "name: flow\nduration: 1h\norg:\n  users: 20\n  rooms:\n    - { kind: org }\n    - { kind: project, count: 0 }\nstacks: [conventional+none+plaintext]\n";
    let err = parse(text, Path::new("flow.yaml"), &KNOWN).err().unwrap();
    assert_eq!(err.key(), Some("org.rooms[1].count"), "{err}");
    assert_eq!(err.line(), Some(7), "{err}");
    assert_eq!(err.column(), Some(24), "{err}");
    assert!(
        err.to_string()
            .starts_with("flow.yaml:7:24: org.rooms[1].count: "),
        "{err}"
    );

    // The same room in block style.
    let text = "name: flow\nduration: 1h\norg:\n  users: 20\n  rooms:\n    - kind: org\n    - kind: project\n      count: 0\n      size: 4\nstacks: [conventional+none+plaintext]\n";
    let err = parse(text, Path::new("block.yaml"), &KNOWN).err().unwrap();
    assert_eq!(err.key(), Some("org.rooms[1].count"), "{err}");
    assert_eq!(err.line(), Some(8), "{err}");

    // Flow mappings spread over several lines.
    let text = "name: flow\nduration: 1h\norg: { users: 20,\n       rooms: [ { kind: org },\n                { kind: project,\n                  count: 2,\n                  size: { zipf: { max: 21, s: 1 } } } ] }\nstacks: [conventional+none+plaintext]\n";
    let err = parse(text, Path::new("multi.yaml"), &KNOWN).err().unwrap();
    assert_eq!(err.key(), Some("org.rooms[1].size.zipf.max"), "{err}");
    assert_eq!(err.line(), Some(7), "{err}");
}

#[test]
fn good_minimal_takes_the_defaults() {
    let s = load(&fixture("good", "minimal.yaml"), &KNOWN).unwrap();
    assert_eq!(s.name, "minimal");
    assert_eq!(s.seed, 0);
    assert_eq!(s.replicates, 1);
    assert_eq!(s.duration, 2 * 3600 * NS_PER_SEC);
    assert_eq!(s.org.users, 12);
    assert_eq!(s.org.departments, 1);
    assert_eq!(s.org.rooms.len(), 1);
    assert_eq!(s.org.rooms[0].kind, RoomKind::Org);
    assert_eq!(s.org.rooms[0].admins, 1);
    assert_eq!(s.org.rooms[0].history, None);
    assert_eq!(s.policy.history, HistoryPolicy::Shared);
    let w = &s.workload;
    assert!((w.messages.rate_per_user - 10.0 / 3600.0).abs() < 1e-12);
    assert_eq!(
        w.messages.size,
        ByteDist::LogNormal {
            median: 160,
            sigma: 1.0
        }
    );
    assert_eq!(
        w.keywords.source,
        KeywordSource::Synthetic {
            vocabulary: 20_000,
            zipf: 1.1
        }
    );
    assert_eq!(w.keywords.per_message, 8);
    assert!((w.search.rate_per_user - 1.0 / 3600.0).abs() < 1e-12);
    assert_eq!(w.search.fetch, 10);
    assert!((w.login.rate_per_user - 2.0 / 86_400.0).abs() < 1e-12);
    assert_eq!(w.login.recent, 20);
    assert_eq!(w.login.session, 3600 * NS_PER_SEC);
    assert!((w.login.online_at_start - 0.5).abs() < 1e-12);
    assert_eq!(w.churn.join_rate, 0.0);
    assert_eq!(w.churn.leave_rate, 0.0);
    assert_eq!(w.churn.move_rate, 0.0);
    assert!(w.churn.events.is_empty());
    assert_eq!(w.history.read, 50);
    assert!((w.canaries - 0.05).abs() < 1e-12);
    assert_eq!(s.network.clients.len(), 1);
    let c = &s.network.clients[0];
    assert_eq!(
        (c.share, c.rtt, c.jitter, c.down, c.up),
        (1.0, 40_000_000, 5_000_000, 50e6, 10e6)
    );
    assert_eq!(s.servers.workers, 4);
    assert_eq!(s.cost_model, CostModelKind::Calibrated);
    assert_eq!(s.report.percentiles, vec![50.0, 95.0, 99.0]);
    assert!(s.report.plots.is_empty());
    // SHA-256 of the file bytes, lower-case hex.
    assert_eq!(s.source_sha256.len(), 64);
    assert!(s
        .source_sha256
        .chars()
        .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)));
    assert_eq!(s.source_path, fixture("good", "minimal.yaml"));
}

#[test]
fn good_everything_reads_every_key() {
    let s = load(&fixture("good", "everything.yaml"), &KNOWN).unwrap();
    assert_eq!(s.name, "every.key_set-1");
    assert_eq!(s.seed, 7);
    assert_eq!(s.replicates, 3);
    assert_eq!(s.duration, 27_000 * NS_PER_SEC);
    assert_eq!(s.org.users, 600);
    assert_eq!(s.org.departments, 12);
    assert_eq!(s.org.rooms.len(), 4);
    assert_eq!(s.org.rooms[0].admins, 2);
    assert_eq!(s.org.rooms[1].history, Some(HistoryPolicy::FromJoin));
    assert_eq!(
        s.org.rooms[2].kind,
        RoomKind::Project {
            count: 40,
            size: SizeDist::Zipf {
                min: 2,
                max: 60,
                s: 1.1
            }
        }
    );
    assert_eq!(
        s.org.rooms[3].kind,
        RoomKind::Project {
            count: 3,
            size: SizeDist::Fixed(25)
        }
    );
    assert_eq!(s.policy.history, HistoryPolicy::FromJoin);
    let w = &s.workload;
    assert_eq!(w.messages.size, ByteDist::Uniform { min: 20, max: 2000 });
    assert_eq!(w.login.session, 90 * 60 * NS_PER_SEC);
    assert!((w.churn.move_rate - 1.0 / 86_400.0).abs() < 1e-15);
    // Events are sorted by time.
    assert_eq!(w.churn.events.len(), 2);
    assert_eq!(w.churn.events[0].at, 0);
    assert_eq!(
        w.churn.events[1].kind,
        ScheduledKind::Reorg {
            from: 3,
            to: 5,
            share: 0.3
        }
    );
    assert_eq!(w.churn.events[1].at, 6 * 3600 * NS_PER_SEC);
    let c = &s.network.clients;
    assert_eq!(c[0].jitter, 0);
    assert_eq!(c[0].down, 12.5e6);
    assert_eq!(c[1].down, 512.0 * 1024.0);
    assert_eq!(s.servers.workers, 16);
    assert_eq!(s.cost_model, CostModelKind::Measured);
    assert_eq!(s.report.percentiles, vec![50.0, 90.0, 99.9]);
    // Duplicate plot names are dropped.
    assert_eq!(
        s.report.plots,
        vec![
            "latency_cdf",
            "cost_vs_room_size",
            "reencrypt_vs_history",
            "bytes_per_op"
        ]
    );
}

fn stack(kd: &str, pre: &str, sse: &str) -> StackSpec {
    StackSpec {
        kd: kd.into(),
        pre: pre.into(),
        sse: sse.into(),
    }
}

#[test]
fn stacks_expand_to_their_product_without_duplicates() {
    let s = load(&fixture("good", "stacks_product.yaml"), &KNOWN).unwrap();
    assert_eq!(
        s.stacks,
        vec![
            stack("conventional", "none", "plaintext"),
            stack("pairwise-dh", "afgh-hybrid", "rekey-index"),
            stack("mkd", "afgh-hybrid", "rekey-index"),
            stack("mls", "afgh-hybrid", "rekey-index"),
            // kd, then pre, then sse; mkd+afgh-hybrid+rekey-index was already listed.
            stack("mkd", "afgh-hybrid", "plaintext"),
            stack("mkd", "none", "rekey-index"),
            stack("mkd", "none", "plaintext"),
            // `conventional + none + plaintext` is a duplicate of the first entry.
        ]
    );
    assert_eq!(s.stacks[1].name(), "pairwise-dh+afgh-hybrid+rekey-index");
}

#[test]
fn corpus_is_resolved_against_the_scenario_directory() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("data")).unwrap();
    std::fs::write(
        dir.path().join("data/chat.jsonl"),
        "{\"text\": \"hello\"}\n",
    )
    .unwrap();
    let path = dir.path().join("s.yaml");
    std::fs::write(
        &path,
        "name: corpus\nduration: 1h\norg: { users: 5, rooms: [{ kind: org }] }\nworkload:\n  keywords: { corpus: data/chat.jsonl }\nstacks: [conventional+none+plaintext]\n",
    )
    .unwrap();
    let s = load(&path, &KNOWN).unwrap();
    assert_eq!(
        s.workload.keywords.source,
        KeywordSource::Corpus(dir.path().join("data/chat.jsonl"))
    );
}

#[test]
fn shipped_scenarios_load() {
    let s = load(&scenario_file("ci-smoke.yaml"), &KNOWN).unwrap();
    assert_eq!(s.name, "ci-smoke");
    assert_eq!(s.duration, 3600 * NS_PER_SEC);
    assert_eq!(s.org.users, 30);
    assert_eq!(s.org.departments, 3);
    assert_eq!(s.org.rooms.len(), 2);
    assert_eq!(
        s.org.rooms[1].kind,
        RoomKind::Project {
            count: 2,
            size: SizeDist::Uniform { min: 6, max: 12 }
        }
    );
    assert!((s.workload.messages.rate_per_user - 20.0 / 3600.0).abs() < 1e-12);
    assert!((s.workload.search.rate_per_user - 4.0 / 3600.0).abs() < 1e-12);
    assert!((s.workload.login.rate_per_user - 2.0 / 3600.0).abs() < 1e-12);
    assert_eq!(s.workload.login.session, 20 * 60 * NS_PER_SEC);
    assert!((s.workload.churn.join_rate - 6.0 / 3600.0).abs() < 1e-12);
    assert!((s.workload.churn.move_rate - 2.0 / 3600.0).abs() < 1e-12);
    assert_eq!(s.workload.churn.events.len(), 1);
    assert_eq!(s.workload.churn.events[0].at, 30 * 60 * NS_PER_SEC);
    assert_eq!(s.network.clients.len(), 2);
    assert_eq!(s.servers.workers, 2);
    assert_eq!(s.stacks, vec![stack("conventional", "none", "plaintext")]);

    let s = load(&scenario_file("paper-table1.yaml"), &KNOWN).unwrap();
    assert_eq!(s.name, "paper-table1");
    assert_eq!(s.duration, 8 * 3600 * NS_PER_SEC);
    assert_eq!(s.org.users, 200);
    assert_eq!(s.org.departments, 10);
    assert_eq!(
        s.org.rooms[1].kind,
        RoomKind::Project {
            count: 10,
            size: SizeDist::Uniform { min: 5, max: 30 }
        }
    );
    assert_eq!(s.network.clients.len(), 2);
    assert_eq!(s.network.clients[0].rtt, 30_000_000);
    assert_eq!(s.network.clients[1].rtt, 120_000_000);
    assert_eq!(s.servers.workers, 8);
    assert_eq!(s.cost_model, CostModelKind::Calibrated);
    assert_eq!(s.stacks[0], stack("conventional", "none", "plaintext"));
    assert!(s.stacks.contains(&stack("mkd", "none", "plaintext")));
    assert_eq!(s.report.plots, vec!["latency_cdf", "bytes_per_op"]);
}

#[test]
fn same_text_same_result() {
    let path = scenario_file("ci-smoke.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let a = parse(&text, &path, &KNOWN).unwrap();
    let b = load(&path, &KNOWN).unwrap();
    assert_eq!(a, b);
}

/// Parses `text`, which may be anything: the only requirement is that it returns.
fn must_not_panic(text: &str) {
    let _ = parse(text, Path::new("fuzz/x.yaml"), &KNOWN);
}

#[test]
fn never_panics_on_truncated_or_mangled_input() {
    let mut texts = Vec::new();
    for f in ["ci-smoke.yaml", "paper-table1.yaml"] {
        texts.push(std::fs::read_to_string(scenario_file(f)).unwrap());
    }
    texts.push(std::fs::read_to_string(fixture("good", "everything.yaml")).unwrap());
    for text in &texts {
        // Every prefix, cut on character boundaries.
        for (i, _) in text.char_indices() {
            must_not_panic(text.get(..i).unwrap());
        }
        // Each line dropped in turn, and each line doubled.
        let lines: Vec<&str> = text.lines().collect();
        for i in 0..lines.len() {
            let mut v = lines.clone();
            v.remove(i);
            must_not_panic(&v.join("\n"));
            let mut v = lines.clone();
            v.insert(i, lines[i]);
            must_not_panic(&v.join("\n"));
        }
    }
    let deep_list = "[".repeat(10_000);
    let deep_map = "{a: ".repeat(10_000);
    let laughs = "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\ng: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\n";
    for text in [
        "",
        "\u{feff}",
        "\0",
        "---\n...\n",
        "{",
        "}",
        "[",
        ":",
        "- - - -",
        "? [a, b]\n: c\n",
        "name: x\nduration: 1h\norg: { users: 5, rooms: [{ kind: org }] }\nstacks: [conventional+none+plaintext]\n? { a: 1 }\n: 2\n",
        "*unknown",
        "a: *unknown",
        "name: !!binary aGVsbG8=",
        "name: x\nduration: 99999999999999999999999999999d\n",
        "name: x\nduration: 1e308h\n",
        "name: x\nduration: 1h\norg: { users: 1e308 }\n",
        "name: x\nduration: 1h\norg: { users: -9223372036854775808, rooms: [] }\n",
        "name: x\nduration: 1h\norg: { users: 10, rooms: [{ kind: project, count: 9223372036854775807, size: 18446744073709551615 }] }\nstacks: [a+b+c]\n",
        "name: x\nduration: 1h\norg: { users: 10, rooms: [{ kind: project, count: 1, size: { zipf: { max: 5, s: .inf } } }] }\nstacks: [a+b+c]\n",
        "name: x\nduration: 1h\norg: { users: 10, rooms: [{ kind: org }] }\nstacks: [+++, '', '+', { kd: [] }]\n",
        "name: x\nduration: 1h\norg: { users: 10, rooms: [{ kind: org }] }\nworkload: { messages: { rate: 1e400/s/user, size: 1e400GB } }\nstacks: [conventional+none+plaintext]\n",
        "name: x\nduration: 1h\norg: { users: 10, departments: 4294967296, rooms: [{ kind: department }] }\n",
        "name: x\nduration: 1h\nnetwork: { clients: [{ share: -0.0 }, { share: 1e-320 }] }\n",
        "name: \"\\u0000\"\n",
        "name: é\n",
        "name: x\n\tduration: 1h\n",
        &deep_list,
        &deep_map,
        laughs,
    ] {
        must_not_panic(text);
    }
}
bad!(
    event_with_two_kinds,
    "event_two_kinds.yaml",
    Some("workload.churn.events[0]"),
    Some(10),
    "exactly one kind"
);
bad!(
    event_leave_unknown_target,
    "event_leave_target.yaml",
    Some("workload.churn.events[0].leave"),
    Some(10),
    "expected all"
);
bad!(
    activity_not_positive,
    "activity_zero.yaml",
    Some("org.rooms[1].activity"),
    Some(8),
    "greater than 0 and at most 1000000, found 0"
);
bad!(
    preload_out_of_range,
    "preload_too_large.yaml",
    Some("org.rooms[0].preload"),
    Some(7),
    "from 0 to 1000000, found 2000000"
);

// ---------------------------------------------------------------------------------------------
// Valid but impossible input: a malformed corpus is found when the scenario is read, the other
// guards before a run starts.

bad!(
    corpus_bad_json_line,
    "corpus_bad_line.yaml",
    Some("workload.keywords.corpus"),
    Some(7),
    "corpus_bad_line.jsonl:2: not valid JSON"
);
bad!(
    corpus_line_without_text,
    "corpus_no_text.yaml",
    Some("workload.keywords.corpus"),
    Some(7),
    "corpus_no_text.jsonl:3: missing field \"text\""
);
bad!(
    corpus_without_messages,
    "corpus_empty.yaml",
    Some("workload.keywords.corpus"),
    Some(7),
    "corpus_empty.jsonl: the corpus has no message with a keyword"
);

mod guards {
    use super::*;
    use conclave_schemes::registry::Registry;
    use conclave_sim::cost::CalibrationTable;
    use conclave_sim::guard::{estimate_memory, preflight, GuardError, RunRequest, JOBS_MAX};

    const GIB: u64 = 1 << 30;

    fn request(jobs: Option<usize>, memory_limit: Option<u64>) -> RunRequest<'static> {
        RunRequest {
            jobs,
            default_jobs: 2,
            out: None,
            memory_limit,
        }
    }

    #[test]
    fn a_scenario_beyond_the_machine_is_refused_naming_the_dominant_key() {
        let s = load(&fixture("fixtures", "memory_too_large.yaml"), &KNOWN).unwrap();
        let e = estimate_memory(&s, 1);
        assert_eq!(e.dominant_key, "org.rooms[0].preload");
        assert!(e.total > 100 * 1024 * GIB, "{e:?}");
        match preflight(&s, &request(None, Some(64 * GIB))) {
            Err(err @ GuardError::Memory { .. }) => {
                let shown = err.to_string();
                assert!(
                    shown.contains("memory_too_large.yaml: org.rooms[0].preload: "),
                    "{shown}"
                );
                assert!(shown.contains("100000000000 messages"), "{shown}");
                assert!(
                    shown.contains("more than this machine's 64.0 GiB"),
                    "{shown}"
                );
            }
            other => panic!("expected a memory refusal, got {other:?}"),
        }
    }

    #[test]
    fn every_shipped_scenario_fits_in_4_gib_with_all_its_jobs_in_parallel() {
        for name in [
            "ci-smoke.yaml",
            "paper-table1.yaml",
            "churn-kd.yaml",
            "history-reencrypt.yaml",
            "search-chitchat.yaml",
            "federation.yaml",
        ] {
            let s = load(&scenario_file(name), &KNOWN).unwrap();
            let e = estimate_memory(&s, JOBS_MAX);
            eprintln!(
                "{name}: {:.1} MiB for {} job(s)",
                e.total as f64 / (1 << 20) as f64,
                e.parallel
            );
            assert!(e.total < 4 * GIB, "{name}: {e:?}");
            assert!(
                e.total > 1 << 20,
                "{name}: an estimate this small counts nothing: {e:?}"
            );
            preflight(&s, &request(None, Some(4 * GIB))).unwrap();
        }
    }

    /// A stack whose key-distribution clients hold large credentials (sakke's precomputed
    /// receiver, about 1.4 MiB a user) counts them once per user, for its own jobs only.
    #[test]
    fn the_estimate_counts_what_key_distribution_clients_hold() {
        let base = load(&scenario_file("ci-smoke.yaml"), &KNOWN).unwrap();
        let mut sakke = base.clone();
        sakke.stacks[0].kd = "sakke".to_owned();
        let users = u64::from(base.org.users);
        let (plain, heavy) = (estimate_memory(&base, 1), estimate_memory(&sakke, 1));
        assert!(
            heavy.total >= plain.total + users * (1 << 20),
            "{plain:?} {heavy:?}"
        );
        // One sakke job among three: counted once, not per job.
        let mut mixed = base.clone();
        mixed.stacks = vec![
            base.stacks[0].clone(),
            sakke.stacks[0].clone(),
            base.stacks[0].clone(),
        ];
        let all = estimate_memory(&mixed, 3).total;
        assert_eq!(all, 3 * plain.total + (heavy.total - plain.total));
        assert_eq!(estimate_memory(&mixed, 3).per_job, heavy.per_job);
        // Run as models, sakke's clients hold an ideal receiver, not the real one's tables.
        let (mut plain_model, mut sakke_model) = (base.clone(), sakke.clone());
        plain_model.cost_model = CostModelKind::Model;
        sakke_model.cost_model = CostModelKind::Model;
        let (plain_model, sakke_model) = (
            estimate_memory(&plain_model, 1),
            estimate_memory(&sakke_model, 1),
        );
        assert!(
            sakke_model.total < plain_model.total + users * 1024,
            "{plain_model:?} {sakke_model:?}"
        );
    }

    #[test]
    fn the_estimate_grows_with_what_the_engine_allocates() {
        let base = load(&scenario_file("ci-smoke.yaml"), &KNOWN).unwrap();
        let one = estimate_memory(&base, 1).total;
        let mut more_users = base.clone();
        more_users.org.users *= 2;
        let mut longer = base.clone();
        longer.duration *= 2;
        let mut preloaded = base.clone();
        preloaded.org.rooms[0].preload = 10_000;
        for (what, s) in [
            ("users", more_users),
            ("duration", longer),
            ("preload", preloaded),
        ] {
            assert!(estimate_memory(&s, 1).total > one, "{what}");
        }
        // Jobs in parallel multiply the estimate, up to the run's job count.
        let mut stacks = base.clone();
        stacks.stacks = vec![base.stacks[0].clone(); 3];
        assert_eq!(
            estimate_memory(&stacks, 2).total,
            2 * estimate_memory(&stacks, 1).total
        );
        assert_eq!(
            estimate_memory(&stacks, 8).total,
            3 * estimate_memory(&stacks, 1).total
        );
    }

    #[test]
    fn jobs_are_bounded() {
        let s = load(&scenario_file("ci-smoke.yaml"), &KNOWN).unwrap();
        for bad in [0, JOBS_MAX + 1, usize::MAX] {
            let err = preflight(&s, &request(Some(bad), None)).unwrap_err();
            assert!(matches!(err, GuardError::Jobs(j) if j == bad), "{err}");
            assert!(
                err.to_string().starts_with("--jobs: expected 1 to 256"),
                "{err}"
            );
        }
        preflight(&s, &request(Some(1), None)).unwrap();
        preflight(&s, &request(Some(JOBS_MAX), None)).unwrap();
    }

    #[test]
    fn out_must_not_be_a_file() {
        let s = load(&scenario_file("ci-smoke.yaml"), &KNOWN).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("report.txt");
        std::fs::write(&file, "keep me").unwrap();
        let mut req = request(None, None);
        req.out = Some(&file);
        let err = preflight(&s, &req).unwrap_err();
        assert!(matches!(err, GuardError::OutNotDirectory(_)), "{err}");
        assert!(
            err.to_string()
                .contains("report.txt: exists and is not a directory"),
            "{err}"
        );
        req.out = Some(dir.path());
        preflight(&s, &req).unwrap();
        let missing = dir.path().join("new");
        req.out = Some(&missing);
        preflight(&s, &req).unwrap();
    }

    #[test]
    fn an_incomplete_calibration_table_names_what_is_missing() {
        let path = fixture("fixtures", "calibration.json");
        let table = CalibrationTable::load(&path).unwrap();
        let conventional = vec![stack("conventional", "none", "plaintext")];
        table
            .check_covers(&path, &conventional, &Registry::builtin(), false)
            .unwrap();
        let secured = vec![
            stack("conventional", "none", "plaintext"),
            stack("mkd", "none", "plaintext"),
            stack("sender-keys", "none", "plaintext"),
        ];
        let shown = table
            .check_covers(&path, &secured, &Registry::builtin(), false)
            .unwrap_err()
            .to_string();
        assert!(shown.contains("calibration.json: no entry for mkd/client.change, mkd/client.handle, sender-keys/client.change"), "{shown}");
        // Sender Keys protects every message itself: its protect/unprotect are needed too.
        assert!(
            shown.contains("sender-keys/protect, sender-keys/unprotect"),
            "{shown}"
        );
        assert!(
            shown.contains("(used by mkd+none+plaintext, sender-keys+none+plaintext)"),
            "{shown}"
        );

        // A table measured for every scheme of Table 1 covers it.
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let reference = root.join("reports/reference/paper-table1/calibration.json");
        let s = load(&scenario_file("paper-table1.yaml"), &KNOWN).unwrap();
        CalibrationTable::load(&reference)
            .unwrap()
            .check_covers(&reference, &s.stacks, &Registry::builtin(), false)
            .unwrap();
    }
}
