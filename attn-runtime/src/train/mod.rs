//! Training: settings, the loop with validation, early stopping and checkpoints, run
//! directories written atomically, and scores.

mod evaluate;
mod evaluate_run;
mod recommended;
mod trainer;

pub use crate::run::{
    load_run, run_model_name, write_atomic, EpochReport, LoadedRun, RunConfig, RunDir, RunState,
    RunSummary, Scores, TrainConfig, BEST, INTERRUPTED, LAST, OPTIMIZER,
};
pub use evaluate::{evaluate, evaluate_teacher_forced, rows_per_example};
pub use evaluate_run::{evaluate_run, EvalReport, Seq2SeqReport};
pub use recommended::recommended;
pub use trainer::{train, Quiet, RunInfo, Stop, TrainObserver, TrainOutcome, TrainRequest};
