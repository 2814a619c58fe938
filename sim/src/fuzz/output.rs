//! Reproducers: a failure shrunk to a small scenario and written to `DIR/failure-NNN/` with the
//! exact `conclave run` command that shows it again, checked by loading the written file back
//! and running it as that command would.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use crate::cost::CalibrationTable;
use crate::run::{self, Costing};
use crate::scenario::{self, KnownSchemes};

use super::check::{self, FailureClass, Found};
use super::generate::FuzzScenario;
use super::shrink::{self, ShrinkOutcome};
use super::{load, BatchConfig};

/// A written reproducer.
#[derive(Debug, Clone)]
pub struct Reproducer {
    /// The failure it reproduces.
    pub class: FailureClass,
    /// Index of the batch scenario it was shrunk from.
    pub index: u32,
    /// `DIR/failure-NNN/`
    pub dir: PathBuf,
    /// The command that reproduces it.
    pub command: String,
    /// The batch's calibration table, which the command charges from.
    pub calibration: PathBuf,
    /// The failure message of the shrunk scenario (as the reproducing run printed it), or of the
    /// original one when the shrunk scenario could not be checked again.
    pub message: String,
    /// Shrinking statistics.
    pub shrink: ShrinkOutcome,
    /// Whether running the written files as `command` says showed the same failure.
    pub verified: bool,
    /// Why the reproducer could not be written, if it could not.
    pub write_error: Option<String>,
}

/// Quotes `s` for a POSIX shell when it needs it (the commands printed to reproduce a run).
#[must_use]
pub fn shell_word(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-_./=:,@".contains(c))
    {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// Removes the reproducers (`failure-NNN/`) an earlier batch left in `out`, so that every
/// reproducer there is this batch's; returns how many were removed. Nothing else in `out` is
/// touched.
///
/// # Errors
/// When `out` cannot be listed or a reproducer cannot be removed.
pub fn clear_reproducers(out: &Path) -> std::io::Result<usize> {
    let mut removed = 0;
    for entry in fs::read_dir(out)? {
        let entry = entry?;
        let name = entry.file_name();
        let is_reproducer = name
            .to_str()
            .and_then(|n| n.strip_prefix("failure-"))
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        if is_reproducer && entry.file_type()?.is_dir() {
            fs::remove_dir_all(entry.path())?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// Shrinks `original` while `class` persists, writes the reproducer and verifies it.
pub(crate) fn reproduce(
    cfg: &BatchConfig,
    known: &KnownSchemes<'_>,
    original: &FuzzScenario,
    index: u32,
    number: usize,
    class: &FailureClass,
    found: &Found,
) -> Reproducer {
    let dir = cfg.out.join(format!("failure-{number:03}"));
    let path = dir.join("scenario.yaml");
    let shrunk = shrink::shrink(
        original.clone(),
        cfg.shrink_budget,
        |c| load(c, &path, known).is_ok(),
        |c| {
            load(c, &path, known)
                .ok()
                .and_then(|s| check::reproduces(&s, &cfg.costing, class, &known.modelled))
                .is_some()
        },
    );
    let seed = shrunk.scenario.seed;
    let command = [
        "conclave".to_owned(),
        "run".to_owned(),
        shell_word(&path.to_string_lossy()),
        "--seed".to_owned(),
        seed.to_string(),
        "--calibration".to_owned(),
        shell_word(&cfg.calibration_path.to_string_lossy()),
        "--stack".to_owned(),
        shell_word(class.stack()),
        "--out".to_owned(),
        shell_word(&dir.join("report").to_string_lossy()),
    ]
    .join(" ");
    // Shown by comparing the calibrated run's summary.json with the model run's.
    let command = match class {
        FailureClass::ModelDiverges { .. } => format!(
            "{command} && conclave run {} --seed {seed} --calibration {} --stack {} --cost-model model --out {}",
            shell_word(&path.to_string_lossy()),
            shell_word(&cfg.calibration_path.to_string_lossy()),
            shell_word(class.stack()),
            shell_word(&dir.join("report-model").to_string_lossy()),
        ),
        _ => command,
    };
    let mut rep = Reproducer {
        class: class.clone(),
        index,
        dir: dir.clone(),
        command,
        calibration: cfg.calibration_path.clone(),
        message: found.message.clone(),
        shrink: shrunk,
        verified: false,
        write_error: None,
    };
    if let Err(e) = write_files(&rep, original, found) {
        rep.write_error = Some(e);
        return rep;
    }
    match verify(&path, &cfg.calibration_path, known, class) {
        Ok(Some(f)) => {
            rep.verified = true;
            rep.message = f.message;
        }
        Ok(None) => {}
        Err(e) => rep.write_error = Some(format!("checking the written reproducer: {e}")),
    }
    // failure.txt is rewritten with the verification's outcome.
    if let Err(e) = write_files(&rep, original, found) {
        rep.write_error = Some(e);
    }
    rep
}

/// Loads the written scenario and calibration as `conclave run` does and checks the failure.
fn verify(
    path: &Path,
    calibration: &Path,
    known: &KnownSchemes<'_>,
    class: &FailureClass,
) -> Result<Option<Found>, String> {
    let s = scenario::load(path, known).map_err(|e| e.to_string())?;
    let s = run::select_stacks(&s, &[class.stack().to_owned()]).map_err(|e| e.to_string())?;
    let table = CalibrationTable::load(calibration).map_err(|e| e.to_string())?;
    Ok(check::reproduces(
        &s,
        &Costing::Calibrated(table),
        class,
        &known.modelled,
    ))
}

fn write_files(rep: &Reproducer, original: &FuzzScenario, found: &Found) -> Result<(), String> {
    let io = |p: &Path, e: std::io::Error| format!("cannot write {}: {e}", p.display());
    fs::create_dir_all(&rep.dir).map_err(|e| io(&rep.dir, e))?;
    let mut failure = String::new();
    let _ = writeln!(failure, "failure: {}", rep.class);
    let _ = writeln!(failure, "message: {}", rep.message);
    let _ = writeln!(failure, "seed: {}", rep.shrink.scenario.seed);
    let _ = writeln!(failure, "calibration: {}", rep.calibration.display());
    let _ = writeln!(
        failure,
        "reproduced from the written files: {}",
        if rep.verified { "yes" } else { "no" }
    );
    let _ = writeln!(
        failure,
        "shrunk from batch scenario {} ({}) to {} in {} tries, {} kept{}",
        rep.index,
        original.shape(),
        rep.shrink.scenario.shape(),
        rep.shrink.tried,
        rep.shrink.kept,
        if rep.shrink.out_of_time {
            " (time budget spent: may not be minimal)"
        } else {
            ""
        }
    );
    let _ = writeln!(failure, "original failure: {}", found.message);
    let files: [(&str, String); 5] = [
        ("scenario.yaml", rep.shrink.scenario.to_yaml()),
        ("original.yaml", original.to_yaml()),
        ("seed.txt", format!("{}\n", rep.shrink.scenario.seed)),
        ("failure.txt", failure),
        ("command.txt", format!("{}\n", rep.command)),
    ];
    for (name, text) in files {
        let p = rep.dir.join(name);
        fs::write(&p, text).map_err(|e| io(&p, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_earlier_batchs_reproducers_are_cleared() {
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let out = tmp.path();
        for d in [
            "failure-001",
            "failure-12",
            "failure-",
            "failure-x1",
            "reports",
        ] {
            fs::create_dir_all(out.join(d).join("inner")).unwrap_or_else(|e| panic!("{e}"));
        }
        fs::write(out.join("failure-002"), b"a file, not a reproducer")
            .unwrap_or_else(|e| panic!("{e}"));
        fs::write(out.join("calibration.json"), b"{}").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(clear_reproducers(out).unwrap_or_else(|e| panic!("{e}")), 2);
        let mut left: Vec<String> = fs::read_dir(out)
            .unwrap_or_else(|e| panic!("{e}"))
            .map(|e| {
                e.unwrap_or_else(|e| panic!("{e}"))
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                "calibration.json",
                "failure-",
                "failure-002",
                "failure-x1",
                "reports"
            ]
        );
    }
}
