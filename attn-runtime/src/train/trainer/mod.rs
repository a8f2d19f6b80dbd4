//! The training loop: epochs of shuffled batches, validation, metrics files, best and last
//! checkpoints, early stopping, resuming, and a clean stop on request (Ctrl-C).
//!
//! In parts, as burn-train's learner is: [`train`] sets a run up (settings and data checked
//! first, the run directory, the model, a resumed run's state) and hands the epochs to
//! `epochs::Epochs`, which asks the run's [`Selection`](crate::run::Selection) whether an epoch
//! is the best so far, the `Checkpointer` to write the checkpoints and the `Reporter` to write
//! the metrics and tell the [`TrainObserver`]. The end-of-run test and heatmaps come last.

mod checkpointer;
mod epochs;
mod example_reports;
mod observer;
mod reporter;
mod resume;

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use checkpointer::Checkpointer;
pub(crate) use epochs::epoch_seed;
use epochs::Epochs;
use example_reports::write_example_reports;
pub use observer::{Quiet, RunInfo, TrainObserver};
use reporter::Reporter;
use resume::{resume_setup, Resumed};

use super::{evaluate_against, References};
use crate::data::{prepare, Dataset};
use crate::distributed::{Collective, SingleProcess};
use crate::error::AttnError;
use crate::model::TaskSpec;
use crate::optim::LrSchedule;
use crate::run::{EpochReport, RunDir, RunState, RunSummary, Scores, TrainConfig};
use crate::zoo::ZooEntry;

/// Why a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// Every epoch ran.
    Completed,
    /// Validation stopped improving.
    EarlyStopped,
    /// A stop was requested (Ctrl-C); a checkpoint was saved first.
    Interrupted,
}

/// The result of a run.
#[derive(Clone, Debug)]
pub struct TrainOutcome {
    /// The run directory.
    pub run_dir: PathBuf,
    /// Why it ended.
    pub stopped: Stop,
    /// Every epoch's report, resumed ones included.
    pub history: Vec<EpochReport>,
    /// The best epoch (1-based).
    pub best_epoch: usize,
    /// Test scores of the best checkpoint (zero when interrupted).
    pub test: Scores,
    /// Seconds of training.
    pub seconds: f64,
}

/// What to train.
pub struct TrainRequest<'a> {
    /// The model.
    pub entry: &'a dyn ZooEntry,
    /// The data.
    pub dataset: &'a Dataset,
    /// The settings (when resuming, only `epochs` is taken: the run's own settings continue).
    pub config: TrainConfig,
    /// Where new runs go (`runs/` by default).
    pub out: PathBuf,
    /// A run directory to continue.
    pub resume: Option<PathBuf>,
}

/// Trains a model on a data set, in this process alone.
///
/// # Errors
/// Invalid settings, data that does not fit the model, an unwritable output directory, a
/// `--resume` directory of another model ([`AttnError::Data`]), or a diverging run
/// ([`AttnError::Diverged`], after which the last good checkpoint is intact).
pub fn train(
    req: TrainRequest<'_>,
    observer: &mut dyn TrainObserver,
    stop: &AtomicBool,
) -> Result<TrainOutcome, AttnError> {
    train_data_parallel(req, &SingleProcess, observer, stop)
}

/// Trains a model on a data set as one rank of `ranks`: every rank calls this with the same
/// request (and its own observer), takes its share ([`Batch::share`](crate::zoo::Batch::share))
/// of every batch of `config.batch_size` examples (the batch of the whole run, whatever the
/// number of ranks), and the ranks sum their gradients before each step, so the run trains as
/// one process would with that batch. Rank 0 alone validates, writes the run directory,
/// checkpoints and reports, and tells the others when to stop early; a run resumes on any
/// number of ranks. Every rank reads the data set, and a resumed run's directory, itself.
///
/// On ranks other than 0 the outcome holds the run directory, why it stopped and the seconds;
/// its history, best epoch and test scores are rank 0's to report (empty there).
///
/// **PyTorch equivalent**: `DistributedDataParallel` with a `DistributedSampler` over the
/// global batch, rank 0 saving checkpoints.
///
/// # Errors
/// As [`train`]; [`AttnError::Distributed`] when the ranks cannot exchange what a step needs.
pub fn train_data_parallel(
    req: TrainRequest<'_>,
    ranks: &dyn Collective,
    observer: &mut dyn TrainObserver,
    stop: &AtomicBool,
) -> Result<TrainOutcome, AttnError> {
    let meta = req.entry.meta();
    let writer = ranks.is_writer();
    // settings and data are checked before a run directory is made: bad input writes nothing
    let (existing, cfg, vocabs, mut state, mut history) = match &req.resume {
        None => {
            req.config.validate()?;
            (
                None,
                req.config.clone(),
                None,
                RunState::default(),
                Vec::new(),
            )
        }
        Some(dir) => {
            let Resumed {
                run,
                cfg,
                vocabs,
                checkpoint,
                state,
                extended,
                history,
            } = resume_setup(dir, meta, req.dataset, req.config.epochs)?;
            (
                Some((run, checkpoint, extended)),
                cfg,
                Some(vocabs),
                state,
                history,
            )
        }
    };
    cfg.check_for(&meta.task)?;
    let data = prepare(req.dataset, meta, &cfg.data, vocabs)?;
    // `prepare` refuses an empty split, so every part has an example from here on
    debug_assert!(!data.train.is_empty() && !data.valid.is_empty() && !data.test.is_empty());
    let (run, checkpoint) = match existing {
        Some((run, checkpoint, extended)) => {
            // the longer budget becomes the run's own (a later resume keeps it)
            if let (Some(config), true) = (extended, writer) {
                run.write_json("config.json", &config)?;
            }
            (run, checkpoint)
        }
        None => {
            let created = writer.then(|| {
                let run = RunDir::create(&req.out, meta.name)?;
                run.write_setup(meta, &req.dataset.name, &cfg, &data.vocabs)?;
                Ok::<_, AttnError>(run)
            });
            // the others learn where rank 0 put the run (and write nothing there), or, from an
            // empty path, that it could not make one
            let mut path = match &created {
                Some(Ok(run)) => run.path.to_string_lossy().into_owned().into_bytes(),
                _ => Vec::new(),
            };
            ranks.broadcast_bytes(0, &mut path)?;
            match created {
                Some(run) => (run?, None),
                None if path.is_empty() => {
                    return Err(AttnError::InvalidInput {
                        reason: "rank 0 could not make the run directory".into(),
                        fix: "see rank 0's error".into(),
                    })
                }
                None => {
                    let path = PathBuf::from(String::from_utf8_lossy(&path).into_owned());
                    (RunDir { path }, None)
                }
            }
        }
    };
    let checkpoints = Checkpointer::new(&run);
    let mut reporter = Reporter::new(&run, observer);
    let mut model = req.entry.instantiate(cfg.seed)?;
    model.optimizer().cfg = cfg.adam;
    checkpoints.restore(model.as_mut(), checkpoint.as_ref())?;
    if writer {
        checkpoints.repair_views(checkpoint.as_ref(), &history)?;
    }
    let per_epoch = data.train.len().div_ceil(cfg.batch_size);
    let schedule = LrSchedule {
        peak: cfg.lr,
        warmup: cfg.warmup,
        total: (per_epoch * cfg.epochs) as u64,
        decay: cfg.decay,
    };
    reporter.start(&RunInfo {
        run_dir: run.path.clone(),
        params: model.num_params(),
        examples: [data.train.len(), data.valid.len(), data.test.len()],
        batches_per_epoch: per_epoch,
        first_epoch: state.epochs_done + 1,
        epochs: cfg.epochs,
    });

    let stopped = Epochs {
        model: model.as_mut(),
        meta,
        data: &data,
        cfg: &cfg,
        schedule,
        checkpoints: &checkpoints,
        reporter: &mut reporter,
        stop,
        ranks,
    }
    .run(&mut state, &mut history)?;

    let mut test = Scores::default();
    if writer && stopped != Stop::Interrupted && state.best_epoch > 0 {
        checkpoints.load_best(model.as_mut())?;
        let references = References::of(&data.test_raw, &data.vocabs);
        test = evaluate_against(
            model.as_ref(),
            &data.test,
            references.as_ref(),
            cfg.batch_size,
        )?;
        reporter.summary(&RunSummary {
            stopped: format!("{stopped:?}"),
            epochs: state.epochs_done,
            best_epoch: state.best_epoch,
            test_accuracy: test.accuracy(),
            test_exact_match: test.exact_match(),
            test_bleu: test.bleu(),
            test_macro_f1: test.macro_f1(),
            test_perplexity: matches!(model.meta().task, TaskSpec::LanguageModel { .. })
                .then(|| test.perplexity()),
            test: test.clone(),
            seconds: state.seconds,
        })?;
        if cfg.attention_reports {
            write_example_reports(model, &run, &data, &mut reporter);
        }
    }
    if !writer {
        // rank 0's to report
        history.clear();
        state.best_epoch = 0;
    }
    Ok(TrainOutcome {
        run_dir: run.path.clone(),
        stopped,
        history,
        best_epoch: state.best_epoch,
        test,
        seconds: state.seconds,
    })
}
