//! The YAML surface of a scenario file, as written: every key optional at this level (required
//! keys and ranges are checked in `validate.rs`, which knows where each key is), unknown keys
//! rejected. This is the only module that talks to `serde_yaml`.

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use super::locate::Pos;

/// A deserialisation error: the reader's message (with its `PATH: ` prefix, without its
/// location suffix) and its position.
#[derive(Debug, Clone)]
pub(crate) struct SpecError {
    /// `PATH: MESSAGE` or `MESSAGE`.
    pub message: String,
    /// 1-based position, when known.
    pub pos: Option<Pos>,
}

/// Deserialises scenario text into the spec.
pub(crate) fn from_str(text: &str) -> Result<ScenarioSpec, SpecError> {
    serde_yaml::from_str(text).map_err(|e| SpecError {
        pos: e.location().map(|l| Pos {
            line: l.line().max(1),
            column: l.column().max(1),
        }),
        message: strip_locations(&e.to_string()),
    })
}

/// Removes ` at line N column M` and ` at position N` from a reader message (positions are
/// reported separately).
fn strip_locations(msg: &str) -> String {
    let mut out = String::with_capacity(msg.len());
    let mut rest = msg;
    while let Some(i) = rest.find(" at ") {
        let (head, tail) = rest.split_at(i);
        out.push_str(head);
        let after = tail.get(4..).unwrap_or_default();
        if let Some(n) = skip_location(after) {
            rest = after.get(n..).unwrap_or_default();
        } else {
            out.push_str(" at ");
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// Length of a `line N column M` or `position N` prefix of `s`, if it has one.
fn skip_location(s: &str) -> Option<usize> {
    fn digits(s: &str) -> usize {
        s.bytes().take_while(u8::is_ascii_digit).count()
    }
    if let Some(t) = s.strip_prefix("line ") {
        let a = digits(t);
        let t2 = t.get(a..)?.strip_prefix(" column ")?;
        let b = digits(t2);
        if a > 0 && b > 0 {
            return Some("line ".len() + a + " column ".len() + b);
        }
    } else if let Some(t) = s.strip_prefix("position ") {
        let a = digits(t);
        if a > 0 {
            return Some("position ".len() + a);
        }
    }
    None
}

/// A value written with a unit (`30ms`, `5MB/s`, `3/h/user`) or a bare number, kept as text
/// and parsed by `units.rs` once the key is known.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct UnitText(pub String);

impl<'de> Deserialize<'de> for UnitText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = UnitText;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number with a unit, such as 30ms, 160B, 5MB/s or 3/h/user")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<UnitText, E> {
                Ok(UnitText(v.to_owned()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<UnitText, E> {
                Ok(UnitText(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<UnitText, E> {
                Ok(UnitText(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<UnitText, E> {
                Ok(UnitText(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// Top level of a scenario file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ScenarioSpec {
    pub name: Option<String>,
    pub seed: Option<u64>,
    pub replicates: Option<i64>,
    pub duration: Option<UnitText>,
    pub organisations: Option<Vec<OrganisationSpec>>,
    pub org: Option<OrgSpec>,
    pub policy: Option<PolicySpec>,
    pub workload: Option<WorkloadSpec>,
    pub network: Option<NetworkSpec>,
    pub servers: Option<ServersSpec>,
    pub cost_model: Option<CostModelSpec>,
    pub stacks: Option<Vec<StackEntrySpec>>,
    pub report: Option<ReportSpec>,
    /// Checked and expanded by `scenario::parse` (each point is a scenario of its own).
    pub sweep: Option<serde_yaml::Value>,
}

/// `org`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct OrgSpec {
    pub users: Option<i64>,
    pub departments: Option<i64>,
    pub rooms: Option<Vec<RoomSpec>>,
}

/// One entry of `organisations`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct OrganisationSpec {
    pub name: Option<String>,
    pub users: Option<i64>,
    pub departments: Option<i64>,
    pub trusts: Option<Vec<String>>,
}

/// One entry of `org.rooms`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RoomSpec {
    pub kind: Option<RoomKindSpec>,
    pub count: Option<i64>,
    pub size: Option<RoomSizeSpec>,
    pub admins: Option<i64>,
    pub history: Option<HistorySpec>,
    pub preload: Option<i64>,
    pub activity: Option<f64>,
    pub orgs: Option<Vec<String>>,
}

/// `org.rooms[i].kind`
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum RoomKindSpec {
    Department,
    Org,
    Project,
}

/// `org.rooms[i].size`: an integer or a one-key mapping naming a distribution.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RoomSizeSpec {
    Fixed(i64),
    Uniform(IntRangeSpec),
    Zipf(ZipfSizeSpec),
}

/// `{ min, max }` of integers.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct IntRangeSpec {
    pub min: Option<i64>,
    pub max: Option<i64>,
}

/// `{ min, max, s }` of a Zipf room size.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ZipfSizeSpec {
    pub min: Option<i64>,
    pub max: Option<i64>,
    pub s: Option<f64>,
}

/// Reads the single key of a distribution mapping and returns it with the value deserialised by
/// `f`, rejecting empty mappings and extra keys.
fn one_key_map<'de, A, T>(
    mut map: A,
    allowed: &'static [&'static str],
    f: impl FnOnce(&str, &mut A) -> Result<T, A::Error>,
) -> Result<T, A::Error>
where
    A: MapAccess<'de>,
{
    let Some(key) = map.next_key::<String>()? else {
        return Err(de::Error::custom(format!(
            "expected a mapping with one of the keys {}, found an empty mapping",
            allowed.join(", ")
        )));
    };
    if !allowed.contains(&key.as_str()) {
        return Err(de::Error::unknown_variant(&key, allowed));
    }
    let value = f(&key, &mut map)?;
    if let Some(extra) = map.next_key::<String>()? {
        return Err(de::Error::custom(format!(
            "a distribution has exactly one key (one of {}), found also `{extra}`",
            allowed.join(", ")
        )));
    }
    Ok(value)
}

impl<'de> Deserialize<'de> for RoomSizeSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RoomSizeSpec;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "an integer or a distribution: { uniform: { min, max } } or { zipf: { min, max, s } }",
                )
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RoomSizeSpec, E> {
                Ok(RoomSizeSpec::Fixed(i64::try_from(v).unwrap_or(i64::MAX)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RoomSizeSpec, E> {
                Ok(RoomSizeSpec::Fixed(v))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RoomSizeSpec, A::Error> {
                one_key_map(map, &["uniform", "zipf"], |key, map| {
                    if key == "uniform" {
                        map.next_value().map(RoomSizeSpec::Uniform)
                    } else {
                        map.next_value().map(RoomSizeSpec::Zipf)
                    }
                })
            }
        }
        d.deserialize_any(V)
    }
}

/// `history` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum HistorySpec {
    Shared,
    FromJoin,
}

/// `policy`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PolicySpec {
    pub history: Option<HistorySpec>,
    pub key_period: Option<UnitText>,
}

/// `workload`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WorkloadSpec {
    pub messages: Option<MessagesSpec>,
    pub keywords: Option<KeywordsSpec>,
    pub search: Option<SearchSpec>,
    pub login: Option<LoginSpec>,
    pub churn: Option<ChurnSpec>,
    pub history: Option<HistoryReadSpec>,
    pub canaries: Option<f64>,
}

/// `workload.messages`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MessagesSpec {
    pub rate: Option<UnitText>,
    pub size: Option<ByteSizeSpec>,
}

/// A byte size: `160B`, or a one-key mapping naming a distribution.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ByteSizeSpec {
    Fixed(UnitText),
    Uniform(ByteRangeSpec),
    LogNormal(LogNormalSpec),
}

/// `{ min, max }` of byte sizes.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ByteRangeSpec {
    pub min: Option<UnitText>,
    pub max: Option<UnitText>,
}

/// `{ median, sigma }`
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LogNormalSpec {
    pub median: Option<UnitText>,
    pub sigma: Option<f64>,
}

impl<'de> Deserialize<'de> for ByteSizeSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ByteSizeSpec;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "a size such as 160B or a distribution: { lognormal: { median, sigma } } or { uniform: { min, max } }",
                )
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ByteSizeSpec, E> {
                Ok(ByteSizeSpec::Fixed(UnitText(v.to_owned())))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ByteSizeSpec, E> {
                Ok(ByteSizeSpec::Fixed(UnitText(v.to_string())))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ByteSizeSpec, E> {
                Ok(ByteSizeSpec::Fixed(UnitText(v.to_string())))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<ByteSizeSpec, E> {
                Ok(ByteSizeSpec::Fixed(UnitText(v.to_string())))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<ByteSizeSpec, A::Error> {
                one_key_map(map, &["lognormal", "uniform"], |key, map| {
                    if key == "lognormal" {
                        map.next_value().map(ByteSizeSpec::LogNormal)
                    } else {
                        map.next_value().map(ByteSizeSpec::Uniform)
                    }
                })
            }
        }
        d.deserialize_any(V)
    }
}

/// `workload.keywords`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct KeywordsSpec {
    pub vocabulary: Option<i64>,
    pub zipf: Option<f64>,
    pub corpus: Option<String>,
    pub per_message: Option<i64>,
}

/// `workload.search`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SearchSpec {
    pub rate: Option<UnitText>,
    pub fetch: Option<i64>,
}

/// `workload.login`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LoginSpec {
    pub rate: Option<UnitText>,
    pub recent: Option<i64>,
    pub session: Option<UnitText>,
    pub online_at_start: Option<f64>,
}

/// `workload.churn`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ChurnSpec {
    pub join: Option<UnitText>,
    pub leave: Option<UnitText>,
    #[serde(rename = "move")]
    pub move_: Option<UnitText>,
    pub events: Option<Vec<EventSpec>>,
}

/// One entry of `workload.churn.events`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EventSpec {
    pub at: Option<UnitText>,
    pub reorg: Option<ReorgSpec>,
    pub leave: Option<String>,
    pub join: Option<String>,
}

/// `reorg: { from, to, share }`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReorgSpec {
    pub from: Option<i64>,
    pub to: Option<i64>,
    pub share: Option<f64>,
}

/// `workload.history`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HistoryReadSpec {
    pub read: Option<i64>,
}

/// `network`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NetworkSpec {
    pub clients: Option<Vec<ClientSpec>>,
}

/// One entry of `network.clients`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ClientSpec {
    pub share: Option<f64>,
    pub rtt: Option<UnitText>,
    pub jitter: Option<UnitText>,
    pub down: Option<UnitText>,
    pub up: Option<UnitText>,
}

/// `servers`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ServersSpec {
    pub workers: Option<i64>,
    pub key_retention: Option<UnitText>,
}

/// `cost_model`
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum CostModelSpec {
    Measured,
    Calibrated,
    Model,
}

/// One entry of `stacks`: `kd+pre+sse`, or a mapping whose values may be lists.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum StackEntrySpec {
    Text(String),
    Map(StackMapSpec),
}

/// `{ kd, pre, sse }`, each a name or a list of names.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StackMapSpec {
    pub kd: Option<Names>,
    pub pre: Option<Names>,
    pub sse: Option<Names>,
}

/// A scheme name or a list of them.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Names(pub Vec<String>);

impl<'de> Deserialize<'de> for Names {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Names;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a scheme name or a list of scheme names")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Names, E> {
                Ok(Names(vec![v.to_owned()]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Names, A::Error> {
                let mut names = Vec::new();
                while let Some(n) = seq.next_element::<String>()? {
                    names.push(n);
                }
                Ok(Names(names))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for StackEntrySpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = StackEntrySpec;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a stack `kd+pre+sse` or a mapping { kd, pre, sse }")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<StackEntrySpec, E> {
                Ok(StackEntrySpec::Text(v.to_owned()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<StackEntrySpec, A::Error> {
                StackMapSpec::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(StackEntrySpec::Map)
            }
        }
        d.deserialize_any(V)
    }
}

/// `report`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReportSpec {
    pub percentiles: Option<Vec<f64>>,
    pub plots: Option<Vec<String>>,
}
