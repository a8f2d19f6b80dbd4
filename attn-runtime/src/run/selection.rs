//! Which epoch's parameters become the run's best checkpoint (`model.safetensors`).

use serde::{Deserialize, Serialize};

use super::Scores;
use crate::error::AttnError;
use crate::model::TaskSpec;

/// A validation key: compared lexicographically, greater is better.
pub type SelectionKey = (f64, f64, f64);

/// The validation score that chooses the best checkpoint, and the one early stopping
/// (`patience`) waits on. Ties on the first score are broken by the other two, in the order
/// each variant names.
///
/// A value of [`TrainConfig`](super::TrainConfig), so it is saved in `config.json` and a resumed
/// run keeps choosing by the same rule; runs saved before the setting existed load with the
/// default, which is what they chose by.
///
/// **PyTorch equivalent**: the `monitor`/`mode` of Lightning's `ModelCheckpoint`
/// (`monitor="val_exact", mode="max"`), `metric_for_best_model` with `greater_is_better` in
/// Hugging Face's `TrainingArguments`, or fairseq's `--best-checkpoint-metric bleu
/// --maximize-best-checkpoint-metric`.
///
/// ```
/// use attn_runtime::train::{Scores, Selection};
///
/// let a = Scores { loss_sum: 2.0, rows: 4, correct: 3, examples: 4, exact: 3, ..Scores::default() };
/// let b = Scores { loss_sum: 1.0, rows: 4, correct: 2, examples: 4, exact: 2, ..Scores::default() };
/// assert!(Selection::ExactMatch.key(&a) > Selection::ExactMatch.key(&b));
/// assert!(Selection::Loss.key(&b) > Selection::Loss.key(&a)); // b's loss is lower
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Selection {
    /// The highest validation exact match, then accuracy, then the lowest loss (the default).
    #[default]
    ExactMatch,
    /// The highest validation accuracy (token accuracy for sequence models), then exact match,
    /// then the lowest loss.
    Accuracy,
    /// The lowest validation loss (teacher-forced for sequence-to-sequence), then exact match,
    /// then accuracy.
    Loss,
    /// The highest validation BLEU of the detokenised greedy outputs
    /// ([`output_bleu`](super::output_bleu)), then exact match, then the lowest loss
    /// (sequence-to-sequence models only).
    Bleu,
    /// The highest validation macro-averaged F1 (scikit-learn's `f1_score(average="macro")`
    /// over the labels that occur; token-level for taggers), then accuracy, then the lowest loss
    /// (classifiers and taggers only).
    MacroF1,
    /// The lowest validation perplexity (`exp` of the mean loss per predicted token, so the same
    /// order as the loss), then the highest token accuracy (language models only; their
    /// default).
    Perplexity,
}

impl Selection {
    /// The key of validation scores `valid` under this rule (greater is better).
    pub fn key(self, valid: &Scores) -> SelectionKey {
        let (exact, accuracy, loss) = (valid.exact_match(), valid.accuracy(), -valid.loss());
        // a score the evaluation did not compute ranks lowest (`check` keeps it from happening)
        let bleu = valid.bleu().unwrap_or(f64::NEG_INFINITY);
        let f1 = valid.macro_f1().unwrap_or(f64::NEG_INFINITY);
        match self {
            Selection::ExactMatch => (exact, accuracy, loss),
            Selection::Accuracy => (accuracy, exact, loss),
            Selection::Loss => (loss, exact, accuracy),
            Selection::Bleu => (bleu, exact, loss),
            Selection::MacroF1 => (f1, accuracy, loss),
            Selection::Perplexity => (-valid.perplexity(), accuracy, exact),
        }
    }

    /// The rule a task chooses by unless told otherwise: perplexity for language models,
    /// exact match for the others.
    pub fn default_for(task: &TaskSpec) -> Selection {
        match task {
            TaskSpec::LanguageModel { .. } => Selection::Perplexity,
            _ => Selection::default(),
        }
    }

    /// Refuses a rule whose score the model's task does not have: BLEU needs a
    /// sequence-to-sequence model, macro F1 a classifier or tagger, perplexity a language
    /// model, which has no exact match or BLEU to choose by.
    ///
    /// # Errors
    /// [`AttnError::InvalidHyperParameter`] naming the rule and the rules the task allows.
    pub fn check(self, task: &TaskSpec) -> Result<(), AttnError> {
        let seq2seq = matches!(task, TaskSpec::Seq2Seq { .. });
        let lm = matches!(task, TaskSpec::LanguageModel { .. });
        let refuse = |value: &str, requirement| {
            Err(AttnError::InvalidHyperParameter {
                name: "selection",
                value: value.into(),
                requirement,
            })
        };
        match self {
            Selection::ExactMatch | Selection::Bleu | Selection::MacroF1 if lm => refuse(
                self.name(),
                "a language model is scored per predicted token: it selects by perplexity, loss \
                 or accuracy",
            ),
            Selection::Bleu if !seq2seq => refuse(
                "Bleu",
                "BLEU scores sequence-to-sequence outputs; a classifier or tagger selects by \
                 macro-f1, exact-match, accuracy or loss",
            ),
            Selection::Perplexity if !lm => refuse(
                "Perplexity",
                "perplexity scores language models; select by loss, which orders checkpoints \
                 the same way",
            ),
            Selection::MacroF1 if seq2seq => refuse(
                "MacroF1",
                "macro F1 scores classifiers and taggers; a sequence-to-sequence model selects \
                 by bleu, exact-match, accuracy or loss",
            ),
            _ => Ok(()),
        }
    }

    /// The rule's name as `config.json` writes it.
    pub fn name(self) -> &'static str {
        match self {
            Selection::ExactMatch => "ExactMatch",
            Selection::Accuracy => "Accuracy",
            Selection::Loss => "Loss",
            Selection::Bleu => "Bleu",
            Selection::MacroF1 => "MacroF1",
            Selection::Perplexity => "Perplexity",
        }
    }

    /// Whether `key` beats the best so far (always, when there is none yet).
    pub fn improves(key: SelectionKey, best: Option<SelectionKey>) -> bool {
        best.is_none_or(|best| key > best)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scores(loss_sum: f64, correct: usize, exact: usize) -> Scores {
        Scores {
            loss_sum,
            rows: 10,
            correct,
            examples: 5,
            exact,
            ..Scores::default()
        }
    }

    #[test]
    fn the_default_is_exact_match_then_accuracy_then_lower_loss() {
        assert_eq!(Selection::default(), Selection::ExactMatch);
        let key = |s| Selection::default().key(&s);
        let best = Some(key(scores(5.0, 6, 2)));
        // more exact matches win whatever the rest
        assert!(Selection::improves(key(scores(9.0, 1, 3)), best));
        // same exact match: higher accuracy wins, then lower loss
        assert!(Selection::improves(key(scores(9.0, 7, 2)), best));
        assert!(Selection::improves(key(scores(4.0, 6, 2)), best));
        // a tie is not an improvement
        assert!(!Selection::improves(key(scores(5.0, 6, 2)), best));
        assert!(Selection::improves(key(scores(5.0, 6, 2)), None));
    }

    #[test]
    fn accuracy_and_loss_rank_first_what_they_name() {
        let (a, b) = (scores(2.0, 8, 1), scores(1.0, 7, 3));
        assert!(Selection::Accuracy.key(&a) > Selection::Accuracy.key(&b));
        assert!(Selection::ExactMatch.key(&b) > Selection::ExactMatch.key(&a));
        assert!(Selection::Loss.key(&b) > Selection::Loss.key(&a));
    }

    #[test]
    fn settings_saved_before_the_field_existed_load_with_the_default() {
        let mut json = serde_json::to_value(crate::run::TrainConfig::default()).unwrap();
        json.as_object_mut().unwrap().remove("selection");
        let cfg: crate::run::TrainConfig = serde_json::from_value(json).unwrap();
        assert_eq!(cfg.selection, Selection::ExactMatch);
    }

    #[test]
    fn serialises_as_its_name() {
        assert_eq!(
            serde_json::to_string(&Selection::Accuracy).unwrap(),
            "\"Accuracy\""
        );
        let back: Selection = serde_json::from_str("\"Loss\"").unwrap();
        assert_eq!(back, Selection::Loss);
    }
}
