//! The conductance window. A train that reaches a bound piles up against
//! it, read noise spreading the pile by `σ_r`: `G_max = q₀.₉₉ − 2σ_r` of the
//! values in the second halves of the SET trains, `G_min = q₀.₀₁ + 2σ_r` of
//! the RESET trains' second halves. Trains whose last steps still move are
//! flagged: their bound is only a lower (upper) limit.

use super::report::{num, FitGroup};
use super::stats::{mean, quantile, sorted, variance};
use super::steps::Step;
use crate::measured::Train;
use crate::Polarity;

/// The window fitted, per-device saturation levels and the `bounds` group.
#[derive(Clone, Debug)]
pub(super) struct Bounds {
    pub(super) g_min: f64,
    pub(super) g_max: f64,
    /// `G_max` of each working device with enough saturated SET values.
    pub(super) dev_gmax: Vec<f64>,
    /// `G_min` of each working device with enough saturated RESET values.
    pub(super) dev_gmin: Vec<f64>,
    pub(super) group: FitGroup,
}

/// Fits the window to the trains of the devices not `stuck`, with read
/// noise `sigma_r`; `all_sorted` (every value, sorted) is the fallback.
pub(super) fn fit(
    trains: &[(usize, Train)],
    stuck: &[bool],
    sigma_r: f64,
    all_sorted: &[f64],
) -> Bounds {
    let mut bg = FitGroup::new("bounds");
    let set_tail = tails(trains, stuck, Polarity::Set, None);
    let reset_tail = tails(trains, stuck, Polarity::Reset, None);
    let g_max = if set_tail.len() >= 5 {
        quantile(&set_tail, 0.99) - 2.0 * sigma_r
    } else {
        bg.partial("too few SET values near saturation: G_max is the largest value seen less 2σ_r");
        quantile(all_sorted, 1.0) - 2.0 * sigma_r
    };
    let mut g_min = if reset_tail.len() >= 5 {
        quantile(&reset_tail, 0.01) + 2.0 * sigma_r
    } else {
        bg.partial(
            "too few RESET values near saturation: G_min is the smallest value seen plus 2σ_r",
        );
        quantile(all_sorted, 0.0) + 2.0 * sigma_r
    };
    if g_min >= g_max {
        // Read noise larger than the range seen: fall back to the raw range.
        g_min = quantile(all_sorted, 0.0);
        bg.partial("read noise exceeds the range seen: bounds are the raw extremes");
    }
    // Clamp G_min to the physical range first, then keep G_max above it,
    // so the window is positive whatever the data (a negative G_min raised
    // to 0 could otherwise leave G_max below it).
    let g_min = g_min.max(0.0);
    let g_max = g_max.max(g_min + 1e-9 * g_min.abs().max(1e-9));
    bg.value("g_min_us", g_min);
    bg.value("g_max_us", g_max);
    bg.points = set_tail.len() + reset_tail.len();
    bg.note("G_max = q0.99 − 2σ_r of SET-train second halves, G_min = q0.01 + 2σ_r of RESET-train second halves");
    let n_devs = stuck.len();
    let dev_gmax: Vec<f64> = (0..n_devs)
        .filter(|&d| !stuck[d])
        .map(|d| tails(trains, stuck, Polarity::Set, Some(d)))
        .filter(|v| v.len() >= 5)
        .map(|v| quantile(&v, 0.99) - 2.0 * sigma_r)
        .collect();
    let dev_gmin: Vec<f64> = (0..n_devs)
        .filter(|&d| !stuck[d])
        .map(|d| tails(trains, stuck, Polarity::Reset, Some(d)))
        .filter(|v| v.len() >= 5)
        .map(|v| quantile(&v, 0.01) + 2.0 * sigma_r)
        .collect();
    Bounds {
        g_min,
        g_max,
        dev_gmax,
        dev_gmin,
        group: bg,
    }
}

impl Bounds {
    /// Says in the group which polarity's trains still move in their last
    /// quarter (mean step > 3 SE over ≥ 10 steps), so that its bound is
    /// only a limit.
    pub(super) fn flag_unsaturated(&mut self, trains: &[(usize, Train)], steps: &[Step]) {
        for (pol, name) in [(Polarity::Set, "SET"), (Polarity::Reset, "RESET")] {
            let last: Vec<f64> = steps
                .iter()
                .filter(|s| {
                    s.pol == pol && {
                        let n = trains[s.train].1.g_us.len();
                        s.k + 1 >= n - n / 4
                    }
                })
                .map(|s| s.d)
                .collect();
            if last.len() >= 10 {
                let (mu, se) = (mean(&last), (variance(&last) / last.len() as f64).sqrt());
                if mu > 3.0 * se && mu > 0.0 {
                    self.group.partial(format!(
                        "{name} trains still move at their end (mean last step {} ± {} µS): the {} bound is a {} limit only",
                        num(mu),
                        num(se),
                        if pol == Polarity::Set { "upper" } else { "lower" },
                        if pol == Polarity::Set { "lower" } else { "upper" },
                    ));
                }
            }
        }
    }
}

/// Values of the second halves of the trains of one polarity (where a
/// train that saturates sits against its bound), optionally of one device.
fn tails(trains: &[(usize, Train)], stuck: &[bool], pol: Polarity, dev: Option<usize>) -> Vec<f64> {
    sorted(
        trains
            .iter()
            .filter(|(d, t)| t.polarity == pol && !stuck[*d] && dev.is_none_or(|x| x == *d))
            .flat_map(|(_, t)| t.g_us[t.g_us.len() / 2..].iter().flatten().copied())
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::super::report::FitStatus;
    use super::*;

    fn train(polarity: Polarity, g: &[f64]) -> Train {
        Train {
            polarity,
            conditions: Default::default(),
            g_us: g.iter().copied().map(Some).collect(),
        }
    }

    #[test]
    fn saturated_trains_give_their_levels_less_twice_the_read_noise() {
        let up: Vec<f64> = (0..20).map(|k| f64::from(k.min(10)) * 10.0).collect();
        let down: Vec<f64> = up.iter().map(|g| 105.0 - g).collect();
        let trains = vec![
            (0, train(Polarity::Set, &up)),
            (0, train(Polarity::Reset, &down)),
        ];
        let all = sorted(up.iter().chain(&down).copied().collect());
        let b = fit(&trains, &[false], 1.0, &all);
        assert_eq!((b.g_min, b.g_max), (7.0, 98.0));
        assert_eq!((b.dev_gmin, b.dev_gmax), (vec![7.0], vec![98.0]));
        assert_eq!(b.group.status, FitStatus::Fitted);
        // A stuck device is left out: nothing near saturation remains.
        let b = fit(&trains, &[true], 1.0, &all);
        assert_eq!(b.group.status, FitStatus::Partial);
        assert_eq!((b.g_min, b.g_max), (2.0, 103.0));
    }

    #[test]
    fn read_noise_wider_than_the_data_gives_the_raw_range() {
        let trains = vec![(0, train(Polarity::Set, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]))];
        let all = sorted(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let b = fit(&trains, &[false], 10.0, &all);
        assert_eq!(b.g_min, 1.0);
        assert!(b.g_max > b.g_min);
        assert!(b.group.notes.iter().any(|n| n.contains("raw extremes")));
    }
}
