//! Scenario files: YAML in, a validated [`Scenario`] out.
//!
//! [`load`] reads a file and [`parse`] validates text; [`load_with`] first sets keys by path
//! (`--set`). The YAML surface is documented key by key in `scenarios/README.md`; errors are
//! reported as `FILE:LINE:COLUMN: KEY: MESSAGE`.

mod error;
mod locate;
mod model;
pub mod overrides;
mod spec;
mod units;
mod validate;

#[cfg(test)]
mod tests_orgs;

use std::path::Path;

use sha2::{Digest, Sha256};

pub use error::ScenarioError;
pub use model::*;
pub use units::{parse_bandwidth, parse_bytes, parse_duration, parse_rate, Rate, UnitError};
pub use validate::limits;

use locate::{LocIndex, Pos, RootKind};

/// Scheme names known to the registry, per family, used to validate `stacks`.
#[derive(Debug, Clone, Copy)]
pub struct KnownSchemes<'a> {
    /// Key distribution schemes.
    pub kd: &'a [&'a str],
    /// History protection (proxy re-encryption) schemes.
    pub pre: &'a [&'a str],
    /// Searchable encryption schemes.
    pub sse: &'a [&'a str],
    /// The key distribution schemes that can rejoin a room after key traffic expired, the only
    /// ones `servers.key_retention` may be set with.
    pub kd_rejoining: &'a [&'a str],
    /// The schemes that can run under `cost_model: model`.
    pub modelled: ModelledSchemes<'a>,
}

/// The schemes of each family that can run under `cost_model: model` (they compute nothing
/// secret, or have a model: `conclave_schemes::model`).
#[derive(Debug, Clone, Copy)]
pub struct ModelledSchemes<'a> {
    /// Key distribution schemes.
    pub kd: &'a [&'a str],
    /// History protection schemes.
    pub pre: &'a [&'a str],
    /// Searchable encryption schemes.
    pub sse: &'a [&'a str],
}

impl ModelledSchemes<'_> {
    /// No scheme: `cost_model: model` is refused for every stack.
    pub const NONE: ModelledSchemes<'static> = ModelledSchemes {
        kd: &[],
        pre: &[],
        sse: &[],
    };

    /// Why `stack` cannot run under `cost_model: model`: its first scheme without a model,
    /// and what each family can run; `None` if it can.
    #[must_use]
    pub fn refusal(&self, stack: &StackSpec) -> Option<String> {
        let families = [
            ("key distribution", &stack.kd, self.kd),
            ("history protection", &stack.pre, self.pre),
            ("search", &stack.sse, self.sse),
        ];
        let (family, name, _) = families
            .iter()
            .find(|(_, name, known)| !known.contains(&name.as_str()))?;
        let list = |known: &[&str]| match known {
            [] => "none".to_owned(),
            names => names.join(", "),
        };
        Some(format!(
            "stack `{}`: its {family} scheme `{name}` has no model yet, so it cannot run without cryptography; under `model`, key distribution can be {}; history protection {}; search {}. Run this stack with `calibrated`, or leave it out",
            stack.name(),
            list(self.kd),
            list(self.pre),
            list(self.sse),
        ))
    }
}

/// Reads and validates a scenario file.
///
/// # Errors
/// [`ScenarioError::Io`] when the file cannot be read, [`ScenarioError::Invalid`] when its
/// content is not a valid scenario.
pub fn load(path: &Path, known: &KnownSchemes<'_>) -> Result<Scenario, ScenarioError> {
    load_with(path, known, &[])
}

/// Reads a scenario file, sets each `(key path, YAML value)` of `sets` in it (in order; see
/// [`overrides`]), and validates the result as [`load`] does.
///
/// # Errors
/// As [`load`]; a key path that cannot be set, or a value that is not YAML, is reported naming
/// the key. With `sets`, an error found by validation is reported without line and column (they
/// would point into the edited text), and says which keys were set.
pub fn load_with(
    path: &Path,
    known: &KnownSchemes<'_>,
    sets: &[(String, String)],
) -> Result<Scenario, ScenarioError> {
    let text = read_text(path)?;
    parse_with(&text, path, known, sets)
}

/// The text of a scenario file.
///
/// # Errors
/// [`ScenarioError::Io`] when the file cannot be read, [`ScenarioError::Invalid`] (with the
/// position of the first bad byte) when it is not UTF-8.
pub fn read_text(path: &Path) -> Result<String, ScenarioError> {
    let bytes = std::fs::read(path).map_err(|source| ScenarioError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    String::from_utf8(bytes).map_err(|e| {
        let bytes = e.as_bytes();
        let valid = bytes
            .get(..e.utf8_error().valid_up_to())
            .unwrap_or_default();
        let line = valid.iter().filter(|b| **b == b'\n').count() + 1;
        let column = valid
            .rsplit(|b| *b == b'\n')
            .next()
            .map_or(0, |l| String::from_utf8_lossy(l).chars().count())
            + 1;
        ScenarioError::Invalid {
            path: path.to_path_buf(),
            line: Some(line),
            column: Some(column),
            key: None,
            message: "the file is not valid UTF-8 text".to_owned(),
        }
    })
}

/// As [`load_with`], from the file's text (`path` names it in messages and resolves relative
/// paths in it).
///
/// # Errors
/// As [`load_with`], but for reading the file.
pub fn parse_with(
    text: &str,
    path: &Path,
    known: &KnownSchemes<'_>,
    sets: &[(String, String)],
) -> Result<Scenario, ScenarioError> {
    if sets.is_empty() {
        return parse(text, path, known);
    }
    let invalid = |key: &str, message: String| ScenarioError::Invalid {
        path: path.to_path_buf(),
        line: None,
        column: None,
        key: Some(key.to_owned()),
        message,
    };
    // A file that is not YAML is reported as written, with its position.
    let Ok(mut doc) = serde_yaml::from_str::<serde_yaml::Value>(text) else {
        return parse(text, path, known);
    };
    for (key, value) in sets {
        let value = overrides::value(value).map_err(|m| invalid(key, format!("--set: {m}")))?;
        overrides::set(&mut doc, key, value).map_err(|m| invalid(key, format!("--set: {m}")))?;
    }
    let edited = serde_yaml::to_string(&doc)
        .map_err(|e| invalid("", format!("--set: the edited scenario is not YAML: {e}")))?;
    let given: Vec<String> = sets.iter().map(|(k, v)| format!("{k}={v}")).collect();
    parse(&edited, path, known).map_err(|e| match e {
        ScenarioError::Invalid {
            path, key, message, ..
        } => ScenarioError::Invalid {
            path,
            line: None,
            column: None,
            key,
            message: format!("{message} (with --set {})", given.join(" --set ")),
        },
        io => io,
    })
}

/// Validates scenario text; `path` is only used in messages and to resolve relative paths
/// (`workload.keywords.corpus`).
///
/// # Errors
/// [`ScenarioError::Invalid`] naming the line, column and key path of the first problem found.
pub fn parse(text: &str, path: &Path, known: &KnownSchemes<'_>) -> Result<Scenario, ScenarioError> {
    let sha = crate::persist::hex(&Sha256::digest(text.as_bytes()));
    let invalid = |pos: Option<Pos>, key: Option<String>, message: String| ScenarioError::Invalid {
        path: path.to_path_buf(),
        line: pos.map(|p| p.line),
        column: pos.map(|p| p.column),
        key,
        message,
    };

    // Index key positions first: this also classifies the document (empty, list, ...) and finds
    // syntax errors along with the key being parsed. The indexer must never take the whole
    // parse down: if it fails in an unexpected way, carry on without positions.
    // Tabs become spaces for the indexer only (one character for one, so positions hold): the
    // indexer is stricter than the deserialiser about tabs as separators (`seed:<TAB>1`).
    let built = std::panic::catch_unwind(|| LocIndex::build(&text.replace('\t', " ")));
    let index = match built {
        Ok(Ok(index)) => index,
        Ok(Err(syntax)) => {
            // Trust the YAML reader the spec uses: if it accepts the text, go on without
            // positions; otherwise report the syntax error with its key path.
            if spec::from_str(text).is_ok() {
                LocIndex::unindexed()
            } else {
                return Err(invalid(
                    Some(syntax.pos),
                    syntax.key,
                    format!("YAML syntax error: {}", syntax.message),
                ));
            }
        }
        Err(_) => LocIndex::unindexed(),
    };
    match index.root {
        RootKind::Empty => {
            return Err(invalid(
                None,
                None,
                format!(
                    "the file is empty: expected a mapping with at least the keys name, duration, org and stacks (allowed top-level keys: {})",
                    validate::TOP_KEYS
                ),
            ));
        }
        RootKind::Sequence | RootKind::Scalar => {
            let what = if index.root == RootKind::Sequence {
                "a list"
            } else {
                "a single value"
            };
            return Err(invalid(
                index.root_pos,
                None,
                format!(
                    "the top level is {what}; a scenario file must be a mapping of keys (allowed top-level keys: {})",
                    validate::TOP_KEYS
                ),
            ));
        }
        RootKind::Mapping => {}
    }
    if let Some(pos) = index.extra_document {
        return Err(invalid(
            Some(pos),
            None,
            "a scenario file holds exactly one YAML document, found a second one (`---`)"
                .to_owned(),
        ));
    }

    let mut spec = spec::from_str(text).map_err(|e| {
        let (key, message, pos) = split_serde_message(&e.message, e.pos, &index);
        let pos = pos.or_else(|| key.as_deref().and_then(|k| index.locate(k)));
        invalid(pos, key, message)
    })?;
    let sweep = spec.sweep.take();
    let cx = validate::Cx {
        path,
        index: &index,
        known,
    };
    let mut scenario = validate::validate(spec, &cx, sha)?;
    if let Some(sweep) = sweep {
        let at = index.locate("sweep");
        scenario.sweep = sweep_points(text, path, known, &sweep)
            .map_err(|(key, message)| invalid(at, Some(key), message))?;
    }
    Ok(scenario)
}

/// Most values of one sweep axis.
const SWEEP_VALUES_MAX: usize = 64;

/// The points of `sweep` (a mapping of one or two key paths to lists of values), each a
/// scenario of its own, validated: the product of the axes, the first axis outermost.
fn sweep_points(
    text: &str,
    path: &Path,
    known: &KnownSchemes<'_>,
    sweep: &serde_yaml::Value,
) -> Result<Vec<SweepPoint>, (String, String)> {
    let usage = "a mapping of one or two key paths to lists of values, such as `org.rooms[0].size: [8, 32, 128]`";
    let axes = sweep
        .as_mapping()
        .filter(|m| (1..=2).contains(&m.len()))
        .ok_or_else(|| ("sweep".to_owned(), format!("expected {usage}")))?;
    let mut expanded: Vec<(String, Vec<serde_yaml::Value>)> = Vec::new();
    for (key, values) in axes {
        let key = key
            .as_str()
            .ok_or_else(|| ("sweep".to_owned(), format!("expected {usage}")))?;
        let values = values
            .as_sequence()
            .filter(|v| (1..=SWEEP_VALUES_MAX).contains(&v.len()))
            .ok_or_else(|| {
                (
                    format!("sweep.{key}"),
                    format!("expected a list of 1 to {SWEEP_VALUES_MAX} values"),
                )
            })?;
        if key == "sweep" || key.starts_with("sweep.") || key.starts_with("sweep[") {
            return Err((
                format!("sweep.{key}"),
                "a sweep cannot set `sweep`".to_owned(),
            ));
        }
        expanded.push((key.to_owned(), values.clone()));
    }
    let mut base: serde_yaml::Value = serde_yaml::from_str(text)
        .map_err(|e| ("sweep".to_owned(), format!("the scenario is not YAML: {e}")))?;
    if let Some(map) = base.as_mapping_mut() {
        map.remove("sweep");
    }
    // Indices of each axis, first axis outermost.
    let mut combos: Vec<Vec<usize>> = vec![Vec::new()];
    for (_, values) in &expanded {
        combos = combos
            .into_iter()
            .flat_map(|c| {
                (0..values.len()).map(move |i| {
                    let mut next = c.clone();
                    next.push(i);
                    next
                })
            })
            .collect();
    }
    let mut points = Vec::with_capacity(combos.len());
    for combo in combos {
        let mut doc = base.clone();
        let mut values = Vec::new();
        for ((key, axis), &i) in expanded.iter().zip(&combo) {
            let value = axis[i].clone();
            let label = overrides::label(&value);
            overrides::set(&mut doc, key, value).map_err(|m| (format!("sweep.{key}[{i}]"), m))?;
            values.push((key.clone(), label));
        }
        let edited = serde_yaml::to_string(&doc)
            .map_err(|e| ("sweep".to_owned(), format!("a point is not YAML: {e}")))?;
        let scenario = parse(&edited, path, known).map_err(|e| {
            let at: Vec<String> = values.iter().map(|(k, v)| format!("{k} = {v}")).collect();
            let inner = match &e {
                ScenarioError::Invalid {
                    key: Some(k),
                    message,
                    ..
                } => format!("{k}: {message}"),
                ScenarioError::Invalid { message, .. } => message.clone(),
                ScenarioError::Io { .. } => e.to_string(),
            };
            (
                format!("sweep.{}", values.first().map_or("", |(k, _)| k.as_str())),
                format!("at the point {}: {inner}", at.join(", ")),
            )
        })?;
        points.push(SweepPoint { values, scenario });
    }
    Ok(points)
}

/// Whether `s` looks like a key path as the YAML reader prints it.
fn looks_like_path(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '[' | ']' | '?'))
}

/// Splits a deserialisation message `PATH: MESSAGE` into key path, a friendlier message and the
/// best position.
fn split_serde_message(
    msg: &str,
    pos: Option<Pos>,
    index: &LocIndex,
) -> (Option<String>, String, Option<Pos>) {
    let mut path: Option<String> = None;
    let mut rest = msg;
    for (i, _) in msg.match_indices(": ") {
        let (Some(prefix), Some(tail)) = (msg.get(..i), msg.get(i + 2..)) else {
            continue;
        };
        if index.contains(prefix) || looks_like_path(prefix) {
            path = Some(prefix.to_owned());
            rest = tail;
        }
        break;
    }
    let parent = path.clone().unwrap_or_default();
    // An unknown key is reported at the key itself.
    if let Some(field) = backticked_after(rest, "unknown field `") {
        return (
            Some(locate::join(&parent, &field)),
            spec_message::friendly(rest),
            pos,
        );
    }
    // A duplicate key is reported at its second occurrence.
    if let Some(field) = backticked_after(rest, "duplicate field `") {
        let key = locate::join(&parent, &field);
        let at = index.duplicate(&key).or(pos);
        return (Some(key), spec_message::friendly(rest), at);
    }
    let key = path.or_else(|| {
        pos.and_then(|p| index.path_at(p).or_else(|| index.path_before(p)))
            .map(str::to_owned)
    });
    (
        key.filter(|k| !k.is_empty()),
        spec_message::friendly(rest),
        pos,
    )
}

/// The text between `prefix` and the next backtick, if `s` starts with `prefix`.
fn backticked_after(s: &str, prefix: &str) -> Option<String> {
    let tail = s.strip_prefix(prefix)?;
    let end = tail.find('`')?;
    tail.get(..end).map(str::to_owned)
}

/// Rewrites the YAML reader's messages in the scenario language's terms.
mod spec_message {
    /// Type names as the reader prints them -> as a scenario author reads them.
    fn types(s: &str) -> String {
        let mut out = s.to_owned();
        for (from, to) in [
            ("expected u64", "expected a non-negative integer"),
            ("expected u32", "expected a non-negative integer"),
            ("expected i64", "expected an integer"),
            ("expected f64", "expected a number"),
            ("expected a sequence", "expected a list"),
            ("expected a borrowed string", "expected a string"),
            ("expected field identifier", "expected a key name"),
            ("expected variant identifier", "expected a name"),
            ("invalid type: sequence", "invalid type: a list"),
            ("invalid type: map", "invalid type: a mapping"),
            ("invalid type: unit value", "invalid type: an empty value"),
        ] {
            out = out.replace(from, to);
        }
        // `expected struct FooSpec` -> `expected a mapping`
        while let Some(i) = out.find("expected struct ") {
            let tail_start = i + "expected struct ".len();
            let end = out
                .get(tail_start..)
                .and_then(|t| t.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')))
                .map_or(out.len(), |e| tail_start + e);
            out.replace_range(i..end, "expected a mapping");
        }
        out
    }

    /// `` `a`, `b` `` / `` `a` or `b` `` / `` one of `a`, `b` `` -> `a, b`.
    fn list(s: &str) -> String {
        s.trim_start_matches("one of ")
            .replace("` or `", ", ")
            .replace('`', "")
    }

    /// A friendlier message for the reader's error text.
    pub(super) fn friendly(msg: &str) -> String {
        if let Some(tail) = msg.strip_prefix("unknown field ") {
            if let Some((field, expected)) = tail.split_once(", expected ") {
                return format!("unknown key {field}; allowed keys: {}", list(expected));
            }
            if let Some((field, _)) = tail.split_once(", there are no fields") {
                return format!("unknown key {field}; no keys are allowed here");
            }
        }
        if let Some(tail) = msg.strip_prefix("unknown variant ") {
            if let Some((value, expected)) = tail.split_once(", expected ") {
                return format!("unknown value {value}; allowed values: {}", list(expected));
            }
        }
        if let Some(tail) = msg.strip_prefix("duplicate field ") {
            return format!("duplicate key {tail}");
        }
        if let Some(tail) = msg.strip_prefix("invalid type: integer `") {
            if let Some((n, _)) = tail.split_once("` as u128") {
                return format!("the number {n} is too large");
            }
        }
        if let Some(tail) = msg.strip_prefix("missing field ") {
            return format!("missing required key {tail}");
        }
        types(msg)
    }
}
