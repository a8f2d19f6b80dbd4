//! The training loop: epochs of shuffled batches, validation, metrics files, best and last
//! checkpoints, early stopping, resuming, and a clean stop on request (Ctrl-C).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use crate::data::{batches, bucketed_batches, prepare, Dataset, Encoded, Vocabs};
use crate::error::AttnError;
use crate::model::{ModelMeta, TaskSpec};
use crate::optim::LrSchedule;
use crate::run::{
    EpochReport, LoadedRun, RunConfig, RunDir, RunState, RunSummary, Scores, TrainConfig, BEST,
    INTERRUPTED, LAST, OPTIMIZER,
};
use crate::zoo::{
    adam_state_from_state_dict, adam_state_to_state_dict, StepReport, StepSettings, ZooEntry,
    ZooModel,
};

/// What a run reports while it goes; every method has a do-nothing default.
pub trait TrainObserver {
    /// The run starts (after data preparation and any resume).
    fn on_start(&mut self, _info: &RunInfo) {}
    /// A training batch finished.
    fn on_batch(&mut self, _epoch: usize, _done: usize, _total: usize, _loss: f32) {}
    /// A training step finished, with its loss and gradient norm (called after `on_batch`).
    fn on_step(&mut self, _report: &StepReport) {}
    /// An epoch finished and was validated.
    fn on_epoch(&mut self, _report: &EpochReport) {}
    /// Something worth saying (a checkpoint saved, early stopping).
    fn on_note(&mut self, _note: &str) {}
}

/// An observer that says nothing.
pub struct Quiet;

impl TrainObserver for Quiet {}

/// What a starting run is made of.
#[derive(Clone, Debug)]
pub struct RunInfo {
    /// The run directory.
    pub run_dir: PathBuf,
    /// Trainable parameters.
    pub params: usize,
    /// Training, validation and test examples.
    pub examples: [usize; 3],
    /// Batches per epoch.
    pub batches_per_epoch: usize,
    /// First epoch to run (1-based; more than 1 when resuming).
    pub first_epoch: usize,
    /// Last epoch.
    pub epochs: usize,
}

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

/// Rows of logits per example.
pub fn rows_per_example(meta: &ModelMeta) -> usize {
    rows_per_example_of(&meta.task)
}

/// Rows of logits per example of a task.
pub(crate) fn rows_per_example_of(task: &TaskSpec) -> usize {
    match *task {
        TaskSpec::Classify { .. } | TaskSpec::ImageClassify { .. } => 1,
        TaskSpec::Tag { max_len, .. } => max_len,
        TaskSpec::Seq2Seq { tgt_len, .. } => tgt_len,
    }
}

/// Scores `model` on `examples`: accuracy and exact match of its evaluation output (greedy
/// decoding for sequence-to-sequence), and the loss (teacher-forced for sequence-to-sequence).
pub fn evaluate(
    model: &dyn ZooModel,
    examples: &[Encoded],
    batch_size: usize,
) -> Result<Scores, AttnError> {
    let meta = model.meta();
    let per = rows_per_example(meta);
    let seq2seq = matches!(meta.task, TaskSpec::Seq2Seq { .. });
    let mut total = Scores::default();
    for batch in batches(examples, meta, batch_size, None) {
        let out = model.forward(&batch, false)?;
        let mut s = Scores::of(
            &out.logits,
            out.logits_shape[1],
            &batch.targets,
            per,
            !seq2seq,
        );
        if seq2seq {
            let forced = model.forward_teacher_forced(&batch, false)?;
            s.loss_sum = Scores::of(
                &forced.logits,
                forced.logits_shape[1],
                &batch.targets,
                per,
                true,
            )
            .loss_sum;
        }
        total.add(&s);
    }
    Ok(total)
}

/// Scores with teacher forcing (for sequence-to-sequence models the accuracy of the next token
/// given the true prefix: the training accuracy).
pub fn evaluate_teacher_forced(
    model: &dyn ZooModel,
    examples: &[Encoded],
    batch_size: usize,
) -> Result<Scores, AttnError> {
    let per = rows_per_example(model.meta());
    let mut total = Scores::default();
    for batch in batches(examples, model.meta(), batch_size, None) {
        let out = model.forward_teacher_forced(&batch, false)?;
        total.add(&Scores::of(
            &out.logits,
            out.logits_shape[1],
            &batch.targets,
            per,
            true,
        ));
    }
    Ok(total)
}

fn epoch_seed(seed: u64, epoch: usize) -> u64 {
    seed.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(epoch as u64 + 1)
}

/// Validation scores compared: exact match, then accuracy, then lower loss.
fn score_key(s: &Scores) -> (f64, f64, f64) {
    (s.exact_match(), s.accuracy(), -s.loss())
}

/// Trains a model on a data set.
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
    let meta = req.entry.meta();
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
            let (run, cfg, vocabs, state, history) = resume_setup(dir, meta, req.config.epochs)?;
            (Some(run), cfg, vocabs, state, history)
        }
    };
    let data = prepare(req.dataset, meta, &cfg.data, vocabs)?;
    if data.train.is_empty() {
        return Err(AttnError::data(
            &req.dataset.name,
            "no training example",
            "give the data set more examples",
        ));
    }
    let run = match existing {
        Some(run) => run,
        None => {
            let run = RunDir::create(&req.out, meta.name)?;
            run.write_setup(meta, &req.dataset.name, &cfg, &data.vocabs)?;
            run
        }
    };
    let mut model = req.entry.instantiate(cfg.seed)?;
    model.optimizer().cfg = cfg.adam;
    if req.resume.is_some() {
        model.load(&run.read_state_dict(LAST)?)?;
        model.optimizer().state = adam_state_from_state_dict(&run.read_state_dict(OPTIMIZER)?)?;
    }
    let per_epoch = data.train.len().div_ceil(cfg.batch_size);
    let schedule = LrSchedule {
        peak: cfg.lr,
        warmup: cfg.warmup,
        total: (per_epoch * cfg.epochs) as u64,
        decay: cfg.decay,
    };
    observer.on_start(&RunInfo {
        run_dir: run.path.clone(),
        params: model.num_params(),
        examples: [data.train.len(), data.valid.len(), data.test.len()],
        batches_per_epoch: per_epoch,
        first_epoch: state.epochs_done + 1,
        epochs: cfg.epochs,
    });

    let mut stopped = Stop::Completed;
    for epoch in state.epochs_done + 1..=cfg.epochs {
        let started = Instant::now();
        let seed = epoch_seed(cfg.seed, epoch);
        model.reseed(seed)?;
        let mut train_scores = Scores::default();
        let epoch_batches =
            bucketed_batches(&data.train, meta, cfg.batch_size, Some(seed), cfg.bucket);
        for (i, batch) in epoch_batches.iter().enumerate() {
            if stop.load(Ordering::SeqCst) {
                stopped = Stop::Interrupted;
                break;
            }
            let settings = StepSettings {
                lr: schedule.at(state.steps + 1),
                clip_norm: cfg.clip_norm,
                label_smoothing: cfg.label_smoothing,
                dropout: cfg.dropout,
                teacher_forcing: cfg.teacher_forcing,
                seed: seed ^ i as u64,
            };
            let report = match model.train_step_with(batch, &settings) {
                Ok(r) => r,
                Err(AttnError::NonFinite { what, value }) => {
                    let checkpoint = if state.epochs_done > 0 {
                        format!(
                            "{} (epoch {})",
                            run.path.join(LAST).display(),
                            state.epochs_done
                        )
                    } else {
                        "not written yet (no epoch completed)".into()
                    };
                    return Err(AttnError::Diverged {
                        epoch,
                        step: state.steps + 1,
                        reason: format!("the {what} is {value}"),
                        checkpoint,
                    });
                }
                Err(e) => return Err(e),
            };
            state.steps += 1;
            let rows = batch
                .targets
                .iter()
                .filter(|&&t| t != crate::loss::IGNORE)
                .count();
            train_scores.loss_sum += report.loss as f64 * rows as f64;
            train_scores.rows += rows;
            observer.on_batch(epoch, i + 1, epoch_batches.len(), report.loss);
            observer.on_step(&report);
        }
        if stopped == Stop::Interrupted {
            run.write_state_dict(INTERRUPTED, &model.params()?)?;
            observer.on_note(&format!(
                "stopped: the model as it was is saved in {INTERRUPTED}; --resume continues from the last completed epoch ({})",
                state.epochs_done
            ));
            break;
        }
        // training accuracy: 256 training examples in evaluation mode, teacher-forced
        let sample: Vec<Encoded> = data.train.iter().take(256).cloned().collect();
        let sample_scores = evaluate_teacher_forced(model.as_ref(), &sample, cfg.batch_size)?;
        train_scores.correct =
            (sample_scores.accuracy() * train_scores.rows as f64).round() as usize;
        let valid = evaluate(model.as_ref(), &data.valid, cfg.batch_size)?;
        let seconds = started.elapsed().as_secs_f64();
        state.seconds += seconds;
        state.epochs_done = epoch;
        let report = EpochReport {
            epoch,
            train_loss: train_scores.loss(),
            train_acc: sample_scores.accuracy(),
            valid_loss: valid.loss(),
            valid_acc: valid.accuracy(),
            valid_exact: valid.exact_match(),
            lr: schedule.at(state.steps),
            seconds,
            examples_per_second: data.train.len() as f64 / seconds.max(1e-9),
        };
        history.push(report.clone());
        let key = score_key(&valid);
        let improved = state.best_score.map_or(true, |best| key > best);
        let params = model.params()?;
        if improved {
            state.best_score = Some(key);
            state.best_epoch = epoch;
            state.epochs_without_improvement = 0;
            run.write_state_dict(BEST, &params)?;
        } else {
            state.epochs_without_improvement += 1;
        }
        run.write_state_dict(LAST, &params)?;
        run.write_state_dict(OPTIMIZER, &adam_state_to_state_dict(model.optimizer()))?;
        run.write_json("state.json", &state)?;
        run.write_metrics(&history)?;
        observer.on_epoch(&report);
        if cfg
            .patience
            .is_some_and(|p| state.epochs_without_improvement >= p)
        {
            observer.on_note(&format!(
                "early stopping: no better validation score for {} epochs",
                state.epochs_without_improvement
            ));
            stopped = Stop::EarlyStopped;
            break;
        }
    }

    let mut test = Scores::default();
    if stopped != Stop::Interrupted && state.best_epoch > 0 {
        model.load(&run.read_state_dict(BEST)?)?;
        test = evaluate(model.as_ref(), &data.test, cfg.batch_size)?;
        let summary = RunSummary {
            stopped: format!("{stopped:?}"),
            epochs: state.epochs_done,
            best_epoch: state.best_epoch,
            test,
            test_accuracy: test.accuracy(),
            test_exact_match: test.exact_match(),
            seconds: state.seconds,
        };
        run.write_json("summary.json", &summary)?;
        if cfg.attention_reports {
            write_example_reports(model, &run, &data, observer);
        }
    }
    Ok(TrainOutcome {
        run_dir: run.path,
        stopped,
        history,
        best_epoch: state.best_epoch,
        test,
        seconds: state.seconds,
    })
}

#[allow(clippy::type_complexity)]
fn resume_setup(
    dir: &Path,
    meta: &ModelMeta,
    epochs: usize,
) -> Result<
    (
        RunDir,
        TrainConfig,
        Option<Vocabs>,
        RunState,
        Vec<EpochReport>,
    ),
    AttnError,
> {
    let run = RunDir::open(dir)?;
    let config: RunConfig = run.read_json("config.json")?;
    if config.model != meta.name {
        return Err(AttnError::data(
            dir.display().to_string(),
            format!("this run trained `{}`, not `{}`", config.model, meta.name),
            format!(
                "resume it with `train {} --resume {}`, or start a new run without --resume",
                config.model,
                dir.display()
            ),
        ));
    }
    let vocabs: Vocabs = run.read_json::<Vocabs>("vocab.json")?.reindexed();
    let state: RunState = run.read_json("state.json")?;
    let history = read_history(&run)?;
    let mut cfg = config.train;
    cfg.epochs = epochs.max(cfg.epochs);
    cfg.validate()?;
    Ok((run, cfg, Some(vocabs), state, history))
}

fn read_history(run: &RunDir) -> Result<Vec<EpochReport>, AttnError> {
    let text = String::from_utf8_lossy(&run.read("metrics.jsonl")?).into_owned();
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str(l).map_err(|e| {
                AttnError::data(
                    run.path.join("metrics.jsonl").display().to_string(),
                    e.to_string(),
                    "restore the file",
                )
            })
        })
        .collect()
}

/// Heatmaps of the first three validation examples, under `attention/example-<k>/`; a failure is
/// reported as a note, never fails the run.
fn write_example_reports(
    model: Box<dyn ZooModel>,
    run: &RunDir,
    data: &crate::data::Prepared,
    observer: &mut dyn TrainObserver,
) {
    use crate::data::Examples;
    use crate::infer::Predictor;
    let Ok(config) = run.read_json::<RunConfig>("config.json") else {
        return;
    };
    let predictor = Predictor::new(LoadedRun {
        dir: run.clone(),
        config,
        vocabs: data.vocabs.clone(),
        model,
    });
    let inputs: Vec<Result<(String, crate::infer::Prediction), AttnError>> = match &data.valid_raw {
        Examples::Labelled(v) => v
            .iter()
            .take(3)
            .map(|(t, _)| Ok((t.clone(), predictor.predict_text(t, None)?)))
            .collect(),
        Examples::Pairs(v) => v
            .iter()
            .take(3)
            .map(|(s, _)| Ok((s.clone(), predictor.predict_text(s, None)?)))
            .collect(),
        Examples::Tagged(v) => v
            .iter()
            .take(3)
            .map(|(tokens, _)| {
                let text = tokens.join(" ");
                Ok((text.clone(), predictor.predict_text(&text, None)?))
            })
            .collect(),
        Examples::Images { pixels, .. } => pixels
            .iter()
            .take(3)
            .map(|p| Ok(("image".to_string(), predictor.predict_image(p)?)))
            .collect(),
    };
    for (k, item) in inputs.into_iter().enumerate() {
        let written = item.and_then(|(input, p)| {
            crate::viz::write_report(
                &p,
                run_config_model(run).as_str(),
                &input,
                &run.path
                    .join("attention")
                    .join(format!("example-{}", k + 1)),
            )
        });
        if let Err(e) = written {
            observer.on_note(&format!(
                "could not draw the attention of validation example {}: {e}",
                k + 1
            ));
        }
    }
}

fn run_config_model(run: &RunDir) -> String {
    run.read_json::<RunConfig>("config.json")
        .map(|c| c.model)
        .unwrap_or_default()
}
