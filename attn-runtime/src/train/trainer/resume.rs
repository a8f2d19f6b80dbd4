//! Continuing a run: its settings, vocabularies, state and history, read and checked before
//! anything is written.

use std::path::Path;

use crate::data::Vocabs;
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
    /// Its completed epochs' reports.
    pub history: Vec<EpochReport>,
}

/// Reads `dir` for a model of `meta` that will train to `epochs` (or the run's own number of
/// epochs, when larger).
///
/// # Errors
/// [`AttnError::Data`] when `dir` is not a run directory, trained another model, or has a
/// malformed file; invalid settings.
pub(super) fn resume_setup(
    dir: &Path,
    meta: &ModelMeta,
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
    let vocabs: Vocabs = run.read_json::<Vocabs>("vocab.json")?.reindexed();
    run.clean_leftovers();
    let checkpoint = run.latest_checkpoint()?;
    let (state, history) = match &checkpoint {
        Some(c) => (c.state()?, c.history()?),
        None => (RunState::default(), Vec::new()),
    };
    let mut cfg = config.train;
    cfg.epochs = epochs.max(cfg.epochs);
    cfg.validate()?;
    Ok(Resumed {
        run,
        cfg,
        vocabs,
        checkpoint,
        state,
        history,
    })
}
