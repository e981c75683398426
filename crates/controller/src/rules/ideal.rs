//! `ideal` — digital floating point, no device: the request is applied
//! exactly (the accuracy ceiling). It has no parameter section.

use crate::{RuleContext, RuleInput, RuleParams, UpdateRule};
use aimsim_core::config::Check;
use aimsim_core::Result;
use aimsim_device::DeviceModel;
use serde::{Deserialize, Serialize};

/// `ideal` has no parameters and no section in the chip file.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawIdeal {}

impl RuleParams for RawIdeal {
    const NAME: &'static str = "ideal";
    const HAS_SECTION: bool = false;

    fn build(&self, _c: &Check, _model: &DeviceModel) -> Result<Box<dyn UpdateRule>> {
        Ok(Box::new(Ideal))
    }
}

/// Digital floating point: the request is applied exactly, off-device.
#[derive(Clone, Debug)]
pub struct Ideal;

impl UpdateRule for Ideal {
    fn name(&self) -> &str {
        RawIdeal::NAME
    }

    fn uses_device(&self) -> bool {
        false
    }

    fn decide(&mut self, input: &RuleInput<'_>, out: &mut [f32], _ctx: &mut RuleContext<'_>) {
        out.copy_from_slice(input.requested_us);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rule::testing::decide_plain;
    use aimsim_core::stream;

    #[test]
    fn ideal_copies_the_request_at_no_digital_cost() {
        let mut out = [9.0; 3];
        let s = decide_plain(&mut Ideal, &[0.1, -0.2, 0.0], &mut out, &mut stream(1, "t"));
        assert_eq!(out, [0.1, -0.2, 0.0]);
        assert_eq!(s, crate::DecisionStats::default());
        assert!(!Ideal.uses_device());
    }
}
