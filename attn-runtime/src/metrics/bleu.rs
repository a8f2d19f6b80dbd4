//! BLEU (Papineni et al., 2002) exactly as sacreBLEU 2.x computes it.

use std::fmt;

use serde::Serialize;

use super::text::{py_lower, py_rstrip};
use super::{check_non_empty, check_same_len, tokenize_13a, BleuStats, MetricError, MetricResult};

/// The sacreBLEU release this module reproduces (and the golden fixtures were made with); it is
/// the `version:` field of every signature.
///
/// **Equivalent**: `sacrebleu.__version__`.
pub const SACREBLEU_VERSION: &str = "2.6.0";

/// The largest n-gram order BLEU counts.
///
/// **Equivalent**: `sacrebleu.metrics.bleu.MAX_NGRAM_ORDER` (the default `max_ngram_order`).
pub const MAX_NGRAM_ORDER: usize = 4;

/// How hypotheses and references are split into words before counting n-grams.
///
/// **Equivalent**: sacreBLEU's `tokenize="13a"` / `tokenize="none"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BleuTokenizer {
    /// mteval-v13a ([`tokenize_13a`]), sacreBLEU's default (`tokenize="13a"`).
    #[default]
    V13a,
    /// Whitespace splitting only (`tokenize="none"`).
    None,
}

impl BleuTokenizer {
    /// The name in sacreBLEU signatures: `13a` or `none`.
    ///
    /// **Equivalent**: `sacrebleu.metrics.BLEU(tokenize=..).tokenizer.signature()`.
    pub fn signature(self) -> &'static str {
        match self {
            BleuTokenizer::V13a => "13a",
            BleuTokenizer::None => "none",
        }
    }
}

/// How zero n-gram precisions are smoothed (Chen & Cherry, 2014).
///
/// **Equivalent**: sacreBLEU's `smooth_method` and `smooth_value`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Smoothing {
    /// No smoothing: any zero precision makes BLEU 0 (`smooth_method="none"`).
    None,
    /// A zero match count becomes this value (`"floor"`, sacreBLEU's default value 0.1).
    Floor(f64),
    /// Adds this value to the match and total counts of orders 2 and up (`"add-k"`, default 1).
    AddK(f64),
    /// The k-th zero precision becomes `1 / (2^k · total)` (`"exp"`, NIST mteval-v13a smoothing,
    /// sacreBLEU's default).
    #[default]
    Exp,
}

impl Smoothing {
    /// `Floor` with sacreBLEU's default value.
    ///
    /// **Equivalent**: `smooth_method="floor", smooth_value=None`.
    pub const FLOOR: Smoothing = Smoothing::Floor(0.1);
    /// `AddK` with sacreBLEU's default value.
    ///
    /// **Equivalent**: `smooth_method="add-k", smooth_value=None`.
    pub const ADD_K: Smoothing = Smoothing::AddK(1.0);

    /// The name in sacreBLEU signatures, e.g. `exp` or `floor[0.10]` (the value with two
    /// decimals, rounded half to even like Python's `f"{v:.2f}"`).
    ///
    /// **Equivalent**: the `smooth:` field of `sacrebleu.metrics.bleu.BLEUSignature`.
    pub fn signature(self) -> String {
        match self {
            Smoothing::None => "none".into(),
            Smoothing::Exp => "exp".into(),
            Smoothing::Floor(v) => format!("floor[{v:.2}]"),
            Smoothing::AddK(k) => format!("add-k[{k:.2}]"),
        }
    }
}

/// A BLEU configuration; [`Bleu::default`] is `sacrebleu.corpus_bleu`'s, [`Bleu::sentence`]
/// is `sacrebleu.sentence_bleu`'s.
///
/// **Equivalent**: `sacrebleu.metrics.BLEU(lowercase=.., tokenize=.., smooth_method=..,
/// smooth_value=.., effective_order=..)`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Bleu {
    /// The tokenizer (default `13a`).
    pub tokenizer: BleuTokenizer,
    /// Lowercase hypotheses and references first (default `false`).
    pub lowercase: bool,
    /// The smoothing of zero precisions (default `exp`).
    pub smoothing: Smoothing,
    /// Average only the n-gram orders the hypotheses have any n-gram of (default `false`;
    /// `true` for sentence BLEU).
    pub effective_order: bool,
}

/// A BLEU score with its statistics and signature.
///
/// `Display` prints what `str(score)` prints in sacreBLEU, e.g.
/// `BLEU = 56.67 78.9/61.8/50.0/42.3 (BP = 1.000 ratio = 1.086 hyp_len = 38 ref_len = 35)`.
///
/// **Equivalent**: `sacrebleu.metrics.bleu.BLEUScore` (its `score`, `counts`, `totals`,
/// `precisions`, `bp`, `sys_len`, `ref_len`), plus `str(metric.get_signature())`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BleuScore {
    /// BLEU in `[0, 100]`.
    pub score: f64,
    /// Matched n-grams per order (for [`Smoothing::AddK`], sacreBLEU reports these plus `k` for
    /// orders 2 and up; these are the unsmoothed counts).
    pub counts: [usize; MAX_NGRAM_ORDER],
    /// Hypothesis n-grams per order (unsmoothed, as `counts`).
    pub totals: [usize; MAX_NGRAM_ORDER],
    /// The (smoothed) n-gram precisions in percent; all 0 when nothing matched.
    pub precisions: [f64; MAX_NGRAM_ORDER],
    /// The brevity penalty `exp(1 - ref_len / sys_len)` when `sys_len < ref_len`, else 1.
    pub bp: f64,
    /// Total hypothesis length.
    pub sys_len: usize,
    /// Total closest-reference length.
    pub ref_len: usize,
    /// sacreBLEU's signature, e.g. `nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0`.
    pub signature: String,
}

impl fmt::Display for BleuScore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = &self.precisions;
        let ratio = if self.ref_len > 0 {
            self.sys_len as f64 / self.ref_len as f64
        } else {
            0.0
        };
        write!(
            f,
            "BLEU = {:.2} {:.1}/{:.1}/{:.1}/{:.1} (BP = {:.3} ratio = {:.3} hyp_len = {} \
             ref_len = {})",
            self.score, p[0], p[1], p[2], p[3], self.bp, ratio, self.sys_len, self.ref_len
        )
    }
}

impl Bleu {
    /// `sacrebleu.sentence_bleu`'s configuration: `13a`, mixed case, `exp` smoothing, effective
    /// order.
    ///
    /// **Equivalent**: `sacrebleu.metrics.BLEU(effective_order=True)`.
    pub fn sentence() -> Self {
        Bleu {
            effective_order: true,
            ..Bleu::default()
        }
    }

    /// The signature sacreBLEU prints for this configuration and `nrefs` references, e.g.
    /// `nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0`.
    ///
    /// **Equivalent**: `str(sacrebleu.metrics.BLEU(..).get_signature())` after scoring.
    pub fn signature(&self, nrefs: usize) -> String {
        format!(
            "nrefs:{nrefs}|case:{}|eff:{}|tok:{}|smooth:{}|version:{SACREBLEU_VERSION}",
            if self.lowercase { "lc" } else { "mixed" },
            if self.effective_order { "yes" } else { "no" },
            self.tokenizer.signature(),
            self.smoothing.signature()
        )
    }

    /// A sentence as BLEU counts it: lowercased if asked, trailing whitespace stripped, then
    /// tokenized.
    ///
    /// **Equivalent**: `sacrebleu.metrics.BLEU(..)._preprocess_segment(sentence)`.
    pub fn preprocess(&self, sentence: &str) -> String {
        let lowered;
        let s = if self.lowercase {
            lowered = py_lower(sentence);
            &lowered
        } else {
            sentence
        };
        let s = py_rstrip(s);
        match self.tokenizer {
            BleuTokenizer::V13a => tokenize_13a(s),
            BleuTokenizer::None => s.to_string(),
        }
    }

    /// BLEU from (summed) statistics, with this configuration's smoothing and effective order;
    /// `nrefs` goes into the signature.
    ///
    /// **Equivalent**: `sacrebleu.metrics.BLEU.compute_bleu(counts, totals, sys_len, ref_len,
    /// smooth_method, smooth_value, effective_order)`.
    ///
    /// # Errors
    /// [`MetricError::InvalidParameter`] for a negative or non-finite smoothing value.
    pub fn score_from_stats(&self, stats: &BleuStats, nrefs: usize) -> MetricResult<BleuScore> {
        let value = match self.smoothing {
            Smoothing::Floor(v) | Smoothing::AddK(v) => Some(v),
            _ => None,
        };
        if let Some(v) = value.filter(|v| !(v.is_finite() && *v >= 0.0)) {
            return Err(MetricError::InvalidParameter {
                name: "smoothing value",
                value: v.to_string(),
                requirement: "finite and >= 0",
            });
        }
        let (sys_len, ref_len) = (stats.sys_len, stats.ref_len);
        let mut bp = 1.0;
        if sys_len < ref_len {
            bp = if sys_len > 0 {
                (1.0 - ref_len as f64 / sys_len as f64).exp()
            } else {
                0.0
            };
        }
        let mut precisions = [0.0; MAX_NGRAM_ORDER];
        let mut score = 0.0;
        // sacreBLEU stops early (score 0, precisions 0) when nothing matched at all
        if stats.counts.iter().any(|&c| c > 0) {
            let mut correct = stats.counts.map(|c| c as f64);
            let mut total = stats.totals.map(|t| t as f64);
            let mut smooth_mteval = 1.0;
            let mut eff_order = MAX_NGRAM_ORDER;
            for n in 1..=MAX_NGRAM_ORDER {
                let i = n - 1;
                if let (Smoothing::AddK(k), true) = (self.smoothing, n > 1) {
                    correct[i] += k;
                    total[i] += k;
                }
                if total[i] == 0.0 {
                    break;
                }
                if self.effective_order {
                    eff_order = n;
                }
                if correct[i] == 0.0 {
                    match self.smoothing {
                        Smoothing::Exp => {
                            smooth_mteval *= 2.0;
                            precisions[i] = 100.0 / (smooth_mteval * total[i]);
                        }
                        Smoothing::Floor(v) => precisions[i] = 100.0 * v / total[i],
                        Smoothing::None | Smoothing::AddK(_) => {}
                    }
                } else {
                    precisions[i] = 100.0 * correct[i] / total[i];
                }
            }
            // Python's left-to-right sum of the floored logs
            let log_sum = precisions[..eff_order]
                .iter()
                .fold(0.0, |acc, &p| acc + floored_log(p));
            score = bp * (log_sum / eff_order as f64).exp();
        }
        Ok(BleuScore {
            score,
            counts: stats.counts,
            totals: stats.totals,
            precisions,
            bp,
            sys_len,
            ref_len,
            signature: self.signature(nrefs),
        })
    }

    /// Corpus BLEU of `hyps` against reference streams: `refs[k][i]` is the `k`-th reference of
    /// `hyps[i]` (sacreBLEU's layout; every stream as long as `hyps`).
    ///
    /// **Equivalent**: `sacrebleu.metrics.BLEU(..).corpus_score(hyps, refs)`.
    ///
    /// # Errors
    /// [`MetricError::Empty`] for no hypotheses or no reference stream,
    /// [`MetricError::LengthMismatch`] when a stream's length differs from `hyps.len()`
    /// (sacreBLEU silently truncates), [`MetricError::InvalidParameter`] as
    /// [`score_from_stats`](Self::score_from_stats).
    pub fn corpus_score<H, R, S>(&self, hyps: &[H], refs: &[R]) -> MetricResult<BleuScore>
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
        let mut total = BleuStats::default();
        for (i, hyp) in hyps.iter().enumerate() {
            let seg_refs: Vec<&str> = refs.iter().map(|s| s.as_ref()[i].as_ref()).collect();
            total += self.segment_stats(hyp.as_ref(), &seg_refs)?;
        }
        self.score_from_stats(&total, refs.len())
    }

    /// BLEU of one hypothesis against its references (use [`Bleu::sentence`] for sacreBLEU's
    /// `sentence_bleu` defaults).
    ///
    /// **Equivalent**: `sacrebleu.metrics.BLEU(..).sentence_score(hyp, refs)`.
    ///
    /// # Errors
    /// [`MetricError::Empty`] when `refs` is empty, [`MetricError::InvalidParameter`] as
    /// [`score_from_stats`](Self::score_from_stats).
    pub fn sentence_score<S: AsRef<str>>(&self, hyp: &str, refs: &[S]) -> MetricResult<BleuScore> {
        let stats = self.segment_stats(hyp, refs)?;
        self.score_from_stats(&stats, refs.len())
    }
}

/// Corpus BLEU with sacreBLEU's defaults (`13a`, mixed case, `exp` smoothing, no effective
/// order); `refs[k][i]` is the `k`-th reference of `hyps[i]`.
///
/// **Equivalent**: `sacrebleu.corpus_bleu(hyps, refs)`.
///
/// # Errors
/// As [`Bleu::corpus_score`].
pub fn corpus_bleu<H, R, S>(hyps: &[H], refs: &[R]) -> MetricResult<BleuScore>
where
    H: AsRef<str>,
    R: AsRef<[S]>,
    S: AsRef<str>,
{
    Bleu::default().corpus_score(hyps, refs)
}

/// Sentence BLEU with sacreBLEU's defaults (`13a`, mixed case, `exp` smoothing, effective
/// order).
///
/// **Equivalent**: `sacrebleu.sentence_bleu(hyp, refs)`.
///
/// # Errors
/// [`MetricError::Empty`] when `refs` is empty.
pub fn sentence_bleu<S: AsRef<str>>(hyp: &str, refs: &[S]) -> MetricResult<BleuScore> {
    Bleu::sentence().sentence_score(hyp, refs)
}

/// sacreBLEU's `my_log`: `ln(x)`, with `ln(0)` floored to `-9999999999`.
fn floored_log(x: f64) -> f64 {
    if x == 0.0 {
        -9_999_999_999.0
    } else {
        x.ln()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perfect_match_is_100() {
        let s = corpus_bleu(
            &["the cat sat on the mat ."],
            &[["the cat sat on the mat ."]],
        )
        .unwrap();
        // exp(mean of ln(100)) in floating point, exactly as sacreBLEU prints it
        assert_eq!(s.score, 100.00000000000004);
        assert_eq!(s.counts, [7, 6, 5, 4]);
        assert_eq!(
            s.signature,
            format!("nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:{SACREBLEU_VERSION}")
        );
    }

    #[test]
    fn bad_inputs_are_errors() {
        let none: [&str; 0] = [];
        assert!(matches!(
            corpus_bleu(&none, &[none]),
            Err(MetricError::Empty { .. })
        ));
        assert!(matches!(
            sentence_bleu("a", &none),
            Err(MetricError::Empty { .. })
        ));
        assert!(matches!(
            corpus_bleu(&["a", "b"], &[["a"]]),
            Err(MetricError::LengthMismatch { .. })
        ));
        let bleu = Bleu {
            smoothing: Smoothing::Floor(-1.0),
            ..Bleu::default()
        };
        assert!(bleu.sentence_score("a", &["a"]).is_err());
    }

    #[test]
    fn smoothing_signatures() {
        assert_eq!(Smoothing::FLOOR.signature(), "floor[0.10]");
        assert_eq!(Smoothing::ADD_K.signature(), "add-k[1.00]");
    }
}
