//! A plain RGB raster to draw heat maps on, with text from the embedded font, encoded as PNG.

use super::colormap::Rgb;
use super::error::VizError;
use super::font::{glyph, pixel, ADVANCE, GLYPH_HEIGHT, GLYPH_WIDTH};
use super::heatmap::check_size;

/// Colour of the background.
pub(crate) const BACKGROUND: Rgb = [0xff, 0xff, 0xff];
/// Colour of text and ticks.
pub(crate) const INK: Rgb = [0x20, 0x20, 0x20];
/// Colour of frames around the matrix and the colour bar.
pub(crate) const FRAME: Rgb = [0x80, 0x80, 0x80];

/// An 8-bit RGB picture; drawing outside it is clipped.
#[derive(Debug, Clone)]
pub(crate) struct Canvas {
    width: u32,
    height: u32,
    data: Vec<u8>,
}

impl Canvas {
    /// A `width x height` canvas filled with [`BACKGROUND`], within the renderer's size limit.
    pub fn new(width: u32, height: u32) -> Result<Self, VizError> {
        check_size(u64::from(width), u64::from(height))?;
        let len = width as usize * height as usize * 3;
        let data = BACKGROUND.iter().copied().cycle().take(len).collect();
        Ok(Canvas {
            width,
            height,
            data,
        })
    }

    /// Sets the pixel at `(x, y)` if it lies on the canvas.
    pub fn set(&mut self, x: i64, y: i64, colour: Rgb) {
        if x >= 0 && y >= 0 && x < i64::from(self.width) && y < i64::from(self.height) {
            let at = (y as usize * self.width as usize + x as usize) * 3;
            self.data[at..at + 3].copy_from_slice(&colour);
        }
    }

    /// Fills the `w x h` rectangle whose top-left corner is `(x, y)`.
    pub fn fill_rect(&mut self, x: i64, y: i64, w: u32, h: u32, colour: Rgb) {
        let x0 = x.max(0);
        let x1 = (x + i64::from(w)).min(i64::from(self.width));
        let y0 = y.max(0);
        let y1 = (y + i64::from(h)).min(i64::from(self.height));
        for yy in y0..y1 {
            for xx in x0..x1 {
                self.set(xx, yy, colour);
            }
        }
    }

    /// Draws a one-pixel frame just outside the `w x h` rectangle at `(x, y)`.
    pub fn outline(&mut self, x: i64, y: i64, w: u32, h: u32, colour: Rgb) {
        let (wo, ho) = (w + 2, h + 2);
        self.fill_rect(x - 1, y - 1, wo, 1, colour);
        self.fill_rect(x - 1, y + i64::from(h), wo, 1, colour);
        self.fill_rect(x - 1, y - 1, 1, ho, colour);
        self.fill_rect(x + i64::from(w), y - 1, 1, ho, colour);
    }

    /// Draws `text` left to right with its top-left corner at `(x, y)`, each font pixel
    /// `scale x scale` pixels.
    pub fn text(&mut self, x: i64, y: i64, text: &str, scale: u32, colour: Rgb) {
        let s = i64::from(scale);
        for (n, c) in text.chars().enumerate() {
            let g = glyph(c);
            let gx = x + n as i64 * i64::from(ADVANCE) * s;
            for (px, py) in set_pixels(&g) {
                self.fill_rect(
                    gx + i64::from(px) * s,
                    y + i64::from(py) * s,
                    scale,
                    scale,
                    colour,
                );
            }
        }
    }

    /// Draws `text` rotated a quarter turn counter-clockwise (reading bottom to top): the text
    /// starts at row `bottom` and rises from there; glyph tops face left, at column `x`.
    pub fn text_up(&mut self, x: i64, bottom: i64, text: &str, colour: Rgb) {
        for (n, c) in text.chars().enumerate() {
            let g = glyph(c);
            let along = n as i64 * i64::from(ADVANCE);
            for (px, py) in set_pixels(&g) {
                self.set(x + i64::from(py), bottom - along - i64::from(px), colour);
            }
        }
    }

    /// Encodes the canvas as an 8-bit RGB PNG with no timestamp or other varying chunk, so the
    /// same picture always gives the same bytes.
    pub fn into_png(self) -> Result<Vec<u8>, VizError> {
        let mut out = Vec::new();
        {
            let mut encoder = ::png::Encoder::new(&mut out, self.width, self.height);
            encoder.set_color(::png::ColorType::Rgb);
            encoder.set_depth(::png::BitDepth::Eight);
            let mut writer = encoder.write_header()?;
            writer.write_image_data(&self.data)?;
            writer.finish()?;
        }
        Ok(out)
    }

    /// The colour at `(x, y)`, if on the canvas.
    #[cfg(test)]
    pub fn get(&self, x: u32, y: u32) -> Option<Rgb> {
        (x < self.width && y < self.height).then(|| {
            let at = (y as usize * self.width as usize + x as usize) * 3;
            [self.data[at], self.data[at + 1], self.data[at + 2]]
        })
    }
}

/// The `(column, row)` of every set pixel of `g`.
fn set_pixels(g: &[u8; 7]) -> impl Iterator<Item = (u32, u32)> + '_ {
    (0..GLYPH_HEIGHT)
        .flat_map(|y| (0..GLYPH_WIDTH).map(move |x| (x, y)))
        .filter(move |&(x, y)| pixel(g, x, y))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drawing_clips_and_text_rotates() {
        let mut c = Canvas::new(20, 20).unwrap();
        c.fill_rect(-5, -5, 10, 10, INK);
        assert_eq!(c.get(4, 4), Some(INK));
        assert_eq!(c.get(5, 5), Some(BACKGROUND));
        let mut c = Canvas::new(20, 20).unwrap();
        c.text(0, 0, "L", 1, INK);
        // 'L': left column set, bottom row set.
        assert_eq!(c.get(0, 0), Some(INK));
        assert_eq!(c.get(4, 6), Some(INK));
        assert_eq!(c.get(4, 0), Some(BACKGROUND));
        let mut c = Canvas::new(20, 20).unwrap();
        c.text_up(0, 19, "L", INK);
        // Rotated: the glyph's left column becomes the bottom row, its bottom row the right
        // column.
        assert_eq!(c.get(0, 19), Some(INK));
        assert_eq!(c.get(6, 15), Some(INK));
        assert_eq!(c.get(0, 15), Some(BACKGROUND));
    }

    #[test]
    fn too_large_is_an_error() {
        assert!(matches!(
            Canvas::new(1 << 20, 1 << 20),
            Err(VizError::TooLarge { .. })
        ));
    }
}
