//! The data as the fits see them: every pulse train with its outliers
//! dropped, the pooled values, and the `data` group that summarises them.
//!
//! An outlier is a value further than 8 robust σ from the median of its
//! (up to) four nearest measured neighbours, σ from the 90th percentile of
//! the absolute residuals.

use super::report::{FitGroup, FitStatus};
use super::stats::{quantile, sorted};
use super::stuck::Stuck;
use crate::measured::{Measured, Train};
use crate::{Polarity, Result};

/// The cleaned trains and what was learnt reading them.
#[derive(Clone, Debug)]
pub(super) struct Data {
    /// Every train, with its device's index, outliers set to `None`.
    pub(super) trains: Vec<(usize, Train)>,
    /// Every measured value of every train, sorted.
    pub(super) all_sorted: Vec<f64>,
    /// Number of SET trains.
    pub(super) n_set: usize,
    /// Number of RESET trains.
    pub(super) n_reset: usize,
    /// The devices that never moved.
    pub(super) stuck: Stuck,
    /// The `data` group of the report.
    pub(super) group: FitGroup,
}

/// Reads the trains of `m` (named `file` in errors). Fails only if they
/// hold fewer than two distinct conductances.
pub(super) fn read(m: &Measured, file: &str) -> Result<Data> {
    let mut data = FitGroup::new("data");
    data.status = FitStatus::Read;
    let mut trains: Vec<(usize, Train)> = Vec::new();
    let mut outliers = 0;
    let mut gaps = 0;
    let mut conditions = Vec::new();
    for (d, dev) in m.devices.iter().enumerate() {
        for t in &dev.trains {
            let (clean, n_out) = drop_outliers(&t.g_us);
            outliers += n_out;
            gaps += t.g_us.iter().filter(|g| g.is_none()).count();
            let c = format!("{:?}", t.conditions);
            if !conditions.contains(&c) {
                conditions.push(c);
            }
            trains.push((
                d,
                Train {
                    polarity: t.polarity,
                    conditions: t.conditions,
                    g_us: clean,
                },
            ));
        }
    }
    let values: Vec<f64> = trains
        .iter()
        .flat_map(|(_, t)| t.g_us.iter().flatten().copied())
        .collect();
    data.points = values.len();
    data.quality("devices", m.devices.len() as f64);
    data.quality("trains", trains.len() as f64);
    data.quality("outliers_dropped", outliers as f64);
    data.quality("null_gaps", gaps as f64);
    if outliers > 0 {
        data.note(format!(
            "{outliers} values more than 8 robust σ from their neighbours' median were dropped as outliers"
        ));
    }
    if conditions.len() > 1 {
        data.note(format!(
            "{} different pulse conditions (amplitude, width, gate) were pooled: the model has one condition per polarity",
            conditions.len()
        ));
    }
    let n_set = trains
        .iter()
        .filter(|(_, t)| t.polarity == Polarity::Set)
        .count();
    let n_reset = trains.len() - n_set;
    let all_sorted = sorted(values);
    if all_sorted.len() < 2 || all_sorted[all_sorted.len() - 1] <= all_sorted[0] {
        return Err(aimsim_core::config::Check::new(file)
            .err(
                "devices",
                "the pulse trains hold fewer than two distinct conductances: nothing to fit",
            )
            .into());
    }
    let stuck = Stuck::detect(&trains, m.devices.len(), &all_sorted);
    if stuck.count() > 0 {
        data.note(format!(
            "{} of {} devices never moved (range < 10 % of the others'): counted as stuck, left out of the pulse fits",
            stuck.count(),
            m.devices.len()
        ));
    }
    Ok(Data {
        trains,
        all_sorted,
        n_set,
        n_reset,
        stuck,
        group: data,
    })
}

/// Drops values more than 8 robust σ from the median of their (up to) four
/// nearest measured neighbours; returns the cleaned series and the count.
fn drop_outliers(g: &[Option<f64>]) -> (Vec<Option<f64>>, usize) {
    let idx: Vec<usize> = (0..g.len()).filter(|&i| g[i].is_some()).collect();
    if idx.len() < 5 {
        return (g.to_vec(), 0);
    }
    let v: Vec<f64> = idx.iter().map(|&i| g[i].expect("measured")).collect();
    let res: Vec<f64> = (0..v.len())
        .map(|j| {
            let lo = j.saturating_sub(2);
            let hi = (j + 3).min(v.len());
            let nb: Vec<f64> = (lo..hi).filter(|&k| k != j).map(|k| v[k]).collect();
            v[j] - quantile(&sorted(nb), 0.5)
        })
        .collect();
    // σ from the 90th percentile of |residual| (q0.9 of |N(0,σ²)| = 1.645σ)
    // rather than the median: a train that sits at a bound for half its
    // pulses has a tiny median residual there, which would flag the
    // ordinary steps of its moving half.
    let abs = sorted(res.iter().map(|r| r.abs()).collect());
    let scale = quantile(&abs, 0.9) / 1.645;
    let mut out = g.to_vec();
    let mut n = 0;
    if scale > 0.0 {
        for (j, r) in res.iter().enumerate() {
            if r.abs() > 8.0 * scale {
                out[idx[j]] = None;
                n += 1;
            }
        }
    }
    (out, n)
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{eapu_raw, fit, model_of};
    use super::*;
    use crate::calibrate;

    #[test]
    fn a_spike_is_dropped_and_a_pinned_train_is_not() {
        let ramp: Vec<Option<f64>> = (0..20).map(|k| Some(f64::from(k))).collect();
        let mut spiked = ramp.clone();
        spiked[7] = Some(500.0);
        let (clean, n) = drop_outliers(&spiked);
        assert_eq!(n, 1);
        assert_eq!(clean[7], None);
        assert_eq!(clean[6], ramp[6]);
        // Half the train pinned at a bound: its moving half stays.
        let pinned: Vec<Option<f64>> = (0..20).map(|k| Some(f64::from(k.min(10)))).collect();
        assert_eq!(drop_outliers(&pinned), (pinned.clone(), 0));
        // Fewer than 5 values are left alone.
        let short = [Some(1.0), None, Some(100.0), Some(1.0)];
        assert_eq!(drop_outliers(&short), (short.to_vec(), 0));
    }

    #[test]
    fn outliers_and_gaps_are_survived() {
        let mut raw = eapu_raw(5);
        let mut k = 0usize;
        for dev in &mut raw.devices {
            for t in &mut dev.pulse_trains {
                for g in t.conductance.iter_mut() {
                    k += 1;
                    if k.is_multiple_of(97) {
                        *g = g.map(|v| v + 40.0); // a spike of 40 % of the window
                    } else if k.is_multiple_of(13) {
                        *g = None;
                    }
                }
            }
        }
        let c = fit(raw);
        let f = model_of(&c);
        let data = c.report.group("data").unwrap();
        assert!(
            data.quality["outliers_dropped"] > 100.0,
            "{:?}",
            data.quality
        );
        assert!(data.quality["null_gaps"] > 1000.0);
        assert!(
            (f.g_max_us - 105.0).abs() < 3.0 && (f.g_min_us - 5.0).abs() < 3.0,
            "{f:?}"
        );
        assert!((f.step_set_us - 2.0).abs() < 0.3, "{}", f.step_set_us);
        assert!((f.c2c_noise_us - 2.4).abs() < 0.4, "{}", f.c2c_noise_us);
    }

    #[test]
    fn data_without_range_is_bad_input() {
        let text = r#"{"schema":"aimsim.measured/1","devices":[{"pulse_trains":[{"polarity":"set","conductance":[1,1,null,1]}]}]}"#;
        let m = Measured::from_json("flat.json", text).unwrap();
        let e = calibrate(
            &m,
            &crate::CalibrateOptions {
                source_file: "flat.json".into(),
                ..Default::default()
            },
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("flat.json") && e.contains("devices"), "{e}");
    }
}
