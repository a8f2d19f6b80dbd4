//! The sufficient statistics of BLEU: clipped n-gram matches and lengths of one segment.

use std::collections::HashMap;
use std::ops::AddAssign;

use serde::{Deserialize, Serialize};

use super::bleu::{Bleu, MAX_NGRAM_ORDER};
use super::text::py_split;
use super::{check_non_empty, MetricResult};

/// The sufficient statistics of BLEU; those of a corpus are the sums of its segments' (`+=`).
/// Accumulate them over batches and score once with [`Bleu::score_from_stats`].
///
/// **Equivalent**: one row `[sys_len, ref_len, *counts, *totals]` of sacreBLEU's
/// `BLEU._extract_corpus_statistics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct BleuStats {
    /// Hypothesis length in tokens.
    pub sys_len: usize,
    /// Length of the reference closest in length to the hypothesis (the shorter on a tie).
    pub ref_len: usize,
    /// Matched n-grams per order 1..=4, each clipped by its largest count in any one reference.
    pub counts: [usize; MAX_NGRAM_ORDER],
    /// Hypothesis n-grams per order 1..=4.
    pub totals: [usize; MAX_NGRAM_ORDER],
}

impl AddAssign for BleuStats {
    fn add_assign(&mut self, rhs: Self) {
        self.sys_len += rhs.sys_len;
        self.ref_len += rhs.ref_len;
        for n in 0..MAX_NGRAM_ORDER {
            self.counts[n] += rhs.counts[n];
            self.totals[n] += rhs.totals[n];
        }
    }
}

impl Bleu {
    /// The statistics of one hypothesis against its references (at least one; an empty string
    /// is a valid, empty, reference), after [`preprocess`](Bleu::preprocess).
    ///
    /// **Equivalent**: `BLEU(..)._extract_corpus_statistics([hyp], [[r] for r in refs])[0]`.
    ///
    /// # Errors
    /// [`MetricError::Empty`](super::MetricError::Empty) when `refs` is empty.
    pub fn segment_stats<S: AsRef<str>>(&self, hyp: &str, refs: &[S]) -> MetricResult<BleuStats> {
        check_non_empty(refs.len(), "references")?;
        let hyp = self.preprocess(hyp);
        let hyp: Vec<&str> = py_split(&hyp).collect();
        let refs: Vec<String> = refs.iter().map(|r| self.preprocess(r.as_ref())).collect();
        let refs: Vec<Vec<&str>> = refs.iter().map(|r| py_split(r).collect()).collect();

        let mut ref_max: HashMap<&[&str], usize> = HashMap::new();
        for r in &refs {
            for (ngram, count) in ngram_counts(r) {
                let max = ref_max.entry(ngram).or_insert(0);
                *max = (*max).max(count);
            }
        }
        let mut stats = BleuStats {
            sys_len: hyp.len(),
            ref_len: closest_ref_len(hyp.len(), refs.iter().map(Vec::len)),
            ..BleuStats::default()
        };
        for (ngram, count) in ngram_counts(&hyp) {
            let n = ngram.len() - 1;
            stats.totals[n] += count;
            if let Some(&max) = ref_max.get(ngram) {
                stats.counts[n] += count.min(max);
            }
        }
        Ok(stats)
    }
}

/// Counts of the word n-grams of orders 1..=4.
fn ngram_counts<'a>(tokens: &'a [&'a str]) -> HashMap<&'a [&'a str], usize> {
    let mut counts = HashMap::new();
    for n in 1..=MAX_NGRAM_ORDER.min(tokens.len()) {
        for ngram in tokens.windows(n) {
            *counts.entry(ngram).or_insert(0) += 1;
        }
    }
    counts
}

/// The reference length closest to `hyp_len`, the shorter one on a tie.
fn closest_ref_len(hyp_len: usize, ref_lens: impl Iterator<Item = usize>) -> usize {
    ref_lens
        .min_by_key(|&r| (r.abs_diff(hyp_len), r))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closest_reference_prefers_shorter_on_tie() {
        assert_eq!(closest_ref_len(5, [7, 3, 9].into_iter()), 3);
        assert_eq!(closest_ref_len(5, [6, 4].into_iter()), 4);
        assert_eq!(closest_ref_len(5, [8, 5].into_iter()), 5);
    }
}
