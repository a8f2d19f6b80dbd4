//! PNG rendering of one heat map with the embedded font: no system font or library needed.

use super::canvas::{Canvas, FRAME, INK};
use super::colormap::viridis;
use super::font::{text_width, GLYPH_HEIGHT};
use super::heatmap::{
    plan, Heatmap, Plan, BAR_WIDTH, LABEL_GAP, MARGIN, TICKS, TICK_LEN, TITLE_SCALE,
};
use super::VizError;

/// Renders `map` as an 8-bit RGB PNG laid out as [`layout`](super::layout) says.
///
/// Each cell is filled with the [viridis](super::viridis) colour of its weight on a fixed `[0, 1]`
/// scale (weights outside it clamp), so cells are comparable across pictures. A one-pixel grey
/// frame surrounds the matrix and the colour bar, outside their cells. Text uses the embedded
/// 5x7 font ([`font`](super::font)); characters other than printable ASCII draw as a hollow box.
/// The output depends only on `map`: the same input gives the same bytes.
pub fn render_png(map: &Heatmap) -> Result<Vec<u8>, VizError> {
    map.validate()?;
    let plan = plan(map);
    let mut canvas = Canvas::new(plan.layout.width, plan.layout.height)?;
    draw_heatmap(&mut canvas, &plan, map, 0, 0);
    canvas.into_png()
}

/// Draws `map`, planned as `plan`, with the picture's top-left corner at `(ox, oy)`.
pub(crate) fn draw_heatmap(canvas: &mut Canvas, plan: &Plan, map: &Heatmap, ox: i64, oy: i64) {
    let l = plan.layout;
    let (left, top, cell) = (
        ox + i64::from(l.left),
        oy + i64::from(l.top),
        i64::from(l.cell),
    );
    let inset = (cell - i64::from(GLYPH_HEIGHT)) / 2;
    let m = i64::from(MARGIN);
    canvas.text(
        ox + i64::from(plan.title_x),
        oy + m,
        &plan.title,
        TITLE_SCALE,
        INK,
    );
    for (j, key) in plan.keys.iter().enumerate() {
        let x = left + j as i64 * cell + inset;
        canvas.text_up(x, top - i64::from(LABEL_GAP) - 1, key, INK);
    }
    for (i, query) in plan.queries.iter().enumerate() {
        let x = left - i64::from(LABEL_GAP + text_width(query, 1));
        canvas.text(x, top + i as i64 * cell + inset, query, 1, INK);
    }
    let n_keys = plan.keys.len();
    for (k, w) in map.weights.iter().enumerate() {
        let (i, j) = ((k / n_keys) as i64, (k % n_keys) as i64);
        canvas.fill_rect(left + j * cell, top + i * cell, l.cell, l.cell, viridis(*w));
    }
    let (matrix_w, matrix_h) = plan.matrix_size();
    canvas.outline(left, top, matrix_w, matrix_h, FRAME);
    draw_colour_bar(canvas, plan, ox, oy);
}

/// The colour bar: 1 at the top, 0 at the bottom, ticks and labels at 1, 0.5 and 0.
fn draw_colour_bar(canvas: &mut Canvas, plan: &Plan, ox: i64, oy: i64) {
    let x = ox + i64::from(plan.bar_x);
    let span = plan.bar_height.saturating_sub(1).max(1) as f32;
    for row in 0..plan.bar_height {
        let t = 1.0 - row as f32 / span;
        canvas.fill_rect(
            x,
            oy + i64::from(plan.layout.top + row),
            BAR_WIDTH,
            1,
            viridis(t),
        );
    }
    canvas.outline(
        x,
        oy + i64::from(plan.layout.top),
        BAR_WIDTH,
        plan.bar_height,
        FRAME,
    );
    for (value, label) in TICKS {
        let y = oy + i64::from(plan.bar_y(value));
        let tick_x = x + i64::from(BAR_WIDTH) + 1;
        canvas.fill_rect(tick_x, y, TICK_LEN, 1, INK);
        let text_y = y - i64::from(GLYPH_HEIGHT / 2);
        canvas.text(tick_x + i64::from(TICK_LEN) + 1, text_y, label, 1, INK);
    }
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

    #[test]
    fn cells_have_their_colours() {
        let m = map();
        let p = plan(&m);
        let mut canvas = Canvas::new(p.layout.width, p.layout.height).unwrap();
        draw_heatmap(&mut canvas, &p, &m, 0, 0);
        let l = layout(&m);
        for i in 0..3 {
            for j in 0..4 {
                let want = viridis(m.weight(i, j).unwrap());
                for (dx, dy) in [(0, 0), (l.cell - 1, l.cell - 1), (l.cell / 2, l.cell / 2)] {
                    let (x, y) = (
                        l.left + j as u32 * l.cell + dx,
                        l.top + i as u32 * l.cell + dy,
                    );
                    assert_eq!(canvas.get(x, y), Some(want), "cell ({i}, {j})");
                }
            }
        }
        // The colour bar's ends are the colormap's ends.
        assert_eq!(canvas.get(p.bar_x, p.layout.top), Some(viridis(1.0)));
        assert_eq!(
            canvas.get(p.bar_x, p.layout.top + p.bar_height - 1),
            Some(viridis(0.0))
        );
    }

    #[test]
    fn output_is_deterministic_and_validated() {
        let m = map();
        assert_eq!(render_png(&m).unwrap(), render_png(&m).unwrap());
        let mut bad = m;
        bad.weights.pop();
        assert!(matches!(
            render_png(&bad),
            Err(VizError::SizeMismatch { .. })
        ));
    }
}
