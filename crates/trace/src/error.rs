//! The crate's errors: of the VCD writer, the CSV writer and the plots.

/// Errors of the VCD and CSV writers and of the plots.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TraceError {
    /// The output could not be written.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// A value was set at a time before one already given to the writer.
    #[error("VCD signal {signal}: time {at_ps} ps is before {last_ps} ps already reached")]
    TimeWentBack {
        /// The signal's dotted name.
        signal: String,
        /// The time asked for, in picoseconds.
        at_ps: u64,
        /// The latest time already given, in picoseconds.
        last_ps: u64,
    },
    /// A real value was NaN or infinite, which VCD readers cannot represent.
    #[error("VCD signal {signal}: value {value} is not finite")]
    NotFinite {
        /// The signal's dotted name.
        signal: String,
        /// The value.
        value: f64,
    },
    /// [`VcdWriter::set_bits`](crate::VcdWriter::set_bits) was called on a `real` variable, or
    /// [`VcdWriter::set_real`](crate::VcdWriter::set_real) on a wire or vector.
    #[error("VCD signal {signal} is not a {expected}")]
    WrongKind {
        /// The signal's dotted name.
        signal: String,
        /// What the call needed: `"wire or vector"` or `"real"`.
        expected: &'static str,
    },
    /// A CSV row had a different number of fields than the header.
    #[error("CSV row {row}: {got} field(s), the header has {expected}")]
    CsvFieldCount {
        /// The row's number, 1 for the first after the header.
        row: u64,
        /// Fields in the header.
        expected: usize,
        /// Fields in the row.
        got: usize,
    },
    /// A plot could not be drawn (its data or the SVG backend).
    #[error("plot: {0}")]
    Plot(String),
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, TraceError>;
