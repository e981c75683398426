//! The cells of one tile, stored as a structure of arrays.

use crate::counts::{mix64, Endurances, PulseCounts};
use crate::mram::MramGroups;
use crate::params::{asymptote, step_shape};
use crate::wear::Wear;
use crate::{kernel, DeviceModel, MramCells};
use aimsim_core::{normal, round, Rng};
use rand::Rng as _;
use std::borrow::Cow;

/// Direction of a conductance change (`"set"` / `"reset"` in files).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
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
    pulses: PulseCounts,
    endurance: Endurances,
    /// Seed of the per-cell device-to-device factors, which are hashed from
    /// `(d2d_seed, cell)` when needed instead of stored (keeps 8 B/cell).
    d2d_seed: u64,
    /// Written values and write times, kept only for devices that relax.
    relax: Option<Box<RelaxState>>,
    /// The junctions, kept only when the cells are groups of binary
    /// STT-MRAM junctions (`model.mram`).
    mram: Option<Box<MramGroups>>,
    /// What the reads need besides the cells, kept exact at every change
    /// of a cell ([`CellArray::store`]).
    caches: ReadCaches,
    /// The wear summary, kept at every change of a pulse count
    /// ([`CellArray::add_pulses`]).
    wear: Wear,
}

/// The read caches of a [`CellArray`]: derived from the conductances, not
/// state (they cost 2 B per cell and 29 B per row and per column).
#[derive(Clone, Debug)]
struct ReadCaches {
    /// Each weight's `G⁺ − G⁻` (`cols` per row), formed by the same `f32`
    /// subtraction the pair kernels do: the forward and transposed reads
    /// stream these 4 B per weight instead of the pair's 8. Updating one
    /// weight per write costs one subtraction, where recomputing every
    /// written row at the next read streamed whole rows.
    d_us: Vec<f32>,
    /// Each row's `Σ (G⁺ + G⁻)` over its `2·cols` cells, in [`fix`] units:
    /// the forward read's power `Σ_r v_r²·rowsum_r`.
    row_fix: Vec<i128>,
    /// Each column's `Σ (G⁺ + G⁻)` over its `2·rows` cells (both cells of
    /// each pair of the column), in [`fix`] units: the transposed read's
    /// power `Σ_c v_c²·colsum_c`, O(cols) instead of a second stream of
    /// every cell.
    ///
    /// A change of a cell from `g` to `g'` adds `fix(g') − fix(g)` to its
    /// row's and its column's sums. Integer addition is exact and
    /// associative, so each sum equals `Σ fix(G)` over its cells whatever
    /// the order of the writes (or the threads that made them), with no
    /// refresh pass and no drift over millions of updates.
    col_fix: Vec<i128>,
    /// `unfix` of each row's and each column's exact sum, the `f64` the
    /// read powers multiply by: converted again only for the lines a write
    /// changed since the last refresh of their direction
    /// ([`ReadCaches::refresh_row_sums`], `refresh_col_sums`; listed in
    /// `stale_rows` / `stale_cols`, flagged in `row_stale` / `col_stale`),
    /// where the reads converted every driven line at every read. `unfix`
    /// is a pure function of the integer sum, so a current copy has its
    /// bits.
    row_us: Vec<f64>,
    col_us: Vec<f64>,
    row_stale: Vec<bool>,
    col_stale: Vec<bool>,
    stale_rows: Vec<u32>,
    stale_cols: Vec<u32>,
    rows: usize,
    cols: usize,
    /// Whether the caches follow the conductances. An array placed with
    /// [`CellArray::new_deferred`] starts without them (nothing
    /// allocated: an allocator's zeroed block is not untouched memory,
    /// glibc clears the part of its heap it reuses) and allocates and
    /// builds them at its first read ([`CellArray::prepare_reads`]):
    /// placing a large chip then holds only the cells beside the caller's
    /// initial weights, not the caches too (2 B per cell less at the
    /// peak).
    ready: bool,
}

/// Fractional bits of the exact sums: one unit is 2⁻⁸⁰ µS.
///
/// Every `f32` conductance `|G| ≥ 2⁻⁵⁷ µS` is a whole number of units (its
/// last bit is worth at least 2⁻⁸⁰ µS), and `|G| < 2²⁴ µS` (16 S, far above
/// any device) is below 2¹⁰⁴ units, so a line of up to 2²² cells sums
/// below 2¹²⁶ — inside `i128`. (A quantum of 2⁻¹⁰⁰ µS would leave room for
/// only 2¹⁰ cells of 2¹⁶ µS.)
const FIX_BITS: i32 = 80;

/// One unit in µS, 2⁻⁸⁰ (exact in `f64`).
const FIX_UNIT: f64 = 1.0 / (1u128 << FIX_BITS) as f64;

/// Most cells one exact sum covers (see [`FIX_BITS`]).
const FIX_MAX_LINE_CELLS: usize = 1 << 22;

/// `G` in units of 2⁻⁸⁰ µS, `trunc(G·2⁸⁰)`: exact for `|G| ≥ 2⁻⁵⁷ µS`;
/// smaller magnitudes lose their bits below the grid, rounding toward
/// zero (a fixed rule, so sums stay order-independent).
///
/// Computed from the bits (every write calls it twice, and the float to
/// `i128` conversion is a library call): an `f32` with exponent field
/// `E` and significand `m` (the implicit bit included) is
/// `m·2^(max(E, 1) − 150)` µS, that is `m·2^(max(E, 1) − 70)` units, a
/// left shift of `m` or a right shift that drops the bits below the grid
/// (truncation of the magnitude, then the sign: toward zero). The same
/// value as `(G·2⁸⁰) as i128` (a test checks it).
///
/// # Panics
/// If `G` is not finite or `|G| ≥ 2²⁴ µS` (out of the sums' range).
#[inline]
fn fix(g_us: f32) -> i128 {
    assert!(
        g_us.abs() < 16_777_216.0,
        "conductance {g_us} µS outside the exact sums' range"
    );
    let bits = g_us.to_bits();
    let e = (bits >> 23) & 0xff;
    let m = (bits & 0x7f_ffff) | if e != 0 { 0x80_0000 } else { 0 };
    // `e ≤ 150` here (|G| < 2²⁴), so a left shift is at most 80 bits.
    let shift = e.max(1) as i32 - (150 - FIX_BITS);
    let mag = if shift >= 0 {
        i128::from(m) << shift
    } else {
        // `m < 2²⁴`: shifts of 24 or more leave nothing.
        i128::from(m >> (-shift).min(31))
    };
    if bits >> 31 != 0 {
        -mag
    } else {
        mag
    }
}

/// An exact sum in µS as `f64`: rounded once, to nearest (ties to even;
/// the value of Rust's integer-to-float conversion), then scaled by 2⁻⁸⁰
/// (exact).
#[inline]
fn unfix(s: i128) -> f64 {
    i128_to_f64(s) * FIX_UNIT
}

/// `x as f64` (rounded to nearest, ties to even) without the library call
/// `as` makes for `i128` (the reads convert the sums of the written
/// lines). Beyond `i64`, the top 63 bits of `|x|` keep 10 bits below the
/// `f64` significand, and any non-zero bit under them is OR-ed into their
/// last bit ("round to odd"): the hardware's correctly rounded `i64`
/// conversion (one instruction, where `u64` takes several on x86-64) then
/// rounds exactly as the whole value would (the OR-ed bit sits below the
/// rounding bit, so it only decides exact ties), and the scaling by
/// `2^shift` is exact.
#[inline]
fn i128_to_f64(x: i128) -> f64 {
    if let Ok(v) = i64::try_from(x) {
        return v as f64;
    }
    let m = x.unsigned_abs();
    // `|x| ≥ 2⁶³`: 64 significant bits or more, of which 63 are kept.
    let shift = 65 - m.leading_zeros();
    let top = (m >> shift) as i64;
    let sticky = i64::from(m & ((1u128 << shift) - 1) != 0);
    let f = (top | sticky) as f64 * f64::from_bits(u64::from(1023 + shift) << 52);
    if x < 0 {
        -f
    } else {
        f
    }
}

impl ReadCaches {
    /// Caches not built yet (nothing allocated).
    fn deferred(rows: usize, cols: usize) -> Self {
        assert!(
            2 * rows.max(cols) <= FIX_MAX_LINE_CELLS,
            "{rows} × {cols} weights: a line beyond the exact sums' range"
        );
        // Nothing is allocated before `build`: a chip being placed holds
        // its cells and the initial weights, not the caches as well (the
        // weights are freed before the first read allocates these).
        ReadCaches {
            d_us: Vec::new(),
            row_fix: Vec::new(),
            col_fix: Vec::new(),
            row_us: Vec::new(),
            col_us: Vec::new(),
            row_stale: Vec::new(),
            col_stale: Vec::new(),
            stale_rows: Vec::new(),
            stale_cols: Vec::new(),
            rows,
            cols,
            ready: false,
        }
    }

    /// Allocates and computes every cache from `g_us` (the sums start
    /// from zero).
    fn build(&mut self, g_us: &[f32]) {
        debug_assert_eq!(g_us.len(), 2 * self.rows * self.cols);
        self.allocate();
        let cols = self.cols;
        for (k, p) in g_us.chunks_exact(2).enumerate() {
            self.d_us[k] = p[0] - p[1];
            let s = fix(p[0]) + fix(p[1]);
            self.row_fix[k / cols] += s;
            self.col_fix[k % cols] += s;
        }
        self.convert_all();
    }

    /// Allocates every cache, zeroed, and counts them built (the caller
    /// fills them).
    fn allocate(&mut self) {
        let (rows, cols) = (self.rows, self.cols);
        self.d_us = vec![0.0; rows * cols];
        self.row_fix = vec![0; rows];
        self.col_fix = vec![0; cols];
        self.row_us = vec![0.0; rows];
        self.col_us = vec![0.0; cols];
        self.row_stale = vec![false; rows];
        self.col_stale = vec![false; cols];
        self.stale_rows = Vec::with_capacity(rows);
        self.stale_cols = Vec::with_capacity(cols);
        self.ready = true;
    }

    /// Converts every line's exact sum to its `f64` copy (none stale).
    fn convert_all(&mut self) {
        for (u, &s) in self.row_us.iter_mut().zip(&self.row_fix) {
            *u = unfix(s);
        }
        for (u, &s) in self.col_us.iter_mut().zip(&self.col_fix) {
            *u = unfix(s);
        }
        self.row_stale.fill(false);
        self.col_stale.fill(false);
        self.stale_rows.clear();
        self.stale_cols.clear();
    }

    /// Converts the row sums changed since the last call: every `row_us`
    /// is then `unfix` of its exact sum.
    fn refresh_row_sums(&mut self) {
        for r in self.stale_rows.drain(..) {
            let r = r as usize;
            self.row_us[r] = unfix(self.row_fix[r]);
            self.row_stale[r] = false;
        }
    }

    /// [`ReadCaches::refresh_row_sums`] for the columns.
    fn refresh_col_sums(&mut self) {
        for c in self.stale_cols.drain(..) {
            let c = c as usize;
            self.col_us[c] = unfix(self.col_fix[c]);
            self.col_stale[c] = false;
        }
    }

    /// Each row's exact sum rounded to `f64`, µS: the cached copies when
    /// current (the reads after [`CellArray::prepare_reads`]), else
    /// converted afresh (a read right after a write without it: the same
    /// values).
    #[inline]
    fn row_sums_us(&self) -> Cow<'_, [f64]> {
        if self.stale_rows.is_empty() {
            Cow::Borrowed(&self.row_us)
        } else {
            Cow::Owned(self.row_fix.iter().map(|&s| unfix(s)).collect())
        }
    }

    /// Each column's exact sum rounded to `f64`, µS, as
    /// [`ReadCaches::row_sums_us`].
    #[inline]
    fn col_sums_us(&self) -> Cow<'_, [f64]> {
        if self.stale_cols.is_empty() {
            Cow::Borrowed(&self.col_us)
        } else {
            Cow::Owned(self.col_fix.iter().map(|&s| unfix(s)).collect())
        }
    }

    /// Sets cell `cell` of `g_us` to `g` and follows it in every cache.
    #[inline]
    fn store(&mut self, g_us: &mut [f32], cell: usize, g: f32) {
        let old = std::mem::replace(&mut g_us[cell], g);
        if !self.ready {
            return;
        }
        let k = cell / 2;
        self.follow(k, g_us[2 * k], g_us[2 * k + 1], old, g);
    }

    /// Follows a change of a cell of weight `k` from `old` to `g`, the
    /// pair's values now `(gp, gn)`: the weight's `G⁺ − G⁻` and the exact
    /// sums of its row and column (built caches only).
    #[inline]
    fn follow(&mut self, k: usize, gp: f32, gn: f32, old: f32, g: f32) {
        self.d_us[k] = gp - gn;
        let delta = fix(g) - fix(old);
        if delta != 0 {
            let (r, c) = (k / self.cols, k % self.cols);
            self.row_fix[r] += delta;
            self.col_fix[c] += delta;
            mark_stale(&mut self.row_stale[r], &mut self.stale_rows, r);
            mark_stale(&mut self.col_stale[c], &mut self.stale_cols, c);
        }
    }
}

/// Flags line `i` stale and lists it the first time, without a branch on
/// its flag (which waits for the division that found the line): pushed,
/// then dropped again if it was listed already.
#[inline]
fn mark_stale(flag: &mut bool, list: &mut Vec<u32>, i: usize) {
    let new = !*flag;
    *flag = true;
    let n = list.len();
    list.push(i as u32);
    list.truncate(n + usize::from(new));
}

/// What relaxation needs per cell beside its value: when it was written
/// (4 B/cell).
///
/// The array's `g_us` holds each cell's last *written* value `G_w`; its
/// present value is derived, `relaxed(G_w, now − t_w)` clipped to its
/// window ([`CellArray::conductance_us`]), except for a failed cell
/// (which keeps its value) and for a cell written since the clock last
/// moved (which holds exactly what was written). Only the read caches
/// hold present values, brought to the clock by one pass per operation.
#[derive(Clone, Debug)]
struct RelaxState {
    /// Each cell's write time, s, with its sign bit set while the cell
    /// was written since the clock last moved (`fresh`), and NaN once it
    /// has failed (worn out or stuck from fabrication), so that a pass
    /// over the cells reads neither pulse counts nor endurances.
    written_at_s: Vec<f32>,
    now_s: f64,
    /// Whether the read caches wait for a pass: the clock was advanced
    /// by [`CellArray::advance_lazily`] since the last one (writes then
    /// leave the caches to it, [`CellArray::settle`]).
    pending: bool,
    /// The cells written since the clock last moved (their marks are
    /// cleared when it moves: a write phase's cells, a few), unless
    /// `fresh_many`: then more than [`FRESH_LIST_FRACTION`] of the cells
    /// were (placement writes them all) and every mark is cleared.
    fresh: Vec<u32>,
    fresh_many: bool,
}

/// Marked cells beyond this fraction of an array are not listed: the
/// clock's next move clears every mark (a pass over the write times)
/// instead of holding 4 B per cell of list.
const FRESH_LIST_FRACTION: usize = 16;

impl RelaxState {
    /// Marks `cell` written at the clock's time.
    #[inline]
    fn mark_written(&mut self, cell: usize) {
        let t = self.written_at_s[cell];
        if t.is_nan() {
            return;
        }
        if !t.is_sign_negative() && !self.fresh_many {
            if self.fresh.len() < self.written_at_s.len() / FRESH_LIST_FRACTION {
                self.fresh.push(cell as u32);
            } else {
                self.fresh_many = true;
                self.fresh = Vec::new();
            }
        }
        self.written_at_s[cell] = -(self.now_s as f32);
    }

    /// Whether a cell was written since the clock last moved.
    fn any_fresh(&self) -> bool {
        self.fresh_many || !self.fresh.is_empty()
    }

    /// Moves the clock to `t_s`: the cells written before hold their
    /// relaxed values from now on.
    fn move_clock(&mut self, t_s: f64) {
        if self.fresh_many {
            for t in &mut self.written_at_s {
                *t = t.abs();
            }
            self.fresh_many = false;
        } else {
            for &c in &self.fresh {
                let t = &mut self.written_at_s[c as usize];
                *t = t.abs();
            }
        }
        self.fresh.clear();
        self.now_s = t_s;
    }
}

/// The parameters of one cell after device-to-device variation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CellParams {
    /// Lower bound of this cell, µS.
    pub g_min_us: f32,
    /// Upper bound of this cell, µS.
    pub g_max_us: f32,
    /// Mid-window SET step of this cell, µS.
    pub step_set_us: f32,
    /// Mid-window RESET step (magnitude) of this cell, µS.
    pub step_reset_us: f32,
    /// Normalised asymptote of the SET step line (∞: constant step).
    asym_set: f32,
    /// Normalised asymptote of the RESET step line.
    asym_reset: f32,
}

impl CellParams {
    /// The nominal cell of `model` (no device-to-device variation).
    pub fn nominal(model: &DeviceModel) -> Self {
        CellParams {
            g_min_us: model.g_min_us,
            g_max_us: model.g_max_us,
            step_set_us: model.step_set_us,
            step_reset_us: model.step_reset_us,
            asym_set: asymptote(model.pulse_model, model.nonlinearity_set),
            asym_reset: asymptote(model.pulse_model, model.nonlinearity_reset),
        }
    }

    /// The cell with standard-normal draws `z` for (step, g_min, g_max,
    /// nonlinearity SET, nonlinearity RESET). Bounds keep at least 10 % of
    /// the nominal window between them and `g_min ≥ 0`.
    pub fn varied(model: &DeviceModel, z: [f32; 5]) -> Self {
        let w = model.g_max_us - model.g_min_us;
        let f = (model.d2d_step_sigma_log * z[0]).exp();
        let g_min = (model.g_min_us + model.d2d_g_min_us * z[1]).max(0.0);
        let g_max = (model.g_max_us + model.d2d_g_max_us * z[2]).max(g_min + 0.1 * w);
        let nu = |nu: f32, z: f32| (nu * (1.0 + model.d2d_nonlinearity_rel * z)).max(0.0);
        CellParams {
            g_min_us: g_min,
            g_max_us: g_max,
            step_set_us: f * model.step_set_us,
            step_reset_us: f * model.step_reset_us,
            asym_set: asymptote(model.pulse_model, nu(model.nonlinearity_set, z[3])),
            asym_reset: asymptote(model.pulse_model, nu(model.nonlinearity_reset, z[4])),
        }
    }

    /// Mean conductance change magnitude of one pulse at `g_us`, µS.
    #[inline]
    pub fn mean_step_us(&self, polarity: Polarity, g_us: f32) -> f32 {
        let x = (g_us - self.g_min_us) / (self.g_max_us - self.g_min_us);
        // The polarity's parameters chosen by value, not by a branch (the
        // phases of a write alternate polarities).
        let set = polarity == Polarity::Set;
        let step = select_f32(set, self.step_set_us, self.step_reset_us);
        let asym = select_f32(set, self.asym_set, self.asym_reset);
        step * step_shape(set, asym, x)
    }
}

/// `if c { a } else { b }` by masks on the bits, which the compiler keeps
/// free of branches (a branch on an unpredictable `c` costs more than
/// computing both sides).
#[inline(always)]
pub(crate) fn select_f32(c: bool, a: f32, b: f32) -> f32 {
    let m = u32::from(c).wrapping_neg();
    f32::from_bits((a.to_bits() & m) | (b.to_bits() & !m))
}

/// Five standard-normal numbers that depend only on `(seed, cell)`
/// (Box–Muller on hashed uniforms): the cell's device-to-device draws.
pub(crate) fn d2d_normals(seed: u64, cell: usize) -> [f32; 5] {
    let mut out = [0.0f32; 6];
    let base = mix64(seed ^ mix64(cell as u64 ^ 0xd2d0_d2d0_d2d0_d2d0));
    for k in 0..3 {
        let h = mix64(base.wrapping_add((k as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15)));
        // Uniforms in (0, 1]: the top 24 bits of each half.
        let u1 = ((h >> 40) as f32 + 1.0) / 16_777_216.0;
        let u2 = (((h >> 8) & 0xff_ffff) as f32) / 16_777_216.0;
        let r = (-2.0 * u1.ln()).sqrt();
        let t = std::f32::consts::TAU * u2;
        out[2 * k] = r * t.cos();
        out[2 * k + 1] = r * t.sin();
    }
    [out[0], out[1], out[2], out[3], out[4]]
}

/// The `k`-th smallest (from 0) endurance, in pulses, of the cells of
/// `arrays` (arrays of one device model; a fabrication fault's is 0), as
/// sorting every cell's endurance would give it: one pass of hashes over
/// the cells and a second that draws only the cells near the answer
/// (`counts::kth_code`).
///
/// # Panics
/// If `arrays` is empty or `k` is not below their cells.
pub fn endurance_order_statistic(arrays: &[&CellArray], k: u64) -> u32 {
    let parts: Vec<&Endurances> = arrays.iter().map(|a| &a.endurance).collect();
    arrays[0]
        .endurance
        .of_code(crate::counts::kth_code(&parts, k))
}

impl CellArray {
    /// A fresh array: cells at mid-window, endurance drawn per cell, and the
    /// fabrication stuck-at faults placed, all from `rng`.
    ///
    /// The seed of the device-to-device factors is drawn from `rng` after
    /// everything else, so arrays without variation see the same draws as
    /// before variation existed.
    pub fn new(model: &DeviceModel, rows: usize, cols: usize, rng: &mut Rng) -> Self {
        let mut a = Self::new_deferred(model, rows, cols, rng);
        a.prepare_reads(model);
        a
    }

    /// [`CellArray::new`] whose read caches wait for the first read: call
    /// [`CellArray::prepare_reads`] before reading (the reads panic
    /// otherwise). The same cells and draws. The simulator places its
    /// tiles this way, so a chip's peak memory is its cells plus the
    /// initial weights being placed, not the caches as well.
    pub fn new_deferred(model: &DeviceModel, rows: usize, cols: usize, rng: &mut Rng) -> Self {
        let n = 2 * rows * cols;
        let mut g_us = vec![model.g_mid_us(); n];
        let mut stuck = Vec::new();
        for (cell, g) in g_us.iter_mut().enumerate() {
            let u: f64 = rng.random();
            // Each cell's endurance was this draw, stored, until the
            // endurances became hashed draws (counts::Endurances): it is
            // still drawn, so that the faults, the device-to-device seed
            // and the MRAM levels keep their draws.
            let _ = normal::standard_normal(rng);
            if u < model.stuck_at_min_fraction {
                stuck.push((cell, false));
                *g = model.g_min_us;
            } else if u < model.stuck_at_min_fraction + model.stuck_at_max_fraction {
                stuck.push((cell, true));
                *g = model.g_max_us;
            }
        }
        let d2d_seed: u64 = rng.random();
        let faults: Vec<usize> = stuck.iter().map(|&(c, _)| c).collect();
        let mut a = CellArray {
            rows,
            cols,
            g_us,
            pulses: PulseCounts::new(n),
            endurance: Endurances::new(
                n,
                &faults,
                d2d_seed,
                model.endurance_median_pulses,
                model.endurance_sigma_log,
            ),
            d2d_seed,
            relax: None,
            mram: None,
            caches: ReadCaches::deferred(rows, cols),
            wear: Wear::default(),
        };
        a.wear = Wear::new(&a.pulses, &a.endurance);
        if let Some(m) = &model.mram {
            // Drawn after everything else: analog arrays see the same draws.
            a.mram = Some(Box::new(MramGroups::new(m, &mut a.g_us, rng)));
        }
        if model.has_d2d() {
            for cell in 0..n {
                let p = a.cell_params(model, cell);
                a.g_us[cell] = a.g_us[cell].clamp(p.g_min_us, p.g_max_us);
            }
            for (cell, at_max) in stuck {
                let p = a.cell_params(model, cell);
                a.g_us[cell] = if at_max { p.g_max_us } else { p.g_min_us };
            }
        }
        // Placement wrote `g_us` directly (fabrication faults, MRAM levels,
        // device-to-device bounds): the caches start from the result, at
        // `prepare_reads`.
        if model.relaxes() {
            // A failed cell's write time is NaN (it keeps its value).
            let written_at_s = (0..n)
                .map(|c| if a.is_failed(c) { f32::NAN } else { 0.0 })
                .collect();
            a.relax = Some(Box::new(RelaxState {
                written_at_s,
                now_s: 0.0,
                pending: false,
                fresh: Vec::new(),
                fresh_many: false,
            }));
        }
        a
    }

    /// Builds the read caches of an array placed with
    /// [`CellArray::new_deferred`] from its conductances, once (they then
    /// follow every change), and converts the power sums of the lines
    /// written since the last call to `f64` (reads without this call after
    /// a write give the same values, converting every line).
    #[inline]
    pub fn prepare_reads(&mut self, model: &DeviceModel) {
        if self.caches.ready {
            self.caches.refresh_row_sums();
            self.caches.refresh_col_sums();
        } else {
            self.build_caches(model);
        }
    }

    /// Allocates and computes the read caches from the present values.
    fn build_caches(&mut self, model: &DeviceModel) {
        if self.relax.is_some() {
            self.caches.allocate();
            self.rebuild_relaxed_caches(model);
        } else {
            self.caches.build(&self.g_us);
        }
    }

    /// [`CellArray::prepare_reads`] for reads of one direction: converts
    /// only the sums their power uses, the rows' (forward) or the columns'
    /// (`transposed`). A layer whose transposed read never runs (the first
    /// of a network) then never converts its written columns.
    #[inline]
    pub fn prepare_read(&mut self, model: &DeviceModel, transposed: bool) {
        if !self.caches.ready {
            self.build_caches(model);
        } else if transposed {
            self.caches.refresh_col_sums();
        } else {
            self.caches.refresh_row_sums();
        }
    }

    /// The read caches, built (a read before [`CellArray::prepare_reads`]
    /// on a deferred array is a caller's bug).
    #[inline]
    fn read_caches(&self) -> &ReadCaches {
        assert!(self.caches.ready, "read before prepare_reads");
        debug_assert!(self.is_settled(), "read of an array not settled");
        &self.caches
    }

    /// Bytes of state per cell: 6 (conductance `f32`, pulse count 2 B:
    /// module `counts`; for a device that relaxes the conductance is the
    /// written value), plus one bit for the fabrication faults (not
    /// counted here; the endurances are hashed draws, no bytes), plus 2
    /// for each cell past 65,535 pulses (in blocks of 4,096 cells, not
    /// counted here),
    /// plus 4 (write time) for a device that relaxes,
    /// plus 9 per junction (state and pulse count) for binary STT-MRAM.
    /// The read caches are derived, not state, and not counted: each
    /// weight's `G⁺−G⁻` (2 B per cell) and the exact sums of `G⁺+G⁻` of
    /// each row and each column with their `f64` copies and stale marks
    /// (29 B each, `29·(rows + cols)` B in all: negligible beside
    /// `2·rows·cols` cells).
    pub fn bytes_per_cell(&self) -> usize {
        Self::BYTES_PER_CELL
            + if self.relax.is_some() { 4 } else { 0 }
            + self.mram.as_ref().map_or(0, |g| 9 * g.per_group())
    }

    /// Sets `cell` to `g_us`, a cell whose present value was `before`
    /// (with its pulse count before the write's pulses): the one way a
    /// conductance changes after placement. Keeps the weight's cached
    /// `G⁺−G⁻` exact (the same `f32` subtraction as
    /// [`kernel::row_differences`]) and adds the change to the exact sums
    /// of the cell's row and column.
    ///
    /// For a device that relaxes the value is a write at the clock's time:
    /// the cell holds it until the clock moves, then relaxes from it. The
    /// caches follow the change when they are current and wait for the
    /// operation's pass ([`CellArray::settle`]) when they are not.
    #[inline]
    fn store(&mut self, model: &DeviceModel, cell: usize, before: f32, g_us: f32) {
        if self.relax.is_none() {
            self.caches.store(&mut self.g_us, cell, g_us);
        } else {
            self.store_written(model, cell, before, g_us);
        }
    }

    /// [`CellArray::store`] for a device that relaxes.
    #[inline(never)]
    fn store_written(&mut self, model: &DeviceModel, cell: usize, before: f32, g_us: f32) {
        let r = self.relax.as_deref_mut().expect("a device that relaxes");
        r.mark_written(cell);
        let current = !r.pending;
        self.g_us[cell] = g_us;
        if self.caches.ready && current {
            let other = self.conductance_us(model, cell ^ 1);
            let (gp, gn) = if cell.is_multiple_of(2) {
                (g_us, other)
            } else {
                (other, g_us)
            };
            self.caches.follow(cell / 2, gp, gn, before, g_us);
        }
    }

    /// Advances the array's clock to `t_s` (seconds of simulated time):
    /// every working cell relaxes from its last written value,
    /// `G = relaxed(G_w, t − t_w)` ([`relaxed_conductance_us`]), clipped to
    /// the cell's window, and the read caches follow in one pass. The
    /// relaxation noise of one write is one fixed realisation (hashed from
    /// the cell and its pulse count), so reading a cell twice does not
    /// redraw it. Writes after this call start from the relaxed value and
    /// restart the cell's clock. No effect (and no cost) for devices that
    /// do not relax.
    pub fn advance_to(&mut self, model: &DeviceModel, t_s: f64) {
        let Some(r) = self.relax.as_deref_mut() else {
            return;
        };
        if t_s == r.now_s && !r.any_fresh() && !r.pending {
            // Nothing moved: the caches hold the present values.
            return;
        }
        r.move_clock(t_s);
        r.pending = false;
        if self.caches.ready {
            self.rebuild_relaxed_caches(model);
        }
    }

    /// [`CellArray::advance_to`] for a write phase, at no cost per cell:
    /// moves the clock to `t_s` and leaves the read caches to
    /// [`CellArray::settle`] (due before a read: the end of the write
    /// operation) or to the next [`CellArray::advance_to`]. The values
    /// the phase reads and writes are those of a full advance: a cell's
    /// present value depends only on its written value and time and the
    /// clock.
    pub fn advance_lazily(&mut self, t_s: f64) {
        if let Some(r) = self.relax.as_deref_mut() {
            r.move_clock(t_s);
            r.pending = true;
        }
    }

    /// Brings the read caches to the clock's time after
    /// [`CellArray::advance_lazily`] (nothing otherwise).
    pub fn settle(&mut self, model: &DeviceModel) {
        let Some(r) = self.relax.as_deref_mut() else {
            return;
        };
        if r.pending {
            r.pending = false;
            if self.caches.ready {
                self.rebuild_relaxed_caches(model);
            }
        }
    }

    /// The present conductance of `cell`, µS. For a device that relaxes,
    /// `relaxed(G_w, now − t_w)` clipped to the cell's window, with its
    /// fixed noise draw; a failed cell keeps its value, and a cell
    /// written since the clock last moved holds what was written.
    #[inline]
    pub fn conductance_us(&self, model: &DeviceModel, cell: usize) -> f32 {
        match self.relax.as_deref() {
            None => self.g_us[cell],
            Some(r) => self.relaxed_now(model, r, cell),
        }
    }

    /// [`CellArray::conductance_us`] of a device that relaxes.
    #[inline(never)]
    fn relaxed_now(&self, model: &DeviceModel, r: &RelaxState, cell: usize) -> f32 {
        let (g, tw) = (self.g_us[cell], r.written_at_s[cell]);
        debug_assert_eq!(
            tw.is_nan(),
            self.is_failed(cell),
            "cell {cell}'s failure mark"
        );
        if tw.is_nan() || tw.is_sign_negative() {
            return g;
        }
        let l = relax_decades(model, (r.now_s - f64::from(tw)).max(0.0));
        let (lo, hi) = fixed_bounds(model).unwrap_or_else(|| self.cell_bounds_us(model, cell));
        let z = self.relax_z(model, cell);
        relaxed_from_decades(model, g, l, z).clamp(lo, hi)
    }

    /// Whether the read caches wait for [`CellArray::settle`].
    pub fn is_settled(&self) -> bool {
        self.relax.as_ref().is_none_or(|r| !r.pending)
    }

    /// The relaxation noise draw of `cell`'s last write: fixed per cell
    /// and pulse count (0 without relaxation noise).
    #[inline]
    fn relax_z(&self, model: &DeviceModel, cell: usize) -> f32 {
        relax_z(model, self.d2d_seed, self.pulses.get(cell), cell)
    }

    /// Recomputes the read caches of a device that relaxes from every
    /// cell's present value at the clock's time. Called on a thread of a
    /// pool of several (the engine's, with `--threads`), the rows are
    /// split into one block per thread: each cell's value depends on
    /// nothing but its own state, and the line sums are exact integers (a
    /// block's column sums added to the others' in any order give the same
    /// value), so the bits are those of one thread.
    fn rebuild_relaxed_caches(&mut self, model: &DeviceModel) {
        let (rows, cols) = (self.rows, self.cols);
        let Some(r) = self.relax.as_deref() else {
            return;
        };
        if self.g_us.is_empty() {
            return;
        }
        let threads = match rayon::current_thread_index() {
            Some(_) => rayon::current_num_threads(),
            None => 1,
        };
        let blocks = threads
            .min(self.g_us.len() / RELAX_BLOCK_CELLS)
            .clamp(1, rows.max(1));
        let rows_per = rows.div_ceil(blocks).max(1);
        let ctx = RelaxPass {
            model,
            fixed: fixed_bounds(model),
            seed: self.d2d_seed,
            t_s: r.now_s,
            cols,
            pulses: &self.pulses,
            g_written: &self.g_us,
            written_at: &r.written_at_s,
        };
        let c = &mut self.caches;
        let work = |(b, ((d, rf), cp)): (usize, RowBlock<'_>)| {
            ctx.cache_rows(b * rows_per, d, rf, cp);
        };
        c.col_fix.fill(0);
        if blocks > 1 {
            use rayon::prelude::*;
            let used = rows.div_ceil(rows_per);
            // The blocks' column sums, `cols` per block: allocated for the
            // pass, not kept with every array (an array per tile, 16 B per
            // column and block: 1.3 MB on a 10⁷-cell chip).
            let mut col_parts = vec![0i128; used * cols];
            c.d_us
                .par_chunks_mut(rows_per * cols)
                .zip(c.row_fix.par_chunks_mut(rows_per))
                .zip(col_parts.par_chunks_mut(cols))
                .enumerate()
                .for_each(work);
            for part in col_parts.chunks_exact(cols) {
                for (s, &p) in c.col_fix.iter_mut().zip(part) {
                    *s += p;
                }
            }
        } else {
            // One block: its column sums are the sums.
            work((
                0,
                ((&mut c.d_us[..], &mut c.row_fix[..]), &mut c.col_fix[..]),
            ));
        }
        c.convert_all();
    }

    /// The parameters of `cell` after device-to-device variation (the
    /// nominal ones when the model has none). Pure function of the array's
    /// seed and the cell index.
    #[inline]
    pub fn cell_params(&self, model: &DeviceModel, cell: usize) -> CellParams {
        cell_params_of(model, self.d2d_seed, cell)
    }

    /// The bounds `(g_min, g_max)` of `cell`, µS.
    pub fn cell_bounds_us(&self, model: &DeviceModel, cell: usize) -> (f32, f32) {
        let p = self.cell_params(model, cell);
        (p.g_min_us, p.g_max_us)
    }

    /// Bytes of state per cell (conductance `f32`, pulse count `u16`),
    /// before the fault bit, relaxation's and STT-MRAM's.
    pub const BYTES_PER_CELL: usize = std::mem::size_of::<f32>() + std::mem::size_of::<u16>();

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

    /// Present conductances, µS (`[2k]` = G⁺, `[2k+1]` = G⁻): the cells
    /// themselves, or for a device that relaxes each one's
    /// [`CellArray::conductance_us`] (computed, O(cells)).
    pub fn conductances_us(&self, model: &DeviceModel) -> Cow<'_, [f32]> {
        if self.relax.is_none() {
            Cow::Borrowed(&self.g_us)
        } else {
            Cow::Owned(
                (0..self.g_us.len())
                    .map(|c| self.conductance_us(model, c))
                    .collect(),
            )
        }
    }

    /// Panics unless every read cache equals its recomputation from the
    /// conductances (tests).
    #[cfg(test)]
    pub(crate) fn assert_caches_exact(&self, model: &DeviceModel) {
        let c = &self.caches;
        let g = self.conductances_us(model);
        for (k, (d, p)) in c.d_us.iter().zip(g.chunks_exact(2)).enumerate() {
            assert_eq!(d.to_bits(), (p[0] - p[1]).to_bits(), "weight {k}");
        }
        let mut fresh = ReadCaches::deferred(self.rows, self.cols);
        fresh.build(&g);
        assert_eq!(c.row_fix, fresh.row_fix, "row sums");
        assert_eq!(c.col_fix, fresh.col_fix, "column sums");
        let bits = |x: &[f64]| x.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&c.row_sums_us()), bits(&fresh.row_us), "row sums, f64");
        assert_eq!(
            bits(&c.col_sums_us()),
            bits(&fresh.col_us),
            "column sums, f64"
        );
        // Each line is listed as stale exactly when it is flagged, and the
        // copies of the lines not listed are current.
        for (stale, list, us, sums) in [
            (&c.row_stale, &c.stale_rows, &c.row_us, &fresh.row_us),
            (&c.col_stale, &c.stale_cols, &c.col_us, &fresh.col_us),
        ] {
            assert_eq!(stale.iter().filter(|&&f| f).count(), list.len());
            for (i, &f) in stale.iter().enumerate() {
                assert_eq!(f, list.contains(&(i as u32)), "line {i} flag");
                if !f {
                    assert_eq!(us[i].to_bits(), sums[i].to_bits(), "line {i} copy");
                }
            }
        }
    }

    /// Sets one conductance directly (synthetic measurements, tests).
    pub(crate) fn set_conductance_us(&mut self, model: &DeviceModel, cell: usize, g_us: f32) {
        let before = self.conductance_us(model, cell);
        self.store(model, cell, before, g_us);
    }

    /// Pulses applied to each cell so far, in cell order.
    pub fn pulses(&self) -> impl Iterator<Item = u32> + '_ {
        self.pulses.iter()
    }

    /// Pulses applied to `cell` so far.
    #[inline]
    pub fn pulse_count(&self, cell: usize) -> u32 {
        self.pulses.get(cell)
    }

    /// Pulses to failure of each cell (0: stuck from fabrication), in cell
    /// order.
    pub fn endurance(&self) -> impl Iterator<Item = u32> + '_ {
        self.endurance.iter()
    }

    /// Pulses to failure of `cell` (0: stuck from fabrication).
    #[inline]
    pub fn endurance_of(&self, cell: usize) -> u32 {
        self.endurance.get(cell)
    }

    /// Whether a cell no longer responds (worn out or stuck from fabrication).
    #[inline]
    pub fn is_failed(&self, cell: usize) -> bool {
        let p = self.pulses.get(cell);
        // Below the floor it works, and its endurance is not drawn.
        p >= self.endurance.floor(cell) && p >= self.endurance.get(cell)
    }

    /// Number of failed cells (for binary STT-MRAM: failed junctions).
    pub fn failed_cells(&self) -> usize {
        if let Some(g) = self.mram.as_deref() {
            return g.failed();
        }
        self.wear.failed() as usize
    }

    /// Adds `n` pulses to `cell`'s count (saturating): the one way a pulse
    /// count changes, keeping the wear summary. Returns whether the cell
    /// was alive before.
    #[inline]
    fn add_pulses(&mut self, cell: usize, n: u32) -> bool {
        let old = self.pulses.get(cell);
        let new = old.saturating_add(n);
        self.pulses.set(cell, new);
        if (new <= self.wear.far_below() && !self.endurance.is_stuck(cell)) || {
            let floor = self.endurance.close_floor(cell);
            self.wear.surely_far(new, floor) || self.wear.far(new, floor)
        } {
            // Live, and outside the wear summary's window: its endurance
            // is not needed (most writes).
            self.wear.change_far(old, new);
            return true;
        }
        let e = self.endurance.get(cell);
        self.wear.change(old, new, e, &self.pulses, &self.endurance);
        if old < e && new >= e {
            if let Some(r) = self.relax.as_deref_mut() {
                // Failed: it keeps its value from now on.
                r.written_at_s[cell] = f32::NAN;
            }
        }
        old < e
    }

    /// Σ of the cells' pulse counts.
    pub fn pulse_sum(&self) -> u64 {
        self.wear.sum()
    }

    /// The largest pulse count of a cell.
    pub fn pulse_max(&self) -> u32 {
        self.wear.max()
    }

    /// The histogram of the cells' pulse counts (`pulse_max() + 1` bins),
    /// or `None` when a count reaches [`HIST_CAP`](crate::wear::HIST_CAP)
    /// (4096): `histogram[p]` cells have `p` pulses.
    pub fn pulse_histogram(&self) -> Option<&[u32]> {
        self.wear.histogram()
    }

    /// Sets the initial weights: both cells of a pair placed symmetrically
    /// about mid-window, `G± = G_mid ± W·r_wg/2`, clipped to the window.
    /// Models the chip's initial write-verify programming, which is not part
    /// of training and is not charged. Stuck cells keep their value.
    ///
    /// Binary STT-MRAM groups: `W` is rounded to `n = n⁺ − n⁻` junction
    /// steps (`|n| ≤ N`) and the pair placed about mid-window,
    /// `n⁺ = ⌈(N + n)/2⌉`, `n⁻ = n⁺ − n`.
    pub fn set_weights(&mut self, model: &DeviceModel, w: &[f32]) {
        assert_eq!(w.len(), self.rows * self.cols, "weight count");
        if let (Some(m), Some(g)) = (&model.mram, self.mram.as_mut()) {
            let n = g.per_group() as i64;
            let step = model.step_set_us;
            for (k, &wk) in w.iter().enumerate() {
                let d = ((wk * model.r_wg_us / step).round() as i64).clamp(-n, n);
                let plus = (n + d + 1).div_euclid(2);
                let gp = g.place(m, 2 * k, plus as usize);
                let gm = g.place(m, 2 * k + 1, (plus - d) as usize);
                self.caches.store(&mut self.g_us, 2 * k, gp);
                self.caches.store(&mut self.g_us, 2 * k + 1, gm);
            }
            return;
        }
        let mid = model.g_mid_us();
        let d2d = model.has_d2d();
        for (k, &wk) in w.iter().enumerate() {
            let half = 0.5 * wk * model.r_wg_us;
            for (cell, g) in [(2 * k, mid + half), (2 * k + 1, mid - half)] {
                if !self.is_failed(cell) {
                    let (lo, hi) = if d2d {
                        self.cell_bounds_us(model, cell)
                    } else {
                        (model.g_min_us, model.g_max_us)
                    };
                    let before = self.conductance_us(model, cell);
                    self.store(model, cell, before, g.clamp(lo, hi));
                }
            }
        }
    }

    /// The junctions of a binary STT-MRAM array (none for analog devices):
    /// group `g` of `N` junctions is `[gN, gN + N)`.
    pub fn mram_junctions(&self) -> Option<&MramCells> {
        self.mram.as_ref().map(|g| g.junctions())
    }

    /// Binary STT-MRAM write: pulses up to `count` junctions of group
    /// `cell` that are not yet in the target state (parallel: `SET`,
    /// raising the conductance; antiparallel: `RESET`), once each, at
    /// `current_ua`, each switching with the junction's probability
    /// `P(I, t_p)` drawn from `rng` — the device's own coin. The driver
    /// visits a group's junctions round-robin from its pulse count so that
    /// they wear evenly. Returns the outcome and the pulses' cell energy
    /// `Σ I² R t_p`, pJ.
    ///
    /// # Panics
    /// If the array is not a binary STT-MRAM array.
    pub fn switch_junctions(
        &mut self,
        model: &DeviceModel,
        cell: usize,
        polarity: Polarity,
        count: u32,
        current_ua: f64,
        rng: &mut Rng,
    ) -> (ProgramOutcome, f64) {
        let m = model.mram.as_ref().expect("a binary STT-MRAM device");
        let g = self.mram.as_mut().expect("a binary STT-MRAM array");
        let before = self.g_us[cell];
        let start = self.pulses.get(cell) as usize;
        let (pulses, energy) = g.switch(
            m,
            cell,
            polarity == Polarity::Set,
            count,
            current_ua,
            start,
            rng,
        );
        let after = g.g_us(m, cell);
        self.add_pulses(cell, pulses);
        self.store(model, cell, before, after);
        (
            ProgramOutcome {
                pulses,
                g_before_us: before,
                g_after_us: self.g_us[cell],
            },
            energy,
        )
    }

    /// Read disturb of one array read (every junction read once; binary
    /// STT-MRAM only, a no-op otherwise): see
    /// [`SttMram::read_disturb_probability`](crate::SttMram::read_disturb_probability).
    /// Returns the junctions the read switched.
    pub fn read_disturb(&mut self, model: &DeviceModel, rng: &mut Rng) -> u64 {
        match (&model.mram, self.mram.as_mut()) {
            (Some(m), Some(g)) => {
                let (g_us, caches) = (&mut self.g_us, &mut self.caches);
                g.read_all(m, rng, |cell, g| caches.store(g_us, cell, g))
            }
            _ => 0,
        }
    }

    /// Steps until the first cell (junction, for binary STT-MRAM) reaches
    /// its endurance, at each one's pulse rate over the `steps` so far
    /// (∞ if none wears).
    pub fn steps_to_first_failure(&self, model: &DeviceModel, steps: u64) -> f64 {
        if let (Some(m), Some(g)) = (&model.mram, self.mram.as_deref()) {
            return g.steps_to_first_failure(m, steps);
        }
        // From the wear summary: `min (e − p)/(p/steps)` over the live
        // written cells, the bits of a pass over them (crate::wear).
        self.wear.steps_to_first_failure(steps)
    }

    /// Writes the weights `(G⁺ − G⁻)/r_wg` into `out` (row-major).
    pub fn weights_into(&self, model: &DeviceModel, out: &mut [f32]) {
        let inv = 1.0 / model.r_wg_us;
        if self.relax.is_some() {
            for (k, o) in out.iter_mut().enumerate() {
                let (gp, gn) = (
                    self.conductance_us(model, 2 * k),
                    self.conductance_us(model, 2 * k + 1),
                );
                *o = (gp - gn) * inv;
            }
            return;
        }
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
        let (power_uw, sum_v2) = self.forward_power(v_v);
        self.accumulate_driven(v_v, out_ua);
        add_read_noise(model, sum_v2, out_ua, rng);
        power_uw
    }

    /// The noiseless part of [`CellArray::mvm_forward`] for `n` row-voltage
    /// vectors at once (`vs`: `n × rows`): `outs` (`n × cols`) receives each
    /// vector's column currents, the same bits as the single read before
    /// its noise, computed as one matrix-matrix product. Complete each
    /// vector's read with [`CellArray::forward_power`] and
    /// [`CellArray::add_read_noise`], in vector order. `scratch` is reused
    /// working memory.
    pub fn mvm_forward_batch_noiseless(
        &self,
        vs: &[f32],
        outs: &mut [f32],
        scratch: &mut Vec<f32>,
    ) {
        debug_assert_eq!(vs.len() / self.rows.max(1), outs.len() / self.cols.max(1));
        outs.fill(0.0);
        if self.relax.is_some() {
            // The cells hold written values: one vector at a time from the
            // cached present differences (the same bits).
            for (v, out) in vs
                .chunks_exact(self.rows)
                .zip(outs.chunks_exact_mut(self.cols))
            {
                self.accumulate_driven(v, out);
            }
        } else if vs.len() > self.rows {
            kernel::forward_accumulate_batch(&self.g_us, self.cols, vs, outs, scratch);
        } else {
            // One vector: only its driven rows, as `mvm_forward` reads.
            self.accumulate_driven(vs, outs);
        }
    }

    /// `out += Σ_r v_r·(G⁺−G⁻)[r]` over the rows with `v_r ≠ 0`, in row
    /// order, handed to the kernel in blocks (no allocation).
    fn accumulate_driven(&self, v_v: &[f32], out_ua: &mut [f32]) {
        const BLOCK: usize = 64;
        let mut driven = [(0usize, 0.0f32); BLOCK];
        let mut n = 0;
        for (r, &v) in v_v.iter().enumerate() {
            // Every row is written to the next free place, which only a
            // driven row keeps: the list without a branch on the
            // scattered zeros of ReLU outputs.
            driven[n] = (r, v);
            n += usize::from(v != 0.0);
            if n == BLOCK {
                self.accumulate_block(&driven, out_ua);
                n = 0;
            }
        }
        self.accumulate_block(&driven[..n], out_ua);
    }

    /// One block of driven rows, from the cached differences (the bits of
    /// [`kernel::forward_accumulate`] on the pairs, from half the bytes).
    #[inline]
    fn accumulate_block(&self, driven: &[(usize, f32)], out_ua: &mut [f32]) {
        kernel::forward_accumulate_diff(&self.read_caches().d_us, self.cols, driven, out_ua);
    }

    /// A forward read's power `Σ V² G` in µW and `Σ V²` over the driven
    /// rows, summed as [`CellArray::mvm_forward`] sums them: over the
    /// driven rows in row order in `f64`, `Σ_r v_r²·S_r` with `v_r²` exact
    /// in `f64` and `S_r` the row's exact `Σ (G⁺+G⁻)` rounded once to
    /// `f64` (to nearest).
    ///
    /// The loop adds every row's terms, driven or not, without a branch
    /// (one on `v_r = 0` mispredicts on the scattered zeros of ReLU
    /// outputs): a row with `v_r = ±0` adds `v_r² = +0` and `+0·S_r = ±0`
    /// (`S_r` is finite), and neither changes a sum, which starts at `+0`
    /// and so is never `−0` (a sum rounded to nearest is `−0` only if both
    /// terms are): the bits of skipping the row.
    pub fn forward_power(&self, v_v: &[f32]) -> (f64, f64) {
        let mut power_uw = 0.0f64;
        let mut sum_v2 = 0.0f64;
        for (&v, &g) in v_v.iter().zip(self.read_caches().row_sums_us().iter()) {
            let v2 = f64::from(v) * f64::from(v);
            sum_v2 += v2;
            power_uw += v2 * g;
        }
        (power_uw, sum_v2)
    }

    /// [`CellArray::forward_power`] of `n` row-voltage vectors at once
    /// (`vs`: `n × rows`) into `powers_uw[b]` and `sums_v2[b]`, the same
    /// bits (`line_powers`).
    pub fn forward_powers(&self, vs: &[f32], powers_uw: &mut [f64], sums_v2: &mut [f64]) {
        debug_assert_eq!(vs.len(), powers_uw.len() * self.rows);
        line_powers(&self.read_caches().row_sums_us(), vs, powers_uw, sums_v2);
    }

    /// Adds the read noise of a read that drove `Σ V² = sum_v2` to its
    /// output currents (as [`CellArray::mvm_forward`] does).
    pub fn add_read_noise(
        &self,
        model: &DeviceModel,
        sum_v2: f64,
        out_ua: &mut [f32],
        rng: &mut Rng,
    ) {
        add_read_noise(model, sum_v2, out_ua, rng);
    }

    /// The noiseless part of [`CellArray::mvm_backward`] for `n` column-
    /// voltage vectors at once (`vs`: `n × cols`): `outs` (`n × rows`)
    /// receives each vector's row currents, `powers` (`n`) its read
    /// power in µW ([`CellArray::transposed_power`]) and `sums_v2` (`n`)
    /// its `Σ V²` ([`CellArray::transposed_sum_v2`]), the bits of the
    /// single reads before their noise.
    /// Complete each read with [`CellArray::add_read_noise`], in vector
    /// order. `scratch` is reused working memory.
    pub fn mvm_backward_batch_noiseless(
        &self,
        vs: &[f32],
        outs: &mut [f32],
        powers: &mut [f64],
        sums_v2: &mut [f64],
        scratch: &mut Vec<f32>,
    ) {
        let d = &self.read_caches().d_us;
        // Below a vector register's width of vectors, rows side by side
        // (one vector at a time) beat vectors side by side; same bits.
        if powers.len() < 8 {
            for (v, out) in vs
                .chunks_exact(self.cols)
                .zip(outs.chunks_exact_mut(self.rows))
            {
                kernel::transposed(d, self.cols, v, out);
            }
        } else {
            kernel::transposed_batch(d, self.cols, vs, outs, scratch);
        }
        line_powers(&self.read_caches().col_sums_us(), vs, powers, sums_v2);
    }

    /// The read power of a transposed read driving the column voltages
    /// `v_v`, µW: `Σ_cells V² G = Σ_c v_c²·S_c`, where `S_c` is column
    /// `c`'s exact `Σ (G⁺+G⁻)` over all rows rounded once to `f64`
    /// (to nearest), `v_c²` is exact in `f64`, and the products
    /// `(v_c·v_c)·S_c` are added in column order in `f64`. O(cols): the
    /// cells are not read again for the power.
    pub fn transposed_power(&self, v_v: &[f32]) -> f64 {
        let mut p = 0.0f64;
        for (&v, &s) in v_v.iter().zip(self.read_caches().col_sums_us().iter()) {
            let vc = f64::from(v);
            p += vc * vc * s;
        }
        p
    }

    /// `Σ V²` of a transposed read's column voltages, summed as
    /// [`CellArray::mvm_backward`] sums it: in column order in `f64` from
    /// `+0` (the terms are never `−0`, so `f64`'s `Sum`, whichever zero it
    /// starts from, gives the same bits).
    pub fn transposed_sum_v2(&self, v_v: &[f32]) -> f64 {
        v_v.iter().map(|&v| f64::from(v) * f64::from(v)).sum()
    }

    /// Transposed read: column voltages `v_v` (one per weight column, driven
    /// `+V` on the G⁺ column and `−V` on the G⁻ column) produce row currents
    /// `out_ua`, `I_r = Σ_c V_c (G⁺−G⁻)`, plus read noise. Returns the read
    /// power `Σ V² G` in µW ([`CellArray::transposed_power`]).
    pub fn mvm_backward(
        &self,
        model: &DeviceModel,
        v_v: &[f32],
        out_ua: &mut [f32],
        rng: &mut Rng,
    ) -> f64 {
        debug_assert_eq!(v_v.len(), self.cols);
        debug_assert_eq!(out_ua.len(), self.rows);
        kernel::transposed(&self.read_caches().d_us, self.cols, v_v, out_ua);
        let power_uw = self.transposed_power(v_v);
        let sum_v2 = self.transposed_sum_v2(v_v);
        add_read_noise(model, sum_v2, out_ua, rng);
        power_uw
    }

    /// Prefetches what [`CellArray::route`] reads for weight `k` (a hint,
    /// no effect on any value; nothing if `k` is out of range).
    #[inline]
    pub fn prefetch_weight(&self, k: usize) {
        kernel::prefetch(&self.g_us, 2 * k);
    }

    /// Prefetches what [`CellArray::program`] reads and writes for `cell`
    /// (a hint, no effect on any value; nothing if out of range).
    #[inline]
    pub fn prefetch_cell(&self, cell: usize) {
        kernel::prefetch(&self.g_us, cell);
        kernel::prefetch(self.pulses.low(), cell);
        kernel::prefetch(self.endurance.stuck_words(), cell / 64);
    }

    /// Which cell of weight `k`'s pair realises a weight-conductance change
    /// `dg_us`, and with which polarity: a positive change is a SET of G⁺ or
    /// a RESET of G⁻, whichever cell has more room left in the window, so the
    /// pair stays away from the bounds. Returns `(cell, polarity, cell ΔG)`.
    pub fn route(&self, model: &DeviceModel, k: usize, dg_us: f32) -> (usize, Polarity, f32) {
        let (gp, gn) = if self.relax.is_none() {
            (self.g_us[2 * k], self.g_us[2 * k + 1])
        } else {
            (
                self.conductance_us(model, 2 * k),
                self.conductance_us(model, 2 * k + 1),
            )
        };
        // Whether G⁺ takes the change: for a rise, where G⁺ has at least
        // G⁻'s room to fall; for a fall, where G⁺ has at least G⁻'s room
        // to rise. Both comparisons are made and one is kept, without a
        // branch: the sign of the changes is not predictable.
        let rise = dg_us >= 0.0;
        let plus_rises = model.g_max_us - gp >= gn - model.g_min_us;
        let plus_falls = gp - model.g_min_us >= model.g_max_us - gn;
        let plus = (rise & plus_rises) | (!rise & plus_falls);
        // G⁺ rises (SET) with a rise; G⁻ rises (SET) with a fall.
        let pol = if rise == plus {
            Polarity::Set
        } else {
            Polarity::Reset
        };
        // `−ΔG` for G⁻ by its sign bit (what negation does), as integer
        // operations the compiler keeps free of branches.
        let dg = f32::from_bits(dg_us.to_bits() ^ u32::from(!plus) << 31);
        (2 * k + usize::from(!plus), pol, dg)
    }

    /// One programming operation aiming at a change `dg_us` of `cell`: the
    /// driver shapes `n = max(1, ⌈|ΔG|/step(G)⌉)` pulses (`step(G)` the
    /// cell's mean step where it stands) so that the mean change is `ΔG`;
    /// the device adds write noise `σ_w` and clips to the cell's window. A
    /// failed cell takes the pulses (they cost energy) but does not change.
    pub fn program(
        &mut self,
        model: &DeviceModel,
        cell: usize,
        dg_us: f32,
        rng: &mut Rng,
    ) -> ProgramOutcome {
        let p = self.cell_params(model, cell);
        let before = self.conductance_us(model, cell);
        let pol = if dg_us >= 0.0 {
            Polarity::Set
        } else {
            Polarity::Reset
        };
        let step = p.mean_step_us(pol, before).max(f32::MIN_POSITIVE);
        let q = dg_us.abs() / step;
        // (NaN: as many pulses as there can be, as
        // `ceil(q).min(u32::MAX as f32)` made it.)
        let pulses = if q.is_nan() {
            u32::MAX
        } else {
            round::ceil_u32(q)
        }
        .max(1);
        let alive = self.add_pulses(cell, pulses);
        let after = if alive {
            let z = normal::standard_normal_f32(rng);
            (before + dg_us + model.write_noise_us * z).clamp(p.g_min_us, p.g_max_us)
        } else {
            before
        };
        self.store(model, cell, before, after);
        ProgramOutcome {
            pulses,
            g_before_us: before,
            g_after_us: after,
        }
    }

    /// `n` nominal pulses of `polarity` on `cell`. Each pulse moves the cell
    /// by its state-dependent mean step plus cycle-to-cycle noise
    /// `N(0, σ_add² + (σ_rel·step)²)`, then clips to the cell's window. A
    /// cell fails as soon as its pulse count reaches its endurance; from
    /// then on it takes pulses (and energy) but does not change.
    pub fn pulse(
        &mut self,
        model: &DeviceModel,
        cell: usize,
        polarity: Polarity,
        n: u32,
        rng: &mut Rng,
    ) -> ProgramOutcome {
        let p = self.cell_params(model, cell);
        let before = self.conductance_us(model, cell);
        let mut g = before;
        let sign = match polarity {
            Polarity::Set => 1.0,
            Polarity::Reset => -1.0,
        };
        let done = self.pulses.get(cell);
        let live = if u64::from(done) + u64::from(n) <= u64::from(self.endurance.floor(cell)) {
            n
        } else {
            self.endurance.get(cell).saturating_sub(done).min(n)
        };
        for _ in 0..live {
            let step = p.mean_step_us(polarity, g);
            let sigma = if model.c2c_noise_rel == 0.0 {
                model.c2c_noise_us
            } else {
                (model.c2c_noise_us * model.c2c_noise_us
                    + (model.c2c_noise_rel * step) * (model.c2c_noise_rel * step))
                    .sqrt()
            };
            let z = normal::standard_normal_f32(rng);
            g = (g + sign * step + sigma * z).clamp(p.g_min_us, p.g_max_us);
        }
        self.add_pulses(cell, n);
        self.store(model, cell, before, g);
        ProgramOutcome {
            pulses: n,
            g_before_us: before,
            g_after_us: g,
        }
    }

    /// Relaxation of `cell` a time `dt_s` after it was written, taking its
    /// present value as the written one and a fresh noise draw from `rng`:
    /// see [`relaxed_conductance_us`]. The result is then the cell's value
    /// as if written at the clock's time (it relaxes from it once the
    /// clock moves). Failed cells do not move; no effect for devices that
    /// do not relax.
    pub fn relax(&mut self, model: &DeviceModel, cell: usize, dt_s: f64, rng: &mut Rng) {
        if !model.relaxes() || self.is_failed(cell) {
            return;
        }
        let z = normal::standard_normal_f32(rng);
        let (lo, hi) = self.cell_bounds_us(model, cell);
        let before = self.conductance_us(model, cell);
        let g = relaxed_conductance_us(model, before, dt_s, z).clamp(lo, hi);
        self.store(model, cell, before, g);
    }

    /// One read of one cell: its present conductance plus read noise
    /// `N(0, σ_r²)`, µS.
    pub fn read_cell_us(&self, model: &DeviceModel, cell: usize, rng: &mut Rng) -> f32 {
        let z = normal::standard_normal_f32(rng);
        self.conductance_us(model, cell) + model.read_noise_us * z
    }
}

/// Cells of a row whose present values a relaxation pass computes at a
/// time (even: whole pairs).
const PRESENT_CHUNK: usize = 256;

/// Cells per block of rows below which a relaxation pass stays on one
/// thread (a block is then a few microseconds of work).
const RELAX_BLOCK_CELLS: usize = 4096;

/// One block of rows of a relaxation pass: its weights' `G⁺ − G⁻`, its
/// rows' exact sums and its columns' partial sums.
type RowBlock<'a> = ((&'a mut [f32], &'a mut [i128]), &'a mut [i128]);

/// What one relaxation pass reads ([`CellArray::rebuild_relaxed_caches`]).
struct RelaxPass<'a> {
    model: &'a DeviceModel,
    fixed: Option<(f32, f32)>,
    seed: u64,
    t_s: f64,
    cols: usize,
    pulses: &'a PulseCounts,
    g_written: &'a [f32],
    written_at: &'a [f32],
}

impl RelaxPass<'_> {
    /// Writes the weights' `G⁺ − G⁻` of the rows from `row0` (`d_us`,
    /// whole rows) and their rows' exact sums from the cells' present
    /// values ([`CellArray::conductance_us`]), and adds their columns'
    /// exact sums into `col_fix` (zeroed by the caller).
    fn cache_rows(
        &self,
        row0: usize,
        d_us: &mut [f32],
        row_fix: &mut [i128],
        col_fix: &mut [i128],
    ) {
        let w = 2 * self.cols;
        // Present values of up to `PRESENT_CHUNK` cells of a row at a
        // time (on the stack: a pass on a pool's thread allocates
        // nothing).
        let mut present = [0.0f32; PRESENT_CHUNK];
        // `L = log10(1 + dt/t0)` depends on the cell only through its
        // write time, which runs of cells share (every cell written by
        // the same phase, or not since placement): one entry remembers
        // the last one.
        let mut memo: Option<(u32, f32)> = None;
        for (r, (d, rf)) in d_us
            .chunks_exact_mut(self.cols)
            .zip(row_fix.iter_mut())
            .enumerate()
        {
            let mut row = 0i128;
            for (k, (d, cs)) in d
                .chunks_mut(PRESENT_CHUNK / 2)
                .zip(col_fix.chunks_mut(PRESENT_CHUNK / 2))
                .enumerate()
            {
                let present = &mut present[..2 * d.len()];
                self.present_row((row0 + r) * w + k * PRESENT_CHUNK, present, &mut memo);
                for ((p, d), cs) in present.chunks_exact(2).zip(d.iter_mut()).zip(cs.iter_mut()) {
                    *d = p[0] - p[1];
                    let s = fix(p[0]) + fix(p[1]);
                    row += s;
                    *cs += s;
                }
            }
            *rf = row;
        }
    }

    /// The present values of the cells from `first` into `out`: a cell
    /// keeps its written value while failed or written since the clock
    /// last moved (its write time's sign bit), and relaxes from it
    /// otherwise.
    fn present_row(&self, first: usize, out: &mut [f32], memo: &mut Option<(u32, f32)>) {
        let m = self.model;
        let mut decades = |tw: f32| match *memo {
            Some((bits, l)) if bits == tw.to_bits() => l,
            _ => {
                let l = relax_decades(m, (self.t_s - f64::from(tw)).max(0.0));
                *memo = Some((tw.to_bits(), l));
                l
            }
        };
        let cells = first..first + out.len();
        let (g_written, written_at) = (&self.g_written[cells.clone()], &self.written_at[cells]);
        // A failed cell (write time NaN) or one written since the clock
        // last moved (sign bit set) keeps its written value.
        let kept = |tw: f32| tw.is_nan() || tw.is_sign_negative();
        match self.fixed {
            // The common pass: no noise draw, one window (the same
            // arithmetic as below with `z = 0`).
            Some((lo, hi)) if m.relax_noise_us == 0.0 => {
                for ((o, &g), &tw) in out.iter_mut().zip(g_written).zip(written_at) {
                    *o = if kept(tw) {
                        g
                    } else {
                        relaxed_from_decades(m, g, decades(tw), 0.0).clamp(lo, hi)
                    };
                }
            }
            _ => {
                for (i, o) in out.iter_mut().enumerate() {
                    let (g, tw) = (g_written[i], written_at[i]);
                    if kept(tw) {
                        *o = g;
                        continue;
                    }
                    let cell = first + i;
                    let z = relax_z(m, self.seed, self.pulses.get(cell), cell);
                    let (lo, hi) = self.fixed.unwrap_or_else(|| {
                        let p = cell_params_of(m, self.seed, cell);
                        (p.g_min_us, p.g_max_us)
                    });
                    *o = relaxed_from_decades(m, g, decades(tw), z).clamp(lo, hi);
                }
            }
        }
    }
}

/// The parameters of `cell` of an array whose device-to-device seed is
/// `seed` ([`CellArray::cell_params`]).
#[inline]
fn cell_params_of(model: &DeviceModel, seed: u64, cell: usize) -> CellParams {
    if model.has_d2d() {
        CellParams::varied(model, d2d_normals(seed, cell))
    } else {
        CellParams::nominal(model)
    }
}

/// The relaxation noise draw of `cell`'s last write (after `pulses`
/// pulses): fixed per cell and pulse count, 0 without relaxation noise.
#[inline]
fn relax_z(model: &DeviceModel, seed: u64, pulses: u32, cell: usize) -> f32 {
    if model.relax_noise_us == 0.0 {
        return 0.0;
    }
    d2d_normals(seed ^ 0x7e1a_0000_0000_0000 ^ u64::from(pulses), cell)[0]
}

/// The window of every cell when it does not vary from cell to cell:
/// `(G_min, G_max)` without device-to-device variation, and with a
/// variation that leaves the bounds alone (step or nonlinearity spread
/// only) the bounds of [`CellParams::varied`] at its nominal draws — the
/// same bits as each cell's, since `G + 0·z` is `G`. `None` when the
/// bounds vary (each cell's are hashed from the array's seed).
fn fixed_bounds(model: &DeviceModel) -> Option<(f32, f32)> {
    if !model.has_d2d() {
        Some((model.g_min_us, model.g_max_us))
    } else if model.d2d_g_min_us == 0.0 && model.d2d_g_max_us == 0.0 {
        let p = CellParams::varied(model, [0.0; 5]);
        Some((p.g_min_us, p.g_max_us))
    } else {
        None
    }
}

/// The conductance a time `dt_s` after a write of `g_written_us`, for a
/// standard-normal draw `z`:
/// `G(t) = G_w − r·(G_w − G_rest)·L + σ_rel·sqrt(L)·z`,
/// `L = log10(1 + t/t0)` (not clipped; [`CellArray::relax`] clips).
pub fn relaxed_conductance_us(model: &DeviceModel, g_written_us: f32, dt_s: f64, z: f32) -> f32 {
    relaxed_from_decades(model, g_written_us, relax_decades(model, dt_s), z)
}

/// `L = log10(1 + t/t0)` of [`relaxed_conductance_us`] for `t = dt_s`.
#[inline]
fn relax_decades(model: &DeviceModel, dt_s: f64) -> f32 {
    (1.0 + dt_s.max(0.0) / model.relax_t0_s).log10() as f32
}

/// [`relaxed_conductance_us`] from its `L`.
#[inline]
fn relaxed_from_decades(model: &DeviceModel, g_written_us: f32, l: f32, z: f32) -> f32 {
    g_written_us - model.relax_rate_per_decade * (g_written_us - model.relax_rest_us) * l
        + model.relax_noise_us * l.sqrt() * z
}

/// The read powers `Σ_l v_l²·S_l` in µW and `Σ_l v_l²` of `n` voltage
/// vectors (`vs`: `n × lines`, one voltage per driven line, `sums_us` the
/// lines' conductance sums `S_l`) into `powers_uw[b]` and `sums_v2[b]`:
/// each sum in line order in `f64` from `+0`, `v_l²` exact in `f64`, the
/// sums of [`CellArray::forward_power`] (rows) and
/// [`CellArray::transposed_power`] / [`CellArray::transposed_sum_v2`]
/// (columns). Each vector's two sums are chains of dependent additions;
/// the vectors' chains run side by side, eight vectors at a time and the
/// rest four, two and one at a time.
///
/// On x86-64 compiled twice, for the baseline target and with AVX2 (four
/// `f64` lanes instead of two), chosen at run time as the
/// [`kernel`]s are: the same operations in the same order.
fn line_powers(sums_us: &[f64], vs: &[f32], powers_uw: &mut [f64], sums_v2: &mut [f64]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2 (checked just above).
        return unsafe { line_powers_avx2(sums_us, vs, powers_uw, sums_v2) };
    }
    line_powers_body(sums_us, vs, powers_uw, sums_v2);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn line_powers_avx2(sums_us: &[f64], vs: &[f32], powers_uw: &mut [f64], sums_v2: &mut [f64]) {
    line_powers_body(sums_us, vs, powers_uw, sums_v2);
}

#[inline(always)]
fn line_powers_body(sums_us: &[f64], vs: &[f32], powers_uw: &mut [f64], sums_v2: &mut [f64]) {
    let n = powers_uw.len();
    debug_assert_eq!(vs.len(), n * sums_us.len());
    debug_assert_eq!(sums_v2.len(), n);
    let lines = sums_us.len();
    let mut b0 = 0;
    while b0 + 8 <= n {
        powers_side::<8>(sums_us, &vs[b0 * lines..], powers_uw, sums_v2, b0);
        b0 += 8;
    }
    if b0 + 4 <= n {
        powers_side::<4>(sums_us, &vs[b0 * lines..], powers_uw, sums_v2, b0);
        b0 += 4;
    }
    if b0 + 2 <= n {
        powers_side::<2>(sums_us, &vs[b0 * lines..], powers_uw, sums_v2, b0);
        b0 += 2;
    }
    if b0 < n {
        powers_side::<1>(sums_us, &vs[b0 * lines..], powers_uw, sums_v2, b0);
    }
}

/// [`line_powers`] of the `SIDE` vectors at the start of `vs` into
/// `powers_uw[b0..]` and `sums_v2[b0..]`, their chains side by side.
#[inline(always)]
fn powers_side<const SIDE: usize>(
    sums_us: &[f64],
    vs: &[f32],
    powers_uw: &mut [f64],
    sums_v2: &mut [f64],
    b0: usize,
) {
    let lines = sums_us.len();
    let v: [&[f32]; SIDE] = std::array::from_fn(|i| &vs[i * lines..][..lines]);
    let (mut p, mut s) = ([0.0f64; SIDE], [0.0f64; SIDE]);
    // `l` is the line of all the vectors at once.
    #[allow(clippy::needless_range_loop)]
    for l in 0..lines {
        let g = sums_us[l];
        for i in 0..SIDE {
            let vl = v[i][l];
            let v2 = f64::from(vl) * f64::from(vl);
            s[i] += v2;
            p[i] += v2 * g;
        }
    }
    powers_uw[b0..b0 + SIDE].copy_from_slice(&p);
    sums_v2[b0..b0 + SIDE].copy_from_slice(&s);
}

/// Adds the column-level read noise: the sum of independent per-cell
/// Gaussian read noise `σ_r` over two cells per weight driven at `V_i` has
/// σ = σ_r · sqrt(2 Σ V_i²) (µS·V = µA), the same for every output line.
fn add_read_noise(model: &DeviceModel, sum_v2: f64, out_ua: &mut [f32], rng: &mut Rng) {
    if model.read_noise_us == 0.0 || sum_v2 == 0.0 {
        return;
    }
    let sigma = model.read_noise_us * (2.0 * sum_v2).sqrt() as f32;
    // One draw per line in order, as `rng.sample::<f32, _>(StandardNormal)`
    // would, but inlined with the generator in registers (same bits).
    normal::add_scaled_standard_normal_f32(rng, sigma, out_ua);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{builtin_device, PulseModel};
    use aimsim_core::config::overrides;
    use aimsim_core::stream;
    use proptest::prelude::*;

    fn model(over: &[(&str, &str)]) -> DeviceModel {
        builtin_device("eapu-180nm", &overrides(over)).unwrap()
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

    /// Each weight's cached `G⁺−G⁻` follows its writes: a read right
    /// after a write reads the new value, with the bits of the pairs'
    /// subtraction.
    #[test]
    fn cached_differences_follow_writes() {
        let m = model(&[("read_noise_us", "0")]);
        let (rows, cols) = (70, 9);
        let mut rng = stream(5, "t");
        let mut a = CellArray::new(&m, rows, cols, &mut rng);
        let w: Vec<f32> = (0..rows * cols).map(|k| (k as f32 * 0.37).sin()).collect();
        a.set_weights(&m, &w);
        let v: Vec<f32> = (0..rows).map(|r| (r as f32 * 0.71).cos() * 0.2).collect();
        let read = |a: &CellArray, rng: &mut aimsim_core::Rng| {
            let mut out = vec![0.0f32; cols];
            a.mvm_forward(&m, &v, &mut out, rng);
            out.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
        };
        let before = read(&a, &mut rng);
        a.program(&m, 2 * cols * 3 + 1, 5.0, &mut rng);
        a.program(&m, 2 * cols * 66 + 4, -5.0, &mut rng);
        a.relax(&m, 2 * cols * 7, 1.0, &mut rng);
        a.pulse(&m, 2 * cols * 8 + 5, Polarity::Reset, 3, &mut rng);
        a.assert_caches_exact(&m);
        let written = read(&a, &mut rng);
        assert_ne!(before, written, "the writes were not read");
        let mut from_pairs = vec![0.0f32; cols];
        let driven: Vec<(usize, f32)> = v.iter().copied().enumerate().collect();
        kernel::forward_accumulate(&a.g_us, cols, &driven, &mut from_pairs);
        assert_eq!(
            written,
            from_pairs.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
        );
    }

    /// The power of a direct read, `Σ_cells v²·G`, summed in `f64` cell
    /// by cell (`v` per row for the forward read, per column for the
    /// transposed one).
    fn direct_power(a: &CellArray, m: &DeviceModel, v: &[f32], transposed: bool) -> f64 {
        let mut p = 0.0f64;
        for (k, pair) in a.conductances_us(m).chunks_exact(2).enumerate() {
            let vi = f64::from(if transposed {
                v[k % a.cols]
            } else {
                v[k / a.cols]
            });
            p += vi * vi * (f64::from(pair[0]) + f64::from(pair[1]));
        }
        p
    }

    /// The transposed reads stream the differences and take their power
    /// from the column sums: a batch gives each single read's bits
    /// (currents and power), the currents are the pair loop's bits, and
    /// the power is the direct `Σ v²·(G⁺+G⁻)` within 1e-13 relative (two
    /// `f64` sums of under 500 non-negative terms, each within n·2⁻⁵³).
    #[test]
    fn transposed_reads_use_the_differences_and_column_sums() {
        let m = model(&[("read_noise_us", "0")]);
        let (rows, cols) = (19, 23);
        let mut rng = stream(6, "t");
        let mut a = CellArray::new(&m, rows, cols, &mut rng);
        let w: Vec<f32> = (0..rows * cols).map(|k| (k as f32 * 0.37).sin()).collect();
        a.set_weights(&m, &w);
        for k in 0..40 {
            a.program(
                &m,
                (k * 37) % a.cells(),
                (k as f32 * 0.9).cos() * 9.0,
                &mut rng,
            );
        }
        for n in [1, 7, 8, 9, 43] {
            let vs: Vec<f32> = (0..n * cols)
                .map(|k| {
                    if k % 5 == 2 {
                        0.0
                    } else {
                        (k as f32 * 0.53).sin() * 0.2
                    }
                })
                .collect();
            let (mut outs, mut powers) = (vec![f32::NAN; n * rows], vec![f64::NAN; n]);
            let mut sums_v2 = vec![f64::NAN; n];
            a.mvm_backward_batch_noiseless(
                &vs,
                &mut outs,
                &mut powers,
                &mut sums_v2,
                &mut Vec::new(),
            );
            for (b, v) in vs.chunks_exact(cols).enumerate() {
                let mut out = vec![f32::NAN; rows];
                let p = a.mvm_backward(&m, v, &mut out, &mut rng);
                assert_eq!(p.to_bits(), powers[b].to_bits());
                assert_eq!(p.to_bits(), a.transposed_power(v).to_bits());
                assert_eq!(sums_v2[b].to_bits(), a.transposed_sum_v2(v).to_bits());
                let bits = |x: &[f32]| x.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&out), bits(&outs[b * rows..(b + 1) * rows]));
                let mut want = vec![0.0f32; rows];
                for (r, o) in want.iter_mut().enumerate() {
                    for (c, &vc) in v.iter().enumerate() {
                        let k = 2 * (r * cols + c);
                        *o += vc * (a.g_us[k] - a.g_us[k + 1]);
                    }
                }
                assert_eq!(bits(&out), bits(&want));
                let direct = direct_power(&a, &m, v, true);
                assert!((p - direct).abs() <= 1e-13 * direct, "{p} vs {direct}");
            }
        }
    }

    #[test]
    fn deferred_caches_are_built_at_the_first_read() {
        let m = model(&[]);
        let mut a = CellArray::new(&m, 5, 7, &mut stream(4, "t"));
        let mut b = CellArray::new_deferred(&m, 5, 7, &mut stream(4, "t"));
        let w: Vec<f32> = (0..35).map(|k| (k as f32 * 0.3).sin()).collect();
        a.set_weights(&m, &w);
        b.set_weights(&m, &w);
        assert!(std::panic::catch_unwind(|| b.forward_power(&[0.1; 5])).is_err());
        b.prepare_reads(&m);
        b.assert_caches_exact(&m);
        let v = [0.1, -0.2, 0.0, 0.3, 0.05];
        assert_eq!(a.forward_power(&v), b.forward_power(&v));
        assert_eq!(a.conductances_us(&m), b.conductances_us(&m));
    }

    #[test]
    fn i128_to_f64_is_the_conversion() {
        let mut rng = stream(17, "t");
        let check = |x: i128| assert_eq!(i128_to_f64(x).to_bits(), (x as f64).to_bits(), "{x}");
        for k in 0..128 {
            for d in [-2i128, -1, 0, 1, 2] {
                let p = (1u128 << k) as i128;
                check(p.wrapping_add(d));
                check(p.wrapping_neg().wrapping_add(d));
            }
        }
        for x in [i128::MIN, i128::MAX, i128::MIN + 1, 0, -1] {
            check(x);
        }
        for _ in 0..200_000 {
            let x =
                (u128::from(rng.random::<u64>()) << 64 | u128::from(rng.random::<u64>())) as i128;
            // Every magnitude, and exact ties: a value with one bit just
            // below the 53 kept and nothing under it.
            let sh = rng.random_range(0..128u32);
            check(x >> sh);
            let top = (x >> sh) & !((1i128 << 12) - 1);
            check(top | (1i128 << 10));
            check(top | (1i128 << 11));
            // Exact ties for a value whose top bit is bit `p`: bit `p − 53`
            // set and nothing below, with the kept bits odd or even.
            let p = rng.random_range(64..127u32);
            let kept = (x.unsigned_abs() | 1 << 127) >> (127 - p) >> (p - 52) << (p - 52);
            for odd in [0u128, 1 << (p - 52)] {
                let t = ((kept ^ odd) | 1 << (p - 53)) as i128;
                check(t);
                check(-t);
            }
        }
    }

    #[test]
    fn forward_powers_are_the_single_reads_bits() {
        let m = model(&[]);
        let (rows, cols) = (21, 9);
        let mut rng = stream(3, "t");
        let mut a = CellArray::new(&m, rows, cols, &mut rng);
        let w: Vec<f32> = (0..rows * cols).map(|k| (k as f32 * 0.37).sin()).collect();
        a.set_weights(&m, &w);
        a.program(&m, 2 * cols * 5, 7.0, &mut rng);
        a.program(&m, 2 * cols * 17 + 3, -7.0, &mut rng);
        for n in [1, 7, 8, 9, 19] {
            let vs: Vec<f32> = (0..n * rows)
                .map(|k| {
                    if k % 4 == 1 {
                        0.0
                    } else {
                        (k as f32 * 0.71).cos() * 0.2
                    }
                })
                .collect();
            let (mut p, mut s) = (vec![f64::NAN; n], vec![f64::NAN; n]);
            a.forward_powers(&vs, &mut p, &mut s);
            for (b, v) in vs.chunks_exact(rows).enumerate() {
                let (pw, sw) = a.forward_power(v);
                assert_eq!(
                    (p[b].to_bits(), s[b].to_bits()),
                    (pw.to_bits(), sw.to_bits())
                );
            }
        }
    }

    /// [`fix`] from the bits is `trunc(G·2⁸⁰)` (the scaling exact in
    /// `f32`, `as` truncating toward zero) over normal and subnormal
    /// values of both signs, the grid's edge and the range's top; the
    /// round trip through [`unfix`] is exact on the grid.
    #[test]
    fn fixed_point_is_the_truncated_scaled_value() {
        let one = (1u128 << FIX_BITS) as f32;
        let mut s = 0x1234_5678u32;
        let (edge, below) = (2f32.powi(-57), 2f32.powi(-58));
        let mut xs = vec![0.0f32, -0.0, 1.0, 55.0, 105.0, 1e-30, edge, below];
        xs.extend([3e-20, f32::MIN_POSITIVE, 1e-45, 16_777_215.0, 12.35]);
        for _ in 0..100_000 {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            // Any bits with an exponent field up to 150 (|G| < 2²⁴).
            let e = (s >> 23) & 0xff;
            xs.push(f32::from_bits((s & 0x807f_ffff) | ((e % 151) << 23)));
        }
        for &x in &xs {
            for g in [x, -x] {
                let want = (g * one) as i128;
                assert_eq!(fix(g), want, "{g:e}");
                if g.abs() >= 2f32.powi(-57) {
                    assert_eq!(unfix(fix(g)), f64::from(g), "{g:e}");
                }
            }
        }
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
            .conductances_us(&m)
            .iter()
            .filter(|&&g| g == m.g_min_us)
            .count() as f64;
        let at_max = a
            .conductances_us(&m)
            .iter()
            .filter(|&&g| g == m.g_max_us)
            .count() as f64;
        // n = 20 000: binomial SE of 0.1 is 0.0021 and of 0.05 is 0.0015; allow 5 SE.
        assert!((at_min / n - 0.1).abs() < 0.011, "{}", at_min / n);
        assert!((at_max / n - 0.05).abs() < 0.008, "{}", at_max / n);
        assert_eq!(a.failed_cells(), (at_min + at_max) as usize);
    }

    /// An order statistic of the endurances is the sorted endurances',
    /// with faults among the cells and over several arrays; and the draws
    /// have the model's log-normal median and spread (20,000 cells: the
    /// sample median of `ln N` within 0.03 of `ln N₅₀`, its SE
    /// 1.25·s/√n = 0.0044 at s = 0.5; the standard deviation within 3 %,
    /// SE 0.5 %).
    #[test]
    fn order_statistics_of_the_endurances_are_the_sorted_ones() {
        let m = model(&[("stuck_at_min_fraction", "0.01")]);
        let a = CellArray::new(&m, 100, 100, &mut stream(6, "t"));
        let b = CellArray::new(&m, 3, 7, &mut stream(7, "t"));
        let mut sorted: Vec<u32> = a.endurance().chain(b.endurance()).collect();
        sorted.sort_unstable();
        assert!(sorted[0] == 0 && sorted[400] > 0, "faults among the cells");
        let n = sorted.len();
        for k in [0, 1, 199, 200, 1000, 9_999, 10_000, 10_020, n - 2, n - 1] {
            let got = endurance_order_statistic(&[&a, &b], k as u64);
            assert_eq!(got, sorted[k], "k = {k}");
        }
        let logs: Vec<f64> = sorted
            .iter()
            .filter(|&&e| e > 0)
            .map(|&e| f64::from(e).ln())
            .collect();
        let median = logs[logs.len() / 2];
        assert!(
            (median - m.endurance_median_pulses.ln()).abs() < 0.03,
            "{median}"
        );
        let mean = logs.iter().sum::<f64>() / logs.len() as f64;
        let sd = (logs.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / logs.len() as f64).sqrt();
        assert!((sd / m.endurance_sigma_log - 1.0).abs() < 0.03, "{sd}");
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
        assert_eq!(a.pulse_count(0), 3 * n);
    }

    /// `eapu-180nm` with every spread, relaxation with noise, stuck cells
    /// and wear-out within a few dozen pulses: every path of a cell.
    fn harsh_relaxing_model() -> DeviceModel {
        let mut m = d2d_model("eapu-180nm");
        m.relax_rate_per_decade = 0.05;
        m.relax_noise_us = 0.5;
        m.stuck_at_min_fraction = 0.05;
        m.stuck_at_max_fraction = 0.05;
        m.endurance_median_pulses = 40.0;
        m
    }

    fn d2d_model(name: &str) -> DeviceModel {
        let o = overrides(&[
            ("d2d_step_sigma_log", "0.3"),
            ("d2d_g_min_us", "0.05"),
            ("d2d_g_max_us", "0.05"),
            ("d2d_nonlinearity_rel", "0.2"),
        ]);
        let base = builtin_device(name, &[]).unwrap();
        let w = base.g_max_us - base.g_min_us;
        // Bound spreads are given as fractions of the window above.
        let o: Vec<_> = o
            .into_iter()
            .map(|(k, v)| {
                if k.starts_with("d2d_g_") {
                    let v: f32 = v.parse().unwrap();
                    (k, (v * w).to_string())
                } else {
                    (k, v)
                }
            })
            .collect();
        builtin_device(name, &o).unwrap()
    }

    #[test]
    fn d2d_draws_are_standard_normal_and_fixed() {
        // 20 000 cells × 5 draws: the mean's SE is 0.0032 and the variance's
        // 0.0045; 5 SE bounds.
        let n = 20_000;
        let (mut s, mut s2) = (0.0f64, 0.0f64);
        for cell in 0..n {
            for z in d2d_normals(42, cell) {
                s += f64::from(z);
                s2 += f64::from(z) * f64::from(z);
            }
        }
        let m = s / (5 * n) as f64;
        let v = s2 / (5 * n) as f64 - m * m;
        assert!(m.abs() < 0.016, "mean {m}");
        assert!((v - 1.0).abs() < 0.023, "var {v}");
        assert_eq!(d2d_normals(42, 7), d2d_normals(42, 7));
        assert_ne!(d2d_normals(42, 7), d2d_normals(43, 7));
    }

    #[test]
    fn pulses_follow_the_mean_step() {
        // Soft bounds: from G, 4000 single SET pulses (reset to G each time)
        // average the mean step within 4 SE (σ = 2.4 µS, SE = 0.038 µS).
        let m = model(&[
            ("pulse_model", "soft-bounds"),
            ("endurance_median_pulses", "4e9"),
        ]);
        let mut rng = stream(4, "t");
        let mut a = CellArray::new(&m, 1, 1, &mut rng);
        for g0 in [20.0f32, 55.0, 90.0] {
            let n = 4000;
            let mut sum = 0.0f64;
            for _ in 0..n {
                a.set_conductance_us(&m, 0, g0);
                let o = a.pulse(&m, 0, Polarity::Set, 1, &mut rng);
                sum += f64::from(o.g_after_us - o.g_before_us);
            }
            let want = 2.0 * (105.0 - g0) / 50.0;
            let got = (sum / n as f64) as f32;
            assert!((got - want).abs() < 0.16, "G={g0}: {got} vs {want}");
        }
    }

    /// Counts past 16 bits (a block's high halves allocated) stay exact
    /// in the array and its wear summary.
    #[test]
    fn pulse_counts_past_16_bits_are_exact() {
        let m = model(&[("endurance_median_pulses", "4e9")]);
        let mut rng = stream(21, "t");
        let mut a = CellArray::new(&m, 70, 70, &mut rng);
        a.pulse(&m, 5, Polarity::Set, 70_000, &mut rng);
        a.pulse(&m, 9000, Polarity::Reset, 3, &mut rng);
        let n = a.program(&m, 5, -1.0, &mut rng).pulses;
        assert_eq!(a.pulse_count(5), 70_000 + n);
        assert_eq!(a.pulse_count(9000), 3);
        assert_eq!(a.pulse_sum(), 70_003 + u64::from(n));
        assert_eq!(a.pulse_max(), 70_000 + n);
        assert_eq!(a.pulses().filter(|&p| p > 0).count(), 2);
        assert_eq!(a.pulses().map(u64::from).sum::<u64>(), a.pulse_sum());
    }

    #[test]
    fn the_clock_drives_relaxation_from_the_last_write() {
        let m = model(&[("relax_rate_per_decade", "0.05"), ("relax_t0_s", "1e-3")]);
        let mut a = CellArray::new(&m, 1, 1, &mut stream(8, "t"));
        assert_eq!(a.bytes_per_cell(), 10);
        a.set_weights(&m, &[0.5]); // G⁺ = 75, G⁻ = 35 µS, written at t = 0
        a.advance_to(&m, 0.999); // 3 decades: G⁺ = 75 − 0.05·20·3 = 72
        assert!((a.conductances_us(&m)[0] - 72.0).abs() < 1e-3);
        assert!((a.conductances_us(&m)[1] - 38.0).abs() < 1e-3);
        // A write at t = 0.999 s restarts G⁺'s clock from its new value.
        let g = a.program(&m, 0, 4.0, &mut stream(9, "t")).g_after_us;
        a.advance_to(&m, 0.999);
        assert_eq!(a.conductances_us(&m)[0], g);
        a.advance_to(&m, 1.999); // 1 s after the write: L = log10(1001)
        let want = g - 0.05 * (g - 55.0) * 1001f32.log10();
        assert!((a.conductances_us(&m)[0] - want).abs() < 1e-3);
        // G⁻ keeps relaxing from t = 0: L = log10(2000).
        let want = 35.0 + 0.05 * 20.0 * 2000f32.log10();
        assert!((a.conductances_us(&m)[1] - want).abs() < 1e-3);
        // A device without relaxation keeps 6 B/cell and never moves.
        let plain = model(&[]);
        let mut b = CellArray::new(&plain, 1, 1, &mut stream(8, "t"));
        b.set_weights(&plain, &[0.5]);
        b.advance_to(&plain, 100.0);
        assert_eq!(b.bytes_per_cell(), 6);
        assert_eq!(b.conductances_us(&plain)[0], 75.0);
    }

    /// A relaxation pass on a pool of two threads (rows split in blocks,
    /// column sums added across blocks) leaves the bits of one thread:
    /// cells, read caches, before and after the caches exist, and the
    /// settling of a lazy write phase.
    #[test]
    fn relaxation_on_two_threads_has_the_bits_of_one() {
        let mut m = harsh_relaxing_model();
        m.endurance_median_pulses = 1e6;
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let (rows, cols) = (70, 61); // 8,540 cells: two blocks of 35 rows
        let mut rng = stream(4, "p");
        let mut one = CellArray::new_deferred(&m, rows, cols, &mut rng);
        let w: Vec<f32> = (0..rows * cols).map(|k| (k as f32 * 0.37).sin()).collect();
        one.set_weights(&m, &w);
        let mut two = one.clone();
        // The present values and the read caches of the passes.
        let bits = |a: &CellArray| {
            let f = |x: &[f32]| x.iter().map(|g| g.to_bits()).collect::<Vec<_>>();
            let c = &a.caches;
            (
                f(&a.conductances_us(&m)),
                f(&c.d_us),
                c.row_fix.clone(),
                c.col_fix.clone(),
            )
        };
        // Before the caches are built, then with them.
        one.advance_to(&m, 0.5);
        pool.install(|| two.advance_to(&m, 0.5));
        assert_eq!(bits(&one), bits(&two));
        one.prepare_reads(&m);
        two.prepare_reads(&m);
        let (mut r1, mut r2) = (stream(5, "w"), stream(5, "w"));
        for (step, t) in [1.0, 2.5, 7.0].into_iter().enumerate() {
            let cells: Vec<usize> = (0..40)
                .map(|k| (k * 211 + step * 17) % one.cells())
                .collect();
            one.advance_lazily(t);
            pool.install(|| two.advance_lazily(t));
            for &c in &cells {
                one.program(&m, c, 3.0, &mut r1);
                two.program(&m, c, 3.0, &mut r2);
            }
            one.settle(&m);
            pool.install(|| two.settle(&m));
            assert_eq!(bits(&one), bits(&two), "after the phase at {t} s");
            one.advance_to(&m, t + 0.25);
            pool.install(|| two.advance_to(&m, t + 0.25));
            assert_eq!(bits(&one), bits(&two), "after the read at {t} s");
            two.assert_caches_exact(&m);
            assert_eq!(one.caches.d_us, two.caches.d_us);
            assert_eq!(one.caches.row_fix, two.caches.row_fix);
            assert_eq!(one.caches.col_fix, two.caches.col_fix);
        }
    }

    #[test]
    fn relaxation_follows_the_log_law() {
        let m = model(&[("relax_rate_per_decade", "0.05"), ("relax_t0_s", "1e-3")]);
        // From 95 µS toward 55 µS: after 0.999 s, L = 3 decades → 95 − 0.05·40·3 = 89.
        let g = relaxed_conductance_us(&m, 95.0, 0.999, 0.0);
        assert!((g - 89.0).abs() < 1e-3, "{g}");
        assert_eq!(relaxed_conductance_us(&m, 95.0, 0.0, 1.0), 95.0);
    }

    #[test]
    fn d2d_spreads_cells() {
        let m = d2d_model("eapu-180nm");
        let a = CellArray::new(&m, 64, 64, &mut stream(2, "t"));
        let steps: Vec<f64> = (0..a.cells())
            .map(|c| f64::from(a.cell_params(&m, c).step_set_us / m.step_set_us).ln())
            .collect();
        let n = steps.len() as f64;
        let mean = steps.iter().sum::<f64>() / n;
        let sd = (steps.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt();
        // 8192 cells: the SE of the sample σ is 0.3/sqrt(2n) = 0.0023; 5 SE.
        assert!((sd - 0.3).abs() < 0.012, "σ ln f = {sd}");
        // Same seed, same cells.
        let b = CellArray::new(&m, 64, 64, &mut stream(2, "t"));
        assert_eq!(a.cell_params(&m, 99), b.cell_params(&m, 99));
    }

    /// The routing rule as branches (its form before `route` chose by
    /// value): the reference for `route_is_the_branchy_rule`.
    fn route_by_branches(
        m: &DeviceModel,
        gp: f32,
        gn: f32,
        k: usize,
        dg: f32,
    ) -> (usize, Polarity, f32) {
        if dg >= 0.0 {
            if m.g_max_us - gp >= gn - m.g_min_us {
                (2 * k, Polarity::Set, dg)
            } else {
                (2 * k + 1, Polarity::Reset, -dg)
            }
        } else if gp - m.g_min_us >= m.g_max_us - gn {
            (2 * k, Polarity::Reset, dg)
        } else {
            (2 * k + 1, Polarity::Set, -dg)
        }
    }

    #[test]
    fn select_keeps_the_chosen_bits() {
        for (a, b) in [(1.5f32, -2.0f32), (-0.0, 0.0), (f32::NAN, f32::INFINITY)] {
            assert_eq!(select_f32(true, a, b).to_bits(), a.to_bits());
            assert_eq!(select_f32(false, a, b).to_bits(), b.to_bits());
        }
    }

    proptest! {
        /// `route` picks the cell, polarity and change the branches pick,
        /// to the bit (the sign of `±0` and of NaN included), wherever the
        /// pair stands.
        #[test]
        fn route_is_the_branchy_rule(
            w in -1.2f32..1.2,
            plus in -60.0f32..60.0,
            minus in -60.0f32..60.0,
            dg_bits in proptest::prelude::any::<u32>(),
            k in 0usize..6,
        ) {
            let m = model(&[]);
            let mut rng = stream(3, "r");
            let mut a = CellArray::new(&m, 2, 3, &mut rng);
            a.set_weights(&m, &[w; 6]);
            // Each cell of the pair moved on its own (the pair placed by
            // `set_weights` is symmetric about mid-window).
            a.program(&m, 2 * k, plus, &mut rng);
            a.program(&m, 2 * k + 1, minus, &mut rng);
            let g = a.conductances_us(&m);
            for dg in [f32::from_bits(dg_bits), 0.0, -0.0, 3.5, -3.5] {
                let (cell, pol, d) = a.route(&m, k, dg);
                let (c0, p0, d0) = route_by_branches(&m, g[2 * k], g[2 * k + 1], k, dg);
                prop_assert_eq!((cell, pol, d.to_bits()), (c0, p0, d0.to_bits()), "dg {}", dg);
            }
        }

        #[test]
        fn conductance_stays_in_window(seq in proptest::collection::vec(-50.0f32..50.0, 1..200)) {
            let m = model(&[]);
            let mut rng = stream(9, "p");
            let mut a = CellArray::new(&m, 1, 1, &mut rng);
            for dg in seq {
                let (cell, _, d) = a.route(&m, 0, dg);
                a.program(&m, cell, d, &mut rng);
                for &g in a.conductances_us(&m).iter() {
                    prop_assert!(g >= m.g_min_us && g <= m.g_max_us);
                }
            }
        }

        #[test]
        fn pulses_stay_in_each_cells_bounds(
            device in 0usize..6,
            model_kind in 0usize..3,
            seq in proptest::collection::vec((any::<bool>(), 1u32..40), 1..60),
            cell in 0usize..32,
        ) {
            let name = ["eapu-180nm", "taox-hfox", "alox-hfo2", "ag-asi", "epiram", "fefet-hzo"][device];
            let mut m = d2d_model(name);
            if device == 0 {
                m.pulse_model = [PulseModel::Linear, PulseModel::SoftBounds, PulseModel::Exponential][model_kind];
                m.nonlinearity_set = 2.0;
                m.nonlinearity_reset = 1.0;
            }
            m.c2c_noise_rel = 0.5;
            let mut rng = stream(13, "p");
            let mut a = CellArray::new(&m, 4, 4, &mut rng);
            let (lo, hi) = a.cell_bounds_us(&m, cell);
            prop_assert!(lo < hi);
            for (set, n) in seq {
                let pol = if set { Polarity::Set } else { Polarity::Reset };
                let o = a.pulse(&m, cell, pol, n, &mut rng);
                prop_assert!(o.g_after_us >= lo && o.g_after_us <= hi, "{} not in [{lo}, {hi}]", o.g_after_us);
                a.relax(&m, cell, 1.0, &mut rng);
                let g = a.conductances_us(&m)[cell];
                prop_assert!(g >= lo && g <= hi);
            }
        }

        #[test]
        fn failed_cell_never_changes_under_pulses(
            seq in proptest::collection::vec((any::<bool>(), 1u32..20), 1..50),
            life in 1u32..30,
        ) {
            let m = d2d_model("epiram");
            let mut rng = stream(17, "p");
            let mut a = CellArray::new(&m, 1, 1, &mut rng);
            a.endurance.set_exact(0, life);
            a.wear = Wear::new(&a.pulses, &a.endurance);
            a.pulse(&m, 0, Polarity::Set, life, &mut rng);
            prop_assert!(a.is_failed(0));
            let g = a.conductances_us(&m)[0];
            for (set, n) in seq {
                let pol = if set { Polarity::Set } else { Polarity::Reset };
                a.pulse(&m, 0, pol, n, &mut rng);
                a.program(&m, 0, if set { 1.0 } else { -1.0 }, &mut rng);
                a.relax(&m, 0, 10.0, &mut rng);
                prop_assert_eq!(a.conductances_us(&m)[0], g);
            }
        }

        #[test]
        fn stuck_fractions_match_with_variation(
            fmin in 0.0f64..0.3,
            fmax in 0.0f64..0.3,
            seed in 0u64..1000,
        ) {
            let mut m = d2d_model("taox-hfox");
            m.stuck_at_min_fraction = fmin;
            m.stuck_at_max_fraction = fmax;
            let mut rng = stream(seed, "p");
            let a = CellArray::new(&m, 50, 50, &mut rng);
            let n = a.cells() as f64;
            let (mut at_min, mut at_max) = (0usize, 0usize);
            for c in 0..a.cells() {
                if a.endurance_of(c) == 0 {
                    let (lo, hi) = a.cell_bounds_us(&m, c);
                    let g = a.conductances_us(&m)[c];
                    if g == lo { at_min += 1 } else if g == hi { at_max += 1 }
                }
            }
            // n = 5000 cells: binomial SE ≤ sqrt(0.3·0.7/5000) = 0.0065; 5 SE.
            prop_assert!((at_min as f64 / n - fmin).abs() < 0.033);
            prop_assert!((at_max as f64 / n - fmax).abs() < 0.033);
            prop_assert_eq!(a.failed_cells(), at_min + at_max);
        }

        /// A write phase that advances the clock lazily (its own cells at
        /// once, the rest at `settle` or the next full advance) leaves
        /// every cell, pulse count and read cache with the bits of a full
        /// advance at every phase, and routes as that array would in the
        /// meantime: with bounds that vary from cell to cell or not,
        /// relaxation noise, stuck cells and wear-out.
        #[test]
        fn lazy_write_phases_match_full_advances(
            ops in proptest::collection::vec(
                (1usize..4, proptest::collection::vec((0usize..10_000, -30.0f32..30.0), 1..6), 0.0f64..2.0, any::<bool>()),
                1..25,
            ),
            seed in 0u64..1000,
            bounds_vary in any::<bool>(),
        ) {
            let mut m = harsh_relaxing_model();
            if !bounds_vary {
                m.d2d_g_min_us = 0.0;
                m.d2d_g_max_us = 0.0;
            }
            let (rows, cols) = (7, 9);
            let mut full = CellArray::new(&m, rows, cols, &mut stream(seed, "p"));
            let mut lazy = full.clone();
            let (mut rf, mut rl) = (stream(seed, "w"), stream(seed, "w"));
            let mut t = 0.0;
            for (phases, writes, dt, read_after) in ops {
                for p in 0..phases {
                    t += dt + 1e-4 * p as f64;
                    full.advance_to(&m, t);
                    lazy.advance_lazily(t);
                    for &(at, x) in &writes {
                        let k = at % (rows * cols);
                        prop_assert_eq!(lazy.route(&m, k, x), full.route(&m, k, x));
                        let cell = at % full.cells();
                        if x > 0.0 {
                            let pol = if at % 2 == 0 { Polarity::Set } else { Polarity::Reset };
                            full.pulse(&m, cell, pol, 1 + at as u32 % 5, &mut rf);
                            lazy.pulse(&m, cell, pol, 1 + at as u32 % 5, &mut rl);
                        } else {
                            full.program(&m, cell, x, &mut rf);
                            lazy.program(&m, cell, x, &mut rl);
                        }
                        let c = (cell + 1) % full.cells();
                        prop_assert_eq!(lazy.conductances_us(&m)[cell].to_bits(), full.conductances_us(&m)[cell].to_bits());
                        prop_assert_eq!(lazy.conductance_us(&m, c).to_bits(), full.conductances_us(&m)[c].to_bits());
                    }
                }
                prop_assert!(!lazy.is_settled());
                lazy.settle(&m);
                prop_assert!(lazy.is_settled());
                if read_after {
                    t += dt;
                    full.advance_to(&m, t);
                    lazy.advance_to(&m, t);
                }
                let bits = |a: &CellArray| a.conductances_us(&m).iter().map(|g| g.to_bits()).collect::<Vec<_>>();
                prop_assert_eq!(bits(&lazy), bits(&full));
                prop_assert!(lazy.pulses().eq(full.pulses()));
                full.prepare_reads(&m);
                lazy.prepare_reads(&m);
                lazy.assert_caches_exact(&m);
                full.assert_caches_exact(&m);
            }
        }

        /// Whatever changes the conductances (writes, pulses, wear-out,
        /// relaxation of one cell and of all, placement), the read caches
        /// stay equal to a recomputation from scratch.
        #[test]
        fn read_caches_follow_every_change(
            ops in proptest::collection::vec((0u8..7, 0usize..10_000, -30.0f32..30.0), 1..120),
            seed in 0u64..1000,
        ) {
            let m = harsh_relaxing_model();
            let (rows, cols) = (11, 13);
            let mut rng = stream(seed, "p");
            let mut a = CellArray::new(&m, rows, cols, &mut rng);
            a.assert_caches_exact(&m);
            let mut t = 0.0;
            for (op, at, x) in ops {
                let cell = at % a.cells();
                match op {
                    0 => {
                        a.program(&m, cell, x, &mut rng);
                    }
                    1 => {
                        let pol = if x > 0.0 { Polarity::Set } else { Polarity::Reset };
                        a.pulse(&m, cell, pol, 1 + at as u32 % 7, &mut rng);
                    }
                    2 => a.relax(&m, cell, f64::from(x.abs()), &mut rng),
                    3 => {
                        t += f64::from(x.abs());
                        a.advance_to(&m, t);
                    }
                    4 => {
                        let w: Vec<f32> = (0..rows * cols).map(|k| ((k + at) as f32 * x).sin()).collect();
                        a.set_weights(&m, &w);
                    }
                    5 => a.set_conductance_us(&m, cell, 20.0 + x.abs()),
                    _ => a.prepare_read(&m, at % 2 == 1),
                }
                a.assert_caches_exact(&m);
            }
            // The powers from the exact sums are the direct `f64` sums
            // within 1e-13 relative (under 300 non-negative terms), and
            // the same bits from the cached `f64` sums (after
            // `prepare_reads`) as converted afresh (before it).
            let vr: Vec<f32> = (0..rows).map(|r| (r as f32 * 0.3 + 0.1).sin()).collect();
            let vc: Vec<f32> = (0..cols).map(|c| (c as f32 * 0.7 + 0.2).cos()).collect();
            let (pf, _) = a.forward_power(&vr);
            let pt = a.transposed_power(&vc);
            a.prepare_reads(&m);
            a.assert_caches_exact(&m);
            prop_assert_eq!(a.forward_power(&vr).0.to_bits(), pf.to_bits());
            prop_assert_eq!(a.transposed_power(&vc).to_bits(), pt.to_bits());
            for (p, direct) in [(pf, direct_power(&a, &m, &vr, false)), (pt, direct_power(&a, &m, &vc, true))] {
                prop_assert!((p - direct).abs() <= 1e-13 * direct, "{} vs {}", p, direct);
            }
        }

        #[test]
        fn failed_cell_never_changes(seq in proptest::collection::vec(-10.0f32..10.0, 1..50)) {
            let m = model(&[("endurance_median_pulses", "1"), ("endurance_sigma_log", "0")]);
            let mut rng = stream(11, "p");
            let mut a = CellArray::new(&m, 1, 1, &mut rng);
            a.program(&m, 0, 1.0, &mut rng); // wears the cell out
            let g = a.conductances_us(&m)[0];
            for dg in seq {
                a.program(&m, 0, dg, &mut rng);
                prop_assert_eq!(a.conductances_us(&m)[0], g);
            }
        }
    }
}
