//! `table1.md` and `table1.csv`: the paper-style table. The markdown puts each stack's p50 of
//! every op, with its ratio to the conventional stack, in one table that fits a screen, then one
//! table per op with the full percentiles; latencies carry their unit. The CSV keeps every
//! number in milliseconds, one row per (stack, op).

use std::fmt::Write as _;

use super::{
    conventional_index, cost_model_name, human, measured_ops, op_entry, op_stats, paired,
    percentile_label, ratio, skipped_text, RunReport, CONVENTIONAL_STACK,
};
use crate::metrics::{confidence_interval_95, Op, OpStats, SkipReason};
use crate::scenario::{CostModelKind, Scenario};

/// Shown for a value that does not exist (no samples, or a ratio against zero).
const MISSING: &str = "–";

/// Marks a ratio whose two stacks have different sample counts for the op.
const UNPAIRED: &str = "†";

/// Marks a percentile over fewer samples than [`THIN_SAMPLES`].
const THIN: &str = "‡";

/// Fewer samples than this make a percentile too thin to lean on.
const THIN_SAMPLES: u64 = 30;

/// Percentiles shown when the scenario lists none.
const DEFAULT_PERCENTILES: [f64; 3] = [50.0, 95.0, 99.0];

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
        Op::Rejoin => "from a member whose queued key traffic expired at the key server asking to rejoin a room \
                       until all online members, it included, hold the new epoch secret"
            .to_owned(),
        Op::Reencrypt => "from an epoch change being committed until the stored history (key headers and search \
                          index) is protected under the new epoch"
            .to_owned(),
        Op::History => format!(
            "from a new member opening the room until it has decrypted the last {} messages from before its join \
             (`history.read`)",
            w.history.read
        ),
        Op::Renew => "from a new key period starting until an online terminal has fetched its credentials for it from \
                      its organisation's KMS and validated them"
            .to_owned(),
    }
}

fn cost_model_sentence(k: CostModelKind) -> &'static str {
    match k {
        CostModelKind::Calibrated => "charged from the calibration table measured on this machine",
        CostModelKind::Measured => "charged at its measured wall time",
        CostModelKind::Model => {
            "charged from the calibration table, with each scheme run as its model, without public-key cryptography"
        }
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
        "{}. Cost model: {}. Latencies are simulated time.",
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

/// The ratio cell of `st` against the conventional stack for `op`, or `None` outside a run with
/// it (or for the conventional stack itself).
fn ratio_cell(
    r: &RunReport,
    conv: Option<usize>,
    i: usize,
    op: Op,
    ratio_p: f64,
) -> Option<String> {
    let c = conv.filter(|&c| c != i)?;
    let st = &r.stacks[i];
    let mark = if paired(st, &r.stacks[c], op) {
        ""
    } else {
        UNPAIRED
    };
    Some(
        ratio(st, &r.stacks[c], op, ratio_p)
            .map_or_else(|| MISSING.to_owned(), |x| format!("{x:.2}×{mark}")),
    )
}

/// The tables of latencies: first every stack's first percentile (with its ratio to the
/// conventional stack) of every op, then per op each stack's percentiles, samples and censored
/// counts, and with several seeds the spread of the first percentile across them.
fn latency_table(out: &mut String, r: &RunReport, pcts: &[f64], conv: Option<usize>, ops: &[Op]) {
    let ratio_p = pcts[0];
    let label = percentile_label(ratio_p);
    let _ = writeln!(
        out,
        "## p{label} of each operation
"
    );
    let mut header = String::from("| stack |");
    let mut rule = String::from("|:---|");
    for op in ops {
        let _ = write!(header, " {} |", op.name());
        rule.push_str("---:|");
    }
    let _ = writeln!(out, "{header}");
    let _ = writeln!(out, "{rule}");
    for (i, st) in r.stacks.iter().enumerate() {
        let mut row = format!("| S{} `{}` |", i + 1, st.stack.name());
        for &op in ops {
            let cell = op_stats(st, op).map_or_else(
                || MISSING.to_owned(),
                |x| {
                    let thin = if x.count < THIN_SAMPLES { THIN } else { "" };
                    let value = format!("{}{thin}", human::latency(x.percentile_ms(ratio_p)));
                    match ratio_cell(r, conv, i, op, ratio_p) {
                        Some(ratio) => format!("{value} ({ratio})"),
                        None => value,
                    }
                },
            );
            let _ = write!(row, " {cell} |");
        }
        let _ = writeln!(out, "{row}");
    }
    let several_seeds = r.seeds.len() > 1;
    for &op in ops {
        let _ = writeln!(out, "\n### {}\n", op.name());
        let mut header = String::from("| stack |");
        let mut rule = String::from("|:---|");
        for &p in pcts {
            let _ = write!(header, " p{} |", percentile_label(p));
            rule.push_str("---:|");
        }
        if conv.is_some() {
            header.push_str(" ×conv |");
            rule.push_str("---:|");
        }
        header.push_str(" samples |");
        rule.push_str("---:|");
        let censored = r
            .stacks
            .iter()
            .any(|st| op_entry(st, op).is_some_and(crate::metrics::OpStats::censored));
        if censored {
            header.push_str(" incomplete | skipped |");
            rule.push_str("---:|:---|");
        }
        if several_seeds {
            let _ = write!(header, " p{label} per seed | 95 % CI of p{label} |");
            rule.push_str(":---|:---|");
        }
        let _ = writeln!(out, "{header}");
        let _ = writeln!(out, "{rule}");
        for (i, st) in r.stacks.iter().enumerate() {
            let mut row = format!("| S{} `{}` |", i + 1, st.stack.name());
            let stats = op_stats(st, op);
            for &p in pcts {
                let cell = stats.map_or_else(
                    || MISSING.to_owned(),
                    |x| human::latency(x.percentile_ms(p)),
                );
                let _ = write!(row, " {cell} |");
            }
            if conv.is_some() {
                let cell =
                    ratio_cell(r, conv, i, op, ratio_p).unwrap_or_else(|| MISSING.to_owned());
                let _ = write!(row, " {cell} |");
            }
            let entry = op_entry(st, op);
            let count = entry.map_or(0, |x| x.count);
            let thin = if count > 0 && count < THIN_SAMPLES {
                THIN
            } else {
                ""
            };
            let _ = write!(row, " {count}{thin} |");
            if censored {
                censored_cells(&mut row, entry);
            }
            if several_seeds {
                let per_seed = st.p50_per_seed.get(&op).map_or(&[][..], Vec::as_slice);
                let list = if per_seed.is_empty() {
                    MISSING.to_owned()
                } else {
                    per_seed
                        .iter()
                        .map(|v| human::latency(*v))
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                let ci = confidence_interval_95(per_seed).map_or_else(
                    || MISSING.to_owned(),
                    |(lo, hi)| format!("{} – {}", human::latency(lo.max(0.0)), human::latency(hi)),
                );
                let _ = write!(row, " {list} | {ci} |");
            }
            let _ = writeln!(out, "{row}");
        }
    }
}

/// Whether the latency table marks some ratio as unpaired.
fn any_unpaired(r: &RunReport, ops: &[Op], ratio_p: f64) -> bool {
    let Some(c) = conventional_index(&r.stacks) else {
        return false;
    };
    let conv = &r.stacks[c];
    r.stacks.iter().enumerate().any(|(i, st)| {
        i != c
            && ops
                .iter()
                .any(|&op| ratio(st, conv, op, ratio_p).is_some() && !paired(st, conv, op))
    })
}

/// Whether any stack left an op incomplete or skipped an action.
fn any_censored(r: &RunReport) -> bool {
    r.stacks
        .iter()
        .any(|st| st.ops.values().any(crate::metrics::OpStats::censored))
}

/// Sample counts and per-sample traffic, one row per (op, stack); with `incomplete` and
/// `skipped` columns when some stack censored an op.
fn traffic_table(out: &mut String, r: &RunReport, ops: &[Op]) {
    let censored = any_censored(r);
    out.push('\n');
    out.push_str("## Samples and traffic\n\n");
    out.push_str("Samples over all seeds; bytes and round trips are means per sample.\n\n");
    if censored {
        out.push_str(
            "| op | stack | samples | incomplete | skipped | bytes up | bytes down | rounds |\n",
        );
        out.push_str("|:---|:---|---:|---:|:---|---:|---:|---:|\n");
    } else {
        out.push_str("| op | stack | samples | bytes up | bytes down | rounds |\n");
        out.push_str("|:---|:---|---:|---:|---:|---:|\n");
    }
    for &op in ops {
        for (i, st) in r.stacks.iter().enumerate() {
            let mut row = format!("| {} | S{} |", op.name(), i + 1);
            let entry = op_entry(st, op);
            let _ = write!(row, " {} |", entry.map_or(0, |x| x.count));
            if censored {
                censored_cells(&mut row, entry);
            }
            match op_stats(st, op) {
                Some(x) => {
                    let _ = write!(
                        row,
                        " {} | {} | {} |",
                        x.mean_bytes_up(),
                        x.mean_bytes_down(),
                        x.mean_rounds()
                    );
                }
                None => {
                    let _ = write!(row, " {MISSING} | {MISSING} | {MISSING} |");
                }
            }
            let _ = writeln!(out, "{row}");
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
         percentile over all samples of all seeds (microsecond resolution, 3 significant digits), shown \
         with the unit that suits it (µs, ms, s, min, h); `{MISSING}` means the stack had no sample of that \
         op, and `{THIN}` marks a value over fewer than {THIN_SAMPLES} samples. With several seeds, each op's \
         table lists every seed's p50 and the 95 % confidence interval of the p50 across seeds (Student's t).",
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
    if any_unpaired(r, ops, ratio_p) {
        out.push('\n');
        let _ = writeln!(
            out,
            "`{UNPAIRED}` marks an unpaired ratio: the two stacks have different sample counts for the op (every \
             stack replays the same trace, so one of them left ops incomplete or skipped actions, or its schemes \
             do work the other's do not), and the percentiles compare different sets of samples."
        );
    }
    if any_censored(r) {
        out.push('\n');
        let _ = writeln!(
            out,
            "Censored operations are not in the latencies: `incomplete` counts ops started but unfinished when \
             the run ended (their latency would exceed what the run observed), `skipped` counts workload actions \
             the stack dropped, per reason:"
        );
        out.push('\n');
        for reason in SkipReason::ALL {
            let seen = r.stacks.iter().any(|st| {
                st.ops
                    .values()
                    .any(|x| x.skipped.get(&reason).is_some_and(|n| *n > 0))
            });
            if seen {
                let _ = writeln!(out, "- `{}`: {}.", reason.name(), reason.describe());
            }
        }
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

/// `table1.csv`: one line per (stack, op with samples or censored actions), stacks in run order,
/// ops in [`Op::ALL`] order. Latencies in ms with 3 decimals (empty without samples), bytes and
/// rounds as per-sample means, the ratio of p50 to the conventional stack's p50 with 4 decimals
/// (empty when unavailable), then `incomplete`, `skipped`, `skipped_reasons`
/// (`reason=n` joined by `;`) and `ratio_paired` (`true` when both stacks have the same sample
/// count, empty without a ratio). Deterministic.
#[must_use]
pub fn table1_csv(r: &RunReport) -> String {
    let conv = conventional_index(&r.stacks);
    let mut out = String::from(
        "stack,op,count,p50_ms,p95_ms,p99_ms,mean_ms,bytes_up,bytes_down,rounds,ratio_p50_vs_conventional,\
         incomplete,skipped,skipped_reasons,ratio_paired\n",
    );
    for st in &r.stacks {
        let name = csv_field(&st.stack.name());
        for op in Op::ALL {
            let Some(x) = op_entry(st, op) else { continue };
            let measured = if x.count > 0 {
                format!(
                    "{:.3},{:.3},{:.3},{:.3},{},{},{}",
                    x.percentile_ms(50.0),
                    x.percentile_ms(95.0),
                    x.percentile_ms(99.0),
                    x.mean_ms(),
                    x.mean_bytes_up(),
                    x.mean_bytes_down(),
                    x.mean_rounds(),
                )
            } else {
                ",,,,,,".to_owned()
            };
            let with_ratio = conv.and_then(|c| ratio(st, &r.stacks[c], op, 50.0).map(|v| (v, c)));
            let (ratio, is_paired) = with_ratio.map_or_else(
                || (String::new(), String::new()),
                |(v, c)| (format!("{v:.4}"), paired(st, &r.stacks[c], op).to_string()),
            );
            let reasons = x
                .skipped
                .iter()
                .filter(|(_, n)| **n > 0)
                .map(|(reason, n)| format!("{}={n}", reason.name()))
                .collect::<Vec<_>>()
                .join(";");
            let _ = writeln!(
                out,
                "{name},{},{},{measured},{ratio},{},{},{reasons},{is_paired}",
                op.name(),
                x.count,
                x.incomplete,
                x.skipped_total(),
            );
        }
    }
    out
}

/// The `incomplete` and `skipped` cells of an op's row.
fn censored_cells(row: &mut String, entry: Option<&OpStats>) {
    let incomplete = entry.map_or(0, |x| x.incomplete);
    let skipped = entry.map(skipped_text).unwrap_or_default();
    let _ = write!(
        row,
        " {incomplete} | {} |",
        if skipped.is_empty() { "0" } else { &skipped }
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_only_when_needed() {
        assert_eq!(csv_field("a+b+c"), "a+b+c");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("a\"b,"), "\"a\"\"b,\"");
    }
}
