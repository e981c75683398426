//! Execution of one pulse phase: the one place where a [`WriteMode`] becomes
//! device operations, cycles and energy.
//!
//! A phase is a group of cells of one row written with one polarity
//! ([`PulsePhase`](crate::PulsePhase)). Its cost:
//!
//! * program / pulses: every cell's pulses in parallel, so
//!   `cycles = setup + max_pulses · pulse_cycles`; cell energy
//!   `Σ Driver::cell_energy_pj` (cell order), driver energy
//!   `Driver::phase_energy_pj(cells, max_pulses)`, one round;
//! * verify: a first read, then rounds of one program phase of the pending
//!   cells plus one verify read each; a read costs `read_cycles +
//!   ADC batches(cells) · conversion_cycles`. The energy of the reads (DAC,
//!   array, sense, ADC) belongs to the read model: the outcome counts them
//!   ([`PhaseOutcome::verify`]).

use crate::{apply_write, verify_writes, PlannedWrite, VerifyRead, WriteMode};
use aimsim_core::Rng;
use aimsim_device::{CellArray, DeviceModel};
use aimsim_periphery::{Adc, Driver};

/// The periphery that executes a phase, and its timing in clock cycles.
#[derive(Clone, Copy, Debug)]
pub struct WriteHardware<'a> {
    /// The pulse drivers (setup cycles, cell and phase energy).
    pub driver: &'a Driver,
    /// The ADCs converting verify reads.
    pub adc: &'a Adc,
    /// Cycles of one nominal write pulse.
    pub pulse_cycles: u64,
    /// Cycles from a read's start until its ADCs may convert.
    pub read_cycles: u64,
}

/// What executing one phase did.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PhaseOutcome {
    /// Pulses applied to cells.
    pub pulses: u64,
    /// Energy dissipated in the cells, pJ.
    pub cell_pj: f64,
    /// Energy of the drivers (line charging, gates), pJ.
    pub driver_pj: f64,
    /// Driver phases run (1, or one per write-verify round).
    pub rounds: u64,
    /// Clock cycles the phase took.
    pub cycles: u64,
    /// Write-verify only: the verify reads (row drives) and the cells they read.
    pub verify: Option<(u64, VerifyRead)>,
}

/// Executes one phase of `writes` (one row, polarity SET if `set`) on
/// `cells` with `mode`; write noise draws from `rng_write`, verify-read
/// noise from `rng_read`. Energies are summed in cell order, then round order.
#[allow(clippy::too_many_arguments)]
pub fn execute_phase(
    mode: WriteMode,
    cells: &mut CellArray,
    model: &DeviceModel,
    set: bool,
    writes: &[PlannedWrite],
    hw: &WriteHardware<'_>,
    rng_write: &mut Rng,
    rng_read: &mut Rng,
) -> PhaseOutcome {
    let driver = hw.driver;
    let mut out = PhaseOutcome::default();
    match mode {
        WriteMode::Program | WriteMode::Pulses { .. } => {
            let mut max_pulses = 0;
            for w in writes {
                let o = apply_write(cells, model, mode, w, rng_write);
                max_pulses = max_pulses.max(o.pulses);
                out.pulses += u64::from(o.pulses);
                out.cell_pj += driver.cell_energy_pj(set, o.pulses, o.g_before_us, o.g_after_us);
            }
            out.driver_pj = driver.phase_energy_pj(set, writes.len() as u32, max_pulses);
            out.rounds = 1;
            out.cycles = driver.setup_cycles() + u64::from(max_pulses) * hw.pulse_cycles;
        }
        WriteMode::Verify {
            tolerance_us,
            guard_us,
            max_pulses,
        } => {
            // Each round: a pulse phase of the pending cells, then a verify
            // read of the row (one DAC drive, one sense + ADC conversion per
            // cell read).
            let mut reads = VerifyRead::default();
            let mut read_count = 0u64;
            verify_writes(
                cells,
                model,
                writes,
                tolerance_us,
                guard_us,
                max_pulses,
                rng_write,
                rng_read,
                &mut |outcomes, vr| {
                    if !outcomes.is_empty() {
                        let mut max_p = 0;
                        for o in outcomes {
                            max_p = max_p.max(o.pulses);
                            out.pulses += u64::from(o.pulses);
                            out.cell_pj +=
                                driver.cell_energy_pj(set, o.pulses, o.g_before_us, o.g_after_us);
                        }
                        out.driver_pj += driver.phase_energy_pj(set, outcomes.len() as u32, max_p);
                        out.rounds += 1;
                        out.cycles += driver.setup_cycles() + u64::from(max_p) * hw.pulse_cycles;
                    }
                    reads.cells += vr.cells;
                    reads.g_sum_us += vr.g_sum_us;
                    read_count += 1;
                    out.cycles += hw.read_cycles
                        + hw.adc.batches(vr.cells as usize) * hw.adc.conversion_cycles();
                },
            );
            out.verify = Some((read_count, reads));
        }
        WriteMode::Switch {
            step_us,
            stochastic,
        } => {
            out = crate::switching::execute_switch_phase(
                cells, model, set, writes, step_us, stochastic, hw, rng_write,
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::UpdateRule;
    use crate::{WritePlan, WriteVerify};
    use aimsim_core::config::{overrides, Check};
    use aimsim_core::stream;
    use aimsim_device::builtin_device;
    use aimsim_periphery::{RawAdc, RawDriver};

    fn periphery() -> (Driver, Adc) {
        let chip: serde_json::Value =
            serde_json::from_str(include_str!("../../../devices/eapu-180nm.chip.json")).unwrap();
        let c = Check::new("chip");
        let driver = serde_json::from_value::<RawDriver>(chip["driver"].clone()).unwrap();
        let adc = serde_json::from_value::<RawAdc>(chip["adc"].clone()).unwrap();
        (
            Driver::validate(&c, driver).unwrap(),
            Adc::validate(&c, adc).unwrap(),
        )
    }

    /// A 4 × 8 array with random weights and the plan of `decided` in `mode`.
    fn setup(mode: WriteMode, seed: u64) -> (DeviceModel, CellArray, WritePlan) {
        let m = builtin_device("eapu-180nm", &overrides(&[])).unwrap();
        let mut rng = stream(seed, "setup");
        let mut a = CellArray::new(&m, 4, 8, &mut rng);
        let w: Vec<f32> = (0..32).map(|k| 0.02 * (k as f32 - 16.0)).collect();
        a.set_weights(&m, &w);
        let decided: Vec<f32> = (0..32).map(|k| 3.0 * ((k * 7 % 11) as f32 - 5.0)).collect();
        let plan = WritePlan::build(&a, &m, &decided, mode);
        (m, a, plan)
    }

    #[test]
    fn program_phase_costs_are_the_sum_of_its_writes() {
        let (driver, adc) = periphery();
        let hw = WriteHardware {
            driver: &driver,
            adc: &adc,
            pulse_cycles: 5,
            read_cycles: 2,
        };
        for mode in [WriteMode::Program, WriteMode::Pulses { step_us: 2.0 }] {
            let (m, mut a, plan) = setup(mode, 1);
            let mut by_hand = a.clone();
            let (mut rw, mut rr) = (stream(1, "w"), stream(1, "r"));
            let mut rw_hand = stream(1, "w");
            for ph in plan.phases(3) {
                let set = ph.polarity == aimsim_device::Polarity::Set;
                let o = execute_phase(mode, &mut a, &m, set, ph.writes, &hw, &mut rw, &mut rr);
                let (mut pulses, mut cell_pj, mut max_p) = (0u64, 0.0f64, 0u32);
                for w in ph.writes {
                    let p = apply_write(&mut by_hand, &m, mode, w, &mut rw_hand);
                    pulses += u64::from(p.pulses);
                    max_p = max_p.max(p.pulses);
                    cell_pj += driver.cell_energy_pj(set, p.pulses, p.g_before_us, p.g_after_us);
                }
                assert_eq!(o.pulses, pulses);
                assert_eq!(o.cell_pj.to_bits(), cell_pj.to_bits());
                let drv = driver.phase_energy_pj(set, ph.writes.len() as u32, max_p);
                assert_eq!(o.driver_pj.to_bits(), drv.to_bits());
                assert_eq!(o.rounds, 1);
                assert_eq!(o.cycles, driver.setup_cycles() + u64::from(max_p) * 5);
                assert_eq!(o.verify, None);
                assert!(o.pulses > 0 && o.cell_pj > 0.0);
            }
            assert_eq!(a.conductances_us(&m), by_hand.conductances_us(&m));
        }
    }

    #[test]
    fn verify_phase_counts_its_reads_and_rounds() {
        let (driver, adc) = periphery();
        let hw = WriteHardware {
            driver: &driver,
            adc: &adc,
            pulse_cycles: 5,
            read_cycles: 2,
        };
        let mode = WriteVerify {
            tolerance_us: 2.4,
            guard_us: 1.0,
            max_pulses: 64,
        }
        .write_mode();
        let (m, mut a, plan) = setup(mode, 2);
        let (mut rw, mut rr) = (stream(2, "w"), stream(2, "r"));
        for ph in plan.phases(32) {
            let n = ph.writes.len() as u32;
            let o = execute_phase(mode, &mut a, &m, true, ph.writes, &hw, &mut rw, &mut rr);
            let (reads, r) = o.verify.expect("verify reads are counted");
            // A first read plus one read per round, each of at most n cells.
            assert_eq!(reads, o.rounds + 1);
            assert!(r.cells >= 2 * n && r.cells <= n * (1 + o.rounds as u32));
            assert!(r.g_sum_us > 0.0);
            // Each read takes at least the read and one conversion batch;
            // each round at least the setup and one pulse.
            let min = reads * (2 + adc.conversion_cycles()) + o.rounds * (1 + 5);
            assert!(o.cycles >= min, "{} < {min}", o.cycles);
            assert!(o.pulses >= u64::from(n));
        }
    }
}
