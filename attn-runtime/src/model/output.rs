//! Per-call model settings and what a model's forward pass returns.

use dfdx::prelude::*;

use super::Mode;
use crate::attention::LayerAttention;
use crate::error::AttnError;

/// Settings of one forward pass of a declared model.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ForwardOptions {
    /// Per-sequence lengths of right-padded token batches (`None`: no padding).
    pub lengths: Option<Vec<usize>>,
    /// Training (dropout on, teacher forcing) or evaluation.
    pub mode: Mode,
    /// Dropout to use in training mode instead of the declared one.
    pub dropout: Option<f64>,
    /// Return every layer's attention weights.
    pub need_weights: bool,
    /// Sequence-to-sequence training: the probability of feeding the decoder the true previous
    /// token rather than its own prediction (`None`: 1 in training, 0 otherwise).
    pub teacher_forcing: Option<f64>,
    /// Seed of the teacher-forcing draws.
    pub seed: u64,
}

impl ForwardOptions {
    /// `mode`, no padding, no weights, the declared dropout.
    pub fn new(mode: Mode) -> Self {
        ForwardOptions {
            mode,
            ..Self::default()
        }
    }

    /// Evaluation mode, no padding, no weights.
    pub fn eval() -> Self {
        Self::new(Mode::Eval)
    }

    /// Training mode with the declared dropout.
    pub fn train() -> Self {
        Self::new(Mode::Train)
    }

    /// Whether this is a training pass.
    pub fn training(&self) -> bool {
        self.mode == Mode::Train
    }

    /// Sets the sequence lengths of a padded batch.
    pub fn lengths(mut self, lengths: Vec<usize>) -> Self {
        self.lengths = Some(lengths);
        self
    }

    /// Asks for the attention weights of every layer.
    pub fn with_weights(mut self) -> Self {
        self.need_weights = true;
        self
    }

    /// The teacher-forcing ratio that applies: `teacher_forcing` when given (an evaluation pass
    /// with ratio 1 measures the teacher-forced loss), else 1 in training and 0 in evaluation
    /// (greedy decoding).
    pub fn effective_teacher_forcing(&self) -> f64 {
        match (self.training(), self.teacher_forcing) {
            (_, Some(r)) => r.clamp(0.0, 1.0),
            (true, None) => 1.0,
            (false, None) => 0.0,
        }
    }

    /// The dropout that applies: 0 in evaluation mode.
    pub fn effective_dropout(&self, declared: f64) -> f64 {
        if self.training() {
            self.dropout.unwrap_or(declared)
        } else {
            0.0
        }
    }

    /// Checks the lengths against a batch of `batch` sequences padded to `max_len`.
    pub fn checked_lengths(
        &self,
        batch: usize,
        max_len: usize,
    ) -> Result<Option<Vec<usize>>, AttnError> {
        let Some(lengths) = &self.lengths else {
            return Ok(None);
        };
        if lengths.len() != batch {
            return Err(AttnError::InvalidInput {
                reason: format!(
                    "{} lengths were given for a batch of {batch} sequences",
                    lengths.len()
                ),
                fix: "pass one length per sequence".into(),
            });
        }
        if let Some((i, &len)) = lengths
            .iter()
            .enumerate()
            .find(|(_, &l)| l == 0 || l > max_len)
        {
            return Err(AttnError::InvalidInput {
                reason: format!("sequence {i} has length {len}; lengths must be in 1..={max_len}"),
                fix: "drop empty sequences and truncate long ones to the declared max_len".into(),
            });
        }
        Ok(Some(lengths.clone()))
    }
}

/// The output of a model: its logits, every layer's weights when asked for, and the tokens a
/// sequence-to-sequence decoder chose.
#[derive(Debug)]
pub struct ModelOutput<S: Shape, E: Dtype, D: Storage<E>, T> {
    /// Logits: `[B, classes]` for classifiers, `[B, L, tags]` for taggers, `[B, TL, V]` for
    /// sequence-to-sequence models.
    pub logits: Tensor<S, E, D, T>,
    /// One entry per attention layer, in forward order (empty unless requested).
    pub attention: Vec<LayerAttention<E, D>>,
    /// Sequence-to-sequence models: the token chosen at every step (the greedy one, or the
    /// teacher's when forced), `[B, TL]` row-major; empty for other models.
    pub tokens: Vec<usize>,
}

impl<S: Shape, E: Dtype, D: Storage<E>, T> ModelOutput<S, E, D, T> {
    /// Logits and attention of a model that decodes no tokens.
    pub fn new(logits: Tensor<S, E, D, T>, attention: Vec<LayerAttention<E, D>>) -> Self {
        ModelOutput {
            logits,
            attention,
            tokens: Vec::new(),
        }
    }
}
