//! Beam search for sequence-to-sequence models: on the model's decoding session (one new token
//! per beam and step, the caches following the beams) where it has one, otherwise through its
//! teacher-forced forward pass over each prefix.

use crate::error::AttnError;
use crate::loss::IGNORE;
use crate::model::SourceStepper;
use crate::run::BeamSearch;
use crate::tokens::{BOS, EOS};
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
    /// step runs one decoder pass over the live beams of every source still searching, so a
    /// test set decodes in batches rather than one source at a time. Each source's hypotheses,
    /// best first, are those [`search`](Self::search) finds for it alone (its rows of the
    /// batch are computed as they would be on their own).
    ///
    /// On the model's decoding session ([`ZooModel::source_stepper`]) where it has one: the
    /// sources are encoded once and each step feeds one token per beam, the caches (or
    /// recurrent states) following the beams; otherwise each step re-runs the teacher-forced
    /// pass over every beam's whole prefix.
    ///
    /// **PyTorch equivalent**: batched beam search as in fairseq's `SequenceGenerator`, with
    /// the incremental state reordered by the beams' parents (`reorder_incremental_state`).
    ///
    /// # Errors
    /// [`AttnError::InvalidHyperParameter`] for settings [`validate`](Self::validate) refuses;
    /// sources the model refuses; forward-pass errors.
    pub fn search_batch(
        &self,
        model: &dyn ZooModel,
        sources: &[&[usize]],
        src_len: usize,
        tgt_len: usize,
    ) -> Result<Vec<Vec<Hypothesis>>, AttnError> {
        self.validate()?;
        let mut searches: Vec<Search> = sources.iter().map(|_| Search::default()).collect();
        match model.source_stepper(sources)? {
            Some(mut session) => self.search_stepping(&mut *session, &mut searches, tgt_len)?,
            None => self.search_teacher_forced(model, sources, &mut searches, src_len, tgt_len)?,
        }
        Ok(searches.into_iter().map(|s| s.finish(self)).collect())
    }

    /// The search on a decoding session: one step per position, each live beam a row that
    /// continues its parent's row and is fed the token it ended with.
    fn search_stepping(
        &self,
        session: &mut dyn SourceStepper<f32>,
        searches: &mut [Search],
        tgt_len: usize,
    ) -> Result<(), AttnError> {
        // where each search's beams start among the previous step's rows (the sources, first)
        let mut first_row: Vec<usize> = (0..searches.len()).collect();
        for _ in 0..tgt_len {
            let live: Vec<usize> = (0..searches.len()).filter(|&s| !searches[s].done).collect();
            if live.is_empty() {
                break;
            }
            let (mut parents, mut tokens) = (Vec::new(), Vec::new());
            let mut next_first = first_row.clone();
            for &s in &live {
                next_first[s] = parents.len();
                for beam in &searches[s].beams {
                    parents.push(first_row[s] + beam.parent);
                    tokens.push(beam.tokens.last().copied().unwrap_or(BOS));
                }
            }
            let logits = session.try_step(&parents, &tokens)?;
            let vocab = session.vocab();
            for &s in &live {
                let count = searches[s].beams.len();
                let rows: Vec<&[f32]> = (next_first[s]..next_first[s] + count)
                    .map(|r| &logits[r * vocab..][..vocab])
                    .collect();
                searches[s].advance(self, &rows, tgt_len);
            }
            first_row = next_first;
        }
        Ok(())
    }

    /// The search through the model's teacher-forced pass, for models without a decoding
    /// session: each step runs the decoder over every live beam's whole prefix.
    fn search_teacher_forced(
        &self,
        model: &dyn ZooModel,
        sources: &[&[usize]],
        searches: &mut [Search],
        src_len: usize,
        tgt_len: usize,
    ) -> Result<(), AttnError> {
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
                .flat_map(|&s| searches[s].beams.iter().map(move |beam| (s, &beam.tokens)));
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
        Ok(())
    }
}

/// A live beam: its tokens so far, their summed log-probability, and the index of the beam of
/// the previous step it extends (0 for the first step's empty beam).
struct Beam {
    tokens: Vec<usize>,
    log_prob: f64,
    parent: usize,
}

/// One source's search: its live beams (prefix and log-probability), the hypotheses finished
/// so far, and whether it has stopped.
struct Search {
    beams: Vec<Beam>,
    finished: Vec<Hypothesis>,
    done: bool,
}

impl Default for Search {
    fn default() -> Self {
        Search {
            beams: vec![Beam {
                tokens: Vec::new(),
                log_prob: 0.0,
                parent: 0,
            }],
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
        let mut candidates: Vec<Beam> = Vec::new();
        for (parent, (beam, row)) in self.beams.iter().zip(logits).enumerate() {
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
                let mut tokens = beam.tokens.clone();
                tokens.push(tok);
                candidates.push(Beam {
                    tokens,
                    log_prob: beam.log_prob + logp[tok],
                    parent,
                });
            }
        }
        candidates.sort_by(|a, b| b.log_prob.total_cmp(&a.log_prob));
        self.beams.clear();
        for beam in candidates {
            if beam.tokens.last() == Some(&EOS) || beam.tokens.len() == tgt_len {
                let score = settings.penalised(beam.log_prob, beam.tokens.len());
                self.finished.push(Hypothesis {
                    tokens: beam.tokens,
                    log_prob: beam.log_prob,
                    score,
                });
            } else if self.beams.len() < settings.beam_size {
                self.beams.push(beam);
            }
            if self.beams.len() == settings.beam_size && self.finished.len() >= settings.beam_size {
                break;
            }
        }
        let best_live = self
            .beams
            .iter()
            .map(|beam| settings.penalised(beam.log_prob, beam.tokens.len()))
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
        for beam in self.beams {
            let score = settings.penalised(beam.log_prob, beam.tokens.len());
            self.finished.push(Hypothesis {
                tokens: beam.tokens,
                log_prob: beam.log_prob,
                score,
            });
        }
        self.finished.sort_by(|a, b| b.score.total_cmp(&a.score));
        self.finished
    }
}
