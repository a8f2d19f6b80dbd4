//! The checkpointer: each epoch's parameters, optimizer state, `state.json` and epoch reports
//! committed as one checkpoint ([`RunDir::commit_checkpoint`]), `model.safetensors` pointed at
//! the best, and older checkpoints removed; read back to resume and for the final test.
//!
//! **PyTorch equivalent**: `torch.save({"model": model.state_dict(), "optimizer":
//! opt.state_dict(), ...})` at each epoch, plus Lightning's `ModelCheckpoint(save_last=True)`.

use crate::error::AttnError;
use crate::run::fault::{self, FaultPoint};
use crate::run::{Checkpoint, EpochFiles, EpochReport, RunDir, RunState, INTERRUPTED};
use crate::state_dict::StateDict;
use crate::zoo::{adam_state_from_state_dict, adam_state_to_state_dict, ZooModel};

/// Saves and restores a run's checkpoints.
pub(super) struct Checkpointer<'a> {
    run: &'a RunDir,
}

impl<'a> Checkpointer<'a> {
    pub(super) fn new(run: &'a RunDir) -> Self {
        Checkpointer { run }
    }

    /// Continues a run from its newest committed checkpoint: its parameters and optimizer
    /// state. With none (no epoch was committed) the model keeps its seeded initial parameters,
    /// the ones the run started from. Every file the run goes on from is read and checked
    /// here, before any training.
    pub(super) fn restore(
        &self,
        model: &mut dyn ZooModel,
        checkpoint: Option<&Checkpoint>,
    ) -> Result<(), AttnError> {
        let Some(checkpoint) = checkpoint else {
            return Ok(());
        };
        let params = checkpoint.params()?;
        model.load(&params)?;
        model.optimizer().state = adam_state_from_state_dict(&checkpoint.optimizer()?, &params)?;
        Ok(())
    }

    /// After [`restore`](Self::restore), by the run's writer: the views a crash may have left
    /// behind (`model.safetensors`, `metrics.*`) brought up to the checkpoint.
    pub(super) fn repair_views(
        &self,
        checkpoint: Option<&Checkpoint>,
        history: &[EpochReport],
    ) -> Result<(), AttnError> {
        let Some(checkpoint) = checkpoint else {
            return Ok(());
        };
        if checkpoint.path != self.run.path {
            let best = self.run.checkpoint(checkpoint.state()?.best_epoch)?;
            best.params()?;
            self.run.link_best(&best)?;
        }
        self.run.write_metrics(history)
    }

    /// Commits a validated epoch: the checkpoint, then `model.safetensors` when `best`.
    pub(super) fn save_epoch(
        &self,
        model: &mut dyn ZooModel,
        state: &RunState,
        history: &[EpochReport],
        best: bool,
    ) -> Result<(), AttnError> {
        let params = model.params()?;
        let optimizer = adam_state_to_state_dict(model.optimizer());
        let checkpoint = self.run.commit_checkpoint(&EpochFiles {
            params: &params,
            optimizer: &optimizer,
            state,
            history,
        })?;
        if best {
            self.run.link_best(&checkpoint)?;
        }
        Ok(())
    }

    /// After an epoch's metrics are written: removes the checkpoints that are neither the
    /// newest nor the best, and a model saved by an earlier stop.
    pub(super) fn prune(&self, state: &RunState) -> Result<(), AttnError> {
        fault::at(FaultPoint::Metrics, state.epochs_done, &self.run.path)?;
        self.run
            .prune_checkpoints(&[state.epochs_done, state.best_epoch])?;
        fault::at(FaultPoint::Prune, state.epochs_done, &self.run.path)
    }

    /// A stop mid-epoch: the model as it is, apart from the checkpoints.
    pub(super) fn save_interrupted(&self, model: &dyn ZooModel) -> Result<(), AttnError> {
        self.run.write_state_dict(INTERRUPTED, &model.params()?)
    }

    /// Loads the best checkpoint into `model`.
    pub(super) fn load_best(&self, model: &mut dyn ZooModel) -> Result<(), AttnError> {
        model.load(&StateDict::read(self.run.best_params_path()?)?)
    }

    /// Where the last good checkpoint is after `epochs_done` epochs (said when a run diverges).
    pub(super) fn last_good(&self, epochs_done: usize) -> String {
        match self.run.checkpoint(epochs_done) {
            Ok(c) if epochs_done > 0 => format!("{} (epoch {epochs_done})", c.path.display()),
            _ => "not written yet (no epoch completed)".into(),
        }
    }
}
