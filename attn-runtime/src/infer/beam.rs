//! Beam search for sequence-to-sequence models, through any model's teacher-forced forward pass
//! (so it works for recurrent and transformer decoders alike).

use crate::error::AttnError;
use crate::loss::IGNORE;
use crate::tokens::EOS;
use crate::zoo::{Batch, Inputs, ZooModel};

/// Beam-search settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BeamSearch {
    /// Hypotheses kept per step: 1 to [`MAX_BEAM`].
    pub beam_size: usize,
    /// Length penalty α of Wu et al. (2016): scores are divided by `((5 + len) / 6)^α`; 0 ranks
    /// by total log-probability. A finite number from 0 to [`MAX_LENGTH_PENALTY`].
    pub length_penalty: f64,
}

/// The widest beam [`BeamSearch::validate`] accepts.
///
/// Each step runs the decoder over one row per beam and ranks `beam × vocabulary` candidates,
/// so time and memory grow linearly with the beam (`predict --beam 100000` was reported to run
/// for minutes in about 16 GB). Translation quality stops improving past beams of about 5–10 and
/// then degrades (Koehn & Knowles 2017, "Six challenges for neural machine translation"); 64
/// leaves room for experiments well past that while bounding a step at 64 decoder rows.
pub const MAX_BEAM: usize = 64;

/// The largest length penalty α [`BeamSearch::validate`] accepts.
///
/// Wu et al. (2016) tune α in `[0, 1]`; past a few units the penalty, not the model, decides the
/// output, and `((5 + len) / 6)^α` overflows to infinity for long targets (every score then
/// becomes 0 and the ranking is arbitrary). 10 leaves room for experiments.
pub const MAX_LENGTH_PENALTY: f64 = 10.0;

impl Default for BeamSearch {
    fn default() -> Self {
        BeamSearch {
            beam_size: 4,
            length_penalty: 0.6,
        }
    }
}

/// A finished hypothesis: target ids (EOS included when produced) and its scores.
#[derive(Clone, Debug, PartialEq)]
pub struct Hypothesis {
    /// Target ids.
    pub tokens: Vec<usize>,
    /// Sum of token log-probabilities.
    pub log_prob: f64,
    /// The length-penalised score used for ranking.
    pub score: f64,
}

fn log_softmax(row: &[f32]) -> Vec<f64> {
    let lse = crate::loss::row_log_sum_exp(row);
    row.iter().map(|&v| v as f64 - lse).collect()
}

impl BeamSearch {
    /// Checks the settings; [`search`](Self::search) does it first.
    ///
    /// # Errors
    /// [`AttnError::InvalidHyperParameter`] for a beam of 0 or above [`MAX_BEAM`], or a length
    /// penalty that is NaN, infinite, negative or above [`MAX_LENGTH_PENALTY`]. A negative α is
    /// refused because scores are negative log-probabilities divided by `((5 + len) / 6)^α`: with
    /// α < 0 the divisor shrinks as the output grows, so the "penalty" rewards short outputs on
    /// top of the log-probability's own preference for them, the opposite of what it is for (α =
    /// 0 already ranks by plain log-probability).
    pub fn validate(&self) -> Result<(), AttnError> {
        // the requirements below are literals: keep them in step with the constants
        const _: () = assert!(MAX_BEAM == 64 && MAX_LENGTH_PENALTY == 10.0);
        if self.beam_size == 0 || self.beam_size > MAX_BEAM {
            return Err(AttnError::InvalidHyperParameter {
                name: "beam_size (--beam)",
                value: self.beam_size.to_string(),
                requirement: "must be from 1 to 64 (the maximum: wider beams cost time and memory in proportion and do not translate better)",
            });
        }
        let alpha = self.length_penalty;
        if !alpha.is_finite() {
            return Err(AttnError::InvalidHyperParameter {
                name: "length_penalty (--length-penalty)",
                value: alpha.to_string(),
                requirement: "must be a finite number from 0 to 10 (0.6 is usual; 0 ranks by log-probability alone)",
            });
        }
        if alpha < 0.0 {
            return Err(AttnError::InvalidHyperParameter {
                name: "length_penalty (--length-penalty)",
                value: alpha.to_string(),
                requirement: "must not be negative: scores are divided by ((5 + len) / 6)^α, so a negative α favours short outputs even more than log-probability does; use 0 to rank by log-probability alone, 0.6 is usual",
            });
        }
        if alpha > MAX_LENGTH_PENALTY {
            return Err(AttnError::InvalidHyperParameter {
                name: "length_penalty (--length-penalty)",
                value: alpha.to_string(),
                requirement: "must be at most 10: past that the penalty, not the model, picks the output, and it overflows for long outputs (0.6 is usual)",
            });
        }
        Ok(())
    }

    fn penalised(&self, log_prob: f64, len: usize) -> f64 {
        log_prob / ((5.0 + len as f64) / 6.0).powf(self.length_penalty)
    }

    /// Searches the best target for one source (`ids`, unpadded), returning hypotheses best first.
    ///
    /// # Errors
    /// [`AttnError::InvalidHyperParameter`] for settings [`validate`](Self::validate) refuses;
    /// forward-pass errors.
    pub fn search(
        &self,
        model: &dyn ZooModel,
        ids: &[usize],
        src_len: usize,
        tgt_len: usize,
    ) -> Result<Vec<Hypothesis>, AttnError> {
        self.validate()?;
        let mut beams: Vec<(Vec<usize>, f64)> = vec![(Vec::new(), 0.0)];
        let mut finished: Vec<Hypothesis> = Vec::new();
        for t in 0..tgt_len {
            // one row per live beam: its prefix as targets (the decoder is fed BOS + prefix)
            let size = beams.len();
            let mut src = vec![0; size * src_len];
            let mut targets = vec![IGNORE; size * tgt_len];
            for (b, (prefix, _)) in beams.iter().enumerate() {
                src[b * src_len..b * src_len + ids.len()].copy_from_slice(ids);
                targets[b * tgt_len..b * tgt_len + prefix.len()].copy_from_slice(prefix);
                // the position being predicted needs a target for the row to be decoded
                targets[b * tgt_len + t] = 0;
            }
            let batch = Batch {
                size,
                inputs: Inputs::Tokens {
                    ids: src,
                    lengths: vec![ids.len().max(1); size],
                },
                targets,
            };
            let out = model.forward_teacher_forced(&batch, false)?;
            let vocab = out.logits_shape[1];
            let mut candidates: Vec<(Vec<usize>, f64)> = Vec::new();
            for (b, (prefix, lp)) in beams.iter().enumerate() {
                let row = &out.logits[(b * tgt_len + t) * vocab..(b * tgt_len + t + 1) * vocab];
                let logp = log_softmax(row);
                // the beam's best continuations, in no particular order (the candidates are
                // ranked below): a selection, not a sort of the whole vocabulary
                let keep = self.beam_size.min(vocab);
                let mut order: Vec<usize> = (0..vocab).collect();
                if keep < vocab {
                    order.select_nth_unstable_by(keep - 1, |&x, &y| logp[y].total_cmp(&logp[x]));
                }
                for &tok in &order[..keep] {
                    let mut next = prefix.clone();
                    next.push(tok);
                    candidates.push((next, lp + logp[tok]));
                }
            }
            candidates.sort_by(|a, b| b.1.total_cmp(&a.1));
            beams.clear();
            for (tokens, lp) in candidates {
                if tokens.last() == Some(&EOS) || tokens.len() == tgt_len {
                    let score = self.penalised(lp, tokens.len());
                    finished.push(Hypothesis {
                        tokens,
                        log_prob: lp,
                        score,
                    });
                } else if beams.len() < self.beam_size {
                    beams.push((tokens, lp));
                }
                if beams.len() == self.beam_size && finished.len() >= self.beam_size {
                    break;
                }
            }
            let best_live = beams
                .iter()
                .map(|(t, lp)| self.penalised(*lp, t.len()))
                .fold(f64::MIN, f64::max);
            let best_done = finished.iter().map(|h| h.score).fold(f64::MIN, f64::max);
            if beams.is_empty() || (finished.len() >= self.beam_size && best_done >= best_live) {
                break;
            }
        }
        for (tokens, lp) in beams {
            let score = self.penalised(lp, tokens.len());
            finished.push(Hypothesis {
                tokens,
                log_prob: lp,
                score,
            });
        }
        finished.sort_by(|a, b| b.score.total_cmp(&a.score));
        Ok(finished)
    }
}
