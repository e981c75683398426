//! The cells of one tile, stored as a structure of arrays.

use crate::DeviceModel;
use aimsim_core::Rng;
use rand::Rng as _;
use rand_distr::StandardNormal;

/// Direction of a conductance change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Polarity {
    /// Raises the conductance.
    Set,
    /// Lowers the conductance.
    Reset,
}

/// What one programming operation did to one cell.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ProgramOutcome {
    /// Nominal pulses applied.
    pub pulses: u32,
    /// Conductance before, µS.
    pub g_before_us: f32,
    /// Conductance after, µS.
    pub g_after_us: f32,
}

/// The cells of a tile holding `rows × cols` weights as differential pairs.
///
/// Cell `2k` is `G⁺` and cell `2k+1` is `G⁻` of weight `k = row·cols + col`,
/// so a row of weights is one contiguous slice for both the forward
/// (column-current) and the transposed (row-current) read.
#[derive(Clone, Debug)]
pub struct CellArray {
    rows: usize,
    cols: usize,
    g_us: Vec<f32>,
    pulses: Vec<u32>,
    endurance: Vec<u32>,
}

impl CellArray {
    /// A fresh array: cells at mid-window, endurance drawn per cell, and the
    /// fabrication stuck-at faults placed, all from `rng`.
    pub fn new(model: &DeviceModel, rows: usize, cols: usize, rng: &mut Rng) -> Self {
        let n = 2 * rows * cols;
        let mut g_us = vec![model.g_mid_us(); n];
        let ln_median = model.endurance_median_pulses.ln();
        let mut endurance = Vec::with_capacity(n);
        for g in g_us.iter_mut() {
            let u: f64 = rng.random();
            let z: f64 = rng.sample(StandardNormal);
            let life = if u < model.stuck_at_min_fraction {
                *g = model.g_min_us;
                0
            } else if u < model.stuck_at_min_fraction + model.stuck_at_max_fraction {
                *g = model.g_max_us;
                0
            } else {
                (ln_median + model.endurance_sigma_log * z)
                    .exp()
                    .clamp(1.0, u32::MAX as f64) as u32
            };
            endurance.push(life);
        }
        CellArray {
            rows,
            cols,
            g_us,
            pulses: vec![0; n],
            endurance,
        }
    }

    /// Weight rows (inputs) of the tile.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Weight columns (outputs) of the tile.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Number of cells (two per weight).
    pub fn cells(&self) -> usize {
        self.g_us.len()
    }

    /// Conductances, µS (`[2k]` = G⁺, `[2k+1]` = G⁻).
    pub fn conductances_us(&self) -> &[f32] {
        &self.g_us
    }

    /// Pulses applied to each cell so far.
    pub fn pulses(&self) -> &[u32] {
        &self.pulses
    }

    /// Pulses to failure of each cell (0: stuck from fabrication).
    pub fn endurance(&self) -> &[u32] {
        &self.endurance
    }

    /// Whether a cell no longer responds (worn out or stuck from fabrication).
    pub fn is_failed(&self, cell: usize) -> bool {
        self.pulses[cell] >= self.endurance[cell]
    }

    /// Number of failed cells.
    pub fn failed_cells(&self) -> usize {
        self.pulses
            .iter()
            .zip(&self.endurance)
            .filter(|(p, e)| p >= e)
            .count()
    }

    /// Sets the initial weights: both cells of a pair placed symmetrically
    /// about mid-window, `G± = G_mid ± W·r_wg/2`, clipped to the window.
    /// Models the chip's initial write-verify programming, which is not part
    /// of training and is not charged. Stuck cells keep their value.
    pub fn set_weights(&mut self, model: &DeviceModel, w: &[f32]) {
        assert_eq!(w.len(), self.rows * self.cols, "weight count");
        let mid = model.g_mid_us();
        for (k, &wk) in w.iter().enumerate() {
            let half = 0.5 * wk * model.r_wg_us;
            for (cell, g) in [(2 * k, mid + half), (2 * k + 1, mid - half)] {
                if !self.is_failed(cell) {
                    self.g_us[cell] = g.clamp(model.g_min_us, model.g_max_us);
                }
            }
        }
    }

    /// Writes the weights `(G⁺ − G⁻)/r_wg` into `out` (row-major).
    pub fn weights_into(&self, model: &DeviceModel, out: &mut [f32]) {
        let inv = 1.0 / model.r_wg_us;
        for (o, pair) in out.iter_mut().zip(self.g_us.chunks_exact(2)) {
            *o = (pair[0] - pair[1]) * inv;
        }
    }

    /// Forward read: row voltages `v_v` (one per weight row) produce column
    /// currents `out_ua` (one per weight column), `I_c = Σ_r V_r (G⁺−G⁻)`
    /// in µA, plus read noise. Returns `Σ_cells V² G` in V²·µS (= µW), the
    /// array's read power, from which the caller charges read energy.
    pub fn mvm_forward(
        &self,
        model: &DeviceModel,
        v_v: &[f32],
        out_ua: &mut [f32],
        rng: &mut Rng,
    ) -> f64 {
        debug_assert_eq!(v_v.len(), self.rows);
        debug_assert_eq!(out_ua.len(), self.cols);
        out_ua.fill(0.0);
        let mut power_uw = 0.0f64;
        let mut sum_v2 = 0.0f64;
        for (r, &v) in v_v.iter().enumerate() {
            if v == 0.0 {
                continue;
            }
            let row = &self.g_us[2 * r * self.cols..2 * (r + 1) * self.cols];
            let mut g_sum = 0.0f32;
            for (o, pair) in out_ua.iter_mut().zip(row.chunks_exact(2)) {
                *o += v * (pair[0] - pair[1]);
                g_sum += pair[0] + pair[1];
            }
            let v2 = f64::from(v) * f64::from(v);
            sum_v2 += v2;
            power_uw += v2 * f64::from(g_sum);
        }
        add_read_noise(model, sum_v2, out_ua, rng);
        power_uw
    }

    /// Transposed read: column voltages `v_v` (one per weight column, driven
    /// `+V` on the G⁺ column and `−V` on the G⁻ column) produce row currents
    /// `out_ua`, `I_r = Σ_c V_c (G⁺−G⁻)`, plus read noise. Returns the read
    /// power `Σ V² G` in µW.
    pub fn mvm_backward(
        &self,
        model: &DeviceModel,
        v_v: &[f32],
        out_ua: &mut [f32],
        rng: &mut Rng,
    ) -> f64 {
        debug_assert_eq!(v_v.len(), self.cols);
        debug_assert_eq!(out_ua.len(), self.rows);
        let mut power_uw = 0.0f64;
        for (r, o) in out_ua.iter_mut().enumerate() {
            let row = &self.g_us[2 * r * self.cols..2 * (r + 1) * self.cols];
            let mut acc = 0.0f32;
            let mut p = 0.0f32;
            for (&v, pair) in v_v.iter().zip(row.chunks_exact(2)) {
                acc += v * (pair[0] - pair[1]);
                p += v * v * (pair[0] + pair[1]);
            }
            *o = acc;
            power_uw += f64::from(p);
        }
        let sum_v2: f64 = v_v.iter().map(|&v| f64::from(v) * f64::from(v)).sum();
        add_read_noise(model, sum_v2, out_ua, rng);
        power_uw
    }

    /// Which cell of weight `k`'s pair realises a weight-conductance change
    /// `dg_us`, and with which polarity: a positive change is a SET of G⁺ or
    /// a RESET of G⁻, whichever cell has more room left in the window, so the
    /// pair stays away from the bounds. Returns `(cell, polarity, cell ΔG)`.
    pub fn route(&self, model: &DeviceModel, k: usize, dg_us: f32) -> (usize, Polarity, f32) {
        let (gp, gn) = (self.g_us[2 * k], self.g_us[2 * k + 1]);
        if dg_us >= 0.0 {
            if model.g_max_us - gp >= gn - model.g_min_us {
                (2 * k, Polarity::Set, dg_us)
            } else {
                (2 * k + 1, Polarity::Reset, -dg_us)
            }
        } else if gp - model.g_min_us >= model.g_max_us - gn {
            (2 * k, Polarity::Reset, dg_us)
        } else {
            (2 * k + 1, Polarity::Set, -dg_us)
        }
    }

    /// One programming operation aiming at a change `dg_us` of `cell`: the
    /// driver shapes `n = max(1, ⌈|ΔG|/step⌉)` pulses so that the mean change
    /// is `ΔG`; the device adds write noise and clips to the window. A failed
    /// cell takes the pulses (they cost energy) but does not change.
    pub fn program(
        &mut self,
        model: &DeviceModel,
        cell: usize,
        dg_us: f32,
        rng: &mut Rng,
    ) -> ProgramOutcome {
        let step = if dg_us >= 0.0 {
            model.step_set_us
        } else {
            model.step_reset_us
        };
        let pulses = ((dg_us.abs() / step).ceil() as u32).max(1);
        let before = self.g_us[cell];
        let alive = !self.is_failed(cell);
        self.pulses[cell] = self.pulses[cell].saturating_add(pulses);
        let after = if alive {
            let z: f32 = rng.sample(StandardNormal);
            (before + dg_us + model.write_noise_us * z).clamp(model.g_min_us, model.g_max_us)
        } else {
            before
        };
        self.g_us[cell] = after;
        ProgramOutcome {
            pulses,
            g_before_us: before,
            g_after_us: after,
        }
    }

    /// `n` nominal fixed pulses of `polarity` on `cell`, as a controller that
    /// counts pulses (stochastic-pulse, mixed-precision, NeuroSim-style
    /// rounding) issues them: each pulse moves the cell by the polarity's
    /// mean step (`step_set_us` or `−step_reset_us`) plus its own write
    /// noise `σ_w·z`, clipped to the window after every pulse, so `n` pulses
    /// have a spread of `σ_w·√n` (one pulse matches one [`program`] of at
    /// most one step). A cell that wears out mid-train stops changing; a
    /// failed cell takes the pulses (they cost energy) but does not change.
    ///
    /// [`program`]: CellArray::program
    pub fn pulse(
        &mut self,
        model: &DeviceModel,
        cell: usize,
        polarity: Polarity,
        n: u32,
        rng: &mut Rng,
    ) -> ProgramOutcome {
        let step = match polarity {
            Polarity::Set => model.step_set_us,
            Polarity::Reset => -model.step_reset_us,
        };
        let before = self.g_us[cell];
        let mut g = before;
        for _ in 0..n {
            if self.is_failed(cell) {
                self.pulses[cell] = self.pulses[cell].saturating_add(1);
                continue;
            }
            self.pulses[cell] += 1;
            let z: f32 = rng.sample(StandardNormal);
            g = (g + step + model.write_noise_us * z).clamp(model.g_min_us, model.g_max_us);
        }
        self.g_us[cell] = g;
        ProgramOutcome {
            pulses: n,
            g_before_us: before,
            g_after_us: g,
        }
    }
}

/// Adds the column-level read noise: the sum of independent per-cell
/// Gaussian read noise `σ_r` over two cells per weight driven at `V_i` has
/// σ = σ_r · sqrt(2 Σ V_i²) (µS·V = µA), the same for every output line.
fn add_read_noise(model: &DeviceModel, sum_v2: f64, out_ua: &mut [f32], rng: &mut Rng) {
    if model.read_noise_us == 0.0 || sum_v2 == 0.0 {
        return;
    }
    let sigma = model.read_noise_us * (2.0 * sum_v2).sqrt() as f32;
    for o in out_ua.iter_mut() {
        let z: f32 = rng.sample(StandardNormal);
        *o += sigma * z;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builtin_device;
    use aimsim_core::stream;
    use proptest::prelude::*;

    fn model(over: &[(&str, &str)]) -> DeviceModel {
        let o: Vec<_> = over
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        builtin_device("eapu-180nm", &o).unwrap()
    }

    #[test]
    fn weights_round_trip_through_pairs() {
        let m = model(&[]);
        let mut rng = stream(1, "t");
        let mut a = CellArray::new(&m, 2, 3, &mut rng);
        let w = [0.5, -0.25, 0.0, 1.0, -1.0, 0.1];
        a.set_weights(&m, &w);
        let mut back = [0.0; 6];
        a.weights_into(&m, &mut back);
        for (x, y) in w.iter().zip(&back) {
            assert!((x - y).abs() < 1e-5);
        }
    }

    #[test]
    fn noiseless_mvm_is_exact() {
        let m = model(&[("read_noise_us", "0")]);
        let mut rng = stream(1, "t");
        let mut a = CellArray::new(&m, 2, 2, &mut rng);
        a.set_weights(&m, &[0.5, -0.25, 1.0, 0.0]);
        let mut out = [0.0; 2];
        a.mvm_forward(&m, &[0.2, 0.1], &mut out, &mut rng);
        // I = V·W·80 µS: col0 = (0.2·0.5 + 0.1·1.0)·80 = 16 µA; col1 = −4 µA.
        assert!((out[0] - 16.0).abs() < 1e-4 && (out[1] + 4.0).abs() < 1e-4);
        let mut back = [0.0; 2];
        a.mvm_backward(&m, &[0.2, 0.1], &mut back, &mut rng);
        // row0 = (0.2·0.5 − 0.1·0.25)·80 = 6 µA; row1 = 0.2·1.0·80 = 16 µA.
        assert!((back[0] - 6.0).abs() < 1e-4 && (back[1] - 16.0).abs() < 1e-4);
    }

    #[test]
    fn write_noise_has_device_sigma() {
        // 20 000 writes of +0 from mid-window: sample σ within 3 % of 2.4 µS
        // (the standard error of σ̂ is σ/sqrt(2n) = 0.5 %; 3 % is 6 SE).
        let m = model(&[("endurance_median_pulses", "4e9")]);
        let mut rng = stream(3, "t");
        let mut a = CellArray::new(&m, 1, 1, &mut rng);
        let n = 20_000;
        let mut s2 = 0.0f64;
        for _ in 0..n {
            a.set_weights(&m, &[0.0]);
            let o = a.program(&m, 0, 0.0, &mut rng);
            s2 += f64::from(o.g_after_us - o.g_before_us).powi(2);
        }
        let sigma = (s2 / n as f64).sqrt();
        assert!((sigma - 2.4).abs() < 0.03 * 2.4, "σ = {sigma}");
    }

    #[test]
    fn stuck_fractions_are_placed() {
        let m = model(&[
            ("stuck_at_min_fraction", "0.1"),
            ("stuck_at_max_fraction", "0.05"),
        ]);
        let mut rng = stream(5, "t");
        let a = CellArray::new(&m, 100, 100, &mut rng);
        let n = a.cells() as f64;
        let at_min = a
            .conductances_us()
            .iter()
            .filter(|&&g| g == m.g_min_us)
            .count() as f64;
        let at_max = a
            .conductances_us()
            .iter()
            .filter(|&&g| g == m.g_max_us)
            .count() as f64;
        // n = 20 000: binomial SE of 0.1 is 0.0021 and of 0.05 is 0.0015; allow 5 SE.
        assert!((at_min / n - 0.1).abs() < 0.011, "{}", at_min / n);
        assert!((at_max / n - 0.05).abs() < 0.008, "{}", at_max / n);
        assert_eq!(a.failed_cells(), (at_min + at_max) as usize);
    }

    #[test]
    fn fixed_pulses_step_and_spread_as_documented() {
        // 20 000 trains of 3 SET pulses from mid-window: mean 3·2 µS within
        // 0.1 µS (SE = 2.4·√3/√n = 0.029 µS; 0.1 is 3.4 SE) and σ within 3 %
        // of 2.4·√3 (SE of σ̂ is 0.5 %).
        let m = model(&[("endurance_median_pulses", "4e9")]);
        let mut rng = stream(4, "t");
        let mut a = CellArray::new(&m, 1, 1, &mut rng);
        let n = 20_000;
        let (mut s1, mut s2) = (0.0f64, 0.0f64);
        for _ in 0..n {
            a.set_weights(&m, &[0.0]);
            let o = a.pulse(&m, 0, Polarity::Set, 3, &mut rng);
            assert_eq!(o.pulses, 3);
            let d = f64::from(o.g_after_us - o.g_before_us);
            s1 += d;
            s2 += d * d;
        }
        let mean = s1 / n as f64;
        let sigma = (s2 / n as f64 - mean * mean).sqrt();
        assert!((mean - 6.0).abs() < 0.1, "mean {mean}");
        let want = 2.4 * 3f64.sqrt();
        assert!((sigma - want).abs() < 0.03 * want, "σ {sigma}");
        assert_eq!(a.pulses()[0], 3 * n);
    }

    proptest! {
        #[test]
        fn conductance_stays_in_window(seq in proptest::collection::vec(-50.0f32..50.0, 1..200)) {
            let m = model(&[]);
            let mut rng = stream(9, "p");
            let mut a = CellArray::new(&m, 1, 1, &mut rng);
            for dg in seq {
                let (cell, _, d) = a.route(&m, 0, dg);
                a.program(&m, cell, d, &mut rng);
                for &g in a.conductances_us() {
                    prop_assert!(g >= m.g_min_us && g <= m.g_max_us);
                }
            }
        }

        #[test]
        fn failed_cell_never_changes(seq in proptest::collection::vec(-10.0f32..10.0, 1..50)) {
            let m = model(&[("endurance_median_pulses", "1"), ("endurance_sigma_log", "0")]);
            let mut rng = stream(11, "p");
            let mut a = CellArray::new(&m, 1, 1, &mut rng);
            a.program(&m, 0, 1.0, &mut rng); // wears the cell out
            let g = a.conductances_us()[0];
            for dg in seq {
                a.program(&m, 0, dg, &mut rng);
                prop_assert_eq!(a.conductances_us()[0], g);
            }
        }
    }
}
