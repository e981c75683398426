//! The training algorithms a run may name, each built from the chip, the
//! network, the training options and the run seed. A new algorithm is one
//! file plus one line here.

use crate::{Backprop, Hge, Madem, Result, TikiTaka, Train, TrainingAlgorithm};
use aimsim_engine::ChipSim;
use aimsim_workload::LayerSpec;

/// Builds an algorithm: places the network on the chip and returns it.
pub type AlgorithmBuilder =
    fn(&mut ChipSim, &[LayerSpec], &Train, u64) -> Result<Box<dyn TrainingAlgorithm>>;

/// The registry: `(name, builder)` in the order the CLI lists them.
pub const ALGORITHMS: &[(&str, AlgorithmBuilder)] = &[
    ("backprop", |chip, layers, t, seed| {
        let r = &t.raw;
        Ok(Box::new(Backprop::new(
            chip,
            layers,
            r.lr as f32,
            r.init_scale as f32,
            seed,
        )?))
    }),
    ("hge", |chip, layers, t, seed| {
        let r = &t.raw;
        Ok(Box::new(Hge::new(
            chip,
            layers,
            &r.hge,
            r.lr as f32,
            r.init_scale as f32,
            seed,
        )?))
    }),
    ("madem", |chip, layers, t, seed| {
        let r = &t.raw;
        Ok(Box::new(Madem::new(
            chip,
            layers,
            &r.madem,
            r.lr as f32,
            r.init_scale as f32,
            seed,
        )?))
    }),
    ("tiki-taka", |chip, layers, t, seed| {
        let r = &t.raw;
        Ok(Box::new(TikiTaka::new(
            chip,
            layers,
            &r.tiki_taka,
            r.lr as f32,
            r.init_scale as f32,
            seed,
        )?))
    }),
];

/// The names of [`ALGORITHMS`], in order.
pub const ALGORITHM_NAMES: &[&str] = &["backprop", "hge", "madem", "tiki-taka"];

/// Builds the algorithm `name` (one of [`ALGORITHM_NAMES`]), or `None`.
pub fn build_algorithm(
    name: &str,
    chip: &mut ChipSim,
    layers: &[LayerSpec],
    train: &Train,
    seed: u64,
) -> Option<Result<Box<dyn TrainingAlgorithm>>> {
    ALGORITHMS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, build)| build(chip, layers, train, seed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_list_the_registry() {
        let names: Vec<&str> = ALGORITHMS.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ALGORITHM_NAMES);
    }
}
