//! The epoch loop: each epoch, a shuffled pass over the training split, validation, the
//! checkpoint policy's verdict, checkpoints and metrics, then early stopping; a requested stop
//! between two steps saves the model as it is.
//!
//! **PyTorch equivalent**: the `for epoch in range(epochs): train(); validate(); save()` loop
//! that Lightning's `fit_loop` and burn-train's learner run.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use super::{Checkpointer, Reporter, Stop};
use crate::data::{bucketed_batches, Encoded, Prepared};
use crate::distributed::Collective;
use crate::error::AttnError;
use crate::loss::IGNORE;
use crate::model::{ModelMeta, TaskSpec};
use crate::optim::LrSchedule;
use crate::run::{EpochReport, RunState, Scores, Selection, TrainConfig, INTERRUPTED};
use crate::train::{evaluate_against, evaluate_teacher_forced, References};
use crate::zoo::ZooModel;

/// What the epochs of a run work with.
pub(super) struct Epochs<'r, 'a> {
    /// The model, with its optimizer.
    pub model: &'r mut dyn ZooModel,
    /// Its declaration.
    pub meta: &'static ModelMeta,
    /// The encoded splits.
    pub data: &'r Prepared,
    /// The run's settings.
    pub cfg: &'r TrainConfig,
    /// The learning rate by step.
    pub schedule: LrSchedule,
    /// Where checkpoints go.
    pub checkpoints: &'r Checkpointer<'a>,
    /// Where metrics and events go.
    pub reporter: &'r mut Reporter<'a>,
    /// Set to stop between two steps.
    pub stop: &'r AtomicBool,
    /// The data-parallel ranks (one for a run in one process).
    pub ranks: &'r dyn Collective,
}

/// Apart from rank 0, each data-parallel rank's step seeds are the step's plus its rank times
/// this (an odd constant: distinct ranks, distinct seeds).
const RANK_SEED: u64 = 0xA24B_AED4_963E_E407;

/// The seed of an epoch's shuffle and dropout, so that a resumed run repeats the epochs an
/// uninterrupted one would have run.
pub(crate) fn epoch_seed(seed: u64, epoch: usize) -> u64 {
    seed.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(epoch as u64 + 1)
}

/// The seed of step `step`'s image augmentation in the epoch seeded `seed` (apart from its
/// dropout seed, `seed ^ step`).
fn augment_seed(seed: u64, step: usize) -> u64 {
    (seed ^ step as u64).wrapping_mul(0xD1B5_4A32_D192_ED03) ^ 0xA076_1D64_78BD_642F
}

impl Epochs<'_, '_> {
    /// Runs the epochs after `state.epochs_done` up to `cfg.epochs`, keeping `state` and
    /// `history` (every epoch's report) up to date, and says why it stopped.
    ///
    /// # Errors
    /// A failing step or evaluation, an unwritable file, or [`AttnError::Diverged`].
    pub(super) fn run(
        &mut self,
        state: &mut RunState,
        history: &mut Vec<EpochReport>,
    ) -> Result<Stop, AttnError> {
        for epoch in state.epochs_done + 1..=self.cfg.epochs {
            let started = Instant::now();
            let Some(train_scores) = self.train_epoch(epoch, state)? else {
                if !self.ranks.is_writer() {
                    return Ok(Stop::Interrupted);
                }
                self.checkpoints.save_interrupted(self.model)?;
                let from = match state.epochs_done {
                    0 => "starts it again from the beginning (no epoch was completed)".into(),
                    n => format!("continues from the last completed epoch ({n})"),
                };
                self.reporter.note(&format!(
                    "stopped: the model as it was is saved in {INTERRUPTED}; --resume {from}"
                ));
                return Ok(Stop::Interrupted);
            };
            if !self.ranks.is_writer() {
                // rank 0 validates and checkpoints, then says whether to go on
                state.seconds += started.elapsed().as_secs_f64();
                state.epochs_done = epoch;
                if self.ranks.root_says(false)? {
                    return Ok(Stop::EarlyStopped);
                }
                continue;
            }
            // training accuracy: 256 training examples in evaluation mode, teacher-forced
            let sample: Vec<Encoded> = self.data.train.iter().take(256).cloned().collect();
            let sample_scores = evaluate_teacher_forced(self.model, &sample, self.cfg.batch_size)?;
            let references = References::of(&self.data.valid_raw, &self.data.vocabs);
            let language_model = matches!(self.model.meta().task, TaskSpec::LanguageModel { .. });
            let valid = evaluate_against(
                self.model,
                &self.data.valid,
                references.as_ref(),
                self.cfg.batch_size,
            )?;
            let seconds = started.elapsed().as_secs_f64();
            state.seconds += seconds;
            state.epochs_done = epoch;
            history.push(EpochReport {
                epoch,
                train_loss: train_scores.loss(),
                train_acc: sample_scores.accuracy(),
                valid_loss: valid.loss(),
                valid_acc: valid.accuracy(),
                valid_exact: valid.exact_match(),
                valid_bleu: valid.bleu(),
                valid_macro_f1: valid.macro_f1(),
                valid_perplexity: language_model.then(|| valid.perplexity()),
                lr: self.schedule.at(state.steps),
                seconds,
                examples_per_second: self.data.train.len() as f64 / seconds.max(1e-9),
            });
            let key = self.cfg.selection.key(&valid);
            let best = Selection::improves(key, state.best_score);
            if best {
                state.best_score = Some(key);
                state.best_epoch = epoch;
                state.epochs_without_improvement = 0;
            } else {
                state.epochs_without_improvement += 1;
            }
            self.checkpoints
                .save_epoch(self.model, state, history, best)?;
            self.reporter.epoch(history)?;
            self.checkpoints.prune(state)?;
            let early = self
                .cfg
                .patience
                .is_some_and(|p| state.epochs_without_improvement >= p);
            if self.ranks.root_says(early)? {
                self.reporter.note(&format!(
                    "early stopping: no better validation score for {} epochs",
                    state.epochs_without_improvement
                ));
                return Ok(Stop::EarlyStopped);
            }
        }
        Ok(Stop::Completed)
    }

    /// One shuffled pass over the training split: the loss summed over its target rows, or
    /// `None` when a stop was requested before a step.
    fn train_epoch(
        &mut self,
        epoch: usize,
        state: &mut RunState,
    ) -> Result<Option<Scores>, AttnError> {
        let cfg = self.cfg;
        let seed = epoch_seed(cfg.seed, epoch);
        self.model.reseed(seed)?;
        let mut scores = Scores::default();
        let batches = bucketed_batches(
            &self.data.train,
            self.meta,
            cfg.batch_size,
            Some(seed),
            cfg.bucket,
        );
        let image = match self.meta.task {
            TaskSpec::ImageClassify {
                channels,
                height,
                width,
                ..
            } if !cfg.augment.is_none() => Some([channels, height, width]),
            _ => None,
        };
        let (rank, ranks) = (self.ranks.rank(), self.ranks.size());
        for (i, batch) in batches.iter().enumerate() {
            // a stop asked of one rank stops every rank before the same step
            if self.ranks.any(self.stop.load(Ordering::SeqCst))? {
                return Ok(None);
            }
            let varied;
            let batch = match image {
                Some([c, h, w]) => {
                    let mut b = batch.clone();
                    cfg.augment.apply(&mut b, c, h, w, augment_seed(seed, i));
                    varied = b;
                    &varied
                }
                None => batch,
            };
            // each rank its own dropout and teacher-forcing draws (rank 0's are one process's)
            let step_seed = (seed ^ i as u64).wrapping_add((rank as u64).wrapping_mul(RANK_SEED));
            let settings = cfg.step_settings(self.schedule.at(state.steps + 1), step_seed);
            let share;
            let own = if ranks == 1 {
                batch
            } else {
                share = batch.share(rank, ranks);
                &share
            };
            let report = self
                .model
                .train_step_shared(own, &settings, self.ranks)
                .map_err(|e| match e {
                    AttnError::NonFinite { what, value } => AttnError::Diverged {
                        epoch,
                        step: state.steps + 1,
                        reason: format!("the {what} is {value}"),
                        checkpoint: self.checkpoints.last_good(state.epochs_done),
                    },
                    e => e,
                })?;
            state.steps += 1;
            let rows = batch.targets.iter().filter(|&&t| t != IGNORE).count();
            scores.loss_sum += report.loss as f64 * rows as f64;
            scores.rows += rows;
            self.reporter.step(epoch, i + 1, batches.len(), &report);
        }
        Ok(Some(scores))
    }
}
