//! IEEE 1364 value change dump (VCD) writer, readable by GTKWave and Surfer,
//! and a small CSV writer for the tables the simulator writes beside it.
//!
//! The simulator declares its signals on a [`VcdBuilder`] — digital wires
//! (width 1), vectors (width 2..=64) and `real` variables, each in a dotted
//! scope such as `chip.tile0` that becomes nested `$scope module` sections —
//! then [`VcdBuilder::start`] writes the header and the initial values and
//! returns a [`VcdWriter`] that the event engine calls as values change.
//!
//! - **Units**: time is integer picoseconds everywhere in the API and in
//!   the file (`$timescale 1 ps $end`); `#10000` is 10 ns.
//! - **Changes only**: a value is written only when it differs from the
//!   last one written for that signal, and a `#time` line only when time
//!   advances. Time must never go backwards ([`TraceError::TimeWentBack`]).
//! - **Deterministic**: no `$date` is written; the file is a pure function
//!   of the declarations and the calls, so dumps can be compared byte for
//!   byte. The `$version` is `aimsim <crate version>`; the caller's comment
//!   (seed, configuration, possibly multi-line JSON) goes into `$comment`.
//! - **Selection**: [`VcdBuilder::select`] keeps only signals whose dotted
//!   name matches a `*` glob; calls on the others are cheap no-ops.
//! - **Encoding**: identifier codes are the standard printable base-94
//!   codes (`!`, `"`, … `~`, `!!`, …); wires are written `1!` / `0!`,
//!   vectors `b1010 "` without leading zeros, reals `r12.5 #`.
//!
//! Modules: `builder` declares signals and writes the header (`scope`
//! builds its scope tree, `select` matches the selection globs, `code`
//! numbers the signals); `writer` writes the value changes; `csv` is
//! [`CsvWriter`]; `error` is [`TraceError`].
//!
//! ```
//! use aimsim_trace::VcdBuilder;
//!
//! let mut b = VcdBuilder::new("seed 1");
//! let busy = b.wire("tile0", "busy", 1);
//! let energy = b.real("controller", "energy_pj");
//! let mut w = b.start(Vec::new())?; // usually a BufWriter<File>
//! w.set_bits(0, busy, 1)?;
//! w.set_bits(10_000, busy, 0)?; // at 10 ns
//! w.set_real(10_000, energy, 12.5)?;
//! w.set_real(10_000, energy, 12.5)?; // unchanged: nothing written
//! assert_eq!(w.changes_written(), 3);
//! let text = String::from_utf8(w.finish(20_000)?).unwrap();
//! assert!(text.contains("#10000\n0!\nr12.5 \"\n#20000\n"));
//! # Ok::<(), aimsim_trace::TraceError>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod builder;
mod code;
mod csv;
mod error;
pub mod plot;
mod scope;
mod select;
#[cfg(test)]
mod test_support;
mod writer;

pub use builder::{SignalId, VcdBuilder};
pub use csv::CsvWriter;
pub use error::{Result, TraceError};
pub use writer::VcdWriter;
