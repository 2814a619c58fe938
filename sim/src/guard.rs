//! Checks of valid but impossible input, made before anything is simulated: a scenario whose
//! estimated peak memory exceeds the machine, a `--jobs` out of range, an `--out` that is a file,
//! (and, in [`crate::cost`], a calibration table that lacks an operation the scenario's stacks
//! use).
//!
//! The memory estimate is a pure function of the scenario and the number of jobs run in
//! parallel; only [`machine_memory`] reads the machine.

use std::path::{Path, PathBuf};

use conclave_schemes::registry::Registry;

use crate::scenario::{ByteDist, CostModelKind, KeywordSource, RoomKind, Scenario, SizeDist};

/// Most jobs (stack × seed) run in parallel: beyond this, threads only compete for the same
/// cores and each holds a whole copy of the simulated organisation.
pub const JOBS_MAX: usize = 256;

/// Bytes charged per user: its terminal state, two ChaCha streams, network link, the schemes'
/// per-user keys and the oracle's records.
const USER_BYTES: u64 = 8 * 1024;
/// Bytes charged per room: its state, roster, change queue and the schemes' per-room state.
const ROOM_BYTES: u64 = 4 * 1024;
/// Bytes charged per room membership: the held epoch secret and epoch set, the policy's
/// `readable_from`, and the schemes' per-member state (pairwise channels, wrapped keys).
const MEMBERSHIP_BYTES: u64 = 2 * 1024;
/// Fixed bytes per stored message: the engine's record and map node, the stored packet's
/// headers (key wraps, capsules, nonces) and the search index's per-message bookkeeping.
const MESSAGE_BYTES: u64 = 1024;
/// Copies of each body a stored message keeps: the engine's ground truth and the server's
/// stored (sealed or plain) record.
const BODY_COPIES: u64 = 2;
/// Bytes per (message, keyword): the keyword string of the ground truth, the oracle's index
/// entry and the search scheme's index entry (tags, labels, chain links).
const KEYWORD_BYTES: u64 = 192;
/// Mean body of a corpus message, for the estimate (chat messages are short; the corpus is not
/// read to estimate).
const CORPUS_BODY_BYTES: u64 = 512;
/// Keywords per corpus message, for the estimate.
const CORPUS_KEYWORDS: u64 = 16;
/// The largest body the generator draws (it caps log-normal draws there).
const BODY_MAX: f64 = 1e9;

/// The estimated peak memory of a run and what contributes most.
#[derive(Debug, Clone, PartialEq)]
pub struct MemoryEstimate {
    /// Estimated bytes of the heaviest job (one stack, one seed).
    pub per_job: u64,
    /// Jobs held in memory at once.
    pub parallel: u64,
    /// What `parallel` jobs need together: the state every job has, times `parallel`, plus the
    /// credentials the key-distribution clients of the `parallel` heaviest jobs hold.
    pub total: u64,
    /// The scenario key whose contribution is largest, such as `org.rooms[0].preload`.
    pub dominant_key: String,
    /// What that key contributes, as a sentence fragment with its figures.
    pub dominant_detail: String,
    /// Bytes of one job that key contributes.
    pub dominant_bytes: u64,
}

/// Mean of a room-size distribution.
fn mean_size(d: &SizeDist) -> f64 {
    match *d {
        SizeDist::Fixed(n) => f64::from(n),
        SizeDist::Uniform { min, max } => (f64::from(min) + f64::from(max.max(min))) / 2.0,
        SizeDist::Zipf { min, max, s } => {
            let (mut weight, mut sum) = (0.0, 0.0);
            for k in min..=max.max(min) {
                let p = f64::from(k).powf(-s);
                weight += p;
                sum += p * f64::from(k);
            }
            if weight > 0.0 {
                sum / weight
            } else {
                f64::from(max)
            }
        }
    }
}

/// Mean message body in bytes.
fn mean_body(s: &Scenario) -> f64 {
    if matches!(s.workload.keywords.source, KeywordSource::Corpus(_)) {
        return CORPUS_BODY_BYTES as f64;
    }
    match s.workload.messages.size {
        ByteDist::Fixed(n) => n as f64,
        ByteDist::Uniform { min, max } => (min as f64 + max.max(min) as f64) / 2.0,
        ByteDist::LogNormal { median, sigma } => {
            (median.max(1) as f64 * (sigma * sigma / 2.0).exp()).min(BODY_MAX)
        }
    }
}

/// Keywords per message (plus the occasional canary keyword).
fn keywords_per_message(s: &Scenario) -> f64 {
    match s.workload.keywords.source {
        KeywordSource::Corpus(_) => CORPUS_KEYWORDS as f64,
        KeywordSource::Synthetic { .. } => {
            f64::from(s.workload.keywords.per_message) + s.workload.canaries
        }
    }
}

fn saturate(x: f64) -> u64 {
    if x.is_finite() && x > 0.0 {
        // `as` saturates at u64::MAX.
        x.ceil() as u64
    } else {
        0
    }
}

fn gib(bytes: u64) -> String {
    format!("{:.1} GiB", bytes as f64 / (1u64 << 30) as f64)
}

/// Estimates the peak memory of running `s` with `parallel_jobs` jobs at once.
///
/// Per job: every user, room and membership; every stored message, preloaded (`preload` per
/// room) or sent (`messages.rate × duration × users`, as if everybody were online all the
/// time), with its body kept twice and an index entry per keyword; and what each user's
/// key-distribution client holds for its credentials
/// ([`KeyDistribution::CLIENT_CREDENTIAL_BYTES`](conclave_schemes::kd::KeyDistribution::CLIENT_CREDENTIAL_BYTES)
/// of the scheme as the run uses it: its model's under `cost_model: model`),
/// which differs per stack. Jobs in parallel are capped at the run's job count (stacks ×
/// replicates).
#[must_use]
pub fn estimate_memory(s: &Scenario, parallel_jobs: usize) -> MemoryEstimate {
    let users = f64::from(s.org.users);
    let per_message = MESSAGE_BYTES as f64
        + BODY_COPIES as f64 * mean_body(s)
        + KEYWORD_BYTES as f64 * keywords_per_message(s);
    // (key, detail, bytes) of every contribution.
    let mut parts: Vec<(String, String, f64)> = vec![(
        "org.users".to_owned(),
        format!("{} users", s.org.users),
        users * USER_BYTES as f64,
    )];
    for (i, g) in s.org.rooms.iter().enumerate() {
        // The users of the group's organisations (every user with one organisation).
        let pool = if g.orgs.is_empty() {
            users
        } else {
            f64::from(s.org.users_of(&g.orgs))
        };
        let (rooms, members) = match &g.kind {
            RoomKind::Department => {
                let departments: u32 = if g.orgs.is_empty() {
                    s.org.departments
                } else {
                    g.orgs
                        .iter()
                        .filter_map(|&k| s.org.organisations.get(usize::from(k)))
                        .map(|o| o.departments)
                        .sum()
                };
                (f64::from(departments), pool)
            }
            RoomKind::Org => (1.0, pool),
            RoomKind::Project { count, size } => {
                let rooms = f64::from(*count);
                (rooms, rooms * mean_size(size).min(pool))
            }
        };
        parts.push((
            format!("org.rooms[{i}]"),
            format!("{rooms} rooms with {members:.0} memberships"),
            rooms * ROOM_BYTES as f64 + members * MEMBERSHIP_BYTES as f64,
        ));
        if g.preload > 0 {
            let messages = rooms * f64::from(g.preload);
            parts.push((
                format!("org.rooms[{i}].preload"),
                format!(
                    "{} preloaded messages per room × {rooms} rooms = {messages:.0} messages",
                    g.preload
                ),
                messages * per_message,
            ));
        }
    }
    let seconds = s.duration as f64 / 1e9;
    let sent = s.workload.messages.rate_per_user * seconds * users;
    parts.push((
        "workload.messages.rate".to_owned(),
        format!("about {sent:.0} messages sent (rate × duration × users)"),
        sent * per_message,
    ));
    let per_job: f64 = parts.iter().map(|p| p.2).sum();
    let jobs = (s.stacks.len() as u64)
        .saturating_mul(u64::from(s.replicates))
        .max(1);
    let parallel = (parallel_jobs.max(1) as u64).min(jobs);
    // What each stack's key-distribution clients hold for their users' credentials (a sakke
    // terminal's precomputed receiver, which its model does not hold): counted for the
    // `parallel` heaviest jobs.
    let registry = Registry::builtin();
    let modelled = s.cost_model == CostModelKind::Model;
    let mut credentials: Vec<(String, f64)> = s
        .stacks
        .iter()
        .flat_map(|st| {
            let bytes = registry
                .client_credential_bytes(&st.kd, modelled)
                .unwrap_or(0);
            std::iter::repeat_n((st.kd.clone(), users * bytes as f64), s.replicates as usize)
        })
        .collect();
    credentials.sort_by(|a, b| b.1.total_cmp(&a.1));
    credentials.truncate(usize::try_from(parallel).unwrap_or(usize::MAX));
    let credential_bytes: f64 = credentials.iter().map(|c| c.1).sum();
    if let Some((kd, heaviest)) = credentials.first().filter(|c| c.1 > 0.0) {
        parts.push((
            "stacks".to_owned(),
            format!(
                "`{kd}` clients hold {:.1} MiB each for their credentials × {} users",
                heaviest / users / f64::from(1u32 << 20),
                s.org.users
            ),
            *heaviest,
        ));
    }
    let (dominant_key, dominant_detail, dominant_bytes) = parts
        .into_iter()
        .max_by(|a, b| a.2.total_cmp(&b.2))
        .unwrap_or_default();
    let heaviest = saturate(credentials.first().map_or(0.0, |c| c.1));
    let shared = saturate(per_job);
    let total = shared
        .saturating_mul(parallel)
        .saturating_add(saturate(credential_bytes));
    let per_job = shared.saturating_add(heaviest);
    MemoryEstimate {
        per_job,
        parallel,
        total,
        dominant_key,
        dominant_detail,
        dominant_bytes: saturate(dominant_bytes),
    }
}

/// This machine's memory (`MemTotal` of `/proc/meminfo`), or the process's control-group limit
/// (`/sys/fs/cgroup/memory.max`) when that is lower; `None` when neither can be read.
#[must_use]
pub fn machine_memory() -> Option<u64> {
    let total = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|info| {
            let line = info.lines().find(|l| l.starts_with("MemTotal:"))?;
            let kib: u64 = line
                .trim_start_matches("MemTotal:")
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse()
                .ok()?;
            kib.checked_mul(1024)
        });
    // `max` (no limit) does not parse, which is what it means.
    let limit = std::fs::read_to_string("/sys/fs/cgroup/memory.max")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok());
    match (total, limit) {
        (Some(t), Some(l)) => Some(t.min(l)),
        (t, l) => t.or(l),
    }
}

/// Valid but impossible input, found before simulating.
#[derive(Debug, thiserror::Error)]
pub enum GuardError {
    /// The run would need more memory than the machine has.
    #[error(
        "{}: {key}: the run would need about {} ({} per job × {parallel} job(s) in parallel), more than this \
         machine's {}; most of it is {detail} (about {} per job). {}",
        .path.display(), gib(*.total), gib(*.per_job), gib(*.limit), gib(*.dominant_bytes),
        if *.parallel > 1 { "Make the scenario smaller, or run fewer jobs at once with --jobs" } else { "Make the scenario smaller" }
    )]
    Memory {
        /// The scenario file.
        path: PathBuf,
        /// The key that contributes most.
        key: String,
        /// What it contributes.
        detail: String,
        /// Estimated bytes in all.
        total: u64,
        /// Estimated bytes per job.
        per_job: u64,
        /// Jobs in parallel.
        parallel: u64,
        /// Bytes the dominant key contributes per job.
        dominant_bytes: u64,
        /// The machine's memory.
        limit: u64,
    },
    /// `--jobs` is out of range.
    #[error("--jobs: expected 1 to {JOBS_MAX} jobs run in parallel, found {0}")]
    Jobs(usize),
    /// `--out` names something that is not a directory.
    #[error("--out {}: exists and is not a directory (the report is a directory of files)", .0.display())]
    OutNotDirectory(PathBuf),
}

/// What the command line asks of a run, for [`preflight`].
#[derive(Debug, Clone, Default)]
pub struct RunRequest<'a> {
    /// `--jobs`, if given; otherwise `default_jobs` applies.
    pub jobs: Option<usize>,
    /// Jobs in parallel without `--jobs` (the available cores).
    pub default_jobs: usize,
    /// The report directory.
    pub out: Option<&'a Path>,
    /// The machine's memory; `None` skips the memory check (it cannot be read).
    pub memory_limit: Option<u64>,
}

/// Checks `s` and the command line's choices against what can run.
///
/// # Errors
/// [`GuardError`] naming the key or option and why: `--jobs` outside `1..=`[`JOBS_MAX`],
/// an `--out` that exists and is not a directory, or an estimated peak memory above
/// `memory_limit`. (A calibration table is checked with
/// [`CalibrationTable::check_covers`](crate::cost::CalibrationTable::check_covers).)
pub fn preflight(s: &Scenario, req: &RunRequest<'_>) -> Result<(), GuardError> {
    if let Some(j) = req.jobs {
        if !(1..=JOBS_MAX).contains(&j) {
            return Err(GuardError::Jobs(j));
        }
    }
    if let Some(out) = req.out {
        if out.exists() && !out.is_dir() {
            return Err(GuardError::OutNotDirectory(out.to_path_buf()));
        }
    }
    if let Some(limit) = req.memory_limit {
        let jobs = req.jobs.unwrap_or(req.default_jobs).clamp(1, JOBS_MAX);
        let e = estimate_memory(s, jobs);
        if e.total > limit {
            return Err(GuardError::Memory {
                path: s.source_path.clone(),
                key: e.dominant_key,
                detail: e.dominant_detail,
                total: e.total,
                per_job: e.per_job,
                parallel: e.parallel,
                dominant_bytes: e.dominant_bytes,
                limit,
            });
        }
    }
    Ok(())
}
