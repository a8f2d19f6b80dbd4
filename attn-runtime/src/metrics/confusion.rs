//! Confusion matrices over integer class labels.

use std::collections::{BTreeSet, HashMap};

use serde::Serialize;

use super::{check_non_empty, check_same_len, MetricError, MetricResult};

/// Counts of (gold, predicted) label pairs: `counts[i][j]` is the number of items whose gold
/// label is `labels[i]` and whose predicted label is `labels[j]` (rows = gold, columns = pred).
///
/// **Equivalent**: the array `sklearn.metrics.confusion_matrix(gold, pred, labels=labels)`
/// returns, with its `labels`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfusionMatrix {
    /// The labels indexing rows and columns, in order.
    pub labels: Vec<usize>,
    /// `labels.len()` rows of `labels.len()` counts.
    pub counts: Vec<Vec<usize>>,
}

impl ConfusionMatrix {
    /// The count of items with gold label `gold` predicted as `pred`; `None` when either label is
    /// not one of [`labels`](Self::labels).
    ///
    /// **Equivalent**: `cm[labels.index(gold), labels.index(pred)]`.
    pub fn get(&self, gold: usize, pred: usize) -> Option<usize> {
        let i = self.labels.iter().position(|&l| l == gold)?;
        let j = self.labels.iter().position(|&l| l == pred)?;
        self.counts.get(i)?.get(j).copied()
    }
}

/// The sorted distinct labels of `gold` and `pred` together.
pub(super) fn sorted_union(gold: &[usize], pred: &[usize]) -> Vec<usize> {
    let set: BTreeSet<usize> = gold.iter().chain(pred).copied().collect();
    set.into_iter().collect()
}

/// The confusion matrix of `pred` against `gold` (rows = gold, columns = pred).
///
/// With `labels: None` the matrix covers the sorted union of the labels in `gold` and `pred`.
/// With `Some(labels)` it covers exactly those labels in the order given, and items whose gold or
/// predicted label is not among them are left out.
///
/// **Equivalent**: `sklearn.metrics.confusion_matrix(gold, pred, labels=labels)`.
///
/// # Errors
/// [`MetricError::Empty`] for empty inputs (scikit-learn returns an empty or all-zero matrix),
/// [`MetricError::LengthMismatch`] when the lengths differ, [`MetricError::InvalidLabels`] when
/// `labels` is empty, repeats a label, or holds no label of `gold` (as scikit-learn).
pub fn confusion_matrix(
    gold: &[usize],
    pred: &[usize],
    labels: Option<&[usize]>,
) -> MetricResult<ConfusionMatrix> {
    check_same_len(gold.len(), pred.len(), "gold vs pred labels")?;
    check_non_empty(gold.len(), "gold labels")?;
    let labels = match labels {
        None => sorted_union(gold, pred),
        Some(labels) => {
            check_labels(gold, labels)?;
            labels.to_vec()
        }
    };
    let index: HashMap<usize, usize> = labels.iter().enumerate().map(|(i, &l)| (l, i)).collect();
    let mut counts = vec![vec![0usize; labels.len()]; labels.len()];
    for (g, p) in gold.iter().zip(pred) {
        if let (Some(&i), Some(&j)) = (index.get(g), index.get(p)) {
            counts[i][j] += 1;
        }
    }
    Ok(ConfusionMatrix { labels, counts })
}

fn check_labels(gold: &[usize], labels: &[usize]) -> MetricResult<()> {
    let invalid = |reason: String| Err(MetricError::InvalidLabels { reason });
    if labels.is_empty() {
        return invalid("`labels` should contain at least one label".into());
    }
    let distinct: BTreeSet<usize> = labels.iter().copied().collect();
    if distinct.len() != labels.len() {
        return invalid(format!("`labels` repeats a label: {labels:?}"));
    }
    if !gold.iter().any(|g| distinct.contains(g)) {
        return invalid(format!("none of {labels:?} is a gold label"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_gold_columns_are_pred() {
        let cm = confusion_matrix(&[2, 0, 2, 2, 0, 1], &[0, 0, 2, 2, 0, 2], None).unwrap();
        assert_eq!(cm.labels, vec![0, 1, 2]);
        assert_eq!(cm.counts, vec![vec![2, 0, 0], vec![0, 0, 1], vec![1, 0, 2]]);
        assert_eq!(cm.get(2, 0), Some(1));
        assert_eq!(cm.get(5, 0), None);
    }

    #[test]
    fn explicit_labels_filter_and_order() {
        let cm = confusion_matrix(&[2, 0, 2, 2, 0, 1], &[0, 0, 2, 2, 0, 2], Some(&[2, 0])).unwrap();
        assert_eq!(cm.counts, vec![vec![2, 1], vec![0, 2]]);
        let bad = |l: &[usize]| confusion_matrix(&[0, 1], &[1, 1], Some(l)).unwrap_err();
        assert!(matches!(bad(&[]), MetricError::InvalidLabels { .. }));
        assert!(matches!(bad(&[0, 0]), MetricError::InvalidLabels { .. }));
        assert!(matches!(bad(&[7]), MetricError::InvalidLabels { .. }));
    }
}
