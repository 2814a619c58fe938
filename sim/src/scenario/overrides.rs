//! Setting scenario keys by path: `conclave run --set KEY=VALUE` and the points of a `sweep`.
//!
//! A key path names a key the way error messages do: `.`-separated keys, list items by index,
//! for example `org.rooms[0].size` or `network.clients[1].rtt`. The value is YAML, so it may be a
//! plain value (`32`, `30ms`) or a whole structure (`{ zipf: { max: 60, s: 1.1 } }`). Keys missing
//! on the way are created as mappings; a list item must exist. The result is validated as a whole
//! scenario afterwards, so a value of the wrong kind is reported there, naming its key.

use serde_yaml::{Mapping, Value};

/// One step of a key path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
}

/// Splits `path` (`a.b[2].c`) into steps.
fn steps(path: &str) -> Result<Vec<Step>, String> {
    let bad = || format!("`{path}` is not a key path such as `org.rooms[0].size`");
    let mut out = Vec::new();
    for part in path.split('.') {
        let (name, mut rest) = match part.find('[') {
            Some(i) => part.split_at(i),
            None => (part, ""),
        };
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(bad());
        }
        out.push(Step::Key(name.to_owned()));
        while !rest.is_empty() {
            let close = rest.find(']').ok_or_else(bad)?;
            let index = rest
                .get(1..close)
                .and_then(|n| n.parse::<usize>().ok())
                .filter(|_| rest.starts_with('['))
                .ok_or_else(bad)?;
            out.push(Step::Index(index));
            rest = rest.get(close + 1..).unwrap_or_default();
        }
    }
    Ok(out)
}

/// Sets `path` in `doc` to `value`.
///
/// # Errors
/// A message (without the path) when the path is malformed or runs through a value that is not
/// a mapping or list, or to a list item that does not exist.
pub fn set(doc: &mut Value, path: &str, value: Value) -> Result<(), String> {
    let steps = steps(path)?;
    let mut at = doc;
    for (i, step) in steps.iter().enumerate() {
        let last = i + 1 == steps.len();
        at = match step {
            Step::Key(key) => {
                if at.is_null() {
                    *at = Value::Mapping(Mapping::new());
                }
                let Value::Mapping(map) = at else {
                    return Err(format!("cannot set `{key}`: its parent is not a mapping"));
                };
                let slot = map.entry(Value::String(key.clone())).or_insert(Value::Null);
                if last {
                    *slot = value;
                    return Ok(());
                }
                slot
            }
            Step::Index(index) => {
                let Value::Sequence(items) = at else {
                    return Err(format!(
                        "cannot take item [{index}]: the value is not a list"
                    ));
                };
                let len = items.len();
                let slot = items
                    .get_mut(*index)
                    .ok_or_else(|| format!("the list has {len} item(s), so no item [{index}]"))?;
                if last {
                    *slot = value;
                    return Ok(());
                }
                slot
            }
        };
    }
    Err(format!("`{path}` names no key"))
}

/// Parses the text of a value as YAML (`32`, `30ms`, `[a, b]`, `{ k: v }`).
///
/// # Errors
/// The YAML reader's message.
pub fn value(text: &str) -> Result<Value, String> {
    serde_yaml::from_str(text).map_err(|e| format!("`{text}` is not a YAML value: {e}"))
}

/// `value` written back as one line of YAML, for labels and file names.
#[must_use]
pub fn label(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => "null".to_owned(),
        other => serde_yaml::to_string(other)
            .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
            .unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(text: &str) -> Value {
        serde_yaml::from_str(text).unwrap_or(Value::Null)
    }

    #[test]
    fn sets_keys_items_and_new_mappings() {
        let mut d = doc("org: { users: 10, rooms: [ { kind: org }, { kind: project } ] }");
        set(&mut d, "org.users", value("40").unwrap_or(Value::Null)).unwrap_or_default();
        set(
            &mut d,
            "org.rooms[1].size",
            value("32").unwrap_or(Value::Null),
        )
        .unwrap_or_default();
        set(
            &mut d,
            "network.clients",
            value("[ { share: 1 } ]").unwrap_or(Value::Null),
        )
        .unwrap_or_default();
        assert_eq!(
            d,
            doc("org: { users: 40, rooms: [ { kind: org }, { kind: project, size: 32 } ] }\nnetwork: { clients: [ { share: 1 } ] }")
        );
    }

    #[test]
    fn refuses_bad_paths_and_missing_items() {
        let mut d = doc("org: { users: 10, rooms: [ { kind: org } ] }");
        for (path, expect) in [
            (
                "org.rooms[3].size",
                "the list has 1 item(s), so no item [3]",
            ),
            ("org.users.x", "cannot set `x`: its parent is not a mapping"),
            ("org..users", "is not a key path"),
            ("org.rooms[x]", "is not a key path"),
            ("org.users[0]", "the value is not a list"),
        ] {
            let err = set(&mut d, path, Value::Null).err().unwrap_or_default();
            assert!(err.contains(expect), "{path}: {err}");
        }
    }

    #[test]
    fn labels_are_one_line() {
        assert_eq!(label(&value("30ms").unwrap_or(Value::Null)), "30ms");
        assert_eq!(label(&value("128").unwrap_or(Value::Null)), "128");
        assert_eq!(
            label(&value("{ zipf: { max: 60 } }").unwrap_or(Value::Null)),
            "zipf: max: 60"
        );
    }
}
