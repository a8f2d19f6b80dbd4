//! What a run tells its caller while it goes: the observer trait and what it is shown.

use std::path::PathBuf;

use crate::run::EpochReport;
use crate::zoo::StepReport;

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
