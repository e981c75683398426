//! Errors of a sweep.

/// Errors of a sweep. [`SweepError::is_bad_input`] tells the user's input
/// (exit status 2) from a failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SweepError {
    /// The sweep spec cannot be used: the file, the field (naming the axis)
    /// and what was expected.
    #[error("{file}: {field}: {message}")]
    Spec {
        /// The spec file.
        file: String,
        /// Where in the spec (`axes[2] (chip.adc.bits)`, `sample.points`).
        field: String,
        /// What was wrong and what was expected.
        message: String,
    },
    /// Shards that do not join into one sweep (a point missing or twice,
    /// different specs).
    #[error("{0}")]
    Merge(String),
    /// An option or folder that cannot be used.
    #[error("{0}")]
    Usage(String),
    /// A result file that cannot be read back.
    #[error("{file}: {message}")]
    Results {
        /// The file.
        file: String,
        /// What was wrong.
        message: String,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

impl SweepError {
    /// Whether the error is the user's input (exit status 2).
    pub fn is_bad_input(&self) -> bool {
        !matches!(self, SweepError::Io { .. })
    }

    pub(crate) fn spec(file: &str, field: impl Into<String>, message: impl Into<String>) -> Self {
        SweepError::Spec {
            file: file.to_string(),
            field: field.into(),
            message: message.into(),
        }
    }

    pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> SweepError + '_ {
        move |source| SweepError::Io {
            path: path.display().to_string(),
            source,
        }
    }
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, SweepError>;
