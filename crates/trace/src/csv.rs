//! A small CSV writer: a header line, then rows of the same number of
//! fields, to any `io::Write` (`energy.csv`, `lifetime.csv`).
//!
//! Fields are written as given, separated by `,`, one row per `\n`-ended
//! line; a field holding a comma, a double quote, a CR or a LF is quoted as
//! RFC 4180 says (`"a ""b"", c"`), so numbers and plain names come out
//! unquoted. A row with a different number of fields than the header is
//! refused ([`TraceError::CsvFieldCount`]) and nothing of it is written.

use crate::{Result, TraceError};
use std::io::Write;

/// Writes a CSV header, then rows.
///
/// ```
/// use aimsim_trace::CsvWriter;
///
/// let mut csv = CsvWriter::new(Vec::new(), &["step", "total_pj"])?;
/// csv.row(&[1.to_string(), format!("{:.6e}", 12.5)])?;
/// csv.row(&["2", ""])?; // an empty field: nothing was measured
/// let text = String::from_utf8(csv.finish()?).unwrap();
/// assert_eq!(text, "step,total_pj\n1,1.250000e1\n2,\n");
/// # Ok::<(), aimsim_trace::TraceError>(())
/// ```
pub struct CsvWriter<W: Write> {
    out: W,
    fields: usize,
    rows: u64,
    /// Reused line buffer.
    line: String,
}

impl<W: Write> std::fmt::Debug for CsvWriter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CsvWriter")
            .field("fields", &self.fields)
            .field("rows", &self.rows)
            .finish_non_exhaustive()
    }
}

impl<W: Write> CsvWriter<W> {
    /// Writes the `header` line to `out` and returns a writer for rows of
    /// that many fields.
    pub fn new<S: AsRef<str>>(out: W, header: &[S]) -> Result<Self> {
        let mut w = CsvWriter {
            out,
            fields: header.len(),
            rows: 0,
            line: String::new(),
        };
        w.write_line(header)?;
        Ok(w)
    }

    /// Writes one row; it must have as many fields as the header.
    pub fn row<S: AsRef<str>>(&mut self, fields: &[S]) -> Result<()> {
        if fields.len() != self.fields {
            return Err(TraceError::CsvFieldCount {
                row: self.rows + 1,
                expected: self.fields,
                got: fields.len(),
            });
        }
        self.write_line(fields)?;
        self.rows += 1;
        Ok(())
    }

    /// Flushes what was written to the inner writer.
    pub fn flush(&mut self) -> Result<()> {
        self.out.flush()?;
        Ok(())
    }

    /// Rows written so far, not counting the header.
    pub fn rows_written(&self) -> u64 {
        self.rows
    }

    /// Flushes and returns the inner writer.
    pub fn finish(mut self) -> Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }

    fn write_line<S: AsRef<str>>(&mut self, fields: &[S]) -> Result<()> {
        self.line.clear();
        for (i, f) in fields.iter().enumerate() {
            if i > 0 {
                self.line.push(',');
            }
            push_field(&mut self.line, f.as_ref());
        }
        self.line.push('\n');
        self.out.write_all(self.line.as_bytes())?;
        Ok(())
    }
}

/// Appends `field`, quoted if it holds a comma, a quote or a line break.
fn push_field(line: &mut String, field: &str) {
    if field.contains([',', '"', '\n', '\r']) {
        line.push('"');
        line.push_str(&field.replace('"', "\"\""));
        line.push('"');
    } else {
        line.push_str(field);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_and_rows_are_lines_of_fields() {
        let mut w = CsvWriter::new(Vec::new(), &["step", "pulses_mean", "failed"]).unwrap();
        w.row(&["0".to_string(), format!("{:.6}", 0.5), "3".into()])
            .unwrap();
        w.row(&[String::from("10"), "1.250000".into(), String::new()])
            .unwrap();
        assert_eq!(w.rows_written(), 2);
        assert_eq!(
            String::from_utf8(w.finish().unwrap()).unwrap(),
            "step,pulses_mean,failed\n0,0.500000,3\n10,1.250000,\n"
        );
    }

    #[test]
    fn fields_that_need_it_are_quoted() {
        let mut w = CsvWriter::new(Vec::new(), &["name", "note"]).unwrap();
        w.row(&["a,b", "say \"hi\"\nthen go"]).unwrap();
        w.row(&["plain", "1e-3"]).unwrap();
        assert_eq!(
            String::from_utf8(w.finish().unwrap()).unwrap(),
            "name,note\n\"a,b\",\"say \"\"hi\"\"\nthen go\"\nplain,1e-3\n"
        );
    }

    #[test]
    fn a_row_of_the_wrong_width_is_refused_and_not_written() {
        let mut w = CsvWriter::new(Vec::new(), &["a", "b"]).unwrap();
        w.row(&["1", "2"]).unwrap();
        match w.row(&["1", "2", "3"]).unwrap_err() {
            TraceError::CsvFieldCount { row, expected, got } => {
                assert_eq!((row, expected, got), (2, 2, 3))
            }
            e => panic!("{e}"),
        }
        let e = w.row(&["1"]).unwrap_err().to_string();
        assert!(e.contains("row 2") && e.contains("1 field"), "{e}");
        assert_eq!(w.rows_written(), 1);
        assert_eq!(
            String::from_utf8(w.finish().unwrap()).unwrap(),
            "a,b\n1,2\n"
        );
    }

    #[test]
    fn write_errors_are_io_errors() {
        struct Full;
        impl Write for Full {
            fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
                Err(std::io::Error::other("disk full"))
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let e = CsvWriter::new(Full, &["a"]).unwrap_err();
        assert!(matches!(e, TraceError::Io(_)), "{e}");
    }
}
