//! Rows of `energy.csv`: the ledger's cumulative energy by component and by
//! phase every `trace_every` steps.

use aimsim_energy::{Component, EnergyLedger, Phase};

/// One row of `energy.csv`.
#[derive(Clone, Debug, PartialEq)]
pub struct EnergyRow {
    /// Training steps so far.
    pub step: u64,
    /// Cumulative pJ, in [`Component::ALL`] order.
    pub by_component: Vec<f64>,
    /// Cumulative pJ of each phase of the algorithm, in its order.
    pub by_phase: Vec<f64>,
    /// Cumulative total, pJ.
    pub total: f64,
}

impl EnergyRow {
    /// The row of `ledger` after `step` steps, with `phases` as columns.
    pub fn from_ledger(step: u64, l: &EnergyLedger, phases: &[Phase]) -> EnergyRow {
        // One pass over the ledger for the sums (each in key order, as
        // `component_pj`, `phase_pj` and `total_pj`).
        let sums = l.sums();
        let by_component: Vec<f64> = sums.by_component.iter().map(|&(_, e)| e).collect();
        let charged = sums.by_phase;
        let phase_pj = |p: &Phase| {
            charged
                .iter()
                .find(|(q, _)| q == p)
                .map_or(0.0, |&(_, e)| e)
        };
        EnergyRow {
            step,
            total: by_component.iter().sum(),
            by_component,
            by_phase: phases.iter().map(phase_pj).collect(),
        }
    }

    /// The CSV header for an algorithm with `phases`.
    pub fn header(phases: &[Phase]) -> Vec<String> {
        let mut h = vec!["step".to_string()];
        h.extend(Component::ALL.iter().map(|c| format!("{}_pj", c.key())));
        h.extend(phases.iter().map(|p| format!("{}_pj", p.key())));
        h.push("total_pj".into());
        h
    }

    /// The CSV fields of this row (energies in `%.6e`).
    pub fn fields(&self) -> Vec<String> {
        let mut v = vec![self.step.to_string()];
        v.extend(self.by_component.iter().map(|e| format!("{e:.6e}")));
        v.extend(self.by_phase.iter().map(|e| format!("{e:.6e}")));
        v.push(format!("{:.6e}", self.total));
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_columns_follow_the_phases() {
        let mut l = EnergyLedger::new();
        l.add(
            Component::Adc,
            "conversion",
            Phase::FORWARD,
            Some(0),
            2,
            3.0,
        );
        l.add(
            Component::Digital,
            "x",
            Phase::named("perturb"),
            None,
            1,
            1.5,
        );
        let phases = [Phase::FORWARD, Phase::named("perturb")];
        let r = EnergyRow::from_ledger(7, &l, &phases);
        assert_eq!(r.by_phase, [3.0, 1.5]);
        assert_eq!(r.total, 4.5);
        let h = EnergyRow::header(&phases);
        assert_eq!(h.len(), r.fields().len());
        assert_eq!(h[h.len() - 2], "perturb_pj");
        assert_eq!(r.fields()[0], "7");
    }
}
