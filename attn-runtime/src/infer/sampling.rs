//! Picking the next token from a model's logits: greedy, or sampled with a temperature, top-k
//! and top-p (nucleus) filtering, from a seeded generator (the same seed gives the same text).
//!
//! **PyTorch equivalent**: Hugging Face `generate(do_sample=True, temperature=.., top_k=..,
//! top_p=..)`, whose `TemperatureLogitsWarper`, `TopKLogitsWarper` and `TopPLogitsWarper` (in
//! that order) [`Sampling::warp`] reproduces; `torch.multinomial` on the softmax draws.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::error::AttnError;

/// How the next token is chosen.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Decoding {
    /// The most probable token (the first on a tie).
    Greedy,
    /// A token drawn from the warped distribution.
    Sample(Sampling),
}

/// Sampling settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sampling {
    /// Logits are divided by it before anything else: below 1 sharpens, above 1 flattens.
    pub temperature: f64,
    /// Keep only the `k` most probable tokens (ties with the `k`-th are kept).
    pub top_k: Option<usize>,
    /// Keep the smallest set of most probable tokens whose probability reaches `p` (the most
    /// probable token always).
    pub top_p: Option<f64>,
    /// The seed of the draws.
    pub seed: u64,
}

impl Default for Sampling {
    fn default() -> Self {
        Sampling {
            temperature: 1.0,
            top_k: None,
            top_p: None,
            seed: 0,
        }
    }
}

/// Sets to -inf the logits below the `k`-th largest (`k` clamped to `1..=len`).
///
/// **PyTorch equivalent**: `TopKLogitsWarper(k)`.
pub fn top_k_filter(logits: &mut [f32], k: usize) {
    if logits.is_empty() {
        return;
    }
    let k = k.clamp(1, logits.len());
    let mut sorted = logits.to_vec();
    sorted.sort_by(|a, b| b.total_cmp(a));
    let kth = sorted[k - 1];
    for v in logits.iter_mut().filter(|v| **v < kth) {
        *v = f32::NEG_INFINITY;
    }
}

/// Sets to -inf the logits outside the nucleus: sorted ascending (ties by position), the
/// tokens whose cumulative softmax probability is at most `1 - p` are removed; the most
/// probable token is always kept. Computed in `f32`, as the reference.
///
/// **PyTorch equivalent**: `TopPLogitsWarper(p)`.
pub fn top_p_filter(logits: &mut [f32], p: f64) {
    if logits.is_empty() {
        return;
    }
    let mut order: Vec<usize> = (0..logits.len()).collect();
    order.sort_by(|&a, &b| logits[a].total_cmp(&logits[b]).then(a.cmp(&b)));
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exp: Vec<f32> = order
        .iter()
        .map(|&i| {
            if logits[i].is_finite() {
                (logits[i] - max).exp()
            } else {
                0.0
            }
        })
        .collect();
    let sum: f32 = exp.iter().sum();
    let threshold = 1.0f32 - p as f32;
    let mut cumulative = 0.0f32;
    let last = order.len() - 1;
    for (rank, &i) in order.iter().enumerate() {
        cumulative += exp[rank] / sum;
        if rank < last && cumulative <= threshold {
            logits[i] = f32::NEG_INFINITY;
        }
    }
}

/// The softmax of `logits` in `f64`, -inf giving 0.
pub fn softmax(logits: &[f32]) -> Vec<f64> {
    let max = logits
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .fold(f64::NEG_INFINITY, |m, v| m.max(f64::from(v)));
    let exp: Vec<f64> = logits
        .iter()
        .map(|&v| {
            if v.is_finite() {
                (f64::from(v) - max).exp()
            } else {
                0.0
            }
        })
        .collect();
    let sum: f64 = exp.iter().sum();
    exp.into_iter().map(|e| e / sum).collect()
}

impl Sampling {
    /// Checks the settings.
    ///
    /// # Errors
    /// [`AttnError::InvalidHyperParameter`] for a temperature that is not a positive finite
    /// number, a `top_k` of 0, or a `top_p` outside `(0, 1]`.
    pub fn validate(&self) -> Result<(), AttnError> {
        let bad = |name, value: String, requirement| {
            Err(AttnError::InvalidHyperParameter {
                name,
                value,
                requirement,
            })
        };
        if !(self.temperature.is_finite() && self.temperature > 0.0) {
            return bad(
                "temperature (--temperature)",
                self.temperature.to_string(),
                "must be a positive number (1 samples the model's distribution; use greedy decoding for the most probable token)",
            );
        }
        if self.top_k == Some(0) {
            return bad(
                "top_k (--top-k)",
                "0".into(),
                "must be at least 1 (1 is greedy decoding)",
            );
        }
        if let Some(p) = self.top_p.filter(|p| !(*p > 0.0 && *p <= 1.0)) {
            return bad(
                "top_p (--top-p)",
                p.to_string(),
                "must be in (0, 1] (0.9 is usual; 1 keeps every token)",
            );
        }
        Ok(())
    }

    /// The logits the draw is made from: divided by the temperature, then top-k, then top-p
    /// filtered (removed tokens at -inf).
    pub fn warp(&self, logits: &[f32]) -> Vec<f32> {
        let t = self.temperature as f32;
        let mut out: Vec<f32> = logits.iter().map(|&v| v / t).collect();
        if let Some(k) = self.top_k {
            top_k_filter(&mut out, k);
        }
        if let Some(p) = self.top_p {
            top_p_filter(&mut out, p);
        }
        out
    }
}

/// Draws tokens under a [`Decoding`], from its own seeded generator.
pub struct Sampler {
    decoding: Decoding,
    rng: StdRng,
}

impl Sampler {
    /// A sampler for `decoding`.
    ///
    /// # Errors
    /// Settings [`Sampling::validate`] refuses.
    pub fn new(decoding: Decoding) -> Result<Sampler, AttnError> {
        let seed = match decoding {
            Decoding::Greedy => 0,
            Decoding::Sample(s) => {
                s.validate()?;
                s.seed
            }
        };
        Ok(Sampler {
            decoding,
            rng: StdRng::seed_from_u64(seed),
        })
    }

    /// The next token of `logits` (one row over the vocabulary).
    ///
    /// # Errors
    /// [`AttnError::NonFinite`] when the logits hold a NaN or leave no token to draw.
    pub fn next(&mut self, logits: &[f32]) -> Result<usize, AttnError> {
        if let Some(&v) = logits.iter().find(|v| v.is_nan()) {
            return Err(AttnError::NonFinite {
                what: "logit",
                value: f64::from(v),
            });
        }
        let probs = match self.decoding {
            Decoding::Greedy => return Ok(crate::run::argmax(logits)),
            Decoding::Sample(s) => softmax(&s.warp(logits)),
        };
        if !probs.iter().all(|p| p.is_finite()) {
            return Err(AttnError::NonFinite {
                what: "sampling probability",
                value: f64::NAN,
            });
        }
        // inverse CDF of one uniform draw in [0, 1)
        let u: f64 = self.rng.gen();
        let mut cumulative = 0.0;
        let mut last = 0;
        for (i, &p) in probs.iter().enumerate() {
            if p > 0.0 {
                cumulative += p;
                last = i;
                if u < cumulative {
                    return Ok(i);
                }
            }
        }
        Ok(last)
    }
}
