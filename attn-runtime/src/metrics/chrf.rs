//! chrF (Popović, 2015) and chrF++ (Popović, 2017) exactly as sacreBLEU 2.x computes them.

use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;

use serde::Serialize;

use super::text::{py_lower, py_split};
use super::{check_non_empty, check_same_len, MetricError, MetricResult, SACREBLEU_VERSION};

/// A chrF configuration; [`Chrf::default`] is sacreBLEU's (character 6-grams, no word n-grams,
/// β = 2, mixed case, whitespace removed, effective-order averaging). `word_order: 2` gives
/// chrF++.
///
/// **Equivalent**: `sacrebleu.metrics.CHRF(char_order, word_order, beta, lowercase, whitespace,
/// eps_smoothing)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chrf {
    /// Character n-gram orders 1..=`char_order` (default 6).
    pub char_order: usize,
    /// Word n-gram orders 1..=`word_order` (default 0; 2 for chrF++).
    pub word_order: usize,
    /// Recall is `beta` times as important as precision (default 2).
    pub beta: u32,
    /// Lowercase first (default `false`).
    pub lowercase: bool,
    /// Keep whitespace inside character n-grams (default `false`: whitespace is removed).
    pub whitespace: bool,
    /// Average per-order F-scores with chrF++.py's epsilon smoothing instead of averaging
    /// precision and recall over the orders present (default `false`).
    pub eps_smoothing: bool,
}

impl Default for Chrf {
    fn default() -> Self {
        Chrf {
            char_order: 6,
            word_order: 0,
            beta: 2,
            lowercase: false,
            whitespace: false,
            eps_smoothing: false,
        }
    }
}

/// A chrF score and its signature. `Display` prints what sacreBLEU's `str(score)` prints, e.g.
/// `chrF2 = 45.12` (`chrF2++` with word bigrams).
///
/// **Equivalent**: `sacrebleu.metrics.chrf.CHRFScore` plus `str(metric.get_signature())`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChrfScore {
    /// chrF in `[0, 100]`.
    pub score: f64,
    /// Summed `[hyp, ref, match]` n-gram counts per order (character orders, then word orders).
    pub stats: Vec<[usize; 3]>,
    /// The metric name, e.g. `chrF2` or `chrF2++`.
    pub name: String,
    /// sacreBLEU's signature, e.g. `nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:2.6.0`.
    pub signature: String,
}

impl fmt::Display for ChrfScore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} = {:.2}", self.name, self.score)
    }
}

/// Per-order n-gram counts of one sentence.
struct Ngrams<'a> {
    chars: Vec<HashMap<&'a str, usize>>,
    words: Vec<HashMap<&'a [&'a str], usize>>,
}

impl Chrf {
    /// The signature sacreBLEU prints for this configuration and `nrefs` references.
    ///
    /// **Equivalent**: `str(sacrebleu.metrics.CHRF(..).get_signature())` after scoring.
    pub fn signature(&self, nrefs: usize) -> String {
        format!(
            "nrefs:{nrefs}|case:{}|eff:{}|nc:{}|nw:{}|space:{}|version:{SACREBLEU_VERSION}",
            if self.lowercase { "lc" } else { "mixed" },
            if self.eps_smoothing { "no" } else { "yes" },
            self.char_order,
            self.word_order,
            if self.whitespace { "yes" } else { "no" },
        )
    }

    /// Corpus chrF of `hyps` against reference streams: `refs[k][i]` is the `k`-th reference of
    /// `hyps[i]`. Each segment contributes the statistics of its best-scoring reference.
    ///
    /// **Equivalent**: `sacrebleu.metrics.CHRF(..).corpus_score(hyps, refs)`.
    ///
    /// # Errors
    /// [`MetricError::Empty`] for no hypotheses or no reference stream,
    /// [`MetricError::LengthMismatch`] when a stream's length differs from `hyps.len()`,
    /// [`MetricError::InvalidParameter`] when `char_order + word_order` is 0.
    pub fn corpus_score<H, R, S>(&self, hyps: &[H], refs: &[R]) -> MetricResult<ChrfScore>
    where
        H: AsRef<str>,
        R: AsRef<[S]>,
        S: AsRef<str>,
    {
        check_non_empty(hyps.len(), "hypotheses")?;
        check_non_empty(refs.len(), "reference streams")?;
        for stream in refs {
            check_same_len(
                hyps.len(),
                stream.as_ref().len(),
                "hypotheses vs a reference stream",
            )?;
        }
        let mut total = vec![[0usize; 3]; self.order()?];
        for (i, hyp) in hyps.iter().enumerate() {
            let seg_refs: Vec<&str> = refs.iter().map(|s| s.as_ref()[i].as_ref()).collect();
            for (t, s) in total
                .iter_mut()
                .zip(self.segment_stats(hyp.as_ref(), &seg_refs)?)
            {
                for k in 0..3 {
                    t[k] += s[k];
                }
            }
        }
        Ok(self.score_from_stats(total, refs.len()))
    }

    /// chrF of one hypothesis against its references (the best-scoring one counts).
    ///
    /// **Equivalent**: `sacrebleu.metrics.CHRF(..).sentence_score(hyp, refs)`.
    ///
    /// # Errors
    /// [`MetricError::Empty`] when `refs` is empty, [`MetricError::InvalidParameter`] when
    /// `char_order + word_order` is 0.
    pub fn sentence_score<S: AsRef<str>>(&self, hyp: &str, refs: &[S]) -> MetricResult<ChrfScore> {
        let stats = self.segment_stats(hyp, refs)?;
        Ok(self.score_from_stats(stats, refs.len()))
    }

    fn order(&self) -> MetricResult<usize> {
        match self.char_order + self.word_order {
            0 => Err(MetricError::InvalidParameter {
                name: "char_order + word_order",
                value: "0".into(),
                requirement: "at least one n-gram order",
            }),
            order => Ok(order),
        }
    }

    fn score_from_stats(&self, stats: Vec<[usize; 3]>, nrefs: usize) -> ChrfScore {
        ChrfScore {
            score: self.f_score(&stats),
            name: format!("chrF{}{}", self.beta, "+".repeat(self.word_order)),
            signature: self.signature(nrefs),
            stats,
        }
    }

    /// The `[hyp, ref, match]` counts per order of the best-scoring reference (the first on a
    /// tie).
    fn segment_stats<S: AsRef<str>>(&self, hyp: &str, refs: &[S]) -> MetricResult<Vec<[usize; 3]>> {
        self.order()?;
        check_non_empty(refs.len(), "references")?;
        let prep = |s: &str| {
            if self.lowercase {
                py_lower(s)
            } else {
                s.to_string()
            }
        };
        let hyp = prep(hyp);
        let (hyp_line, hyp_words) = (self.char_line(&hyp), self.words(&hyp));
        let hyp_ngrams = self.ngrams(&hyp_line, &hyp_words);
        let mut best: Option<(f64, Vec<[usize; 3]>)> = None;
        for r in refs {
            let r = prep(r.as_ref());
            let (r_line, r_words) = (self.char_line(&r), self.words(&r));
            let r_ngrams = self.ngrams(&r_line, &r_words);
            let chars = hyp_ngrams.chars.iter().zip(&r_ngrams.chars);
            let words = hyp_ngrams.words.iter().zip(&r_ngrams.words);
            let mut stats: Vec<[usize; 3]> = chars.map(|(h, r)| match_stats(h, r)).collect();
            stats.extend(words.map(|(h, r)| match_stats(h, r)));
            let f = self.f_score(&stats);
            if best.as_ref().is_none_or(|(best_f, _)| f > *best_f) {
                best = Some((f, stats));
            }
        }
        Ok(best.map(|(_, s)| s).unwrap_or_default())
    }

    /// The text character n-grams come from: the sentence without whitespace (Python's
    /// `"".join(s.split())`), or as is when whitespace is kept.
    fn char_line(&self, sentence: &str) -> String {
        if self.whitespace {
            sentence.to_string()
        } else {
            py_split(sentence).collect()
        }
    }

    /// Character n-grams (code points) of `line` and word n-grams of `words`.
    fn ngrams<'a>(&self, line: &'a str, words: &'a [&'a str]) -> Ngrams<'a> {
        // byte offsets of every character boundary
        let bounds: Vec<usize> = line
            .char_indices()
            .map(|(i, _)| i)
            .chain([line.len()])
            .collect();
        let n_chars = bounds.len() - 1;
        let chars = (1..=self.char_order)
            .map(|n| {
                let mut counts = HashMap::new();
                for i in 0..(n_chars + 1).saturating_sub(n) {
                    *counts.entry(&line[bounds[i]..bounds[i + n]]).or_insert(0) += 1;
                }
                counts
            })
            .collect();
        let words = (1..=self.word_order)
            .map(|n| {
                let mut counts = HashMap::new();
                for w in words.windows(n) {
                    *counts.entry(w).or_insert(0) += 1;
                }
                counts
            })
            .collect();
        Ngrams { chars, words }
    }

    /// chrF++'s word split: whitespace tokens, with one ASCII punctuation character split off
    /// the end (or else the start) of tokens longer than one character.
    fn words<'a>(&self, sentence: &'a str) -> Vec<&'a str> {
        let mut words = Vec::new();
        if self.word_order == 0 {
            return words;
        }
        for w in py_split(sentence) {
            let mut chars = w.chars();
            let (first, last) = (chars.next(), chars.next_back());
            match (first, last) {
                (Some(_), Some(l)) if l.is_ascii_punctuation() => {
                    let cut = w.len() - l.len_utf8();
                    words.extend([&w[..cut], &w[cut..]]);
                }
                (Some(f), Some(_)) if f.is_ascii_punctuation() => {
                    let cut = f.len_utf8();
                    words.extend([&w[..cut], &w[cut..]]);
                }
                _ => words.push(w),
            }
        }
        words
    }

    /// sacreBLEU's `_compute_f_score`.
    fn f_score(&self, stats: &[[usize; 3]]) -> f64 {
        const EPS: f64 = 1e-16;
        let factor = f64::from(self.beta) * f64::from(self.beta);
        let mut score = 0.0;
        let (mut avg_prec, mut avg_rec, mut effective_order) = (0.0, 0.0, 0usize);
        for &[n_hyp, n_ref, n_match] in stats {
            let prec = if n_hyp > 0 {
                n_match as f64 / n_hyp as f64
            } else {
                EPS
            };
            let rec = if n_ref > 0 {
                n_match as f64 / n_ref as f64
            } else {
                EPS
            };
            let denom = factor * prec + rec;
            score += if denom > 0.0 {
                (1.0 + factor) * prec * rec / denom
            } else {
                EPS
            };
            if n_hyp > 0 && n_ref > 0 {
                avg_prec += prec;
                avg_rec += rec;
                effective_order += 1;
            }
        }
        if self.eps_smoothing {
            return 100.0 * score / stats.len() as f64;
        }
        if effective_order == 0 {
            avg_prec = 0.0;
            avg_rec = 0.0;
        } else {
            avg_prec /= effective_order as f64;
            avg_rec /= effective_order as f64;
        }
        if avg_prec + avg_rec != 0.0 {
            let mut score = (1.0 + factor) * avg_prec * avg_rec;
            score /= (factor * avg_prec) + avg_rec;
            100.0 * score
        } else {
            0.0
        }
    }
}

/// chrF with sacreBLEU's defaults (`refs[k][i]` is the `k`-th reference of `hyps[i]`).
///
/// **Equivalent**: `sacrebleu.corpus_chrf(hyps, refs)`.
///
/// # Errors
/// As [`Chrf::corpus_score`].
pub fn corpus_chrf<H, R, S>(hyps: &[H], refs: &[R]) -> MetricResult<ChrfScore>
where
    H: AsRef<str>,
    R: AsRef<[S]>,
    S: AsRef<str>,
{
    Chrf::default().corpus_score(hyps, refs)
}

/// Sentence chrF with sacreBLEU's defaults.
///
/// **Equivalent**: `sacrebleu.sentence_chrf(hyp, refs)`.
///
/// # Errors
/// [`MetricError::Empty`] when `refs` is empty.
pub fn sentence_chrf<S: AsRef<str>>(hyp: &str, refs: &[S]) -> MetricResult<ChrfScore> {
    Chrf::default().sentence_score(hyp, refs)
}

/// `[hyp count, ref count, clipped matches]` of one order; the hypothesis count is 0 when the
/// reference has no n-gram of this order (as sacreBLEU).
fn match_stats<K: Hash + Eq>(hyp: &HashMap<K, usize>, r: &HashMap<K, usize>) -> [usize; 3] {
    let mut n_hyp = 0;
    let mut n_match = 0;
    for (ngram, &count) in hyp {
        n_hyp += count;
        if let Some(&rc) = r.get(ngram) {
            n_match += count.min(rc);
        }
    }
    let n_ref = r.values().sum();
    [if r.is_empty() { 0 } else { n_hyp }, n_ref, n_match]
}
