//! Relaxation: `ΔG = −r·(G_w − G_rest)·L`, `L = log10(1 + t/t0)`, by least
//! squares over a grid of `t0` decades (1e-9 … 1e3 s); `G_rest` only if the
//! written values span ≥ 10 % of the window (else mid-window, said). The
//! noise from the growth of the squared residuals with `L`:
//! `E[res²] = σ²·L + 2σ_r²`.

use super::report::{num, FitGroup};
use crate::measured::Measured;

/// Fits the relaxation series of `m` in the window `lo..hi` with read noise
/// `sigma_r`; the group's values are the device-file fields (none when not
/// fitted).
pub(super) fn fit(m: &Measured, lo: f64, hi: f64, sigma_r: f64) -> FitGroup {
    let mut g = FitGroup::new("relaxation");
    // (G_w, t, ΔG) of every point after the first of each series.
    let mut pts = Vec::new();
    let mut gws = Vec::new();
    for dev in &m.devices {
        for r in &dev.relaxation {
            let Some(gw) = r.g_us.first().copied().flatten() else {
                continue;
            };
            if r.t_s.first().copied() != Some(0.0) {
                continue;
            }
            gws.push(gw);
            for (t, v) in r.t_s.iter().zip(&r.g_us).skip(1) {
                if let Some(v) = v {
                    pts.push((gw, *t, v - gw));
                }
            }
        }
    }
    g.points = pts.len();
    if pts.len() < 3 {
        g.not_fitted(
            "fewer than 3 relaxation points after a written value at time 0: no relaxation assumed",
        );
        return g;
    }
    let mid = 0.5 * (lo + hi);
    let spread = gws.iter().cloned().fold(f64::NEG_INFINITY, f64::max)
        - gws.iter().cloned().fold(f64::INFINITY, f64::min);
    let two_param = gws.len() >= 2 && spread > 0.1 * (hi - lo);
    let mut best: Option<(f64, f64, f64, f64)> = None; // (rss, t0, r, rest)
    for e in -9..=3 {
        let t0 = 10f64.powi(e);
        let l: Vec<f64> = pts.iter().map(|p| (1.0 + p.1 / t0).log10()).collect();
        let (r, rest) = if two_param {
            // ΔG = a·(G_w·L) + b·L: 2×2 normal equations.
            let (mut s11, mut s12, mut s22, mut t1, mut t2) = (0.0, 0.0, 0.0, 0.0, 0.0);
            for (p, &li) in pts.iter().zip(&l) {
                let (u, v) = (p.0 * li, li);
                s11 += u * u;
                s12 += u * v;
                s22 += v * v;
                t1 += u * p.2;
                t2 += v * p.2;
            }
            let det = s11 * s22 - s12 * s12;
            if det.abs() < 1e-300 {
                continue;
            }
            let a = (t1 * s22 - t2 * s12) / det;
            let b = (s11 * t2 - s12 * t1) / det;
            let r = -a;
            (r, if r.abs() > 1e-12 { b / r } else { mid })
        } else {
            let u: Vec<f64> = pts
                .iter()
                .zip(&l)
                .map(|(p, li)| -(p.0 - mid) * li)
                .collect();
            let suu: f64 = u.iter().map(|x| x * x).sum();
            if suu <= 0.0 {
                continue;
            }
            (
                u.iter().zip(&pts).map(|(u, p)| u * p.2).sum::<f64>() / suu,
                mid,
            )
        };
        let rss: f64 = pts
            .iter()
            .zip(&l)
            .map(|(p, li)| (p.2 + r * (p.0 - rest) * li).powi(2))
            .sum();
        if best.is_none_or(|b| rss < b.0) {
            best = Some((rss, t0, r, rest));
        }
    }
    let Some((rss, t0, r, rest)) = best else {
        g.not_fitted("relaxation data are degenerate (no time dependence): no relaxation assumed");
        return g;
    };
    let dgs: Vec<f64> = pts.iter().map(|p| p.2).collect();
    let tss: f64 = dgs.iter().map(|x| x * x).sum();
    g.quality("rmse_us", (rss / pts.len() as f64).sqrt());
    g.quality("r2", if tss > 0.0 { 1.0 - rss / tss } else { 0.0 });
    let rest = rest.clamp(lo, hi);
    if r < 0.0 {
        g.partial(format!(
            "fitted rate {} < 0 (moves away from the rest value): written as 0",
            num(r)
        ));
    }
    if !two_param {
        g.partial("written values span < 10 % of the window: the rest value is not identifiable, mid-window assumed");
    }
    // Noise: E[res²] = σ²·L + 2σ_r².
    let l: Vec<f64> = pts.iter().map(|p| (1.0 + p.1 / t0).log10()).collect();
    let res2: Vec<f64> = pts
        .iter()
        .zip(&l)
        .map(|(p, li)| (p.2 + r * (p.0 - rest) * li).powi(2) - 2.0 * sigma_r * sigma_r)
        .collect();
    let lsum: f64 = l.iter().map(|x| x * x).sum();
    let noise2 = if lsum > 0.0 {
        l.iter().zip(&res2).map(|(a, b)| a * b).sum::<f64>() / lsum
    } else {
        0.0
    };
    g.value("relax_rate_per_decade", r.clamp(0.0, 1.0));
    g.value("relax_rest_us", rest);
    g.value("relax_t0_s", t0);
    g.value("relax_noise_us", noise2.max(0.0).sqrt());
    g.note("t0 chosen from decades 1e-9 … 1e3 s by least squares");
    g
}

#[cfg(test)]
mod tests {
    use super::super::test_support::drifting_population;

    /// 72 series × 8 points; drift of up to 0.02·50·7 = 7 µS against read
    /// noise 0.5 µS and walk noise 0.3·√7: rate within 15 %, rest within
    /// 10 % of the window.
    #[test]
    fn relaxation_is_recovered() {
        let (c, f) = drifting_population();
        assert!(
            (f.relax_rate_per_decade - 0.02).abs() < 0.003,
            "{}",
            f.relax_rate_per_decade
        );
        assert!((f.relax_rest_us - 40.0).abs() < 10.0, "{}", f.relax_rest_us);
        assert!((f.relax_t0_s - 1e-3).abs() < 1e-12, "{}", f.relax_t0_s);
        assert_eq!(c.report.group("relaxation").unwrap().points, 72 * 8);
    }
}
