//! `table1.md` and `table1.csv`: the paper-style table, one row per op, one column group per
//! stack, latency percentiles in ms and the ratio to the conventional stack.

use std::fmt::Write as _;

use super::{
    conventional_index, cost_model_name, measured_ops, op_stats, percentile_label, ratio,
    RunReport, CONVENTIONAL_STACK,
};
use crate::metrics::Op;
use crate::scenario::{CostModelKind, Scenario};

/// Shown for a value that does not exist (no samples, or a ratio against zero).
const MISSING: &str = "–";

/// Percentiles shown when the scenario lists none.
const DEFAULT_PERCENTILES: [f64; 3] = [50.0, 95.0, 99.0];

/// A latency for the markdown table: 2 decimals below 100 ms, 1 decimal from 100 ms on.
fn fmt_ms(ms: f64) -> String {
    // Decide on the value as it would print with 2 decimals, so 99.996 prints as `100.0`.
    if (ms * 100.0).round() < 10_000.0 {
        format!("{ms:.2}")
    } else {
        format!("{ms:.1}")
    }
}

fn seeds_text(seeds: &[u64]) -> String {
    let list = seeds
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    match seeds.len() {
        0 => "Seeds: none".to_owned(),
        1 => format!("Seed: {list}"),
        _ => format!("Seeds: {list}"),
    }
}

/// The percentiles of the table (the scenario's, or p50/p95/p99 if it lists none).
fn percentiles(s: &Scenario) -> Vec<f64> {
    if s.report.percentiles.is_empty() {
        DEFAULT_PERCENTILES.to_vec()
    } else {
        s.report.percentiles.clone()
    }
}

/// What an op measures, as a sentence fragment, with the scenario's parameters.
fn op_definition(op: Op, s: &Scenario) -> String {
    let w = &s.workload;
    match op {
        Op::Login => format!(
            "from the user opening the app until the key state of all its rooms is restored and the last {} \
             messages of each room are decrypted (`login.recent`)",
            w.login.recent
        ),
        Op::Send => "from the user pressing send until the server has stored and acknowledged the message \
                     (encryption, key header and index tokens included)"
            .to_owned(),
        Op::Receive => {
            "from the sender pressing send until an online recipient has the plaintext (one sample per recipient)"
                .to_owned()
        }
        Op::Search => format!(
            "from the user submitting a keyword until it has decrypted the top {} matching messages (`search.fetch`)",
            w.search.fetch
        ),
        Op::Join => "from an admin adding a member until all online members, the new one included, hold the new \
                     epoch secret"
            .to_owned(),
        Op::Leave => {
            "from an admin removing a member until all remaining online members hold the new epoch secret".to_owned()
        }
        Op::Reencrypt => "from an epoch change being committed until the stored history (key headers and search \
                          index) is protected under the new epoch"
            .to_owned(),
        Op::History => format!(
            "from a new member opening the room until it has decrypted the last {} messages from before its join \
             (`history.read`)",
            w.history.read
        ),
    }
}

fn cost_model_sentence(k: CostModelKind) -> &'static str {
    match k {
        CostModelKind::Calibrated => "charged from the calibration table measured on this machine",
        CostModelKind::Measured => "charged at its measured wall time",
    }
}

/// `table1.md`: the paper-style table (see the module docs), followed by a "Samples and traffic"
/// table and a "How to read this table" section. Deterministic.
///
/// Latency columns are the scenario's `report.percentiles` per stack; every stack other than
/// the conventional one also gets a `×conv` column: its first listed percentile divided by the
/// conventional stack's, for the same op. Without the conventional stack in the run, ratio
/// columns are left out and a note says so.
#[must_use]
pub fn table1_md(r: &RunReport) -> String {
    let s = r.scenario;
    let pcts = percentiles(s);
    let ratio_p = pcts[0];
    let conv = conventional_index(&r.stacks);
    let ops = measured_ops(&r.stacks);
    let mut out = String::new();

    let _ = writeln!(out, "# Table 1: {}", s.name);
    out.push('\n');
    let _ = writeln!(
        out,
        "{}. Cost model: {}. Latencies are milliseconds of simulated time.",
        seeds_text(&r.seeds),
        cost_model_name(r.cost_model)
    );
    out.push('\n');
    if r.stacks.is_empty() {
        out.push_str("No stack was run.\n");
        return out;
    }
    let legend = r
        .stacks
        .iter()
        .enumerate()
        .map(|(i, st)| format!("S{} = `{}`", i + 1, st.stack.name()))
        .collect::<Vec<_>>()
        .join(", ");
    let _ = writeln!(out, "Stacks: {legend}.");
    out.push('\n');
    if conv.is_none() {
        let _ = writeln!(
            out,
            "Note: the conventional stack (`{CONVENTIONAL_STACK}`) is not in this run, so there are no ratio columns."
        );
        out.push('\n');
    }
    if ops.is_empty() {
        out.push_str("No operation was measured.\n");
        return out;
    }

    latency_table(&mut out, r, &pcts, conv, &ops);
    traffic_table(&mut out, r, &ops);
    how_to_read(&mut out, r, &ops, conv.is_some(), ratio_p);
    out
}

/// The main table: one row per op, per stack one column per percentile plus the ratio column.
fn latency_table(out: &mut String, r: &RunReport, pcts: &[f64], conv: Option<usize>, ops: &[Op]) {
    let ratio_p = pcts[0];
    let mut header = String::from("| op |");
    let mut rule = String::from("|:---|");
    for (i, _) in r.stacks.iter().enumerate() {
        for &p in pcts {
            let _ = write!(header, " S{} p{} |", i + 1, percentile_label(p));
            rule.push_str("---:|");
        }
        if conv.is_some_and(|c| c != i) {
            let _ = write!(header, " S{} ×conv |", i + 1);
            rule.push_str("---:|");
        }
    }
    let _ = writeln!(out, "{header}");
    let _ = writeln!(out, "{rule}");
    for &op in ops {
        let mut row = format!("| {} |", op.name());
        for (i, st) in r.stacks.iter().enumerate() {
            let stats = op_stats(st, op);
            for &p in pcts {
                let cell = stats.map_or_else(|| MISSING.to_owned(), |x| fmt_ms(x.percentile_ms(p)));
                let _ = write!(row, " {cell} |");
            }
            if let Some(c) = conv.filter(|&c| c != i) {
                let cell = ratio(st, &r.stacks[c], op, ratio_p)
                    .map_or_else(|| MISSING.to_owned(), |x| format!("{x:.2}×"));
                let _ = write!(row, " {cell} |");
            }
        }
        let _ = writeln!(out, "{row}");
    }
}

/// Sample counts and per-sample traffic, one row per (op, stack).
fn traffic_table(out: &mut String, r: &RunReport, ops: &[Op]) {
    out.push('\n');
    out.push_str("## Samples and traffic\n\n");
    out.push_str("Samples over all seeds; bytes and round trips are means per sample.\n\n");
    out.push_str("| op | stack | samples | bytes up | bytes down | rounds |\n");
    out.push_str("|:---|:---|---:|---:|---:|---:|\n");
    for &op in ops {
        for (i, st) in r.stacks.iter().enumerate() {
            match op_stats(st, op) {
                Some(x) => {
                    let _ = writeln!(
                        out,
                        "| {} | S{} | {} | {} | {} | {} |",
                        op.name(),
                        i + 1,
                        x.count,
                        x.mean_bytes_up(),
                        x.mean_bytes_down(),
                        x.mean_rounds()
                    );
                }
                None => {
                    let _ = writeln!(
                        out,
                        "| {} | S{} | 0 | {MISSING} | {MISSING} | {MISSING} |",
                        op.name(),
                        i + 1
                    );
                }
            }
        }
    }
}

/// What the rows mean and how latencies and ratios are computed.
fn how_to_read(out: &mut String, r: &RunReport, ops: &[Op], has_conventional: bool, ratio_p: f64) {
    let ratio_label = percentile_label(ratio_p);
    out.push('\n');
    out.push_str("## How to read this table\n\n");
    out.push_str("Each row is an operation:\n\n");
    for &op in ops {
        let _ = writeln!(
            out,
            "- **{}**: {}.",
            op.name(),
            op_definition(op, r.scenario)
        );
    }
    out.push('\n');
    let _ = writeln!(
        out,
        "Latencies are end to end and include compute ({}), network (per-link latency, jitter and bandwidth \
         of the user's client class) and queueing at the server workers. A column `pN` is the N-th \
         percentile over all samples of all seeds (microsecond resolution, 3 significant digits); `{MISSING}` \
         means the stack had no sample of that op.",
        cost_model_sentence(r.cost_model)
    );
    if has_conventional {
        out.push('\n');
        let _ = writeln!(
            out,
            "`×conv` is the stack's p{ratio_label} divided by the conventional stack's p{ratio_label} for the \
             same op: `2.00×` means it takes twice as long as in a chat protected by TLS only; `{MISSING}` means \
             either value is missing or zero."
        );
    }
}

/// Quotes a CSV field if it contains a comma, a quote or a line break.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// `table1.csv`: one line per (stack, op with samples), stacks in run order, ops in
/// [`Op::ALL`] order. Latencies in ms with 3 decimals, bytes and rounds as per-sample means, the
/// ratio of p50 to the conventional stack's p50 with 4 decimals (empty when unavailable).
/// Deterministic.
#[must_use]
pub fn table1_csv(r: &RunReport) -> String {
    let conv = conventional_index(&r.stacks);
    let mut out = String::from(
        "stack,op,count,p50_ms,p95_ms,p99_ms,mean_ms,bytes_up,bytes_down,rounds,ratio_p50_vs_conventional\n",
    );
    for st in &r.stacks {
        let name = csv_field(&st.stack.name());
        for op in Op::ALL {
            let Some(x) = op_stats(st, op) else { continue };
            let ratio = conv
                .and_then(|c| ratio(st, &r.stacks[c], op, 50.0))
                .map_or_else(String::new, |v| format!("{v:.4}"));
            let _ = writeln!(
                out,
                "{name},{},{},{:.3},{:.3},{:.3},{:.3},{},{},{},{ratio}",
                op.name(),
                x.count,
                x.percentile_ms(50.0),
                x.percentile_ms(95.0),
                x.percentile_ms(99.0),
                x.mean_ms(),
                x.mean_bytes_up(),
                x.mean_bytes_down(),
                x.mean_rounds(),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ms_format_switches_at_100() {
        assert_eq!(fmt_ms(0.0), "0.00");
        assert_eq!(fmt_ms(99.994), "99.99");
        assert_eq!(fmt_ms(99.996), "100.0");
        assert_eq!(fmt_ms(100.0), "100.0");
        assert_eq!(fmt_ms(1234.56), "1234.6");
    }

    #[test]
    fn csv_quotes_only_when_needed() {
        assert_eq!(csv_field("a+b+c"), "a+b+c");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("a\"b,"), "\"a\"\"b,\"");
    }
}
