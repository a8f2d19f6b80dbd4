//! Loss, accuracy, BLEU and per-class counts of predictions against targets, summed over
//! batches.

use serde::{Deserialize, Serialize};

use crate::loss::IGNORE;
use crate::metrics::{Bleu, BleuStats, ClassCounts};

/// The BLEU attn reports for a model's outputs: sacreBLEU's defaults (`13a` tokenisation,
/// `exp` smoothing), case-insensitive because word-level vocabularies are lower-cased.
///
/// **Equivalent**: `sacrebleu.corpus_bleu(hyps, [refs], lowercase=True)`.
pub fn output_bleu() -> Bleu {
    Bleu {
        lowercase: true,
        ..Bleu::default()
    }
}

/// The arg-max of a row of logits (the first on a tie).
pub(crate) fn argmax(row: &[f32]) -> usize {
    row.iter()
        .enumerate()
        .fold((0, f32::MIN), |m, (i, &v)| if v > m.1 { (i, v) } else { m })
        .0
}

/// Sums over an evaluation: loss and accuracy per target row, exact match per example, and,
/// where the evaluation computes them, the BLEU statistics of decoded outputs and per-class
/// counts. Every field adds up over batches ([`add`](Self::add)).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
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
    /// BLEU statistics of the detokenised outputs against the references (sequence-to-sequence,
    /// when the evaluation is given references).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bleu: Option<BleuStats>,
    /// Per-class counts of the predicted rows (classifiers and taggers; padding excluded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classes: Option<ClassCounts>,
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

    /// Perplexity, `exp` of the mean loss per row: for a language model, the mean loss per
    /// predicted token (PyTorch's `torch.exp(F.cross_entropy(logits, targets))`).
    pub fn perplexity(&self) -> f64 {
        self.loss().exp()
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

    /// Corpus BLEU ([`output_bleu`]) of the outputs, when the evaluation computed it.
    pub fn bleu(&self) -> Option<f64> {
        let stats = self.bleu.as_ref()?;
        // `output_bleu` has no smoothing value, the only input `score_from_stats` refuses
        output_bleu()
            .score_from_stats(stats, 1)
            .ok()
            .map(|s| s.score)
    }

    /// Macro-averaged F1 of the predicted rows over the labels that occur (scikit-learn's
    /// `f1_score(.., average="macro", zero_division=0)`), when the evaluation counted classes.
    pub fn macro_f1(&self) -> Option<f64> {
        self.classes.as_ref()?.macro_avg().map(|avg| avg.f1)
    }

    /// Adds another batch's sums.
    pub fn add(&mut self, other: &Scores) {
        self.loss_sum += other.loss_sum;
        self.rows += other.rows;
        self.correct += other.correct;
        self.examples += other.examples;
        self.exact += other.exact;
        if let Some(b) = other.bleu {
            *self.bleu.get_or_insert_with(BleuStats::default) += b;
        }
        if let Some(c) = &other.classes {
            self.classes.get_or_insert_with(ClassCounts::default).add(c);
        }
    }

    /// These scores with the per-class counts of `logits`' arg-max against `targets` (padding
    /// rows excluded), over the classes `0..num_labels`.
    pub fn with_classes(
        mut self,
        logits: &[f32],
        labels: usize,
        targets: &[usize],
        num_labels: usize,
    ) -> Scores {
        let mut counts = ClassCounts::dense(num_labels);
        for (row, &t) in logits.chunks(labels).zip(targets) {
            if t != IGNORE {
                counts.record(t, argmax(row));
            }
        }
        self.classes = Some(counts);
        self
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
        for (rows, tgts) in logits
            .chunks(labels * rows_per_example)
            .zip(targets.chunks(rows_per_example))
        {
            let mut all = true;
            let mut counted = false;
            for (row, &t) in rows.chunks(labels).zip(tgts) {
                if t == IGNORE {
                    continue;
                }
                counted = true;
                if argmax(row) == t {
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
