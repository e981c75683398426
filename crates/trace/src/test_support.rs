//! Helpers of the unit tests: a finished dump as text, and its body.

use crate::VcdWriter;

pub(crate) fn text(w: VcdWriter<Vec<u8>>, end: u64) -> String {
    String::from_utf8(w.finish(end).unwrap()).unwrap()
}

/// The body: everything after `$dumpvars ... $end`.
pub(crate) fn body(t: &str) -> &str {
    let i = t.find("$dumpvars").unwrap();
    let j = t[i..].find("$end\n").unwrap();
    &t[i + j + 5..]
}
