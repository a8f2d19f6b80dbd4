//! A count-based n-gram language model with add-γ (Lidstone) smoothing: the baseline a neural
//! language model's perplexity is compared with, on the same split.

use std::collections::{HashMap, HashSet};

use super::{check_non_empty, MetricResult};

/// The token sentences are padded with on the left (`order - 1` times).
pub const SENTENCE_START: &str = "<s>";
/// The token sentences are padded with on the right (`order - 1` times).
pub const SENTENCE_END: &str = "</s>";
/// What a token never seen in training is counted as.
pub const UNKNOWN: &str = "<UNK>";

/// An n-gram model of order `order`: `P(w | c) = (count(c, w) + γ) / (count(c) + γ |V|)` over the
/// previous `order - 1` tokens `c`, where `|V|` counts every training token, the padding tokens
/// (order ≥ 2) and [`UNKNOWN`].
///
/// **Equivalent**: NLTK's `Lidstone(gamma, order)` (`Laplace` for γ = 1) fitted on
/// `padded_everygram_pipeline(order, sentences)`; [`perplexity`](Self::perplexity) is its
/// `perplexity` over the n-grams of `pad_both_ends(sentence, n=order)`.
///
/// ```
/// use attn_runtime::metrics::NgramLm;
///
/// let train = [vec!["a", "b"], vec!["a", "a"]];
/// let lm = NgramLm::fit(2, 1.0, &train);
/// // vocabulary: a, b, <s>, </s>, <UNK>; "a" followed <s> twice in 2 sentences
/// assert_eq!(lm.score("a", &["<s>"]), (2.0 + 1.0) / (2.0 + 5.0));
/// ```
#[derive(Clone, Debug)]
pub struct NgramLm {
    order: usize,
    gamma: f64,
    vocab: HashSet<String>,
    /// For each context (`order - 1` tokens), the count of each next token and their total.
    counts: HashMap<Vec<String>, (HashMap<String, usize>, usize)>,
}

fn padded<S: AsRef<str>>(sentence: &[S], order: usize) -> Vec<String> {
    let pad = order.saturating_sub(1);
    std::iter::repeat_n(SENTENCE_START.to_string(), pad)
        .chain(sentence.iter().map(|t| t.as_ref().to_string()))
        .chain(std::iter::repeat_n(SENTENCE_END.to_string(), pad))
        .collect()
}

impl NgramLm {
    /// Fits an order-`order` model (at least 1) with add-`gamma` smoothing on `sentences`.
    pub fn fit<S: AsRef<str>>(order: usize, gamma: f64, sentences: &[Vec<S>]) -> NgramLm {
        let order = order.max(1);
        let mut vocab: HashSet<String> = HashSet::from([UNKNOWN.to_string()]);
        let mut counts: HashMap<Vec<String>, (HashMap<String, usize>, usize)> = HashMap::new();
        for sentence in sentences {
            let tokens = padded(sentence, order);
            vocab.extend(tokens.iter().cloned());
            for gram in tokens.windows(order) {
                let (next, total) = counts.entry(gram[..order - 1].to_vec()).or_default();
                *next.entry(gram[order - 1].clone()).or_default() += 1;
                *total += 1;
            }
        }
        NgramLm {
            order,
            gamma,
            vocab,
            counts,
        }
    }

    /// The vocabulary's size `|V|`.
    pub fn vocab_size(&self) -> usize {
        self.vocab.len()
    }

    fn lookup<'a>(&self, token: &'a str) -> &'a str {
        if self.vocab.contains(token) {
            token
        } else {
            UNKNOWN
        }
    }

    /// `P(word | context)`, with tokens never seen in training counted as [`UNKNOWN`];
    /// `context` is the previous `order - 1` tokens.
    ///
    /// **Equivalent**: NLTK's `lm.score(word, context)`.
    pub fn score<S: AsRef<str>>(&self, word: &str, context: &[S]) -> f64 {
        let context: Vec<String> = context
            .iter()
            .map(|t| self.lookup(t.as_ref()).to_string())
            .collect();
        let (count, total) = self.counts.get(&context).map_or((0, 0), |(next, total)| {
            (next.get(self.lookup(word)).copied().unwrap_or(0), *total)
        });
        (count as f64 + self.gamma) / (total as f64 + self.gamma * self.vocab.len() as f64)
    }

    /// The perplexity of `sentences`: `exp` of the mean negative log-probability of every
    /// n-gram of every padded sentence.
    ///
    /// # Errors
    /// [`MetricError::Empty`](super::MetricError::Empty) when there is no n-gram to score.
    pub fn perplexity<S: AsRef<str>>(&self, sentences: &[Vec<S>]) -> MetricResult<f64> {
        let (mut nll, mut n) = (0.0, 0usize);
        for sentence in sentences {
            let tokens = padded(sentence, self.order);
            for gram in tokens.windows(self.order) {
                nll -= self
                    .score(&gram[self.order - 1], &gram[..self.order - 1])
                    .ln();
                n += 1;
            }
        }
        check_non_empty(n, "test n-grams")?;
        Ok((nll / n as f64).exp())
    }
}
