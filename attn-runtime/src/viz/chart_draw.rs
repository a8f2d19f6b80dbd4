//! Drawing a [`Chart`] with plotters: the plot area with a light grid, ticks from
//! [`ticks`](super::ticks) and axis labels, each series as a line with round markers and
//! vertical error bars, and the legend in a column right of the plot area, so it never covers
//! data. [`CHART_WIDTH`]` x `[`CHART_HEIGHT`] pixels, PNG or SVG, deterministic.

use std::cell::Cell;
use std::ops::Range;

use plotters::coord::Shift;
use plotters::prelude::{
    ChartBuilder, Circle, DrawingArea, DrawingBackend, ErrorBar, LineSeries, PathElement,
};
use plotters::style::text_anchor::{HPos, VPos};
use plotters::style::{Color, RGBColor};

use super::axis::Axis;
use super::chart::{series_colour, Chart, Series};
use super::error::VizError;
use super::heatmap::{truncate, LABEL_GAP, LABEL_SIZE, MARGIN, TITLE_GAP, TITLE_SIZE};
use super::picture::{draw_error, to_png, to_svg, Picture};
use super::render::{frame, ink, rgb, INK};
use super::ticks::{linear_ticks, log_ticks};
use super::typeface::{draw_text, font, text_width};

/// Width of every rendered chart, in pixels.
pub const CHART_WIDTH: u32 = 800;
/// Height of every rendered chart, in pixels.
pub const CHART_HEIGHT: u32 = 480;

/// Longest title drawn; longer ones are cut with `'…'`.
const TITLE_CHARS: usize = 70;
/// Longest axis label drawn.
const AXIS_LABEL_CHARS: usize = 70;
/// Longest legend entry drawn.
const LEGEND_CHARS: usize = 32;
/// Longest category name drawn under the x axis.
const CATEGORY_CHARS: usize = 16;
/// Radius of the round marker at each point.
const MARKER: u32 = 3;
/// Width of the caps of error bars.
const CAP: u32 = 8;
/// Length of the line drawn as a legend swatch.
const SWATCH: i32 = 22;
/// Height of one legend row.
const LEGEND_ROW: i32 = 20;
/// Space between the plot area and the legend.
const LEGEND_GAP: u32 = 16;
/// The widest the legend column may be, as a share of the picture.
const LEGEND_SHARE: f64 = 0.4;
/// Colour of the grid lines at the ticks.
const GRID: RGBColor = RGBColor(0xe6, 0xe6, 0xe6);

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
    /// x of the legend's left edge.
    pub legend_left: u32,
}

impl ChartLayout {
    /// The pixel `(column, row)` plotters draws data point `(x, y)` at: `x_min` maps to column
    /// `left`, `x_max` to `left + plot_width - 1` (linearly in `log(x)` with `log_x`), `y_max` to
    /// row `top` and `y_min` to `top + plot_height - 1`; fractions of a pixel round down.
    pub fn to_pixel(&self, x: f64, y: f64) -> (i32, i32) {
        let t = |v: f64| if self.log_x { v.ln() } else { v };
        let fx = (t(x) - t(self.x_min)) / (t(self.x_max) - t(self.x_min));
        let fy = (y - self.y_min) / (self.y_max - self.y_min);
        let span = |n: u32| f64::from(n.saturating_sub(1));
        let column = self.left as i32 + (span(self.plot_width) * fx + 1e-3).floor() as i32;
        let bottom = (self.top + self.plot_height) as i32 - 1;
        (
            column,
            bottom - (span(self.plot_height) * fy + 1e-3).floor() as i32,
        )
    }
}

/// The layout [`render_chart_png`] and [`render_chart_svg`] use for `chart`: it depends on the
/// labels and the axis ranges (tick labels set the left margin, legend entries the right one).
///
/// Errors: as [`Chart::validate`].
pub fn chart_layout(chart: &Chart) -> Result<ChartLayout, VizError> {
    let picture = ChartPicture::new(chart)?;
    to_svg(&picture)?;
    picture
        .layout
        .get()
        .ok_or_else(|| VizError::Draw("the chart drew no plot area".into()))
}

/// Renders `chart` as an 8-bit RGB PNG of [`CHART_WIDTH`]` x `[`CHART_HEIGHT`] pixels with the
/// geometry of [`chart_layout`]: per series (in order, later ones on top) the line joining its
/// points sorted by x (2 pixels wide, anti-aliased), its error bars (vertical, with caps), then
/// a round marker on each point. Fails as [`Chart::validate`]. Deterministic.
///
/// PyTorch equivalent: matplotlib `plt.errorbar(...)` per series, then `plt.savefig("c.png")`.
pub fn render_chart_png(chart: &Chart) -> Result<Vec<u8>, VizError> {
    to_png(&ChartPicture::new(chart)?)
}

/// Renders `chart` as a standalone SVG document (starting with `<svg`), drawn as
/// [`render_chart_png`] draws it: each series is one `<polyline>`, one `<circle>` per point and
/// a `<polyline>` per error bar; texts are truncated as in the PNG and XML-escaped. Fails as
/// [`Chart::validate`]. Deterministic.
///
/// PyTorch equivalent: matplotlib `plt.errorbar(...)`, then `plt.savefig("c.svg")`.
pub fn render_chart_svg(chart: &Chart) -> Result<String, VizError> {
    to_svg(&ChartPicture::new(chart)?)
}

/// A chart, planned, as a picture; drawing records where plotters put the plot area.
struct ChartPicture {
    plan: Plan,
    layout: Cell<Option<ChartLayout>>,
}

impl ChartPicture {
    fn new(chart: &Chart) -> Result<Self, VizError> {
        chart.validate()?;
        Ok(ChartPicture {
            plan: plan(chart),
            layout: Cell::new(None),
        })
    }
}

/// Everything drawing needs, decided before drawing.
#[derive(Debug, Clone)]
struct Plan {
    title: String,
    x_label: String,
    y_label: String,
    log_x: bool,
    x_range: Range<f64>,
    y_range: Range<f64>,
    x_ticks: Vec<(f64, String)>,
    y_ticks: Vec<(f64, String)>,
    /// Drawable points per series, see [`drawable`].
    series: Vec<Vec<(f64, f64, f64)>>,
    legend: Vec<String>,
    legend_width: u32,
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

/// The drawable points of `series` as `(x, y, error)`, sorted by x: both coordinates finite
/// (and x > 0 on a log axis); error 0 where absent or unusable.
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
            (x, y, e)
        })
        .collect();
    out.sort_by(|a, b| a.0.total_cmp(&b.0));
    out
}

fn whole(v: f64) -> bool {
    v.fract() == 0.0
}

fn plan(chart: &Chart) -> Plan {
    let series: Vec<_> = chart
        .series
        .iter()
        .map(|s| drawable(s, chart.log_x))
        .collect();
    let points = || series.iter().flatten();
    let (mut xb, mut yb) = (None, None);
    for &(x, y, e) in points() {
        include(&mut xb, if chart.log_x { x.log10() } else { x });
        include(&mut yb, y - e);
        include(&mut yb, y + e);
    }
    let (y_lo, y_hi) = padded(yb);
    let whole_y = points().all(|&(_, y, e)| whole(y) && whole(e));
    let y_ticks = linear_ticks(y_lo, y_hi, whole_y);
    let (x_range, x_ticks) = if !chart.x_categories.is_empty() {
        // half a category of room on either side of the first and last tick
        let ticks = chart
            .x_categories
            .iter()
            .enumerate()
            .map(|(i, name)| (i as f64, truncate(name, CATEGORY_CHARS)))
            .collect();
        (-0.5..chart.x_categories.len() as f64 - 0.5, ticks)
    } else if chart.log_x {
        let (lo, hi) = padded(xb);
        let (lo, hi) = (10f64.powf(lo), 10f64.powf(hi));
        (lo..hi, log_ticks(lo, hi))
    } else {
        let (lo, hi) = padded(xb);
        let whole_x = points().all(|&(x, _, _)| whole(x));
        (lo..hi, linear_ticks(lo, hi, whole_x))
    };
    let legend: Vec<String> = chart
        .series
        .iter()
        .map(|s| truncate(&s.label, LEGEND_CHARS))
        .collect();
    let widest = legend
        .iter()
        .map(|l| text_width(l, LABEL_SIZE))
        .max()
        .unwrap_or(0);
    let legend_width = (SWATCH as u32 + LABEL_GAP + widest + MARGIN)
        .min((f64::from(CHART_WIDTH) * LEGEND_SHARE) as u32);
    Plan {
        title: truncate(&chart.title, TITLE_CHARS),
        x_label: truncate(&chart.x_label, AXIS_LABEL_CHARS),
        y_label: truncate(&chart.y_label, AXIS_LABEL_CHARS),
        log_x: chart.log_x,
        x_range,
        y_range: y_lo..y_hi,
        x_ticks,
        y_ticks,
        series,
        legend,
        legend_width,
    }
}

impl Picture for ChartPicture {
    fn size(&self) -> (u32, u32) {
        (CHART_WIDTH, CHART_HEIGHT)
    }

    fn draw<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        raster: bool,
    ) -> Result<(), VizError> {
        self.layout.set(Some(draw_chart(area, &self.plan, raster)?));
        Ok(())
    }
}

/// Length of the tick marks outside the plot area.
const TICK: u32 = 5;

/// Draws the chart planned as `p` onto `area` and returns where the plot area ended up. Plotters
/// draws the grid, the axes' tick marks and the data; the texts go through
/// [`draw_text`](super::typeface::draw_text).
fn draw_chart<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    p: &Plan,
    raster: bool,
) -> Result<ChartLayout, VizError> {
    let (width, height) = (CHART_WIDTH, CHART_HEIGHT);
    let legend_left = width - p.legend_width - MARGIN;
    let (plot_part, _) = area.split_horizontally(legend_left - LEGEND_GAP);
    let label = LABEL_SIZE as u32;
    let widest_y = p
        .y_ticks
        .iter()
        .map(|(_, l)| text_width(l, LABEL_SIZE))
        .max()
        .unwrap_or(0);
    let desc = |text: &str| {
        if text.is_empty() {
            0
        } else {
            label + 2 * LABEL_GAP
        }
    };
    let title_h = if p.title.is_empty() {
        0
    } else {
        TITLE_SIZE as u32 + TITLE_GAP
    };
    let x_area = TICK + LABEL_GAP + label + desc(&p.x_label);
    let y_area = TICK + LABEL_GAP + widest_y + desc(&p.y_label);
    let x = Axis::new(p.x_range.clone(), p.log_x, p.x_ticks.clone());
    let y = Axis::new(p.y_range.clone(), false, p.y_ticks.clone());
    let mut cc = ChartBuilder::on(&plot_part)
        .margin(MARGIN)
        .margin_top(MARGIN + title_h)
        .margin_right(text_width("0000", LABEL_SIZE) / 2)
        .x_label_area_size(x_area)
        .y_label_area_size(y_area)
        .build_cartesian_2d(x, y)
        .map_err(draw_error)?;
    cc.configure_mesh()
        .bold_line_style(GRID)
        .light_line_style(GRID.mix(0.0))
        .axis_style(INK)
        .set_all_tick_mark_size(TICK)
        // the tick labels are drawn below, glyph by glyph in PNG
        .label_style(font(LABEL_SIZE).color(&INK.mix(0.0)))
        .draw()
        .map_err(draw_error)?;
    for (i, points) in p.series.iter().enumerate() {
        let colour = rgb(series_colour(i));
        cc.draw_series(LineSeries::new(
            points.iter().map(|&(x, y, _)| (x, y)),
            colour.stroke_width(2),
        ))
        .map_err(draw_error)?;
        cc.draw_series(points.iter().filter(|pt| pt.2 > 0.0).map(|&(x, y, e)| {
            ErrorBar::new_vertical(x, y - e, y, y + e, colour.stroke_width(1), CAP)
        }))
        .map_err(draw_error)?;
        cc.draw_series(
            points
                .iter()
                .map(|&(x, y, _)| Circle::new((x, y), MARKER, colour.filled())),
        )
        .map_err(draw_error)?;
    }
    let (xs, ys) = cc.plotting_area().get_pixel_range();
    let layout = ChartLayout {
        left: xs.start as u32,
        top: ys.start as u32,
        plot_width: (xs.end - xs.start) as u32,
        plot_height: (ys.end - ys.start) as u32,
        width,
        height,
        x_min: p.x_range.start,
        x_max: p.x_range.end,
        y_min: p.y_range.start,
        y_max: p.y_range.end,
        log_x: p.log_x,
        legend_left,
    };
    frame(
        area,
        (xs.start, ys.start),
        (layout.plot_width, layout.plot_height),
    )?;
    let gap = (TICK + LABEL_GAP) as i32;
    let x_tick = ink(LABEL_SIZE, HPos::Center, VPos::Top);
    for (v, label) in &p.x_ticks {
        let (px, _) = layout.to_pixel(*v, p.y_range.start);
        draw_text(area, label, &x_tick, (px, ys.end + gap), raster)?;
    }
    let y_tick = ink(LABEL_SIZE, HPos::Right, VPos::Center);
    for (v, label) in &p.y_ticks {
        let (_, py) = layout.to_pixel(p.x_range.start, *v);
        draw_text(area, label, &y_tick, (xs.start - gap, py), raster)?;
    }
    let centre_x = (xs.start + xs.end) / 2;
    let centre_y = (ys.start + ys.end) / 2;
    let below = ys.end + (x_area + LABEL_GAP) as i32;
    let x_desc = ink(LABEL_SIZE, HPos::Center, VPos::Bottom);
    draw_text(area, &p.x_label, &x_desc, (centre_x, below), raster)?;
    let y_desc = ink(LABEL_SIZE, HPos::Center, VPos::Top).up();
    let beside = xs.start - (y_area + LABEL_GAP) as i32;
    draw_text(area, &p.y_label, &y_desc, (beside, centre_y), raster)?;
    let title = ink(TITLE_SIZE, HPos::Center, VPos::Top);
    draw_text(area, &p.title, &title, (centre_x, MARGIN as i32), raster)?;
    draw_legend(area, p, (legend_left as i32, layout.top as i32), raster)?;
    Ok(layout)
}

/// The legend: one row per series, a line with a marker in its colour and the label, from
/// `(left, top)` down.
fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    p: &Plan,
    (left, top): (i32, i32),
    raster: bool,
) -> Result<(), VizError> {
    let style = ink(LABEL_SIZE, HPos::Left, VPos::Center);
    for (i, label) in p.legend.iter().enumerate() {
        let colour = rgb(series_colour(i));
        let y = top + LEGEND_ROW / 2 + i as i32 * LEGEND_ROW;
        area.draw(&PathElement::new(
            vec![(left, y), (left + SWATCH, y)],
            colour.stroke_width(2),
        ))
        .map_err(draw_error)?;
        area.draw(&Circle::new(
            (left + SWATCH / 2, y),
            MARKER,
            colour.filled(),
        ))
        .map_err(draw_error)?;
        let at = (left + SWATCH + LABEL_GAP as i32, y);
        draw_text(area, label, &style, at, raster)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes a PNG into (width, height, RGB bytes).
    fn decode(bytes: &[u8]) -> (u32, u32, Vec<u8>) {
        let mut reader = ::png::Decoder::new(bytes).read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!(info.color_type, ::png::ColorType::Rgb);
        buf.truncate(info.buffer_size());
        (info.width, info.height, buf)
    }

    fn get(img: &(u32, u32, Vec<u8>), (x, y): (i32, i32)) -> [u8; 3] {
        let at = ((y as u32 * img.0 + x as u32) * 3) as usize;
        [img.2[at], img.2[at + 1], img.2[at + 2]]
    }

    /// Writes `bytes` to `$ATTN_VIZ_DUMP/name` when that is set, for a look.
    fn dump(name: &str, bytes: &[u8]) {
        if let Some(dir) = std::env::var_os("ATTN_VIZ_DUMP") {
            std::fs::write(std::path::Path::new(&dir).join(name), bytes).unwrap();
        }
    }

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

    /// Learning curves over epochs 1..=3 with error bars: whole x, fractional y.
    fn curves() -> Chart {
        let line = |label: &str, ys: [f64; 3], err: f64| Series {
            label: label.into(),
            points: (1..=3).map(|e| (e as f64, ys[e - 1])).collect(),
            error: Some(vec![err; 3]),
        };
        Chart {
            title: "learning curves by layers".into(),
            x_label: "epoch".into(),
            y_label: "validation token accuracy (mean ± std)".into(),
            series: vec![
                line("layers=1 lr=0.001", [0.31, 0.47, 0.56], 0.03),
                line("layers=2 lr=0.001", [0.36, 0.58, 0.69], 0.02),
                line("layers=4 lr=0.01", [0.62, 0.93, 0.98], 0.01),
            ],
            log_x: false,
            x_categories: Vec::new(),
        }
    }

    /// The texts of an SVG's `<text>` elements, in document order.
    fn texts(svg: &str) -> Vec<String> {
        svg.split("<text")
            .skip(1)
            .filter_map(|t| {
                let body = &t[t.find('>')? + 1..t.find("</text>")?];
                Some(body.trim().to_string())
            })
            .collect()
    }

    #[test]
    fn png_has_the_chart_size_and_is_deterministic() {
        let chart = diagonal();
        let png = render_chart_png(&chart).unwrap();
        dump("chart-diagonal.png", &png);
        let img = decode(&png);
        assert_eq!((img.0, img.1), (CHART_WIDTH, CHART_HEIGHT));
        assert_eq!(render_chart_png(&chart).unwrap(), png);
        assert_eq!(
            render_chart_svg(&chart).unwrap(),
            render_chart_svg(&chart).unwrap()
        );
    }

    #[test]
    fn markers_line_and_background_land_where_the_layout_says() {
        let chart = diagonal();
        let l = chart_layout(&chart).unwrap();
        // 5% padding: x and y span [-0.05, 1.05].
        assert!((l.x_min + 0.05).abs() < 1e-12 && (l.x_max - 1.05).abs() < 1e-12);
        assert!((l.y_min + 0.05).abs() < 1e-12 && (l.y_max - 1.05).abs() < 1e-12);
        assert!(
            l.legend_left >= l.left + l.plot_width,
            "legend right of the data"
        );
        let img = decode(&render_chart_png(&chart).unwrap());
        let colour = series_colour(0);
        assert_eq!(colour, [0x1f, 0x77, 0xb4]);
        assert_eq!(get(&img, l.to_pixel(0.0, 0.0)), colour);
        assert_eq!(get(&img, l.to_pixel(1.0, 1.0)), colour);
        assert_eq!(get(&img, l.to_pixel(0.5, 0.5)), colour, "the line");
        // Far from the line, inside the plot area, is background.
        assert_eq!(get(&img, l.to_pixel(0.9, 0.1)), [0xff; 3]);
        assert_eq!(get(&img, l.to_pixel(0.1, 0.9)), [0xff; 3]);
        // The corners of the mapping: x_min -> left column, y_max -> top row.
        assert_eq!(l.to_pixel(l.x_min, l.y_max), (l.left as i32, l.top as i32));
        assert_eq!(
            l.to_pixel(l.x_max, l.y_min),
            (
                (l.left + l.plot_width - 1) as i32,
                (l.top + l.plot_height - 1) as i32
            )
        );
        // The frame lies just outside the plot area, on the right too.
        let right = (l.left + l.plot_width) as i32;
        assert_eq!(get(&img, (right, (l.top + 10) as i32)), [0x80; 3]);
    }

    #[test]
    fn curves_have_whole_epoch_ticks_error_bars_and_a_legend() {
        let chart = curves();
        let png = render_chart_png(&chart).unwrap();
        dump("chart-curves.png", &png);
        let svg = render_chart_svg(&chart).unwrap();
        dump("chart-curves.svg", svg.as_bytes());
        let t = texts(&svg);
        for label in ["layers=1 lr=0.001", "layers=2 lr=0.001", "layers=4 lr=0.01"] {
            assert!(t.iter().any(|s| s == label), "legend {label}: {t:?}");
        }
        assert!(t.iter().any(|s| s == "epoch"));
        assert!(t.iter().any(|s| s == "learning curves by layers"));
        // The epoch axis reads 1, 2, 3 and nothing in between; y ticks have one decimal.
        for epoch in ["1", "2", "3"] {
            assert!(t.iter().any(|s| s == epoch), "tick {epoch}: {t:?}");
        }
        assert!(!t.iter().any(|s| s == "1.5" || s == "2.5"));
        assert_eq!(
            t.iter().filter(|s| *s == "1.0").count(),
            1,
            "only the y tick"
        );
        assert!(t.iter().any(|s| s == "0.6"));
        let img = decode(&png);
        let l = chart_layout(&chart).unwrap();
        for (i, s) in chart.series.iter().enumerate() {
            for &(x, y) in &s.points {
                assert_eq!(get(&img, l.to_pixel(x, y)), series_colour(i), "{x}, {y}");
            }
        }
        // Each error bar reaches y ± e: its top cap is drawn in the series' colour.
        let (x, y) = (3.0, 0.98 + 0.01);
        assert_eq!(get(&img, l.to_pixel(x, y)), series_colour(2));
        // The legend's swatches sit right of the plot area, in the series' colours.
        let legend: Vec<[u8; 3]> = (l.top..l.top + 80)
            .map(|y| get(&img, (l.legend_left as i32 + 2, y as i32)))
            .collect();
        for i in 0..3 {
            assert!(legend.contains(&series_colour(i)), "legend swatch {i}");
        }
        // SVG: each series is one 2-pixel polyline through its points, at the PNG's pixels, in
        // x order; then the legend's three swatches.
        let lines: Vec<Vec<(i32, i32)>> = svg
            .split("<polyline")
            .skip(1)
            .filter(|p| p.contains("stroke-width=\"2\""))
            .map(|p| {
                let points = &p[p.find("points=\"").unwrap() + 8..];
                points[..points.find('"').unwrap()]
                    .split_whitespace()
                    .map(|xy| {
                        let (x, y) = xy.split_once(',').unwrap();
                        (x.parse().unwrap(), y.parse().unwrap())
                    })
                    .collect()
            })
            .collect();
        assert_eq!(lines.len(), 3 + 3);
        for (s, line) in chart.series.iter().zip(&lines) {
            let want: Vec<(i32, i32)> = s.points.iter().map(|&(x, y)| l.to_pixel(x, y)).collect();
            assert_eq!(line, &want, "{}", s.label);
        }
        assert!(lines[3..].iter().all(|s| s[0].0 == l.legend_left as i32));
    }

    #[test]
    fn categorical_axis_puts_one_named_tick_per_category() {
        let chart = super::super::chart::tests::activations();
        let l = chart_layout(&chart).unwrap();
        assert_eq!((l.x_min, l.x_max), (-0.5, 2.5));
        let svg = render_chart_svg(&chart).unwrap();
        let t = texts(&svg);
        for name in ["relu", "gelu", "swiglu"] {
            assert_eq!(t.iter().filter(|s| *s == name).count(), 1, "{name}");
        }
        assert!(
            !t.iter().any(|s| s == "0" || s == "1"),
            "no numbers on x: {t:?}"
        );
        let img = decode(&render_chart_png(&chart).unwrap());
        assert_eq!(get(&img, l.to_pixel(1.0, 0.7)), series_colour(0));
    }

    #[test]
    fn log_x_maps_decades_evenly_and_labels_them() {
        let chart = Chart {
            series: vec![Series::new(
                "lr",
                vec![(1e-4, 1.0), (1e-2, 2.0), (1.0, 3.0)],
            )],
            log_x: true,
            ..Chart::default()
        };
        let l = chart_layout(&chart).unwrap();
        let (a, _) = l.to_pixel(1e-4, 1.0);
        let (b, _) = l.to_pixel(1e-2, 1.0);
        let (c, _) = l.to_pixel(1.0, 1.0);
        assert!(((b - a) - (c - b)).abs() <= 1);
        let svg = render_chart_svg(&chart).unwrap();
        let t = texts(&svg);
        for decade in ["0.0001", "0.001", "0.01", "0.1", "1"] {
            assert!(t.iter().any(|s| s == decade), "{decade}: {t:?}");
        }
        let img = decode(&render_chart_png(&chart).unwrap());
        assert_eq!(get(&img, l.to_pixel(1e-2, 2.0)), series_colour(0));
    }

    #[test]
    fn error_bars_widen_the_y_range() {
        let mut chart = diagonal();
        chart.series[0].error = Some(vec![0.5, f64::NAN]);
        let l = chart_layout(&chart).unwrap();
        // y data spans [-0.5, 1.0]: padded by 0.075.
        assert!((l.y_min + 0.575).abs() < 1e-12 && (l.y_max - 1.075).abs() < 1e-12);
        let img = decode(&render_chart_png(&chart).unwrap());
        assert_eq!(get(&img, l.to_pixel(0.0, -0.5)), series_colour(0));
    }

    #[test]
    fn single_value_gets_plus_minus_one() {
        let chart = Chart {
            series: vec![Series::new("c", vec![(2.0, 5.0), (f64::NAN, 1.0)])],
            ..Chart::default()
        };
        let l = chart_layout(&chart).unwrap();
        assert_eq!((l.x_min, l.x_max, l.y_min, l.y_max), (1.0, 3.0, 4.0, 6.0));
        render_chart_png(&chart).unwrap();
    }

    #[test]
    fn svg_escapes_and_draws_every_series() {
        let mut chart = diagonal();
        chart.title = "a<b".to_string();
        chart.series.push(Series::new(
            "x<y & z",
            vec![(0.0, 1.0), (0.5, 0.2), (1.0, 0.0)],
        ));
        chart.series.push(Series::new("third", vec![(0.2, 0.3)]));
        let svg = render_chart_svg(&chart).unwrap();
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("a&lt;b") && !svg.contains("a<b"));
        assert!(svg.contains("x&lt;y &amp; z") && !svg.contains("x<y"));
        // One marker per point plus one per legend row.
        assert_eq!(svg.matches("<circle").count(), 2 + 3 + 1 + 3);
        assert_eq!(svg.matches("<text").count(), svg.matches("</text>").count());
        assert!(matches!(
            render_chart_png(&Chart::default()),
            Err(VizError::Empty { .. })
        ));
    }
}
