//! How compute is charged.
//!
//! Every cryptographic call the engine makes goes through [`CostModel::charge`] with an
//! [`OpKey`] (scheme and operation) and the size of the work in the operation's natural unit
//! (bytes, members, records, results). `measured` charges the call's measured wall time;
//! `calibrated` runs the call too (so correctness and the oracle are still checked) but charges
//! the cost a [`CalibrationTable`] predicts for that key and size, so the same scenario, seed and
//! table always give the same report.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use conclave_schemes::registry::Registry;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

use crate::scenario::StackSpec;

/// What is being charged: a scheme (or `tls`, `blob`) and one of its operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OpKey {
    /// Scheme name, or `tls` for the record channel, `blob` for state blobs.
    pub scheme: &'static str,
    /// Operation, e.g. `seal`, `index`, `client.change`.
    pub op: &'static str,
}

impl OpKey {
    /// `scheme/op`, the key used in calibration files.
    #[must_use]
    pub fn id(&self) -> String {
        format!("{}/{}", self.scheme, self.op)
    }
}

/// Measured costs: per operation, points (units, nanoseconds) ascending in units.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CalibrationTable {
    /// Format version (1).
    pub version: u32,
    /// CPU the table was measured on.
    pub cpu_model: String,
    /// `scheme/op` to points `[units, ns]`, ascending in units.
    pub entries: BTreeMap<String, Vec<[f64; 2]>>,
    /// Entries already looked up, by the identity of their key's static strings: the engine
    /// charges several operations per event, and a string-keyed lookup each time would cost
    /// more than the simulation itself.
    #[serde(skip)]
    resolved: Resolved,
}

/// Slots of resolved entries, indexed by a hash of the key's identity; a collision falls back
/// to a linear scan of the overflow list.
#[derive(Debug, Clone, Default)]
struct Resolved {
    slots: Vec<Option<(KeyIdentity, Vec<[f64; 2]>)>>,
    overflow: Vec<(KeyIdentity, Vec<[f64; 2]>)>,
}

const RESOLVED_SLOTS: usize = 64;

fn slot_of(id: &KeyIdentity) -> usize {
    // Static strings have distinct addresses; mixing both keeps the keys of one scheme apart.
    let h = id[0].wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ id[2].wrapping_mul(0xc2b2_ae3d_27d4_eb4f);
    (h >> 58) % RESOLVED_SLOTS
}

impl Resolved {
    fn get(&self, id: &KeyIdentity) -> Option<&[[f64; 2]]> {
        match self.slots.get(slot_of(id)) {
            Some(Some((k, pts))) if k == id => Some(pts),
            _ => self
                .overflow
                .iter()
                .find(|(k, _)| k == id)
                .map(|(_, p)| p.as_slice()),
        }
    }

    fn insert(&mut self, id: KeyIdentity, pts: Vec<[f64; 2]>) {
        if self.slots.is_empty() {
            self.slots = vec![None; RESOLVED_SLOTS];
        }
        let slot = &mut self.slots[slot_of(&id)];
        if slot.is_none() {
            *slot = Some((id, pts));
        } else {
            self.overflow.push((id, pts));
        }
    }
}

/// Pointer and length of an [`OpKey`]'s two strings: equal identities mean equal keys.
type KeyIdentity = [usize; 4];

fn identity(key: &OpKey) -> KeyIdentity {
    [
        key.scheme.as_ptr() as usize,
        key.scheme.len(),
        key.op.as_ptr() as usize,
        key.op.len(),
    ]
}

impl PartialEq for CalibrationTable {
    fn eq(&self, other: &Self) -> bool {
        (self.version, &self.cpu_model, &self.entries)
            == (other.version, &other.cpu_model, &other.entries)
    }
}

/// Why a calibration table is unusable.
#[derive(Debug, thiserror::Error)]
pub enum CalibrationError {
    /// The file could not be read or written.
    #[error("calibration file {path}: {source}")]
    Io {
        /// the file
        path: PathBuf,
        /// why
        source: std::io::Error,
    },
    /// The file is not a calibration table.
    #[error("calibration file {path} is not a valid calibration table: {reason}")]
    Format {
        /// the file
        path: PathBuf,
        /// why
        reason: String,
    },
    /// The table lacks operations the scenario's stacks use (found before the run).
    #[error(
        "calibration file {}: no entry for {} (used by {}); run `conclave calibrate` to measure a complete table, \
         or run without --calibration to calibrate for this scenario",
        .path.display(), .missing.join(", "), .stacks.join(", ")
    )]
    Incomplete {
        /// the file
        path: PathBuf,
        /// the missing `scheme/op` entries
        missing: Vec<String>,
        /// the stacks that need them
        stacks: Vec<String>,
    },
    /// An operation the run needs has no entry.
    #[error("the calibration table has no entry for `{0}`; run `conclave calibrate` to measure a complete table")]
    Missing(String),
}

impl CalibrationTable {
    /// A table of `entries` measured on `cpu_model`.
    #[must_use]
    pub fn new(cpu_model: String, entries: BTreeMap<String, Vec<[f64; 2]>>) -> Self {
        Self {
            version: 1,
            cpu_model,
            entries,
            resolved: Resolved::default(),
        }
    }

    /// Reads and checks a table.
    ///
    /// # Errors
    /// [`CalibrationError`] naming the file.
    pub fn load(path: &Path) -> Result<Self, CalibrationError> {
        let raw = std::fs::read(path).map_err(|source| CalibrationError::Io {
            path: path.to_owned(),
            source,
        })?;
        let table: Self = serde_json::from_slice(&raw).map_err(|e| CalibrationError::Format {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        table.check().map_err(|reason| CalibrationError::Format {
            path: path.to_owned(),
            reason,
        })?;
        Ok(table)
    }

    fn check(&self) -> Result<(), String> {
        if self.version != 1 {
            return Err(format!("unsupported version {}", self.version));
        }
        for (k, pts) in &self.entries {
            if pts.is_empty() {
                return Err(format!("entry `{k}` has no points"));
            }
            if pts
                .iter()
                .any(|[u, ns]| !u.is_finite() || !ns.is_finite() || *u < 0.0 || *ns < 0.0)
            {
                return Err(format!("entry `{k}` has a negative or non-finite point"));
            }
            if pts.windows(2).any(|w| w[0][0] >= w[1][0]) {
                return Err(format!("entry `{k}` is not strictly ascending in units"));
            }
        }
        Ok(())
    }

    /// Checks that the table has an entry for every operation the engine charges
    /// unconditionally for `stacks`, whose schemes `registry` has, and rejoins when the run has a
    /// `servers.key_retention` (`retention`) ([`required_entries`]).
    ///
    /// Operations a scheme reports for its own server jobs (such as `rewrap` or `back-chain`)
    /// depend on what the run does and are checked when charged (still bad input, exit 2).
    ///
    /// # Errors
    /// [`CalibrationError::Incomplete`] listing every missing entry and the stacks that use it.
    pub fn check_covers(
        &self,
        path: &Path,
        stacks: &[StackSpec],
        registry: &Registry,
        retention: bool,
    ) -> Result<(), CalibrationError> {
        let mut missing: Vec<String> = Vec::new();
        let mut users: Vec<String> = Vec::new();
        for stack in stacks {
            let lacking: Vec<String> = required_entries(stack, registry, retention)
                .into_iter()
                .filter(|k| !self.entries.contains_key(k))
                .collect();
            if !lacking.is_empty() {
                users.push(stack.name());
            }
            for k in lacking {
                if !missing.contains(&k) {
                    missing.push(k);
                }
            }
        }
        if missing.is_empty() {
            Ok(())
        } else {
            Err(CalibrationError::Incomplete {
                path: path.to_owned(),
                missing,
                stacks: users,
            })
        }
    }

    /// Writes the table as pretty JSON.
    ///
    /// # Errors
    /// [`CalibrationError::Io`] naming the file.
    pub fn save(&self, path: &Path) -> Result<(), CalibrationError> {
        let io = |source| CalibrationError::Io {
            path: path.to_owned(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, text).map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)
    }

    /// Predicted nanoseconds of `key` for `units`: piecewise-linear between measured points;
    /// below the first point, the first point's cost (fixed overheads do not shrink); above the
    /// last, linear extrapolation of the last segment (or proportional scaling of a single point).
    ///
    /// # Errors
    /// [`CalibrationError::Missing`] if the table has no entry for `key`.
    pub fn predict(&self, key: &OpKey, units: u64) -> Result<u64, CalibrationError> {
        let pts = self
            .entries
            .get(&key.id())
            .ok_or_else(|| CalibrationError::Missing(key.id()))?;
        Self::interpolate(pts, units).ok_or_else(|| CalibrationError::Missing(key.id()))
    }

    /// As [`predict`](Self::predict), remembering where `key`'s entry is for the next call.
    ///
    /// # Errors
    /// As [`predict`](Self::predict).
    pub fn predict_cached(&mut self, key: &OpKey, units: u64) -> Result<u64, CalibrationError> {
        let id = identity(key);
        if let Some(pts) = self.resolved.get(&id) {
            return Self::interpolate(pts, units)
                .ok_or_else(|| CalibrationError::Missing(key.id()));
        }
        let pts = self
            .entries
            .get(&key.id())
            .ok_or_else(|| CalibrationError::Missing(key.id()))?
            .clone();
        let ns =
            Self::interpolate(&pts, units).ok_or_else(|| CalibrationError::Missing(key.id()))?;
        self.resolved.insert(id, pts);
        Ok(ns)
    }

    fn interpolate(pts: &[[f64; 2]], units: u64) -> Option<u64> {
        let x = units as f64;
        let ns = match pts {
            [] => return None,
            [[u, ns]] => {
                if x <= *u || *u <= 0.0 {
                    *ns
                } else {
                    ns * x / u
                }
            }
            [first, ..] if x <= first[0] => first[1],
            _ => {
                let seg = pts
                    .windows(2)
                    .find(|w| x <= w[1][0])
                    .unwrap_or(&pts[pts.len() - 2..]);
                let ([x0, y0], [x1, y1]) = (seg[0], seg[1]);
                let slope = (y1 - y0) / (x1 - x0);
                (y0 + slope * (x - x0)).max(0.0)
            }
        };
        Some(ns.round() as u64)
    }
}

/// The `scheme/op` entries the engine charges from the table in every run of `stack`: TLS
/// records and state blobs, the key-distribution client operations (and per-message
/// protection for a scheme with a message layer), sealing, opening, storing and epoch changes of
/// history protection, and indexing, querying, searching and updating of the search scheme;
/// with `retention` (a run with `servers.key_retention`), the rejoins of a key distribution that
/// can rejoin a member (`client.rejoin`).
/// Work a scheme's server does on control traffic (re-encryption, re-wrapping, back-chains),
/// and the key server's handling for schemes that route through it, depend on the run.
/// `registry` tells whether the stack's key distribution has a message layer.
#[must_use]
pub fn required_entries(stack: &StackSpec, registry: &Registry, retention: bool) -> Vec<String> {
    let mut ids: Vec<String> = ["tls/seal", "tls/open", "blob/open"]
        .iter()
        .map(|k| (*k).to_owned())
        .collect();
    let of = |scheme: &str, ops: &[&str]| -> Vec<String> {
        ops.iter().map(|op| format!("{scheme}/{op}")).collect()
    };
    ids.extend(of(&stack.kd, &["client.change", "client.handle"]));
    if retention && registry.rejoining_kd().contains(&stack.kd.as_str()) {
        ids.extend(of(&stack.kd, &["client.rejoin"]));
    }
    // Whether the scheme protects each message itself is a capability of its clients: ask a
    // first enrolled one. An unknown name is the scenario's error, reported elsewhere.
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(0);
    let first = conclave_schemes::UserId(0);
    if registry.kd(&stack.kd, &mut rng).is_ok_and(|mut kd| {
        kd.add_organisation(&mut rng)
            .and_then(|org| kd.enroll(first, org, &mut rng))
            .is_ok()
            && kd.message_layer(first).is_some()
    }) {
        ids.extend(of(&stack.kd, &["protect", "unprotect"]));
    }
    if registry
        .kd(&stack.kd, &mut rng)
        .is_ok_and(|kd| kd.issues_per_period())
    {
        ids.extend(of(&stack.kd, &["kms.issue", "client.renew"]));
    }
    ids.extend(of(&stack.pre, &["seal", "open", "store", "epoch_changed"]));
    ids.extend(of(
        &stack.sse,
        &[
            "index",
            "query",
            "search",
            "resolve",
            "apply",
            "epoch_changed",
        ],
    ));
    ids
}

/// A sample collected while calibrating.
#[derive(Debug, Clone, Copy)]
pub struct CostSample {
    /// The operation.
    pub key: OpKey,
    /// Its size.
    pub units: u64,
    /// Measured nanoseconds.
    pub ns: u64,
}

/// The cost model of a run.
#[derive(Debug)]
pub enum CostModel {
    /// Charge measured wall time; optionally keep every sample (for calibration).
    Measured {
        /// Samples, when collecting.
        samples: Option<Vec<CostSample>>,
    },
    /// Charge the table's prediction.
    Calibrated(CalibrationTable),
    /// Charge the table's prediction, with every scheme run as its model (no cryptography:
    /// `conclave_schemes::model`).
    Model(CalibrationTable),
}

impl CostModel {
    /// Whether calls are timed (and cost-only work such as TLS records must really run).
    #[must_use]
    pub fn is_measured(&self) -> bool {
        matches!(self, Self::Measured { .. })
    }

    /// Runs `f` and returns its result with the nanoseconds charged for it.
    ///
    /// # Errors
    /// [`CalibrationError::Missing`] when the table lacks `key`.
    pub fn charge<T>(
        &mut self,
        key: OpKey,
        units: u64,
        f: impl FnOnce() -> T,
    ) -> Result<(T, u64), CalibrationError> {
        match self {
            Self::Measured { samples } => {
                let start = Instant::now();
                let out = f();
                let ns = start.elapsed().as_nanos().min(u128::from(u64::MAX)) as u64;
                if let Some(s) = samples {
                    s.push(CostSample { key, units, ns });
                }
                Ok((out, ns))
            }
            Self::Calibrated(table) | Self::Model(table) => {
                let ns = table.predict_cached(&key, units)?;
                Ok((f(), ns))
            }
        }
    }

    /// The charge for work whose size is known only after it ran and that times itself (`f`
    /// returns its result, the operation's name, its units and the time it measured): work run
    /// on another thread pool, where the time around the call would include whatever the
    /// waiting thread did meanwhile.
    ///
    /// # Errors
    /// As [`charge`](Self::charge).
    pub fn charge_timed<T>(
        &mut self,
        scheme: &'static str,
        f: impl FnOnce() -> (T, &'static str, u64, std::time::Duration),
    ) -> Result<(T, u64), CalibrationError> {
        let (out, op, units, spent) = f();
        let key = OpKey { scheme, op };
        match self {
            Self::Measured { samples } => {
                let ns = spent.as_nanos().min(u128::from(u64::MAX)) as u64;
                if let Some(s) = samples {
                    s.push(CostSample { key, units, ns });
                }
                Ok((out, ns))
            }
            Self::Calibrated(table) | Self::Model(table) => {
                Ok((out, table.predict_cached(&key, units)?))
            }
        }
    }

    /// Takes the collected samples (empty unless measuring with collection on).
    pub fn take_samples(&mut self) -> Vec<CostSample> {
        match self {
            Self::Measured { samples: Some(s) } => std::mem::take(s),
            _ => Vec::new(),
        }
    }
}

/// Reduces samples to a table: per key, samples are grouped by power-of-two size bucket, and
/// each bucket becomes one point (median units, median nanoseconds). Costs never shrink as work
/// grows, so bucket medians that do (timer noise on a shared machine) are pooled with their
/// neighbours, weighted by sample count (isotonic regression, pool-adjacent-violators).
#[must_use]
pub fn build_table(samples: &[CostSample], cpu_model: String) -> CalibrationTable {
    // Per key, per size bucket: (units, ns) of every sample.
    type Buckets = BTreeMap<u32, (Vec<u64>, Vec<u64>)>;
    let mut buckets: BTreeMap<String, Buckets> = BTreeMap::new();
    for s in samples {
        let b = 64 - s.units.leading_zeros();
        let e = buckets.entry(s.key.id()).or_default().entry(b).or_default();
        e.0.push(s.units);
        e.1.push(s.ns);
    }
    let median = |v: &mut Vec<u64>| {
        v.sort_unstable();
        v[v.len() / 2] as f64
    };
    let mut entries = BTreeMap::new();
    for (key, by_bucket) in buckets {
        // (units, ns, weight), ascending in units.
        let mut pts: Vec<(f64, f64, f64)> = Vec::new();
        for (_, (mut units, mut ns)) in by_bucket {
            let w = ns.len() as f64;
            let p = (median(&mut units), median(&mut ns), w);
            if pts.last().is_none_or(|l| p.0 > l.0) {
                pts.push(p);
            }
        }
        entries.insert(key, monotone(&pts));
    }
    CalibrationTable::new(cpu_model, entries)
}

/// Isotonic (non-decreasing) fit of `(x, y, weight)` points by pool-adjacent-violators.
fn monotone(pts: &[(f64, f64, f64)]) -> Vec<[f64; 2]> {
    // Blocks of pooled points: (weighted mean of y, total weight, number of points).
    let mut blocks: Vec<(f64, f64, usize)> = Vec::new();
    for &(_, y, w) in pts {
        blocks.push((y, w, 1));
        while blocks.len() > 1 && blocks[blocks.len() - 2].0 > blocks[blocks.len() - 1].0 {
            let (y2, w2, n2) = blocks.pop().unwrap_or((0.0, 0.0, 0));
            if let Some(b) = blocks.last_mut() {
                let w = b.1 + w2;
                *b = ((b.0 * b.1 + y2 * w2) / w, w, b.2 + n2);
            }
        }
    }
    let ys = blocks
        .iter()
        .flat_map(|&(y, _, n)| std::iter::repeat_n(y, n));
    pts.iter()
        .zip(ys)
        .map(|(&(x, _, _), y)| [x, y.round()])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monotone_pools_violators() {
        let fit = monotone(&[
            (1.0, 10.0, 1.0),
            (2.0, 30.0, 1.0),
            (3.0, 20.0, 3.0),
            (4.0, 40.0, 1.0),
        ]);
        assert_eq!(
            fit,
            vec![[1.0, 10.0], [2.0, 23.0], [3.0, 23.0], [4.0, 40.0]]
        );
    }

    const K: OpKey = OpKey {
        scheme: "s",
        op: "o",
    };

    #[test]
    fn interpolates_and_extrapolates() {
        let mut t = CalibrationTable::new(String::new(), BTreeMap::new());
        t.entries.insert(K.id(), vec![[10.0, 100.0], [20.0, 300.0]]);
        assert_eq!(t.predict(&K, 5).unwrap(), 100);
        assert_eq!(t.predict(&K, 15).unwrap(), 200);
        assert_eq!(t.predict(&K, 30).unwrap(), 500);
        for units in [0, 5, 15, 30, 1000] {
            assert_eq!(
                t.predict_cached(&K, units).unwrap(),
                t.predict(&K, units).unwrap()
            );
        }
        let mut t = t.clone();
        t.entries.insert(K.id(), vec![[10.0, 100.0]]);
        assert_eq!(t.predict(&K, 40).unwrap(), 400);
        assert!(matches!(
            t.predict(
                &OpKey {
                    scheme: "x",
                    op: "y"
                },
                1
            ),
            Err(CalibrationError::Missing(_))
        ));
    }

    #[test]
    fn builds_medians_per_bucket() {
        let s = |units, ns| CostSample { key: K, units, ns };
        let t = build_table(
            &[
                s(1, 10),
                s(1, 30),
                s(1, 20),
                s(100, 1000),
                s(120, 1200),
                s(110, 5000),
            ],
            "cpu".into(),
        );
        assert_eq!(t.entries[&K.id()], vec![[1.0, 20.0], [110.0, 1200.0]]);
        assert!(t.check().is_ok());
    }
}
