//! The rules a chip file can name, and the chip file's `rule` section.
//!
//! [`RULES`] lists one [`RuleEntry`] per rule; everything else here (the
//! accepted names, the sections `chip.rule` may hold, checking and
//! building) derives from it. Adding a rule is one module under `rules/`
//! with a raw parameter type implementing [`RuleParams`], plus one line in
//! [`RULES`].
//!
//! `chip.rule` keeps every rule's section side by side, whichever rule is
//! named (`{"name": "eapu", "eapu": {...}, "bp": {...}, ...}`), so a chip
//! file can switch rules with `--rule` alone. Each section is kept as JSON
//! when the file is read and parsed by its rule when the rule section is
//! checked ([`check_rule`]), naming the same field path (`rule.bp.…`) and
//! giving the same message as if it had been parsed with the file.

use crate::rules::{
    RawBp, RawEapu, RawIdeal, RawMixedPrecision, RawStochasticPulse, RawWriteVerify,
};
use crate::{UpdateRule, WriteMode};
use aimsim_core::config::Check;
use aimsim_core::Result;
use aimsim_device::DeviceModel;
use serde::de::{self, DeserializeOwned, MapAccess, SeqAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;

/// The raw parameters of one rule: its section of `chip.rule`, how to check
/// it without a device, and how to build the rule for a device.
pub trait RuleParams: DeserializeOwned + Default {
    /// The rule's name, and the key of its section in `chip.rule`.
    const NAME: &'static str;

    /// Whether `chip.rule` may hold a section for the rule (false for a rule
    /// without parameters; its [`Default`] is then always used).
    const HAS_SECTION: bool = true;

    /// Checks the values that do not depend on the device; `c` names the
    /// section (`rule.<name>`).
    fn check(&self, c: &Check) -> Result<()> {
        let _ = c;
        Ok(())
    }

    /// Builds the rule for `model`, filling the parameters left out with
    /// their device-derived defaults; `c` names the section. Called after
    /// [`RuleParams::check`].
    fn build(&self, c: &Check, model: &DeviceModel) -> Result<Box<dyn UpdateRule>>;
}

/// One rule of the registry.
#[derive(Clone, Copy)]
pub struct RuleEntry {
    /// The name a chip file or `--rule` gives.
    pub name: &'static str,
    has_section: bool,
    parse: fn(&Check, &Value) -> Result<()>,
    check: fn(&Check, Option<&Value>) -> Result<()>,
    build: BuildFn,
}

/// Builds a rule from its section (absent: defaults) for a device.
type BuildFn = fn(&Check, Option<&Value>, &DeviceModel) -> Result<Box<dyn UpdateRule>>;

impl RuleEntry {
    /// The entry of the rule whose parameters are `P`.
    pub const fn of<P: RuleParams>() -> RuleEntry {
        RuleEntry {
            name: P::NAME,
            has_section: P::HAS_SECTION,
            parse: parse_only::<P>,
            check: check_section::<P>,
            build: build_section::<P>,
        }
    }

    /// Whether `chip.rule.<name>` may be given.
    pub fn has_section(&self) -> bool {
        self.has_section
    }
}

impl fmt::Debug for RuleEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RuleEntry")
            .field("name", &self.name)
            .field("has_section", &self.has_section)
            .finish_non_exhaustive()
    }
}

/// Every rule, in the order `--rule`'s help and error messages list them.
pub const RULES: &[RuleEntry] = &[
    RuleEntry::of::<RawEapu>(),
    RuleEntry::of::<RawBp>(),
    RuleEntry::of::<RawStochasticPulse>(),
    RuleEntry::of::<RawMixedPrecision>(),
    RuleEntry::of::<RawWriteVerify>(),
    RuleEntry::of::<RawIdeal>(),
];

const N_SECTIONS: usize = {
    let mut n = 0;
    let mut i = 0;
    while i < RULES.len() {
        if RULES[i].has_section {
            n += 1;
        }
        i += 1;
    }
    n
};

const NAMES: [&str; RULES.len()] = {
    let mut a = [""; RULES.len()];
    let mut i = 0;
    while i < RULES.len() {
        a[i] = RULES[i].name;
        i += 1;
    }
    a
};

/// The fields of `chip.rule`: `name`, then each rule's section.
const FIELDS: [&str; N_SECTIONS + 1] = {
    let mut a = ["name"; N_SECTIONS + 1];
    let (mut i, mut k) = (0, 1);
    while i < RULES.len() {
        if RULES[i].has_section {
            a[k] = RULES[i].name;
            k += 1;
        }
        i += 1;
    }
    a
};

/// The names `--rule` accepts.
pub const RULE_NAMES: &[&str] = &NAMES;

/// The registry entry named `name`.
pub fn find_rule(name: &str) -> Option<&'static RuleEntry> {
    RULES.iter().find(|e| e.name == name)
}

fn parse<P: RuleParams>(c: &Check, v: Option<&Value>) -> Result<P> {
    match v {
        Some(v) => c.parse(P::NAME, v.clone()),
        None => Ok(P::default()),
    }
}

fn parse_only<P: RuleParams>(c: &Check, v: &Value) -> Result<()> {
    parse::<P>(c, Some(v)).map(drop)
}

fn check_section<P: RuleParams>(c: &Check, v: Option<&Value>) -> Result<()> {
    parse::<P>(c, v)?.check(&c.section(P::NAME))
}

fn build_section<P: RuleParams>(
    c: &Check,
    v: Option<&Value>,
    model: &DeviceModel,
) -> Result<Box<dyn UpdateRule>> {
    let p = parse::<P>(c, v)?;
    let s = c.section(P::NAME);
    p.check(&s)?;
    p.build(&s, model)
}

/// The rule section of a chip file (`chip.rule`): the rule to run and the
/// parameter sections of any rules, each as written (JSON).
#[derive(Clone, Debug, PartialEq)]
pub struct RawRule {
    /// The rule to run: one of [`RULE_NAMES`] (default: `eapu`).
    pub name: String,
    /// Sections by rule name, as given in the file.
    sections: BTreeMap<&'static str, Value>,
}

impl Default for RawRule {
    fn default() -> Self {
        RawRule::named("eapu")
    }
}

impl RawRule {
    /// A rule section naming `name`, every parameter left to its default.
    pub fn named(name: &str) -> Self {
        RawRule {
            name: name.to_string(),
            sections: BTreeMap::new(),
        }
    }

    /// Sets the parameter section of `P`'s rule (whichever rule is named).
    ///
    /// # Panics
    /// If `P` has no section or does not serialise to JSON (a broken
    /// invariant of the rule's parameter type).
    pub fn with<P: RuleParams + Serialize>(mut self, params: &P) -> Self {
        assert!(P::HAS_SECTION, "rule `{}` has no parameters", P::NAME);
        let v = serde_json::to_value(params).expect("rule parameters serialise to JSON");
        self.sections.insert(P::NAME, v);
        self
    }

    /// The section of rule `name` as given, if any.
    pub fn section(&self, name: &str) -> Option<&Value> {
        self.sections.get(name)
    }
}

impl Serialize for RawRule {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(1 + self.sections.len()))?;
        m.serialize_entry("name", &self.name)?;
        for (k, v) in &self.sections {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

/// A field of `chip.rule`.
enum Field {
    Name,
    /// The section of the rule with this name.
    Section(&'static str),
}

/// Reads a key of `chip.rule` as an identifier, rejecting unknown ones
/// while the key is read, as a derived `Deserialize` does (so the error
/// names the field path `rule.<key>`).
struct FieldSeed;

impl<'de> de::DeserializeSeed<'de> for FieldSeed {
    type Value = Field;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<Field, D::Error> {
        d.deserialize_identifier(self)
    }
}

impl<'de> Visitor<'de> for FieldSeed {
    type Value = Field;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("field identifier")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> std::result::Result<Field, E> {
        if key == "name" {
            return Ok(Field::Name);
        }
        match find_rule(key).filter(|e| e.has_section) {
            Some(entry) => Ok(Field::Section(entry.name)),
            None => Err(de::Error::unknown_field(key, &FIELDS)),
        }
    }
}

impl<'de> Deserialize<'de> for RawRule {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct RawRuleVisitor;

        impl<'de> Visitor<'de> for RawRuleVisitor {
            type Value = RawRule;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("struct RawRule")
            }

            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<RawRule, A::Error> {
                let mut name = None;
                let mut sections = BTreeMap::new();
                while let Some(field) = map.next_key_seed(FieldSeed)? {
                    match field {
                        Field::Name => {
                            if name.is_some() {
                                return Err(de::Error::duplicate_field("name"));
                            }
                            name = Some(map.next_value::<String>()?);
                        }
                        Field::Section(rule) => {
                            if sections.contains_key(rule) {
                                return Err(de::Error::duplicate_field(rule));
                            }
                            sections.insert(rule, map.next_value::<Value>()?);
                        }
                    }
                }
                Ok(RawRule {
                    name: name.unwrap_or_else(|| "eapu".into()),
                    sections,
                })
            }

            /// The positional form a derived `Deserialize` accepts too:
            /// `[name, section, ...]` in [`FIELDS`] order, trailing ones
            /// left to their defaults.
            fn visit_seq<A: SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> std::result::Result<RawRule, A::Error> {
                let name = seq.next_element::<String>()?;
                let mut sections = BTreeMap::new();
                for &rule in &FIELDS[1..] {
                    match seq.next_element::<Value>()? {
                        Some(v) => sections.insert(rule, v),
                        None => break,
                    };
                }
                Ok(RawRule {
                    name: name.unwrap_or_else(|| "eapu".into()),
                    sections,
                })
            }
        }

        d.deserialize_struct("RawRule", &FIELDS, RawRuleVisitor)
    }
}

/// Checks the parts of `raw` that do not depend on the device: the shape of
/// every section given, the rule's name, and every parameter of every
/// rule's section (given or default) — chip-file validation. `c` names the
/// rule section (`rule`).
pub fn check_rule(c: &Check, raw: &RawRule) -> Result<()> {
    for (name, v) in &raw.sections {
        let entry = find_rule(name).expect("sections are keyed by registered rules");
        (entry.parse)(c, v)?;
    }
    if find_rule(&raw.name).is_none() {
        return Err(c.err(
            "name",
            format!(
                "unknown rule `{}`; expected one of {}",
                raw.name,
                RULE_NAMES.join(", ")
            ),
        ));
    }
    for entry in RULES {
        (entry.check)(c, raw.section(entry.name))?;
    }
    Ok(())
}

/// Builds the rule named in `raw` for `model`, validating its parameters;
/// parameters left out take their device-derived defaults.
pub fn build_rule(c: &Check, raw: &RawRule, model: &DeviceModel) -> Result<Box<dyn UpdateRule>> {
    check_rule(c, raw)?;
    let entry = find_rule(&raw.name).expect("check_rule accepted the name");
    let rule = (entry.build)(c, raw.section(entry.name), model)?;
    // A binary device takes only junction-step writes (or none).
    let binary_ok = !rule.uses_device() || matches!(rule.write_mode(), WriteMode::Switch { .. });
    if model.is_binary() && !binary_ok {
        return Err(c.err(
            "name",
            format!(
                "rule `{}` writes analog conductance changes and cannot run on the binary \
                 STT-MRAM device `{}`; rules for binary devices: eapu, bp, ideal",
                raw.name, model.name
            ),
        ));
    }
    Ok(rule)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rule::testing::decide_plain;
    use crate::WriteMode;
    use aimsim_core::config::{from_tree, overrides, parse_tree};
    use aimsim_core::stream;
    use aimsim_device::builtin_device;

    fn model(over: &[(&str, &str)]) -> DeviceModel {
        builtin_device("eapu-180nm", &overrides(over)).unwrap()
    }

    /// `RawRule` parsed as the `rule` field of a file, and checked.
    fn load(json: &str) -> Result<RawRule> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct File {
            rule: RawRule,
        }
        let f: File = from_tree("chip.json", parse_tree("chip.json", json)?)?;
        check_rule(&Check::new("chip.json").section("rule"), &f.rule)?;
        Ok(f.rule)
    }

    #[test]
    fn names_and_fields_derive_from_the_registry() {
        assert_eq!(
            RULE_NAMES,
            [
                "eapu",
                "bp",
                "stochastic-pulse",
                "mixed-precision",
                "write-verify",
                "ideal"
            ]
        );
        assert_eq!(
            FIELDS,
            [
                "name",
                "eapu",
                "bp",
                "stochastic-pulse",
                "mixed-precision",
                "write-verify"
            ]
        );
    }

    #[test]
    fn section_errors_name_the_field_as_the_file_parse_did() {
        for (json, want) in [
            (
                r#"{"rule":{"colour":1}}"#,
                "chip.json: field `rule.colour`: unknown field `colour`, expected one of `name`, \
                 `eapu`, `bp`, `stochastic-pulse`, `mixed-precision`, `write-verify`",
            ),
            (
                r#"{"rule":{"ideal":{}}}"#,
                "chip.json: field `rule.ideal`: unknown field `ideal`, expected one of `name`, \
                 `eapu`, `bp`, `stochastic-pulse`, `mixed-precision`, `write-verify`",
            ),
            (
                r#"{"rule":{"bp":{"rounding":true}}}"#,
                "chip.json: field `rule.bp.rounding`: unknown field `rounding`, expected `round_to_pulses`",
            ),
            (
                r#"{"rule":{"stochastic-pulse":{"bl":"long"}}}"#,
                "chip.json: field `rule.stochastic-pulse.bl`: invalid type: string \"long\", \
                 expected u32",
            ),
            (
                r#"{"rule":{"stochastic-pulse":{"bl":0}}}"#,
                "chip.json: field `rule.stochastic-pulse.bl`: expected an integer in [1, 64], got 0",
            ),
            (
                r#"{"rule":{"name":"magic"}}"#,
                "chip.json: field `rule.name`: unknown rule `magic`; expected one of eapu, bp, \
                 stochastic-pulse, mixed-precision, write-verify, ideal",
            ),
            (
                r#"{"rule":{"name":3}}"#,
                "chip.json: field `rule.name`: invalid type: integer `3`, expected a string",
            ),
            (
                r#"{"rule":{"write-verify":{"tolerance_us":1,"guard_us":2}}}"#,
                "chip.json: field `rule.write-verify.guard_us`: must be below tolerance_us (1)",
            ),
        ] {
            let e = load(json).unwrap_err().to_string();
            assert_eq!(e, want, "{json}");
        }
    }

    #[test]
    fn the_positional_form_is_read_too() {
        let r = load(r#"{"rule":["bp", {}, {"round_to_pulses": true}]}"#).unwrap();
        assert_eq!(r.name, "bp");
        assert_eq!(r.section("eapu"), Some(&serde_json::json!({})));
        assert_eq!(
            r.section("bp"),
            Some(&serde_json::json!({"round_to_pulses": true}))
        );
        assert_eq!(r.section("stochastic-pulse"), None);
    }

    #[test]
    fn sections_round_trip_and_default() {
        let r = load(r#"{"rule":{"name":"bp","bp":{"round_to_pulses":true}}}"#).unwrap();
        assert_eq!(r.name, "bp");
        assert_eq!(
            r,
            RawRule::named("bp").with(&RawBp {
                round_to_pulses: true
            })
        );
        let back = serde_json::to_value(&r).unwrap();
        assert_eq!(
            back,
            serde_json::json!({"name": "bp", "bp": {"round_to_pulses": true}})
        );
        assert_eq!(load(r#"{"rule":{}}"#).unwrap(), RawRule::default());
        let m = model(&[("step_set_us", "1.5"), ("step_reset_us", "2.5")]);
        let rule = build_rule(&Check::new("c").section("rule"), &r, &m).unwrap();
        assert_eq!(rule.write_mode(), WriteMode::Pulses { step_us: 2.0 });
    }

    #[test]
    fn defaults_come_from_the_device() {
        let m = model(&[("step_set_us", "1.5"), ("step_reset_us", "2.5")]);
        let c = Check::new("chip.json").section("rule");
        let raw = RawRule::default();
        assert_eq!(build_rule(&c, &raw, &m).unwrap().name(), "eapu");
        // ΔG_th = σ_w = 2.4 unless given: a 2.2 µS request is sub-threshold.
        let mut out = [0.0];
        let mut rng = stream(1, "t");
        let mut r = build_rule(&c, &raw, &m).unwrap();
        decide_plain(r.as_mut(), &[2.2], &mut out, &mut rng);
        assert!(out[0] == 0.0 || out[0] == 2.4, "{}", out[0]);
        let given = raw.clone().with(&RawEapu {
            threshold_us: Some(2.0),
        });
        let mut r = build_rule(&c, &given, &m).unwrap();
        decide_plain(r.as_mut(), &[2.2], &mut out, &mut rng);
        assert_eq!(out[0], 2.2);
        for name in RULE_NAMES {
            let r = build_rule(&c, &RawRule::named(name), &m).unwrap();
            assert_eq!(r.name(), *name);
            let want = match *name {
                "stochastic-pulse" | "mixed-precision" => WriteMode::Pulses { step_us: 2.0 },
                "write-verify" => WriteMode::Verify {
                    tolerance_us: 2.4,
                    guard_us: 1.0,
                    max_pulses: 64,
                },
                _ => WriteMode::Program,
            };
            assert_eq!(r.write_mode(), want, "{name}");
        }
        let wv = RawRule::named("write-verify").with(&RawWriteVerify {
            tolerance_us: Some(0.5),
            guard_us: Some(0.5),
            ..RawWriteVerify::default()
        });
        let e = build_rule(&c, &wv, &m).err().unwrap().to_string();
        assert!(e.contains("rule.write-verify.guard_us"), "{e}");
        // Every section is checked, whichever rule is named.
        let sp = RawRule::named("eapu").with(&RawStochasticPulse {
            bl: 65,
            ..RawStochasticPulse::default()
        });
        let e = build_rule(&c, &sp, &m).err().unwrap().to_string();
        assert!(e.contains("rule.stochastic-pulse.bl"), "{e}");
    }
}
