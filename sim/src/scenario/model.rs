//! The validated scenario: what a scenario file means once every key has been parsed, unit-checked
//! and cross-checked. Everything downstream (workload generator, engine, reports) reads only these
//! types; the YAML surface lives in `spec.rs`.
//!
//! Units are resolved here: durations are integer nanoseconds, sizes are bytes, bandwidths are
//! bytes per second and rates are events per second.

use std::path::PathBuf;

/// Nanoseconds of simulated time.
pub type Nanos = u64;

/// A fully validated scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// `name`: used for the default report directory `reports/<name>/`.
    pub name: String,
    /// `seed`: master seed of the run (overridable on the command line).
    pub seed: u64,
    /// `replicates`: number of seeds run per stack (`seed`, `seed + 1`, ...), merged in the report.
    pub replicates: u32,
    /// `duration`: simulated time covered by the workload.
    pub duration: Nanos,
    /// `org`: users, departments and rooms.
    pub org: Org,
    /// `policy`: default room policy.
    pub policy: Policy,
    /// `workload`: what people do.
    pub workload: Workload,
    /// `network`: client classes.
    pub network: Network,
    /// `servers`: server worker pools.
    pub servers: Servers,
    /// `cost_model`: how compute is charged.
    pub cost_model: CostModelKind,
    /// `stacks`: the columns of the report, lists already expanded to their product, in file order,
    /// duplicates removed.
    pub stacks: Vec<StackSpec>,
    /// `report`: output options.
    pub report: ReportOptions,
    /// Lower-case hex SHA-256 of the scenario file's bytes.
    pub source_sha256: String,
    /// The file the scenario was read from.
    pub source_path: PathBuf,
    /// `sweep`: the scenario at each point of a sweep, in order (empty without one). The
    /// scenario itself is the file as written; each point is it with the sweep's keys set.
    pub sweep: Vec<SweepPoint>,
}

/// One point of a `sweep`: the value of each axis, and the scenario with them set.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepPoint {
    /// Per axis, in the file's order: the key path and the value it has at this point (as
    /// written, one line).
    pub values: Vec<(String, String)>,
    /// The scenario at this point.
    pub scenario: Scenario,
}

impl SweepPoint {
    /// `key=value, key=value`: how reports name the point.
    #[must_use]
    pub fn label(&self) -> String {
        self.values
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The organisations of the scenario, their users, departments and rooms.
#[derive(Debug, Clone, PartialEq)]
pub struct Org {
    /// `org.users`, or the sum of `organisations[i].users`: number of users, ids `0..users`.
    pub users: u32,
    /// `org.departments`, or the sum of `organisations[i].departments`: each organisation's users
    /// are split into its departments of (nearly) equal size, in contiguous id blocks; global
    /// department indices run over organisation 0's departments first, then organisation 1's...
    pub departments: u32,
    /// `org.rooms`: room groups, in file order.
    pub rooms: Vec<RoomGroup>,
    /// `organisations`, in file order; a file without it has one, named "org", holding every user
    /// and department and trusting no other.
    pub organisations: Vec<Organisation>,
}

/// One entry of `organisations` (or the single organisation `org` of a file without it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organisation {
    /// `name`: unique, `[a-z0-9-]+`.
    pub name: String,
    /// Its users are `first_user .. first_user + users` (contiguous, in file order).
    pub first_user: u32,
    /// `users`: number of users, at least 1.
    pub users: u32,
    /// Its departments are `first_department .. first_department + departments`.
    pub first_department: u32,
    /// `departments`: 1 to `users`.
    pub departments: u32,
    /// Indices (into [`Org::organisations`]) of the other organisations it trusts, ascending.
    pub trusts: Vec<u16>,
}

impl Organisation {
    /// Whether `user` (u32 id) belongs to this organisation.
    #[must_use]
    pub fn holds_user(&self, user: u32) -> bool {
        user >= self.first_user && user - self.first_user < self.users
    }

    /// Whether the global department index `department` is one of this organisation's.
    #[must_use]
    pub fn holds_department(&self, department: u32) -> bool {
        department >= self.first_department && department - self.first_department < self.departments
    }

    /// Global department index of `user` (which must belong to this organisation): its users
    /// are split into its departments of (nearly) equal size, in contiguous id blocks.
    #[must_use]
    pub fn department_of(&self, user: u32) -> u32 {
        let local = u64::from(user.saturating_sub(self.first_user));
        let d = local * u64::from(self.departments.max(1)) / u64::from(self.users.max(1));
        self.first_department + u32::try_from(d).unwrap_or(u32::MAX)
    }

    /// Users of the smallest of its departments.
    #[must_use]
    pub fn smallest_department(&self) -> u32 {
        self.users / self.departments.max(1)
    }
}

impl Org {
    /// One organisation named `org` holding `users` users in `departments` departments and
    /// trusting nobody: what a file without `organisations` describes. Room groups are given
    /// `orgs: [0]`.
    #[must_use]
    pub fn single(users: u32, departments: u32, rooms: Vec<RoomGroup>) -> Self {
        let rooms = rooms
            .into_iter()
            .map(|mut g| {
                g.orgs = vec![0];
                g
            })
            .collect();
        Self {
            users,
            departments,
            rooms,
            organisations: vec![Organisation {
                name: "org".to_owned(),
                first_user: 0,
                users,
                first_department: 0,
                departments,
                trusts: Vec::new(),
            }],
        }
    }

    /// Organisation index of `user` (u32 id); the last organisation for an id past the end.
    #[must_use]
    pub fn organisation_of(&self, user: u32) -> u16 {
        // Organisations hold contiguous blocks in order: the last one starting at or before `user`.
        let k = self
            .organisations
            .partition_point(|o| o.first_user <= user)
            .saturating_sub(1);
        u16::try_from(k).unwrap_or(u16::MAX)
    }

    /// Organisation index of the global department index `department`; the last organisation for
    /// an index past the end.
    #[must_use]
    pub fn organisation_of_department(&self, department: u32) -> u16 {
        let k = self
            .organisations
            .partition_point(|o| o.first_department <= department)
            .saturating_sub(1);
        u16::try_from(k).unwrap_or(u16::MAX)
    }

    /// Whether organisations `a` and `b` trust each other (true when `a == b`).
    #[must_use]
    pub fn mutually_trusted(&self, a: u16, b: u16) -> bool {
        if a == b {
            return true;
        }
        let trusts = |x: u16, y: u16| {
            self.organisations
                .get(usize::from(x))
                .is_some_and(|o| o.trusts.binary_search(&y).is_ok())
        };
        trusts(a, b) && trusts(b, a)
    }

    /// Users of the organisations `orgs` (indices), together.
    #[must_use]
    pub fn users_of(&self, orgs: &[u16]) -> u32 {
        orgs.iter()
            .filter_map(|&k| self.organisations.get(usize::from(k)))
            .map(|o| o.users)
            .sum()
    }
}

/// One entry of `org.rooms`.
#[derive(Debug, Clone, PartialEq)]
pub struct RoomGroup {
    /// `kind` (with `count`/`size` for projects).
    pub kind: RoomKind,
    /// `admins`: how many of each room's initial members are admins (at least 1).
    pub admins: u32,
    /// `history`: overrides `policy.history` for these rooms.
    pub history: Option<HistoryPolicy>,
    /// `preload`: messages each room of the group already holds when the run starts.
    pub preload: u32,
    /// `activity`: how much each room of the group is chosen, against a member's other rooms,
    /// as the room its next message goes to (1 by default).
    pub activity: f64,
    /// `orgs`: indices of the organisations whose users may be members, ascending.
    pub orgs: Vec<u16>,
}

/// What kind of rooms a group creates.
#[derive(Debug, Clone, PartialEq)]
pub enum RoomKind {
    /// `kind: department`: one room per department of the group's organisations, holding all its
    /// members.
    Department,
    /// `kind: org`: one room holding every user of the group's organisations.
    Org,
    /// `kind: project`: `count` rooms whose sizes are drawn from `size`; members drawn uniformly
    /// without replacement from the users of the group's organisations.
    Project {
        /// `count`
        count: u32,
        /// `size`
        size: SizeDist,
    },
}

/// A distribution of room sizes (members).
#[derive(Debug, Clone, PartialEq)]
pub enum SizeDist {
    /// `size: 12`
    Fixed(u32),
    /// `size: { uniform: { min: 4, max: 30 } }`, inclusive.
    Uniform {
        /// smallest size
        min: u32,
        /// largest size
        max: u32,
    },
    /// `size: { zipf: { min: 2, max: 60, s: 1.1 } }`: P(k) proportional to k^-s on min..=max.
    Zipf {
        /// smallest size (default 2)
        min: u32,
        /// largest size
        max: u32,
        /// exponent, > 0
        s: f64,
    },
}

/// Whether a joiner may read messages sent before it joined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryPolicy {
    /// `shared`: joiners read the room's whole history.
    Shared,
    /// `from_join`: joiners read only what is sent after they join.
    FromJoin,
}

/// `policy`
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// `policy.history` (default `shared`).
    pub history: HistoryPolicy,
    /// `policy.key_period`: length of a KMS key period (credentials are re-issued at each
    /// boundary); default 30 days.
    pub key_period: Nanos,
}

/// `workload`
#[derive(Debug, Clone, PartialEq)]
pub struct Workload {
    /// `workload.messages`
    pub messages: Messages,
    /// `workload.keywords`
    pub keywords: Keywords,
    /// `workload.search`
    pub search: Search,
    /// `workload.login`
    pub login: Login,
    /// `workload.churn`
    pub churn: Churn,
    /// `workload.history`
    pub history: History,
    /// `workload.canaries`: share of messages (0..=1) that carry a canary plaintext and one canary
    /// keyword, for the security oracle (default 0.05).
    pub canaries: f64,
}

/// `workload.messages`
#[derive(Debug, Clone, PartialEq)]
pub struct Messages {
    /// `rate`: messages per second per user, while the user is online.
    pub rate_per_user: f64,
    /// `size`: body size distribution in bytes.
    pub size: ByteDist,
}

/// A distribution of byte sizes.
#[derive(Debug, Clone, PartialEq)]
pub enum ByteDist {
    /// `size: 160B`
    Fixed(u64),
    /// `size: { uniform: { min: 20B, max: 2KB } }`
    Uniform {
        /// smallest
        min: u64,
        /// largest
        max: u64,
    },
    /// `size: { lognormal: { median: 160B, sigma: 1.0 } }`
    LogNormal {
        /// median in bytes
        median: u64,
        /// sigma of the underlying normal, >= 0
        sigma: f64,
    },
}

/// `workload.keywords`
#[derive(Debug, Clone, PartialEq)]
pub struct Keywords {
    /// Where keywords come from.
    pub source: KeywordSource,
    /// `per_message`: distinct keywords per synthetic message (ignored for a corpus, whose
    /// messages carry their own words).
    pub per_message: u32,
}

/// Source of message words.
#[derive(Debug, Clone, PartialEq)]
pub enum KeywordSource {
    /// `vocabulary: 20000, zipf: 1.1`: synthetic words drawn from a Zipf law.
    Synthetic {
        /// number of distinct words
        vocabulary: u32,
        /// Zipf exponent, > 0
        zipf: f64,
    },
    /// `corpus: PATH`: a JSONL file of chat messages (resolved relative to the scenario file).
    Corpus(PathBuf),
}

/// `workload.search`
#[derive(Debug, Clone, PartialEq)]
pub struct Search {
    /// `rate`: searches per second per user, while online.
    pub rate_per_user: f64,
    /// `fetch`: how many of the newest matching messages the client fetches and decrypts.
    pub fetch: u32,
}

/// `workload.login`
#[derive(Debug, Clone, PartialEq)]
pub struct Login {
    /// `rate`: logins per second per user while offline (the rate at which sessions start).
    pub rate_per_user: f64,
    /// `recent`: messages per room decrypted at login.
    pub recent: u32,
    /// `session`: mean session length (exponentially distributed); the user is online for it.
    pub session: Nanos,
    /// `online_at_start`: share of users (0..=1) online at time zero (their login is not measured).
    pub online_at_start: f64,
}

/// `workload.churn`
#[derive(Debug, Clone, PartialEq)]
pub struct Churn {
    /// `join`: joins per second, organisation-wide.
    pub join_rate: f64,
    /// `leave`: leaves per second, organisation-wide.
    pub leave_rate: f64,
    /// `move`: moves per second, organisation-wide (a user leaves one room and joins another).
    pub move_rate: f64,
    /// `events`: scheduled events, sorted by time.
    pub events: Vec<ScheduledEvent>,
}

/// One entry of `workload.churn.events`.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduledEvent {
    /// `at`: simulated time of the event.
    pub at: Nanos,
    /// What happens.
    pub kind: ScheduledKind,
}

/// Scheduled event kinds.
#[derive(Debug, Clone, PartialEq)]
pub enum ScheduledKind {
    /// `reorg: { from: 3, to: 5, share: 0.3 }`: a share of department `from`'s users move to
    /// department `to` (they leave `from`'s department room and join `to`'s).
    Reorg {
        /// global department index, `0..departments`
        from: u32,
        /// global department index, `0..departments`, != from, of the same organisation as `from`
        to: u32,
        /// share of `from`'s users that move, in (0, 1]
        share: f64,
    },
    /// `leave: all`: in every room with more than 2 members, one random non-admin member leaves.
    LeaveEach,
    /// `join: all`: one random user who is not a member joins every room.
    JoinEach,
}

/// `workload.history`
#[derive(Debug, Clone, PartialEq)]
pub struct History {
    /// `read`: messages from before its join that a joiner reads when it opens the room.
    pub read: u32,
}

/// `network`
#[derive(Debug, Clone, PartialEq)]
pub struct Network {
    /// `network.clients`: shares sum to 1 (within 1e-6).
    pub clients: Vec<ClientClass>,
}

/// One client class.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientClass {
    /// `share` of users in this class.
    pub share: f64,
    /// `rtt`: round-trip time to the servers.
    pub rtt: Nanos,
    /// `jitter`: one-way delay varies uniformly in `[0, jitter]` on top of `rtt / 2`.
    pub jitter: Nanos,
    /// `down`: downlink bandwidth, bytes per second.
    pub down: f64,
    /// `up`: uplink bandwidth, bytes per second.
    pub up: f64,
}

/// `servers`
#[derive(Debug, Clone, PartialEq)]
pub struct Servers {
    /// `workers`: worker threads of each server (key, message, search).
    pub workers: u32,
    /// `key_retention`: how long the key server keeps key-distribution messages queued for an
    /// offline user; `None` keeps them until the user comes back. Only stacks whose key
    /// distribution can rejoin a room ([`conclave_schemes::kd::KdProperties::rejoins`]) run
    /// with one.
    pub key_retention: Option<Nanos>,
}

/// `cost_model`
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CostModelKind {
    /// `measured`: each operation is charged its measured wall time.
    Measured,
    /// `calibrated`: each operation is charged from a calibration table.
    Calibrated,
    /// `model`: each operation is charged from a calibration table and no cryptography runs:
    /// every scheme runs as its model (`conclave_schemes::model`).
    Model,
}

/// One column of the report: a scheme from each family.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct StackSpec {
    /// key distribution scheme name
    pub kd: String,
    /// history protection scheme name
    pub pre: String,
    /// searchable encryption scheme name
    pub sse: String,
}

impl StackSpec {
    /// `kd+pre+sse`
    #[must_use]
    pub fn name(&self) -> String {
        format!("{}+{}+{}", self.kd, self.pre, self.sse)
    }
}

/// `report`
#[derive(Debug, Clone, PartialEq)]
pub struct ReportOptions {
    /// `percentiles` shown in Table 1 (default `[50, 95, 99]`), each in (0, 100].
    pub percentiles: Vec<f64>,
    /// `plots` requested (names checked against the known plot kinds).
    pub plots: Vec<String>,
}
