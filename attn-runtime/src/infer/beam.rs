//! Beam search for sequence-to-sequence models, through any model's teacher-forced forward pass
//! (so it works for recurrent and transformer decoders alike).

use crate::error::AttnError;
use crate::loss::IGNORE;
use crate::run::BeamSearch;
use crate::tokens::EOS;
use crate::zoo::{Batch, Inputs, ZooModel};

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
