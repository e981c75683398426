//! SVG plots (DESIGN.md §6) drawn with `plotters`' SVG backend: line
//! charts (a value per step), bar charts (one value per label, several
//! series side by side) and histograms (counts per bin).
//!
//! The backend writes text as SVG `<text>` elements: no font library is
//! linked (plotters' `ttf` feature is off) and a viewer renders the text
//! with its own fonts. Every series has a legend entry with its name, so a
//! reader (or a test) finds a series by its name in a `<text>` element.
//! A chart is a pure function of its data: the same data gives the same
//! bytes.

use crate::error::{Result, TraceError};
use plotters::coord::Shift;
use plotters::prelude::*;

/// Width and height of every plot, in SVG pixels.
pub const PLOT_SIZE: (u32, u32) = (960, 480);

/// Colours of the series, in order (repeated past the last).
const PALETTE: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

fn colour(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

fn plot_err(e: impl std::fmt::Display) -> TraceError {
    TraceError::Plot(e.to_string())
}

/// A named series of `(x, y)` points.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// The legend's name.
    pub name: String,
    /// The points, in drawing order; points with a non-finite coordinate
    /// (or `y ≤ 0` on a logarithmic axis) are left out.
    pub points: Vec<(f64, f64)>,
}

/// A line chart's title and axes.
#[derive(Clone, Debug, PartialEq)]
pub struct Axes {
    /// The title above the plot.
    pub title: String,
    /// The x axis' label.
    pub x_label: String,
    /// The y axis' label.
    pub y_label: String,
    /// A logarithmic y axis.
    pub log_y: bool,
}

/// The range `[lo, hi]` of `values`, widened where it is empty or a point;
/// on a logarithmic axis only positive values count.
fn range(values: impl Iterator<Item = f64>, log: bool, from_zero: bool) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.filter(|v| v.is_finite() && (!log || *v > 0.0)) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return if log { (0.1, 10.0) } else { (0.0, 1.0) };
    }
    if log {
        return (lo / 2.0, hi * 2.0);
    }
    if from_zero {
        lo = lo.min(0.0);
        hi = hi.max(0.0);
    }
    if hi - lo <= f64::EPSILON * hi.abs().max(1.0) {
        return (lo - 0.5 - lo.abs() * 0.1, hi + 0.5 + hi.abs() * 0.1);
    }
    let pad = (hi - lo) * 0.05;
    (
        if from_zero && lo == 0.0 {
            0.0
        } else {
            lo - pad
        },
        hi + pad,
    )
}

/// Renders `draw` into an SVG document of [`PLOT_SIZE`].
fn svg(draw: impl FnOnce(&DrawingArea<SVGBackend<'_>, Shift>) -> Result<()>) -> Result<String> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, PLOT_SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(plot_err)?;
        draw(&root)?;
        root.present().map_err(plot_err)?;
    }
    Ok(out)
}

/// A line chart of `series` on `axes`, as an SVG document.
pub fn line_chart(axes: &Axes, series: &[Series]) -> Result<String> {
    svg(|root| draw_lines(root, axes, series))
}

/// One panel of a multi-panel plot.
#[derive(Clone, Debug, PartialEq)]
pub enum Panel {
    /// A line chart ([`line_chart`]).
    Lines(Axes, Vec<Series>),
    /// A bar chart ([`bar_chart`]).
    Bars(Bars, Vec<Series>),
}

/// Several charts side by side (one panel each), as one SVG document.
pub fn panels(panels: &[Panel]) -> Result<String> {
    svg(|root| {
        let areas = root.split_evenly((1, panels.len().max(1)));
        for (area, panel) in areas.iter().zip(panels) {
            match panel {
                Panel::Lines(axes, series) => draw_lines(area, axes, series)?,
                Panel::Bars(bars, series) => draw_bars(area, bars, series)?,
            }
        }
        Ok(())
    })
}

/// A tick label of at most ~8 characters: plain for moderate magnitudes,
/// scientific otherwise.
fn compact(v: &f64) -> String {
    let a = v.abs();
    if a == 0.0 {
        "0".into()
    } else if !(1e-2..1e5).contains(&a) {
        format!("{v:.1e}")
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

fn keep(log: bool) -> impl Fn(&&(f64, f64)) -> bool {
    move |(x, y)| x.is_finite() && y.is_finite() && (!log || *y > 0.0)
}

fn draw_lines(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    axes: &Axes,
    series: &[Series],
) -> Result<()> {
    let (x0, x1) = range(
        series.iter().flat_map(|s| s.points.iter().map(|p| p.0)),
        false,
        false,
    );
    let (y0, y1) = range(
        series.iter().flat_map(|s| s.points.iter().map(|p| p.1)),
        axes.log_y,
        false,
    );
    let mut builder = ChartBuilder::on(area);
    builder
        .caption(&axes.title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70);
    macro_rules! body {
        ($chart:expr) => {{
            let mut chart = $chart;
            chart
                .configure_mesh()
                .x_desc(axes.x_label.as_str())
                .y_desc(axes.y_label.as_str())
                .x_label_formatter(&compact)
                .y_label_formatter(&compact)
                .draw()
                .map_err(plot_err)?;
            for (i, s) in series.iter().enumerate() {
                let c = colour(i);
                let pts: Vec<(f64, f64)> =
                    s.points.iter().filter(keep(axes.log_y)).copied().collect();
                chart
                    .draw_series(LineSeries::new(pts, c.stroke_width(2)))
                    .map_err(plot_err)?
                    .label(s.name.as_str())
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 16, y)], c.stroke_width(2))
                    });
            }
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .draw()
                .map_err(plot_err)?;
        }};
    }
    if axes.log_y {
        body!(builder
            .build_cartesian_2d(x0..x1, (y0..y1).log_scale())
            .map_err(plot_err)?);
    } else {
        body!(builder
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(plot_err)?);
    }
    Ok(())
}

/// A bar chart's title, bar labels and value axis.
#[derive(Clone, Debug, PartialEq)]
pub struct Bars {
    /// The title above the plot.
    pub title: String,
    /// One label per bar position, left to right.
    pub labels: Vec<String>,
    /// The value axis' label.
    pub y_label: String,
    /// A logarithmic value axis (bars start at its bottom).
    pub log_y: bool,
}

/// A bar chart: at each label's position one bar per series (its
/// `points` are `(position index, value)`), side by side.
pub fn bar_chart(bars: &Bars, series: &[Series]) -> Result<String> {
    svg(|root| draw_bars(root, bars, series))
}

fn draw_bars(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    bars: &Bars,
    series: &[Series],
) -> Result<()> {
    let n = bars.labels.len().max(1);
    let (y0, y1) = range(
        series.iter().flat_map(|s| s.points.iter().map(|p| p.1)),
        bars.log_y,
        true,
    );
    let labels = bars.labels.clone();
    let label_of = move |x: &f64| -> String {
        let i = x.round();
        if (x - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < labels.len() {
            labels[i as usize].clone()
        } else {
            String::new()
        }
    };
    let k = series.len().max(1) as f64;
    let width = 0.8 / k;
    let mut builder = ChartBuilder::on(area);
    builder
        .caption(&bars.title, ("sans-serif", 16))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70);
    let xr = -0.5..(n as f64 - 0.5);
    macro_rules! body {
        ($chart:expr, $base:expr) => {{
            let mut chart = $chart;
            chart
                .configure_mesh()
                .disable_x_mesh()
                .x_labels(n + 1)
                .x_label_formatter(&label_of)
                .x_label_style(("sans-serif", 10))
                .y_label_formatter(&compact)
                .y_desc(bars.y_label.as_str())
                .draw()
                .map_err(plot_err)?;
            for (j, s) in series.iter().enumerate() {
                let c = colour(j);
                let left = -0.4 + width * j as f64;
                let rects: Vec<Rectangle<(f64, f64)>> = s
                    .points
                    .iter()
                    .filter(keep(bars.log_y))
                    .map(|&(i, v)| {
                        let x = i + left;
                        Rectangle::new([(x, $base), (x + width, v)], c.filled())
                    })
                    .collect();
                chart
                    .draw_series(rects)
                    .map_err(plot_err)?
                    .label(s.name.as_str())
                    .legend(move |(x, y)| {
                        Rectangle::new([(x, y - 5), (x + 12, y + 5)], c.filled())
                    });
            }
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .draw()
                .map_err(plot_err)?;
        }};
    }
    if bars.log_y {
        body!(
            builder
                .build_cartesian_2d(xr, (y0..y1).log_scale())
                .map_err(plot_err)?,
            y0
        );
    } else {
        body!(
            builder.build_cartesian_2d(xr, y0..y1).map_err(plot_err)?,
            0.0
        );
    }
    Ok(())
}

/// A histogram of `counts[i]` values in bin `[edges[i], edges[i + 1])`,
/// drawn as one series named `name`.
pub fn histogram(axes: &Axes, name: &str, edges: &[f64], counts: &[u64]) -> Result<String> {
    if edges.len() != counts.len() + 1 {
        return Err(TraceError::Plot(format!(
            "histogram: {} edges for {} bins; expected one more edge than bins",
            edges.len(),
            counts.len()
        )));
    }
    svg(|root| {
        let (x0, x1) = range(edges.iter().copied(), false, false);
        let (y0, y1) = range(counts.iter().map(|&c| c as f64), axes.log_y, !axes.log_y);
        let mut builder = ChartBuilder::on(root);
        builder
            .caption(&axes.title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70);
        macro_rules! body {
            ($chart:expr, $base:expr) => {{
                let mut chart = $chart;
                chart
                    .configure_mesh()
                    .x_desc(axes.x_label.as_str())
                    .y_desc(axes.y_label.as_str())
                    .x_label_formatter(&compact)
                    .y_label_formatter(&compact)
                    .draw()
                    .map_err(plot_err)?;
                let c = colour(0);
                let rects: Vec<Rectangle<(f64, f64)>> = counts
                    .iter()
                    .enumerate()
                    .filter(|(_, &n)| n > 0)
                    .map(|(i, &n)| {
                        Rectangle::new([(edges[i], $base), (edges[i + 1], n as f64)], c.filled())
                    })
                    .collect();
                chart
                    .draw_series(rects)
                    .map_err(plot_err)?
                    .label(name)
                    .legend(move |(x, y)| {
                        Rectangle::new([(x, y - 5), (x + 12, y + 5)], c.filled())
                    });
                chart
                    .configure_series_labels()
                    .background_style(WHITE.mix(0.8))
                    .border_style(BLACK)
                    .draw()
                    .map_err(plot_err)?;
            }};
        }
        if axes.log_y {
            body!(
                builder
                    .build_cartesian_2d(x0..x1, (y0..y1).log_scale())
                    .map_err(plot_err)?,
                y0
            );
        } else {
            body!(
                builder
                    .build_cartesian_2d(x0..x1, y0..y1)
                    .map_err(plot_err)?,
                0.0
            );
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn axes(log_y: bool) -> Axes {
        Axes {
            title: "T".into(),
            x_label: "step".into(),
            y_label: "pJ".into(),
            log_y,
        }
    }

    /// Every text of `svg` and the number of elements named `tag`.
    fn parse(svg: &str, tag: &str) -> (Vec<String>, usize) {
        let doc = roxmltree::Document::parse(svg).expect("the plot is well-formed XML");
        assert_eq!(doc.root_element().tag_name().name(), "svg");
        let texts = doc
            .descendants()
            .filter(|n| n.has_tag_name("text"))
            .filter_map(|n| n.text().map(|t| t.trim().to_string()))
            .collect();
        let n = doc.descendants().filter(|n| n.has_tag_name(tag)).count();
        (texts, n)
    }

    #[test]
    fn line_chart_names_each_series_and_draws_a_line_for_it() {
        let s = |name: &str, k: f64| Series {
            name: name.into(),
            points: (0..10).map(|i| (i as f64, k * (i + 1) as f64)).collect(),
        };
        for log in [false, true] {
            let svg = line_chart(&axes(log), &[s("eapu", 1.0), s("bp", 100.0)]).unwrap();
            let (texts, lines) = parse(&svg, "polyline");
            for want in ["T", "step", "pJ", "eapu", "bp"] {
                assert!(texts.iter().any(|t| t == want), "{want} not in {texts:?}");
            }
            assert!(lines >= 2, "{lines} polylines");
        }
    }

    #[test]
    fn bar_chart_labels_every_position_and_draws_every_bar() {
        let bars = Bars {
            title: "energy".into(),
            labels: vec!["dac".into(), "adc".into(), "digital".into()],
            y_label: "pJ".into(),
            log_y: false,
        };
        let a = Series {
            name: "eapu".into(),
            points: vec![(0.0, 1.0), (1.0, 2.0), (2.0, 3.0)],
        };
        let b = Series {
            name: "bp".into(),
            points: vec![(0.0, 2.0), (1.0, f64::NAN), (2.0, 5.0)],
        };
        let svg = bar_chart(&bars, &[a.clone(), b.clone()]).unwrap();
        let (texts, rects) = parse(&svg, "rect");
        for want in ["energy", "dac", "adc", "digital", "eapu", "bp"] {
            assert!(texts.iter().any(|t| t == want), "{want} not in {texts:?}");
        }
        // Background, plot area, legend box and its two swatches, and the
        // five finite bars.
        assert!(rects >= 5 + 2, "{rects}");
        let same = bar_chart(&bars, &[a, b]).unwrap();
        assert_eq!(svg, same, "a plot is a pure function of its data");
    }

    #[test]
    fn histogram_checks_its_edges() {
        let svg = histogram(&axes(false), "cells", &[0.0, 1.0, 2.0], &[5, 7]).unwrap();
        let (texts, rects) = parse(&svg, "rect");
        assert!(texts.iter().any(|t| t == "cells"));
        assert!(rects >= 2);
        let e = histogram(&axes(false), "cells", &[0.0, 1.0], &[5, 7]).unwrap_err();
        assert!(e.to_string().contains("edges"), "{e}");
    }
}
