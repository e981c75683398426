//! Integer simulation time.

use serde::{Deserialize, Serialize};

/// Simulation time in integer picoseconds since the start of the run.
///
/// An `f64` would lose picoseconds after ~100 days of simulated time and
/// make event order depend on rounding; a `u64` of picoseconds spans 213 days.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
#[repr(transparent)]
pub struct SimTime(pub u64);

impl SimTime {
    /// Time zero.
    pub const ZERO: SimTime = SimTime(0);

    /// Picoseconds since the start.
    pub fn ps(self) -> u64 {
        self.0
    }

    /// Seconds since the start (for reports only).
    pub fn seconds(self) -> f64 {
        self.0 as f64 * 1e-12
    }
}

impl std::ops::Add<u64> for SimTime {
    type Output = SimTime;
    fn add(self, ps: u64) -> SimTime {
        SimTime(self.0 + ps)
    }
}

/// A component clock: converts cycles to picoseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Clock {
    period_ps: u64,
}

impl Clock {
    /// A clock of `hz`; the period is rounded to whole picoseconds.
    /// Returns `None` for a frequency outside 1 Hz ..= 1 THz.
    pub fn from_hz(hz: f64) -> Option<Clock> {
        if !(hz.is_finite() && (1.0..=1e12).contains(&hz)) {
            return None;
        }
        Some(Clock {
            period_ps: (1e12 / hz).round() as u64,
        })
    }

    /// The period in picoseconds.
    pub fn period_ps(self) -> u64 {
        self.period_ps
    }

    /// Duration of `n` cycles in picoseconds.
    pub fn cycles(self, n: u64) -> u64 {
        n * self.period_ps
    }

    /// Whole cycles elapsed at `t` (rounded down).
    pub fn cycles_at(self, t: SimTime) -> u64 {
        t.0 / self.period_ps
    }

    /// The number of cycles needed to cover `seconds` (rounded to whole
    /// picoseconds first, so 50 ns at 100 MHz is exactly 5 cycles; then
    /// rounded up, at least one).
    pub fn cycles_for(self, seconds: f64) -> u64 {
        let ps = (seconds * 1e12).round() as u64;
        ps.div_ceil(self.period_ps).max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_converts_cycles() {
        let c = Clock::from_hz(100e6).unwrap();
        assert_eq!(c.period_ps(), 10_000);
        assert_eq!(c.cycles(3), 30_000);
        assert_eq!(c.cycles_at(SimTime(29_999)), 2);
        assert_eq!(c.cycles_for(50e-9), 5);
        assert_eq!(c.cycles_for(51e-9), 6);
        assert!(Clock::from_hz(0.0).is_none());
        assert!(Clock::from_hz(f64::NAN).is_none());
    }
}
