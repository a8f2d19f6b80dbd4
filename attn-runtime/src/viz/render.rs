//! One heat map drawn with plotters, as PNG ([`render_png`]) or SVG ([`render_svg`]), and the
//! drawing grids of heat maps share.

use plotters::coord::Shift;
use plotters::prelude::{DrawingArea, DrawingBackend, Rectangle};
use plotters::style::text_anchor::{HPos, VPos};
use plotters::style::{Color, RGBColor};

use super::colormap::{viridis, Rgb};
use super::error::VizError;
use super::heatmap::{
    plan, Heatmap, Plan, BAR_WIDTH, LABEL_GAP, LABEL_SIZE, MARGIN, TICKS, TICK_LEN, TITLE_SIZE,
};
use super::picture::{draw_error, to_png, to_svg, Picture};
use super::typeface::{draw_text, Setting};

/// Colour of text and ticks.
pub(crate) const INK: RGBColor = RGBColor(0x20, 0x20, 0x20);
/// Colour of frames around the matrix, the colour bar and a chart's plot area.
pub(crate) const FRAME: RGBColor = RGBColor(0x80, 0x80, 0x80);

/// `colour` as plotters' colour type.
pub(crate) fn rgb(colour: Rgb) -> RGBColor {
    RGBColor(colour[0], colour[1], colour[2])
}

/// Renders `map` as an 8-bit RGB PNG laid out as [`layout`](super::layout) says.
///
/// Each cell is filled with the [viridis](super::viridis) colour of its weight on a fixed `[0, 1]`
/// scale (weights outside it clamp), so cells are comparable across pictures. A one-pixel grey
/// frame surrounds the matrix and the colour bar, outside their cells. Text is the embedded
/// DejaVu Sans, anti-aliased, any Unicode it covers. The same input gives the same bytes.
pub fn render_png(map: &Heatmap) -> Result<Vec<u8>, VizError> {
    to_png(&Single::new(map)?)
}

/// Renders `map` as a standalone SVG document (starting with `<svg`), laid out like
/// [`render_png`]: one `<rect>` of `cell x cell` per matrix cell, texts XML-escaped in the
/// `sans-serif` family.
pub fn render_svg(map: &Heatmap) -> Result<String, VizError> {
    to_svg(&Single::new(map)?)
}

/// One heat map as a picture.
struct Single<'a> {
    map: &'a Heatmap,
    plan: Plan,
}

impl<'a> Single<'a> {
    fn new(map: &'a Heatmap) -> Result<Self, VizError> {
        map.validate()?;
        Ok(Single {
            map,
            plan: plan(map),
        })
    }
}

impl Picture for Single<'_> {
    fn size(&self) -> (u32, u32) {
        (self.plan.layout.width, self.plan.layout.height)
    }
    fn draw<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        raster: bool,
    ) -> Result<(), VizError> {
        draw_heatmap(area, &self.plan, self.map, (0, 0), raster)
    }
}

/// Text of `size` in [`INK`] anchored at `(h, v)`.
pub(crate) fn ink(size: f64, h: HPos, v: VPos) -> Setting {
    Setting::new(size, &INK, h, v)
}

/// A one-pixel frame just outside the `w x h` rectangle at `(x, y)`.
pub(crate) fn frame<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    (x, y): (i32, i32),
    (w, h): (u32, u32),
) -> Result<(), VizError> {
    let (w, h) = (w as i32, h as i32);
    area.draw(&Rectangle::new(
        [(x - 1, y - 1), (x + w, y + h)],
        FRAME.stroke_width(1),
    ))
    .map_err(draw_error)
}

/// Draws `map`, planned as `plan`, with the picture's top-left corner at `(ox, oy)` of `area`
/// (`raster`: see [`Picture::draw`]).
pub(crate) fn draw_heatmap<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    plan: &Plan,
    map: &Heatmap,
    (ox, oy): (i32, i32),
    raster: bool,
) -> Result<(), VizError> {
    let l = plan.layout;
    let (left, top, cell) = (ox + l.left as i32, oy + l.top as i32, l.cell as i32);
    let title = ink(TITLE_SIZE, HPos::Center, VPos::Top);
    let centre = ox + l.width as i32 / 2;
    draw_text(
        area,
        &plan.title,
        &title,
        (centre, oy + MARGIN as i32),
        raster,
    )?;
    let gap = LABEL_GAP as i32;
    let key_style = ink(LABEL_SIZE, HPos::Left, VPos::Center).up();
    for (j, key) in plan.keys.iter().enumerate() {
        let x = left + j as i32 * cell + cell / 2;
        draw_text(area, key, &key_style, (x, top - gap), raster)?;
    }
    let query_style = ink(LABEL_SIZE, HPos::Right, VPos::Center);
    for (i, query) in plan.queries.iter().enumerate() {
        let y = top + i as i32 * cell + cell / 2;
        draw_text(area, query, &query_style, (left - gap, y), raster)?;
    }
    let n_keys = plan.keys.len();
    for (k, w) in map.weights.iter().enumerate() {
        let (i, j) = ((k / n_keys) as i32, (k % n_keys) as i32);
        let (x, y) = (left + j * cell, top + i * cell);
        area.draw(&Rectangle::new(
            [(x, y), (x + cell, y + cell)],
            rgb(viridis(*w)).filled(),
        ))
        .map_err(draw_error)?;
    }
    frame(area, (left, top), plan.matrix_size())?;
    draw_colour_bar(area, plan, (ox, oy), raster)
}

/// The colour bar: 1 at the top, 0 at the bottom, ticks and labels at 1, 0.5 and 0.
fn draw_colour_bar<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    plan: &Plan,
    (ox, oy): (i32, i32),
    raster: bool,
) -> Result<(), VizError> {
    let x = ox + plan.bar_x as i32;
    let top = oy + plan.layout.top as i32;
    let span = plan.bar_height.saturating_sub(1).max(1) as f32;
    let bar = BAR_WIDTH as i32;
    for row in 0..plan.bar_height {
        let t = 1.0 - row as f32 / span;
        let y = top + row as i32;
        area.draw(&Rectangle::new(
            [(x, y), (x + bar, y + 1)],
            rgb(viridis(t)).filled(),
        ))
        .map_err(draw_error)?;
    }
    frame(area, (x, top), (BAR_WIDTH, plan.bar_height))?;
    let style = ink(LABEL_SIZE, HPos::Left, VPos::Center);
    for (value, label) in TICKS {
        let y = oy + plan.bar_y(value) as i32;
        let tick_x = x + bar + 1;
        area.draw(&Rectangle::new(
            [(tick_x, y), (tick_x + TICK_LEN as i32, y + 1)],
            INK.filled(),
        ))
        .map_err(draw_error)?;
        let at = (tick_x + (TICK_LEN + LABEL_GAP) as i32, y);
        draw_text(area, label, &style, at, raster)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::{layout, viridis};
    use super::*;

    fn map() -> Heatmap {
        let labels = |n: usize, p: &str| (0..n).map(|i| format!("{p}{i}")).collect();
        let weights = (0..12).map(|k| k as f32 / 11.0).collect();
        Heatmap::new("demo", labels(3, "q"), labels(4, "k"), weights).unwrap()
    }

    fn decode(bytes: &[u8]) -> (u32, Vec<u8>) {
        let mut reader = ::png::Decoder::new(bytes).read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).unwrap();
        (info.width, buf)
    }

    #[test]
    fn cells_and_colour_bar_have_their_colours() {
        let m = map();
        let (width, img) = decode(&render_png(&m).unwrap());
        let get = |x: u32, y: u32| {
            let at = ((y * width + x) * 3) as usize;
            [img[at], img[at + 1], img[at + 2]]
        };
        let l = layout(&m);
        for i in 0..3 {
            for j in 0..4 {
                let want = viridis(m.weight(i, j).unwrap());
                for (dx, dy) in [(0, 0), (l.cell - 1, l.cell - 1), (l.cell / 2, l.cell / 2)] {
                    let (x, y) = (
                        l.left + j as u32 * l.cell + dx,
                        l.top + i as u32 * l.cell + dy,
                    );
                    assert_eq!(get(x, y), want, "cell ({i}, {j})");
                }
            }
        }
        let p = plan(&m);
        assert_eq!(get(p.bar_x, p.layout.top), viridis(1.0));
        assert_eq!(get(p.bar_x, p.layout.top + p.bar_height - 1), viridis(0.0));
        // The frame lies just outside the matrix.
        assert_eq!(get(l.left - 1, l.top + 5), [0x80, 0x80, 0x80]);
    }

    #[test]
    fn output_is_deterministic_and_validated() {
        let m = map();
        assert_eq!(render_png(&m).unwrap(), render_png(&m).unwrap());
        assert_eq!(render_svg(&m).unwrap(), render_svg(&m).unwrap());
        let mut bad = m;
        bad.weights.pop();
        assert!(matches!(
            render_png(&bad),
            Err(VizError::SizeMismatch { .. })
        ));
    }
}
