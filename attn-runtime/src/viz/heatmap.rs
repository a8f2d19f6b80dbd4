//! The data of one attention heat map, and the pixel layout both renderers share.
//!
//! The picture, top to bottom: the title (centred, larger), the key labels (one per column,
//! rotated to read bottom to top), then the matrix of square cells with the query labels
//! right-aligned to its left and the colour bar to its right. Labels longer than
//! [`MAX_LABEL_CHARS`] characters are cut to that many, the last replaced by `'…'`. Text widths
//! come from the embedded font ([`typeface`](super::typeface)), so the layout is the same for
//! PNG and SVG and on every machine.

use super::error::{check_finite, check_len, VizError};
use super::picture::printable;
use super::typeface::text_width;

/// Longest label drawn, in characters; longer ones end in `'…'`.
pub const MAX_LABEL_CHARS: usize = 12;
/// Longest title drawn, in characters; longer ones end in `'…'`.
pub const MAX_TITLE_CHARS: usize = 60;
/// Blank border around the picture, in pixels.
pub const MARGIN: u32 = 8;
/// Font size of the title, in pixels.
pub(crate) const TITLE_SIZE: f64 = 18.0;
/// Font size of labels and ticks, in pixels.
pub(crate) const LABEL_SIZE: f64 = 13.0;
/// Largest picture, in pixels, the renderers produce; larger ones give [`VizError::TooLarge`].
pub const MAX_PIXELS: u64 = 1 << 25;

pub(crate) const LABEL_GAP: u32 = 4;
pub(crate) const TITLE_GAP: u32 = 8;
pub(crate) const BAR_GAP: u32 = 12;
pub(crate) const BAR_WIDTH: u32 = 12;
pub(crate) const TICK_LEN: u32 = 3;
pub(crate) const MIN_BAR_HEIGHT: u32 = 60;
/// Colour-bar ticks: the value and its label.
pub(crate) const TICKS: [(f32, &str); 3] = [(1.0, "1"), (0.5, "0.5"), (0.0, "0")];

/// One attention matrix with its labels, ready to render.
#[derive(Debug, Clone, PartialEq)]
pub struct Heatmap {
    /// Drawn above the matrix; may be empty.
    pub title: String,
    /// One label per query (row), drawn left of the matrix.
    pub queries: Vec<String>,
    /// One label per key (column), drawn above the matrix.
    pub keys: Vec<String>,
    /// `[queries.len(), keys.len()]`, row-major: `weights[i * keys.len() + j]` is how much query
    /// `i` attends to key `j`. Values are expected in `[0, 1]` (colours clamp outside it); rows
    /// need not sum to 1.
    pub weights: Vec<f32>,
}

impl Heatmap {
    /// A heat map, checked: at least one query and one key, `weights.len() ==
    /// queries.len() * keys.len()`, and every weight finite.
    pub fn new(
        title: impl Into<String>,
        queries: Vec<String>,
        keys: Vec<String>,
        weights: Vec<f32>,
    ) -> Result<Self, VizError> {
        let map = Heatmap {
            title: title.into(),
            queries,
            keys,
            weights,
        };
        map.validate()?;
        Ok(map)
    }

    /// Checks what [`Heatmap::new`] checks; the renderers call it, since the fields are public.
    pub fn validate(&self) -> Result<(), VizError> {
        if self.queries.is_empty() {
            return Err(VizError::Empty {
                what: "queries".into(),
            });
        }
        if self.keys.is_empty() {
            return Err(VizError::Empty {
                what: "keys".into(),
            });
        }
        let expected = self
            .queries
            .len()
            .checked_mul(self.keys.len())
            .ok_or_else(|| VizError::InvalidArgument {
                name: "queries.len() * keys.len()",
                value: format!("{} * {}", self.queries.len(), self.keys.len()),
                requirement: "must fit in usize",
            })?;
        check_len("weights", expected, self.weights.len())?;
        check_finite(&self.weights, "weights")
    }

    /// The weight of query `i` on key `j`, if both are in range.
    pub fn weight(&self, i: usize, j: usize) -> Option<f32> {
        if i < self.queries.len() && j < self.keys.len() {
            self.weights.get(i * self.keys.len() + j).copied()
        } else {
            None
        }
    }
}

/// Where things are in a rendered heat map, in pixels from the top-left corner of the PNG (and
/// of the SVG's coordinate system).
///
/// Top to bottom: the title (centred), the key labels (one per column, reading bottom to top),
/// then the matrix with query labels right-aligned to its left and the colour bar (1 at the top,
/// 0 at the bottom, ticks at 0, 0.5 and 1) to its right. Labels longer than
/// [`MAX_LABEL_CHARS`] characters are cut, the last kept character replaced by `'…'`.
///
/// Cell `(i, j)` (query `i`, key `j`) covers `cell x cell` pixels from
/// `(left + j * cell, top + i * cell)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// Side of one square cell: 24 pixels for up to 16 tokens per side, 20 for up to 40, else 16.
    pub cell: u32,
    /// x of the matrix's left edge.
    pub left: u32,
    /// y of the matrix's top edge.
    pub top: u32,
    /// Width of the whole picture.
    pub width: u32,
    /// Height of the whole picture.
    pub height: u32,
}

/// The layout [`render_png`](super::render_png) and [`render_svg`](super::render_svg) use for
/// `map`. It depends only on the title, the labels and the shape, never on the weights.
pub fn layout(map: &Heatmap) -> Layout {
    plan(map).layout
}

/// Everything a renderer needs to place: the layout plus the truncated texts and the colour bar.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub layout: Layout,
    pub title: String,
    pub queries: Vec<String>,
    pub keys: Vec<String>,
    pub bar_x: u32,
    pub bar_height: u32,
}

impl Plan {
    /// Width and height of the matrix in pixels.
    pub fn matrix_size(&self) -> (u32, u32) {
        let l = &self.layout;
        let cols = self.keys.len() as u64 * u64::from(l.cell);
        let rows = self.queries.len() as u64 * u64::from(l.cell);
        (sat(cols), sat(rows))
    }

    /// y of the colour-bar row showing `value` in `[0, 1]` (1 at the top).
    pub fn bar_y(&self, value: f32) -> u32 {
        let span = self.bar_height.saturating_sub(1) as f32;
        self.layout.top + ((1.0 - value.clamp(0.0, 1.0)) * span).round() as u32
    }
}

pub(crate) fn sat(v: u64) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

/// `text` cut to at most `max` characters, the last replaced by `'…'` when cut, with control
/// characters replaced by U+FFFD.
pub(crate) fn truncate(text: &str, max: usize) -> String {
    let text = printable(text);
    if text.chars().count() <= max {
        text
    } else {
        let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
        out.push('\u{2026}');
        out
    }
}

/// Side of a cell for a matrix with `n` tokens on its longer side.
pub(crate) fn cell_size(n: usize) -> u32 {
    match n {
        0..=16 => 24,
        17..=40 => 20,
        _ => 16,
    }
}

pub(crate) fn plan(map: &Heatmap) -> Plan {
    let cut = |labels: &[String]| -> Vec<String> {
        labels
            .iter()
            .map(|l| truncate(l, MAX_LABEL_CHARS))
            .collect()
    };
    let queries = cut(&map.queries);
    let keys = cut(&map.keys);
    let title = truncate(&map.title, MAX_TITLE_CHARS);
    let widest = |labels: &[String]| {
        labels
            .iter()
            .map(|l| text_width(l, LABEL_SIZE))
            .max()
            .unwrap_or(0)
    };
    let cell = cell_size(queries.len().max(keys.len()));
    let title_w = u64::from(text_width(&title, TITLE_SIZE));
    let title_h = if title.is_empty() {
        0
    } else {
        TITLE_SIZE as u32 + TITLE_GAP
    };
    let left = u64::from(MARGIN + widest(&queries) + LABEL_GAP);
    let top = u64::from(MARGIN + title_h + widest(&keys) + LABEL_GAP);
    let matrix_w = keys.len() as u64 * u64::from(cell);
    let matrix_h = queries.len() as u64 * u64::from(cell);
    let bar_x = left + matrix_w + u64::from(BAR_GAP);
    let tick_w = u64::from(text_width("0.5", LABEL_SIZE));
    let right = bar_x + u64::from(BAR_WIDTH + TICK_LEN + LABEL_GAP + MARGIN) + tick_w;
    let width = right.max(title_w + 2 * u64::from(MARGIN));
    let bar_height = matrix_h.max(u64::from(MIN_BAR_HEIGHT));
    let height = top + bar_height + u64::from(MARGIN);
    let layout = Layout {
        cell,
        left: sat(left),
        top: sat(top),
        width: sat(width),
        height: sat(height),
    };
    Plan {
        layout,
        title,
        queries,
        keys,
        bar_x: sat(bar_x),
        bar_height: sat(bar_height),
    }
}

/// Checks that a `width x height` picture is within [`MAX_PIXELS`].
pub(crate) fn check_size(width: u64, height: u64) -> Result<(), VizError> {
    if width.saturating_mul(height) > MAX_PIXELS || width >= u64::from(u32::MAX) {
        Err(VizError::TooLarge {
            width,
            height,
            limit: MAX_PIXELS,
        })
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("t{i}")).collect()
    }

    #[test]
    fn new_checks_sizes_and_finiteness() {
        assert!(Heatmap::new("t", labels(2), labels(3), vec![0.0; 6]).is_ok());
        let err = Heatmap::new("t", labels(2), labels(3), vec![0.0; 5]).unwrap_err();
        assert!(matches!(
            err,
            VizError::SizeMismatch {
                expected: 6,
                got: 5,
                ..
            }
        ));
        let mut w = vec![0.0; 6];
        w[4] = f32::NAN;
        let err = Heatmap::new("t", labels(2), labels(3), w).unwrap_err();
        assert!(matches!(err, VizError::NonFinite { index: 4, .. }));
        assert!(matches!(
            Heatmap::new("t", vec![], labels(3), vec![]),
            Err(VizError::Empty { .. })
        ));
    }

    #[test]
    fn truncation_and_cell_sizes() {
        assert_eq!(truncate("short", 12), "short");
        assert_eq!(truncate("abcdefghijklmnop", 12), "abcdefghijk\u{2026}");
        assert_eq!(truncate("abcdefghijkl", 12), "abcdefghijkl");
        assert_eq!((cell_size(4), cell_size(32), cell_size(64)), (24, 20, 16));
    }

    #[test]
    fn layout_is_consistent() {
        let map = Heatmap::new("title", labels(4), labels(5), vec![0.0; 20]).unwrap();
        let l = layout(&map);
        assert_eq!(l.cell, 24);
        assert!(l.left + 5 * l.cell < l.width && l.top + 4 * l.cell < l.height);
        // Labels widen the margins.
        let mut long = map.clone();
        long.queries[0] = "a much longer label".into();
        assert!(layout(&long).left > l.left);
        assert_eq!(layout(&long).top, l.top);
    }
}
