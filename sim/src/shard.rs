//! Sharded runs: `conclave run FILE --shard K/N` runs every N-th job of the run (the jobs are
//! stack × seed × sweep point, numbered in report order), and writes a [`Partial`] report;
//! `conclave merge` [`assemble`]s the partial reports of all N shards and writes the report the
//! unsharded run writes. Its `summary.json` is byte-identical to the unsharded run's: each job
//! is deterministic given the scenario, seed and calibration table, and the merge adds the
//! jobs' results in the unsharded run's order (see [`crate::run::merge_jobs`]).
//!
//! Jobs go to shards round-robin (job `j` to shard `j mod N + 1`), so each shard gets a share of
//! every stack: stacks differ in cost by orders of magnitude, contiguous slices would not.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::metrics::StackResult;
use crate::report::{write_atomically, ReportError};
use crate::scenario::CostModelKind;

/// The file a shard writes into its output directory.
pub const PARTIAL_FILE: &str = "partial.json";

/// The version of [`Partial`]'s format.
pub const PARTIAL_FORMAT: u32 = 1;

/// `K/N`: the K-th (from 1) of N shards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// Which shard, 1 to `count`.
    pub index: u32,
    /// How many shards the run is split into.
    pub count: u32,
}

impl Shard {
    /// Whether job `job` (numbered from 0 over the whole run) is this shard's.
    #[must_use]
    pub fn takes(self, job: usize) -> bool {
        job % self.count as usize == (self.index - 1) as usize
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("`{s}` is not K/N with 1 ≤ K ≤ N (for example 2/8)");
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let index: u32 = k.trim().parse().map_err(|_| bad())?;
        let count: u32 = n.trim().parse().map_err(|_| bad())?;
        if index == 0 || index > count {
            return Err(bad());
        }
        Ok(Self { index, count })
    }
}

/// What makes two shards parts of one run: every shard of a run has the same identity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunIdentity {
    /// The scenario file, as given on the command line.
    pub scenario_file: PathBuf,
    /// Its text, so that the merge rebuilds the same scenario wherever it runs.
    pub scenario_text: String,
    /// The `--set`s, in order.
    pub sets: Vec<(String, String)>,
    /// The `--stack`s, in order (empty: every stack).
    pub stacks: Vec<String>,
    /// The first seed.
    pub seed: u64,
    /// The cost model.
    pub cost_model: CostModelKind,
    /// Where the calibration table came from.
    pub calibration_source: String,
    /// Its SHA-256, when there is one.
    pub calibration_sha256: Option<String>,
    /// How many shards the run is split into.
    pub shards: u32,
    /// How many jobs the whole run has.
    pub jobs: usize,
}

/// One job's result, as a shard ran it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JobResult {
    /// The job's number in the whole run.
    pub job: usize,
    /// Its sweep point (0 outside a sweep).
    pub point: usize,
    /// Its seed.
    pub seed: u64,
    /// What it measured and what the oracle found (and its stack).
    pub result: StackResult,
}

/// What one shard writes: the run it belongs to and its jobs' results.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Partial {
    /// [`PARTIAL_FORMAT`].
    pub format: u32,
    /// The run.
    pub run: RunIdentity,
    /// Which shard this is, 1 to `run.shards`.
    pub shard: u32,
    /// The shard's wall time, in seconds.
    pub wall_seconds: f64,
    /// The calibration table's file text, when the run was calibrated.
    pub calibration_table: Option<String>,
    /// Its jobs, ascending.
    pub jobs: Vec<JobResult>,
}

/// Why partial reports cannot be merged.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// A partial report could not be read.
    #[error("{}: {source}", path.display())]
    Read {
        /// the file
        path: PathBuf,
        /// why
        #[source]
        source: std::io::Error,
    },
    /// A partial report is not one.
    #[error("{}: not a partial report of `conclave run --shard`: {message}", path.display())]
    Malformed {
        /// the file
        path: PathBuf,
        /// what is wrong
        message: String,
    },
    /// Partial reports of different runs, or of a run that differs from what they say.
    #[error("{}: {message}", path.display())]
    Mismatch {
        /// the file that does not fit
        path: PathBuf,
        /// how
        message: String,
    },
    /// Shards missing.
    #[error("shard(s) {missing} of {count} missing: every shard's partial report is needed")]
    Missing {
        /// the missing shards, comma-separated
        missing: String,
        /// how many shards the run has
        count: u32,
    },
}

impl Partial {
    /// Writes the partial report into `dir` (created if missing), atomically.
    ///
    /// # Errors
    /// When the directory or file cannot be written.
    pub fn write(&self, dir: &Path) -> Result<PathBuf, ReportError> {
        std::fs::create_dir_all(dir).map_err(|source| ReportError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let text = serde_json::to_vec(self).map_err(|e| ReportError::Encode {
            file: PARTIAL_FILE,
            message: e.to_string(),
        })?;
        let path = dir.join(PARTIAL_FILE);
        write_atomically(dir, PARTIAL_FILE, &path, &text)?;
        Ok(path)
    }

    /// Reads a partial report: `path` is the file, or the directory a shard wrote it into.
    ///
    /// # Errors
    /// When it cannot be read, is not a partial report, or has another format.
    pub fn read(path: &Path) -> Result<(PathBuf, Self), MergeError> {
        let file = if path.is_dir() {
            path.join(PARTIAL_FILE)
        } else {
            path.to_path_buf()
        };
        let text = std::fs::read(&file).map_err(|source| MergeError::Read {
            path: file.clone(),
            source,
        })?;
        let partial: Self = serde_json::from_slice(&text).map_err(|e| MergeError::Malformed {
            path: file.clone(),
            message: e.to_string(),
        })?;
        if partial.format != PARTIAL_FORMAT {
            return Err(MergeError::Malformed {
                path: file,
                message: format!(
                    "format {}, this conclave reads format {PARTIAL_FORMAT}",
                    partial.format
                ),
            });
        }
        Ok((file, partial))
    }
}

/// All shards of one run, put together.
#[derive(Debug, Clone)]
pub struct Assembled {
    /// The run.
    pub run: RunIdentity,
    /// Every job, in job order (`jobs[j].job == j`).
    pub jobs: Vec<JobResult>,
    /// The longest shard's wall time, in seconds.
    pub wall_seconds: f64,
    /// The calibration table's file text, when the run was calibrated.
    pub calibration_table: Option<String>,
}

/// Puts the partial reports of one run together, checking that they are of the same run, that
/// every shard is there once and that every job is there once.
///
/// # Errors
/// [`MergeError`] naming the file that does not fit, or the shards missing.
pub fn assemble(partials: Vec<(PathBuf, Partial)>) -> Result<Assembled, MergeError> {
    let Some((_, first)) = partials.first() else {
        return Err(MergeError::Missing {
            missing: "all".to_owned(),
            count: 0,
        });
    };
    let run = first.run.clone();
    let calibration_table = first.calibration_table.clone();
    let mismatch = |path: &Path, message: String| MergeError::Mismatch {
        path: path.to_path_buf(),
        message,
    };
    let mut seen = vec![None::<PathBuf>; run.shards as usize];
    for (path, partial) in &partials {
        if partial.run != run {
            return Err(mismatch(
                path,
                "a shard of another run (its scenario, --set, --stack, seed, cost model, calibration or shard count differ)".to_owned(),
            ));
        }
        let slot = partial
            .shard
            .checked_sub(1)
            .and_then(|i| seen.get_mut(i as usize))
            .ok_or_else(|| {
                mismatch(
                    path,
                    format!("shard {} of a run of {}", partial.shard, run.shards),
                )
            })?;
        if let Some(other) = slot {
            return Err(mismatch(
                path,
                format!(
                    "shard {} again (also in {})",
                    partial.shard,
                    other.display()
                ),
            ));
        }
        *slot = Some(path.clone());
    }
    let missing: Vec<String> = seen
        .iter()
        .enumerate()
        .filter(|(_, p)| p.is_none())
        .map(|(i, _)| (i + 1).to_string())
        .collect();
    if !missing.is_empty() {
        return Err(MergeError::Missing {
            missing: missing.join(", "),
            count: run.shards,
        });
    }
    // Every shard is there; the jobs they hold must be the run's, each once.
    let held: usize = partials.iter().map(|(_, p)| p.jobs.len()).sum();
    let mut jobs: Vec<Option<JobResult>> = Vec::new();
    jobs.resize_with(run.jobs.min(held), || None);
    let mut wall_seconds = 0.0_f64;
    for (path, partial) in partials {
        let shard = Shard {
            index: partial.shard,
            count: run.shards,
        };
        wall_seconds = wall_seconds.max(partial.wall_seconds);
        for job in partial.jobs {
            let n = job.job;
            job.result
                .check_shape()
                .map_err(|m| mismatch(&path, format!("job {n}: {m}")))?;
            if !shard.takes(n) || n >= run.jobs {
                return Err(mismatch(
                    &path,
                    format!(
                        "job {n} is not shard {shard}'s (the run has {} jobs)",
                        run.jobs
                    ),
                ));
            }
            let slot = jobs.get_mut(n).ok_or_else(|| {
                mismatch(
                    &path,
                    format!("the shards hold {held} of the run's {} jobs", run.jobs),
                )
            })?;
            if slot.replace(job).is_some() {
                return Err(mismatch(&path, format!("job {n} twice")));
            }
        }
    }
    let jobs = jobs
        .into_iter()
        .enumerate()
        .map(|(n, j)| {
            j.ok_or_else(|| {
                let owner = seen
                    .get(n % seen.len().max(1))
                    .and_then(Option::as_deref)
                    .unwrap_or_else(|| Path::new("?"));
                mismatch(owner, format!("job {n} is missing from it"))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if jobs.len() != run.jobs {
        return Err(MergeError::Missing {
            missing: format!("jobs {} to {}", jobs.len(), run.jobs),
            count: run.shards,
        });
    }
    Ok(Assembled {
        run,
        jobs,
        wall_seconds,
        calibration_table,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_job_goes_to_exactly_one_shard_round_robin() {
        for count in 1..=7_u32 {
            for job in 0..50 {
                let owners: Vec<u32> = (1..=count)
                    .filter(|&index| Shard { index, count }.takes(job))
                    .collect();
                assert_eq!(owners, [job as u32 % count + 1]);
            }
        }
    }

    #[test]
    fn slices_parse_as_k_of_n() {
        assert_eq!("2/8".parse(), Ok(Shard { index: 2, count: 8 }));
        assert_eq!(" 1 / 1 ".parse(), Ok(Shard { index: 1, count: 1 }));
        for bad in ["0/3", "4/3", "3", "/3", "1/", "a/2", "1/2/3", "-1/2"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }
}
