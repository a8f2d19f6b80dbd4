//! Line charts of experiment results (loss curves, a metric against a swept parameter): the
//! data ([`Chart`], [`Series`]) and its checks. [`render_chart_png`](super::render_chart_png)
//! and [`render_chart_svg`](super::render_chart_svg) draw them with plotters.

use super::colormap::Rgb;
use super::error::{check_len, VizError};

/// Series colours: matplotlib's `tab10` cycle.
const PALETTE: [Rgb; 10] = [
    [0x1f, 0x77, 0xb4],
    [0xff, 0x7f, 0x0e],
    [0x2c, 0xa0, 0x2c],
    [0xd6, 0x27, 0x28],
    [0x94, 0x67, 0xbd],
    [0x8c, 0x56, 0x4b],
    [0xe3, 0x77, 0xc2],
    [0x7f, 0x7f, 0x7f],
    [0xbc, 0xbd, 0x22],
    [0x17, 0xbe, 0xcf],
];

/// The colour of series number `index` (0-based): matplotlib's ten-colour `tab10` cycle
/// (`#1f77b4` blue, `#ff7f0e` orange, `#2ca02c` green, ...), repeating after ten series.
pub fn series_colour(index: usize) -> Rgb {
    PALETTE[index % PALETTE.len()]
}

/// One line of a [`Chart`]: labelled `(x, y)` points, optionally with error bars.
///
/// Points may come in any order; they are drawn sorted by x. A point with a NaN coordinate is
/// skipped (its neighbours are joined directly). `error`, when given, holds one value per point:
/// the ± spread (e.g. one standard deviation) drawn as a vertical bar from `y - e` to `y + e`;
/// a NaN entry draws no bar.
///
/// PyTorch equivalent: one call of matplotlib `plt.plot(xs, ys, label=...)` (or
/// `plt.errorbar(xs, ys, yerr=...)` with `error`).
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Name shown in the legend.
    pub label: String,
    /// The `(x, y)` data points.
    pub points: Vec<(f64, f64)>,
    /// ± error per point (same length as `points`, each `>= 0` or NaN), drawn as vertical bars.
    pub error: Option<Vec<f64>>,
}

impl Series {
    /// A series without error bars.
    pub fn new(label: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Series {
            label: label.into(),
            points,
            error: None,
        }
    }
}

/// A line/point chart: title, axis labels and one or more [`Series`], rendered by
/// [`render_chart_png`](super::render_chart_png) and [`render_chart_svg`](super::render_chart_svg)
/// with the geometry of [`chart_layout`](super::chart_layout).
///
/// Axis ranges come from the data: the smallest and largest value, widened by 5% of their span on
/// each side (the y range includes the error bars); when all values on an axis are equal, the
/// range is that value ± 1. With `log_x` the x axis is logarithmic (base 10) and the padding and
/// ± 1 apply to `log10(x)`; every x must then be positive. An axis whose values (and, for y,
/// error bars) are all whole numbers gets whole-number ticks only (an epoch axis reads 1, 2, 3,
/// never 1.5); a categorical x axis gets one tick per name; a log axis ticks whole decades.
///
/// PyTorch equivalent: matplotlib `plt.plot` per series plus `plt.title`, `plt.xlabel`,
/// `plt.ylabel`, `plt.legend` (and `plt.xscale("log")` for `log_x`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Chart {
    /// Title drawn on top (cut to 50 characters).
    pub title: String,
    /// Label under the x axis (cut to 50 characters).
    pub x_label: String,
    /// Label left of the y axis, reading bottom to top (cut to 50 characters).
    pub y_label: String,
    /// The lines, coloured by [`series_colour`] in order; legend entries cut to 32 characters.
    pub series: Vec<Series>,
    /// Whether the x axis is logarithmic (base 10).
    pub log_x: bool,
    /// Names of a categorical x axis (empty: numeric). Point `x = i` sits at the `i`-th name's
    /// tick, so every x must be an index into this list (e.g. one FFN activation per tick).
    pub x_categories: Vec<String>,
}

impl Chart {
    /// Checks that the chart can be drawn.
    ///
    /// Errors: [`VizError::Empty`] when there is no series, or no point with both coordinates
    /// non-NaN in any series; [`VizError::NonFinite`] for an infinite coordinate or error value
    /// (NaN is allowed: such points are skipped); [`VizError::SizeMismatch`] when `error` is not
    /// one value per point; [`VizError::InvalidArgument`] for a negative error value, or, with
    /// `log_x`, an x that is `<= 0`; on a categorical axis, an x that is not an index into
    /// `x_categories`, or `log_x`.
    pub fn validate(&self) -> Result<(), VizError> {
        if self.log_x && !self.x_categories.is_empty() {
            return Err(VizError::InvalidArgument {
                name: "log_x",
                value: "true".into(),
                requirement: "a categorical x axis cannot be logarithmic",
            });
        }
        if self.series.is_empty() {
            return Err(VizError::Empty {
                what: "chart series".to_string(),
            });
        }
        let mut drawable = 0usize;
        for s in &self.series {
            for (index, &(x, y)) in s.points.iter().enumerate() {
                for v in [x, y] {
                    if v.is_infinite() {
                        return Err(VizError::NonFinite {
                            what: format!("points of series '{}'", s.label),
                            index,
                            value: v as f32,
                        });
                    }
                }
                let categories = self.x_categories.len() as f64;
                if !self.x_categories.is_empty()
                    && !x.is_nan()
                    && (x.fract() != 0.0 || x < 0.0 || x >= categories)
                {
                    return Err(VizError::InvalidArgument {
                        name: "x",
                        value: x.to_string(),
                        requirement: "on a categorical axis x must index x_categories",
                    });
                }
                if self.log_x && x <= 0.0 {
                    return Err(VizError::InvalidArgument {
                        name: "x",
                        value: x.to_string(),
                        requirement: "x must be > 0 when log_x is set",
                    });
                }
                if !x.is_nan() && !y.is_nan() {
                    drawable += 1;
                }
            }
            if let Some(error) = &s.error {
                let what = format!("error bars of series '{}'", s.label);
                check_len(&what, s.points.len(), error.len())?;
                for (index, &e) in error.iter().enumerate() {
                    if e.is_infinite() {
                        return Err(VizError::NonFinite {
                            what,
                            index,
                            value: e as f32,
                        });
                    }
                    if e < 0.0 {
                        return Err(VizError::InvalidArgument {
                            name: "error",
                            value: e.to_string(),
                            requirement: "error bars must be >= 0",
                        });
                    }
                }
            }
        }
        if drawable == 0 {
            return Err(VizError::Empty {
                what: "chart data (no point without NaN)".to_string(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Validation accuracy of three FFN activations: a chart with a categorical x axis.
    pub(crate) fn activations() -> Chart {
        Chart {
            series: vec![Series::new(
                "valid",
                vec![(0.0, 0.5), (1.0, 0.7), (2.0, 0.6)],
            )],
            x_categories: vec!["relu".into(), "gelu".into(), "swiglu".into()],
            ..Chart::default()
        }
    }

    #[test]
    fn invalid_charts_are_errors() {
        let empty = Chart::default();
        assert!(matches!(empty.validate(), Err(VizError::Empty { .. })));
        let nan = Chart {
            series: vec![Series::new("n", vec![(f64::NAN, 1.0), (1.0, f64::NAN)])],
            ..Chart::default()
        };
        assert!(matches!(nan.validate(), Err(VizError::Empty { .. })));
        let no_points = Chart {
            series: vec![Series::new("n", vec![])],
            ..Chart::default()
        };
        assert!(matches!(no_points.validate(), Err(VizError::Empty { .. })));
        let log = Chart {
            series: vec![Series::new("l", vec![(0.0, 1.0), (1.0, 2.0)])],
            log_x: true,
            ..Chart::default()
        };
        assert!(matches!(
            log.validate(),
            Err(VizError::InvalidArgument { name: "x", .. })
        ));
        let inf = Chart {
            series: vec![Series::new("i", vec![(1.0, f64::INFINITY)])],
            ..Chart::default()
        };
        assert!(matches!(
            inf.validate(),
            Err(VizError::NonFinite { index: 0, .. })
        ));
        let mut bad_err = Chart {
            series: vec![Series::new("d", vec![(0.0, 0.0), (1.0, 1.0)])],
            ..Chart::default()
        };
        bad_err.series[0].error = Some(vec![0.1]);
        assert!(matches!(
            bad_err.validate(),
            Err(VizError::SizeMismatch {
                expected: 2,
                got: 1,
                ..
            })
        ));
        bad_err.series[0].error = Some(vec![0.1, -1.0]);
        assert!(matches!(
            bad_err.validate(),
            Err(VizError::InvalidArgument { name: "error", .. })
        ));
    }

    #[test]
    fn categorical_axes_take_indices_only() {
        let chart = activations();
        chart.validate().unwrap();
        for bad in [0.5, 3.0, -1.0] {
            let mut wrong = chart.clone();
            wrong.series[0].points[0].0 = bad;
            assert!(matches!(
                wrong.validate(),
                Err(VizError::InvalidArgument { name: "x", .. })
            ));
        }
        let log = Chart {
            log_x: true,
            ..chart
        };
        assert!(matches!(
            log.validate(),
            Err(VizError::InvalidArgument { name: "log_x", .. })
        ));
    }
}
