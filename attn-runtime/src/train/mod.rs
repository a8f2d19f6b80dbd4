//! Training: settings, the loop with validation, early stopping and checkpoints, run
//! directories written atomically, and scores.

mod config;
mod evaluate_run;
mod recommended;
mod run_dir;
mod scores;
mod trainer;

pub use config::TrainConfig;
pub use evaluate_run::{
    evaluate_run, load_run, run_model_name, EvalReport, LoadedRun, Seq2SeqReport,
};
pub use recommended::recommended;
pub use run_dir::{
    write_atomic, EpochReport, RunConfig, RunDir, RunState, RunSummary, BEST, INTERRUPTED, LAST,
    OPTIMIZER,
};
pub use scores::Scores;
pub use trainer::{
    evaluate, rows_per_example, train, Quiet, RunInfo, Stop, TrainObserver, TrainOutcome,
    TrainRequest,
};
