//! The count-based baseline a language model must beat: an n-gram model fitted on the same
//! training tokens and scored on the same predictions.

use serde::Serialize;

use crate::data::Encoded;
use crate::metrics::NgramLm;

/// The orders [`ngram_baseline`] tries.
pub const BASELINE_ORDERS: std::ops::RangeInclusive<usize> = 1..=6;
/// The add-γ smoothing values [`ngram_baseline`] tries.
pub const BASELINE_GAMMAS: [f64; 3] = [0.001, 0.01, 0.1];

/// An n-gram model's perplexity on the validation and test predictions of a language model's
/// data, at the order and smoothing that did best on validation.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NgramBaseline {
    /// The n-gram order (the previous `order - 1` tokens are the context).
    pub order: usize,
    /// Lidstone's add-γ smoothing.
    pub gamma: f64,
    /// Perplexity on the validation split's predictions.
    pub valid_perplexity: f64,
    /// Perplexity on the test split's predictions.
    pub test_perplexity: f64,
}

/// The token stream of consecutive next-token windows: the first input, then every target.
fn stream(windows: &[Encoded]) -> Vec<String> {
    let first = windows.first().and_then(|w| w.ids.first());
    first
        .into_iter()
        .chain(windows.iter().flat_map(|w| w.target.iter()))
        .map(usize::to_string)
        .collect()
}

/// `exp` of the mean negative log-probability `lm` gives every token of `tokens` but the first,
/// each after the `order - 1` before it (padded at the start): the very predictions a language
/// model's windows make of the same stream.
fn stream_perplexity(lm: &NgramLm, order: usize, tokens: &[String]) -> f64 {
    let pad = vec![crate::metrics::SENTENCE_START.to_string(); order.saturating_sub(1)];
    let padded: Vec<&str> = pad.iter().chain(tokens).map(String::as_str).collect();
    let offset = pad.len();
    let mut nll = 0.0;
    for t in 1..tokens.len() {
        let at = offset + t;
        nll -= lm.score(padded[at], &padded[at + 1 - order..at]).ln();
    }
    (nll / (tokens.len() - 1).max(1) as f64).exp()
}

/// Fits n-gram models of every order in [`BASELINE_ORDERS`] and smoothing in
/// [`BASELINE_GAMMAS`] on the token ids of `train` (a language model's next-token windows, in
/// order), keeps the one with the lowest validation perplexity, and scores it on `test`: the
/// same tokens (unknown ones included) and the same predictions as the model's perplexity.
///
/// **Equivalent**: NLTK's `Lidstone(gamma, order)` fitted on the training stream, its
/// `perplexity` over the n-grams of the validation and test streams.
pub fn ngram_baseline(train: &[Encoded], valid: &[Encoded], test: &[Encoded]) -> NgramBaseline {
    let (train, valid, test) = (stream(train), stream(valid), stream(test));
    let mut best: Option<NgramBaseline> = None;
    for order in BASELINE_ORDERS {
        for gamma in BASELINE_GAMMAS {
            let lm = NgramLm::fit(order, gamma, std::slice::from_ref(&train));
            let valid_perplexity = stream_perplexity(&lm, order, &valid);
            if best
                .as_ref()
                .is_none_or(|b| valid_perplexity < b.valid_perplexity)
            {
                best = Some(NgramBaseline {
                    order,
                    gamma,
                    valid_perplexity,
                    test_perplexity: stream_perplexity(&lm, order, &test),
                });
            }
        }
    }
    best.expect("the grid is not empty")
}
