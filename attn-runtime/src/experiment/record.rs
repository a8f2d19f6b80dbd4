//! What one run of a sweep records.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Stability, SweepMetric};

/// One training run of a sweep: its grid point, seed and measurements.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// The swept settings of this grid point by name (`"heads" → "4"`), in name order.
    pub point: BTreeMap<String, String>,
    /// The seed.
    pub seed: u64,
    /// Which validation metric `final_valid`, `best_valid` and the curve hold (`None` in
    /// records written before it was named: exact match for sequence-to-sequence models,
    /// accuracy otherwise, as now).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<SweepMetric>,
    /// The validation metric after the last epoch: exact match for sequence-to-sequence models,
    /// accuracy (per token for taggers) for classifiers and taggers, perplexity for language
    /// models.
    pub final_valid: f64,
    /// The best validation metric of any epoch (the lowest, for perplexity).
    pub best_valid: f64,
    /// How far training is ahead of validation at the best epoch, positive when overfitting
    /// ([`SweepMetric::gap`]).
    pub train_valid_gap: f64,
    /// Seconds of training.
    pub seconds: f64,
    /// Seconds per training step.
    pub seconds_per_step: f64,
    /// Trainable parameters.
    pub params: usize,
    /// The most heap bytes live at once while the run trained (the data set included), when the
    /// program counts them with [`super::PeakAlloc`].
    pub peak_memory_bytes: Option<u64>,
    /// Loss spikes, divergence and gradient-norm spread.
    pub stability: Stability,
    /// The learning curve: one entry per completed epoch (empty in records written before
    /// curves were recorded).
    #[serde(default)]
    pub curve: Vec<CurvePoint>,
}

/// One epoch of a run's learning curve.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct CurvePoint {
    /// 1-based epoch.
    pub epoch: usize,
    /// Mean training loss of the epoch.
    pub train_loss: f64,
    /// Validation loss after the epoch.
    pub valid_loss: f64,
    /// The validation metric after the epoch (the metric of [`RunRecord::final_valid`]).
    pub valid: f64,
}

impl RunRecord {
    /// The grid point as `name=value` pairs joined by `, ` (its row label in reports).
    pub fn point_label(&self) -> String {
        label(&self.point)
    }
}

pub(crate) fn label(point: &BTreeMap<String, String>) -> String {
    point
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}
