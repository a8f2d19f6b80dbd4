//! Precision, recall and F1 over integer class labels, and the classification report.
//!
//! Every value is computed with the same floating-point operations, in the same order, as
//! scikit-learn's `precision_recall_fscore_support(..., zero_division=0)` (which averages with
//! NumPy's pairwise summation), so results agree bit for bit.

use serde::Serialize;

use super::class_counts::{mean, ClassCounts, ClassScores, PrfScores};
use super::confusion::sorted_union;
use super::{accuracy, check_non_empty, check_same_len, MetricError, MetricResult};

/// How [`precision_recall_f1`] averages the per-class scores.
///
/// **Equivalent**: scikit-learn's `average="binary"` (with `pos_label`), `"micro"`, `"macro"`,
/// `"weighted"`, `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Average {
    /// Only the scores of class `pos_label` (data with at most two distinct labels).
    Binary {
        /// The positive class.
        pos_label: usize,
    },
    /// Scores of the summed true-positive, predicted and gold counts over all classes.
    Micro,
    /// Unweighted mean of the per-class scores.
    Macro,
    /// Mean of the per-class scores weighted by support (gold count).
    Weighted,
    /// No average: per-class scores only.
    None,
}

/// What [`precision_recall_f1`] returns: per-class scores and the requested average.
///
/// **Equivalent**: `precision_recall_fscore_support(.., average=None)` and
/// `precision_recall_fscore_support(.., average=average)` together.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PrecisionRecallF1 {
    /// Per-class scores over the labels scikit-learn scores: the sorted union of gold and pred
    /// labels, or just `[pos_label]` for [`Average::Binary`].
    pub classes: Vec<ClassScores>,
    /// The averaged scores; `None` for [`Average::None`].
    pub average: Option<PrfScores>,
}

/// A classification report: per-class scores, accuracy, and micro, macro and weighted averages.
///
/// **Equivalent**: `sklearn.metrics.classification_report(gold, pred, output_dict=True,
/// zero_division=0)`, with the micro average added.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassificationReport {
    /// Per-class scores over the sorted union of gold and pred labels.
    pub classes: Vec<ClassScores>,
    /// The fraction of correct predictions.
    pub accuracy: f64,
    /// Scores of the summed counts (all equal to `accuracy` here, as every label is scored).
    pub micro_avg: PrfScores,
    /// Unweighted mean of the per-class scores.
    pub macro_avg: PrfScores,
    /// Support-weighted mean of the per-class scores.
    pub weighted_avg: PrfScores,
    /// The number of items.
    pub support: usize,
}

/// Per-class precision, recall, F1 and support of `pred` against `gold`, and their average.
///
/// Labels are the sorted union of the labels in `gold` and `pred` (a class present only in the
/// predictions gets recall 0 and support 0; a class never predicted gets precision 0). Any score
/// whose denominator is zero is 0.
///
/// **Equivalent**: `sklearn.metrics.precision_recall_fscore_support(gold, pred,
/// average=average, zero_division=0)` (with `pos_label=..` for `Binary`, `average=None` for
/// [`Average::None`]); the per-class part is the `average=None` result.
///
/// # Errors
/// [`MetricError::Empty`] / [`MetricError::LengthMismatch`] for empty or unequal inputs;
/// for [`Average::Binary`], [`MetricError::NotBinary`] when there are more than two distinct
/// labels and [`MetricError::InvalidPosLabel`] when there are two and `pos_label` is neither.
pub fn precision_recall_f1(
    gold: &[usize],
    pred: &[usize],
    average: Average,
) -> MetricResult<PrecisionRecallF1> {
    check_same_len(gold.len(), pred.len(), "gold vs pred labels")?;
    check_non_empty(gold.len(), "gold labels")?;
    let present = sorted_union(gold, pred);
    let labels = match average {
        Average::Binary { pos_label } => {
            if present.len() > 2 {
                return Err(MetricError::NotBinary { labels: present });
            }
            if present.len() == 2 && !present.contains(&pos_label) {
                return Err(MetricError::InvalidPosLabel {
                    pos_label,
                    labels: present,
                });
            }
            vec![pos_label]
        }
        _ => present,
    };
    let counts = ClassCounts::of(gold, pred, &labels);
    let classes = counts.class_scores();
    let average = match average {
        Average::None => None,
        Average::Binary { .. } | Average::Macro => Some(mean(&classes, None)),
        Average::Weighted => Some(mean(&classes, Some(&counts.gold))),
        Average::Micro => Some(counts.micro()),
    };
    Ok(PrecisionRecallF1 { classes, average })
}

/// The classification report of `pred` against `gold`: per-class scores, accuracy, and the
/// micro, macro and weighted averages.
///
/// **Equivalent**: `sklearn.metrics.classification_report(gold, pred, output_dict=True,
/// zero_division=0)` (its `"accuracy"`, `"macro avg"`, `"weighted avg"` and per-class entries),
/// plus `precision_recall_fscore_support(gold, pred, average="micro", zero_division=0)`.
///
/// # Errors
/// [`MetricError::Empty`] / [`MetricError::LengthMismatch`] for empty or unequal inputs.
pub fn classification_report(gold: &[usize], pred: &[usize]) -> MetricResult<ClassificationReport> {
    let accuracy = accuracy(gold, pred)?;
    let labels = sorted_union(gold, pred);
    let counts = ClassCounts::of(gold, pred, &labels);
    let classes = counts.class_scores();
    Ok(ClassificationReport {
        accuracy,
        micro_avg: counts.micro(),
        macro_avg: mean(&classes, None),
        weighted_avg: mean(&classes, Some(&counts.gold)),
        support: gold.len(),
        classes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_scores_the_positive_class() {
        let prf = precision_recall_f1(
            &[0, 1, 1, 0, 1],
            &[1, 1, 0, 0, 1],
            Average::Binary { pos_label: 1 },
        )
        .unwrap();
        let avg = prf.average.unwrap();
        assert_eq!((avg.precision, avg.recall), (2.0 / 3.0, 2.0 / 3.0));
        assert_eq!(prf.classes.len(), 1);
    }

    #[test]
    fn binary_errors_like_sklearn() {
        let bin = |p| Average::Binary { pos_label: p };
        assert!(matches!(
            precision_recall_f1(&[0, 1, 2], &[0, 1, 2], bin(1)),
            Err(MetricError::NotBinary { .. })
        ));
        assert!(matches!(
            precision_recall_f1(&[0, 1], &[0, 1], bin(5)),
            Err(MetricError::InvalidPosLabel { pos_label: 5, .. })
        ));
        // a single present label: an absent pos_label scores zero (as scikit-learn)
        let prf = precision_recall_f1(&[0, 0], &[0, 0], bin(1)).unwrap();
        assert_eq!(prf.average.unwrap().f1, 0.0);
    }

    #[test]
    fn missing_classes_score_zero() {
        // class 2 is never predicted, class 3 only predicted
        let prf = precision_recall_f1(&[0, 1, 2, 2], &[0, 1, 3, 3], Average::None).unwrap();
        let c2 = prf.classes[2];
        let c3 = prf.classes[3];
        assert_eq!(
            (c2.precision, c2.recall, c2.f1, c2.support),
            (0.0, 0.0, 0.0, 2)
        );
        assert_eq!(
            (c3.precision, c3.recall, c3.f1, c3.support),
            (0.0, 0.0, 0.0, 0)
        );
        assert!(prf.average.is_none());
    }
}
