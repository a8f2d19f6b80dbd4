//! Several heat maps (the heads of a layer, or the layers of a model) tiled in one picture
//! under a shared title.

use plotters::coord::Shift;
use plotters::prelude::{DrawingArea, DrawingBackend};
use plotters::style::text_anchor::{HPos, VPos};

use super::heatmap::{
    check_size, plan, sat, truncate, Heatmap, Plan, MARGIN, MAX_TITLE_CHARS, TITLE_GAP, TITLE_SIZE,
};
use super::picture::{to_png, to_svg, Picture};
use super::render::{draw_heatmap, ink};
use super::typeface::{draw_text, text_width};
use super::VizError;

/// Where the tiles of a grid are, in pixels from the picture's top-left corner.
///
/// Map `k` sits in row `k / columns`, column `k % columns`; its own picture (laid out by
/// [`layout`](super::layout)) starts at `(column * tile_width, top + row * tile_height)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GridLayout {
    /// Width of every tile: the widest map's picture.
    pub tile_width: u32,
    /// Height of every tile: the tallest map's picture.
    pub tile_height: u32,
    /// y of the first row of tiles, below the shared title.
    pub top: u32,
    /// Tiles per row: the `columns` asked for, at most the number of maps.
    pub columns: u32,
    /// Rows of tiles.
    pub rows: u32,
    /// Width of the whole picture.
    pub width: u32,
    /// Height of the whole picture.
    pub height: u32,
}

impl GridLayout {
    /// Top-left corner of map `k`'s tile.
    pub fn origin(&self, k: usize) -> (u32, u32) {
        let c = self.columns.max(1) as usize;
        let (row, col) = ((k / c) as u32, (k % c) as u32);
        (col * self.tile_width, self.top + row * self.tile_height)
    }
}

/// The grid both grid renderers use for `maps` in `columns` columns under `title`; checks that
/// there is at least one map, that every map is valid, and that `columns >= 1`.
pub fn grid_layout(maps: &[Heatmap], columns: usize, title: &str) -> Result<GridLayout, VizError> {
    Ok(prepare(maps, columns, title)?.0)
}

/// Renders `maps` as one PNG: each map as [`render_png`](super::render_png) would draw it,
/// tiled left to right, top to bottom in `columns` columns, under `title` (may be empty).
pub fn render_grid_png(maps: &[Heatmap], columns: usize, title: &str) -> Result<Vec<u8>, VizError> {
    to_png(&Grid::new(maps, columns, title)?)
}

/// The SVG twin of [`render_grid_png`]: same grid, each map as [`render_svg`](super::render_svg)
/// would draw it.
pub fn render_grid_svg(maps: &[Heatmap], columns: usize, title: &str) -> Result<String, VizError> {
    to_svg(&Grid::new(maps, columns, title)?)
}

/// A grid of heat maps as a picture.
struct Grid<'a> {
    maps: &'a [Heatmap],
    grid: GridLayout,
    plans: Vec<Plan>,
    title: String,
}

impl<'a> Grid<'a> {
    fn new(maps: &'a [Heatmap], columns: usize, title: &str) -> Result<Self, VizError> {
        let (grid, plans, title) = prepare(maps, columns, title)?;
        Ok(Grid {
            maps,
            grid,
            plans,
            title,
        })
    }
}

impl Picture for Grid<'_> {
    fn size(&self) -> (u32, u32) {
        (self.grid.width, self.grid.height)
    }
    fn draw<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        raster: bool,
    ) -> Result<(), VizError> {
        let title = ink(TITLE_SIZE, HPos::Center, VPos::Top);
        let at = (self.grid.width as i32 / 2, MARGIN as i32);
        draw_text(area, &self.title, &title, at, raster)?;
        for (k, (map, plan)) in self.maps.iter().zip(&self.plans).enumerate() {
            let (x, y) = self.grid.origin(k);
            draw_heatmap(area, plan, map, (x as i32, y as i32), raster)?;
        }
        Ok(())
    }
}

/// Validates the inputs and computes the grid, each map's plan and the truncated title.
fn prepare(
    maps: &[Heatmap],
    columns: usize,
    title: &str,
) -> Result<(GridLayout, Vec<Plan>, String), VizError> {
    if maps.is_empty() {
        return Err(VizError::Empty {
            what: "maps".into(),
        });
    }
    if columns == 0 {
        return Err(VizError::InvalidArgument {
            name: "columns",
            value: columns.to_string(),
            requirement: "must be at least 1",
        });
    }
    for map in maps {
        map.validate()?;
    }
    let plans: Vec<Plan> = maps.iter().map(plan).collect();
    let title = truncate(title, MAX_TITLE_CHARS);
    let columns = columns.min(maps.len()) as u64;
    let rows = (maps.len() as u64).div_ceil(columns);
    let tile_w = plans
        .iter()
        .map(|p| u64::from(p.layout.width))
        .max()
        .unwrap_or(0);
    let tile_h = plans
        .iter()
        .map(|p| u64::from(p.layout.height))
        .max()
        .unwrap_or(0);
    let top = if title.is_empty() {
        0
    } else {
        MARGIN + TITLE_SIZE as u32 + TITLE_GAP
    };
    let title_w = u64::from(text_width(&title, TITLE_SIZE) + 2 * MARGIN);
    let width = (columns * tile_w).max(title_w);
    let height = u64::from(top) + rows * tile_h;
    check_size(width, height)?;
    let grid = GridLayout {
        tile_width: sat(tile_w),
        tile_height: sat(tile_h),
        top,
        columns: sat(columns),
        rows: sat(rows),
        width: sat(width),
        height: sat(height),
    };
    Ok((grid, plans, title))
}

#[cfg(test)]
mod tests {
    use super::super::layout;
    use super::*;

    fn map(n: usize) -> Heatmap {
        let labels = (0..n).map(|i| i.to_string()).collect::<Vec<_>>();
        Heatmap::new(
            format!("head {n}"),
            labels.clone(),
            labels,
            vec![0.25; n * n],
        )
        .unwrap()
    }

    #[test]
    fn tiles_fit_and_bad_arguments_fail() {
        let maps = [map(2), map(3), map(4)];
        let g = grid_layout(&maps, 2, "layer 0").unwrap();
        assert_eq!((g.columns, g.rows), (2, 2));
        assert_eq!(g.origin(3), (g.tile_width, g.top + g.tile_height));
        assert!(g.width >= 2 * g.tile_width && g.height >= g.top + 2 * g.tile_height);
        assert_eq!(grid_layout(&maps, 10, "").unwrap().columns, 3);
        assert!(matches!(
            grid_layout(&maps, 0, ""),
            Err(VizError::InvalidArgument { .. })
        ));
        assert!(matches!(
            grid_layout(&[], 1, ""),
            Err(VizError::Empty { .. })
        ));
        let svg = render_grid_svg(&maps, 2, "a<b").unwrap();
        let cell = layout(&maps[0]).cell;
        let cells = format!("width=\"{cell}\" height=\"{cell}\"");
        assert_eq!(svg.matches(&cells).count(), 4 + 9 + 16);
        assert!(svg.contains("a&lt;b"));
    }
}
