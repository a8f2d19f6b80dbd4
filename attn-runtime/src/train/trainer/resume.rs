//! Continuing a run: its settings, vocabularies, state and history, read and checked before
//! anything is written.

use std::path::Path;

use crate::data::{Dataset, Vocabs};
use crate::error::AttnError;
use crate::model::ModelMeta;
use crate::run::{Checkpoint, EpochReport, RunConfig, RunDir, RunState, TrainConfig};

/// A run directory to continue, read back.
pub(super) struct Resumed {
    /// The directory.
    pub run: RunDir,
    /// The run's own settings, `epochs` raised to what was asked for.
    pub cfg: TrainConfig,
    /// Its vocabularies (the data is encoded with them again).
    pub vocabs: Vocabs,
    /// Its newest committed checkpoint (`None`: stopped before the first epoch was committed;
    /// it starts again from the beginning).
    pub checkpoint: Option<Checkpoint>,
    /// Where it was.
    pub state: RunState,
    /// The run's `config.json` with the larger epoch budget asked for, to be written once the
    /// data is known to fit (`None`: the budget is the run's own).
    pub extended: Option<RunConfig>,
    /// Its completed epochs' reports.
    pub history: Vec<EpochReport>,
}

/// Reads `dir` for a model of `meta` that will train on `dataset` to `epochs` (at least the
/// run's own number: a larger one extends it).
///
/// # Errors
/// [`AttnError::Data`] when `dir` is not a run directory, trained another model or on other
/// data (or its data file changed), asks for fewer epochs than the run's, or has a malformed
/// file; invalid settings.
pub(super) fn resume_setup(
    dir: &Path,
    meta: &ModelMeta,
    dataset: &Dataset,
    epochs: usize,
) -> Result<Resumed, AttnError> {
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
    config.check_data(dataset)?;
    if epochs < config.train.epochs {
        return Err(AttnError::data(
            dir.display().to_string(),
            format!(
                "the run trains {} epochs; {epochs} would end it before its own budget",
                config.train.epochs
            ),
            "resume without --epochs to finish it, or with more epochs to extend it",
        ));
    }
    let vocabs: Vocabs = run.read_json::<Vocabs>("vocab.json")?.reindexed();
    run.clean_leftovers();
    let checkpoint = run.latest_checkpoint()?;
    let (state, history) = match &checkpoint {
        Some(c) => (c.state()?, c.history()?),
        None => (RunState::default(), Vec::new()),
    };
    let mut cfg = config.train.clone();
    cfg.epochs = epochs;
    cfg.validate()?;
    let extended = (epochs > config.train.epochs).then(|| RunConfig {
        train: cfg.clone(),
        ..config
    });
    Ok(Resumed {
        run,
        cfg,
        vocabs,
        checkpoint,
        state,
        extended,
        history,
    })
}
