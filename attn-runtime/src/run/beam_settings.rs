//! Beam-search settings: what `eval --beam` and `predict --beam` take, and what a run's
//! configuration names as its default decoding. The search itself is
//! `BeamSearch::search` (in [`infer`](crate::infer)); the settings live here,
//! under both `train` and `infer`, because a run's `config.json` carries them.

use serde::{Deserialize, Serialize};

use crate::error::AttnError;

/// Beam-search settings.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
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

    /// A hypothesis's score: its log-probability divided by `((5 + len) / 6)^α`.
    pub(crate) fn penalised(&self, log_prob: f64, len: usize) -> f64 {
        log_prob / ((5.0 + len as f64) / 6.0).powf(self.length_penalty)
    }
}
