//! Type-erased handles on declared models, so a registry can list, build, run and train models
//! of different const shapes by name.

use std::marker::PhantomData;

use dfdx::optim::{Adam, AdamConfig, Optimizer, OptimizerUpdateError};
use dfdx::prelude::*;

use super::{Batch, BatchModel};
use crate::error::AttnError;
use crate::loss::try_cross_entropy_rows;
use crate::model::{DeclaredModel, ForwardOptions, ModelMeta};
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

/// A built model behind a type-erased interface, with an Adam optimizer for training steps.
pub trait ZooModel {
    /// The declaration as data.
    fn meta(&self) -> &'static ModelMeta;
    /// Trainable parameter count.
    fn num_params(&self) -> usize;
    /// Evaluation-mode forward pass.
    fn forward(&self, batch: &Batch, need_weights: bool) -> Result<ForwardSummary, AttnError>;
    /// One training step (forward in training mode, cross-entropy, backward, Adam update);
    /// returns the loss before the update.
    fn train_step(&mut self, batch: &Batch) -> Result<f32, AttnError>;
    /// Sets Adam's learning rate (1e-3 when built).
    fn set_learning_rate(&mut self, lr: f64);
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
    M::Built: BatchModel<f32, Dev> + TensorCollection<f32, Dev> + 'static,
{
    fn meta(&self) -> &'static ModelMeta {
        &M::META
    }

    fn instantiate(&self, seed: u64) -> Result<Box<dyn ZooModel>, AttnError> {
        let dev = Dev::seed_from_u64(seed);
        let model = M::try_build_on_device(&dev).map_err(AttnError::device)?;
        let opt = Adam::new(
            &model,
            AdamConfig {
                lr: 1e-3,
                ..Default::default()
            },
        );
        let grads = model.try_alloc_grads().map_err(AttnError::device)?;
        Ok(Box::new(Instance {
            model,
            opt,
            grads: Some(grads),
            dev,
        }))
    }
}

struct Instance<Mod: TensorCollection<f32, Dev>> {
    model: Mod,
    opt: Adam<Mod, f32, Dev>,
    grads: Option<Gradients<f32, Dev>>,
    dev: Dev,
}

impl<Mod> ZooModel for Instance<Mod>
where
    Mod: BatchModel<f32, Dev> + TensorCollection<f32, Dev>,
{
    fn meta(&self) -> &'static ModelMeta {
        self.model.meta()
    }

    fn num_params(&self) -> usize {
        self.model.num_trainable_params()
    }

    fn forward(&self, batch: &Batch, need_weights: bool) -> Result<ForwardSummary, AttnError> {
        let opts = ForwardOptions {
            need_weights,
            ..ForwardOptions::eval()
        };
        let out = self.model.try_forward_batch(batch, &opts, NoneTape)?;
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

    fn set_learning_rate(&mut self, lr: f64) {
        self.opt.cfg.lr = lr;
    }

    fn train_step(&mut self, batch: &Batch) -> Result<f32, AttnError> {
        let mut grads = match self.grads.take() {
            Some(g) => g,
            None => self.model.try_alloc_grads().map_err(AttnError::device)?,
        };
        self.model.zero_grads(&mut grads);
        // A tape that accumulates into the model's preallocated gradients (and keeps only them).
        let anchor: Tensor<Rank0, f32, Dev> = self.dev.zeros();
        let (_, tape) = anchor.trace(grads).split_tape();
        let out = self
            .model
            .try_forward_batch(batch, &ForwardOptions::train(), tape)?;
        let loss = try_cross_entropy_rows(out.logits, &batch.targets)?;
        let value = loss.array();
        let grads = loss.backward();
        let result = self.opt.update(&mut self.model, &grads);
        self.grads = Some(grads);
        match result {
            Ok(()) => Ok(value),
            Err(OptimizerUpdateError::UnusedParams(unused)) => Err(AttnError::device(format!(
                "parameters received no gradient: {unused:?}"
            ))),
            Err(e) => Err(AttnError::device(e)),
        }
    }
}
