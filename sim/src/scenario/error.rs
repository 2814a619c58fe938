//! Errors from reading and validating a scenario file.

use std::fmt;
use std::path::{Path, PathBuf};

/// Why a scenario file was rejected.
///
/// Displayed as `FILE:LINE:COLUMN: KEY: MESSAGE`, leaving out the parts that are not known (an
/// empty file has no line, an error about the whole document has no key).
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read (missing, unreadable, a directory, ...).
    #[error("{}: cannot read the scenario file: {source}", .path.display())]
    Io {
        /// The file that was asked for.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The file was read but its content is not a valid scenario.
    #[error("{}", located(.path, *.line, *.column, .key.as_deref(), .message))]
    Invalid {
        /// The scenario file.
        path: PathBuf,
        /// 1-based line of the offending key or value, when known.
        line: Option<usize>,
        /// 1-based column of the offending key or value, when known.
        column: Option<usize>,
        /// Key path of the offending entry, such as `org.rooms[1].size.zipf.max`, when known.
        key: Option<String>,
        /// What is wrong: what was expected and, for a closed set, the allowed values.
        message: String,
    },
}

impl ScenarioError {
    /// The scenario file the error is about.
    #[must_use]
    pub fn path(&self) -> &Path {
        match self {
            ScenarioError::Io { path, .. } | ScenarioError::Invalid { path, .. } => path,
        }
    }

    /// 1-based line, when known.
    #[must_use]
    pub fn line(&self) -> Option<usize> {
        match self {
            ScenarioError::Io { .. } => None,
            ScenarioError::Invalid { line, .. } => *line,
        }
    }

    /// 1-based column, when known.
    #[must_use]
    pub fn column(&self) -> Option<usize> {
        match self {
            ScenarioError::Io { .. } => None,
            ScenarioError::Invalid { column, .. } => *column,
        }
    }

    /// Key path of the offending entry (`workload.messages.rate`), when known.
    #[must_use]
    pub fn key(&self) -> Option<&str> {
        match self {
            ScenarioError::Io { .. } => None,
            ScenarioError::Invalid { key, .. } => key.as_deref(),
        }
    }

    /// The message without the location prefix.
    #[must_use]
    pub fn message(&self) -> String {
        match self {
            ScenarioError::Io { source, .. } => format!("cannot read the scenario file: {source}"),
            ScenarioError::Invalid { message, .. } => message.clone(),
        }
    }
}

/// Builds the display helper for [`ScenarioError::Invalid`].
fn located<'a>(
    path: &'a Path,
    line: Option<usize>,
    column: Option<usize>,
    key: Option<&'a str>,
    message: &'a str,
) -> Located<'a> {
    Located {
        path,
        line,
        column,
        key,
        message,
    }
}

/// Display helper for [`ScenarioError::Invalid`].
struct Located<'a> {
    path: &'a Path,
    line: Option<usize>,
    column: Option<usize>,
    key: Option<&'a str>,
    message: &'a str,
}

impl fmt::Display for Located<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        if let Some(key) = self.key.filter(|k| !k.is_empty()) {
            write!(f, ": {key}")?;
        }
        write!(f, ": {}", self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_omits_unknown_parts() {
        let e = ScenarioError::Invalid {
            path: PathBuf::from("a.yaml"),
            line: Some(3),
            column: Some(7),
            key: Some("org.users".into()),
            message: "expected an integer".into(),
        };
        assert_eq!(e.to_string(), "a.yaml:3:7: org.users: expected an integer");
        let e = ScenarioError::Invalid {
            path: PathBuf::from("a.yaml"),
            line: None,
            column: None,
            key: None,
            message: "the file is empty".into(),
        };
        assert_eq!(e.to_string(), "a.yaml: the file is empty");
        let e = ScenarioError::Io {
            path: PathBuf::from("missing.yaml"),
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        };
        assert!(e
            .to_string()
            .starts_with("missing.yaml: cannot read the scenario file: "));
    }
}
