//! SVG rendering of one heat map: same layout as the PNG, text as `<text>` in the generic
//! `monospace` family, so the reader's own fonts (and any script they cover) are used.

use super::colormap::{hex, viridis, VIRIDIS};
use super::font::GLYPH_HEIGHT;
use super::heatmap::{
    plan, Heatmap, Plan, BAR_WIDTH, LABEL_GAP, MARGIN, TICKS, TICK_LEN, TITLE_SCALE,
};
use super::VizError;

/// Id of the colour bar's gradient in the document's `<defs>`.
const GRADIENT_ID: &str = "attn-viridis";
/// Font size of labels, chosen so monospace glyphs advance about 6 pixels, like the PNG font.
const LABEL_FONT: u32 = 10;

/// Renders `map` as a standalone SVG document (starting with `<svg`, no XML declaration).
///
/// The geometry is [`layout`](super::layout)'s, as in [`render_png`](super::render_png). Every
/// cell is exactly one `<rect>` (the only `<rect>` elements in the document; the background,
/// frames and colour bar are `<path>`s), filled with its weight's viridis colour and carrying a
/// `<title>` tooltip `query → key: weight` with the full labels. Labels are truncated as in the
/// PNG and XML-escaped (`& < > " '`); control characters become U+FFFD. Deterministic.
pub fn render_svg(map: &Heatmap) -> Result<String, VizError> {
    map.validate()?;
    let plan = plan(map);
    let mut body = String::new();
    write_heatmap(&mut body, &plan, map, 0, 0);
    Ok(document(plan.layout.width, plan.layout.height, &body))
}

/// A complete SVG document of `width x height` with a white background around `body`.
pub(crate) fn document(width: u32, height: u32, body: &str) -> String {
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" \
         viewBox=\"0 0 {width} {height}\" font-family=\"monospace\" fill=\"#202020\">\n"
    );
    out.push_str(&format!(
        "<defs><linearGradient id=\"{GRADIENT_ID}\" x1=\"0\" y1=\"1\" x2=\"0\" y2=\"0\">"
    ));
    let last = (VIRIDIS.len() - 1) as f64;
    for (k, colour) in VIRIDIS.iter().enumerate() {
        let offset = k as f64 / last;
        out.push_str(&format!(
            "<stop offset=\"{offset:.4}\" stop-color=\"{}\"/>",
            hex(*colour)
        ));
    }
    out.push_str("</linearGradient></defs>\n");
    out.push_str(&format!(
        "<path d=\"M0 0H{width}V{height}H0Z\" fill=\"#ffffff\"/>\n"
    ));
    out.push_str(body);
    out.push_str("</svg>\n");
    out
}

/// Appends `map`, planned as `plan`, as a group translated to `(ox, oy)`.
pub(crate) fn write_heatmap(out: &mut String, plan: &Plan, map: &Heatmap, ox: u32, oy: u32) {
    let l = plan.layout;
    let (left, top, cell) = (l.left, l.top, l.cell);
    let half_glyph = GLYPH_HEIGHT as f32 / 2.0;
    out.push_str(&format!("<g transform=\"translate({ox},{oy})\">\n"));
    if !plan.title.is_empty() {
        let y = MARGIN + GLYPH_HEIGHT * TITLE_SCALE;
        let size = LABEL_FONT * TITLE_SCALE;
        let title = escape(&plan.title);
        out.push_str(&format!(
            "<text x=\"{}\" y=\"{y}\" font-size=\"{size}\">{title}</text>\n",
            plan.title_x
        ));
    }
    let (ky, qx) = (top - LABEL_GAP, left - LABEL_GAP);
    for (j, key) in plan.keys.iter().enumerate() {
        let x = (left + j as u32 * cell) as f32 + cell as f32 / 2.0 + half_glyph;
        out.push_str(&format!(
            "<text x=\"{x}\" y=\"{ky}\" font-size=\"{LABEL_FONT}\" \
             transform=\"rotate(-90 {x} {ky})\">{}</text>\n",
            escape(key)
        ));
    }
    for (i, query) in plan.queries.iter().enumerate() {
        let y = (top + i as u32 * cell) as f32 + cell as f32 / 2.0 + half_glyph;
        out.push_str(&format!(
            "<text x=\"{qx}\" y=\"{y}\" font-size=\"{LABEL_FONT}\" text-anchor=\"end\">{}</text>\n",
            escape(query)
        ));
    }
    let n_keys = map.keys.len();
    for (k, w) in map.weights.iter().enumerate() {
        let (i, j) = (k / n_keys, k % n_keys);
        let (x, y) = (left + j as u32 * cell, top + i as u32 * cell);
        let tip = format!("{} \u{2192} {}: {w:.4}", map.queries[i], map.keys[j]);
        out.push_str(&format!(
            "<rect x=\"{x}\" y=\"{y}\" width=\"{cell}\" height=\"{cell}\" fill=\"{}\">\
             <title>{}</title></rect>\n",
            hex(viridis(*w)),
            escape(&tip)
        ));
    }
    let (mw, mh) = plan.matrix_size();
    out.push_str(&frame(left, top, mw, mh));
    let bar_x = plan.bar_x;
    out.push_str(&format!(
        "<path d=\"M{bar_x} {top}h{BAR_WIDTH}v{}h-{BAR_WIDTH}Z\" fill=\"url(#{GRADIENT_ID})\"/>\n",
        plan.bar_height
    ));
    out.push_str(&frame(bar_x, top, BAR_WIDTH, plan.bar_height));
    for (value, label) in TICKS {
        let y = plan.bar_y(value) as f32 + 0.5;
        let tick_x = bar_x + BAR_WIDTH + 1;
        let text_x = tick_x + TICK_LEN + 1;
        out.push_str(&format!(
            "<path d=\"M{tick_x} {y}h{TICK_LEN}\" stroke=\"#202020\"/>\
             <text x=\"{text_x}\" y=\"{}\" font-size=\"{LABEL_FONT}\">{label}</text>\n",
            y + half_glyph - 0.5
        ));
    }
    out.push_str("</g>\n");
}

/// A one-pixel grey frame just outside the `w x h` rectangle at `(x, y)`.
fn frame(x: u32, y: u32, w: u32, h: u32) -> String {
    format!(
        "<path d=\"M{} {}h{}v{}h-{}Z\" fill=\"none\" stroke=\"#808080\"/>\n",
        x as f32 - 0.5,
        y as f32 - 0.5,
        w + 1,
        h + 1,
        w + 1
    )
}

/// `text` with XML's special characters escaped and control characters replaced by U+FFFD.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if c.is_control() => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_controls() {
        assert_eq!(
            escape("a<b>&\"c'\n"),
            "a&lt;b&gt;&amp;&quot;c&apos;\u{fffd}"
        );
        assert_eq!(escape("héllo"), "héllo");
    }

    #[test]
    fn one_rect_per_cell_and_balanced_groups() {
        let labels = |n: usize| (0..n).map(|i| i.to_string()).collect();
        let map = Heatmap::new("t", labels(3), labels(2), vec![0.5; 6]).unwrap();
        let svg = render_svg(&map).unwrap();
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<rect").count(), 6);
        assert_eq!(svg.matches("<g ").count(), svg.matches("</g>").count());
        assert_eq!(svg.matches("<text").count(), svg.matches("</text>").count());
    }
}
