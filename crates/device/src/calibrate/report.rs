//! The calibration report: one [`FitGroup`] per parameter group, its
//! [`FitStatus`], and the report's text form (`aimsim calibrate` prints it;
//! the device file's provenance records its JSON form).

use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;

/// How far a parameter group was fitted.
///
/// Serialised (and displayed) as the strings the report has always used:
/// `fitted`, `partial`, `not fitted` and `read`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub enum FitStatus {
    /// Every value of the group was fitted from the data.
    #[serde(rename = "fitted")]
    Fitted,
    /// Some values were fitted, others defaulted or only bounded; the notes
    /// say which.
    #[serde(rename = "partial")]
    Partial,
    /// Nothing was fitted: the values are stated defaults.
    #[serde(rename = "not fitted")]
    NotFitted,
    /// The data summary, which is read rather than fitted.
    #[serde(rename = "read")]
    Read,
}

impl FitStatus {
    /// The status as written in the report.
    pub fn as_str(self) -> &'static str {
        match self {
            FitStatus::Fitted => "fitted",
            FitStatus::Partial => "partial",
            FitStatus::NotFitted => "not fitted",
            FitStatus::Read => "read",
        }
    }
}

impl fmt::Display for FitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The fit of one parameter group.
#[derive(Clone, Debug, Serialize)]
pub struct FitGroup {
    /// Name of the group (`bounds`, `mean_step`, …).
    pub group: String,
    /// How far the group was fitted ([`FitStatus::Read`] for the data
    /// summary).
    pub status: FitStatus,
    /// Fitted (or defaulted) values, by device-file field.
    pub values: BTreeMap<String, f64>,
    /// Fit figures: RMSE, R², standard errors, statistics.
    pub quality: BTreeMap<String, f64>,
    /// Data points used.
    pub points: usize,
    /// What was not fitted and why, and other caveats.
    pub notes: Vec<String>,
}

impl FitGroup {
    pub(crate) fn new(group: &str) -> Self {
        FitGroup {
            group: group.into(),
            status: FitStatus::Fitted,
            values: BTreeMap::new(),
            quality: BTreeMap::new(),
            points: 0,
            notes: Vec::new(),
        }
    }
    pub(crate) fn value(&mut self, k: &str, v: f64) {
        self.values.insert(k.into(), v);
    }
    pub(crate) fn quality(&mut self, k: &str, v: f64) {
        if v.is_finite() {
            self.quality.insert(k.into(), v);
        }
    }
    pub(crate) fn note(&mut self, n: impl Into<String>) {
        self.notes.push(n.into());
    }
    pub(crate) fn partial(&mut self, n: impl Into<String>) {
        if self.status == FitStatus::Fitted {
            self.status = FitStatus::Partial;
        }
        self.note(n);
    }
    pub(crate) fn not_fitted(&mut self, n: impl Into<String>) {
        self.status = FitStatus::NotFitted;
        self.note(n);
    }
}

/// The report of a calibration: the model chosen and every group's fit.
#[derive(Clone, Debug, Serialize)]
pub struct FitReport {
    /// The pulse-response model chosen.
    pub model: String,
    /// The groups, in a fixed order.
    pub groups: Vec<FitGroup>,
}

impl FitReport {
    /// The group named `name`.
    pub fn group(&self, name: &str) -> Option<&FitGroup> {
        self.groups.iter().find(|g| g.group == name)
    }

    /// The report as text, one block per group.
    pub fn render(&self) -> String {
        let mut s = format!("pulse model: {}\n", self.model);
        for g in &self.groups {
            s.push_str(&format!(
                "\n[{}] {} ({} points)\n",
                g.group, g.status, g.points
            ));
            for (k, v) in &g.values {
                s.push_str(&format!("  {k:<26} {}\n", num(*v)));
            }
            if !g.quality.is_empty() {
                let q: Vec<String> = g
                    .quality
                    .iter()
                    .map(|(k, v)| format!("{k} {}", num(*v)))
                    .collect();
                s.push_str(&format!("  fit: {}\n", q.join(", ")));
            }
            for n in &g.notes {
                s.push_str(&format!("  note: {n}\n"));
            }
        }
        s
    }
}

/// A number as the report writes it: 4 decimals, or 4 in scientific form
/// outside 10⁻³ … 10⁵.
pub(crate) fn num(v: f64) -> String {
    if v == 0.0 || (1e-3..1e5).contains(&v.abs()) {
        format!("{v:.4}")
    } else {
        format!("{v:.4e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_serialise_and_display_as_the_report_strings() {
        for (s, text) in [
            (FitStatus::Fitted, "fitted"),
            (FitStatus::Partial, "partial"),
            (FitStatus::NotFitted, "not fitted"),
            (FitStatus::Read, "read"),
        ] {
            assert_eq!(serde_json::to_string(&s).unwrap(), format!("\"{text}\""));
            assert_eq!(s.to_string(), text);
        }
    }

    #[test]
    fn partial_never_hides_not_fitted() {
        let mut g = FitGroup::new("x");
        g.partial("a");
        assert_eq!(g.status, FitStatus::Partial);
        g.not_fitted("b");
        g.partial("c");
        assert_eq!(g.status, FitStatus::NotFitted);
        assert_eq!(g.notes, ["a", "b", "c"]);
    }

    #[test]
    fn render_lists_values_fit_figures_and_notes() {
        let mut g = FitGroup::new("bounds");
        g.points = 3;
        g.value("g_max_us", 105.0);
        g.value("tiny", 1e-7);
        g.quality("r2", 0.5);
        g.quality("nan", f64::NAN);
        g.partial("why");
        let r = FitReport {
            model: "linear".into(),
            groups: vec![g],
        };
        assert_eq!(
            r.render(),
            "pulse model: linear\n\n[bounds] partial (3 points)\n  \
             g_max_us                   105.0000\n  \
             tiny                       1.0000e-7\n  \
             fit: r2 0.5000\n  note: why\n"
        );
        assert_eq!(
            serde_json::to_value(&r).unwrap()["groups"][0]["status"],
            "partial"
        );
    }
}
