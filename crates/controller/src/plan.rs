//! Write plans: which cells get which change, grouped into pulse phases.

use aimsim_device::{CellArray, DeviceModel, Polarity};
use bitvec::vec::BitVec;

/// One cell's planned change.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PlannedWrite {
    /// Cell index in the tile's array.
    pub cell: u32,
    /// The cell's conductance change to aim at, µS (> 0 for SET, < 0 for RESET).
    pub dg_us: f32,
}

/// The writes of one row of cells, by polarity.
#[derive(Clone, Debug, Default)]
pub struct RowPlan {
    /// Weight row.
    pub row: u32,
    /// SET mask over the row's cells (`2 × cols`).
    pub set: BitVec,
    /// RESET mask over the row's cells.
    pub reset: BitVec,
    /// SET writes, in cell order.
    pub set_writes: Vec<PlannedWrite>,
    /// RESET writes, in cell order.
    pub reset_writes: Vec<PlannedWrite>,
}

/// A group of cells of one row pulsed together with one polarity.
#[derive(Clone, Copy, Debug)]
pub struct PulsePhase<'a> {
    /// Weight row.
    pub row: u32,
    /// Polarity of every pulse of the phase.
    pub polarity: Polarity,
    /// The cells written (at most the parallel-write limit).
    pub writes: &'a [PlannedWrite],
}

/// The write plan of one tile for one update.
#[derive(Clone, Debug, Default)]
pub struct WritePlan {
    rows: Vec<RowPlan>,
}

impl WritePlan {
    /// Routes each non-zero decided change (µS, one per weight, row-major
    /// over `array`'s `rows × cols`) to a cell of its pair
    /// ([`CellArray::route`]) and groups the cells by row and polarity.
    pub fn build(array: &CellArray, model: &DeviceModel, decided_us: &[f32]) -> WritePlan {
        let cols = array.cols();
        let mut rows = Vec::new();
        for (r, chunk) in decided_us.chunks_exact(cols).enumerate() {
            if chunk.iter().all(|&d| d == 0.0) {
                continue;
            }
            let mut rp = RowPlan {
                row: r as u32,
                set: BitVec::repeat(false, 2 * cols),
                reset: BitVec::repeat(false, 2 * cols),
                ..RowPlan::default()
            };
            for (c, &d) in chunk.iter().enumerate() {
                if d == 0.0 {
                    continue;
                }
                let (cell, pol, dg) = array.route(model, r * cols + c, d);
                let w = PlannedWrite {
                    cell: cell as u32,
                    dg_us: dg,
                };
                let local = cell - 2 * r * cols;
                match pol {
                    Polarity::Set => {
                        rp.set.set(local, true);
                        rp.set_writes.push(w);
                    }
                    Polarity::Reset => {
                        rp.reset.set(local, true);
                        rp.reset_writes.push(w);
                    }
                }
            }
            rows.push(rp);
        }
        WritePlan { rows }
    }

    /// The rows that have writes.
    pub fn rows(&self) -> &[RowPlan] {
        &self.rows
    }

    /// Cells written by the plan.
    pub fn cell_writes(&self) -> usize {
        self.rows
            .iter()
            .map(|r| r.set_writes.len() + r.reset_writes.len())
            .sum()
    }

    /// Whether the plan writes nothing.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Packs the plan into pulse phases: per row, the SET cells then the
    /// RESET cells, each split into chunks of at most `max_parallel` cells.
    pub fn phases(&self, max_parallel: usize) -> impl Iterator<Item = PulsePhase<'_>> {
        assert!(max_parallel > 0, "parallel-write limit must be positive");
        self.rows.iter().flat_map(move |rp| {
            let set = rp.set_writes.chunks(max_parallel).map(move |w| PulsePhase {
                row: rp.row,
                polarity: Polarity::Set,
                writes: w,
            });
            let reset = rp
                .reset_writes
                .chunks(max_parallel)
                .map(move |w| PulsePhase {
                    row: rp.row,
                    polarity: Polarity::Reset,
                    writes: w,
                });
            set.chain(reset)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aimsim_core::stream;
    use aimsim_device::builtin_device;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    proptest! {
        #[test]
        fn packing_respects_limit_and_keeps_every_write(
            decided in proptest::collection::vec(prop_oneof![Just(0.0f32), -5.0f32..5.0], 48),
            max_parallel in 1usize..10,
        ) {
            let m = builtin_device("eapu-180nm", &[]).unwrap();
            let a = CellArray::new(&m, 6, 8, &mut stream(1, "p"));
            let plan = WritePlan::build(&a, &m, &decided);
            let mut seen = BTreeSet::new();
            for ph in plan.phases(max_parallel) {
                prop_assert!(!ph.writes.is_empty() && ph.writes.len() <= max_parallel);
                for w in ph.writes {
                    // A cell belongs to the phase's row and sign matches polarity.
                    prop_assert_eq!(w.cell as usize / 16, ph.row as usize);
                    prop_assert_eq!(w.dg_us > 0.0, ph.polarity == Polarity::Set);
                    prop_assert!(seen.insert(w.cell / 2), "weight written twice");
                }
            }
            let nonzero: BTreeSet<u32> = decided.iter().enumerate()
                .filter(|(_, d)| **d != 0.0).map(|(k, _)| k as u32).collect();
            prop_assert_eq!(seen, nonzero);
            for rp in plan.rows() {
                prop_assert_eq!(rp.set.count_ones(), rp.set_writes.len());
                prop_assert_eq!(rp.reset.count_ones(), rp.reset_writes.len());
            }
        }
    }
}
