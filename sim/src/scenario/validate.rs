//! Spec (as written) -> model (as meant): defaults, units, ranges and cross-checks. Every error
//! names the key path and, through the location index, its line and column.

use std::path::{Path, PathBuf};

use super::error::ScenarioError;
use super::locate::{join, LocIndex};
use super::model::{
    ByteDist, Churn, ClientClass, CostModelKind, History, HistoryPolicy, KeywordSource, Keywords,
    Login, Messages, Network, Org, Organisation, Policy, ReportOptions, RoomGroup, RoomKind,
    Scenario, ScheduledEvent, ScheduledKind, Search, Servers, SizeDist, StackSpec, Workload,
};
use super::spec::{
    ByteSizeSpec, ChurnSpec, ClientSpec, CostModelSpec, HistorySpec, KeywordsSpec, LoginSpec,
    MessagesSpec, OrgSpec, OrganisationSpec, PolicySpec, ReportSpec, RoomKindSpec, RoomSizeSpec,
    RoomSpec, ScenarioSpec, SearchSpec, StackEntrySpec, UnitText, WorkloadSpec,
};
use super::units::{parse_bandwidth, parse_bytes, parse_duration, parse_rate};
use super::KnownSchemes;

/// Defaults and limits of the scenario language (documented in `scenarios/README.md`).
pub mod limits {
    /// Nanoseconds per second.
    const SEC: u64 = 1_000_000_000;

    /// Longest scenario name.
    pub const NAME_MAX_LEN: usize = 100;
    /// Most replicates.
    pub const REPLICATES_MAX: i64 = 1000;
    /// Longest `duration`, `session` and event time: 365 days.
    pub const DURATION_MAX: u64 = 365 * 86_400 * SEC;
    /// Fewest users.
    pub const USERS_MIN: i64 = 2;
    /// Most users.
    pub const USERS_MAX: i64 = 1_000_000;
    /// Most organisations (`organisations`).
    pub const ORGANISATIONS_MAX: usize = 256;
    /// Longest organisation name.
    pub const ORGANISATION_NAME_MAX_LEN: usize = 64;
    /// Fewest users of one organisation of `organisations`.
    pub const ORGANISATION_USERS_MIN: i64 = 1;
    /// Shortest `policy.key_period`: 1 s.
    pub const KEY_PERIOD_MIN: u64 = SEC;
    /// Default `policy.key_period`: 30 days.
    pub const DEFAULT_KEY_PERIOD: u64 = 30 * 86_400 * SEC;
    /// Most rooms in one project group (`count`).
    pub const PROJECT_COUNT_MAX: i64 = 100_000;
    /// Most rooms in the organisation, all groups together.
    pub const ROOMS_TOTAL_MAX: u64 = 1_000_000;
    /// Most preloaded messages per room (`org.rooms[i].preload`).
    pub const PRELOAD_MAX: i64 = 1_000_000;
    /// Largest `org.rooms[i].activity`: a room a million times as busy as the default.
    pub const ACTIVITY_MAX: f64 = 1e6;
    /// Smallest project room.
    pub const ROOM_SIZE_MIN: i64 = 2;
    /// Largest Zipf exponent (room sizes and keywords).
    pub const ZIPF_S_MAX: f64 = 10.0;
    /// Largest per-user rate, events per second (360 000 per hour).
    pub const PER_USER_RATE_MAX: f64 = 100.0;
    /// Largest organisation-wide churn rate, events per second.
    pub const ORG_RATE_MAX: f64 = 10_000.0;
    /// Largest message body: 1 GiB.
    pub const MESSAGE_SIZE_MAX: u64 = 1 << 30;
    /// Largest lognormal sigma.
    pub const SIGMA_MAX: f64 = 10.0;
    /// Largest synthetic vocabulary.
    pub const VOCABULARY_MAX: i64 = 10_000_000;
    /// Most keywords per synthetic message.
    pub const PER_MESSAGE_MAX: i64 = 1000;
    /// Most messages fetched per search, decrypted per room at login, or read from history.
    pub const FETCH_MAX: i64 = 100_000;
    /// Largest `rtt` and `jitter`: 60 s.
    pub const DELAY_MAX: u64 = 60 * SEC;
    /// Largest bandwidth: 1 TB/s.
    pub const BANDWIDTH_MAX: f64 = 1e12;
    /// Most client classes.
    pub const CLIENT_CLASSES_MAX: usize = 64;
    /// Tolerance on the sum of client shares.
    pub const SHARE_SUM_TOLERANCE: f64 = 1e-6;
    /// Most server workers.
    pub const WORKERS_MAX: i64 = 1024;
    /// Most stacks after expansion.
    pub const STACKS_MAX: usize = 1000;

    /// Default `replicates`.
    pub const DEFAULT_REPLICATES: u32 = 1;
    /// Default `workload.messages.rate`: 10 per hour per user.
    pub const DEFAULT_MESSAGE_RATE: f64 = 10.0 / 3600.0;
    /// Default lognormal median of message sizes.
    pub const DEFAULT_MESSAGE_MEDIAN: u64 = 160;
    /// Default lognormal sigma of message sizes.
    pub const DEFAULT_MESSAGE_SIGMA: f64 = 1.0;
    /// Default synthetic vocabulary.
    pub const DEFAULT_VOCABULARY: u32 = 20_000;
    /// Default keyword Zipf exponent.
    pub const DEFAULT_KEYWORD_ZIPF: f64 = 1.1;
    /// Default keywords per message.
    pub const DEFAULT_PER_MESSAGE: u32 = 8;
    /// Default `workload.search.rate`: 1 per hour per user.
    pub const DEFAULT_SEARCH_RATE: f64 = 1.0 / 3600.0;
    /// Default `workload.search.fetch`.
    pub const DEFAULT_FETCH: u32 = 10;
    /// Default `workload.login.rate`: 2 per day per user.
    pub const DEFAULT_LOGIN_RATE: f64 = 2.0 / 86_400.0;
    /// Default `workload.login.recent`.
    pub const DEFAULT_RECENT: u32 = 20;
    /// Default `workload.login.session`: 1 h.
    pub const DEFAULT_SESSION: u64 = 3600 * SEC;
    /// Default `workload.login.online_at_start`.
    pub const DEFAULT_ONLINE_AT_START: f64 = 0.5;
    /// Default `workload.history.read`.
    pub const DEFAULT_HISTORY_READ: u32 = 50;
    /// Default `workload.canaries`.
    pub const DEFAULT_CANARIES: f64 = 0.05;
    /// Default client class round-trip time: 40 ms.
    pub const DEFAULT_RTT: u64 = 40_000_000;
    /// Default client class jitter: 5 ms.
    pub const DEFAULT_JITTER: u64 = 5_000_000;
    /// Default downlink: 50 MB/s.
    pub const DEFAULT_DOWN: f64 = 50e6;
    /// Default uplink: 10 MB/s.
    pub const DEFAULT_UP: f64 = 10e6;
    /// Default `servers.workers`.
    pub const DEFAULT_WORKERS: u32 = 4;
    /// Default `report.percentiles`.
    pub const DEFAULT_PERCENTILES: [f64; 3] = [50.0, 95.0, 99.0];
    /// Plot names accepted in `report.plots`.
    pub const PLOTS: [&str; 4] = [
        "latency_cdf",
        "cost_vs_room_size",
        "reencrypt_vs_history",
        "bytes_per_op",
    ];
}

use limits as lim;

type Result<T> = std::result::Result<T, ScenarioError>;

/// The top-level keys, for messages.
pub(crate) const TOP_KEYS: &str =
    "name, seed, replicates, duration, organisations, org, policy, workload, network, servers, cost_model, stacks, report, sweep";

/// Validation context: where errors point.
pub(crate) struct Cx<'a> {
    /// The scenario file (messages and corpus resolution).
    pub path: &'a Path,
    /// Key path -> position.
    pub index: &'a LocIndex,
    /// Scheme names for `stacks`.
    pub known: &'a KnownSchemes<'a>,
}

impl Cx<'_> {
    /// An error about `key` (located at the key, or its nearest present ancestor).
    fn err(&self, key: &str, message: impl Into<String>) -> ScenarioError {
        let pos = self.index.locate(key);
        ScenarioError::Invalid {
            path: self.path.to_path_buf(),
            line: pos.map(|p| p.line),
            column: pos.map(|p| p.column),
            key: Some(key.to_owned()).filter(|k| !k.is_empty()),
            message: message.into(),
        }
    }

    /// A required key.
    fn req<T>(&self, key: &str, v: Option<T>, what: &str) -> Result<T> {
        v.ok_or_else(|| {
            let last = key.rsplit('.').next().unwrap_or(key);
            self.err(
                key,
                format!("missing required key `{last}`: expected {what}"),
            )
        })
    }

    /// An integer in `lo..=hi`.
    fn int(&self, key: &str, v: i64, lo: i64, hi: i64) -> Result<u32> {
        if v < lo || v > hi {
            let why = if v < lo { "too small" } else { "too large" };
            return Err(self.err(
                key,
                format!("{why}: expected an integer from {lo} to {hi}, found {v}"),
            ));
        }
        u32::try_from(v).map_err(|_| {
            self.err(
                key,
                format!("expected an integer from {lo} to {hi}, found {v}"),
            )
        })
    }

    /// An optional integer in `lo..=hi` with a default.
    fn int_or(&self, key: &str, v: Option<i64>, default: u32, lo: i64, hi: i64) -> Result<u32> {
        match v {
            Some(v) => self.int(key, v, lo, hi),
            None => Ok(default),
        }
    }

    /// A finite number in `[lo, hi]`, or `(lo, hi]` when `lo_open`.
    fn num(&self, key: &str, v: f64, lo: f64, lo_open: bool, hi: f64) -> Result<f64> {
        let range = if lo_open {
            format!("greater than {lo} and at most {hi}")
        } else {
            format!("from {lo} to {hi}")
        };
        if !v.is_finite() {
            return Err(self.err(key, format!("expected a finite number {range}, found {v}")));
        }
        if v < lo || (lo_open && v <= lo) || v > hi {
            return Err(self.err(key, format!("expected a number {range}, found {v}")));
        }
        Ok(v)
    }

    /// A duration in `[0, max]` (`(0, max]` unless `allow_zero`).
    fn duration(
        &self,
        key: &str,
        t: &UnitText,
        allow_zero: bool,
        max: u64,
        max_text: &str,
    ) -> Result<u64> {
        let v = parse_duration(&t.0).map_err(|e| {
            self.err(
                key,
                format!("{e}; expected a duration such as 30ms, 1.5h or 8h"),
            )
        })?;
        if v == 0 && !allow_zero {
            return Err(self.err(
                key,
                format!("expected a duration greater than zero, found `{}`", t.0),
            ));
        }
        if v > max {
            return Err(self.err(
                key,
                format!("too large: expected at most {max_text}, found `{}`", t.0),
            ));
        }
        Ok(v)
    }

    /// A message size in `1..=1GiB`.
    fn msg_bytes(&self, key: &str, t: &UnitText) -> Result<u64> {
        let v = parse_bytes(&t.0)
            .map_err(|e| self.err(key, format!("{e}; expected a size such as 160B or 2KiB")))?;
        if v == 0 {
            return Err(self.err(key, "expected a size of at least 1B, found 0"));
        }
        if v > lim::MESSAGE_SIZE_MAX {
            return Err(self.err(
                key,
                format!(
                    "too large: expected at most 1GiB per message, found `{}`",
                    t.0
                ),
            ));
        }
        Ok(v)
    }

    /// A bandwidth in `(0, 1TB/s]`.
    fn bandwidth(&self, key: &str, t: &UnitText) -> Result<f64> {
        let v = parse_bandwidth(&t.0).map_err(|e| {
            self.err(
                key,
                format!("{e}; expected a bandwidth such as 5MB/s or 10Mbit/s"),
            )
        })?;
        if v <= 0.0 {
            return Err(self.err(
                key,
                format!("expected a bandwidth greater than zero, found `{}`", t.0),
            ));
        }
        if v > lim::BANDWIDTH_MAX {
            return Err(self.err(
                key,
                format!("too large: expected at most 1000GB/s, found `{}`", t.0),
            ));
        }
        Ok(v)
    }

    /// A rate, per user (`N/UNIT/user`) or organisation-wide (`N/UNIT`).
    fn rate(&self, key: &str, t: &UnitText, per_user: bool) -> Result<f64> {
        let example = if per_user { "30/h/user" } else { "4/h" };
        let r = parse_rate(&t.0)
            .map_err(|e| self.err(key, format!("{e}; expected a rate such as `{example}`")))?;
        let bare_zero = r.per_second == 0.0 && !t.0.contains('/');
        if !bare_zero && r.per_user != per_user {
            let msg = if per_user {
                format!(
                    "`{}` is an organisation-wide rate, but this rate is per user: write N/UNIT/user, for example `{example}`",
                    t.0
                )
            } else {
                format!(
                    "`{}` is a per-user rate, but churn rates are organisation-wide: write N/UNIT without `/user`, for example `{example}`",
                    t.0
                )
            };
            return Err(self.err(key, msg));
        }
        let (max, max_text) = if per_user {
            (lim::PER_USER_RATE_MAX, "100/s/user")
        } else {
            (lim::ORG_RATE_MAX, "10000/s")
        };
        if r.per_second > max {
            return Err(self.err(
                key,
                format!("too large: expected at most {max_text}, found `{}`", t.0),
            ));
        }
        Ok(r.per_second)
    }
}

/// Validates a deserialised spec.
pub(crate) fn validate(spec: ScenarioSpec, cx: &Cx<'_>, source_sha256: String) -> Result<Scenario> {
    let name = validate_name(cx, spec.name)?;
    let seed = spec.seed.unwrap_or(0);
    let replicates = cx.int_or(
        "replicates",
        spec.replicates,
        lim::DEFAULT_REPLICATES,
        1,
        lim::REPLICATES_MAX,
    )?;
    let duration = cx.req(
        "duration",
        spec.duration,
        "the simulated time covered, a duration such as 8h",
    )?;
    let duration = cx.duration("duration", &duration, false, lim::DURATION_MAX, "365d")?;
    let org = validate_org(
        cx,
        spec.organisations,
        cx.req(
            "org",
            spec.org,
            "a mapping with users, departments and rooms",
        )?,
    )?;
    let policy = validate_policy(cx, spec.policy.unwrap_or_default())?;
    let workload = validate_workload(cx, spec.workload.unwrap_or_default(), &org, duration)?;
    let network = validate_network(cx, spec.network.and_then(|n| n.clients))?;
    let servers_spec = spec.servers.unwrap_or_default();
    let servers = Servers {
        workers: cx.int_or(
            "servers.workers",
            servers_spec.workers,
            lim::DEFAULT_WORKERS,
            1,
            lim::WORKERS_MAX,
        )?,
        key_retention: servers_spec
            .key_retention
            .as_ref()
            .map(|t| cx.duration("servers.key_retention", t, false, lim::DURATION_MAX, "365d"))
            .transpose()?,
    };
    let cost_model = match spec.cost_model {
        Some(CostModelSpec::Measured) => CostModelKind::Measured,
        Some(CostModelSpec::Calibrated) | None => CostModelKind::Calibrated,
        Some(CostModelSpec::Model) => CostModelKind::Model,
    };
    let stacks = validate_stacks(
        cx,
        cx.req(
            "stacks",
            spec.stacks,
            "a non-empty list of stacks such as conventional+none+plaintext",
        )?,
    )?;
    if cost_model == CostModelKind::Model {
        if let Some(refusal) = stacks.iter().find_map(|st| cx.known.modelled.refusal(st)) {
            return Err(cx.err("cost_model", refusal));
        }
    }
    if servers.key_retention.is_some() {
        if let Some(st) = stacks
            .iter()
            .find(|st| !cx.known.kd_rejoining.contains(&st.kd.as_str()))
        {
            return Err(cx.err(
                "servers.key_retention",
                format!(
                    "stack `{}` uses key distribution `{}`, which cannot rejoin a room whose key traffic expired, so its key server must keep that traffic; only {} can. Remove `key_retention`, or run such stacks without it",
                    st.name(),
                    st.kd,
                    match cx.known.kd_rejoining {
                        [] => "no registered scheme".to_owned(),
                        names => names
                            .iter()
                            .map(|n| format!("`{n}`"))
                            .collect::<Vec<_>>()
                            .join(", "),
                    }
                ),
            ));
        }
    }
    let report = validate_report(cx, spec.report.unwrap_or_default())?;
    Ok(Scenario {
        name,
        seed,
        replicates,
        duration,
        org,
        policy,
        workload,
        network,
        servers,
        cost_model,
        stacks,
        report,
        source_sha256,
        source_path: cx.path.to_path_buf(),
        sweep: Vec::new(),
    })
}

fn history(h: HistorySpec) -> HistoryPolicy {
    match h {
        HistorySpec::Shared => HistoryPolicy::Shared,
        HistorySpec::FromJoin => HistoryPolicy::FromJoin,
    }
}

fn validate_name(cx: &Cx<'_>, name: Option<String>) -> Result<String> {
    let name = cx.req(
        "name",
        name,
        "the scenario's name, letters, digits, `.`, `_` and `-` (it names the report directory)",
    )?;
    if name.is_empty() {
        return Err(cx.err("name", "expected a non-empty name"));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(cx.err(
            "name",
            format!(
                "invalid character {bad:?} in `{name}`: a name may hold only letters A-Z a-z, digits, `.`, `_` and `-` (it names the report directory)"
            ),
        ));
    }
    if name == "." || name == ".." {
        return Err(cx.err("name", format!("`{name}` cannot name a directory")));
    }
    if name.len() > lim::NAME_MAX_LEN {
        return Err(cx.err(
            "name",
            format!("too long: at most {} characters", lim::NAME_MAX_LEN),
        ));
    }
    Ok(name)
}

fn validate_policy(cx: &Cx<'_>, p: PolicySpec) -> Result<Policy> {
    let key_period = match &p.key_period {
        Some(t) => {
            let k = "policy.key_period";
            let v = cx.duration(k, t, true, lim::DURATION_MAX, "365d")?;
            if v < lim::KEY_PERIOD_MIN {
                return Err(cx.err(
                    k,
                    format!(
                        "too short: expected a key period of at least 1s, found `{}`",
                        t.0
                    ),
                ));
            }
            v
        }
        None => lim::DEFAULT_KEY_PERIOD,
    };
    Ok(Policy {
        history: p.history.map_or(HistoryPolicy::Shared, history),
        key_period,
    })
}

/// `a, b and c`-style list of organisation names, for messages.
fn org_names(organisations: &[Organisation], orgs: &[u16]) -> String {
    orgs.iter()
        .filter_map(|&k| organisations.get(usize::from(k)))
        .map(|o| o.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Index of the organisation named `name`.
fn find_org(organisations: &[Organisation], name: &str) -> Option<u16> {
    organisations
        .iter()
        .position(|o| o.name == name)
        .and_then(|k| u16::try_from(k).ok())
}

/// `organisations[i].name`, well-formed and not taken by an earlier entry.
fn validate_org_name(
    cx: &Cx<'_>,
    key: &str,
    name: Option<String>,
    taken: &[Organisation],
) -> Result<String> {
    let name = cx.req(
        key,
        name,
        "the organisation's name, lower-case letters a-z, digits and `-`",
    )?;
    if name.is_empty() {
        return Err(cx.err(key, "expected a non-empty organisation name"));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Err(cx.err(
            key,
            format!("invalid character {bad:?} in `{name}`: an organisation name may hold only lower-case letters a-z, digits and `-`"),
        ));
    }
    if name.len() > lim::ORGANISATION_NAME_MAX_LEN {
        return Err(cx.err(
            key,
            format!(
                "too long: at most {} characters",
                lim::ORGANISATION_NAME_MAX_LEN
            ),
        ));
    }
    if let Some(k) = taken.iter().position(|o| o.name == name) {
        return Err(cx.err(
            key,
            format!("duplicate organisation name `{name}` (organisations[{k}] has it already): names must be unique"),
        ));
    }
    Ok(name)
}

/// `organisations`: names, users, departments and trust lists; users and departments are laid
/// out in file order.
fn validate_organisations(cx: &Cx<'_>, list: Vec<OrganisationSpec>) -> Result<Vec<Organisation>> {
    let key = "organisations";
    if list.is_empty() {
        return Err(cx.err(
            key,
            "expected at least one organisation { name, users, departments, trusts } (leave `organisations` out for a single organisation described by org.users and org.departments)",
        ));
    }
    if list.len() > lim::ORGANISATIONS_MAX {
        return Err(cx.err(
            key,
            format!(
                "too many organisations: at most {}, found {}",
                lim::ORGANISATIONS_MAX,
                list.len()
            ),
        ));
    }
    let mut out: Vec<Organisation> = Vec::with_capacity(list.len());
    let mut trusts_named: Vec<Option<Vec<String>>> = Vec::with_capacity(list.len());
    let (mut first_user, mut first_department) = (0u32, 0u32);
    for (i, o) in list.into_iter().enumerate() {
        let k = format!("{key}[{i}]");
        let name = validate_org_name(cx, &join(&k, "name"), o.name, &out)?;
        let uk = join(&k, "users");
        let users = cx.req(
            &uk,
            o.users,
            "the number of users of the organisation, at least 1",
        )?;
        let users = cx.int(&uk, users, lim::ORGANISATION_USERS_MIN, lim::USERS_MAX)?;
        let total = u64::from(first_user) + u64::from(users);
        if total > lim::USERS_MAX as u64 {
            return Err(cx.err(
                &uk,
                format!(
                    "too many users: the organisations together may have at most {} users, these bring the total to {total}",
                    lim::USERS_MAX
                ),
            ));
        }
        let dk = join(&k, "departments");
        let departments = match o.departments {
            Some(d) => {
                if d > i64::from(users) {
                    return Err(cx.err(
                        &dk,
                        format!(
                            "more departments ({d}) than users ({users}): expected 1 to {users}"
                        ),
                    ));
                }
                cx.int(&dk, d, 1, i64::from(users))?
            }
            None => 1,
        };
        out.push(Organisation {
            name,
            first_user,
            users,
            first_department,
            departments,
            trusts: Vec::new(),
        });
        trusts_named.push(o.trusts);
        first_user += users;
        first_department += departments;
    }
    if i64::from(first_user) < lim::USERS_MIN {
        return Err(cx.err(
            key,
            format!(
                "the organisations have {first_user} user in all: a scenario needs at least {} users",
                lim::USERS_MIN
            ),
        ));
    }
    let all = (0..out.len())
        .filter_map(|k| u16::try_from(k).ok())
        .collect::<Vec<_>>();
    for (i, named) in trusts_named.into_iter().enumerate() {
        let Some(named) = named else { continue };
        let mut trusts: Vec<u16> = Vec::with_capacity(named.len());
        for (j, name) in named.iter().enumerate() {
            let tk = format!("{key}[{i}].trusts[{j}]");
            let Some(t) = find_org(&out, name) else {
                return Err(cx.err(
                    &tk,
                    format!(
                        "unknown organisation `{name}`; organisations: {}",
                        org_names(&out, &all)
                    ),
                ));
            };
            if usize::from(t) == i {
                return Err(cx.err(
                    &tk,
                    format!("`{name}` cannot trust itself: `trusts` lists the other organisations whose KMS and directory it accepts (its own are always trusted)"),
                ));
            }
            if trusts.contains(&t) {
                return Err(cx.err(&tk, format!("`{name}` is listed twice")));
            }
            trusts.push(t);
        }
        trusts.sort_unstable();
        if let Some(o) = out.get_mut(i) {
            o.trusts = trusts;
        }
    }
    Ok(out)
}

fn validate_org(
    cx: &Cx<'_>,
    organisations: Option<Vec<OrganisationSpec>>,
    org: OrgSpec,
) -> Result<Org> {
    let organisations = match organisations {
        Some(list) => {
            for (k, given) in [
                ("org.users", org.users.is_some()),
                ("org.departments", org.departments.is_some()),
            ] {
                if given {
                    let last = k.rsplit('.').next().unwrap_or(k);
                    return Err(cx.err(
                        k,
                        format!("`{last}` is not allowed with `organisations`: each organisation gives its own `{last}` (organisations[i].{last})"),
                    ));
                }
            }
            validate_organisations(cx, list)?
        }
        None => {
            let users = cx.req("org.users", org.users, "the number of users")?;
            let users = cx.int("org.users", users, lim::USERS_MIN, lim::USERS_MAX)?;
            let departments = match org.departments {
                Some(d) => {
                    if d > i64::from(users) {
                        return Err(cx.err(
                            "org.departments",
                            format!("more departments ({d}) than users ({users}): expected 1 to {users}"),
                        ));
                    }
                    cx.int("org.departments", d, 1, i64::from(users))?
                }
                None => 1,
            };
            Org::single(users, departments, Vec::new()).organisations
        }
    };
    let users: u32 = organisations.iter().map(|o| o.users).sum();
    let departments: u32 = organisations.iter().map(|o| o.departments).sum();
    let rooms = cx.req(
        "org.rooms",
        org.rooms,
        "a list of room groups such as { kind: department }",
    )?;
    if rooms.is_empty() {
        return Err(cx.err(
            "org.rooms",
            "expected at least one room group (kind: department, org or project)",
        ));
    }
    let mut groups = Vec::with_capacity(rooms.len());
    let mut total_rooms: u64 = 0;
    for (i, room) in rooms.into_iter().enumerate() {
        let key = format!("org.rooms[{i}]");
        let group = validate_room(cx, &key, room, &organisations)?;
        total_rooms += match &group.kind {
            RoomKind::Department => group
                .orgs
                .iter()
                .filter_map(|&k| organisations.get(usize::from(k)))
                .map(|o| u64::from(o.departments))
                .sum(),
            RoomKind::Org => 1,
            RoomKind::Project { count, .. } => u64::from(*count),
        };
        if total_rooms > lim::ROOMS_TOTAL_MAX {
            return Err(cx.err(
                &key,
                format!(
                    "too many rooms: the organisation may have at most {} rooms in all",
                    lim::ROOMS_TOTAL_MAX
                ),
            ));
        }
        groups.push(group);
    }
    Ok(Org {
        users,
        departments,
        rooms: groups,
        organisations,
    })
}

/// `org.rooms[i].orgs`: the organisations whose users may be members of the group's rooms,
/// ascending (default: every organisation). Every two of them must trust each other, unless the
/// group is `kind: department` (whose rooms never mix organisations).
fn validate_room_orgs(
    cx: &Cx<'_>,
    key: &str,
    names: Option<Vec<String>>,
    organisations: &[Organisation],
    mixes: bool,
) -> Result<Vec<u16>> {
    let ok = join(key, "orgs");
    let all: Vec<u16> = (0..organisations.len())
        .filter_map(|k| u16::try_from(k).ok())
        .collect();
    let explicit = names.is_some();
    let orgs = match names {
        None => all.clone(),
        Some(names) => {
            if names.is_empty() {
                return Err(cx.err(
                    &ok,
                    "expected at least one organisation name (leave `orgs` out for every organisation)",
                ));
            }
            let mut orgs: Vec<u16> = Vec::with_capacity(names.len());
            for (j, name) in names.iter().enumerate() {
                let k = format!("{ok}[{j}]");
                let Some(t) = find_org(organisations, name) else {
                    return Err(cx.err(
                        &k,
                        format!(
                            "unknown organisation `{name}`; organisations: {}",
                            org_names(organisations, &all)
                        ),
                    ));
                };
                if orgs.contains(&t) {
                    return Err(cx.err(&k, format!("organisation `{name}` is listed twice")));
                }
                orgs.push(t);
            }
            orgs.sort_unstable();
            orgs
        }
    };
    if mixes {
        let trusts = |a: u16, b: u16| {
            organisations
                .get(usize::from(a))
                .is_some_and(|o| o.trusts.binary_search(&b).is_ok())
        };
        for (x, &a) in orgs.iter().enumerate() {
            for &b in orgs.iter().skip(x + 1) {
                for (p, q) in [(a, b), (b, a)] {
                    if !trusts(p, q) {
                        let name = |k: u16| {
                            organisations
                                .get(usize::from(k))
                                .map_or("?", |o| o.name.as_str())
                        };
                        let (pn, qn) = (name(p), name(q));
                        let how = if explicit {
                            "this group's rooms mix their users"
                        } else {
                            "without `orgs` this group's rooms take members from every organisation"
                        };
                        return Err(cx.err(
                            if explicit { &ok } else { key },
                            format!("{pn} does not trust {qn}: {how}, so each must trust the other (add `{qn}` to the `trusts` of {pn}, or list fewer organisations in `orgs`)"),
                        ));
                    }
                }
            }
        }
    }
    Ok(orgs)
}

fn validate_room(
    cx: &Cx<'_>,
    key: &str,
    room: RoomSpec,
    organisations: &[Organisation],
) -> Result<RoomGroup> {
    let kind = cx.req(
        &join(key, "kind"),
        room.kind,
        "one of department, org, project",
    )?;
    let orgs = validate_room_orgs(
        cx,
        key,
        room.orgs,
        organisations,
        kind != RoomKindSpec::Department,
    )?;
    let of_group = || {
        orgs.iter()
            .filter_map(|&k| organisations.get(usize::from(k)))
    };
    let users: u32 = of_group().map(|o| o.users).sum();
    let (kind, smallest) = match kind {
        RoomKindSpec::Department | RoomKindSpec::Org => {
            let name = if kind == RoomKindSpec::Org {
                "org"
            } else {
                "department"
            };
            if room.count.is_some() {
                return Err(cx.err(
                    &join(key, "count"),
                    format!("`count` applies only to kind: project; kind: {name} creates its rooms itself"),
                ));
            }
            if room.size.is_some() {
                return Err(cx.err(
                    &join(key, "size"),
                    format!("`size` applies only to kind: project; the size of kind: {name} rooms follows from the organisation"),
                ));
            }
            if kind == RoomKindSpec::Org {
                (RoomKind::Org, users)
            } else {
                let smallest = of_group()
                    .map(Organisation::smallest_department)
                    .min()
                    .unwrap_or(0);
                (RoomKind::Department, smallest)
            }
        }
        RoomKindSpec::Project => {
            let ck = join(key, "count");
            let count = cx.req(&ck, room.count, "the number of project rooms, 1 to 100000")?;
            let count = cx.int(&ck, count, 1, lim::PROJECT_COUNT_MAX)?;
            let sk = join(key, "size");
            let size = cx.req(
                &sk,
                room.size,
                "the room size: an integer, { uniform: { min, max } } or { zipf: { min, max, s } }",
            )?;
            let pool = if organisations.len() == 1 {
                format!("the organisation ({users} users)")
            } else {
                format!(
                    "the users of its organisations ({users} users: {})",
                    org_names(organisations, &orgs)
                )
            };
            let size = validate_room_size(cx, &sk, size, users, &pool)?;
            let smallest = match size {
                SizeDist::Fixed(n) => n,
                SizeDist::Uniform { min, .. } | SizeDist::Zipf { min, .. } => min,
            };
            (RoomKind::Project { count, size }, smallest)
        }
    };
    let ak = join(key, "admins");
    let admins = cx.int_or(&ak, room.admins, 1, 1, i64::from(u32::MAX))?;
    if admins > smallest {
        return Err(cx.err(
            &ak,
            format!("{admins} admins do not fit in the smallest room of this group ({smallest} members): expected 1 to {smallest}"),
        ));
    }
    let preload = cx.int_or(&join(key, "preload"), room.preload, 0, 0, lim::PRELOAD_MAX)?;
    let activity = match room.activity {
        Some(a) => cx.num(&join(key, "activity"), a, 0.0, true, lim::ACTIVITY_MAX)?,
        None => 1.0,
    };
    Ok(RoomGroup {
        kind,
        admins,
        history: room.history.map(history),
        preload,
        activity,
        orgs,
    })
}

/// `size` of a project group whose members are drawn from `users` users (`pool` describes them
/// for messages).
fn validate_room_size(
    cx: &Cx<'_>,
    key: &str,
    size: RoomSizeSpec,
    users: u32,
    pool: &str,
) -> Result<SizeDist> {
    let bound = |k: &str, v: i64| -> Result<u32> {
        if v > i64::from(users) {
            return Err(cx.err(k, format!("a room of {v} members is larger than {pool}")));
        }
        if v < lim::ROOM_SIZE_MIN {
            return Err(cx.err(
                k,
                format!("a project room has at least 2 members, found {v}"),
            ));
        }
        cx.int(k, v, lim::ROOM_SIZE_MIN, i64::from(users))
    };
    Ok(match size {
        RoomSizeSpec::Fixed(n) => SizeDist::Fixed(bound(key, n)?),
        RoomSizeSpec::Uniform(r) => {
            let uk = join(key, "uniform");
            let (mink, maxk) = (join(&uk, "min"), join(&uk, "max"));
            let min = bound(&mink, cx.req(&mink, r.min, "the smallest room size")?)?;
            let max = bound(&maxk, cx.req(&maxk, r.max, "the largest room size")?)?;
            if min > max {
                return Err(cx.err(&mink, format!("min ({min}) is larger than max ({max})")));
            }
            SizeDist::Uniform { min, max }
        }
        RoomSizeSpec::Zipf(z) => {
            let zk = join(key, "zipf");
            let (mink, maxk, sk) = (join(&zk, "min"), join(&zk, "max"), join(&zk, "s"));
            let min = match z.min {
                Some(v) => bound(&mink, v)?,
                None => 2,
            };
            let max = bound(&maxk, cx.req(&maxk, z.max, "the largest room size")?)?;
            if min > max {
                return Err(cx.err(&mink, format!("min ({min}) is larger than max ({max})")));
            }
            let s = cx.req(&sk, z.s, "the Zipf exponent, such as 1.1")?;
            let s = cx.num(&sk, s, 0.0, true, lim::ZIPF_S_MAX)?;
            SizeDist::Zipf { min, max, s }
        }
    })
}

fn validate_workload(cx: &Cx<'_>, w: WorkloadSpec, org: &Org, duration: u64) -> Result<Workload> {
    Ok(Workload {
        messages: validate_messages(cx, w.messages.unwrap_or_default())?,
        keywords: validate_keywords(cx, w.keywords.unwrap_or_default())?,
        search: validate_search(cx, w.search.unwrap_or_default())?,
        login: validate_login(cx, w.login.unwrap_or_default())?,
        churn: validate_churn(cx, w.churn.unwrap_or_default(), org, duration)?,
        history: History {
            read: cx.int_or(
                "workload.history.read",
                w.history.and_then(|h| h.read),
                lim::DEFAULT_HISTORY_READ,
                0,
                lim::FETCH_MAX,
            )?,
        },
        canaries: match w.canaries {
            Some(c) => cx.num("workload.canaries", c, 0.0, false, 1.0)?,
            None => lim::DEFAULT_CANARIES,
        },
    })
}

fn validate_messages(cx: &Cx<'_>, m: MessagesSpec) -> Result<Messages> {
    let rate_per_user = match &m.rate {
        Some(t) => cx.rate("workload.messages.rate", t, true)?,
        None => lim::DEFAULT_MESSAGE_RATE,
    };
    let key = "workload.messages.size";
    let size = match m.size {
        None => ByteDist::LogNormal {
            median: lim::DEFAULT_MESSAGE_MEDIAN,
            sigma: lim::DEFAULT_MESSAGE_SIGMA,
        },
        Some(ByteSizeSpec::Fixed(t)) => ByteDist::Fixed(cx.msg_bytes(key, &t)?),
        Some(ByteSizeSpec::Uniform(r)) => {
            let mink = format!("{key}.uniform.min");
            let maxk = format!("{key}.uniform.max");
            let min = cx.msg_bytes(
                &mink,
                &cx.req(&mink, r.min, "the smallest size, such as 20B")?,
            )?;
            let max = cx.msg_bytes(
                &maxk,
                &cx.req(&maxk, r.max, "the largest size, such as 2KB")?,
            )?;
            if min > max {
                return Err(cx.err(&mink, format!("min ({min}B) is larger than max ({max}B)")));
            }
            ByteDist::Uniform { min, max }
        }
        Some(ByteSizeSpec::LogNormal(l)) => {
            let mk = format!("{key}.lognormal.median");
            let sk = format!("{key}.lognormal.sigma");
            let median = match &l.median {
                Some(t) => cx.msg_bytes(&mk, t)?,
                None => lim::DEFAULT_MESSAGE_MEDIAN,
            };
            let sigma = match l.sigma {
                Some(s) => cx.num(&sk, s, 0.0, false, lim::SIGMA_MAX)?,
                None => lim::DEFAULT_MESSAGE_SIGMA,
            };
            ByteDist::LogNormal { median, sigma }
        }
    };
    Ok(Messages {
        rate_per_user,
        size,
    })
}

fn validate_keywords(cx: &Cx<'_>, k: KeywordsSpec) -> Result<Keywords> {
    let per_message = cx.int_or(
        "workload.keywords.per_message",
        k.per_message,
        lim::DEFAULT_PER_MESSAGE,
        0,
        lim::PER_MESSAGE_MAX,
    )?;
    let source = if let Some(corpus) = k.corpus {
        let ck = "workload.keywords.corpus";
        if k.vocabulary.is_some() || k.zipf.is_some() {
            let other = if k.vocabulary.is_some() {
                "vocabulary"
            } else {
                "zipf"
            };
            return Err(cx.err(
                &format!("workload.keywords.{other}"),
                format!("`{other}` and `corpus` are mutually exclusive: synthetic words (vocabulary, zipf) or a corpus file, not both"),
            ));
        }
        if corpus.trim().is_empty() {
            return Err(cx.err(
                ck,
                "expected the path of a JSONL corpus file, found an empty string",
            ));
        }
        let base = cx.path.parent().unwrap_or_else(|| Path::new(""));
        let resolved: PathBuf = base.join(&corpus);
        if !resolved.is_file() {
            return Err(cx.err(
                ck,
                format!(
                    "corpus file not found: `{}` (relative paths are resolved against the scenario file's directory)",
                    resolved.display()
                ),
            ));
        }
        // Read now, so that a malformed corpus is bad input before any simulation starts.
        crate::workload::Corpus::load(&resolved).map_err(|e| cx.err(ck, e.to_string()))?;
        KeywordSource::Corpus(resolved)
    } else {
        let vocabulary = cx.int_or(
            "workload.keywords.vocabulary",
            k.vocabulary,
            lim::DEFAULT_VOCABULARY,
            1,
            lim::VOCABULARY_MAX,
        )?;
        let zipf = match k.zipf {
            Some(z) => cx.num("workload.keywords.zipf", z, 0.0, true, lim::ZIPF_S_MAX)?,
            None => lim::DEFAULT_KEYWORD_ZIPF,
        };
        if per_message > vocabulary {
            return Err(cx.err(
                "workload.keywords.per_message",
                format!("{per_message} distinct keywords per message do not fit in a vocabulary of {vocabulary} words"),
            ));
        }
        KeywordSource::Synthetic { vocabulary, zipf }
    };
    Ok(Keywords {
        source,
        per_message,
    })
}

fn validate_search(cx: &Cx<'_>, s: SearchSpec) -> Result<Search> {
    Ok(Search {
        rate_per_user: match &s.rate {
            Some(t) => cx.rate("workload.search.rate", t, true)?,
            None => lim::DEFAULT_SEARCH_RATE,
        },
        fetch: cx.int_or(
            "workload.search.fetch",
            s.fetch,
            lim::DEFAULT_FETCH,
            0,
            lim::FETCH_MAX,
        )?,
    })
}

fn validate_login(cx: &Cx<'_>, l: LoginSpec) -> Result<Login> {
    Ok(Login {
        rate_per_user: match &l.rate {
            Some(t) => cx.rate("workload.login.rate", t, true)?,
            None => lim::DEFAULT_LOGIN_RATE,
        },
        recent: cx.int_or(
            "workload.login.recent",
            l.recent,
            lim::DEFAULT_RECENT,
            0,
            lim::FETCH_MAX,
        )?,
        session: match &l.session {
            Some(t) => cx.duration(
                "workload.login.session",
                t,
                false,
                lim::DURATION_MAX,
                "365d",
            )?,
            None => lim::DEFAULT_SESSION,
        },
        online_at_start: match l.online_at_start {
            Some(v) => cx.num("workload.login.online_at_start", v, 0.0, false, 1.0)?,
            None => lim::DEFAULT_ONLINE_AT_START,
        },
    })
}

fn validate_churn(cx: &Cx<'_>, c: ChurnSpec, org: &Org, duration: u64) -> Result<Churn> {
    let rate = |key: &str, t: &Option<UnitText>| -> Result<f64> {
        match t {
            Some(t) => cx.rate(key, t, false),
            None => Ok(0.0),
        }
    };
    let join_rate = rate("workload.churn.join", &c.join)?;
    let leave_rate = rate("workload.churn.leave", &c.leave)?;
    let move_rate = rate("workload.churn.move", &c.move_)?;
    let mut events = Vec::new();
    for (i, e) in c.events.unwrap_or_default().into_iter().enumerate() {
        let key = format!("workload.churn.events[{i}]");
        let ak = join(&key, "at");
        let at = cx.req(&ak, e.at, "the simulated time of the event, such as 4h")?;
        let at = cx.duration(&ak, &at, true, lim::DURATION_MAX, "365d")?;
        if at > duration {
            return Err(cx.err(
                &ak,
                format!(
                    "the event is after the end of the scenario (duration {})",
                    fmt_duration(duration)
                ),
            ));
        }
        let rk = join(&key, "reorg");
        let kinds =
            "the event kind; allowed kinds: reorg: { from, to, share }, leave: all, join: all";
        let given = [e.reorg.is_some(), e.leave.is_some(), e.join.is_some()];
        if given.iter().filter(|g| **g).count() > 1 {
            return Err(cx.err(&key, format!("an event has exactly one kind ({kinds})")));
        }
        for (what, name, kind) in [
            (e.leave.as_deref(), "leave", ScheduledKind::LeaveEach),
            (e.join.as_deref(), "join", ScheduledKind::JoinEach),
        ] {
            if let Some(what) = what {
                if what != "all" {
                    return Err(cx.err(
                        &join(&key, name),
                        format!("unknown {name} target {what:?}: expected all"),
                    ));
                }
                events.push(ScheduledEvent { at, kind });
            }
        }
        if e.leave.is_some() || e.join.is_some() {
            continue;
        }
        let reorg = cx.req(&rk, e.reorg, kinds)?;
        let d = org.departments;
        let last = i64::from(d) - 1;
        let counted = if org.organisations.len() == 1 {
            format!("org.departments is {d}")
        } else {
            format!("the organisations have {d} departments in all, organisation 0's first")
        };
        let dept = |k: &str, v: Option<i64>| -> Result<u32> {
            let v = cx.req(k, v, "a department index")?;
            if v < 0 || v > last {
                return Err(cx.err(
                    k,
                    format!("department {v} is out of range: departments are numbered 0 to {last} ({counted})"),
                ));
            }
            cx.int(k, v, 0, last)
        };
        let (fk, tk, sk) = (join(&rk, "from"), join(&rk, "to"), join(&rk, "share"));
        let from = dept(&fk, reorg.from)?;
        let to = dept(&tk, reorg.to)?;
        if from == to {
            return Err(cx.err(
                &tk,
                format!("`to` must differ from `from` (both are {from})"),
            ));
        }
        let (of, ot) = (
            org.organisation_of_department(from),
            org.organisation_of_department(to),
        );
        if of != ot {
            let o = |k: u16| org.organisations.get(usize::from(k));
            let name = |k: u16| o(k).map_or("?", |o| o.name.as_str());
            let range = o(of).map_or(String::new(), |o| {
                format!(
                    " ({}'s departments are {} to {})",
                    o.name,
                    o.first_department,
                    o.first_department + o.departments.saturating_sub(1)
                )
            });
            return Err(cx.err(
                &tk,
                format!(
                    "department {to} belongs to {} but department {from} belongs to {}: a reorganisation moves users between departments of one organisation{range}",
                    name(ot),
                    name(of)
                ),
            ));
        }
        let share = cx.req(
            &sk,
            reorg.share,
            "the share of the department's users that move, in (0, 1]",
        )?;
        let share = cx.num(&sk, share, 0.0, true, 1.0)?;
        events.push(ScheduledEvent {
            at,
            kind: ScheduledKind::Reorg { from, to, share },
        });
    }
    events.sort_by_key(|e| e.at);
    Ok(Churn {
        join_rate,
        leave_rate,
        move_rate,
        events,
    })
}

/// A duration for messages, in the largest whole unit.
fn fmt_duration(ns: u64) -> String {
    const UNITS: [(u64, &str); 6] = [
        (86_400_000_000_000, "d"),
        (3_600_000_000_000, "h"),
        (60_000_000_000, "min"),
        (1_000_000_000, "s"),
        (1_000_000, "ms"),
        (1_000, "us"),
    ];
    for (f, u) in UNITS {
        if ns >= f && ns % f == 0 {
            return format!("{}{u}", ns / f);
        }
    }
    format!("{ns}ns")
}

fn validate_network(cx: &Cx<'_>, clients: Option<Vec<ClientSpec>>) -> Result<Network> {
    let Some(clients) = clients else {
        return Ok(Network {
            clients: vec![ClientClass {
                share: 1.0,
                rtt: lim::DEFAULT_RTT,
                jitter: lim::DEFAULT_JITTER,
                down: lim::DEFAULT_DOWN,
                up: lim::DEFAULT_UP,
            }],
        });
    };
    let key = "network.clients";
    if clients.is_empty() {
        return Err(cx.err(
            key,
            "expected at least one client class { share, rtt, jitter, down, up }",
        ));
    }
    if clients.len() > lim::CLIENT_CLASSES_MAX {
        return Err(cx.err(
            key,
            format!(
                "too many client classes: at most {}",
                lim::CLIENT_CLASSES_MAX
            ),
        ));
    }
    let single = clients.len() == 1;
    let mut out = Vec::with_capacity(clients.len());
    let mut sum = 0.0;
    for (i, c) in clients.into_iter().enumerate() {
        let k = format!("{key}[{i}]");
        let shk = join(&k, "share");
        let share = match c.share {
            Some(s) => cx.num(&shk, s, 0.0, true, 1.0)?,
            None if single => 1.0,
            None => {
                return Err(cx.err(
                    &shk,
                    "missing required key `share`: with several client classes each needs its share of users, in (0, 1], summing to 1",
                ))
            }
        };
        sum += share;
        let rtt = match &c.rtt {
            Some(t) => cx.duration(&join(&k, "rtt"), t, false, lim::DELAY_MAX, "60s")?,
            None => lim::DEFAULT_RTT,
        };
        let jitter = match &c.jitter {
            Some(t) => cx.duration(&join(&k, "jitter"), t, true, lim::DELAY_MAX, "60s")?,
            None => lim::DEFAULT_JITTER,
        };
        let down = match &c.down {
            Some(t) => cx.bandwidth(&join(&k, "down"), t)?,
            None => lim::DEFAULT_DOWN,
        };
        let up = match &c.up {
            Some(t) => cx.bandwidth(&join(&k, "up"), t)?,
            None => lim::DEFAULT_UP,
        };
        out.push(ClientClass {
            share,
            rtt,
            jitter,
            down,
            up,
        });
    }
    if (sum - 1.0).abs() > lim::SHARE_SUM_TOLERANCE {
        return Err(cx.err(
            key,
            format!(
                "the client shares sum to {}, expected 1",
                (sum * 1e9).round() / 1e9
            ),
        ));
    }
    Ok(Network { clients: out })
}

/// Checks one scheme name against its family.
fn check_scheme(cx: &Cx<'_>, key: &str, family: &str, name: &str, known: &[&str]) -> Result<()> {
    if known.contains(&name) {
        return Ok(());
    }
    let allowed = if known.is_empty() {
        "(none)".to_owned()
    } else {
        known.join(", ")
    };
    let shown = if name.is_empty() { "(empty)" } else { name };
    Err(cx.err(
        key,
        format!("unknown {family} scheme `{shown}`; allowed {family} schemes: {allowed}"),
    ))
}

fn validate_stacks(cx: &Cx<'_>, entries: Vec<StackEntrySpec>) -> Result<Vec<StackSpec>> {
    if entries.is_empty() {
        return Err(cx.err(
            "stacks",
            "expected at least one stack, such as conventional+none+plaintext",
        ));
    }
    let mut out: Vec<StackSpec> = Vec::new();
    for (i, entry) in entries.into_iter().enumerate() {
        let key = format!("stacks[{i}]");
        let (kds, pres, sses) = match entry {
            StackEntrySpec::Text(s) => {
                let parts: Vec<&str> = s.split('+').map(str::trim).collect();
                let [kd, pre, sse] = parts.as_slice() else {
                    return Err(cx.err(
                        &key,
                        format!(
                            "`{s}` has {} part{}; a stack is written kd+pre+sse (three scheme names joined by `+`), for example conventional+none+plaintext",
                            parts.len(),
                            if parts.len() == 1 { "" } else { "s" }
                        ),
                    ));
                };
                check_scheme(cx, &key, "kd", kd, cx.known.kd)?;
                check_scheme(cx, &key, "pre", pre, cx.known.pre)?;
                check_scheme(cx, &key, "sse", sse, cx.known.sse)?;
                (
                    vec![(*kd).to_owned()],
                    vec![(*pre).to_owned()],
                    vec![(*sse).to_owned()],
                )
            }
            StackEntrySpec::Map(m) => {
                let family = |fam: &str,
                              names: Option<super::spec::Names>,
                              known: &[&str]|
                 -> Result<Vec<String>> {
                    let fk = join(&key, fam);
                    let names = cx
                        .req(&fk, names, "a scheme name or a list of scheme names")?
                        .0;
                    if names.is_empty() {
                        return Err(cx.err(&fk, "expected at least one scheme name"));
                    }
                    for (j, n) in names.iter().enumerate() {
                        let nk = if cx.index.contains(&format!("{fk}[{j}]")) {
                            format!("{fk}[{j}]")
                        } else {
                            fk.clone()
                        };
                        check_scheme(cx, &nk, fam, n, known)?;
                    }
                    Ok(names)
                };
                (
                    family("kd", m.kd, cx.known.kd)?,
                    family("pre", m.pre, cx.known.pre)?,
                    family("sse", m.sse, cx.known.sse)?,
                )
            }
        };
        for kd in &kds {
            for pre in &pres {
                for sse in &sses {
                    let s = StackSpec {
                        kd: kd.clone(),
                        pre: pre.clone(),
                        sse: sse.clone(),
                    };
                    if !out.contains(&s) {
                        out.push(s);
                    }
                    if out.len() > lim::STACKS_MAX {
                        return Err(cx.err(
                            &key,
                            format!(
                                "too many stacks after expansion: at most {}",
                                lim::STACKS_MAX
                            ),
                        ));
                    }
                }
            }
        }
    }
    Ok(out)
}

fn validate_report(cx: &Cx<'_>, r: ReportSpec) -> Result<ReportOptions> {
    let percentiles = match r.percentiles {
        None => lim::DEFAULT_PERCENTILES.to_vec(),
        Some(ps) => {
            if ps.is_empty() {
                return Err(cx.err(
                    "report.percentiles",
                    "expected at least one percentile, such as [50, 95, 99]",
                ));
            }
            for (i, p) in ps.iter().enumerate() {
                let k = format!("report.percentiles[{i}]");
                if !p.is_finite() || *p <= 0.0 || *p > 100.0 {
                    return Err(cx.err(
                        &k,
                        format!("expected a percentile greater than 0 and at most 100, found {p}"),
                    ));
                }
            }
            ps
        }
    };
    let mut plots: Vec<String> = Vec::new();
    for (i, p) in r.plots.unwrap_or_default().into_iter().enumerate() {
        if !lim::PLOTS.contains(&p.as_str()) {
            return Err(cx.err(
                &format!("report.plots[{i}]"),
                format!(
                    "unknown plot `{p}`; allowed plots: {}",
                    lim::PLOTS.join(", ")
                ),
            ));
        }
        if !plots.contains(&p) {
            plots.push(p);
        }
    }
    Ok(ReportOptions { percentiles, plots })
}
