//! Precision, recall and F1 over integer class labels, and the classification report.
//!
//! Every value is computed with the same floating-point operations, in the same order, as
//! scikit-learn's `precision_recall_fscore_support(..., zero_division=0)` (which averages with
//! NumPy's pairwise summation), so results agree bit for bit.

use serde::Serialize;

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

/// Precision, recall and F1 of one class or one average.
///
/// **Equivalent**: the `(precision, recall, fscore)` floats of
/// `sklearn.metrics.precision_recall_fscore_support(.., average=.., zero_division=0)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PrfScores {
    /// `tp / (tp + fp)`, 0 when nothing was predicted.
    pub precision: f64,
    /// `tp / (tp + fn)`, 0 when there is no gold item.
    pub recall: f64,
    /// `2 tp / (2 tp + fp + fn)`, 0 when both are undefined.
    pub f1: f64,
}

/// The scores of one class.
///
/// **Equivalent**: one column of `precision_recall_fscore_support(.., average=None,
/// zero_division=0)`, or one per-class entry of `classification_report(.., output_dict=True)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ClassScores {
    /// The class label.
    pub label: usize,
    /// `tp / (tp + fp)`, 0 when the class was never predicted.
    pub precision: f64,
    /// `tp / (tp + fn)`, 0 when the class never occurs in gold.
    pub recall: f64,
    /// `2 tp / (2 tp + fp + fn)`, 0 when the class occurs in neither.
    pub f1: f64,
    /// The number of gold items of this class.
    pub support: usize,
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
    let counts = LabelCounts::new(gold, pred, &labels);
    let classes = counts.class_scores(&labels);
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
    let counts = LabelCounts::new(gold, pred, &labels);
    let classes = counts.class_scores(&labels);
    Ok(ClassificationReport {
        accuracy,
        micro_avg: counts.micro(),
        macro_avg: mean(&classes, None),
        weighted_avg: mean(&classes, Some(&counts.gold)),
        support: gold.len(),
        classes,
    })
}

/// True positives, predicted counts and gold counts per label.
struct LabelCounts {
    tp: Vec<usize>,
    pred: Vec<usize>,
    gold: Vec<usize>,
}

impl LabelCounts {
    fn new(gold: &[usize], pred: &[usize], labels: &[usize]) -> Self {
        let n = labels.len();
        let mut c = LabelCounts {
            tp: vec![0; n],
            pred: vec![0; n],
            gold: vec![0; n],
        };
        // `labels` is sorted (the union) or a single label
        let index = |l: &usize| labels.binary_search(l).ok();
        for (g, p) in gold.iter().zip(pred) {
            let (gi, pi) = (index(g), index(p));
            if let Some(gi) = gi {
                c.gold[gi] += 1;
            }
            if let Some(pi) = pi {
                c.pred[pi] += 1;
            }
            if g == p {
                if let Some(gi) = gi {
                    c.tp[gi] += 1;
                }
            }
        }
        c
    }

    /// Scores of the counts summed over labels.
    fn micro(&self) -> PrfScores {
        let sum = |v: &[usize]| v.iter().sum();
        scores(sum(&self.tp), sum(&self.pred), sum(&self.gold))
    }

    fn class_scores(&self, labels: &[usize]) -> Vec<ClassScores> {
        labels
            .iter()
            .enumerate()
            .map(|(i, &label)| {
                let s = scores(self.tp[i], self.pred[i], self.gold[i]);
                ClassScores {
                    label,
                    precision: s.precision,
                    recall: s.recall,
                    f1: s.f1,
                    support: self.gold[i],
                }
            })
            .collect()
    }
}

/// Precision, recall and F1 from counts, 0 where a denominator is 0 (`zero_division=0`).
fn scores(tp: usize, pred: usize, gold: usize) -> PrfScores {
    let divide = |num: f64, den: f64| if den == 0.0 { 0.0 } else { num / den };
    let (tp, pred, gold) = (tp as f64, pred as f64, gold as f64);
    PrfScores {
        precision: divide(tp, pred),
        recall: divide(tp, gold),
        // scikit-learn: (1 + beta²) tp / (beta² gold + pred) with beta = 1
        f1: divide(2.0 * tp, gold + pred),
    }
}

/// The (support-weighted) mean of per-class scores, as `numpy.average`: the pairwise sum of
/// `value * weight` over the pairwise sum of the weights, or the plain mean when every weight is
/// 0 (as scikit-learn's `_nanaverage`).
fn mean(classes: &[ClassScores], weights: Option<&[usize]>) -> PrfScores {
    let n = classes.len() as f64;
    let field = |f: fn(&ClassScores) -> f64| -> f64 {
        let values: Vec<f64> = classes.iter().map(f).collect();
        match weights {
            Some(w) => {
                let w: Vec<f64> = w.iter().map(|&x| x as f64).collect();
                let scale = numpy_sum(&w);
                if scale == 0.0 {
                    return numpy_sum(&values) / n;
                }
                let product: Vec<f64> = values.iter().zip(&w).map(|(v, w)| v * w).collect();
                numpy_sum(&product) / scale
            }
            None => numpy_sum(&values) / n,
        }
    };
    PrfScores {
        precision: field(|c| c.precision),
        recall: field(|c| c.recall),
        f1: field(|c| c.f1),
    }
}

/// The sum NumPy's `np.sum` computes for a contiguous float64 array: pairwise summation with
/// blocks of up to 128 values, each summed with 8 interleaved accumulators.
fn numpy_sum(a: &[f64]) -> f64 {
    const BLOCK: usize = 128;
    let n = a.len();
    if n < 8 {
        a.iter().fold(0.0, |acc, &x| acc + x)
    } else if n <= BLOCK {
        let mut r = [0.0f64; 8];
        r.copy_from_slice(&a[..8]);
        let mut i = 8;
        while i < n - n % 8 {
            for (j, rj) in r.iter_mut().enumerate() {
                *rj += a[i + j];
            }
            i += 8;
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for &x in &a[i..] {
            res += x;
        }
        res
    } else {
        let mut n2 = n / 2;
        n2 -= n2 % 8;
        numpy_sum(&a[..n2]) + numpy_sum(&a[n2..])
    }
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

    #[test]
    fn numpy_sum_matches_pairwise_order() {
        let a: Vec<f64> = (0..300).map(|i| 1.0 / (i as f64 + 1.0)).collect();
        // the same grouping written out for n = 9 (8 accumulators, then one more value)
        let b = &a[..9];
        let r = ((b[0] + b[1]) + (b[2] + b[3])) + ((b[4] + b[5]) + (b[6] + b[7]));
        assert_eq!(numpy_sum(b), r + b[8]);
        assert!((numpy_sum(&a) - a.iter().sum::<f64>()).abs() < 1e-12);
    }
}
