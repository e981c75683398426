//! Scatter plots as hand-written SVG: axes with ticks, grey points, an
//! optional highlighted polyline (a Pareto front, a mean per level). No
//! plotting dependency; the output is deterministic text.

use std::fmt::Write;

const W: f64 = 640.0;
const H: f64 = 420.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 60.0;

/// An x axis: numbers (linear or log) or categories.
pub(crate) enum XAxis {
    Numeric { log: bool },
    Categories(Vec<String>),
}

/// One plot.
pub(crate) struct Plot {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub x: XAxis,
    pub y_log: bool,
    /// All points: (x, y, tooltip). For categories x is the index.
    pub points: Vec<(f64, f64, String)>,
    /// The highlighted line (drawn in order) and its points.
    pub line: Vec<(f64, f64)>,
    pub line_label: String,
}

/// A number in at most 4 significant digits.
pub(crate) fn num(x: f64) -> String {
    if x == 0.0 {
        return "0".into();
    }
    let a = x.abs();
    if (1e-3..1e5).contains(&a) {
        let digits = (3 - a.log10().floor() as i32).max(0) as usize;
        let s = format!("{x:.digits$}");
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    } else {
        format!("{x:.2e}")
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

struct Scale {
    lo: f64,
    hi: f64,
    log: bool,
    from: f64,
    to: f64,
}

impl Scale {
    fn new(values: impl Iterator<Item = f64>, log: bool, from: f64, to: f64) -> Scale {
        let t = |v: f64| {
            if log {
                v.max(f64::MIN_POSITIVE).log10()
            } else {
                v
            }
        };
        let (mut lo, mut hi) = values
            .filter(|v| v.is_finite() && (!log || *v > 0.0))
            .map(t)
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
                (l.min(v), h.max(v))
            });
        if !lo.is_finite() {
            (lo, hi) = (0.0, 1.0);
        }
        if hi - lo < 1e-12 * lo.abs().max(1.0) {
            lo -= 0.5;
            hi += 0.5;
        } else {
            let pad = 0.05 * (hi - lo);
            lo -= pad;
            hi += pad;
        }
        Scale {
            lo,
            hi,
            log,
            from,
            to,
        }
    }

    fn map(&self, v: f64) -> f64 {
        let v = if self.log {
            v.max(f64::MIN_POSITIVE).log10()
        } else {
            v
        };
        self.from + (v - self.lo) / (self.hi - self.lo) * (self.to - self.from)
    }

    /// Tick values (in data units).
    fn ticks(&self) -> Vec<f64> {
        if self.log {
            let (a, b) = (self.lo.ceil() as i32, self.hi.floor() as i32);
            if b >= a {
                return (a..=b).map(|e| 10f64.powi(e)).collect();
            }
            return vec![10f64.powf((self.lo + self.hi) / 2.0)];
        }
        // Multiples of 1, 2 or 5 × 10^k, about five of them.
        let raw = (self.hi - self.lo) / 5.0;
        let mag = 10f64.powf(raw.log10().floor());
        let step = [1.0, 2.0, 5.0, 10.0]
            .iter()
            .map(|m| m * mag)
            .find(|s| *s >= raw)
            .unwrap_or(10.0 * mag);
        let first = (self.lo / step).ceil() as i64;
        let last = (self.hi / step).floor() as i64;
        (first..=last).map(|i| i as f64 * step).collect()
    }
}

impl Plot {
    /// The SVG document.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">"#
        );
        let _ = writeln!(s, r#"<rect width="{W}" height="{H}" fill="white"/>"#);
        let _ = writeln!(
            s,
            r#"<text x="{}" y="22" text-anchor="middle" font-size="15">{}</text>"#,
            W / 2.0,
            esc(&self.title)
        );
        let (x0, x1, y0, y1) = (LEFT, W - RIGHT, H - BOTTOM, TOP);
        let xs = match &self.x {
            XAxis::Numeric { log } => Scale::new(self.points.iter().map(|p| p.0), *log, x0, x1),
            XAxis::Categories(c) => Scale {
                lo: -0.5,
                hi: c.len() as f64 - 0.5,
                log: false,
                from: x0,
                to: x1,
            },
        };
        let ys = Scale::new(self.points.iter().map(|p| p.1), self.y_log, y0, y1);
        let _ = writeln!(
            s,
            r#"<rect x="{x0}" y="{y1}" width="{}" height="{}" fill="none" stroke="black"/>"#,
            x1 - x0,
            y0 - y1
        );
        let xticks: Vec<(f64, String)> = match &self.x {
            XAxis::Numeric { .. } => xs.ticks().into_iter().map(|t| (t, num(t))).collect(),
            XAxis::Categories(c) => c
                .iter()
                .enumerate()
                .map(|(i, l)| (i as f64, l.clone()))
                .collect(),
        };
        for (t, label) in xticks {
            let x = xs.map(t);
            let _ = writeln!(
                s,
                r#"<line x1="{x:.1}" y1="{y0}" x2="{x:.1}" y2="{}" stroke="black"/>"#,
                y0 + 5.0
            );
            let _ = writeln!(
                s,
                r#"<text x="{x:.1}" y="{}" text-anchor="middle">{}</text>"#,
                y0 + 18.0,
                esc(&label)
            );
        }
        for t in ys.ticks() {
            let y = ys.map(t);
            let _ = writeln!(
                s,
                r#"<line x1="{}" y1="{y:.1}" x2="{x0}" y2="{y:.1}" stroke="black"/>"#,
                x0 - 5.0
            );
            let _ = writeln!(
                s,
                r#"<text x="{}" y="{:.1}" text-anchor="end">{}</text>"#,
                x0 - 8.0,
                y + 4.0,
                num(t)
            );
        }
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
            (x0 + x1) / 2.0,
            H - 18.0,
            esc(&self.x_label)
        );
        let _ = writeln!(
            s,
            r#"<text x="18" y="{0}" text-anchor="middle" transform="rotate(-90 18 {0})">{1}</text>"#,
            (y0 + y1) / 2.0,
            esc(&self.y_label)
        );
        for (x, y, tip) in &self.points {
            let _ = writeln!(
                s,
                r##"<circle cx="{:.1}" cy="{:.1}" r="3.5" fill="#8c8c8c" fill-opacity="0.7"><title>{}</title></circle>"##,
                xs.map(*x),
                ys.map(*y),
                esc(tip)
            );
        }
        if !self.line.is_empty() {
            let pts: Vec<String> = self
                .line
                .iter()
                .map(|(x, y)| format!("{:.1},{:.1}", xs.map(*x), ys.map(*y)))
                .collect();
            let _ = writeln!(
                s,
                r##"<polyline points="{}" fill="none" stroke="#d62728" stroke-width="2"/>"##,
                pts.join(" ")
            );
            for (x, y) in &self.line {
                let _ = writeln!(
                    s,
                    r##"<circle cx="{:.1}" cy="{:.1}" r="4.5" fill="#d62728"/>"##,
                    xs.map(*x),
                    ys.map(*y)
                );
            }
            let _ = writeln!(
                s,
                r##"<text x="{}" y="{}" text-anchor="end" fill="#d62728">{}</text>"##,
                x1 - 6.0,
                y1 + 16.0,
                esc(&self.line_label)
            );
        }
        s.push_str("</svg>\n");
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_short() {
        assert_eq!(num(0.9625), "0.9625");
        assert_eq!(num(12.5), "12.5");
        assert_eq!(num(1234.0), "1234");
        assert_eq!(num(2.5e7), "2.50e7");
    }

    #[test]
    fn a_plot_is_well_formed_svg_with_every_point() {
        let p = Plot {
            title: "a < b".into(),
            x_label: "x".into(),
            y_label: "y".into(),
            x: XAxis::Numeric { log: true },
            y_log: false,
            points: vec![(1.0, 0.5, "p0".into()), (100.0, 0.9, "p1".into())],
            line: vec![(1.0, 0.5), (100.0, 0.9)],
            line_label: "front".into(),
        };
        let s = p.render();
        assert!(s.starts_with("<svg") && s.ends_with("</svg>\n"));
        assert_eq!(s.matches("<title>").count(), 2);
        assert!(s.contains("a &lt; b") && s.contains("<polyline"));
    }
}
