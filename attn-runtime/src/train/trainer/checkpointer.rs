//! The checkpointer: the run's parameter and optimizer files and `state.json`, written
//! atomically at every epoch's end, read back to resume and for the final test.
//!
//! **PyTorch equivalent**: `torch.save({"model": model.state_dict(), "optimizer":
//! opt.state_dict(), ...})` at each epoch, plus Lightning's `ModelCheckpoint(save_last=True)`.

use crate::error::AttnError;
use crate::run::{RunDir, RunState, BEST, INTERRUPTED, LAST, OPTIMIZER};
use crate::zoo::{adam_state_from_state_dict, adam_state_to_state_dict, ZooModel};

/// Saves and restores a run's checkpoints.
pub(super) struct Checkpointer<'a> {
    run: &'a RunDir,
}

impl<'a> Checkpointer<'a> {
    pub(super) fn new(run: &'a RunDir) -> Self {
        Checkpointer { run }
    }

    /// Continues a run: the last checkpoint's parameters and the optimizer's state.
    pub(super) fn restore(&self, model: &mut dyn ZooModel) -> Result<(), AttnError> {
        model.load(&self.run.read_state_dict(LAST)?)?;
        model.optimizer().state =
            adam_state_from_state_dict(&self.run.read_state_dict(OPTIMIZER)?)?;
        Ok(())
    }

    /// After a validated epoch, in this order: the best checkpoint when `best`, the last
    /// checkpoint, the optimizer state, `state.json`. Each file is replaced atomically, so a
    /// stop between two leaves every file whole.
    pub(super) fn save_epoch(
        &self,
        model: &mut dyn ZooModel,
        state: &RunState,
        best: bool,
    ) -> Result<(), AttnError> {
        let params = model.params()?;
        if best {
            self.run.write_state_dict(BEST, &params)?;
        }
        self.run.write_state_dict(LAST, &params)?;
        self.run
            .write_state_dict(OPTIMIZER, &adam_state_to_state_dict(model.optimizer()))?;
        self.run.write_json("state.json", state)
    }

    /// A stop mid-epoch: the model as it is, apart from the last checkpoint.
    pub(super) fn save_interrupted(&self, model: &dyn ZooModel) -> Result<(), AttnError> {
        self.run.write_state_dict(INTERRUPTED, &model.params()?)
    }

    /// Loads the best checkpoint into `model`.
    pub(super) fn load_best(&self, model: &mut dyn ZooModel) -> Result<(), AttnError> {
        model.load(&self.run.read_state_dict(BEST)?)
    }

    /// Where the last good checkpoint is after `epochs_done` epochs (said when a run diverges).
    pub(super) fn last_good(&self, epochs_done: usize) -> String {
        if epochs_done > 0 {
            format!(
                "{} (epoch {epochs_done})",
                self.run.path.join(LAST).display()
            )
        } else {
            "not written yet (no epoch completed)".into()
        }
    }
}
