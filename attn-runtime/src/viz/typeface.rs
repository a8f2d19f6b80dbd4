//! The one typeface every picture uses: DejaVu Sans (Bitstream Vera licence, see
//! `DATA_LICENSES.md`), embedded in the binary and registered with plotters as its `sans-serif`
//! family, so PNG text is rasterised anti-aliased by `ab_glyph` without any system font or
//! fontconfig. SVG text names the same family and is drawn by the viewer.
//!
//! All text goes through [`draw_text`]. In SVG it is one `<text>` element. In PNG it is drawn
//! one glyph at a time, each placed by the font's advances, kerning and left side bearing:
//! plotters 0.3.7 rasterises a string with every glyph's ink starting at the pen position (the
//! side bearings dropped), which sets "layers" as "la yer s".

use std::sync::OnceLock;

use ab_glyph::{Font, FontRef, ScaleFont};
use plotters::coord::Shift;
use plotters::prelude::{DrawingArea, DrawingBackend};
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{
    FontDesc, FontFamily, FontStyle, FontTransform, IntoFont, RGBColor, TextStyle,
};

use super::error::VizError;
use super::picture::draw_error;

/// The family name under which the embedded font is registered, and which SVG text names.
pub(crate) const FAMILY: &str = "sans-serif";

/// DejaVu Sans 2.37 (Debian's fonts-dejavu-core), regular weight.
static DEJAVU_SANS: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

/// Registers the embedded font with plotters once per process; every renderer calls it first.
///
/// Errors: [`VizError::Font`] if the embedded file cannot be parsed (a build defect).
pub(crate) fn register() -> Result<(), VizError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        plotters::style::register_font(FAMILY, FontStyle::Normal, DEJAVU_SANS).is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err(VizError::Font(
            "the embedded DejaVu Sans could not be parsed".into(),
        ))
    }
}

/// The font of `size` pixels (plotters' size: the height from descender to ascender).
pub(crate) fn font(size: f64) -> FontDesc<'static> {
    (FontFamily::SansSerif, size).into_font()
}

/// Width in pixels of `text` at `size`, as plotters lays it out (0 if the font is missing).
pub(crate) fn text_width(text: &str, size: f64) -> u32 {
    if register().is_err() {
        return 0;
    }
    font(size).box_size(text).map_or(0, |(w, _)| w)
}

/// How a piece of text is set: size in pixels, colour, which point of it the position names,
/// and whether it reads bottom to top.
#[derive(Clone, Copy)]
pub(crate) struct Setting {
    /// Font size (plotters' size: descender to ascender).
    pub size: f64,
    /// Colour of the text.
    pub colour: &'static RGBColor,
    /// Horizontal anchor, along the text.
    pub h: HPos,
    /// Vertical anchor, across the text.
    pub v: VPos,
    /// Rotated a quarter turn counter-clockwise (reads bottom to top).
    pub up: bool,
}

impl Setting {
    /// Horizontal text of `size` in `colour` anchored at `(h, v)`.
    pub fn new(size: f64, colour: &'static RGBColor, h: HPos, v: VPos) -> Self {
        Setting {
            size,
            colour,
            h,
            v,
            up: false,
        }
    }

    /// The same, reading bottom to top.
    pub fn up(self) -> Self {
        Setting { up: true, ..self }
    }

    fn style(&self, h: HPos) -> TextStyle<'static> {
        let style = TextStyle::from(font(self.size))
            .color(self.colour)
            .pos(Pos::new(h, self.v));
        if self.up {
            style.transform(FontTransform::Rotate270)
        } else {
            style
        }
    }
}

/// Draws `text` at `pos` of `area` as `setting` says: one SVG `<text>`, or, with `raster`,
/// glyph by glyph at the font's own spacing (see the module's notes).
pub(crate) fn draw_text<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    setting: &Setting,
    pos: (i32, i32),
    raster: bool,
) -> Result<(), VizError> {
    if text.is_empty() {
        return Ok(());
    }
    if !raster {
        return area
            .draw_text(text, &setting.style(setting.h), pos)
            .map_err(draw_error);
    }
    register()?;
    let face = FontRef::try_from_slice(DEJAVU_SANS).map_err(|e| VizError::Font(e.to_string()))?;
    let scaled = face.as_scaled(setting.size as f32);
    let width = text_width(text, setting.size) as f32;
    let start = match setting.h {
        HPos::Left => 0.0,
        HPos::Center => -width / 2.0,
        HPos::Right => -width,
    };
    let style = setting.style(HPos::Left);
    // plotters sets the baseline about 0.12 em higher than SVG's `dy` for the same anchor
    let drop = (setting.size * 0.12).round() as i32;
    let pos = if setting.up {
        (pos.0 + drop, pos.1)
    } else {
        (pos.0, pos.1 + drop)
    };
    let mut pen = start;
    let mut previous = None;
    let mut buf = [0u8; 4];
    for c in text.chars() {
        let id = scaled.glyph_id(c);
        if let Some(p) = previous {
            pen += scaled.kern(p, id);
        }
        previous = Some(id);
        if let Some(outline) = scaled.outline_glyph(scaled.scaled_glyph(c)) {
            // plotters puts the glyph's ink at the position given: add the bearing back
            let along = pen.round() as i32 + outline.px_bounds().min.x as i32;
            let at = if setting.up {
                (pos.0, pos.1 - along)
            } else {
                (pos.0 + along, pos.1)
            };
            area.draw_text(c.encode_utf8(&mut buf), &style, at)
                .map_err(draw_error)?;
        }
        pen += scaled.h_advance(id);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_font_registers_and_measures_text() {
        register().unwrap();
        let narrow = text_width("iii", 12.0);
        let wide = text_width("WWW", 12.0);
        assert!(
            narrow > 0 && wide > 2 * narrow,
            "proportional: {narrow} vs {wide}"
        );
        assert!(text_width("WWW", 24.0) >= 2 * wide - 2, "scales with size");
        // Characters beyond ASCII have glyphs too.
        assert!(text_width("héllo → ü", 12.0) > text_width("hello", 12.0));
    }
}
