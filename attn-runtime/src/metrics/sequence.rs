//! Token accuracy and exact match over sequences of token ids.

use super::{check_non_empty, check_same_len, MetricError, MetricResult};

/// Token-level accuracy of predicted sequences against gold sequences.
///
/// Both are token-id sequences already cut at EOS (the EOS itself may be kept or dropped, as long
/// as both sides agree). Every gold position `i` whose token is not `pad` counts once; it is
/// correct when `pred[i]` exists and equals `gold[i]`. Missing predicted tokens (a prediction
/// shorter than its gold sequence) are therefore wrong, and predicted tokens past the gold length
/// are ignored. The result is `correct / counted` over all sequences together (a micro average,
/// not a mean of per-sequence accuracies).
///
/// **Equivalent**: for right-padded `[B, T]` tensors of equal width,
/// `((pred == gold) & (gold != pad)).sum() / (gold != pad).sum()` in PyTorch.
///
/// # Errors
/// [`MetricError::LengthMismatch`] when the number of sequences differs,
/// [`MetricError::Empty`] when there is no counted gold token at all.
pub fn token_accuracy<G: AsRef<[usize]>, P: AsRef<[usize]>>(
    gold: &[G],
    pred: &[P],
    pad: Option<usize>,
) -> MetricResult<f64> {
    check_same_len(gold.len(), pred.len(), "gold vs pred sequences")?;
    let (mut correct, mut counted) = (0usize, 0usize);
    for (g, p) in gold.iter().zip(pred) {
        let p = p.as_ref();
        for (i, &t) in g.as_ref().iter().enumerate() {
            if Some(t) == pad {
                continue;
            }
            counted += 1;
            if p.get(i) == Some(&t) {
                correct += 1;
            }
        }
    }
    check_non_empty(counted, "gold tokens (after skipping padding)")?;
    Ok(correct as f64 / counted as f64)
}

/// The fraction of sequences predicted exactly: `pred` equals `gold` once trailing `pad` tokens
/// are stripped from both (all tokens are compared when `pad` is `None`).
///
/// **Equivalent**: `mean(strip(g) == strip(p) for g, p in zip(gold, pred))` in Python, with
/// `strip` removing trailing padding.
///
/// # Errors
/// [`MetricError::Empty`] for no sequences, [`MetricError::LengthMismatch`] when the number of
/// sequences differs.
pub fn exact_match<G: AsRef<[usize]>, P: AsRef<[usize]>>(
    gold: &[G],
    pred: &[P],
    pad: Option<usize>,
) -> MetricResult<f64> {
    check_same_len(gold.len(), pred.len(), "gold vs pred sequences")?;
    if gold.is_empty() {
        return Err(MetricError::Empty {
            what: "gold sequences",
        });
    }
    let strip = |s: &[usize]| -> usize {
        match pad {
            Some(pad) => s.iter().rposition(|&t| t != pad).map_or(0, |i| i + 1),
            None => s.len(),
        }
    };
    let matched = gold
        .iter()
        .zip(pred)
        .filter(|(g, p)| {
            let (g, p) = (g.as_ref(), p.as_ref());
            g[..strip(g)] == p[..strip(p)]
        })
        .count();
    Ok(matched as f64 / gold.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_accuracy_counts_gold_positions() {
        let gold = vec![vec![1, 2, 3, 0], vec![4, 5]];
        let pred = vec![vec![1, 9, 3, 7, 8], vec![4]];
        // counted: 1 2 3 | 4 5 (pad 0 skipped) = 5; correct: 1 3 | 4 = 3
        assert_eq!(token_accuracy(&gold, &pred, Some(0)).unwrap(), 0.6);
        // without padding the trailing 0 counts and pred has 7 there
        assert_eq!(token_accuracy(&gold, &pred, None).unwrap(), 0.5);
    }

    #[test]
    fn token_accuracy_errors() {
        let empty: Vec<Vec<usize>> = vec![];
        assert!(matches!(
            token_accuracy(&empty, &empty, None),
            Err(MetricError::Empty { .. })
        ));
        assert!(matches!(
            token_accuracy(&[vec![0, 0]], &[vec![1]], Some(0)),
            Err(MetricError::Empty { .. })
        ));
        assert!(matches!(
            token_accuracy(&[vec![1]], &empty, None),
            Err(MetricError::LengthMismatch { .. })
        ));
    }

    #[test]
    fn exact_match_strips_trailing_padding() {
        let gold: Vec<&[usize]> = vec![&[1, 2, 0, 0], &[3], &[4, 0, 5], &[]];
        let pred: Vec<&[usize]> = vec![&[1, 2], &[3, 3], &[4, 5], &[0, 0]];
        assert_eq!(exact_match(&gold, &pred, Some(0)).unwrap(), 0.5);
        assert_eq!(exact_match(&gold, &pred, None).unwrap(), 0.0);
        let empty: Vec<Vec<usize>> = vec![];
        assert!(exact_match(&empty, &empty, None).is_err());
    }
}
