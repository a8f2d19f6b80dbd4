//! Line charts of experiment results (loss curves, a metric against a swept parameter) as PNG
//! and SVG, drawn like the heat maps: embedded font for PNG text, `monospace` in SVG, and
//! deterministic output.
//!
//! A chart is [`CHART_WIDTH`]` x `[`CHART_HEIGHT`] pixels: the title on top, the plot area with
//! its axes, ticks and axis labels, and a legend to the right of the plot area. Each series gets
//! one colour ([`series_colour`]); its points, sorted by x, are joined by a line and marked with
//! a small square, with vertical error bars where given.

use super::canvas::{Canvas, FRAME, INK};
use super::colormap::{hex, Rgb};
use super::error::{check_len, VizError};
use super::font::{text_width, GLYPH_HEIGHT};
use super::heatmap::{sat, truncate, LABEL_GAP, MARGIN, TICK_LEN, TITLE_GAP, TITLE_SCALE};
use super::svg::{document, escape};

/// Width of every rendered chart, in pixels.
pub const CHART_WIDTH: u32 = 640;
/// Height of every rendered chart, in pixels.
pub const CHART_HEIGHT: u32 = 400;

/// Longest title drawn; longer ones are cut with `'…'`.
const TITLE_CHARS: usize = 50;
/// Longest axis label drawn.
const AXIS_LABEL_CHARS: usize = 50;
/// Longest legend entry drawn.
const LEGEND_CHARS: usize = 20;
/// How many ticks [`nice_ticks`] aims for on each axis.
const TARGET_TICKS: usize = 5;
/// Side of the square marker drawn at each point (odd, so it centres on the point's pixel).
const MARKER: u32 = 5;
/// Half-width of the caps of error bars.
const CAP: u32 = 3;
/// Width of a legend swatch.
const SWATCH: u32 = 10;
/// Padding inside the legend box.
const LEGEND_PAD: u32 = 5;
/// Height of one legend row.
const LEGEND_ROW: u32 = 12;
/// Space between the plot area and the legend box.
const LEGEND_GAP: u32 = 12;
/// SVG font size whose monospace glyphs advance about 6 pixels, like the PNG font.
const SVG_FONT: u32 = 10;

/// Series colours: matplotlib's `tab10` cycle.
const PALETTE: [Rgb; 10] = [
    [0x1f, 0x77, 0xb4],
    [0xff, 0x7f, 0x0e],
    [0x2c, 0xa0, 0x2c],
    [0xd6, 0x27, 0x28],
    [0x94, 0x67, 0xbd],
    [0x8c, 0x56, 0x4b],
    [0xe3, 0x77, 0xc2],
    [0x7f, 0x7f, 0x7f],
    [0xbc, 0xbd, 0x22],
    [0x17, 0xbe, 0xcf],
];

/// The colour of series number `index` (0-based): matplotlib's ten-colour `tab10` cycle
/// (`#1f77b4` blue, `#ff7f0e` orange, `#2ca02c` green, ...), repeating after ten series.
pub fn series_colour(index: usize) -> Rgb {
    PALETTE[index % PALETTE.len()]
}

/// One line of a [`Chart`]: labelled `(x, y)` points, optionally with error bars.
///
/// Points may come in any order; they are drawn sorted by x. A point with a NaN coordinate is
/// skipped (its neighbours are joined directly). `error`, when given, holds one value per point:
/// the ± spread (e.g. one standard deviation) drawn as a vertical bar from `y - e` to `y + e`;
/// a NaN entry draws no bar.
///
/// PyTorch equivalent: one call of matplotlib `plt.plot(xs, ys, label=...)` (or
/// `plt.errorbar(xs, ys, yerr=...)` with `error`).
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Name shown in the legend.
    pub label: String,
    /// The `(x, y)` data points.
    pub points: Vec<(f64, f64)>,
    /// ± error per point (same length as `points`, each `>= 0` or NaN), drawn as vertical bars.
    pub error: Option<Vec<f64>>,
}

impl Series {
    /// A series without error bars.
    pub fn new(label: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Series {
            label: label.into(),
            points,
            error: None,
        }
    }
}

/// A line/point chart: title, axis labels and one or more [`Series`], rendered by
/// [`render_chart_png`] and [`render_chart_svg`] with the geometry of [`chart_layout`].
///
/// Axis ranges come from the data: the smallest and largest value, widened by 5% of their span on
/// each side (the y range includes the error bars); when all values on an axis are equal, the
/// range is that value ± 1. With `log_x` the x axis is logarithmic (base 10) and the padding and
/// ± 1 apply to `log10(x)`; every x must then be positive.
///
/// PyTorch equivalent: matplotlib `plt.plot` per series plus `plt.title`, `plt.xlabel`,
/// `plt.ylabel`, `plt.legend` (and `plt.xscale("log")` for `log_x`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Chart {
    /// Title drawn on top (cut to 50 characters).
    pub title: String,
    /// Label under the x axis (cut to 50 characters).
    pub x_label: String,
    /// Label left of the y axis, reading bottom to top (cut to 50 characters).
    pub y_label: String,
    /// The lines, coloured by [`series_colour`] in order; legend entries cut to 20 characters.
    pub series: Vec<Series>,
    /// Whether the x axis is logarithmic (base 10).
    pub log_x: bool,
    /// Names of a categorical x axis (empty: numeric). Point `x = i` sits at the `i`-th name's
    /// tick, so every x must be an index into this list (e.g. one FFN activation per tick).
    pub x_categories: Vec<String>,
}

impl Chart {
    /// Checks that the chart can be drawn.
    ///
    /// Errors: [`VizError::Empty`] when there is no series, or no point with both coordinates
    /// non-NaN in any series; [`VizError::NonFinite`] for an infinite coordinate or error value
    /// (NaN is allowed: such points are skipped); [`VizError::SizeMismatch`] when `error` is not
    /// one value per point; [`VizError::InvalidArgument`] for a negative error value, or, with
    /// `log_x`, an x that is `<= 0`; on a categorical axis, an x that is not an index into
    /// `x_categories`, or `log_x`.
    pub fn validate(&self) -> Result<(), VizError> {
        if self.log_x && !self.x_categories.is_empty() {
            return Err(VizError::InvalidArgument {
                name: "log_x",
                value: "true".into(),
                requirement: "a categorical x axis cannot be logarithmic",
            });
        }
        if self.series.is_empty() {
            return Err(VizError::Empty {
                what: "chart series".to_string(),
            });
        }
        let mut drawable = 0usize;
        for s in &self.series {
            for (index, &(x, y)) in s.points.iter().enumerate() {
                for v in [x, y] {
                    if v.is_infinite() {
                        return Err(VizError::NonFinite {
                            what: format!("points of series '{}'", s.label),
                            index,
                            value: v as f32,
                        });
                    }
                }
                let categories = self.x_categories.len() as f64;
                if !self.x_categories.is_empty()
                    && !x.is_nan()
                    && (x.fract() != 0.0 || x < 0.0 || x >= categories)
                {
                    return Err(VizError::InvalidArgument {
                        name: "x",
                        value: x.to_string(),
                        requirement: "on a categorical axis x must index x_categories",
                    });
                }
                if self.log_x && x <= 0.0 {
                    return Err(VizError::InvalidArgument {
                        name: "x",
                        value: x.to_string(),
                        requirement: "x must be > 0 when log_x is set",
                    });
                }
                if !x.is_nan() && !y.is_nan() {
                    drawable += 1;
                }
            }
            if let Some(error) = &s.error {
                let what = format!("error bars of series '{}'", s.label);
                check_len(&what, s.points.len(), error.len())?;
                for (index, &e) in error.iter().enumerate() {
                    if e.is_infinite() {
                        return Err(VizError::NonFinite {
                            what,
                            index,
                            value: e as f32,
                        });
                    }
                    if e < 0.0 {
                        return Err(VizError::InvalidArgument {
                            name: "error",
                            value: e.to_string(),
                            requirement: "error bars must be >= 0",
                        });
                    }
                }
            }
        }
        if drawable == 0 {
            return Err(VizError::Empty {
                what: "chart data (no point without NaN)".to_string(),
            });
        }
        Ok(())
    }
}

/// Where things are in a rendered chart, in pixels from the top-left corner of the PNG (and of
/// the SVG's coordinate system), plus the axis ranges that map data to pixels.
///
/// The plot area covers the pixel columns `left..left + plot_width` and rows
/// `top..top + plot_height`; its grey frame lies just outside. The legend sits to its right.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChartLayout {
    /// x of the plot area's leftmost pixel column.
    pub left: u32,
    /// y of the plot area's top pixel row.
    pub top: u32,
    /// Width of the plot area.
    pub plot_width: u32,
    /// Height of the plot area.
    pub plot_height: u32,
    /// Width of the whole picture ([`CHART_WIDTH`]).
    pub width: u32,
    /// Height of the whole picture ([`CHART_HEIGHT`]).
    pub height: u32,
    /// Data x at the plot area's left edge.
    pub x_min: f64,
    /// Data x at the plot area's right edge.
    pub x_max: f64,
    /// Data y at the plot area's bottom edge.
    pub y_min: f64,
    /// Data y at the plot area's top edge.
    pub y_max: f64,
    /// Whether x maps logarithmically.
    pub log_x: bool,
}

impl ChartLayout {
    /// The pixel position `(column, row)` of data point `(x, y)`, unrounded: `x_min` maps to
    /// column `left`, `x_max` to `left + plot_width - 1` (linearly in `log10(x)` with `log_x`),
    /// `y_max` to row `top` and `y_min` to `top + plot_height - 1`. Rounding gives the pixel the
    /// PNG renderer draws the point's marker around.
    pub fn to_pixel(&self, x: f64, y: f64) -> (f64, f64) {
        let tx = |v: f64| if self.log_x { v.log10() } else { v };
        self.axis_to_pixel(tx(self.x_min), tx(self.x_max), tx(x), y)
    }

    /// [`Self::to_pixel`] with x already in axis space (`log10` with `log_x`), `x_lo..x_hi`
    /// being the axis-space range.
    fn axis_to_pixel(&self, x_lo: f64, x_hi: f64, tx: f64, y: f64) -> (f64, f64) {
        let fx = (tx - x_lo) / (x_hi - x_lo);
        let fy = (y - self.y_min) / (self.y_max - self.y_min);
        let w = f64::from(self.plot_width.saturating_sub(1));
        let h = f64::from(self.plot_height.saturating_sub(1));
        (
            f64::from(self.left) + fx * w,
            f64::from(self.top) + (1.0 - fy) * h,
        )
    }
}

/// The layout [`render_chart_png`] and [`render_chart_svg`] use for `chart`. It depends on the
/// labels and the axis ranges (tick labels set the left margin). For a chart that fails
/// [`Chart::validate`] it still gives a layout, built from the usable values only.
pub fn chart_layout(chart: &Chart) -> ChartLayout {
    plan(chart).layout
}

/// Evenly spaced "nice" tick values inside `[min, max]`, about `target` intervals apart.
///
/// The step is `m * 10^k` with `m` in {1, 2, 5}: the raw step `(max - min) / target` is written
/// as `r * 10^k` with `1 <= r < 10`, and `m` is 1 for `r < 1.5`, 2 for `r < 3`, 5 for `r < 7`,
/// else 1 with `k + 1`. The ticks are all multiples of the step within `[min, max]` (with a
/// tolerance of 1e-9 steps at both ends), computed as exact integer ratios so `0.6` is `0.6`.
/// So `(0, 1, 5)` gives `[0.0, 0.2, 0.4, 0.6, 0.8, 1.0]` and `(3, 97, 5)` gives
/// `[20.0, 40.0, 60.0, 80.0]`. `min == max` gives `[min]`; non-finite bounds, `max < min` or
/// `target == 0` give no ticks.
///
/// PyTorch equivalent: matplotlib's `MaxNLocator` picking the ticks of `plt.plot`'s axes.
pub fn nice_ticks(min: f64, max: f64, target: usize) -> Vec<f64> {
    if min.is_finite() && min == max {
        return vec![min];
    }
    nice_ticks_with_step(min, max, target)
        .map(|(ticks, _)| ticks)
        .unwrap_or_default()
}

/// The step of [`nice_ticks`] as `(m, k)` for `m * 10^k`.
fn nice_step(min: f64, max: f64, target: usize) -> Option<(i64, i32)> {
    if !(min.is_finite() && max.is_finite()) || max <= min || target == 0 {
        return None;
    }
    let raw = (max - min) / target as f64;
    if !raw.is_finite() || raw <= 0.0 {
        return None;
    }
    let mut k = raw.log10().floor() as i32;
    let r = raw / 10f64.powi(k);
    let m = if r < 1.5 {
        1
    } else if r < 3.0 {
        2
    } else if r < 7.0 {
        5
    } else {
        k += 1;
        1
    };
    Some((m, k))
}

/// `n * 10^k` as the correctly rounded ratio of exact integers where possible.
fn scaled(n: i64, k: i32) -> f64 {
    if k < 0 {
        n as f64 / 10f64.powi(-k)
    } else {
        n as f64 * 10f64.powi(k)
    }
}

/// [`nice_ticks`] plus the step's exponent `k` (for formatting labels).
fn nice_ticks_with_step(min: f64, max: f64, target: usize) -> Option<(Vec<f64>, i32)> {
    let (m, k) = nice_step(min, max, target)?;
    let step = scaled(m, k);
    let first = (min / step - 1e-9).ceil() as i64;
    let last = (max / step + 1e-9).floor() as i64;
    let ticks = (first..=last)
        .map(|i| scaled(i.saturating_mul(m), k))
        .collect();
    Some((ticks, k))
}

/// `v` as a tick label for a step of `m * 10^k`: enough decimals for the step, or scientific
/// notation for very large or small steps.
fn tick_label(v: f64, k: i32) -> String {
    if !(-5..=5).contains(&k) {
        format!("{v:e}")
    } else {
        format!("{v:.*}", (-k).max(0) as usize)
    }
}

/// Label of the decade `10^d`: plain for `-4 <= d <= 4`, else `1e{d}`.
fn decade_label(d: i64) -> String {
    match d {
        0..=4 => format!("1{}", "0".repeat(d as usize)),
        -4..=-1 => format!("0.{}1", "0".repeat((-d - 1) as usize)),
        _ => format!("1e{d}"),
    }
}

/// Ticks of a linear axis over `[lo, hi]`: `(position, label)`.
fn linear_ticks(lo: f64, hi: f64) -> Vec<(f64, String)> {
    match nice_ticks_with_step(lo, hi, TARGET_TICKS) {
        Some((ticks, k)) => ticks.into_iter().map(|v| (v, tick_label(v, k))).collect(),
        None => Vec::new(),
    }
}

/// Ticks of a log axis over `[lo, hi]` in `log10` space: `(log10 position, label)`. Whole
/// decades (every one, or every `m * 10^k`-th one) when at least two fit; otherwise nice linear
/// values placed logarithmically.
fn log_ticks(lo: f64, hi: f64) -> Vec<(f64, String)> {
    if let Some((m, k)) = nice_step(lo, hi, TARGET_TICKS) {
        let step = if k < 0 {
            1
        } else {
            m.saturating_mul(10i64.pow(k as u32))
        };
        let first = (lo / step as f64 - 1e-9).ceil() as i64;
        let last = (hi / step as f64 + 1e-9).floor() as i64;
        if last > first {
            return (first..=last)
                .map(|i| {
                    let d = i.saturating_mul(step);
                    (d as f64, decade_label(d))
                })
                .collect();
        }
    }
    match nice_ticks_with_step(10f64.powf(lo), 10f64.powf(hi), TARGET_TICKS) {
        Some((ticks, k)) => ticks
            .into_iter()
            .filter(|v| *v > 0.0)
            .map(|v| (v.log10(), tick_label(v, k)))
            .collect(),
        None => Vec::new(),
    }
}

/// `[lo, hi]` widened by 5% of its span on each side, or ± 1 when it is a single value;
/// `[0, 1]` without data.
fn padded(bounds: Option<(f64, f64)>) -> (f64, f64) {
    match bounds {
        None => (0.0, 1.0),
        Some((lo, hi)) if hi > lo => {
            let pad = 0.05 * (hi - lo);
            (lo - pad, hi + pad)
        }
        Some((lo, _)) => (lo - 1.0, lo + 1.0),
    }
}

/// Widens `bounds` to include `v`.
fn include(bounds: &mut Option<(f64, f64)>, v: f64) {
    if v.is_finite() {
        *bounds = Some(match *bounds {
            None => (v, v),
            Some((lo, hi)) => (lo.min(v), hi.max(v)),
        });
    }
}

/// The drawable points of `series` as `(axis-space x, y, error)`, sorted by x: both coordinates
/// finite (and x > 0 on a log axis); error 0 where absent or unusable.
fn drawable(series: &Series, log_x: bool) -> Vec<(f64, f64, f64)> {
    let mut out: Vec<(f64, f64, f64)> = series
        .points
        .iter()
        .enumerate()
        .filter(|(_, (x, y))| x.is_finite() && y.is_finite() && (!log_x || *x > 0.0))
        .map(|(i, &(x, y))| {
            let e = series
                .error
                .as_ref()
                .and_then(|err| err.get(i).copied())
                .filter(|e| e.is_finite() && *e >= 0.0)
                .unwrap_or(0.0);
            (if log_x { x.log10() } else { x }, y, e)
        })
        .collect();
    out.sort_by(|a, b| a.0.total_cmp(&b.0));
    out
}

/// Everything a renderer needs to place.
#[derive(Debug, Clone)]
struct Plan {
    layout: ChartLayout,
    /// The x range in axis space (`log10` with `log_x`).
    x_lo: f64,
    x_hi: f64,
    title: String,
    title_x: u32,
    x_label: String,
    y_label: String,
    x_ticks: Vec<(f64, String)>,
    y_ticks: Vec<(f64, String)>,
    /// Drawable points per series, see [`drawable`].
    series: Vec<Vec<(f64, f64, f64)>>,
    legend: Vec<String>,
    legend_x: u32,
    legend_y: u32,
    legend_w: u32,
    legend_h: u32,
}

impl Plan {
    /// Pixel position of an axis-space point.
    fn px(&self, tx: f64, y: f64) -> (f64, f64) {
        self.layout.axis_to_pixel(self.x_lo, self.x_hi, tx, y)
    }
}

fn widest(labels: &[(f64, String)]) -> u32 {
    labels
        .iter()
        .map(|(_, l)| text_width(l, 1))
        .max()
        .unwrap_or(0)
}

fn plan(chart: &Chart) -> Plan {
    let series: Vec<_> = chart
        .series
        .iter()
        .map(|s| drawable(s, chart.log_x))
        .collect();
    let (mut xb, mut yb) = (None, None);
    for &(x, y, e) in series.iter().flatten() {
        include(&mut xb, x);
        include(&mut yb, y - e);
        include(&mut yb, y + e);
    }
    let categorical = !chart.x_categories.is_empty();
    let (x_lo, x_hi) = if categorical {
        // half a category of room on either side of the first and last tick
        (-0.5, chart.x_categories.len() as f64 - 0.5)
    } else {
        padded(xb)
    };
    let (y_lo, y_hi) = padded(yb);
    let x_ticks = if categorical {
        chart
            .x_categories
            .iter()
            .enumerate()
            .map(|(i, name)| (i as f64, truncate(name, LEGEND_CHARS)))
            .collect()
    } else if chart.log_x {
        log_ticks(x_lo, x_hi)
    } else {
        linear_ticks(x_lo, x_hi)
    };
    let y_ticks = linear_ticks(y_lo, y_hi);

    let title = truncate(&chart.title, TITLE_CHARS);
    let x_label = truncate(&chart.x_label, AXIS_LABEL_CHARS);
    let y_label = truncate(&chart.y_label, AXIS_LABEL_CHARS);
    let legend: Vec<String> = chart
        .series
        .iter()
        .map(|s| truncate(&s.label, LEGEND_CHARS))
        .collect();

    let title_h = if title.is_empty() {
        0
    } else {
        GLYPH_HEIGHT * TITLE_SCALE + TITLE_GAP
    };
    // Room above the plot area for half of the top y tick label.
    let top = MARGIN + title_h + GLYPH_HEIGHT;
    let y_label_w = if y_label.is_empty() {
        0
    } else {
        GLYPH_HEIGHT + LABEL_GAP
    };
    let left = MARGIN + y_label_w + widest(&y_ticks) + LABEL_GAP + TICK_LEN + 1;
    let x_label_h = if x_label.is_empty() {
        0
    } else {
        GLYPH_HEIGHT + LABEL_GAP
    };
    let below = 1 + TICK_LEN + LABEL_GAP + GLYPH_HEIGHT + x_label_h + MARGIN;
    let rows = sat(legend.len() as u64);
    let legend_w = 2 * LEGEND_PAD
        + SWATCH
        + LABEL_GAP
        + legend.iter().map(|l| text_width(l, 1)).max().unwrap_or(0);
    let legend_h = (2 * LEGEND_PAD + rows.saturating_mul(LEGEND_ROW))
        .saturating_sub(LEGEND_ROW - GLYPH_HEIGHT)
        .max(2 * LEGEND_PAD);
    let legend_x = CHART_WIDTH.saturating_sub(MARGIN + legend_w);
    let right_gap = LEGEND_GAP + widest(&x_ticks) / 2;
    let plot_width = legend_x.saturating_sub(left + right_gap).max(2);
    let plot_height = CHART_HEIGHT.saturating_sub(top + below).max(2);
    let layout = ChartLayout {
        left,
        top,
        plot_width,
        plot_height,
        width: CHART_WIDTH,
        height: CHART_HEIGHT,
        x_min: if chart.log_x { 10f64.powf(x_lo) } else { x_lo },
        x_max: if chart.log_x { 10f64.powf(x_hi) } else { x_hi },
        y_min: y_lo,
        y_max: y_hi,
        log_x: chart.log_x,
    };
    Plan {
        layout,
        x_lo,
        x_hi,
        title_x: CHART_WIDTH.saturating_sub(text_width(&title, TITLE_SCALE)) / 2,
        title,
        x_label,
        y_label,
        x_ticks,
        y_ticks,
        series,
        legend,
        legend_x,
        legend_y: top,
        legend_w,
        legend_h,
    }
}

/// Draws a one-pixel line from `a` to `b` (pixel coordinates, rounded per step).
fn draw_line(canvas: &mut Canvas, a: (f64, f64), b: (f64, f64), colour: Rgb) {
    let len = (b.0 - a.0).abs().max((b.1 - a.1).abs()).ceil();
    let n = if len.is_finite() {
        (len.min(1e5) as i64).max(1)
    } else {
        1
    };
    for i in 0..=n {
        let t = i as f64 / n as f64;
        let x = a.0 + (b.0 - a.0) * t;
        let y = a.1 + (b.1 - a.1) * t;
        canvas.set(x.round() as i64, y.round() as i64, colour);
    }
}

/// Renders `chart` as an 8-bit RGB PNG of [`CHART_WIDTH`]` x `[`CHART_HEIGHT`] pixels with the
/// geometry of [`chart_layout`]: per series (in order, later ones on top) the line joining its
/// points sorted by x, then its error bars (vertical, with caps), then a 5x5 square marker
/// centred on each point's rounded [`ChartLayout::to_pixel`]. Fails as [`Chart::validate`].
/// Deterministic.
///
/// PyTorch equivalent: matplotlib `plt.plot(...)`, then `plt.savefig("chart.png")`.
pub fn render_chart_png(chart: &Chart) -> Result<Vec<u8>, VizError> {
    draw(chart)?.into_png()
}

/// The PNG picture of `chart`, before encoding.
fn draw(chart: &Chart) -> Result<Canvas, VizError> {
    chart.validate()?;
    let p = plan(chart);
    let l = p.layout;
    let mut c = Canvas::new(l.width, l.height)?;
    let (left, top) = (i64::from(l.left), i64::from(l.top));
    let (pw, ph) = (l.plot_width, l.plot_height);
    let glyph = i64::from(GLYPH_HEIGHT);
    c.text(
        i64::from(p.title_x),
        i64::from(MARGIN),
        &p.title,
        TITLE_SCALE,
        INK,
    );
    c.outline(left, top, pw, ph, FRAME);
    let axis_y = top + i64::from(ph); // the frame's bottom row
    for (pos, label) in &p.x_ticks {
        let x = p.px(*pos, l.y_min).0.round() as i64;
        c.fill_rect(x, axis_y + 1, 1, TICK_LEN, INK);
        let w = i64::from(text_width(label, 1));
        let ty = axis_y + 1 + i64::from(TICK_LEN + LABEL_GAP);
        c.text(x - w / 2, ty, label, 1, INK);
    }
    let axis_x = left - 1; // the frame's left column
    for (pos, label) in &p.y_ticks {
        let y = p.px(p.x_lo, *pos).1.round() as i64;
        c.fill_rect(axis_x - i64::from(TICK_LEN), y, TICK_LEN, 1, INK);
        let w = i64::from(text_width(label, 1));
        let tx = axis_x - i64::from(TICK_LEN + LABEL_GAP) - w;
        c.text(tx, y - glyph / 2, label, 1, INK);
    }
    let xw = text_width(&p.x_label, 1);
    c.text(
        left + i64::from(pw.saturating_sub(xw) / 2),
        i64::from(l.height - MARGIN - GLYPH_HEIGHT),
        &p.x_label,
        1,
        INK,
    );
    let yw = i64::from(text_width(&p.y_label, 1));
    c.text_up(
        i64::from(MARGIN),
        top + (i64::from(ph) + yw) / 2,
        &p.y_label,
        INK,
    );
    let half = i64::from(MARKER / 2);
    for (i, points) in p.series.iter().enumerate() {
        let colour = series_colour(i);
        let pixels: Vec<_> = points.iter().map(|&(x, y, _)| p.px(x, y)).collect();
        for pair in pixels.windows(2) {
            draw_line(&mut c, pair[0], pair[1], colour);
        }
        for &(x, y, e) in points.iter().filter(|pt| pt.2 > 0.0) {
            let hi = p.px(x, y + e);
            let lo = p.px(x, y - e);
            draw_line(&mut c, hi, lo, colour);
            let cx = hi.0.round() as i64 - i64::from(CAP);
            c.fill_rect(cx, hi.1.round() as i64, 2 * CAP + 1, 1, colour);
            c.fill_rect(cx, lo.1.round() as i64, 2 * CAP + 1, 1, colour);
        }
        for &(x, y) in &pixels {
            let (x, y) = (x.round() as i64, y.round() as i64);
            c.fill_rect(x - half, y - half, MARKER, MARKER, colour);
        }
    }
    let (lx, ly) = (i64::from(p.legend_x), i64::from(p.legend_y));
    c.outline(lx, ly, p.legend_w, p.legend_h, FRAME);
    for (i, label) in p.legend.iter().enumerate() {
        let row = ly + i64::from(LEGEND_PAD) + i as i64 * i64::from(LEGEND_ROW);
        let sx = lx + i64::from(LEGEND_PAD);
        c.fill_rect(sx, row, SWATCH, GLYPH_HEIGHT, series_colour(i));
        c.text(sx + i64::from(SWATCH + LABEL_GAP), row, label, 1, INK);
    }
    Ok(c)
}

/// Renders `chart` as a standalone SVG document (starting with `<svg`) with the geometry of
/// [`chart_layout`], like [`render_chart_png`]: each series is one `<g>` holding exactly one
/// `<polyline>` (its line, with a `<title>` tooltip of the full label), one `<path>` of error
/// bars when it has any, and one `<rect>` marker per point. Texts are truncated as in the PNG and
/// XML-escaped. Fails as [`Chart::validate`]. Deterministic.
///
/// PyTorch equivalent: matplotlib `plt.plot(...)`, then `plt.savefig("chart.svg")`.
pub fn render_chart_svg(chart: &Chart) -> Result<String, VizError> {
    chart.validate()?;
    let p = plan(chart);
    let l = p.layout;
    let mut out = String::new();
    let (left, top, pw, ph) = (l.left, l.top, l.plot_width, l.plot_height);
    let ink = hex(INK);
    let frame = hex(FRAME);
    let half_glyph = f64::from(GLYPH_HEIGHT) / 2.0;
    if !p.title.is_empty() {
        out.push_str(&format!(
            "<text x=\"{}\" y=\"{}\" font-size=\"{}\">{}</text>\n",
            p.title_x,
            MARGIN + GLYPH_HEIGHT * TITLE_SCALE,
            SVG_FONT * TITLE_SCALE,
            escape(&p.title)
        ));
    }
    out.push_str(&frame_path(left, top, pw, ph, &frame));
    let axis_y = top + ph + 1;
    for (pos, label) in &p.x_ticks {
        let x = p.px(*pos, l.y_min).0.round() + 0.5;
        let ty = axis_y + TICK_LEN + LABEL_GAP + GLYPH_HEIGHT;
        out.push_str(&format!(
            "<path d=\"M{x} {axis_y}v{TICK_LEN}\" stroke=\"{ink}\"/>\
             <text x=\"{x}\" y=\"{ty}\" font-size=\"{SVG_FONT}\" text-anchor=\"middle\">{}</text>\n",
            escape(label)
        ));
    }
    let axis_x = left - 1;
    for (pos, label) in &p.y_ticks {
        let y = p.px(p.x_lo, *pos).1.round() + 0.5;
        let tx = axis_x - TICK_LEN - LABEL_GAP;
        out.push_str(&format!(
            "<path d=\"M{axis_x} {y}h-{TICK_LEN}\" stroke=\"{ink}\"/>\
             <text x=\"{tx}\" y=\"{}\" font-size=\"{SVG_FONT}\" text-anchor=\"end\">{}</text>\n",
            y + half_glyph - 0.5,
            escape(label)
        ));
    }
    if !p.x_label.is_empty() {
        out.push_str(&format!(
            "<text x=\"{}\" y=\"{}\" font-size=\"{SVG_FONT}\" text-anchor=\"middle\">{}</text>\n",
            f64::from(left) + f64::from(pw) / 2.0,
            l.height - MARGIN,
            escape(&p.x_label)
        ));
    }
    if !p.y_label.is_empty() {
        let (x, y) = (MARGIN + GLYPH_HEIGHT, f64::from(top) + f64::from(ph) / 2.0);
        out.push_str(&format!(
            "<text x=\"{x}\" y=\"{y}\" font-size=\"{SVG_FONT}\" text-anchor=\"middle\" \
             transform=\"rotate(-90 {x} {y})\">{}</text>\n",
            escape(&p.y_label)
        ));
    }
    for (i, (points, s)) in p.series.iter().zip(&chart.series).enumerate() {
        let colour = hex(series_colour(i));
        let centre = |x: f64, y: f64| {
            let (px, py) = p.px(x, y);
            (px.round() + 0.5, py.round() + 0.5)
        };
        out.push_str(&format!("<g fill=\"{colour}\">\n"));
        let coords: Vec<String> = points
            .iter()
            .map(|&(x, y, _)| {
                let (px, py) = centre(x, y);
                format!("{px},{py}")
            })
            .collect();
        out.push_str(&format!(
            "<polyline points=\"{}\" fill=\"none\" stroke=\"{colour}\"><title>{}</title></polyline>\n",
            coords.join(" "),
            escape(&s.label)
        ));
        let bars: String = points
            .iter()
            .filter(|pt| pt.2 > 0.0)
            .map(|&(x, y, e)| {
                let (bx, hi) = centre(x, y + e);
                let lo = centre(x, y - e).1;
                let (cap0, cap) = (bx - f64::from(CAP), 2 * CAP);
                format!("M{bx} {hi}V{lo}M{cap0} {hi}h{cap}M{cap0} {lo}h{cap}")
            })
            .collect();
        if !bars.is_empty() {
            out.push_str(&format!(
                "<path d=\"{bars}\" fill=\"none\" stroke=\"{colour}\"/>\n"
            ));
        }
        for &(x, y, _) in points {
            let (px, py) = centre(x, y);
            let h = f64::from(MARKER) / 2.0;
            out.push_str(&format!(
                "<rect x=\"{}\" y=\"{}\" width=\"{MARKER}\" height=\"{MARKER}\"/>\n",
                px - h,
                py - h
            ));
        }
        out.push_str("</g>\n");
    }
    out.push_str(&frame_path(
        p.legend_x, p.legend_y, p.legend_w, p.legend_h, &frame,
    ));
    for (i, label) in p.legend.iter().enumerate() {
        let row = p.legend_y + LEGEND_PAD + sat(i as u64).saturating_mul(LEGEND_ROW);
        let sx = p.legend_x + LEGEND_PAD;
        out.push_str(&format!(
            "<path d=\"M{sx} {row}h{SWATCH}v{GLYPH_HEIGHT}h-{SWATCH}Z\" fill=\"{}\"/>\
             <text x=\"{}\" y=\"{}\" font-size=\"{SVG_FONT}\">{}</text>\n",
            hex(series_colour(i)),
            sx + SWATCH + LABEL_GAP,
            row + GLYPH_HEIGHT,
            escape(label)
        ));
    }
    Ok(document(l.width, l.height, &out))
}

/// A one-pixel frame just outside the `w x h` rectangle at `(x, y)`.
fn frame_path(x: u32, y: u32, w: u32, h: u32, colour: &str) -> String {
    format!(
        "<path d=\"M{} {}h{}v{}h-{}Z\" fill=\"none\" stroke=\"{colour}\"/>\n",
        f64::from(x) - 0.5,
        f64::from(y) - 0.5,
        w + 1,
        h + 1,
        w + 1
    )
}

#[cfg(test)]
mod tests {
    use super::super::canvas::BACKGROUND;
    use super::*;

    fn diagonal() -> Chart {
        Chart {
            title: "loss".to_string(),
            x_label: "step".to_string(),
            y_label: "value".to_string(),
            series: vec![Series::new("train", vec![(0.0, 0.0), (1.0, 1.0)])],
            log_x: false,
            x_categories: Vec::new(),
        }
    }

    #[test]
    fn categorical_axis_puts_one_named_tick_per_category() {
        let chart = Chart {
            series: vec![Series::new(
                "valid",
                vec![(0.0, 0.5), (1.0, 0.7), (2.0, 0.6)],
            )],
            x_categories: vec!["relu".into(), "gelu".into(), "swiglu".into()],
            ..Chart::default()
        };
        chart.validate().unwrap();
        let l = chart_layout(&chart);
        assert_eq!((l.x_min, l.x_max), (-0.5, 2.5));
        let p = plan(&chart);
        let ticks: Vec<(f64, &str)> = p.x_ticks.iter().map(|(x, s)| (*x, s.as_str())).collect();
        assert_eq!(ticks, [(0.0, "relu"), (1.0, "gelu"), (2.0, "swiglu")]);
        let c = draw(&chart).unwrap();
        let (x, y) = l.to_pixel(1.0, 0.7);
        assert_eq!(
            c.get(x.round() as u32, y.round() as u32),
            Some(series_colour(0))
        );
        assert!(render_chart_svg(&chart).unwrap().contains(">swiglu<"));
        for bad in [0.5, 3.0, -1.0] {
            let mut wrong = chart.clone();
            wrong.series[0].points[0].0 = bad;
            assert!(matches!(
                wrong.validate(),
                Err(VizError::InvalidArgument { name: "x", .. })
            ));
        }
        let log = Chart {
            log_x: true,
            ..chart
        };
        assert!(matches!(
            log.validate(),
            Err(VizError::InvalidArgument { name: "log_x", .. })
        ));
    }

    #[test]
    fn png_has_signature_and_layout_size() {
        let chart = diagonal();
        let png = render_chart_png(&chart).unwrap();
        let l = chart_layout(&chart);
        assert_eq!((l.width, l.height), (CHART_WIDTH, CHART_HEIGHT));
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        assert_eq!(&png[12..16], b"IHDR");
        assert_eq!(u32::from_be_bytes(png[16..20].try_into().unwrap()), 640);
        assert_eq!(u32::from_be_bytes(png[20..24].try_into().unwrap()), 400);
        // Deterministic.
        assert_eq!(render_chart_png(&chart).unwrap(), png);
    }

    #[test]
    fn markers_line_and_background_land_where_the_layout_says() {
        let chart = diagonal();
        let l = chart_layout(&chart);
        // 5% padding: x and y span [-0.05, 1.05].
        assert!((l.x_min + 0.05).abs() < 1e-12 && (l.x_max - 1.05).abs() < 1e-12);
        assert!((l.y_min + 0.05).abs() < 1e-12 && (l.y_max - 1.05).abs() < 1e-12);
        let c = draw(&chart).unwrap();
        let colour = series_colour(0);
        assert_eq!(colour, [0x1f, 0x77, 0xb4]);
        let at = |x: f64, y: f64| {
            let (px, py) = l.to_pixel(x, y);
            c.get(px.round() as u32, py.round() as u32)
        };
        assert_eq!(at(0.0, 0.0), Some(colour));
        assert_eq!(at(1.0, 1.0), Some(colour));
        // The line's midpoint, and a point far from it, inside the plot area.
        let (mx, my) = l.to_pixel(0.5, 0.5);
        let (mx, my) = (mx.round() as u32, my.round() as u32);
        let near = (mx - 1..=mx + 1).flat_map(|x| (my - 1..=my + 1).map(move |y| (x, y)));
        assert!(near.into_iter().any(|(x, y)| c.get(x, y) == Some(colour)));
        assert_eq!(at(0.9, 0.1), Some(BACKGROUND));
        assert_eq!(at(0.1, 0.9), Some(BACKGROUND));
        // The corners of the mapping: x_min -> left column, y_max -> top row.
        assert_eq!(l.to_pixel(l.x_min, l.y_max), (l.left as f64, l.top as f64));
        let (rx, by) = l.to_pixel(l.x_max, l.y_min);
        assert_eq!(rx, (l.left + l.plot_width - 1) as f64);
        assert_eq!(by, (l.top + l.plot_height - 1) as f64);
        // The frame lies just outside the plot area.
        assert_eq!(c.get(l.left - 1, l.top + 10), Some(FRAME));
    }

    #[test]
    fn error_bars_widen_the_y_range_and_are_drawn() {
        let mut chart = diagonal();
        chart.series[0].error = Some(vec![0.5, f64::NAN]);
        let l = chart_layout(&chart);
        // y data spans [-0.5, 1.0]: padded by 0.075.
        assert!((l.y_min + 0.575).abs() < 1e-12 && (l.y_max - 1.075).abs() < 1e-12);
        let c = draw(&chart).unwrap();
        let (x, y) = l.to_pixel(0.0, -0.5);
        assert_eq!(
            c.get(x.round() as u32, y.round() as u32),
            Some(series_colour(0))
        );
    }

    #[test]
    fn log_x_maps_decades_evenly() {
        let chart = Chart {
            series: vec![Series::new(
                "lr",
                vec![(1e-4, 1.0), (1e-2, 2.0), (1.0, 3.0)],
            )],
            log_x: true,
            ..Chart::default()
        };
        let l = chart_layout(&chart);
        let (a, _) = l.to_pixel(1e-4, 1.0);
        let (b, _) = l.to_pixel(1e-2, 1.0);
        let (c, _) = l.to_pixel(1.0, 1.0);
        assert!(((b - a) - (c - b)).abs() < 1e-6);
        let p = plan(&chart);
        let labels: Vec<&str> = p.x_ticks.iter().map(|(_, s)| s.as_str()).collect();
        assert_eq!(labels, ["0.0001", "0.001", "0.01", "0.1", "1"]);
        render_chart_png(&chart).unwrap();
    }

    #[test]
    fn nice_ticks_follow_the_1_2_5_rule() {
        assert_eq!(nice_ticks(0.0, 1.0, 5), [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]);
        assert_eq!(nice_ticks(3.0, 97.0, 5), [20.0, 40.0, 60.0, 80.0]);
        // raw step 0.22 -> 0.2; raw step 3.6 -> 5 (r = 3.6 >= 3).
        assert_eq!(nice_ticks(-0.05, 1.05, 5), [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]);
        assert_eq!(nice_ticks(-1.0, 17.0, 5), [0.0, 5.0, 10.0, 15.0]);
        // raw step 8 -> 10.
        assert_eq!(nice_ticks(0.0, 40.0, 5), [0.0, 10.0, 20.0, 30.0, 40.0]);
        assert_eq!(nice_ticks(2.5, 2.5, 5), [2.5]);
        assert!(nice_ticks(1.0, 0.0, 5).is_empty());
        assert!(nice_ticks(0.0, f64::NAN, 5).is_empty());
        assert!(nice_ticks(0.0, 1.0, 0).is_empty());
        assert_eq!(tick_label(0.6, -1), "0.6");
        assert_eq!(tick_label(20.0, 1), "20");
        assert_eq!(decade_label(-3), "0.001");
        assert_eq!(decade_label(2), "100");
        assert_eq!(decade_label(-7), "1e-7");
    }

    #[test]
    fn single_value_gets_plus_minus_one() {
        let chart = Chart {
            series: vec![Series::new("c", vec![(2.0, 5.0), (f64::NAN, 1.0)])],
            ..Chart::default()
        };
        let l = chart_layout(&chart);
        assert_eq!((l.x_min, l.x_max, l.y_min, l.y_max), (1.0, 3.0, 4.0, 6.0));
        render_chart_png(&chart).unwrap();
    }

    #[test]
    fn svg_has_one_polyline_per_series_and_escapes() {
        let mut chart = diagonal();
        chart.title = "a<b".to_string();
        chart.series.push(Series::new(
            "x<y & z",
            vec![(0.0, 1.0), (0.5, 0.2), (1.0, 0.0)],
        ));
        chart.series.push(Series::new("third", vec![(0.2, 0.3)]));
        let svg = render_chart_svg(&chart).unwrap();
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<polyline").count(), 3);
        assert_eq!(svg.matches("<rect").count(), 2 + 3 + 1);
        assert!(svg.contains("a&lt;b") && !svg.contains("a<b"));
        assert!(svg.contains("x&lt;y &amp; z") && !svg.contains("x<y"));
        assert!(svg.contains(&hex(series_colour(1))));
        assert_eq!(svg.matches("<g ").count(), svg.matches("</g>").count());
        assert_eq!(svg.matches("<text").count(), svg.matches("</text>").count());
    }

    #[test]
    fn invalid_charts_are_errors() {
        let empty = Chart::default();
        assert!(matches!(empty.validate(), Err(VizError::Empty { .. })));
        assert!(matches!(
            render_chart_png(&empty),
            Err(VizError::Empty { .. })
        ));
        let nan = Chart {
            series: vec![Series::new("n", vec![(f64::NAN, 1.0), (1.0, f64::NAN)])],
            ..Chart::default()
        };
        assert!(matches!(
            render_chart_svg(&nan),
            Err(VizError::Empty { .. })
        ));
        let no_points = Chart {
            series: vec![Series::new("n", vec![])],
            ..Chart::default()
        };
        assert!(matches!(no_points.validate(), Err(VizError::Empty { .. })));
        let log = Chart {
            series: vec![Series::new("l", vec![(0.0, 1.0), (1.0, 2.0)])],
            log_x: true,
            ..Chart::default()
        };
        assert!(matches!(
            render_chart_png(&log),
            Err(VizError::InvalidArgument { name: "x", .. })
        ));
        let inf = Chart {
            series: vec![Series::new("i", vec![(1.0, f64::INFINITY)])],
            ..Chart::default()
        };
        assert!(matches!(
            inf.validate(),
            Err(VizError::NonFinite { index: 0, .. })
        ));
        let mut bad_err = diagonal();
        bad_err.series[0].error = Some(vec![0.1]);
        assert!(matches!(
            bad_err.validate(),
            Err(VizError::SizeMismatch {
                expected: 2,
                got: 1,
                ..
            })
        ));
        bad_err.series[0].error = Some(vec![0.1, -1.0]);
        assert!(matches!(
            bad_err.validate(),
            Err(VizError::InvalidArgument { name: "error", .. })
        ));
    }
}
