//! Format tests of the report writers: schema of `summary.json`, Table 1's ratios and golden
//! text, determinism, security outcomes, and atomic writing.

use std::collections::BTreeSet;
use std::path::PathBuf;

use conclave_sim::metrics::{Counters, Op, OpStats, Sample, SkipReason, StackResult};
use conclave_sim::oracle::{Adversary, Property, PropertyOutcome, TrustNotes, Verdict};
use conclave_sim::report::{
    security_md, summary_json, table1_csv, table1_md, write_all, CalibrationInfo, ReportError,
    RunReport,
};
use conclave_sim::scenario::{
    ByteDist, Churn, ClientClass, CostModelKind, History, HistoryPolicy, KeywordSource, Keywords,
    Login, Messages, Network, Org, Policy, ReportOptions, RoomGroup, RoomKind, Scenario, Search,
    Servers, SizeDist, StackSpec, Workload,
};
use serde_json::Value;

const MS: u64 = 1_000_000;

fn scenario() -> Scenario {
    Scenario {
        name: "tiny-table1".to_owned(),
        seed: 42,
        replicates: 2,
        duration: 3_600 * 1_000 * MS,
        org: Org {
            users: 12,
            departments: 2,
            rooms: vec![
                RoomGroup {
                    kind: RoomKind::Department,
                    admins: 1,
                    history: None,
                    preload: 0,
                    activity: 1.0,
                    orgs: vec![0],
                },
                RoomGroup {
                    kind: RoomKind::Project {
                        count: 2,
                        size: SizeDist::Uniform { min: 2, max: 6 },
                    },
                    admins: 1,
                    history: Some(HistoryPolicy::FromJoin),
                    preload: 0,
                    activity: 1.0,
                    orgs: vec![0],
                },
            ],
            organisations: Org::single(12, 2, Vec::new()).organisations,
        },
        policy: Policy {
            history: HistoryPolicy::Shared,
            key_period: conclave_sim::scenario::limits::DEFAULT_KEY_PERIOD,
        },
        workload: Workload {
            messages: Messages {
                rate_per_user: 30.0 / 3600.0,
                size: ByteDist::Fixed(160),
            },
            keywords: Keywords {
                source: KeywordSource::Synthetic {
                    vocabulary: 1000,
                    zipf: 1.1,
                },
                per_message: 8,
            },
            search: Search {
                rate_per_user: 2.0 / 3600.0,
                fetch: 10,
            },
            login: Login {
                rate_per_user: 3.0 / 86_400.0,
                recent: 20,
                session: 1_800 * 1_000 * MS,
                online_at_start: 0.5,
            },
            churn: Churn {
                join_rate: 4.0 / 3600.0,
                leave_rate: 3.0 / 3600.0,
                move_rate: 0.0,
                events: vec![],
            },
            history: History { read: 50 },
            canaries: 0.05,
        },
        network: Network {
            clients: vec![ClientClass {
                share: 1.0,
                rtt: 30 * MS,
                jitter: 5 * MS,
                down: 50e6,
                up: 10e6,
            }],
        },
        servers: Servers {
            workers: 8,
            key_retention: None,
        },
        cost_model: CostModelKind::Calibrated,
        stacks: vec![conventional_spec(), secure_spec()],
        report: ReportOptions {
            percentiles: vec![50.0, 95.0, 99.9],
            plots: vec![],
        },
        source_sha256: "ab".repeat(32),
        source_path: PathBuf::from("scenarios/tiny-table1.yaml"),
        sweep: Vec::new(),
    }
}

fn conventional_spec() -> StackSpec {
    StackSpec {
        kd: "conventional".to_owned(),
        pre: "none".to_owned(),
        sse: "plaintext".to_owned(),
    }
}

fn secure_spec() -> StackSpec {
    StackSpec {
        kd: "mkd".to_owned(),
        pre: "afgh-hybrid".to_owned(),
        sse: "rekey-index".to_owned(),
    }
}

/// `n` identical samples of `latency_us` microseconds.
fn stats(latency_us: &[u64], bytes_up: u64, bytes_down: u64, rounds: u64) -> OpStats {
    let mut s = OpStats::default();
    for &us in latency_us {
        s.record(&Sample {
            latency_ns: us * 1000,
            bytes_up,
            bytes_down,
            rounds,
            cpu_ns: [us * 100, 2_000, 0, 3_000, 0, us * 50],
            room_size: None,
            history: None,
        });
    }
    s
}

fn outcome(claimed: bool, checks: u64, failures: u64, first: Option<&str>) -> PropertyOutcome {
    PropertyOutcome {
        claimed,
        checks,
        failures,
        first_failure: first.map(str::to_owned),
    }
}

fn conventional() -> StackResult {
    let mut r = StackResult::new(conventional_spec());
    r.ops
        .insert(Op::Login, stats(&[1000, 1000, 1000], 100, 2000, 2));
    r.ops.insert(Op::Send, stats(&[500, 700], 300, 50, 1));
    r.ops.insert(Op::Search, stats(&[1500], 60, 4000, 1));
    r.security
        .properties
        .insert(Property::MembersRead, outcome(true, 40, 0, None));
    r.security.properties.insert(
        Property::ServerBlindToMessages,
        outcome(
            false,
            10,
            10,
            Some("event 3 at 0.5s: canary 0 stored in the clear"),
        ),
    );
    r.security
        .properties
        .insert(Property::KeyServerBlind, outcome(false, 4, 0, None));
    r.security.adversary.insert(
        Adversary::ServerPlusRemovedMember,
        (
            Verdict::Exposed,
            "the server holds every message in the clear".to_owned(),
        ),
    );
    r.security.notes = TrustNotes {
        notes: vec!["the server stores plaintext by design".to_owned()],
        kms_can_derive: false,
    };
    r.counters = Counters {
        events: 100,
        messages: 20,
        preloaded: 0,
        changes: 2,
        churn_skipped: 0,
        kd_stale: 0,
        key_retention: None,
        message_store_bytes: 3200,
        search_index_bytes: 900,
    };
    r.trace_sha256 = "cd".repeat(32);
    r
}

fn secure() -> StackResult {
    let mut r = StackResult::new(secure_spec());
    r.ops
        .insert(Op::Login, stats(&[1840, 1840, 1840], 150, 2600, 3));
    // One send still in flight at the end: S2's send ratio is unpaired.
    let mut send = stats(&[250_000], 420, 60, 1);
    send.incomplete = 1;
    r.ops.insert(Op::Send, send);
    r.ops.insert(Op::Receive, stats(&[900, 1100], 0, 500, 1));
    r.ops.insert(Op::Search, OpStats::default()); // present but empty: treated as absent
                                                  // No join finished: one in flight, two waited for a key, one no longer applied.
    let mut join = OpStats {
        incomplete: 1,
        ..OpStats::default()
    };
    join.skip(SkipReason::NoKeyByEnd);
    join.skip(SkipReason::NoKeyByEnd);
    join.skip(SkipReason::ChangeNoLongerApplies);
    r.ops.insert(Op::Join, join);
    r.ops.insert(Op::Reencrypt, stats(&[2000], 0, 0, 0));
    r.security
        .properties
        .insert(Property::MembersRead, outcome(true, 40, 0, None));
    r.security.properties.insert(
        Property::RemovedExcluded,
        outcome(
            true,
            6,
            1,
            Some("event 17 at 3.2s: removed user 4 decrypted message 9 of room 1"),
        ),
    );
    r.security
        .properties
        .insert(Property::JoinerHistoryPolicy, outcome(true, 0, 0, None));
    r.security
        .properties
        .insert(Property::ServerBlindToMessages, outcome(true, 10, 0, None));
    r.security.adversary.insert(
        Adversary::ServerPlusRemovedMember,
        (
            Verdict::Safe,
            "re-keys are unidirectional | collusion learns nothing".to_owned(),
        ),
    );
    r.counters = Counters {
        events: 120,
        messages: 20,
        preloaded: 0,
        changes: 2,
        churn_skipped: 1,
        kd_stale: 0,
        key_retention: None,
        message_store_bytes: 5200,
        search_index_bytes: 1900,
    };
    r.trace_sha256 = "cd".repeat(32);
    r
}

fn report(scenario: &Scenario) -> RunReport<'_> {
    RunReport {
        scenario,
        seeds: vec![42, 43],
        cost_model: CostModelKind::Calibrated,
        calibration: CalibrationInfo {
            source: "reports/calibration.json".to_owned(),
            sha256: Some("ef".repeat(32)),
        },
        stacks: vec![conventional(), secure()],
        wall_seconds: 1.25,
    }
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn summary_json_has_the_schema() {
    let s = scenario();
    let text = summary_json(&report(&s));
    let v: Value = serde_json::from_str(&text).expect("summary.json parses");
    assert_eq!(
        keys(&v),
        set(&["scenario", "seed", "seeds", "cost_model", "stacks"])
    );
    assert_eq!(v["scenario"], "tiny-table1");
    assert_eq!(v["seed"], 42);
    assert_eq!(v["seeds"], serde_json::json!([42, 43]));
    assert_eq!(v["cost_model"], "calibrated");
    let stacks = v["stacks"].as_array().expect("stacks is an array");
    assert_eq!(stacks.len(), 2);
    for st in stacks {
        assert_eq!(
            keys(st),
            set(&[
                "name",
                "kd",
                "pre",
                "sse",
                "ops",
                "oracle",
                "adversary",
                "kms_can_derive",
                "search_leakage",
                "counters",
                "trace_sha256",
                "by_room_size",
                "reencrypt_by_history"
            ])
        );
        assert_eq!(st["kms_can_derive"], false);
        assert_eq!(
            keys(&st["search_leakage"]),
            set(&[
                "searches",
                "queries",
                "keywords",
                "distinct_queries",
                "max_queries_per_keyword",
                "linkable_searches",
                "ambiguous_searches",
                "results"
            ])
        );
        assert_eq!(
            keys(&st["oracle"]),
            set(&["checks", "violations", "properties"])
        );
        assert_eq!(
            keys(&st["adversary"]),
            set(&[
                "server_plus_removed_member",
                "storage_breach_old_key",
                "forged_record",
                "kd_substitution",
                "hostile_rekey",
                "splice",
                "rollback",
                "kms_plus_servers",
                "untrusted_kms",
                "removed_member_overhears"
            ])
        );
        assert_eq!(
            keys(&st["counters"]),
            set(&[
                "events",
                "messages",
                "preloaded",
                "changes",
                "churn_skipped",
                "kd_stale",
                "message_store_bytes",
                "search_index_bytes"
            ])
        );
        for op in st["ops"].as_object().expect("ops is an object").values() {
            assert_eq!(
                keys(op),
                set(&[
                    "count",
                    "p50_ms",
                    "p95_ms",
                    "p99_ms",
                    "mean_ms",
                    "bytes_up",
                    "bytes_down",
                    "rounds",
                    "cpu_ms",
                    "incomplete",
                    "skipped",
                    "skipped_reasons",
                    "p50_per_seed_ms",
                    "p50_ci95_ms"
                ])
            );
            assert_eq!(
                keys(&op["cpu_ms"]),
                set(&[
                    "client",
                    "key_server",
                    "kms",
                    "message_server",
                    "search_server",
                    "initiator"
                ])
            );
        }
    }
    let conv = &stacks[0];
    assert_eq!(conv["name"], "conventional+none+plaintext");
    assert_eq!(keys(&conv["ops"]), set(&["login", "send", "search"]));
    assert_eq!(conv["ops"]["login"]["count"], 3);
    assert_eq!(conv["ops"]["login"]["p50_ms"], 1.0);
    assert_eq!(conv["ops"]["login"]["bytes_down"], 2000);
    assert_eq!(conv["ops"]["login"]["cpu_ms"]["client"], 0.1);
    assert_eq!(conv["ops"]["login"]["cpu_ms"]["key_server"], 0.002);
    assert_eq!(conv["oracle"]["checks"], 40);
    assert_eq!(conv["oracle"]["violations"], 0);
    assert_eq!(
        conv["oracle"]["properties"]["server_blind_to_messages"]["claimed"],
        false
    );
    assert_eq!(
        conv["oracle"]["properties"]["server_blind_to_messages"]["failures"],
        10
    );
    let collusion = &conv["adversary"]["server_plus_removed_member"];
    assert_eq!(keys(collusion), set(&["verdict", "why"]));
    assert_eq!(collusion["verdict"], "exposed");
    assert_eq!(
        collusion["why"],
        "the server holds every message in the clear"
    );
    // An experiment the run never tried says why it may not have.
    let breach = &conv["adversary"]["storage_breach_old_key"];
    assert_eq!(breach["verdict"], "not_run");
    assert_eq!(breach["why"], Adversary::StorageBreachOldKey.untried());

    let sec = &stacks[1];
    assert_eq!(
        (sec["kd"].as_str(), sec["pre"].as_str(), sec["sse"].as_str()),
        (Some("mkd"), Some("afgh-hybrid"), Some("rekey-index"))
    );
    // The empty search stats are left out; the others follow `Op::ALL` order in the text.
    assert_eq!(
        keys(&sec["ops"]),
        set(&["login", "send", "receive", "join", "reencrypt"])
    );
    // Censored actions: an op with no sample but censored actions is listed.
    assert_eq!(sec["ops"]["send"]["incomplete"], 1);
    assert_eq!(sec["ops"]["send"]["skipped"], 0);
    assert_eq!(sec["ops"]["send"]["skipped_reasons"], serde_json::json!({}));
    assert_eq!(sec["ops"]["join"]["count"], 0);
    assert_eq!(sec["ops"]["join"]["p50_ms"], 0.0);
    assert_eq!(sec["ops"]["join"]["incomplete"], 1);
    assert_eq!(sec["ops"]["join"]["skipped"], 3);
    assert_eq!(
        sec["ops"]["join"]["skipped_reasons"],
        serde_json::json!({"no_key_by_end": 2, "change_no_longer_applies": 1})
    );
    assert!(
        text.find("\"no_key_by_end\"") < text.find("\"change_no_longer_applies\""),
        "reasons in `SkipReason::ALL` order"
    );
    assert_eq!(conv["ops"]["send"]["incomplete"], 0);
    assert_eq!(sec["oracle"]["checks"], 56);
    assert_eq!(sec["oracle"]["violations"], 1);
    assert_eq!(sec["counters"]["churn_skipped"], 1);
    assert_eq!(sec["trace_sha256"], "cd".repeat(32));

    // Key order is fixed (`Op::ALL`, `Property::ALL`, struct order), not alphabetical.
    let pos = |needle: &str| {
        text.find(needle)
            .unwrap_or_else(|| panic!("{needle} missing"))
    };
    assert!(pos("\"scenario\"") < pos("\"seed\"") && pos("\"seed\"") < pos("\"cost_model\""));
    assert!(pos("\"cost_model\"") < pos("\"stacks\""));
    assert!(pos("\"login\"") < pos("\"send\"") && pos("\"send\"") < pos("\"search\""));
    assert!(pos("\"members_read\"") < pos("\"server_blind_to_messages\""));
    assert!(
        text.starts_with("{\n  \"scenario\""),
        "2-space pretty printing"
    );
    assert!(text.ends_with("}\n"));
}

#[test]
fn ratio_to_conventional_is_right() {
    let s = scenario();
    let r = report(&s);
    let md = table1_md(&r);
    // login p50: 1.840 ms / 1.000 ms, in the overview and in the login table.
    let s2 = md
        .lines()
        .find(|l| l.starts_with("| S2 `mkd+afgh-hybrid+rekey-index` | 1.84 ms‡ (1.84×) |"))
        .expect("S2's overview row");
    // receive has no conventional sample: no ratio.
    assert!(s2.contains("| 900 µs‡ (–) |"), "{s2}");
    let login = md.split("### login").nth(1).expect("login table");
    assert!(
        login.contains(
            "| S2 `mkd+afgh-hybrid+rekey-index` | 1.84 ms | 1.84 ms | 1.84 ms | 1.84× | 3‡ |"
        ),
        "{login}"
    );

    let csv = table1_csv(&r);
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("stack,op,count,p50_ms,p95_ms,p99_ms,mean_ms,bytes_up,bytes_down,rounds,ratio_p50_vs_conventional,incomplete,skipped,skipped_reasons,ratio_paired")
    );
    assert!(
        csv.contains(
            "\nmkd+afgh-hybrid+rekey-index,login,3,1.840,1.840,1.840,1.840,150,2600,3,1.8400,0,0,,true\n"
        ),
        "{csv}"
    );
    assert!(
        csv.contains(
            "\nconventional+none+plaintext,login,3,1.000,1.000,1.000,1.000,100,2000,2,1.0000,0,0,,true\n"
        ),
        "{csv}"
    );
    // S2 completed 1 send of 2 (one incomplete): the ratio is unpaired.
    assert!(
        csv.contains("\nmkd+afgh-hybrid+rekey-index,send,1,250.111,250.111,250.111,250.048,420,60,1,500.2220,1,0,,false\n"),
        "{csv}"
    );
    // No join finished: no latencies, no ratio, the censored counts and reasons.
    assert!(
        csv.contains("\nmkd+afgh-hybrid+rekey-index,join,0,,,,,,,,,1,3,no_key_by_end=2;change_no_longer_applies=1,\n"),
        "{csv}"
    );
    assert!(s2.contains("| 250 ms‡ (500.22×†) |"), "{s2}");
    assert!(md.contains("`†` marks an unpaired ratio"), "{md}");
    assert!(
        csv.contains("\nmkd+afgh-hybrid+rekey-index,receive,2,"),
        "{csv}"
    );
    assert!(
        csv.lines()
            .any(|l| l.starts_with("mkd+afgh-hybrid+rekey-index,receive,")
                && l.ends_with(",1,,0,0,,")),
        "{csv}"
    );
    assert!(
        !csv.contains(",search,0,"),
        "empty stats are left out: {csv}"
    );
    assert_eq!(csv.lines().count(), 1 + 3 + 5);
}

#[test]
fn no_conventional_stack_means_no_ratio_columns() {
    let s = scenario();
    let mut r = report(&s);
    r.stacks.remove(0);
    let md = table1_md(&r);
    assert!(!md.contains("×conv |"), "{md}");
    assert!(md.contains("is not in this run"), "{md}");
    let csv = table1_csv(&r);
    assert!(csv.lines().skip(1).all(|l| l.ends_with(',')), "{csv}");
}

#[test]
fn output_is_deterministic() {
    let s = scenario();
    let (a, b) = (report(&s), report(&s));
    assert_eq!(summary_json(&a), summary_json(&b));
    assert_eq!(table1_md(&a), table1_md(&b));
    assert_eq!(table1_csv(&a), table1_csv(&b));
    assert_eq!(security_md(&a), security_md(&b));
}

#[test]
fn security_md_shows_outcomes() {
    let s = scenario();
    let md = security_md(&report(&s));
    assert!(md.starts_with("# Security: tiny-table1\n\n"));
    let conv_at = md
        .find("## conventional+none+plaintext")
        .expect("conventional section");
    let sec_at = md
        .find("## mkd+afgh-hybrid+rekey-index")
        .expect("secure section");
    assert!(conv_at < sec_at);
    let (conv, sec) = (&md[conv_at..sec_at], &md[sec_at..]);

    let row = |section: &str, p: Property| -> String {
        section
            .lines()
            .find(|l| l.starts_with(&format!("| {} |", p.describe())))
            .unwrap_or_else(|| panic!("no row for {p:?}"))
            .to_owned()
    };
    assert!(row(conv, Property::MembersRead).ends_with("| yes | 40 | 0 | holds |"));
    assert!(row(conv, Property::ServerBlindToMessages)
        .ends_with("| no | 10 | 10 | exposed by design |"));
    assert!(row(conv, Property::KeyServerBlind).ends_with("| no | 4 | 0 | holds (not claimed) |"));
    assert!(row(sec, Property::RemovedExcluded).ends_with("| yes | 6 | 1 | VIOLATED |"));
    assert!(row(sec, Property::JoinerHistoryPolicy).ends_with("| yes | 0 | 0 | not checked |"));
    assert!(
        !sec.contains(Property::KeyServerBlind.describe()),
        "absent properties are not listed"
    );
    assert!(sec.contains("removed user 4 decrypted message 9 of room 1"));
    assert!(conv.contains("canary 0 stored in the clear"));
    assert!(conv.contains("- the server stores plaintext by design"));
    assert!(conv.contains("| exposed | the server holds every message in the clear |"));
    assert!(
        sec.contains("| safe | re-keys are unidirectional \\| collusion learns nothing |"),
        "pipes escaped"
    );
    assert!(sec.contains(&format!(
        "| {} | not run |",
        Adversary::StorageBreachOldKey.describe()
    )));
    assert!(md.contains("ground-truth model"));
    assert!(conv.contains("Oracle: 40 checks of claimed properties, 0 violations."));
    assert!(sec.contains("Oracle: 56 checks of claimed properties, 1 violation."));
}

#[test]
fn write_all_writes_six_files_and_no_temporaries() {
    let s = scenario();
    let r = report(&s);
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("out").join("nested");
    let written = write_all(&r, &dir).expect("write_all");
    let names: Vec<String> = written
        .iter()
        .map(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    assert_eq!(
        names,
        [
            "summary.json",
            "table1.md",
            "table1.csv",
            "security.md",
            "manifest.json",
            "latency.hlog"
        ]
    );
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .expect("read_dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    on_disk.sort();
    assert_eq!(
        on_disk,
        [
            "latency.hlog",
            "manifest.json",
            "security.md",
            "summary.json",
            "table1.csv",
            "table1.md"
        ]
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("summary.json")).expect("read"),
        summary_json(&r)
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("table1.md")).expect("read"),
        table1_md(&r)
    );

    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).expect("read"))
            .expect("parses");
    for k in [
        "conclave_version",
        "scenario",
        "scenario_path",
        "scenario_sha256",
        "seeds",
        "cost_model",
        "calibration",
        "stacks",
        "git_revision",
        "git_dirty",
        "rustc",
        "cpu_model",
        "cpus",
        "os",
        "wall_seconds",
        "created_unix",
    ] {
        assert!(manifest.get(k).is_some(), "manifest lacks {k}");
    }
    assert_eq!(manifest["scenario_path"], "scenarios/tiny-table1.yaml");
    assert_eq!(manifest["calibration"]["sha256"], "ef".repeat(32));
    assert_eq!(
        manifest["stacks"],
        serde_json::json!(["conventional+none+plaintext", "mkd+afgh-hybrid+rekey-index"])
    );
    assert!(manifest["rustc"].as_str().is_some_and(|v| !v.is_empty()));

    // Writing again replaces the files in place.
    write_all(&r, &dir).expect("second write_all");
    assert_eq!(std::fs::read_dir(&dir).expect("read_dir").count(), 6);
}

/// `latency.hlog` reads back with HdrHistogram's own log reader: one histogram per stack and op
/// with samples, tagged `STACK:OP`, equal to the report's.
#[test]
fn latency_log_reads_back() {
    use base64::Engine as _;
    use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
    use hdrhistogram::serialization::Deserializer;
    let s = scenario();
    let r = report(&s);
    let tmp = tempfile::tempdir().expect("tempdir");
    write_all(&r, tmp.path()).expect("write_all");
    let text = std::fs::read_to_string(tmp.path().join("latency.hlog")).expect("latency.hlog");
    let mut read = Vec::new();
    for entry in IntervalLogIterator::new(text.as_bytes()) {
        if let Ok(LogEntry::Interval(h)) = entry {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(h.encoded_histogram())
                .expect("base64");
            let hist: hdrhistogram::Histogram<u64> = Deserializer::new()
                .deserialize(&mut bytes.as_slice())
                .expect("a V2 histogram");
            read.push((h.tag().map(|t| t.as_str().to_owned()), hist));
        }
    }
    let expected: Vec<(String, u64)> = r
        .stacks
        .iter()
        .flat_map(|st| {
            st.ops.iter().filter(|(_, o)| o.count > 0).map(|(op, o)| {
                (
                    format!("{}:{}", st.stack.name(), op.name()),
                    o.latency_us.len(),
                )
            })
        })
        .collect();
    assert_eq!(read.len(), expected.len());
    for ((tag, hist), (want_tag, want_len)) in read.iter().zip(&expected) {
        assert_eq!(tag.as_deref(), Some(want_tag.as_str()));
        assert_eq!(hist.len(), *want_len, "{want_tag}");
    }
}

#[test]
fn unwritable_directory_is_an_error_naming_the_path() {
    let s = scenario();
    let tmp = tempfile::tempdir().expect("tempdir");
    let file = tmp.path().join("plain-file");
    std::fs::write(&file, b"not a directory").expect("write");
    let dir = file.join("reports");
    let err = write_all(&report(&s), &dir).expect_err("cannot create a directory under a file");
    let ReportError::Io { path, .. } = &err else {
        panic!("not an I/O error: {err}");
    };
    assert!(path.starts_with(&file), "{}", path.display());
    assert!(
        err.to_string().contains(&dir.display().to_string()),
        "{err}"
    );
}

#[test]
fn table1_md_golden() {
    let s = scenario();
    // S2 send: 250 ms is recorded in a 128 us bucket, whose highest equivalent value is
    // 250.111 ms; 250.111 / 0.500 = 500.22.
    let expected = "\
# Table 1: tiny-table1

Seeds: 42, 43. Cost model: calibrated. Latencies are simulated time.

Stacks: S1 = `conventional+none+plaintext`, S2 = `mkd+afgh-hybrid+rekey-index`.

## p50 of each operation

| stack | login | send | receive | search | join | reencrypt |
|:---|---:|---:|---:|---:|---:|---:|
| S1 `conventional+none+plaintext` | 1 ms‡ | 500 µs‡ | – | 1.5 ms‡ | – | – |
| S2 `mkd+afgh-hybrid+rekey-index` | 1.84 ms‡ (1.84×) | 250 ms‡ (500.22×†) | 900 µs‡ (–) | – | – | 2 ms‡ (–) |

### login

| stack | p50 | p95 | p99.9 | ×conv | samples | p50 per seed | 95 % CI of p50 |
|:---|---:|---:|---:|---:|---:|:---|:---|
| S1 `conventional+none+plaintext` | 1 ms | 1 ms | 1 ms | – | 3‡ | – | – |
| S2 `mkd+afgh-hybrid+rekey-index` | 1.84 ms | 1.84 ms | 1.84 ms | 1.84× | 3‡ | – | – |

### send

| stack | p50 | p95 | p99.9 | ×conv | samples | incomplete | skipped | p50 per seed | 95 % CI of p50 |
|:---|---:|---:|---:|---:|---:|---:|:---|:---|:---|
| S1 `conventional+none+plaintext` | 500 µs | 700 µs | 700 µs | – | 2‡ | 0 | 0 | – | – |
| S2 `mkd+afgh-hybrid+rekey-index` | 250 ms | 250 ms | 250 ms | 500.22×† | 1‡ | 1 | 0 | – | – |

### receive

| stack | p50 | p95 | p99.9 | ×conv | samples | p50 per seed | 95 % CI of p50 |
|:---|---:|---:|---:|---:|---:|:---|:---|
| S1 `conventional+none+plaintext` | – | – | – | – | 0 | – | – |
| S2 `mkd+afgh-hybrid+rekey-index` | 900 µs | 1.1 ms | 1.1 ms | – | 2‡ | – | – |

### search

| stack | p50 | p95 | p99.9 | ×conv | samples | p50 per seed | 95 % CI of p50 |
|:---|---:|---:|---:|---:|---:|:---|:---|
| S1 `conventional+none+plaintext` | 1.5 ms | 1.5 ms | 1.5 ms | – | 1‡ | – | – |
| S2 `mkd+afgh-hybrid+rekey-index` | – | – | – | – | 0 | – | – |

### join

| stack | p50 | p95 | p99.9 | ×conv | samples | incomplete | skipped | p50 per seed | 95 % CI of p50 |
|:---|---:|---:|---:|---:|---:|---:|:---|:---|:---|
| S1 `conventional+none+plaintext` | – | – | – | – | 0 | 0 | 0 | – | – |
| S2 `mkd+afgh-hybrid+rekey-index` | – | – | – | – | 0 | 1 | 3 (no_key_by_end 2, change_no_longer_applies 1) | – | – |

### reencrypt

| stack | p50 | p95 | p99.9 | ×conv | samples | p50 per seed | 95 % CI of p50 |
|:---|---:|---:|---:|---:|---:|:---|:---|
| S1 `conventional+none+plaintext` | – | – | – | – | 0 | – | – |
| S2 `mkd+afgh-hybrid+rekey-index` | 2 ms | 2 ms | 2 ms | – | 1‡ | – | – |

## Samples and traffic

Samples over all seeds; bytes and round trips are means per sample.

| op | stack | samples | incomplete | skipped | bytes up | bytes down | rounds |
|:---|:---|---:|---:|:---|---:|---:|---:|
| login | S1 | 3 | 0 | 0 | 100 | 2000 | 2 |
| login | S2 | 3 | 0 | 0 | 150 | 2600 | 3 |
| send | S1 | 2 | 0 | 0 | 300 | 50 | 1 |
| send | S2 | 1 | 1 | 0 | 420 | 60 | 1 |
| receive | S1 | 0 | 0 | 0 | – | – | – |
| receive | S2 | 2 | 0 | 0 | 0 | 500 | 1 |
| search | S1 | 1 | 0 | 0 | 60 | 4000 | 1 |
| search | S2 | 0 | 0 | 0 | – | – | – |
| join | S1 | 0 | 0 | 0 | – | – | – |
| join | S2 | 0 | 1 | 3 (no_key_by_end 2, change_no_longer_applies 1) | – | – | – |
| reencrypt | S1 | 0 | 0 | 0 | – | – | – |
| reencrypt | S2 | 1 | 0 | 0 | 0 | 0 | 0 |

## How to read this table

Each row is an operation:

- **login**: from the user opening the app until the key state of all its rooms is restored and the last 20 messages of each room are decrypted (`login.recent`).
- **send**: from the user pressing send until the server has stored and acknowledged the message (encryption, key header and index tokens included).
- **receive**: from the sender pressing send until an online recipient has the plaintext (one sample per recipient).
- **search**: from the user submitting a keyword until it has decrypted the top 10 matching messages (`search.fetch`).
- **join**: from an admin adding a member until all online members, the new one included, hold the new epoch secret.
- **reencrypt**: from an epoch change being committed until the stored history (key headers and search index) is protected under the new epoch.

Latencies are end to end and include compute (charged from the calibration table measured on this machine), network (per-link latency, jitter and bandwidth of the user's client class) and queueing at the server workers. A column `pN` is the N-th percentile over all samples of all seeds (microsecond resolution, 3 significant digits), shown with the unit that suits it (µs, ms, s, min, h); `–` means the stack had no sample of that op, and `‡` marks a value over fewer than 30 samples. With several seeds, each op's table lists every seed's p50 and the 95 % confidence interval of the p50 across seeds (Student's t).

`×conv` is the stack's p50 divided by the conventional stack's p50 for the same op: `2.00×` means it takes twice as long as in a chat protected by TLS only; `–` means either value is missing or zero.

`†` marks an unpaired ratio: the two stacks have different sample counts for the op (every stack replays the same trace, so one of them left ops incomplete or skipped actions, or its schemes do work the other's do not), and the percentiles compare different sets of samples.

Censored operations are not in the latencies: `incomplete` counts ops started but unfinished when the run ended (their latency would exceed what the run observed), `skipped` counts workload actions the stack dropped, per reason:

- `no_key_by_end`: the user still held no key for the room when the run ended.
- `change_no_longer_applies`: the join or leave no longer applied when its turn came (the subject already was, or no longer was, a member, or the admin had left).
";
    assert_eq!(table1_md(&report(&s)), expected);
}
