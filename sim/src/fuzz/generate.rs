//! Random valid scenarios: a [`FuzzScenario`] is drawn from a seed and rendered as scenario YAML,
//! which then goes through the same [`crate::scenario::parse`] path as a file given to
//! `conclave run`.
//!
//! The fields mirror the keys of the scenario language one for one. An `Option` that is `None`
//! leaves its key out of the file (so defaults are exercised too); every value drawn stays inside
//! the documented range, so a generated file that fails validation is a generator bug. Sizes are
//! kept small (tens of users, minutes to hours) so that a batch runs quickly, while the shapes are
//! the awkward ones: rooms of 1 or 2, many rooms per user, offline users, heavy churn.

use std::fmt::Write as _;
use std::path::PathBuf;

use rand::seq::SliceRandom;
use rand::Rng;

use crate::scenario::limits::DEFAULT_PER_MESSAGE;
use crate::scenario::{HistoryPolicy, StackSpec};

/// What the generator may draw from.
#[derive(Debug, Clone)]
pub struct GenConfig {
    /// Largest organisation (at least 2); organisations have 20 users or more unless this is
    /// smaller.
    pub max_users: u32,
    /// Stacks to draw from; empty means random stacks from every registered scheme.
    pub stacks: Vec<StackSpec>,
    /// Registered key-distribution schemes.
    pub kd: Vec<String>,
    /// Those of them that can rejoin a member: a scenario whose every stack uses one may get a
    /// `servers.key_retention`.
    pub kd_rejoining: Vec<String>,
    /// Registered history-protection schemes.
    pub pre: Vec<String>,
    /// Registered searchable-encryption schemes.
    pub sse: Vec<String>,
    /// Schemes whose per-message work is costly (real cryptography runs under the calibrated
    /// model too): scenarios with one of them in a stack get a lighter workload, so that a batch
    /// stays fast. See [`super::costly_schemes`].
    pub costly: Vec<String>,
    /// A JSONL chat corpus for `workload.keywords.corpus` (absolute, so a written reproducer
    /// works from any directory); without one the generator uses synthetic words only.
    pub corpus: Option<PathBuf>,
}

/// One entry of `organisations`.
#[derive(Debug, Clone, PartialEq)]
pub struct GenOrganisation {
    /// `name`
    pub name: String,
    /// `users` (at least 1)
    pub users: u32,
    /// `departments` (left out when `None`: 1)
    pub departments: Option<u32>,
    /// `trusts`: indices of the other organisations it trusts (written as their names)
    pub trusts: Vec<usize>,
}

/// A room group (`org.rooms[i]`).
#[derive(Debug, Clone, PartialEq)]
pub struct GenRoom {
    /// `kind` with `count` and `size` for projects.
    pub kind: GenRoomKind,
    /// `admins`
    pub admins: Option<u32>,
    /// `history`
    pub history: Option<HistoryPolicy>,
    /// `preload`
    pub preload: Option<u32>,
    /// `activity`, in tenths
    pub activity_tenths: Option<u32>,
    /// `orgs`: indices into [`FuzzScenario::organisations`] (left out when `None`: every
    /// organisation)
    pub orgs: Option<Vec<usize>>,
}

/// `org.rooms[i].kind`
#[derive(Debug, Clone, PartialEq)]
pub enum GenRoomKind {
    /// `kind: department`
    Department,
    /// `kind: org`
    Org,
    /// `kind: project`
    Project {
        /// `count`
        count: u32,
        /// `size`
        size: GenRoomSize,
    },
}

/// `org.rooms[i].size`
#[derive(Debug, Clone, PartialEq)]
pub enum GenRoomSize {
    /// `size: N`
    Fixed(u32),
    /// `size: { uniform: { min, max } }`
    Uniform {
        /// `min`
        min: u32,
        /// `max`
        max: u32,
    },
    /// `size: { zipf: { min, max, s } }`; `s` is in tenths.
    Zipf {
        /// `min` (left out when `None`: 2)
        min: Option<u32>,
        /// `max`
        max: u32,
        /// `s`, tenths
        s_tenths: u32,
    },
}

impl GenRoomSize {
    /// The smallest room the distribution can give.
    #[must_use]
    pub fn smallest(&self) -> u32 {
        match self {
            Self::Fixed(n) => *n,
            Self::Uniform { min, .. } => *min,
            Self::Zipf { min, .. } => min.unwrap_or(2),
        }
    }
}

/// `workload.messages.size` (bytes).
#[derive(Debug, Clone, PartialEq)]
pub enum GenByteSize {
    /// `size: NB`
    Fixed(u64),
    /// `size: { uniform: { min, max } }`
    Uniform {
        /// `min`
        min: u64,
        /// `max`
        max: u64,
    },
    /// `size: { lognormal: { median, sigma } }`; `sigma` in tenths.
    LogNormal {
        /// `median`
        median: Option<u64>,
        /// `sigma`, tenths
        sigma_tenths: Option<u32>,
    },
}

/// `workload.keywords`
#[derive(Debug, Clone, PartialEq)]
pub enum GenKeywords {
    /// `vocabulary`, `zipf` (tenths), `per_message`
    Synthetic {
        /// `vocabulary`
        vocabulary: Option<u32>,
        /// `zipf`, tenths
        zipf_tenths: Option<u32>,
        /// `per_message`
        per_message: Option<u32>,
    },
    /// `corpus`, `per_message`
    Corpus {
        /// `corpus`
        path: PathBuf,
        /// `per_message`
        per_message: Option<u32>,
    },
}

/// `workload.search`
#[derive(Debug, Clone, PartialEq)]
pub struct GenSearch {
    /// `rate`, per hour per user
    pub rate_per_hour: Option<u32>,
    /// `fetch`
    pub fetch: Option<u32>,
}

/// `workload.login`
#[derive(Debug, Clone, PartialEq)]
pub struct GenLogin {
    /// `rate`, per hour per user
    pub rate_per_hour: Option<u32>,
    /// `recent`
    pub recent: Option<u32>,
    /// `session`, minutes
    pub session_min: Option<u32>,
    /// `online_at_start`, tenths
    pub online_tenths: Option<u32>,
}

/// One scheduled event.
#[derive(Debug, Clone, PartialEq)]
pub enum GenEventKind {
    /// `reorg: { from, to, share }`, share in tenths
    Reorg {
        /// `from`
        from: u32,
        /// `to`
        to: u32,
        /// `share`, tenths (1 to 10)
        share_tenths: u32,
    },
    /// `leave: all`
    LeaveAll,
    /// `join: all`
    JoinAll,
}

/// `workload.churn.events[i]`
#[derive(Debug, Clone, PartialEq)]
pub struct GenEvent {
    /// `at`, seconds
    pub at_s: u64,
    /// what happens
    pub kind: GenEventKind,
}

/// `workload.churn`
#[derive(Debug, Clone, PartialEq)]
pub struct GenChurn {
    /// `join`, per hour
    pub join_per_hour: Option<u32>,
    /// `leave`, per hour
    pub leave_per_hour: Option<u32>,
    /// `move`, per hour
    pub move_per_hour: Option<u32>,
    /// `events`
    pub events: Vec<GenEvent>,
}

/// `network.clients[i]`
#[derive(Debug, Clone, PartialEq)]
pub struct GenClient {
    /// `share` in twentieths (written only when there are several classes or `Some` was drawn)
    pub share_twentieths: Option<u32>,
    /// `rtt`, milliseconds
    pub rtt_ms: Option<u32>,
    /// `jitter`, milliseconds
    pub jitter_ms: Option<u32>,
    /// `down`, as written (`50MB/s`, `10Mbit/s`)
    pub down: Option<String>,
    /// `up`, as written
    pub up: Option<String>,
}

/// `report`
#[derive(Debug, Clone, PartialEq)]
pub struct GenReport {
    /// `percentiles`
    pub percentiles: Option<Vec<u32>>,
    /// `plots`
    pub plots: Option<Vec<String>>,
}

/// A scenario as the fuzzer draws, shrinks and writes it.
#[derive(Debug, Clone, PartialEq)]
pub struct FuzzScenario {
    /// `name`
    pub name: String,
    /// `seed` (also the seed the scenario is run with)
    pub seed: u64,
    /// `replicates`
    pub replicates: Option<u32>,
    /// `duration`, seconds
    pub duration_s: u64,
    /// `org.users`; with `organisations`, the sum of their users (not written)
    pub users: u32,
    /// `org.departments` (always `None` with `organisations`)
    pub departments: Option<u32>,
    /// `organisations`: empty for a file without the key (one organisation: `users`,
    /// `departments`)
    pub organisations: Vec<GenOrganisation>,
    /// `org.rooms`
    pub rooms: Vec<GenRoom>,
    /// `policy.history`
    pub policy_history: Option<HistoryPolicy>,
    /// `policy.key_period`, seconds
    pub key_period_s: Option<u64>,
    /// `workload.messages.rate`, per hour per user
    pub message_rate_per_hour: Option<u32>,
    /// `workload.messages.size`
    pub message_size: Option<GenByteSize>,
    /// `workload.keywords`
    pub keywords: Option<GenKeywords>,
    /// `workload.search`
    pub search: Option<GenSearch>,
    /// `workload.login`
    pub login: Option<GenLogin>,
    /// `workload.churn`
    pub churn: Option<GenChurn>,
    /// `workload.history.read`
    pub history_read: Option<u32>,
    /// `workload.canaries`, hundredths
    pub canaries_hundredths: Option<u32>,
    /// `network.clients`
    pub clients: Option<Vec<GenClient>>,
    /// `servers.workers`
    pub workers: Option<u32>,
    /// `servers.key_retention`, minutes
    pub key_retention_min: Option<u32>,
    /// whether `cost_model: calibrated` is written out (it is the default)
    pub cost_model_key: bool,
    /// `stacks`
    pub stacks: Vec<StackSpec>,
    /// write the first stack as a mapping `{ kd, pre, sse }` (with `kd` as a one-name list)
    /// instead of `kd+pre+sse`
    pub first_stack_as_mapping: bool,
    /// `report`
    pub report: Option<GenReport>,
}

/// The conventional stack, drawn into a batch now and then as a reference column.
#[must_use]
pub fn conventional_stack() -> StackSpec {
    StackSpec {
        kd: "conventional".into(),
        pre: "none".into(),
        sse: "plaintext".into(),
    }
}

/// Draws `Some(f(rng))` with probability `p`.
fn maybe<R: Rng, T>(rng: &mut R, p: f64, f: impl FnOnce(&mut R) -> T) -> Option<T> {
    if rng.gen_bool(p) {
        Some(f(rng))
    } else {
        None
    }
}

/// Draws scenario number `index` of a batch: `rng` is that scenario's own stream and `seed` the
/// seed it is run with.
pub fn generate<R: Rng>(rng: &mut R, cfg: &GenConfig, name: String, seed: u64) -> FuzzScenario {
    let stacks = gen_stacks(rng, cfg);
    let costly = stacks.iter().any(|st| {
        cfg.costly
            .iter()
            .any(|c| *c == st.kd || *c == st.pre || *c == st.sse)
    });
    let max_users = cfg.max_users.max(2);
    let min_users = max_users.min(20);
    let users = rng.gen_range(min_users..=max_users);
    let departments = match rng.gen_range(0..10) {
        0..=3 => None,
        4 => Some(users),
        5 => Some(users.min(rng.gen_range(users / 3..=users).max(1))),
        _ => Some(rng.gen_range(1..=users.min(8))),
    };
    let dept_count = departments.unwrap_or(1);
    let mut duration_s: u64 = match rng.gen_range(0..4) {
        0 => rng.gen_range(10..=30) * 60,
        1 | 2 => rng.gen_range(30..=90) * 60,
        _ => rng.gen_range(90..=180) * 60,
    };
    if costly {
        duration_s = duration_s.min(60 * 60);
    }

    let groups = rng.gen_range(1..=4);
    let mut rooms = Vec::with_capacity(groups);
    for _ in 0..groups {
        rooms.push(gen_room(rng, users, dept_count, costly));
    }

    // Keep the deliveries of a scenario (messages times room size) to a budget: real
    // cryptography runs under the calibrated model too, and a batch must stay fast.
    let hours = duration_s as f64 / 3600.0;
    let largest = rooms
        .iter()
        .map(|r| largest_room(&r.kind, users, dept_count))
        .max()
        .unwrap_or(2);
    let deliveries = if costly { 1500.0 } else { 15_000.0 };
    let rate_cap = ((deliveries / (f64::from(users) * hours * f64::from(largest))).floor() as u32)
        .clamp(1, 40);
    let message_rate_per_hour = maybe(rng, 0.8, |r| r.gen_range(0..=rate_cap));
    let message_size = maybe(rng, 0.7, |r| match r.gen_range(0..3) {
        0 => GenByteSize::Fixed(r.gen_range(1..=4000)),
        1 => {
            let min = r.gen_range(1..=500);
            GenByteSize::Uniform {
                min,
                max: r.gen_range(min..=min + 4000),
            }
        }
        _ => GenByteSize::LogNormal {
            median: maybe(r, 0.7, |r| r.gen_range(16..=2000)),
            sigma_tenths: maybe(r, 0.7, |r| r.gen_range(0..=20)),
        },
    });
    let keywords = maybe(rng, 0.8, |r| match (&cfg.corpus, r.gen_range(0..4)) {
        (Some(path), 0) => GenKeywords::Corpus {
            path: path.clone(),
            per_message: maybe(r, 0.3, |r| r.gen_range(0..=12)),
        },
        _ => {
            let vocabulary = maybe(r, 0.8, |r| r.gen_range(1..=5000));
            let cap = vocabulary.unwrap_or(20_000).min(12);
            // The default per-message count does not fit a vocabulary smaller than it: say one.
            let must_say = cap < DEFAULT_PER_MESSAGE;
            let per_message = if must_say {
                Some(r.gen_range(0..=cap))
            } else {
                maybe(r, 0.7, |r| r.gen_range(0..=cap))
            };
            GenKeywords::Synthetic {
                vocabulary,
                zipf_tenths: maybe(r, 0.6, |r| r.gen_range(1..=30)),
                per_message,
            }
        }
    });
    let search = maybe(rng, 0.8, |r| GenSearch {
        rate_per_hour: maybe(r, 0.8, |r| r.gen_range(0..=8)),
        fetch: maybe(r, 0.6, |r| r.gen_range(0..=20)),
    });
    let login = maybe(rng, 0.85, |r| GenLogin {
        rate_per_hour: maybe(r, 0.8, |r| r.gen_range(0..=12)),
        recent: maybe(r, 0.6, |r| r.gen_range(0..=30)),
        session_min: maybe(r, 0.7, |r| r.gen_range(1..=90)),
        online_tenths: maybe(r, 0.85, |r| r.gen_range(0..=10)),
    });
    let churn = maybe(rng, 0.85, |r| gen_churn(r, duration_s, dept_count, costly));
    let history_read = maybe(rng, 0.6, |r| r.gen_range(0..=60));
    let canaries_hundredths = maybe(rng, 0.6, |r| *[0, 5, 20, 50, 100].choose(r).unwrap_or(&5));
    let clients = maybe(rng, 0.6, gen_clients);
    let workers = maybe(rng, 0.4, |r| r.gen_range(1..=8));
    let policy_history = maybe(rng, 0.6, |r| {
        if r.gen_bool(0.5) {
            HistoryPolicy::Shared
        } else {
            HistoryPolicy::FromJoin
        }
    });
    let report = maybe(rng, 0.3, |r| GenReport {
        percentiles: maybe(r, 0.7, |r| {
            let n = r.gen_range(1..=3);
            let mut p: Vec<u32> = [50, 90, 95, 99, 100]
                .choose_multiple(r, n)
                .copied()
                .collect();
            p.sort_unstable();
            p
        }),
        plots: maybe(r, 0.5, |r| {
            let n = r.gen_range(0..=2);
            crate::scenario::limits::PLOTS
                .choose_multiple(r, n)
                .map(|s| (*s).to_owned())
                .collect()
        }),
    });
    let mut s = FuzzScenario {
        name,
        seed,
        replicates: maybe(rng, 0.12, |r| r.gen_range(1..=2)),
        duration_s,
        users,
        departments,
        organisations: Vec::new(),
        rooms,
        policy_history,
        key_period_s: None,
        message_rate_per_hour,
        message_size,
        keywords,
        search,
        login,
        churn,
        history_read,
        canaries_hundredths,
        clients,
        workers,
        key_retention_min: None,
        cost_model_key: rng.gen_bool(0.3),
        first_stack_as_mapping: rng.gen_bool(0.2),
        stacks,
        report,
    };
    // Drawn last, so that the draws above are those of a batch before organisations existed.
    // A key period between a quarter of the run and all of it puts a boundary inside the run.
    s.key_period_s = maybe(rng, 0.3, |r| {
        r.gen_range((duration_s / 4).max(1)..=duration_s.max(1))
    });
    if users >= 6 && rng.gen_ratio(1, 3) {
        gen_organisations(rng, &mut s);
    }
    // Drawn after everything else, and only for stacks that allow it, so that other scenarios
    // are those of a batch before it existed.
    if s.stacks.iter().all(|st| cfg.kd_rejoining.contains(&st.kd)) {
        // Up to half the run, so that members away long enough lose traffic.
        let half_run_min = u32::try_from(s.duration_s / 120).unwrap_or(u32::MAX).max(1);
        s.key_retention_min = maybe(rng, 0.6, |r| r.gen_range(1..=half_run_min));
    }
    s
}

/// Organisation names the generator uses, in the order they are handed out.
const ORGANISATION_NAMES: [&str; 6] = ["acme", "supplier", "partner-2", "bank", "law-firm", "lab9"];

/// Splits the scenario's users into 2 or 3 organisations with random trust (at least one
/// mutually trusting pair), gives each room group organisations whose every two members trust
/// each other (single-organisation and cross-organisation groups), and moves reorganisations
/// inside one organisation.
fn gen_organisations<R: Rng>(rng: &mut R, s: &mut FuzzScenario) {
    let users = s.users;
    let k: usize = if users >= 9 && rng.gen_bool(0.4) {
        3
    } else {
        2
    };
    let mut names: Vec<&str> = ORGANISATION_NAMES
        .choose_multiple(rng, k)
        .copied()
        .collect();
    names.shuffle(rng);
    // Each organisation gets at least 2 users, the last what is left.
    let mut left = users;
    let mut orgs: Vec<GenOrganisation> = Vec::with_capacity(k);
    for (i, name) in names.iter().enumerate() {
        let later = 2 * (k - 1 - i) as u32;
        let n = if i + 1 == k {
            left
        } else {
            rng.gen_range(2..=left - later)
        };
        left -= n;
        orgs.push(GenOrganisation {
            name: (*name).to_owned(),
            users: n,
            departments: maybe(rng, 0.6, |r| r.gen_range(1..=n.min(4))),
            trusts: Vec::new(),
        });
    }
    // One mutually trusting pair for sure, every other direction by chance.
    let a = rng.gen_range(0..k);
    let b = (a + rng.gen_range(1..k)) % k;
    for (i, org) in orgs.iter_mut().enumerate() {
        for j in 0..k {
            let sure = (i, j) == (a, b) || (i, j) == (b, a);
            if i != j && (sure || rng.gen_bool(0.5)) {
                org.trusts.push(j);
            }
        }
    }
    s.organisations = orgs;
    s.departments = None;
    // Sets of organisations a cross-organisation group may name: every two trust each other.
    let mut cliques: Vec<Vec<usize>> = (0..k).map(|i| vec![i]).collect();
    for i in 0..k {
        for j in i + 1..k {
            if s.mutually_trusted(i, j) {
                cliques.push(vec![i, j]);
            }
        }
    }
    let everyone: Vec<usize> = (0..k).collect();
    let all_trust = s.is_clique(&everyone);
    if k == 3 && all_trust {
        cliques.push(everyone.clone());
    }
    let crossing: Vec<Vec<usize>> = cliques.iter().filter(|c| c.len() > 1).cloned().collect();
    for g in 0..s.rooms.len() {
        let department = s.rooms[g].kind == GenRoomKind::Department;
        let orgs = match rng.gen_range(0..4) {
            // Every organisation: always fine for department rooms, which never mix them.
            0 if department || all_trust => None,
            1 if !crossing.is_empty() => crossing.choose(rng).cloned(),
            _ => cliques.choose(rng).cloned(),
        };
        // Written in a random order now and then (the validator sorts them).
        s.rooms[g].orgs = orgs.map(|mut o| {
            if rng.gen_bool(0.3) {
                o.shuffle(rng);
            }
            o
        });
    }
    // Reorganisations between two departments of one organisation (global indices).
    let firsts: Vec<(u32, u32)> = s.department_blocks();
    if let Some(churn) = s.churn.as_mut() {
        churn.events.retain_mut(|e| {
            let GenEventKind::Reorg { from, to, .. } = &mut e.kind else {
                return true;
            };
            let several: Vec<&(u32, u32)> = firsts.iter().filter(|(_, d)| *d >= 2).collect();
            let Some(&&(first, d)) = several.choose(rng) else {
                return false;
            };
            *from = rng.gen_range(0..d);
            *to = rng.gen_range(0..d - 1);
            if *to >= *from {
                *to += 1;
            }
            *from += first;
            *to += first;
            true
        });
    }
    super::shrink::normalise(s);
}

fn gen_room<R: Rng>(rng: &mut R, users: u32, departments: u32, costly: bool) -> GenRoom {
    let kind = match rng.gen_range(0..6) {
        0 => GenRoomKind::Department,
        1 => GenRoomKind::Org,
        _ => {
            let count = match rng.gen_range(0..5) {
                0 => rng.gen_range(8..=20),
                _ => rng.gen_range(1..=6),
            };
            let top = users.min(16);
            let size = match rng.gen_range(0..4) {
                0 => GenRoomSize::Fixed(*[2, 2, 3].choose(rng).unwrap_or(&2)),
                1 => GenRoomSize::Fixed(rng.gen_range(2..=top)),
                2 => {
                    let min = rng.gen_range(2..=top);
                    GenRoomSize::Uniform {
                        min,
                        max: rng.gen_range(min..=users.min(min + 20)),
                    }
                }
                _ => {
                    let min = maybe(rng, 0.5, |r| r.gen_range(2..=top));
                    let lo = min.unwrap_or(2);
                    GenRoomSize::Zipf {
                        min,
                        max: rng.gen_range(lo..=users.min(lo + 30)),
                        s_tenths: rng.gen_range(1..=30),
                    }
                }
            };
            GenRoomKind::Project { count, size }
        }
    };
    let smallest = smallest_room(&kind, users, departments);
    GenRoom {
        admins: maybe(rng, 0.4, |r| r.gen_range(1..=smallest.clamp(1, 3))),
        kind,
        history: maybe(rng, 0.4, |r| {
            if r.gen_bool(0.5) {
                HistoryPolicy::Shared
            } else {
                HistoryPolicy::FromJoin
            }
        }),
        preload: maybe(rng, 0.3, |r| r.gen_range(0..=if costly { 5 } else { 20 })),
        activity_tenths: maybe(rng, 0.25, |r| r.gen_range(1..=50)),
        orgs: None,
    }
}

/// The largest room a group can produce.
fn largest_room(kind: &GenRoomKind, users: u32, departments: u32) -> u32 {
    match kind {
        GenRoomKind::Department => users.div_ceil(departments.max(1)),
        GenRoomKind::Org => users,
        GenRoomKind::Project { size, .. } => match size {
            GenRoomSize::Fixed(n) => *n,
            GenRoomSize::Uniform { max, .. } | GenRoomSize::Zipf { max, .. } => *max,
        },
    }
}

/// The smallest room a group can produce.
#[must_use]
pub fn smallest_room(kind: &GenRoomKind, users: u32, departments: u32) -> u32 {
    match kind {
        GenRoomKind::Department => users / departments.max(1),
        GenRoomKind::Org => users,
        GenRoomKind::Project { size, .. } => size.smallest(),
    }
}

fn gen_churn<R: Rng>(rng: &mut R, duration_s: u64, departments: u32, costly: bool) -> GenChurn {
    let heavy = rng.gen_bool(0.25);
    let top = match (costly, heavy) {
        (true, _) => 6,
        (false, true) => 60,
        (false, false) => 20,
    };
    let mut events = Vec::new();
    for _ in 0..rng.gen_range(0..=4) {
        let at_s = if rng.gen_bool(0.1) {
            *[0, duration_s].choose(rng).unwrap_or(&0)
        } else {
            rng.gen_range(0..=duration_s)
        };
        let kind = match rng.gen_range(0..3) {
            0 if departments >= 2 => {
                let from = rng.gen_range(0..departments);
                let mut to = rng.gen_range(0..departments - 1);
                if to >= from {
                    to += 1;
                }
                GenEventKind::Reorg {
                    from,
                    to,
                    share_tenths: rng.gen_range(1..=10),
                }
            }
            1 => GenEventKind::JoinAll,
            _ => GenEventKind::LeaveAll,
        };
        events.push(GenEvent { at_s, kind });
    }
    GenChurn {
        join_per_hour: maybe(rng, 0.7, |r| r.gen_range(0..=top)),
        leave_per_hour: maybe(rng, 0.7, |r| r.gen_range(0..=top)),
        move_per_hour: maybe(rng, 0.5, |r| r.gen_range(0..=top / 2)),
        events,
    }
}

fn gen_clients<R: Rng>(rng: &mut R) -> Vec<GenClient> {
    let classes = rng.gen_range(1..=3u32);
    // Shares in twentieths summing to 20, each at least 1.
    let mut shares = vec![1u32; classes as usize];
    for _ in 0..(20 - classes) {
        let i = rng.gen_range(0..shares.len());
        shares[i] += 1;
    }
    let bandwidth = |r: &mut R| -> String {
        match r.gen_range(0..3) {
            0 => format!("{}MB/s", r.gen_range(1..=100)),
            1 => format!("{}Mbit/s", r.gen_range(1..=200)),
            _ => format!("{}KiB/s", r.gen_range(64..=4096)),
        }
    };
    shares
        .into_iter()
        .map(|share| GenClient {
            share_twentieths: if classes > 1 || rng.gen_bool(0.5) {
                Some(share)
            } else {
                None
            },
            rtt_ms: maybe(rng, 0.8, |r| r.gen_range(1..=400)),
            jitter_ms: maybe(rng, 0.6, |r| r.gen_range(0..=60)),
            down: maybe(rng, 0.6, bandwidth),
            up: maybe(rng, 0.6, bandwidth),
        })
        .collect()
}

fn gen_stacks<R: Rng>(rng: &mut R, cfg: &GenConfig) -> Vec<StackSpec> {
    let want = rng.gen_range(1..=3);
    let mut stacks: Vec<StackSpec> = Vec::new();
    if cfg.stacks.is_empty() {
        if rng.gen_bool(0.2) {
            stacks.push(conventional_stack());
        }
        let pick = |r: &mut R, names: &[String]| names.choose(r).cloned().unwrap_or_default();
        while stacks.len() < want {
            let s = StackSpec {
                kd: pick(rng, &cfg.kd),
                pre: pick(rng, &cfg.pre),
                sse: pick(rng, &cfg.sse),
            };
            if !stacks.contains(&s) {
                stacks.push(s);
            }
        }
    } else {
        let want = want.min(cfg.stacks.len());
        stacks = cfg.stacks.choose_multiple(rng, want).cloned().collect();
    }
    stacks
}

/// Writes `n` tenths as a decimal (`15` -> `1.5`).
fn tenths(n: u32) -> String {
    format!("{}.{}", n / 10, n % 10)
}

/// Writes `n` hundredths as a decimal (`5` -> `0.05`).
fn hundredths(n: u32) -> String {
    format!("{}.{:02}", n / 100, n % 100)
}

fn history_name(h: HistoryPolicy) -> &'static str {
    match h {
        HistoryPolicy::Shared => "shared",
        HistoryPolicy::FromJoin => "from_join",
    }
}

/// A duration in seconds, written in the largest unit that divides it.
fn duration_text(s: u64) -> String {
    if s % 3600 == 0 && s > 0 {
        format!("{}h", s / 3600)
    } else if s % 60 == 0 && s > 0 {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}

/// Quotes a path for YAML (double-quoted scalar).
fn quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

impl FuzzScenario {
    /// Whether organisations `a` and `b` trust each other (true when `a == b`).
    #[must_use]
    pub fn mutually_trusted(&self, a: usize, b: usize) -> bool {
        let trusts = |x: usize, y: usize| {
            self.organisations
                .get(x)
                .is_some_and(|o| o.trusts.contains(&y))
        };
        a == b || (trusts(a, b) && trusts(b, a))
    }

    /// Whether every two of `orgs` trust each other.
    #[must_use]
    pub fn is_clique(&self, orgs: &[usize]) -> bool {
        orgs.iter()
            .all(|&a| orgs.iter().all(|&b| self.mutually_trusted(a, b)))
    }

    /// Per organisation, `(first department, departments)` in global numbering; one block
    /// `(0, departments)` without `organisations`.
    #[must_use]
    pub fn department_blocks(&self) -> Vec<(u32, u32)> {
        if self.organisations.is_empty() {
            return vec![(0, self.departments.unwrap_or(1))];
        }
        let mut first = 0;
        self.organisations
            .iter()
            .map(|o| {
                let d = o.departments.unwrap_or(1);
                first += d;
                (first - d, d)
            })
            .collect()
    }

    /// The organisations a room group draws from: its `orgs`, or every one.
    #[must_use]
    pub fn group_orgs(&self, room: &GenRoom) -> Vec<usize> {
        match &room.orgs {
            Some(o) if !self.organisations.is_empty() => o.clone(),
            _ => (0..self.organisations.len()).collect(),
        }
    }

    /// Users of the organisations a room group draws from.
    #[must_use]
    pub fn pool(&self, room: &GenRoom) -> u32 {
        if self.organisations.is_empty() {
            return self.users;
        }
        self.group_orgs(room)
            .iter()
            .filter_map(|&k| self.organisations.get(k))
            .map(|o| o.users)
            .sum()
    }

    /// The smallest room a group can produce.
    #[must_use]
    pub fn smallest_of(&self, room: &GenRoom) -> u32 {
        if self.organisations.is_empty() {
            return smallest_room(&room.kind, self.users, self.departments.unwrap_or(1));
        }
        match &room.kind {
            GenRoomKind::Department => self
                .group_orgs(room)
                .iter()
                .filter_map(|&k| self.organisations.get(k))
                .map(|o| o.users / o.departments.unwrap_or(1).max(1))
                .min()
                .unwrap_or(0),
            GenRoomKind::Org => self.pool(room),
            GenRoomKind::Project { size, .. } => size.smallest(),
        }
    }

    /// Users, room groups, duration, key retention and stacks, for progress lines.
    #[must_use]
    pub fn shape(&self) -> String {
        let stacks: Vec<String> = self.stacks.iter().map(StackSpec::name).collect();
        let orgs = if self.organisations.is_empty() {
            String::new()
        } else {
            format!(" in {} organisations", self.organisations.len())
        };
        let retention = self
            .key_retention_min
            .map_or(String::new(), |m| format!(", key retention {m} min"));
        format!(
            "{} users{orgs}, {} room groups, {} min{retention}, stacks {}",
            self.users,
            self.rooms.len(),
            self.duration_s / 60,
            stacks.join(" ")
        )
    }

    /// The scenario as a YAML file (block style at the top, flow style inside).
    #[must_use]
    pub fn to_yaml(&self) -> String {
        let mut y = String::new();
        let _ = writeln!(y, "name: {}", self.name);
        let _ = writeln!(y, "seed: {}", self.seed);
        if let Some(r) = self.replicates {
            let _ = writeln!(y, "replicates: {r}");
        }
        let _ = writeln!(y, "duration: {}", duration_text(self.duration_s));
        let org_name = |k: usize| self.organisations.get(k).map_or("", |o| o.name.as_str());
        if !self.organisations.is_empty() {
            y.push_str("organisations:\n");
            for o in &self.organisations {
                let mut parts = vec![format!("name: {}", o.name), format!("users: {}", o.users)];
                if let Some(d) = o.departments {
                    parts.push(format!("departments: {d}"));
                }
                if !o.trusts.is_empty() {
                    let t: Vec<&str> = o.trusts.iter().map(|&k| org_name(k)).collect();
                    parts.push(format!("trusts: [{}]", t.join(", ")));
                }
                let _ = writeln!(y, "  - {{ {} }}", parts.join(", "));
            }
        }
        y.push_str("org:\n");
        if self.organisations.is_empty() {
            let _ = writeln!(y, "  users: {}", self.users);
            if let Some(d) = self.departments {
                let _ = writeln!(y, "  departments: {d}");
            }
        }
        y.push_str("  rooms:\n");
        for room in &self.rooms {
            let mut parts: Vec<String> = Vec::new();
            match &room.kind {
                GenRoomKind::Department => parts.push("kind: department".into()),
                GenRoomKind::Org => parts.push("kind: org".into()),
                GenRoomKind::Project { count, size } => {
                    parts.push("kind: project".into());
                    parts.push(format!("count: {count}"));
                    parts.push(match size {
                        GenRoomSize::Fixed(n) => format!("size: {n}"),
                        GenRoomSize::Uniform { min, max } => {
                            format!("size: {{ uniform: {{ min: {min}, max: {max} }} }}")
                        }
                        GenRoomSize::Zipf { min, max, s_tenths } => {
                            let min = min.map(|m| format!("min: {m}, ")).unwrap_or_default();
                            format!(
                                "size: {{ zipf: {{ {min}max: {max}, s: {} }} }}",
                                tenths(*s_tenths)
                            )
                        }
                    });
                }
            }
            if let Some(a) = room.admins {
                parts.push(format!("admins: {a}"));
            }
            if let Some(h) = room.history {
                parts.push(format!("history: {}", history_name(h)));
            }
            if let Some(p) = room.preload {
                parts.push(format!("preload: {p}"));
            }
            if let Some(a) = room.activity_tenths {
                parts.push(format!("activity: {}", tenths(a)));
            }
            if let Some(o) = room
                .orgs
                .as_ref()
                .filter(|_| !self.organisations.is_empty())
            {
                let names: Vec<&str> = o.iter().map(|&k| org_name(k)).collect();
                parts.push(format!("orgs: [{}]", names.join(", ")));
            }
            let _ = writeln!(y, "    - {{ {} }}", parts.join(", "));
        }
        let mut policy: Vec<String> = Vec::new();
        if let Some(h) = self.policy_history {
            policy.push(format!("history: {}", history_name(h)));
        }
        if let Some(p) = self.key_period_s {
            policy.push(format!("key_period: {}", duration_text(p)));
        }
        if !policy.is_empty() {
            let _ = writeln!(y, "policy: {{ {} }}", policy.join(", "));
        }
        let workload = self.workload_yaml();
        if !workload.is_empty() {
            y.push_str("workload:\n");
            y.push_str(&workload);
        }
        if let Some(clients) = &self.clients {
            y.push_str("network:\n  clients:\n");
            for c in clients {
                let mut parts: Vec<String> = Vec::new();
                if let Some(s) = c.share_twentieths {
                    parts.push(format!("share: {}", hundredths(s * 5)));
                }
                if let Some(v) = c.rtt_ms {
                    parts.push(format!("rtt: {v}ms"));
                }
                if let Some(v) = c.jitter_ms {
                    parts.push(if v == 0 {
                        "jitter: 0".to_owned()
                    } else {
                        format!("jitter: {v}ms")
                    });
                }
                if let Some(v) = &c.down {
                    parts.push(format!("down: {v}"));
                }
                if let Some(v) = &c.up {
                    parts.push(format!("up: {v}"));
                }
                let _ = writeln!(y, "    - {{ {} }}", parts.join(", "));
            }
        }
        let mut servers = Vec::new();
        if let Some(w) = self.workers {
            servers.push(format!("workers: {w}"));
        }
        if let Some(m) = self.key_retention_min {
            servers.push(format!("key_retention: {m}m"));
        }
        if !servers.is_empty() {
            let _ = writeln!(y, "servers: {{ {} }}", servers.join(", "));
        }
        if self.cost_model_key {
            y.push_str("cost_model: calibrated\n");
        }
        y.push_str("stacks:\n");
        for (i, s) in self.stacks.iter().enumerate() {
            if i == 0 && self.first_stack_as_mapping {
                let _ = writeln!(
                    y,
                    "  - {{ kd: [{}], pre: {}, sse: {} }}",
                    s.kd, s.pre, s.sse
                );
            } else {
                let _ = writeln!(y, "  - {}", s.name());
            }
        }
        if let Some(r) = &self.report {
            let mut parts: Vec<String> = Vec::new();
            if let Some(p) = &r.percentiles {
                let p: Vec<String> = p.iter().map(u32::to_string).collect();
                parts.push(format!("percentiles: [{}]", p.join(", ")));
            }
            if let Some(p) = &r.plots {
                parts.push(format!("plots: [{}]", p.join(", ")));
            }
            let _ = writeln!(y, "report: {{ {} }}", parts.join(", "));
        }
        y
    }

    fn workload_yaml(&self) -> String {
        let mut y = String::new();
        let mut messages: Vec<String> = Vec::new();
        if let Some(r) = self.message_rate_per_hour {
            messages.push(format!("rate: {r}/h/user"));
        }
        if let Some(s) = &self.message_size {
            messages.push(match s {
                GenByteSize::Fixed(n) => format!("size: {n}B"),
                GenByteSize::Uniform { min, max } => {
                    format!("size: {{ uniform: {{ min: {min}B, max: {max}B }} }}")
                }
                GenByteSize::LogNormal {
                    median,
                    sigma_tenths,
                } => {
                    let mut p: Vec<String> = Vec::new();
                    if let Some(m) = median {
                        p.push(format!("median: {m}B"));
                    }
                    if let Some(s) = sigma_tenths {
                        p.push(format!("sigma: {}", tenths(*s)));
                    }
                    format!("size: {{ lognormal: {{ {} }} }}", p.join(", "))
                }
            });
        }
        if !messages.is_empty() {
            let _ = writeln!(y, "  messages: {{ {} }}", messages.join(", "));
        }
        if let Some(k) = &self.keywords {
            let mut p: Vec<String> = Vec::new();
            match k {
                GenKeywords::Synthetic {
                    vocabulary,
                    zipf_tenths,
                    per_message,
                } => {
                    if let Some(v) = vocabulary {
                        p.push(format!("vocabulary: {v}"));
                    }
                    if let Some(z) = zipf_tenths {
                        p.push(format!("zipf: {}", tenths(*z)));
                    }
                    if let Some(n) = per_message {
                        p.push(format!("per_message: {n}"));
                    }
                }
                GenKeywords::Corpus { path, per_message } => {
                    p.push(format!("corpus: {}", quoted(&path.to_string_lossy())));
                    if let Some(n) = per_message {
                        p.push(format!("per_message: {n}"));
                    }
                }
            }
            let _ = writeln!(y, "  keywords: {{ {} }}", p.join(", "));
        }
        if let Some(s) = &self.search {
            let mut p: Vec<String> = Vec::new();
            if let Some(r) = s.rate_per_hour {
                p.push(format!("rate: {r}/h/user"));
            }
            if let Some(f) = s.fetch {
                p.push(format!("fetch: {f}"));
            }
            let _ = writeln!(y, "  search: {{ {} }}", p.join(", "));
        }
        if let Some(l) = &self.login {
            let mut p: Vec<String> = Vec::new();
            if let Some(r) = l.rate_per_hour {
                p.push(format!("rate: {r}/h/user"));
            }
            if let Some(r) = l.recent {
                p.push(format!("recent: {r}"));
            }
            if let Some(m) = l.session_min {
                p.push(format!("session: {m}m"));
            }
            if let Some(o) = l.online_tenths {
                p.push(format!("online_at_start: {}", tenths(o)));
            }
            let _ = writeln!(y, "  login: {{ {} }}", p.join(", "));
        }
        if let Some(c) = &self.churn {
            y.push_str("  churn:\n");
            let rates = [
                ("join", c.join_per_hour),
                ("leave", c.leave_per_hour),
                ("move", c.move_per_hour),
            ];
            for (key, rate) in rates {
                if let Some(r) = rate {
                    let _ = writeln!(y, "    {key}: {r}/h");
                }
            }
            if !c.events.is_empty() {
                y.push_str("    events:\n");
                for e in &c.events {
                    let at = if e.at_s == 0 {
                        "0".to_owned()
                    } else {
                        duration_text(e.at_s)
                    };
                    let what = match &e.kind {
                        GenEventKind::Reorg {
                            from,
                            to,
                            share_tenths,
                        } => format!(
                            "reorg: {{ from: {from}, to: {to}, share: {} }}",
                            tenths(*share_tenths)
                        ),
                        GenEventKind::LeaveAll => "leave: all".to_owned(),
                        GenEventKind::JoinAll => "join: all".to_owned(),
                    };
                    let _ = writeln!(y, "      - {{ at: {at}, {what} }}");
                }
            }
        }
        if let Some(r) = self.history_read {
            let _ = writeln!(y, "  history: {{ read: {r} }}");
        }
        if let Some(c) = self.canaries_hundredths {
            let _ = writeln!(y, "  canaries: {}", hundredths(c));
        }
        y
    }
}
