//! The validation score a sweep compares its runs by, and which way is better.

use serde::{Deserialize, Serialize};

use crate::model::TaskSpec;
use crate::run::EpochReport;

/// What a sweep records as each run's validation metric: exact match for
/// sequence-to-sequence models, accuracy (per token for taggers) for classifiers and taggers,
/// perplexity for language models — the last one lower-is-better.
///
/// **PyTorch equivalent**: the `metric`/`mode` pair of a Ray Tune or Optuna study
/// (`mode="min"` for perplexity).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SweepMetric {
    /// Validation exact match (greedy decoding), higher is better.
    ExactMatch,
    /// Validation accuracy, higher is better.
    Accuracy,
    /// Validation perplexity, lower is better.
    Perplexity,
}

impl SweepMetric {
    /// The metric a sweep of `task`'s models compares.
    pub fn for_task(task: &TaskSpec) -> SweepMetric {
        match task {
            TaskSpec::Seq2Seq { .. } => SweepMetric::ExactMatch,
            TaskSpec::LanguageModel { .. } => SweepMetric::Perplexity,
            _ => SweepMetric::Accuracy,
        }
    }

    /// The metric's value after one epoch (NaN where the epoch did not compute it).
    pub fn of(self, epoch: &EpochReport) -> f64 {
        match self {
            SweepMetric::ExactMatch => epoch.valid_exact,
            SweepMetric::Accuracy => epoch.valid_acc,
            SweepMetric::Perplexity => epoch.valid_perplexity.unwrap_or(f64::NAN),
        }
    }

    /// How far the epoch's training score is ahead of its validation score, positive when the
    /// model fits its training data better (overfitting): training minus validation accuracy,
    /// or validation minus training perplexity (`exp` of the mean training loss, measured
    /// with dropout on as the epoch trained).
    pub fn gap(self, epoch: &EpochReport) -> f64 {
        match self {
            SweepMetric::ExactMatch | SweepMetric::Accuracy => epoch.train_acc - epoch.valid_acc,
            SweepMetric::Perplexity => self.of(epoch) - epoch.train_loss.exp(),
        }
    }

    /// Whether a greater value is better.
    pub fn higher_is_better(self) -> bool {
        !matches!(self, SweepMetric::Perplexity)
    }

    /// The best of `values` by this metric's direction, ignoring NaN (NaN when all are).
    pub fn best(self, values: impl IntoIterator<Item = f64>) -> f64 {
        let pick = if self.higher_is_better() {
            f64::max
        } else {
            f64::min
        };
        values.into_iter().fold(f64::NAN, pick)
    }

    /// The metric's name in reports.
    pub fn name(self) -> &'static str {
        match self {
            SweepMetric::ExactMatch => "exact match",
            SweepMetric::Accuracy => "accuracy",
            SweepMetric::Perplexity => "perplexity",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn epoch(train_loss: f64, train_acc: f64, valid_acc: f64, ppl: Option<f64>) -> EpochReport {
        EpochReport {
            epoch: 1,
            train_loss,
            train_acc,
            valid_loss: 0.0,
            valid_acc,
            valid_exact: 0.25,
            valid_bleu: None,
            valid_macro_f1: None,
            valid_perplexity: ppl,
            lr: 1e-3,
            seconds: 1.0,
            examples_per_second: 1.0,
        }
    }

    #[test]
    fn each_task_compares_its_own_metric() {
        let lm = TaskSpec::LanguageModel {
            vocab: 10,
            context: 8,
        };
        assert_eq!(SweepMetric::for_task(&lm), SweepMetric::Perplexity);
        let e = epoch(2.0_f64.ln(), 0.9, 0.6, Some(3.5));
        assert_eq!(SweepMetric::Perplexity.of(&e), 3.5);
        assert_eq!(SweepMetric::Accuracy.of(&e), 0.6);
        assert_eq!(SweepMetric::ExactMatch.of(&e), 0.25);
        // training perplexity 2 against validation 3.5: overfitting by 1.5
        assert!((SweepMetric::Perplexity.gap(&e) - 1.5).abs() < 1e-12);
        assert!((SweepMetric::Accuracy.gap(&e) - 0.3).abs() < 1e-12);
        assert!(SweepMetric::Perplexity
            .of(&epoch(1.0, 0.5, 0.5, None))
            .is_nan());
    }

    #[test]
    fn perplexity_is_best_at_its_lowest() {
        let values = [4.0, f64::NAN, 2.5, 3.0];
        assert_eq!(SweepMetric::Perplexity.best(values), 2.5);
        assert_eq!(SweepMetric::Accuracy.best(values), 4.0);
        assert!(SweepMetric::ExactMatch.best([f64::NAN]).is_nan());
    }
}
