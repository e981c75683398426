//! Stuck devices: a device whose values span less than 10 % of the range
//! of all values never moved. It is left out of the pulse fits, and the
//! stuck-at fractions are the shares of such devices below and above the
//! median value (only with a population of at least two devices).

use super::report::FitGroup;
use super::stats::{quantile, sorted};
use crate::measured::Train;

/// Which devices never moved.
#[derive(Clone, Debug)]
pub(super) struct Stuck {
    /// Per device: stuck.
    pub(super) flags: Vec<bool>,
    /// Stuck devices below the median value (stuck at `G_min`).
    low: usize,
}

/// The stuck-at fractions fitted, and their group.
#[derive(Clone, Debug)]
pub(super) struct StuckAt {
    pub(super) min_fraction: f64,
    pub(super) max_fraction: f64,
    pub(super) group: FitGroup,
}

impl Stuck {
    /// Finds the stuck ones among `n_devices` devices from their trains;
    /// `all_sorted` holds every value, sorted.
    pub(super) fn detect(trains: &[(usize, Train)], n_devices: usize, all_sorted: &[f64]) -> Stuck {
        let global_range = quantile(all_sorted, 0.99) - quantile(all_sorted, 0.01);
        let mut flags = vec![false; n_devices];
        let mut low = 0usize;
        if n_devices >= 2 {
            for (d, s) in flags.iter_mut().enumerate() {
                let v = sorted(
                    trains
                        .iter()
                        .filter(|(dd, _)| *dd == d)
                        .flat_map(|(_, t)| t.g_us.iter().flatten().copied())
                        .collect(),
                );
                if v.len() >= 4 && quantile(&v, 0.95) - quantile(&v, 0.05) < 0.1 * global_range {
                    *s = true;
                    if quantile(&v, 0.5) < quantile(all_sorted, 0.5) {
                        low += 1;
                    }
                }
            }
        }
        Stuck { flags, low }
    }

    /// Number of stuck devices.
    pub(super) fn count(&self) -> usize {
        self.flags.iter().filter(|&&s| s).count()
    }

    /// The `stuck_at` group: the fractions stuck at `G_min` and `G_max`.
    pub(super) fn fit(&self) -> StuckAt {
        let n = self.flags.len();
        let mut st = FitGroup::new("stuck_at");
        st.points = n;
        let (mut f_min, mut f_max) = (0.0, 0.0);
        if n < 2 {
            st.not_fitted("one device: stuck-at fractions need a population; 0 assumed");
        } else {
            f_min = self.low as f64 / n as f64;
            f_max = (self.count() - self.low) as f64 / n as f64;
            st.note(format!(
                "resolution 1/{n} (one device of the population); a stuck device below the median value counts as stuck at G_min"
            ));
        }
        st.value("stuck_at_min_fraction", f_min);
        st.value("stuck_at_max_fraction", f_max);
        StuckAt {
            min_fraction: f_min,
            max_fraction: f_max,
            group: st,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{fit, model_of};
    use crate::{builtin_device, synthesize, SynthOptions};

    #[test]
    fn stuck_devices_are_counted() {
        let o = vec![("stuck_at_min_fraction".to_string(), "0.25".to_string())];
        let d = builtin_device("eapu-180nm", &o).unwrap();
        let raw = synthesize(
            &d,
            &SynthOptions {
                devices: 40,
                cycles: 2,
                ..Default::default()
            },
        );
        let stuck = raw
            .devices
            .iter()
            .filter(|d| d.cycles_to_failure.is_none())
            .count();
        let c = fit(raw);
        let f = model_of(&c);
        assert!(stuck > 0);
        assert!((f.stuck_at_min_fraction - stuck as f64 / 40.0).abs() < 1e-12);
        assert_eq!(f.stuck_at_max_fraction, 0.0);
        assert!((f.step_set_us - 2.0).abs() < 0.3);
    }
}
