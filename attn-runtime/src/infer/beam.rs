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
            Some(mut session) => {
                // where each search's beams start among the previous step's rows (the sources,
                // first)
                let mut first_row: Vec<usize> = (0..sources.len()).collect();
                self.run(&mut searches, tgt_len, |_, live, searches| {
                    stepped_logits(&mut *session, &mut first_row, live, searches)
                })?
            }
            None => self.run(&mut searches, tgt_len, |t, live, searches| {
                teacher_forced_logits(model, sources, (src_len, tgt_len), t, live, searches)
            })?,
        }
        Ok(searches.into_iter().map(|s| s.finish(self)).collect())
    }

    /// The search loop: at each position, `step(t, live, searches)` gives the next-token logits
    /// of every live search's beams (`[rows, vocab]`, rows in the order of `live` and of each
    /// search's beams) and the vocabulary, and each live search advances on its rows.
    fn run(
        &self,
        searches: &mut [Search],
        tgt_len: usize,
        mut step: impl FnMut(usize, &[usize], &[Search]) -> Result<(Vec<f32>, usize), AttnError>,
    ) -> Result<(), AttnError> {
        for t in 0..tgt_len {
            let live: Vec<usize> = (0..searches.len()).filter(|&s| !searches[s].done).collect();
            if live.is_empty() {
                break;
            }
            let (logits, vocab) = step(t, &live, searches)?;
            let mut rows = logits.chunks_exact(vocab);
            for &s in &live {
                let count = searches[s].beams.len();
                let own: Vec<&[f32]> = rows.by_ref().take(count).collect();
                searches[s].advance(self, &own, tgt_len);
            }
        }
        Ok(())
    }
}

/// One step on a decoding session: each live beam a row that continues its parent's row
/// (found through `first_row`, where each search's beams start among the previous step's rows,
/// updated here) and is fed the token it ended with.
fn stepped_logits(
    session: &mut dyn SourceStepper<f32>,
    first_row: &mut [usize],
    live: &[usize],
    searches: &[Search],
) -> Result<(Vec<f32>, usize), AttnError> {
    let (mut parents, mut tokens) = (Vec::new(), Vec::new());
    let mut next_first = first_row.to_vec();
    for &s in live {
        next_first[s] = parents.len();
        for beam in &searches[s].beams {
            parents.push(first_row[s] + beam.parent);
            tokens.push(beam.tokens.last().copied().unwrap_or(BOS));
        }
    }
    let logits = session.try_step(&parents, &tokens)?;
    first_row.copy_from_slice(&next_first);
    Ok((logits, session.vocab()))
}

/// One step through the model's teacher-forced pass, for models without a decoding session:
/// the decoder runs over every live beam's whole prefix, and position `t`'s logits are kept.
fn teacher_forced_logits(
    model: &dyn ZooModel,
    sources: &[&[usize]],
    (src_len, tgt_len): (usize, usize),
    t: usize,
    live: &[usize],
    searches: &[Search],
) -> Result<(Vec<f32>, usize), AttnError> {
    // one row per live beam: its source, and its prefix as targets (the decoder is fed BOS +
    // prefix)
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
    let logits = (0..size)
        .flat_map(|b| {
            out.logits[(b * tgt_len + t) * vocab..][..vocab]
                .iter()
                .copied()
        })
        .collect();
    Ok((logits, vocab))
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
