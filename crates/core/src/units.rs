//! Unit newtypes for public APIs. Inside hot loops the code works on plain
//! `f32` slices whose names carry the unit instead.

use serde::{Deserialize, Serialize};

macro_rules! unit {
    ($(#[$doc:meta])* $name:ident, $sym:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, PartialOrd, Serialize, Deserialize)]
        #[serde(transparent)]
        #[repr(transparent)]
        pub struct $name(pub f64);

        impl std::ops::Add for $name {
            type Output = $name;
            fn add(self, o: $name) -> $name {
                $name(self.0 + o.0)
            }
        }
        impl std::ops::Sub for $name {
            type Output = $name;
            fn sub(self, o: $name) -> $name {
                $name(self.0 - o.0)
            }
        }
        impl std::ops::Mul<f64> for $name {
            type Output = $name;
            fn mul(self, k: f64) -> $name {
                $name(self.0 * k)
            }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{} {}", self.0, $sym)
            }
        }
    };
}

unit!(
    /// Conductance in siemens.
    Siemens, "S");
unit!(
    /// Potential in volts.
    Volts, "V");
unit!(
    /// Current in amperes.
    Amperes, "A");
unit!(
    /// Power in watts.
    Watts, "W");
unit!(
    /// Duration in seconds (for parameters; simulation time is [`crate::SimTime`]).
    Seconds, "s");
unit!(
    /// Energy in joules.
    Joules, "J");

impl Siemens {
    /// From microsiemens.
    pub fn from_us(us: f64) -> Siemens {
        Siemens(us * 1e-6)
    }
    /// In microsiemens.
    pub fn us(self) -> f64 {
        self.0 * 1e6
    }
}

impl Joules {
    /// In picojoules.
    pub fn pj(self) -> f64 {
        self.0 * 1e12
    }
    /// From picojoules.
    pub fn from_pj(pj: f64) -> Joules {
        Joules(pj * 1e-12)
    }
}

impl std::ops::Mul<Siemens> for Volts {
    type Output = Amperes;
    fn mul(self, g: Siemens) -> Amperes {
        Amperes(self.0 * g.0)
    }
}
impl std::ops::Mul<Amperes> for Volts {
    type Output = Watts;
    fn mul(self, i: Amperes) -> Watts {
        Watts(self.0 * i.0)
    }
}
impl std::ops::Mul<Seconds> for Watts {
    type Output = Joules;
    fn mul(self, t: Seconds) -> Joules {
        Joules(self.0 * t.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ohmic_energy_chain() {
        // 0.2 V across 80 µS for 10 ns: I = 16 µA, P = 3.2 µW, E = 32 fJ.
        let i = Volts(0.2) * Siemens::from_us(80.0);
        let e = Volts(0.2) * i * Seconds(10e-9);
        assert!((i.0 - 16e-6).abs() < 1e-15);
        assert!((e.pj() - 0.032).abs() < 1e-12);
    }
}
