//! A trained run loaded back: its settings, vocabularies and best checkpoint, what evaluation
//! and prediction start from.

use std::path::Path;

use super::{RunConfig, RunDir};
use crate::data::Vocabs;
use crate::error::AttnError;
use crate::zoo::{ZooEntry, ZooModel};

/// A trained run, loaded: its settings, vocabularies and best checkpoint.
pub struct LoadedRun {
    /// The run directory.
    pub dir: RunDir,
    /// `config.json`.
    pub config: RunConfig,
    /// `vocab.json`.
    pub vocabs: Vocabs,
    /// The model with its best parameters.
    pub model: Box<dyn ZooModel>,
}

impl LoadedRun {
    /// The data the run was trained on (its recorded file, checked to be unchanged, or its
    /// built-in data set), as its model reads it.
    ///
    /// # Errors
    /// As [`RunConfig::load_data`].
    pub fn dataset(&self) -> Result<crate::data::Dataset, AttnError> {
        let mut data = self
            .config
            .load_data(&self.model.meta().task, self.vocabs.src_tokenizer)?;
        // the tokenisers the run's vocabularies were built with (a sequence-to-sequence run's
        // sources and targets may differ, and `train` may override a built-in set's)
        (data.src_tokenizer, data.tgt_tokenizer) =
            (self.vocabs.src_tokenizer, self.vocabs.tgt_tokenizer);
        Ok(data)
    }
}

/// The model name a run directory was trained with (to find its registry entry).
///
/// # Errors
/// [`AttnError::Data`] when `dir` is not a run directory.
pub fn run_model_name(dir: &Path) -> Result<String, AttnError> {
    Ok(RunDir::open(dir)?
        .read_json::<RunConfig>("config.json")?
        .model)
}

/// Loads a run's best checkpoint into `entry`'s model.
///
/// # Errors
/// [`AttnError::Data`] when `entry` is not the run's model or a file is missing;
/// [`AttnError::StateDict`] when the checkpoint does not fit.
pub fn load_run(dir: &Path, entry: &dyn ZooEntry) -> Result<LoadedRun, AttnError> {
    let run = RunDir::open(dir)?;
    let config: RunConfig = run.read_json("config.json")?;
    if config.model != entry.meta().name {
        return Err(AttnError::data(
            dir.display().to_string(),
            format!(
                "this run trained `{}`, not `{}`",
                config.model,
                entry.meta().name
            ),
            "load it with its own model",
        ));
    }
    let best = run.best_params_path()?;
    let vocabs = run.read_json::<Vocabs>("vocab.json")?.reindexed();
    let mut model = entry.instantiate(config.train.seed)?;
    model.load(&crate::state_dict::StateDict::read(best)?)?;
    Ok(LoadedRun {
        dir: run,
        config,
        vocabs,
        model,
    })
}
