//! Accuracy over integer class labels.

use super::{check_non_empty, check_same_len, MetricResult};

/// The fraction of positions where `pred` equals `gold`: `#{i : gold[i] == pred[i]} / n`.
///
/// **Equivalent**: `sklearn.metrics.accuracy_score(gold, pred)`.
///
/// # Errors
/// [`MetricError::Empty`](super::MetricError::Empty) for empty inputs,
/// [`MetricError::LengthMismatch`](super::MetricError::LengthMismatch) when the lengths differ.
pub fn accuracy(gold: &[usize], pred: &[usize]) -> MetricResult<f64> {
    check_same_len(gold.len(), pred.len(), "gold vs pred labels")?;
    check_non_empty(gold.len(), "gold labels")?;
    let correct = gold.iter().zip(pred).filter(|(g, p)| g == p).count();
    Ok(correct as f64 / gold.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::MetricError;

    #[test]
    fn counts_equal_positions() {
        assert_eq!(accuracy(&[0, 1, 2, 2], &[0, 2, 2, 2]).unwrap(), 0.75);
        assert_eq!(accuracy(&[3], &[3]).unwrap(), 1.0);
    }

    #[test]
    fn rejects_bad_input() {
        assert!(matches!(accuracy(&[], &[]), Err(MetricError::Empty { .. })));
        assert!(matches!(
            accuracy(&[1, 2], &[1]),
            Err(MetricError::LengthMismatch {
                left: 2,
                right: 1,
                ..
            })
        ));
    }
}
