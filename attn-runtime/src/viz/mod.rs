//! Visualising attention: heat maps as PNG and SVG, grids of them, per-head statistics and
//! attention rollout.
//!
//! Pictures are drawn by the `plotters` crate: into an RGB buffer encoded as PNG, or as SVG.
//! Rendering needs no system font or native library: the text is DejaVu Sans, embedded in the
//! binary and rasterised anti-aliased for PNG; SVG text names the `sans-serif` family. Heat-map
//! colours come from viridis ([`viridis`]) on a fixed `[0, 1]` scale. Output is deterministic:
//! the same input always gives the same bytes.
//!
//! ```
//! use attn_runtime::viz::{head_stats, layout, render_png, render_svg, Heatmap};
//!
//! let tokens: Vec<String> = ["the", "cat", "sat"].iter().map(|s| s.to_string()).collect();
//! let weights = vec![1.0, 0.0, 0.0, 0.5, 0.5, 0.0, 0.2, 0.3, 0.5];
//! let map = Heatmap::new("layer 0, head 0", tokens.clone(), tokens, weights.clone())?;
//! let png = render_png(&map)?;
//! let svg = render_svg(&map)?;
//! assert!(png.starts_with(b"\x89PNG") && svg.starts_with("<svg"));
//! let cell = layout(&map); // cell (i, j) starts at (left + j * cell, top + i * cell)
//! assert_eq!(cell.cell, 24);
//! let stats = head_stats(&weights, 3, 3, 3)?;
//! assert!((stats.first_token - (1.0 + 0.5 + 0.2) / 3.0).abs() < 1e-6);
//! # Ok::<(), attn_runtime::viz::VizError>(())
//! ```

mod axis;
mod chart;
mod chart_draw;
mod colormap;
mod error;
mod grid;
mod heatmap;
mod page;
mod picture;
mod render;
mod report;
mod rollout;
mod stats;
mod ticks;
mod typeface;

pub use self::chart::{series_colour, Chart, Series};
pub use self::chart_draw::{
    chart_layout, render_chart_png, render_chart_svg, ChartLayout, CHART_HEIGHT, CHART_WIDTH,
};
pub use self::colormap::{viridis, Rgb, VIRIDIS};
pub use self::error::VizError;
pub use self::grid::{grid_layout, render_grid_png, render_grid_svg, GridLayout};
pub use self::heatmap::{layout, Heatmap, Layout, MAX_LABEL_CHARS, MAX_PIXELS, MAX_TITLE_CHARS};
pub use self::page::{attention_page, PageData, PageImage, PageLayer, PageStats};
pub use self::render::{render_png, render_svg};
pub use self::report::{write_report, LayerSimilarity, ReportFiles};
pub use self::rollout::rollout;
pub use self::stats::{head_similarity, head_stats, stats_table, HeadStats};
pub use self::ticks::nice_ticks;
