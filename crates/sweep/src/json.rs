//! Reading fields of the spec's JSON objects with messages that name the
//! field and what was expected.

use crate::{Result, SweepError};
use serde_json::{Map, Value};

/// Reads fields of one JSON object, rejecting keys it does not know.
pub(crate) struct Obj<'a> {
    file: &'a str,
    at: String,
    map: &'a Map<String, Value>,
}

impl<'a> Obj<'a> {
    pub(crate) fn new(file: &'a str, at: impl Into<String>, v: &'a Value) -> Result<Self> {
        let at = at.into();
        match v {
            Value::Object(map) => Ok(Obj { file, at, map }),
            _ => Err(SweepError::spec(file, &at, "expected an object")),
        }
    }

    pub(crate) fn field(&self, key: &str) -> String {
        if self.at.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.at)
        }
    }

    pub(crate) fn err(&self, key: &str, message: impl Into<String>) -> SweepError {
        SweepError::spec(self.file, self.field(key), message)
    }

    pub(crate) fn only(&self, keys: &[&str]) -> Result<()> {
        for k in self.map.keys() {
            if !keys.contains(&k.as_str()) {
                return Err(self.err(
                    k,
                    format!("unknown key; expected one of {}", keys.join(", ")),
                ));
            }
        }
        Ok(())
    }

    pub(crate) fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    pub(crate) fn string(&self, key: &str) -> Result<Option<String>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
            Some(_) => Err(self.err(key, "expected a non-empty string")),
        }
    }

    pub(crate) fn uint(&self, key: &str) -> Result<Option<u64>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_u64()
                .map(Some)
                .ok_or_else(|| self.err(key, format!("expected a non-negative integer, got {v}"))),
        }
    }

    pub(crate) fn number(&self, key: &str) -> Result<Option<f64>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_f64()
                .filter(|x| x.is_finite())
                .map(Some)
                .ok_or_else(|| self.err(key, format!("expected a number, got {v}"))),
        }
    }

    pub(crate) fn boolean(&self, key: &str) -> Result<bool> {
        match self.get(key) {
            None => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(v) => Err(self.err(key, format!("expected true or false, got {v}"))),
        }
    }
}

/// Whether `v` is a string, number or boolean.
pub(crate) fn is_scalar(v: &Value) -> bool {
    matches!(v, Value::String(_) | Value::Number(_) | Value::Bool(_))
}
