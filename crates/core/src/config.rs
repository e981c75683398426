//! Configuration plumbing shared by chip, device and run files.
//!
//! Files are read in two stages (see STYLE.md): serde into a raw struct with
//! `deny_unknown_fields`, then validation into a checked type. This module
//! supplies the parts both stages share: JSON parsing whose errors carry the
//! dotted field path, `--set path=value` overrides applied to the JSON tree
//! before parsing (so an override of a field that does not exist is reported
//! exactly like an unknown field in the file), and a [`Check`] helper that
//! names the file and field of a physically impossible value.

use crate::{CoreError, Result};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::path::Path;

/// The largest input file read, in bytes (64 MiB). Every input of aimsim
/// (chip, device, measured data, run specs) is far smaller; a larger file,
/// or a stream such as `/dev/zero`, is refused after reading at most this
/// much instead of exhausting memory.
pub const MAX_INPUT_BYTES: u64 = 64 << 20;

/// The largest magnitude of a physical quantity accepted by
/// [`Check::positive`] and [`Check::non_negative`]: 10¹² in the field's own
/// unit (pJ, µS, µA, fF, mW, …) — far beyond any device or circuit, and
/// small enough that every product and sum of such quantities over a run
/// stays finite (the energy ledger never sees an infinity).
pub const MAX_MAGNITUDE: f64 = 1e12;

/// Reads a file's bytes, at most [`MAX_INPUT_BYTES`], naming the file on
/// failure.
pub fn read_bytes(path: &Path) -> Result<Vec<u8>> {
    use std::io::Read;
    let read_err = |source| CoreError::Read {
        file: path.to_path_buf(),
        source,
    };
    let too_big = || CoreError::Parse {
        file: path.display().to_string(),
        field: ".".into(),
        message: format!(
            "larger than the input limit of {} MiB",
            MAX_INPUT_BYTES >> 20
        ),
    };
    let file = std::fs::File::open(path).map_err(read_err)?;
    let meta = file.metadata().map_err(read_err)?;
    if meta.is_dir() {
        return Err(read_err(std::io::Error::other("is a directory")));
    }
    if meta.is_file() && meta.len() > MAX_INPUT_BYTES {
        return Err(too_big());
    }
    let mut bytes = Vec::new();
    file.take(MAX_INPUT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(read_err)?;
    if bytes.len() as u64 > MAX_INPUT_BYTES {
        return Err(too_big());
    }
    Ok(bytes)
}

/// Reads a UTF-8 file to a string (at most [`MAX_INPUT_BYTES`]), naming
/// the file on failure.
pub fn read_text(path: &Path) -> Result<String> {
    String::from_utf8(read_bytes(path)?).map_err(|_| CoreError::Parse {
        file: path.display().to_string(),
        field: ".".into(),
        message: "not UTF-8 text".into(),
    })
}

/// Parses JSON text into a tree, naming `file` and the line on failure.
/// A key given twice in one object is refused (plain serde_json keeps the
/// last one silently, so a file could say two things at once).
pub fn parse_tree(file: &str, text: &str) -> Result<Value> {
    use serde::de::DeserializeSeed;
    let mut de = serde_json::Deserializer::from_str(text);
    let parsed = UniqueKeys {
        path: String::new(),
    }
    .deserialize(&mut de)
    .and_then(|v| de.end().map(|()| v));
    parsed.map_err(|e| CoreError::Parse {
        file: file.to_string(),
        field: ".".into(),
        message: format!("malformed JSON: {e}"),
    })
}

/// Builds a [`Value`] like serde_json does, refusing duplicate keys; `path`
/// is the dotted path of the value, for the message.
struct UniqueKeys {
    path: String,
}

impl<'de> serde::de::DeserializeSeed<'de> for UniqueKeys {
    type Value = Value;
    fn deserialize<D: serde::Deserializer<'de>>(
        self,
        d: D,
    ) -> std::result::Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for UniqueKeys {
    type Value = Value;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> std::result::Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> std::result::Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> std::result::Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> std::result::Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_str<E>(self, v: &str) -> std::result::Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> std::result::Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> std::result::Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> std::result::Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(UniqueKeys {
            path: format!("{}[{}]", self.path, out.len()),
        })? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(
        self,
        mut map: A,
    ) -> std::result::Result<Value, A::Error> {
        let mut out = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let path = if self.path.is_empty() {
                key.clone()
            } else {
                format!("{}.{key}", self.path)
            };
            if out.contains_key(&key) {
                return Err(serde::de::Error::custom(format!("duplicate key `{path}`")));
            }
            let v = map.next_value_seed(UniqueKeys { path })?;
            out.insert(key, v);
        }
        Ok(Value::Object(out))
    }
}

/// A number as a message prints it: plainly when short, in scientific
/// notation when huge or tiny (`1e300`, not 301 digits).
pub fn num(v: f64) -> String {
    let a = v.abs();
    if v == 0.0 || !v.is_finite() || (1e-4..1e9).contains(&a) {
        format!("{v}")
    } else {
        format!("{v:e}")
    }
}

/// Deserialises a JSON tree into `T`, naming `file` and the field path of
/// the first mismatch (unknown field, wrong type, missing field).
pub fn from_tree<T: DeserializeOwned>(file: &str, tree: Value) -> Result<T> {
    serde_path_to_error::deserialize(tree).map_err(|e| {
        let path = e.path().to_string();
        CoreError::Parse {
            file: file.to_string(),
            field: if path.is_empty() { ".".into() } else { path },
            message: e.into_inner().to_string(),
        }
    })
}

/// Owned `(path, value)` override pairs from string slices, the form the
/// file loaders take (`overrides(&[("adc.bits", "6")])`).
pub fn overrides(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(p, v)| (p.to_string(), v.to_string()))
        .collect()
}

/// Applies one `path=value` override to a JSON tree. `path` is dotted
/// (`adc.bits`); `value` is parsed as JSON and taken as a string if it is not
/// valid JSON (so `--set rule.name=bp` works without quotes). Missing objects
/// along the path are created; deserialisation then rejects unknown fields.
pub fn apply_override(root: &mut Value, path: &str, value: &str) -> Result<()> {
    let spec = format!("{path}={value}");
    let bad = |message: String| CoreError::Override {
        spec: spec.clone(),
        message,
    };
    if path.is_empty() || path.split('.').any(str::is_empty) {
        return Err(bad(
            "the path must be dotted field names, e.g. adc.bits".into()
        ));
    }
    let parsed: Value =
        serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.to_string()));
    let mut node = root;
    let mut parts = path.split('.').peekable();
    while let Some(key) = parts.next() {
        let Value::Object(map) = node else {
            return Err(bad(format!(
                "`{key}` is inside a value that is not an object"
            )));
        };
        if parts.peek().is_none() {
            map.insert(key.to_string(), parsed);
            return Ok(());
        }
        node = map
            .entry(key.to_string())
            .or_insert_with(|| Value::Object(Default::default()));
    }
    unreachable!("a non-empty path has a last part")
}

/// Names the file whose values are being validated and builds errors that
/// name the field.
#[derive(Clone, Debug)]
pub struct Check<'a> {
    file: &'a str,
    prefix: String,
}

impl<'a> Check<'a> {
    /// Validation of values from `file`.
    pub fn new(file: &'a str) -> Self {
        Check {
            file,
            prefix: String::new(),
        }
    }

    /// A checker for the fields under `section` (e.g. `adc`).
    pub fn section(&self, section: &str) -> Check<'a> {
        Check {
            file: self.file,
            prefix: format!("{}{section}.", self.prefix),
        }
    }

    /// The file being checked.
    pub fn file(&self) -> &str {
        self.file
    }

    /// An error for `field` with `message`.
    pub fn err(&self, field: &str, message: impl Into<String>) -> CoreError {
        CoreError::Invalid {
            file: self.file.to_string(),
            field: format!("{}{field}", self.prefix),
            message: message.into(),
        }
    }

    /// Deserialises the value of `field` (a subtree of the file) into `T`,
    /// naming the full field path of the first mismatch exactly as
    /// [`from_tree`] would had `T` been parsed with the whole file. Lets a
    /// section whose type is chosen at run time (a rule's parameters) be
    /// parsed after the file.
    pub fn parse<T: DeserializeOwned>(&self, field: &str, tree: Value) -> Result<T> {
        serde_path_to_error::deserialize(tree).map_err(|e| {
            let mut path = format!("{}{field}", self.prefix);
            for segment in e.path().iter() {
                if !matches!(segment, serde_path_to_error::Segment::Seq { .. }) {
                    path.push('.');
                }
                path.push_str(&segment.to_string());
            }
            CoreError::Parse {
                file: self.file.to_string(),
                field: path,
                message: e.into_inner().to_string(),
            }
        })
    }

    /// `value` must be finite, > 0 and at most [`MAX_MAGNITUDE`].
    pub fn positive(&self, field: &str, value: f64) -> Result<f64> {
        if value.is_finite() && value > 0.0 && value <= MAX_MAGNITUDE {
            Ok(value)
        } else {
            Err(self.err(
                field,
                format!(
                    "expected a value > 0 and <= {}, got {}",
                    num(MAX_MAGNITUDE),
                    num(value)
                ),
            ))
        }
    }

    /// `value` must be finite, ≥ 0 and at most [`MAX_MAGNITUDE`].
    pub fn non_negative(&self, field: &str, value: f64) -> Result<f64> {
        if value.is_finite() && (0.0..=MAX_MAGNITUDE).contains(&value) {
            Ok(value)
        } else {
            Err(self.err(
                field,
                format!(
                    "expected a value in [0, {}], got {}",
                    num(MAX_MAGNITUDE),
                    num(value)
                ),
            ))
        }
    }

    /// `value` must be finite and within `lo..=hi`.
    pub fn range(&self, field: &str, value: f64, lo: f64, hi: f64) -> Result<f64> {
        if value.is_finite() && (lo..=hi).contains(&value) {
            Ok(value)
        } else {
            Err(self.err(
                field,
                format!(
                    "expected a value in [{}, {}], got {}",
                    num(lo),
                    num(hi),
                    num(value)
                ),
            ))
        }
    }

    /// An integer within `lo..=hi`.
    pub fn int_range(&self, field: &str, value: u64, lo: u64, hi: u64) -> Result<u64> {
        if (lo..=hi).contains(&value) {
            Ok(value)
        } else {
            Err(self.err(
                field,
                format!("expected an integer in [{lo}, {hi}], got {value}"),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    struct Inner {
        bits: u32,
    }
    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    struct Outer {
        adc: Inner,
    }

    #[test]
    fn override_reaches_nested_field() {
        let mut t = parse_tree("x.json", r#"{"adc":{"bits":8}}"#).unwrap();
        apply_override(&mut t, "adc.bits", "12").unwrap();
        let o: Outer = from_tree("x.json", t).unwrap();
        assert_eq!(o.adc.bits, 12);
    }

    #[test]
    fn unknown_override_is_named() {
        let mut t = parse_tree("x.json", r#"{"adc":{"bits":8}}"#).unwrap();
        apply_override(&mut t, "adc.bitz", "12").unwrap();
        let e = from_tree::<Outer>("x.json", t).unwrap_err().to_string();
        assert!(e.contains("x.json") && e.contains("bitz"), "{e}");
    }

    #[test]
    fn wrong_type_names_field_path() {
        let t = parse_tree("c.json", r#"{"adc":{"bits":"many"}}"#).unwrap();
        let e = from_tree::<Outer>("c.json", t).unwrap_err().to_string();
        assert!(e.contains("c.json: field `adc.bits`"), "{e}");
    }

    #[test]
    fn malformed_json_names_file() {
        let e = parse_tree("c.json", "{ nope").unwrap_err().to_string();
        assert!(e.starts_with("c.json"), "{e}");
    }

    #[test]
    fn bad_override_paths_rejected() {
        let mut t = parse_tree("x", r#"{"a":1}"#).unwrap();
        assert!(apply_override(&mut t, "", "1").is_err());
        assert!(apply_override(&mut t, "a..b", "1").is_err());
        assert!(apply_override(&mut t, "a.b", "1").is_err());
    }

    #[test]
    fn a_section_parsed_later_names_the_same_path() {
        let t = parse_tree("c.json", r#"{"adc":{"bits":"many"}}"#).unwrap();
        let whole = from_tree::<Outer>("c.json", t.clone()).unwrap_err();
        let c = Check::new("c.json");
        let late = c.parse::<Inner>("adc", t["adc"].clone()).unwrap_err();
        assert_eq!(late.to_string(), whole.to_string());
        let t = parse_tree("c.json", r#"{"adc":{"bitz":1}}"#).unwrap();
        let whole = from_tree::<Outer>("c.json", t.clone()).unwrap_err();
        let late = c.parse::<Inner>("adc", t["adc"].clone()).unwrap_err();
        assert_eq!(late.to_string(), whole.to_string());
        assert!(late.to_string().contains("field `adc.bitz`"), "{late}");
    }

    #[test]
    fn checks_name_sections() {
        let c = Check::new("chip.json").section("driver");
        let e = c.positive("pulse_width_ns", -1.0).unwrap_err().to_string();
        assert!(
            e.contains("chip.json: field `driver.pulse_width_ns`"),
            "{e}"
        );
        assert!(c.positive("w", f64::NAN).is_err());
        assert!(c.non_negative("w", 0.0).is_ok());
        let e = c.non_negative("w", 1e300).unwrap_err().to_string();
        assert!(e.contains("got 1e300") && e.len() < 120, "{e}");
        assert!(c.positive("w", MAX_MAGNITUDE * 2.0).is_err());
    }

    #[test]
    fn duplicate_keys_are_refused_with_their_path() {
        let e = parse_tree("c.json", r#"{"adc":{"bits":8,"bits":9}}"#)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("c.json") && e.contains("duplicate key `adc.bits`"),
            "{e}"
        );
        let e = parse_tree("c.json", r#"{"a":[{"x":1,"x":1}]}"#).unwrap_err();
        assert!(e.to_string().contains("`a[0].x`"), "{e}");
        let t = parse_tree("c.json", r#"{"a":[1,-2,3.5,"s",null,true,{}]}"#).unwrap();
        assert_eq!(
            t,
            serde_json::from_str::<Value>(r#"{"a":[1,-2,3.5,"s",null,true,{}]}"#).unwrap()
        );
        assert!(parse_tree("c.json", "{} x").is_err());
    }

    #[test]
    fn inputs_are_read_with_a_cap() {
        let e = read_text(Path::new("/dev/zero")).unwrap_err().to_string();
        assert!(e.contains("/dev/zero") && e.contains("input limit"), "{e}");
        let e = read_text(Path::new("/")).unwrap_err().to_string();
        assert!(e.contains("directory"), "{e}");
    }

    #[test]
    fn numbers_print_compactly() {
        assert_eq!(num(1e300), "1e300");
        assert_eq!(num(6.5), "6.5");
        assert_eq!(num(-2e-9), "-2e-9");
    }
}
