//! A training run as it lives on disk, `runs/<model>/<timestamp>/`: its settings
//! (`config.json`), vocabularies, state, metrics and checkpoints, every file written
//! atomically, and the run loaded back for evaluation and prediction.
//!
//! This is the layer under both [`train`](crate::train), which writes runs, and
//! [`infer`](crate::infer), which reads them: the types they share live here, so neither
//! imports the other's (`train` re-exports them under their old paths).

mod beam_settings;
mod checkpoints;
mod config;
mod data_file;
mod dir;
mod export;
pub mod fault;
mod loaded;
mod scores;
mod selection;
mod split_files;

pub use beam_settings::{BeamSearch, MAX_BEAM, MAX_LENGTH_PENALTY};
pub use checkpoints::{Checkpoint, EpochFiles, CHECKPOINTS, HISTORY, STATE};
pub use config::TrainConfig;
pub use data_file::{record_data, DataFile};
pub use dir::{
    write_atomic, EpochReport, RunConfig, RunDir, RunState, RunSummary, BEST, INTERRUPTED, LAST,
    OPTIMIZER,
};
pub use export::{export_pytorch, MODEL_KEY, VOCAB_KEY};
pub use loaded::{load_run, run_model_name, LoadedRun};
pub(crate) use scores::argmax;
pub use scores::{output_bleu, Scores};
pub use selection::{Selection, SelectionKey};
pub use split_files::write_split_files;
