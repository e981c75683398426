use std::path::PathBuf;

/// Errors of the shared configuration plumbing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CoreError {
    /// A file could not be read.
    #[error("{file}: cannot read: {source}")]
    Read {
        /// The file.
        file: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A file is not valid JSON or does not match the expected structure.
    #[error("{file}: field `{field}`: {message}")]
    Parse {
        /// The file (or a pseudo-name such as `<embedded chip>`).
        file: String,
        /// Dotted path of the offending field (`.` for the document root).
        field: String,
        /// What was wrong and what was expected.
        message: String,
    },
    /// A value is well-formed but physically impossible or out of range.
    #[error("{file}: field `{field}`: {message}")]
    Invalid {
        /// The file the value came from.
        file: String,
        /// Dotted path of the offending field.
        field: String,
        /// What was expected.
        message: String,
    },
    /// A `--set path=value` override is malformed.
    #[error("--set {spec}: {message}")]
    Override {
        /// The override as given.
        spec: String,
        /// What was wrong.
        message: String,
    },
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, CoreError>;
