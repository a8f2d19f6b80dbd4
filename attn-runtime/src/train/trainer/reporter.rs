//! The reporter: what a run says while it goes and leaves behind besides checkpoints — the
//! observer's calls, `metrics.csv`/`metrics.jsonl` after every epoch and `summary.json` at the
//! end.
//!
//! **PyTorch equivalent**: a Lightning logger (`CSVLogger`) with the progress-bar callback.

use super::{RunInfo, TrainObserver};
use crate::error::AttnError;
use crate::run::{EpochReport, RunDir, RunSummary};
use crate::zoo::StepReport;

/// Writes a run's metrics files and forwards its events to the caller's observer.
pub(super) struct Reporter<'a> {
    run: &'a RunDir,
    observer: &'a mut dyn TrainObserver,
}

impl<'a> Reporter<'a> {
    pub(super) fn new(run: &'a RunDir, observer: &'a mut dyn TrainObserver) -> Self {
        Reporter { run, observer }
    }

    /// The run starts.
    pub(super) fn start(&mut self, info: &RunInfo) {
        self.observer.on_start(info);
    }

    /// Training batch `done` of `total` of `epoch` took a step.
    pub(super) fn step(&mut self, epoch: usize, done: usize, total: usize, report: &StepReport) {
        self.observer.on_batch(epoch, done, total, report.loss);
        self.observer.on_step(report);
    }

    /// An epoch was validated (and checkpointed): rewrites the metrics files with every epoch
    /// of `history`, then shows the observer the last one.
    pub(super) fn epoch(&mut self, history: &[EpochReport]) -> Result<(), AttnError> {
        self.run.write_metrics(history)?;
        if let Some(report) = history.last() {
            self.observer.on_epoch(report);
        }
        Ok(())
    }

    /// Something worth saying.
    pub(super) fn note(&mut self, note: &str) {
        self.observer.on_note(note);
    }

    /// Writes `summary.json`.
    pub(super) fn summary(&self, summary: &RunSummary) -> Result<(), AttnError> {
        self.run.write_json("summary.json", summary)
    }
}
