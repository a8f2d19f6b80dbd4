//! Evaluation metrics that agree with the reference Python libraries to the last bit.
//!
//! - Classification over integer labels, as scikit-learn computes it: [`accuracy`],
//!   [`confusion_matrix`], [`precision_recall_f1`] (every `average` of
//!   `precision_recall_fscore_support` with `zero_division=0`) and [`classification_report`].
//! - Sequence-level scores over token ids: [`token_accuracy`] and [`exact_match`].
//! - A count-based n-gram language model ([`NgramLm`], add-γ smoothing, as NLTK's `Lidstone`):
//!   the perplexity baseline of neural language models.
//! - Machine-translation scores as sacreBLEU [`SACREBLEU_VERSION`] computes them: [`Bleu`]
//!   ([`corpus_bleu`], [`sentence_bleu`], the `13a` and `none` tokenizers, every smoothing) and
//!   [`Chrf`] ([`corpus_chrf`], [`sentence_chrf`]).
//!
//! The golden tests (`attn-runtime/tests/golden_metrics.rs`) compare every function with the
//! values `tools/gen_metric_fixtures.py` got from sacreBLEU 2.6.0 and scikit-learn 1.9.1.
//!
//! Nothing here panics on user input: empty inputs and mismatched lengths come back as a
//! [`MetricError`].

mod accuracy;
mod bleu;
mod bleu_stats;
mod chrf;
mod class_counts;
mod classification;
mod confusion;
mod ngram;
mod sequence;
mod text;
mod tokenize_13a;

pub use accuracy::accuracy;
pub use bleu::{
    corpus_bleu, sentence_bleu, Bleu, BleuScore, BleuTokenizer, Smoothing, MAX_NGRAM_ORDER,
    SACREBLEU_VERSION,
};
pub use bleu_stats::BleuStats;
pub use chrf::{corpus_chrf, sentence_chrf, Chrf, ChrfScore};
pub use class_counts::{ClassCounts, ClassScores, PrfScores};
pub use classification::{
    classification_report, precision_recall_f1, Average, ClassificationReport, PrecisionRecallF1,
};
pub use confusion::{confusion_matrix, ConfusionMatrix};
pub use ngram::{NgramLm, SENTENCE_END, SENTENCE_START, UNKNOWN};
pub use sequence::{exact_match, token_accuracy};
pub use tokenize_13a::tokenize_13a;

/// What can go wrong when computing a metric: inputs that do not fit together.
///
/// **Equivalent**: the `ValueError`s scikit-learn raises (sacreBLEU raises on empty inputs but
/// silently truncates reference streams of the wrong length; here that is an error).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MetricError {
    /// An input that must hold at least one item is empty.
    #[error("{what} is empty; a metric needs at least one item")]
    Empty {
        /// Which input, e.g. `gold labels`.
        what: &'static str,
    },
    /// Two inputs that must have the same length do not.
    #[error("length mismatch: {what}: {left} vs {right}")]
    LengthMismatch {
        /// Which inputs, e.g. `gold vs pred labels`.
        what: &'static str,
        /// Length of the first input.
        left: usize,
        /// Length of the second input.
        right: usize,
    },
    /// `Average::Binary` on data with more than two distinct labels.
    #[error(
        "average=Binary needs at most 2 distinct labels but gold and pred hold {labels:?}; \
         choose Micro, Macro, Weighted or None"
    )]
    NotBinary {
        /// The sorted distinct labels of gold and pred.
        labels: Vec<usize>,
    },
    /// `Average::Binary { pos_label }` where `pos_label` is not one of the two labels present.
    #[error("pos_label={pos_label} is not a valid label; it should be one of {labels:?}")]
    InvalidPosLabel {
        /// The requested positive label.
        pos_label: usize,
        /// The sorted distinct labels of gold and pred.
        labels: Vec<usize>,
    },
    /// A label list that cannot be used (empty, repeated labels, none of them in gold).
    #[error("invalid labels: {reason}")]
    InvalidLabels {
        /// What is wrong.
        reason: String,
    },
    /// A parameter outside its valid range (a smoothing value, an n-gram order, ...).
    #[error("invalid {name} = {value}: {requirement}")]
    InvalidParameter {
        /// The parameter's name.
        name: &'static str,
        /// The value passed, printed.
        value: String,
        /// The valid range.
        requirement: &'static str,
    },
}

/// Shorthand for the result of a metric (a Python call that returns or raises).
pub type MetricResult<T> = Result<T, MetricError>;

/// `Err(Empty)` when `len == 0`.
fn check_non_empty(len: usize, what: &'static str) -> MetricResult<()> {
    if len == 0 {
        Err(MetricError::Empty { what })
    } else {
        Ok(())
    }
}

/// `Err(LengthMismatch)` when `left != right`.
fn check_same_len(left: usize, right: usize, what: &'static str) -> MetricResult<()> {
    if left != right {
        Err(MetricError::LengthMismatch { what, left, right })
    } else {
        Ok(())
    }
}
