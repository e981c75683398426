//! Drawing points from the axes: grid, uniform random, Latin hypercube.
//!
//! Random draws come from `aimsim_core::stream(sample seed, …)`, so a spec
//! gives the same points on every machine. A draw `u ∈ [0, 1)` maps to an
//! axis value by [`level`]: for a list (or a range with `steps`) the value
//! of index `⌊u·n⌋`; for a continuous range `from + u·(to − from)`
//! (geometric if `log`). Latin hypercube: for `N` points each axis is cut
//! into `N` strata, a random permutation `π` gives point `i` the stratum
//! `π(i)`, and `u = (π(i) + r)/N` with `r` uniform.

use crate::axis::{Axis, AxisValues};
use crate::spec::Sample;
use aimsim_core::{stream, Rng};
use rand::RngCore;
use serde_json::Value;

/// `n` values from `from` to `to` inclusive (geometric if `log`), rounded
/// if `integer`; the last is exactly `to`.
pub(crate) fn range_values(from: f64, to: f64, n: u64, log: bool, integer: bool) -> Vec<f64> {
    (0..n)
        .map(|i| {
            let x = if n == 1 {
                from
            } else if i == n - 1 {
                to
            } else {
                interpolate(from, to, i as f64 / (n - 1) as f64, log)
            };
            if integer {
                x.round()
            } else {
                x
            }
        })
        .collect()
}

fn interpolate(from: f64, to: f64, t: f64, log: bool) -> f64 {
    if log {
        (from.ln() + t * (to.ln() - from.ln())).exp()
    } else {
        from + t * (to - from)
    }
}

fn number(x: f64, integer: bool) -> Value {
    if integer {
        Value::from(x.round() as i64)
    } else {
        Value::from(x)
    }
}

/// The discrete values of an axis (`None` for a continuous range).
pub(crate) fn levels(axis: &Axis) -> Option<Vec<Value>> {
    match &axis.values {
        AxisValues::List(v) => Some(v.clone()),
        AxisValues::Range {
            from,
            to,
            steps: Some(n),
            log,
            integer,
        } => Some(
            range_values(*from, *to, *n, *log, *integer)
                .into_iter()
                .map(|x| number(x, *integer))
                .collect(),
        ),
        AxisValues::Range { .. } => None,
    }
}

/// The value of `axis` at `u ∈ [0, 1)`.
fn level(axis: &Axis, u: f64) -> Value {
    match levels(axis) {
        Some(vs) => vs[((u * vs.len() as f64) as usize).min(vs.len() - 1)].clone(),
        None => match axis.values {
            AxisValues::Range {
                from,
                to,
                log,
                integer,
                ..
            } => number(interpolate(from, to, u, log), integer),
            AxisValues::List(_) => unreachable!("lists have levels"),
        },
    }
}

/// A uniform draw in `[0, 1)` from the top 53 bits.
fn unit(rng: &mut Rng) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// The samples of `axes`, each a value per axis, in point order.
pub(crate) fn draw(axes: &[Axis], sample: Sample) -> Vec<Vec<Value>> {
    match sample {
        Sample::Grid => {
            let lv: Vec<Vec<Value>> = axes
                .iter()
                .map(|a| levels(a).expect("grid axes are discrete (checked by the spec)"))
                .collect();
            let mut out = vec![Vec::new()];
            for values in &lv {
                out = out
                    .into_iter()
                    .flat_map(|prefix| {
                        values.iter().map(move |v| {
                            let mut p = prefix.clone();
                            p.push(v.clone());
                            p
                        })
                    })
                    .collect();
            }
            out
        }
        Sample::Random { points, seed } => {
            let mut rng = stream(seed, "sweep/sample/random");
            (0..points)
                .map(|_| axes.iter().map(|a| level(a, unit(&mut rng))).collect())
                .collect()
        }
        Sample::LatinHypercube { points, seed } => {
            let n = points as usize;
            let mut rng = stream(seed, "sweep/sample/latin-hypercube");
            let columns: Vec<Vec<Value>> = axes
                .iter()
                .map(|a| {
                    let mut perm: Vec<usize> = (0..n).collect();
                    for i in (1..n).rev() {
                        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
                        perm.swap(i, j);
                    }
                    perm.iter()
                        .map(|&s| level(a, (s as f64 + unit(&mut rng)) / n as f64))
                        .collect()
                })
                .collect();
            (0..n)
                .map(|i| columns.iter().map(|c| c[i].clone()).collect())
                .collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(steps: Option<u64>) -> Axis {
        Axis {
            path: "device.write_noise_us".into(),
            values: AxisValues::Range {
                from: 0.5,
                to: 3.0,
                steps,
                log: false,
                integer: false,
            },
        }
    }

    #[test]
    fn grid_is_the_product_with_the_first_axis_slowest() {
        let a = Axis {
            path: "rule".into(),
            values: AxisValues::List(vec!["eapu".into(), "bp".into()]),
        };
        let pts = draw(&[a, range(Some(3))], Sample::Grid);
        assert_eq!(pts.len(), 6);
        assert_eq!(pts[0], vec![Value::from("eapu"), Value::from(0.5)]);
        assert_eq!(pts[1], vec![Value::from("eapu"), Value::from(1.75)]);
        assert_eq!(pts[5], vec![Value::from("bp"), Value::from(3.0)]);
    }

    #[test]
    fn latin_hypercube_puts_one_point_in_each_stratum() {
        let n = 20;
        let pts = draw(
            &[range(None)],
            Sample::LatinHypercube { points: n, seed: 3 },
        );
        let mut strata: Vec<usize> = pts
            .iter()
            .map(|p| ((p[0].as_f64().unwrap() - 0.5) / 2.5 * n as f64) as usize)
            .collect();
        strata.sort();
        assert_eq!(strata, (0..n as usize).collect::<Vec<_>>());
        assert_eq!(
            pts,
            draw(
                &[range(None)],
                Sample::LatinHypercube { points: n, seed: 3 }
            )
        );
    }

    #[test]
    fn random_draws_stay_in_range_and_depend_on_the_seed() {
        let a = draw(
            &[range(None)],
            Sample::Random {
                points: 50,
                seed: 1,
            },
        );
        assert!(a
            .iter()
            .all(|p| (0.5..3.0).contains(&p[0].as_f64().unwrap())));
        assert_ne!(
            a,
            draw(
                &[range(None)],
                Sample::Random {
                    points: 50,
                    seed: 2
                }
            )
        );
    }

    #[test]
    fn integer_and_log_ranges() {
        assert_eq!(range_values(4.0, 8.0, 3, false, true), vec![4.0, 6.0, 8.0]);
        let g = range_values(1.0, 100.0, 3, true, false);
        assert!((g[1] - 10.0).abs() < 1e-12 && g[2] == 100.0);
    }
}
