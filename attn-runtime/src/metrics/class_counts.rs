//! Per-class counts of a classification (true positives, predictions, gold items) and the
//! precision, recall and F1 they give, computed as scikit-learn computes them.
//!
//! The counts add up: a validation pass accumulates them batch by batch and scores once, with
//! the same floating-point operations in the same order as
//! `precision_recall_fscore_support(..., zero_division=0)` on all the items at once.

use serde::{Deserialize, Serialize};

/// Precision, recall and F1 of one class or one average.
///
/// **Equivalent**: the `(precision, recall, fscore)` floats of
/// `sklearn.metrics.precision_recall_fscore_support(.., average=.., zero_division=0)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
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

/// True positives, predicted counts and gold counts per label, over a sorted set of labels.
///
/// Counts from separate batches add up ([`add`](Self::add)); the scores of the sum are those of
/// all the items together.
///
/// **Equivalent**: the `tp_sum`, `pred_sum` and `true_sum` of scikit-learn's
/// `multilabel_confusion_matrix`, from which `precision_recall_fscore_support` scores.
///
/// ```
/// use attn_runtime::metrics::ClassCounts;
///
/// let mut counts = ClassCounts::dense(4);
/// for (gold, pred) in [(0, 0), (1, 2), (2, 2)] {
///     counts.record(gold, pred);
/// }
/// // sklearn.metrics.f1_score([0, 1, 2], [0, 2, 2], average="macro") == 5/9: class 3 occurs
/// // nowhere, so it is not averaged
/// assert!((counts.macro_avg().unwrap().f1 - 5.0 / 9.0).abs() < 1e-15);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassCounts {
    /// The labels counted, sorted.
    pub labels: Vec<usize>,
    /// Items of each label predicted right.
    pub tp: Vec<usize>,
    /// Items predicted as each label.
    pub pred: Vec<usize>,
    /// Gold items of each label.
    pub gold: Vec<usize>,
}

impl ClassCounts {
    /// No items yet, over `labels` (sorted and distinct; items with other labels are not
    /// counted, as scikit-learn's `labels=` argument).
    pub fn new(labels: Vec<usize>) -> Self {
        debug_assert!(labels.windows(2).all(|w| w[0] < w[1]), "labels sorted");
        let n = labels.len();
        ClassCounts {
            labels,
            tp: vec![0; n],
            pred: vec![0; n],
            gold: vec![0; n],
        }
    }

    /// No items yet, over the labels `0..num_labels` (a model's output classes).
    pub fn dense(num_labels: usize) -> Self {
        Self::new((0..num_labels).collect())
    }

    /// The counts of `pred` against `gold` over `labels` (sorted).
    pub fn of(gold: &[usize], pred: &[usize], labels: &[usize]) -> Self {
        let mut c = Self::new(labels.to_vec());
        for (&g, &p) in gold.iter().zip(pred) {
            c.record(g, p);
        }
        c
    }

    /// Counts one item of gold label `gold` predicted as `pred`.
    pub fn record(&mut self, gold: usize, pred: usize) {
        let (gi, pi) = (self.index(gold), self.index(pred));
        if let Some(gi) = gi {
            self.gold[gi] += 1;
            if gold == pred {
                self.tp[gi] += 1;
            }
        }
        if let Some(pi) = pi {
            self.pred[pi] += 1;
        }
    }

    /// Adds `other`'s counts (labels only `other` counts are added to the set).
    pub fn add(&mut self, other: &ClassCounts) {
        for (j, &label) in other.labels.iter().enumerate() {
            let i = match self.labels.binary_search(&label) {
                Ok(i) => i,
                Err(i) => {
                    self.labels.insert(i, label);
                    self.tp.insert(i, 0);
                    self.pred.insert(i, 0);
                    self.gold.insert(i, 0);
                    i
                }
            };
            self.tp[i] += other.tp[j];
            self.pred[i] += other.pred[j];
            self.gold[i] += other.gold[j];
        }
    }

    fn index(&self, label: usize) -> Option<usize> {
        self.labels.binary_search(&label).ok()
    }

    /// Scores of the counts summed over labels.
    ///
    /// **Equivalent**: `precision_recall_fscore_support(.., average="micro", zero_division=0)`.
    pub fn micro(&self) -> PrfScores {
        let sum = |v: &[usize]| v.iter().sum();
        scores(sum(&self.tp), sum(&self.pred), sum(&self.gold))
    }

    /// The scores of every counted label, in order.
    ///
    /// **Equivalent**: `precision_recall_fscore_support(.., labels=labels, average=None,
    /// zero_division=0)`.
    pub fn class_scores(&self) -> Vec<ClassScores> {
        self.labels
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

    /// The unweighted mean of the scores of the labels that occur (in gold or predicted), or
    /// `None` when no item was counted.
    ///
    /// **Equivalent**: `precision_recall_fscore_support(gold, pred, average="macro",
    /// zero_division=0)` on all the items recorded, which averages over the sorted union of
    /// the labels present.
    pub fn macro_avg(&self) -> Option<PrfScores> {
        let present: Vec<ClassScores> = self
            .class_scores()
            .into_iter()
            .zip(&self.pred)
            .filter(|(c, &pred)| c.support + pred > 0)
            .map(|(c, _)| c)
            .collect();
        (!present.is_empty()).then(|| mean(&present, None))
    }
}

/// Precision, recall and F1 from counts, 0 where a denominator is 0 (`zero_division=0`).
pub(super) fn scores(tp: usize, pred: usize, gold: usize) -> PrfScores {
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
pub(super) fn mean(classes: &[ClassScores], weights: Option<&[usize]>) -> PrfScores {
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
pub(super) fn numpy_sum(a: &[f64]) -> f64 {
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
    fn numpy_sum_matches_pairwise_order() {
        let a: Vec<f64> = (0..300).map(|i| 1.0 / (i as f64 + 1.0)).collect();
        // the same grouping written out for n = 9 (8 accumulators, then one more value)
        let b = &a[..9];
        let r = ((b[0] + b[1]) + (b[2] + b[3])) + ((b[4] + b[5]) + (b[6] + b[7]));
        assert_eq!(numpy_sum(b), r + b[8]);
        assert!((numpy_sum(&a) - a.iter().sum::<f64>()).abs() < 1e-12);
    }

    #[test]
    fn counts_of_batches_add_up_to_the_counts_of_all() {
        let gold = [0, 1, 2, 2, 3, 1, 0];
        let pred = [0, 2, 2, 1, 3, 1, 3];
        let all = ClassCounts::of(&gold, &pred, &[0, 1, 2, 3]);
        let mut sum = ClassCounts::default();
        for (g, p) in gold.chunks(3).zip(pred.chunks(3)) {
            sum.add(&ClassCounts::of(g, p, &[0, 1, 2, 3]));
        }
        assert_eq!(sum, all);
        assert_eq!(all.tp, [1, 1, 1, 1]);
        assert_eq!(all.pred, [1, 2, 2, 2]);
        assert_eq!(all.gold, [2, 2, 2, 1]);
    }

    #[test]
    fn the_macro_average_skips_labels_that_occur_nowhere_and_needs_an_item() {
        assert_eq!(ClassCounts::dense(3).macro_avg(), None);
        let mut c = ClassCounts::dense(5);
        c.record(4, 4);
        c.record(0, 4);
        // classes 0 (f1 0) and 4 (2·1/(2·1+1) = 2/3); 1, 2, 3 are not averaged
        assert_eq!(c.macro_avg().unwrap().f1, (0.0 + 2.0 / 3.0) / 2.0);
    }
}
