//! The two outputs of every picture: a PNG (plotters draws into an 8-bit RGB buffer, which the
//! `png` crate encodes without timestamps, so the same picture always gives the same bytes) and
//! an SVG document (plotters' SVG backend). A picture draws itself once, generically, onto
//! either backend.

use plotters::coord::Shift;
use plotters::prelude::{BitMapBackend, DrawingArea, DrawingBackend, IntoDrawingArea, SVGBackend};
use plotters::style::WHITE;

use super::error::VizError;
use super::heatmap::check_size;
use super::typeface;

/// Something drawn at a fixed size onto a plotters drawing area.
pub(crate) trait Picture {
    /// `(width, height)` in pixels.
    fn size(&self) -> (u32, u32);
    /// Draws onto `area`, whose top-left corner is pixel `(0, 0)` and which is already white;
    /// `raster` says whether it is the PNG's pixels (else SVG), for
    /// [`draw_text`](super::typeface::draw_text).
    fn draw<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        raster: bool,
    ) -> Result<(), VizError>;
}

/// A plotters error as a [`VizError::Draw`].
pub(crate) fn draw_error(e: impl std::fmt::Display) -> VizError {
    VizError::Draw(e.to_string())
}

/// `picture` as an 8-bit RGB PNG.
///
/// Errors: [`VizError::TooLarge`] past [`MAX_PIXELS`](super::MAX_PIXELS), or what drawing and
/// encoding report.
pub(crate) fn to_png(picture: &impl Picture) -> Result<Vec<u8>, VizError> {
    typeface::register()?;
    let (width, height) = picture.size();
    check_size(u64::from(width), u64::from(height))?;
    let mut rgb = vec![0xff; width as usize * height as usize * 3];
    {
        let area = BitMapBackend::with_buffer(&mut rgb, (width, height)).into_drawing_area();
        area.fill(&WHITE).map_err(draw_error)?;
        picture.draw(&area, true)?;
        area.present().map_err(draw_error)?;
    }
    let mut out = Vec::new();
    {
        let mut encoder = ::png::Encoder::new(&mut out, width, height);
        encoder.set_color(::png::ColorType::Rgb);
        encoder.set_depth(::png::BitDepth::Eight);
        let mut writer = encoder.write_header()?;
        writer.write_image_data(&rgb)?;
        writer.finish()?;
    }
    Ok(out)
}

/// `picture` as a standalone SVG document.
///
/// Errors: as [`to_png`].
pub(crate) fn to_svg(picture: &impl Picture) -> Result<String, VizError> {
    typeface::register()?;
    let (width, height) = picture.size();
    check_size(u64::from(width), u64::from(height))?;
    let mut out = String::new();
    {
        let area = SVGBackend::with_string(&mut out, (width, height)).into_drawing_area();
        area.fill(&WHITE).map_err(draw_error)?;
        picture.draw(&area, false)?;
        area.present().map_err(draw_error)?;
    }
    Ok(out)
}

/// `text` with control characters (which XML cannot hold) replaced by U+FFFD.
pub(crate) fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .collect()
}
