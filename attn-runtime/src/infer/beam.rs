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
        let mut all = self.search_batch(model, &[ids], src_len, tgt_len)?;
        Ok(all.pop().unwrap_or_default())
    }

    /// Searches the best targets for several sources (`sources`, each unpadded) at once: each
    /// step runs one forward pass over the live beams of every source still searching, so a
    /// test set decodes in batches rather than one source at a time. Each source's hypotheses,
    /// best first, are those [`search`](Self::search) finds for it alone (its rows of the
    /// batch are computed as they would be on their own).
    ///
    /// **PyTorch equivalent**: batched beam search as in fairseq's `SequenceGenerator`, here
    /// through the model's teacher-forced pass.
    ///
    /// # Errors
    /// [`AttnError::InvalidHyperParameter`] for settings [`validate`](Self::validate) refuses;
    /// forward-pass errors.
    pub fn search_batch(
        &self,
        model: &dyn ZooModel,
        sources: &[&[usize]],
        src_len: usize,
        tgt_len: usize,
    ) -> Result<Vec<Vec<Hypothesis>>, AttnError> {
        self.validate()?;
        let mut searches: Vec<Search> = sources.iter().map(|_| Search::default()).collect();
        for t in 0..tgt_len {
            let live: Vec<usize> = (0..searches.len()).filter(|&s| !searches[s].done).collect();
            if live.is_empty() {
                break;
            }
            // one row per live beam: its source, and its prefix as targets (the decoder is fed
            // BOS + prefix)
            let size: usize = live.iter().map(|&s| searches[s].beams.len()).sum();
            let mut src = vec![0; size * src_len];
            let mut targets = vec![IGNORE; size * tgt_len];
            let mut lengths = Vec::with_capacity(size);
            let rows = live
                .iter()
                .flat_map(|&s| searches[s].beams.iter().map(move |(prefix, _)| (s, prefix)));
            for (b, (s, prefix)) in rows.enumerate() {
                let ids = sources[s];
                src[b * src_len..b * src_len + ids.len()].copy_from_slice(ids);
                targets[b * tgt_len..b * tgt_len + prefix.len()].copy_from_slice(prefix);
                // the position being predicted needs a target for the row to be decoded
                targets[b * tgt_len + t] = 0;
                lengths.push(ids.len().max(1));
            }
            let batch = Batch {
                size,
                inputs: Inputs::Tokens { ids: src, lengths },
                targets,
            };
            let out = model.forward_teacher_forced(&batch, false)?;
            let vocab = out.logits_shape[1];
            let mut first = 0;
            for &s in &live {
                let search = &mut searches[s];
                let count = search.beams.len();
                // the logits of position `t` of each of this search's rows
                let rows: Vec<&[f32]> = (first..first + count)
                    .map(|b| &out.logits[(b * tgt_len + t) * vocab..][..vocab])
                    .collect();
                search.advance(self, &rows, tgt_len);
                first += count;
            }
        }
        Ok(searches.into_iter().map(|s| s.finish(self)).collect())
    }
}

/// One source's search: its live beams (prefix and log-probability), the hypotheses finished
/// so far, and whether it has stopped.
struct Search {
    beams: Vec<(Vec<usize>, f64)>,
    finished: Vec<Hypothesis>,
    done: bool,
}

impl Default for Search {
    fn default() -> Self {
        Search {
            beams: vec![(Vec::new(), 0.0)],
            finished: Vec::new(),
            done: false,
        }
    }
}

impl Search {
    /// One step: extends each live beam by its best tokens (`logits[b]`: beam `b`'s next-token
    /// logits), keeps the best `beam_size` live candidates, finishes those that end in EOS or
    /// fill the target, and stops once no live beam can beat the finished ones.
    fn advance(&mut self, settings: &BeamSearch, logits: &[&[f32]], tgt_len: usize) {
        let mut candidates: Vec<(Vec<usize>, f64)> = Vec::new();
        for ((prefix, lp), row) in self.beams.iter().zip(logits) {
            let logp = log_softmax(row);
            let vocab = logp.len();
            // the beam's best continuations, in no particular order (the candidates are
            // ranked below): a selection, not a sort of the whole vocabulary
            let keep = settings.beam_size.min(vocab);
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
        self.beams.clear();
        for (tokens, lp) in candidates {
            if tokens.last() == Some(&EOS) || tokens.len() == tgt_len {
                let score = settings.penalised(lp, tokens.len());
                self.finished.push(Hypothesis {
                    tokens,
                    log_prob: lp,
                    score,
                });
            } else if self.beams.len() < settings.beam_size {
                self.beams.push((tokens, lp));
            }
            if self.beams.len() == settings.beam_size && self.finished.len() >= settings.beam_size {
                break;
            }
        }
        let best_live = self
            .beams
            .iter()
            .map(|(t, lp)| settings.penalised(*lp, t.len()))
            .fold(f64::MIN, f64::max);
        let best_done = self
            .finished
            .iter()
            .map(|h| h.score)
            .fold(f64::MIN, f64::max);
        self.done = self.beams.is_empty()
            || (self.finished.len() >= settings.beam_size && best_done >= best_live);
    }

    /// The hypotheses, best first: the finished ones and the beams still live.
    fn finish(mut self, settings: &BeamSearch) -> Vec<Hypothesis> {
        for (tokens, lp) in self.beams {
            let score = settings.penalised(lp, tokens.len());
            self.finished.push(Hypothesis {
                tokens,
                log_prob: lp,
                score,
            });
        }
        self.finished.sort_by(|a, b| b.score.total_cmp(&a.score));
        self.finished
    }
}
