//! Loss and accuracy of predictions against targets, summed over batches.

use serde::{Deserialize, Serialize};

use crate::loss::IGNORE;

/// Sums over an evaluation: loss and accuracy per target row, and exact match per example.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Scores {
    /// Sum of the cross-entropy of every counted row.
    pub loss_sum: f64,
    /// Rows with a target (padding excluded).
    pub rows: usize,
    /// Rows whose arg-max is the target.
    pub correct: usize,
    /// Examples.
    pub examples: usize,
    /// Examples whose every counted row is correct.
    pub exact: usize,
}

impl Scores {
    /// Mean loss per row.
    pub fn loss(&self) -> f64 {
        if self.rows == 0 {
            0.0
        } else {
            self.loss_sum / self.rows as f64
        }
    }

    /// Row accuracy (classification accuracy; token accuracy for taggers and seq2seq).
    pub fn accuracy(&self) -> f64 {
        if self.rows == 0 {
            0.0
        } else {
            self.correct as f64 / self.rows as f64
        }
    }

    /// Share of examples entirely right (the same as accuracy for classifiers).
    pub fn exact_match(&self) -> f64 {
        if self.examples == 0 {
            0.0
        } else {
            self.exact as f64 / self.examples as f64
        }
    }

    /// Adds another batch's sums.
    pub fn add(&mut self, other: &Scores) {
        self.loss_sum += other.loss_sum;
        self.rows += other.rows;
        self.correct += other.correct;
        self.examples += other.examples;
        self.exact += other.exact;
    }

    /// Scores `logits` (`[rows, labels]`, row-major) against `targets`, rows grouped
    /// `rows_per_example` to an example. Loss is only counted when `with_loss`.
    pub fn of(
        logits: &[f32],
        labels: usize,
        targets: &[usize],
        rows_per_example: usize,
        with_loss: bool,
    ) -> Scores {
        let mut s = Scores::default();
        for (example, (rows, tgts)) in logits
            .chunks(labels * rows_per_example)
            .zip(targets.chunks(rows_per_example))
            .enumerate()
        {
            let _ = example;
            let mut all = true;
            let mut counted = false;
            for (row, &t) in rows.chunks(labels).zip(tgts) {
                if t == IGNORE {
                    continue;
                }
                counted = true;
                let best = row
                    .iter()
                    .enumerate()
                    .fold((0, f32::MIN), |m, (i, &v)| if v > m.1 { (i, v) } else { m })
                    .0;
                if best == t {
                    s.correct += 1;
                } else {
                    all = false;
                }
                s.rows += 1;
                if with_loss {
                    let lse = crate::loss::row_log_sum_exp(row);
                    s.loss_sum += lse - row[t] as f64;
                }
            }
            if counted {
                s.examples += 1;
                if all {
                    s.exact += 1;
                }
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_scores() {
        // two examples of two rows over 2 labels; the second row of example 0 is padding
        let logits = [0.0, 3f32.ln(), 9.0, 0.0, 2.0, 0.0, 0.0, 1.0];
        let s = Scores::of(&logits, 2, &[1, IGNORE, 0, 0], 2, true);
        assert_eq!((s.rows, s.correct, s.examples, s.exact), (3, 2, 2, 1));
        let want =
            -(0.75f64.ln()) - (1.0 / (1.0 + (-2f64).exp())).ln() - (1.0 / (1.0 + 1f64.exp())).ln();
        assert!((s.loss_sum - want).abs() < 1e-6, "{} vs {want}", s.loss_sum);
        assert!((s.accuracy() - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(s.exact_match(), 0.5);
    }
}
