//! Type-erased handles on declared models, so a registry can list, build, run and train models
//! of different const shapes by name.

use std::marker::PhantomData;

use dfdx::prelude::*;

use super::{load_params, params_to_state_dict, Batch};
use crate::distributed::{flatten_gradients, share_gradients, Collective, SingleProcess};
use crate::error::AttnError;
use crate::loss::{try_cross_entropy_rows_smoothed, IGNORE};
use crate::model::{
    AttnModel, DeclaredModel, ForwardOptions, ModelMeta, SourceStepper, TokenStepper,
};
use crate::optim::{Adam, AdamConfig, AdamState};
use crate::param::{num_trainable_params, try_alloc_grads, try_build, try_move_to};
use crate::state_dict::StateDict;
use crate::DefaultDevice;

/// A registry entry: a declared model's metadata and a way to build it.
pub trait ZooEntry: Sync {
    /// The declaration as data.
    fn meta(&self) -> &'static ModelMeta;
    /// Builds the model on the default device (f32), parameters drawn from `seed`.
    fn instantiate(&self, seed: u64) -> Result<Box<dyn ZooModel>, AttnError>;
}

/// What a forward pass on a batch produced, in plain numbers.
#[derive(Clone, Debug, PartialEq)]
pub struct ForwardSummary {
    /// `[rows, labels]`.
    pub logits_shape: [usize; 2],
    /// The logits, row-major.
    pub logits: Vec<f32>,
    /// Each attention layer's name and `[B, H, Sq, Sk]` shape.
    pub attention: Vec<(String, [usize; 4])>,
    /// Each attention layer's weights, row-major.
    pub weights: Vec<Vec<f32>>,
}

/// Settings of one training step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepSettings {
    /// Learning rate of this step.
    pub lr: f64,
    /// Clip the gradients' global L2 norm to this.
    pub clip_norm: Option<f64>,
    /// Label smoothing of the cross-entropy.
    pub label_smoothing: f64,
    /// Dropout instead of the declared one.
    pub dropout: Option<f64>,
    /// Teacher-forcing ratio of sequence-to-sequence models (default 1).
    pub teacher_forcing: Option<f64>,
    /// Seed of this step's random choices (teacher forcing).
    pub seed: u64,
}

impl Default for StepSettings {
    fn default() -> Self {
        StepSettings {
            lr: 1e-3,
            clip_norm: None,
            label_smoothing: 0.0,
            dropout: None,
            teacher_forcing: None,
            seed: 0,
        }
    }
}

/// What a training step measured.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepReport {
    /// The loss before the update.
    pub loss: f32,
    /// The gradient's global L2 norm before clipping.
    pub grad_norm: f64,
}

/// A built model behind a type-erased interface, with an Adam optimizer for training steps.
pub trait ZooModel {
    /// The declaration as data.
    fn meta(&self) -> &'static ModelMeta;
    /// Trainable parameter count.
    fn num_params(&self) -> usize;
    /// Evaluation-mode forward pass (sequence-to-sequence models decode greedily).
    fn forward(&self, batch: &Batch, need_weights: bool) -> Result<ForwardSummary, AttnError>;
    /// Evaluation-mode forward pass that feeds sequence-to-sequence decoders the true previous
    /// tokens (the validation loss); the same as [`forward`](Self::forward) for other models.
    fn forward_teacher_forced(
        &self,
        batch: &Batch,
        need_weights: bool,
    ) -> Result<ForwardSummary, AttnError>;
    /// One training step: forward in training mode, cross-entropy, backward, Adam update.
    ///
    /// # Errors
    /// [`AttnError::NonFinite`] when the loss or the gradient norm is not finite; the parameters
    /// are then left as they were.
    fn train_step_with(
        &mut self,
        batch: &Batch,
        settings: &StepSettings,
    ) -> Result<StepReport, AttnError>;
    /// [`train_step_with`](Self::train_step_with) at the stored settings; returns the loss.
    fn train_step(&mut self, batch: &Batch) -> Result<f32, AttnError>;
    /// One data-parallel training step: `batch` is this rank's share of the step's batch (it may
    /// be empty), and the ranks of `collective` exchange their gradients after the backward pass
    /// and before clipping and Adam, so every rank takes the step one process would take on the
    /// whole batch. The report's loss is the whole batch's. With one rank this is
    /// [`train_step_with`](Self::train_step_with).
    ///
    /// Models built from a declaration ([`Entry`]) implement it; the default refuses more than
    /// one rank.
    ///
    /// # Errors
    /// As [`train_step_with`](Self::train_step_with) (every rank returns the error of a loss
    /// that is not finite on any rank); [`AttnError::Distributed`] when the exchange fails.
    fn train_step_shared(
        &mut self,
        batch: &Batch,
        settings: &StepSettings,
        collective: &dyn Collective,
    ) -> Result<StepReport, AttnError> {
        if collective.size() == 1 {
            return self.train_step_with(batch, settings);
        }
        Err(AttnError::InvalidInput {
            reason: format!(
                "the model `{}` cannot train on {} ranks: it does not implement train_step_shared",
                self.meta().name,
                collective.size()
            ),
            fix: "train it in one process, or implement ZooModel::train_step_shared for it".into(),
        })
    }
    /// Sets the stored settings' learning rate (1e-3 when built).
    fn set_learning_rate(&mut self, lr: f64);
    /// The optimizer (configuration and state).
    fn optimizer(&mut self) -> &mut Adam;
    /// The parameters by dotted name.
    fn params(&self) -> Result<StateDict, AttnError>;
    /// Loads parameters, checking every name and shape first.
    ///
    /// # Errors
    /// [`AttnError::StateDict`] when they are not this model's; nothing is loaded then.
    fn load(&mut self, params: &StateDict) -> Result<(), AttnError>;
    /// Moves the model to a device whose random stream (dropout) starts from `seed`, so a run
    /// resumed at an epoch boundary draws what the uninterrupted run drew.
    fn reseed(&mut self, seed: u64) -> Result<(), AttnError>;
    /// A generation session with a key/value cache (language models; `None` for the others):
    /// see [`AttnModel::generator`].
    fn generator(&self) -> Option<Box<dyn TokenStepper<f32> + '_>> {
        None
    }
    /// A decoding session over `sources` with a cache, its rows re-chosen at every step
    /// (sequence-to-sequence models; `None` for the others): see
    /// [`AttnModel::source_stepper`].
    ///
    /// # Errors
    /// As [`AttnModel::source_stepper`].
    fn source_stepper(
        &self,
        sources: &[&[usize]],
    ) -> Result<Option<Box<dyn SourceStepper<f32> + '_>>, AttnError> {
        let _ = sources;
        Ok(None)
    }
}

/// The [`ZooEntry`] of declared model `M`: `Entry::<MyModel>::NEW`.
pub struct Entry<M>(PhantomData<fn() -> M>);

impl<M> Entry<M> {
    /// The entry (a zero-sized value, usable in statics).
    pub const NEW: Self = Entry(PhantomData);
}

type Dev = DefaultDevice;

impl<M> ZooEntry for Entry<M>
where
    M: DeclaredModel + BuildOnDevice<Dev, f32>,
    M::Built: AttnModel<f32, Dev> + TensorCollection<f32, Dev, To<f32, Dev> = M::Built> + Clone,
    M::Built: 'static,
{
    fn meta(&self) -> &'static ModelMeta {
        &M::META
    }

    fn instantiate(&self, seed: u64) -> Result<Box<dyn ZooModel>, AttnError> {
        let dev = Dev::seed_from_u64(seed);
        dev.enable_cache();
        // our walk, not dfdx's builder: the same values, one walk per model to compile
        let model = try_build::<M::Built, f32, Dev>(&dev)?;
        Ok(Box::new(Instance {
            model,
            dev,
            adam: Adam::new(AdamConfig::default()),
            settings: StepSettings::default(),
        }))
    }
}

struct Instance<Mod> {
    model: Mod,
    /// The device the model lives on, whose allocation cache the instance owns.
    dev: Dev,
    adam: Adam,
    settings: StepSettings,
}

impl<Mod> Drop for Instance<Mod> {
    fn drop(&mut self) {
        // dfdx 0.13's allocation cache frees nothing when its device is dropped, so every model
        // trained in a process (a sweep's runs) would leak its cache: empty and disable it first,
        // so the model's own buffers (dropped right after) go back to the system too.
        let _ = self.dev.try_disable_cache();
        // and the kernels' and the matrix product's per-thread buffers, sized to the largest
        // call this model made (dfdx's matmuls run on the product too)
        crate::kernels::release_buffers();
    }
}

impl<Mod> ZooModel for Instance<Mod>
where
    Mod: AttnModel<f32, Dev> + TensorCollection<f32, Dev> + Clone,
{
    fn meta(&self) -> &'static ModelMeta {
        self.model.meta()
    }

    fn num_params(&self) -> usize {
        num_trainable_params(&self.model).unwrap_or(0)
    }

    fn forward(&self, batch: &Batch, need_weights: bool) -> Result<ForwardSummary, AttnError> {
        summarise(
            &self.model,
            batch,
            &ForwardOptions {
                need_weights,
                ..ForwardOptions::eval()
            },
        )
    }

    fn forward_teacher_forced(
        &self,
        batch: &Batch,
        need_weights: bool,
    ) -> Result<ForwardSummary, AttnError> {
        let opts = ForwardOptions {
            teacher_forcing: Some(1.0),
            need_weights,
            ..ForwardOptions::eval()
        };
        summarise(&self.model, batch, &opts)
    }

    fn train_step_with(
        &mut self,
        batch: &Batch,
        settings: &StepSettings,
    ) -> Result<StepReport, AttnError> {
        self.train_step_shared(batch, settings, &SingleProcess)
    }

    fn train_step_shared(
        &mut self,
        batch: &Batch,
        settings: &StepSettings,
        collective: &dyn Collective,
    ) -> Result<StepReport, AttnError> {
        let grads = try_alloc_grads(&self.model)?;
        let rows = batch.targets.iter().filter(|&&t| t != IGNORE).count();
        // a rank whose share of a short last batch is empty (or all padding) still takes part
        // in the exchange
        let (value, grads) = if collective.size() > 1 && rows == 0 {
            (0.0, grads)
        } else {
            let anchor: Tensor<Rank0, f32, Dev> = self.dev.zeros();
            let (_, tape) = anchor.trace(grads).split_tape();
            let opts = ForwardOptions {
                dropout: settings.dropout,
                teacher_forcing: settings.teacher_forcing,
                seed: settings.seed,
                ..ForwardOptions::train()
            };
            let out = self.model.try_forward_batch(batch, &opts, tape)?;
            let loss = try_cross_entropy_rows_smoothed(
                out.logits,
                &batch.targets,
                settings.label_smoothing,
            )?;
            let value = loss.array();
            if collective.size() == 1 && !value.is_finite() {
                return Err(AttnError::NonFinite {
                    what: "loss",
                    value: value.into(),
                });
            }
            (value, loss.backward())
        };
        self.adam.cfg.lr = settings.lr;
        if collective.size() == 1 {
            let grad_norm = self
                .adam
                .update(&mut self.model, &grads, settings.clip_norm)?;
            return Ok(StepReport {
                loss: value,
                grad_norm,
            });
        }
        let mut shared = flatten_gradients(&self.model, &grads)?;
        let loss = share_gradients(collective, &mut shared, value, rows)?;
        let grad_norm =
            self.adam
                .update_shared(&mut self.model, &grads, &shared, settings.clip_norm)?;
        Ok(StepReport {
            loss: loss as f32,
            grad_norm,
        })
    }

    fn train_step(&mut self, batch: &Batch) -> Result<f32, AttnError> {
        let settings = self.settings;
        Ok(self.train_step_with(batch, &settings)?.loss)
    }

    fn set_learning_rate(&mut self, lr: f64) {
        self.settings.lr = lr;
    }

    fn optimizer(&mut self) -> &mut Adam {
        &mut self.adam
    }

    fn params(&self) -> Result<StateDict, AttnError> {
        params_to_state_dict(&self.model)
    }

    fn load(&mut self, params: &StateDict) -> Result<(), AttnError> {
        load_params(&mut self.model, params)
    }

    fn generator(&self) -> Option<Box<dyn TokenStepper<f32> + '_>> {
        self.model.generator()
    }

    fn source_stepper(
        &self,
        sources: &[&[usize]],
    ) -> Result<Option<Box<dyn SourceStepper<f32> + '_>>, AttnError> {
        self.model.source_stepper(sources)
    }

    fn reseed(&mut self, seed: u64) -> Result<(), AttnError> {
        let dev = Dev::seed_from_u64(seed);
        dev.enable_cache();
        try_move_to(&mut self.model, &dev)?;
        // the old device's cache would leak (see `Drop`)
        let _ = std::mem::replace(&mut self.dev, dev).try_disable_cache();
        Ok(())
    }
}

/// Optimizer state as a state dict (F64 moments `m.<param>`, `v.<param>`, step in metadata).
pub fn adam_state_to_state_dict(adam: &Adam) -> StateDict {
    let mut sd = StateDict::default();
    for (name, m) in &adam.state.m {
        sd.insert(format!("m.{name}"), vec![m.len()], m.clone(), true);
    }
    for (name, v) in &adam.state.v {
        sd.insert(format!("v.{name}"), vec![v.len()], v.clone(), true);
    }
    sd.set_metadata("step", adam.state.step.to_string());
    sd.set_metadata(
        "config",
        serde_json::to_string(&adam.cfg).unwrap_or_default(),
    );
    sd
}

/// The inverse of [`adam_state_to_state_dict`], for the model whose parameters are `params`.
///
/// # Errors
/// [`AttnError::StateDict`] when the step or a moment is malformed, or a moment is not the
/// size of the parameter of its name in `params` (an optimizer state saved with another model).
pub fn adam_state_from_state_dict(
    sd: &StateDict,
    params: &StateDict,
) -> Result<AdamState, AttnError> {
    let bad = |reason: String| AttnError::StateDict { reason };
    let step = sd
        .metadata()
        .get("step")
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("the optimizer state has no step count".into()))?;
    let mut state = AdamState {
        step,
        ..Default::default()
    };
    for name in sd.names() {
        let values = sd.get(name)?.values.clone();
        let (moments, param) = if let Some(p) = name.strip_prefix("m.") {
            (&mut state.m, p)
        } else if let Some(p) = name.strip_prefix("v.") {
            (&mut state.v, p)
        } else {
            return Err(bad(format!(
                "unexpected tensor `{name}` in the optimizer state"
            )));
        };
        let size = params
            .get(param)
            .map_err(|_| {
                bad(format!(
                    "the optimizer state has `{name}`, the model no `{param}`"
                ))
            })?
            .values
            .len();
        if values.len() != size {
            return Err(bad(format!(
                "the optimizer state's `{name}` holds {} values, the parameter `{param}` {size}",
                values.len()
            )));
        }
        moments.insert(param.to_string(), values);
    }
    Ok(state)
}

/// Runs `model` on `batch` and returns plain numbers.
fn summarise<Mod: AttnModel<f32, Dev>>(
    model: &Mod,
    batch: &Batch,
    opts: &ForwardOptions,
) -> Result<ForwardSummary, AttnError> {
    let out = model.try_forward_batch(batch, opts, NoneTape)?;
    let (rows, labels) = *out.logits.shape();
    let attention = out
        .attention
        .iter()
        .map(|a| {
            let (b, h, q, k) = *a.weights.shape();
            (a.layer.clone(), [b, h, q, k])
        })
        .collect();
    let weights = out.attention.iter().map(|a| a.weights.as_vec()).collect();
    Ok(ForwardSummary {
        logits_shape: [rows, labels],
        logits: out.logits.as_vec(),
        attention,
        weights,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optimizer_state_round_trips_and_is_refused_for_another_model() {
        let mut adam = Adam::new(AdamConfig::default());
        adam.state.step = 7;
        adam.state.m.insert("w".into(), vec![0.5, -1.0, 2.0]);
        adam.state.v.insert("w".into(), vec![0.25, 1.0, 4.0]);
        let saved = adam_state_to_state_dict(&adam);
        let params = |n: usize| {
            let mut sd = StateDict::default();
            sd.insert("w".to_string(), vec![n], vec![0.0; n], false);
            sd
        };
        assert_eq!(
            adam_state_from_state_dict(&saved, &params(3)).unwrap(),
            adam.state
        );
        for (other, says) in [
            (params(4), "holds 3 values, the parameter `w` 4"),
            (StateDict::default(), "the model no `w`"),
        ] {
            let err = adam_state_from_state_dict(&saved, &other).unwrap_err();
            assert!(
                matches!(&err, AttnError::StateDict { reason } if reason.contains(says)),
                "{err}"
            );
        }
    }
}
