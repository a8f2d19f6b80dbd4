//! A chart axis as a plotters coordinate: a linear or logarithmic map from data to pixels whose
//! ticks and tick labels are the ones [`ticks`](super::ticks) chose (plotters' own choice would
//! put 1.5 on an epoch axis and print `1.0` for 1).

use std::ops::Range;

use plotters::coord::ranged1d::{KeyPointHint, NoDefaultFormatting, Ranged, ValueFormatter};

use plotters::coord::types::RangedCoordf64;

use super::ticks::label_at;

/// One axis: its data range, whether it is logarithmic, and its ticks as `(value, label)`.
#[derive(Debug, Clone)]
pub(crate) struct Axis {
    range: Range<f64>,
    log: bool,
    ticks: Vec<(f64, String)>,
}

impl Axis {
    /// An axis over `range` (both ends > 0 when `log`) ticked at `ticks`.
    pub fn new(range: Range<f64>, log: bool, ticks: Vec<(f64, String)>) -> Self {
        Axis { range, log, ticks }
    }

    fn scale(&self, v: f64) -> f64 {
        if self.log {
            v.ln()
        } else {
            v
        }
    }
}

impl Ranged for Axis {
    type FormatOption = NoDefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let linear: RangedCoordf64 =
            (self.scale(self.range.start)..self.scale(self.range.end)).into();
        linear.map(&self.scale(*value), limit)
    }

    /// The planned ticks, as the bold grid lines; no light ones.
    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.iter().map(|t| t.0).collect()
        }
    }

    fn range(&self) -> Range<f64> {
        self.range.clone()
    }
}

impl ValueFormatter<f64> for Axis {
    fn format(value: &f64) -> String {
        value.to_string()
    }

    fn format_ext(&self, value: &f64) -> String {
        label_at(&self.ticks, *value)
    }
}

#[cfg(test)]
mod tests {
    use plotters::coord::ranged1d::{BoldPoints, LightPoints};

    use super::*;

    #[test]
    fn maps_like_plotters_and_labels_its_ticks() {
        let ticks = vec![(1.0, "1".to_string()), (2.0, "2".to_string())];
        let axis = Axis::new(0.0..4.0, false, ticks);
        assert_eq!(axis.map(&0.0, (10, 50)), 10);
        assert_eq!(axis.map(&2.0, (10, 50)), 30);
        assert_eq!(axis.map(&4.0, (10, 50)), 50);
        assert_eq!(axis.key_points(BoldPoints(5)), [1.0, 2.0]);
        assert!(axis.key_points(LightPoints::new(5, 10)).is_empty());
        assert_eq!(axis.format_ext(&2.0), "2");
        let log = Axis::new(1e-3..1e1, true, Vec::new());
        assert_eq!(log.map(&1e-1, (0, 400)), 200);
    }
}
