//! The error type of `attn-runtime`.

use std::fmt::{Debug, Display};

/// Everything that can go wrong in `attn-runtime` when shapes alone could not rule it out.
///
/// Compile-time shapes catch wrong feature widths; what they cannot catch (runtime batch and
/// sequence lengths that disagree, masks that do not fit, impossible hyper-parameters) comes back
/// as one of these variants, each saying what is wrong and how to fix it.
#[derive(Debug, thiserror::Error)]
pub enum AttnError {
    /// Two runtime dimensions that must agree do not.
    #[error("shape mismatch in {path}: expected {expected}, got {got}")]
    ShapeMismatch {
        /// Where the mismatch was found, e.g. `scaled_dot_product_attention.value.seq_len`.
        path: String,
        /// What the other inputs imply.
        expected: String,
        /// What was passed.
        got: String,
    },
    /// A mask that cannot apply to the inputs it was given with.
    #[error("invalid mask: {reason}; {fix}")]
    InvalidMask {
        /// What is wrong.
        reason: String,
        /// How to fix it.
        fix: String,
    },
    /// A hyper-parameter outside its valid range.
    #[error("invalid {name} = {value}: {requirement}")]
    InvalidHyperParameter {
        /// The parameter's name.
        name: &'static str,
        /// The value passed, printed.
        value: String,
        /// The valid range.
        requirement: &'static str,
    },
    /// Input data that cannot go through the model (token ids out of range, bad lengths, ...).
    #[error("invalid input: {reason}; {fix}")]
    InvalidInput {
        /// What is wrong.
        reason: String,
        /// How to fix it.
        fix: String,
    },
    /// A data file or data set that cannot feed the model.
    #[error("{location}: {reason}; {fix}")]
    Data {
        /// Where: a file and line, a data set and example, or a data set name.
        location: String,
        /// What is wrong.
        reason: String,
        /// How to fix it.
        fix: String,
    },
    /// Training produced a non-finite loss or gradient and stopped.
    #[error("training diverged at epoch {epoch}, step {step}: {reason}; the last good checkpoint is {checkpoint}; lower the learning rate or clip gradients (--clip)")]
    Diverged {
        /// The epoch (1-based).
        epoch: usize,
        /// The optimizer step.
        step: u64,
        /// What was not finite.
        reason: String,
        /// Where the last good checkpoint is (or that there is none yet).
        checkpoint: String,
    },
    /// A training step's loss or gradient norm is NaN or infinite; nothing was updated.
    /// [`train`](crate::train::train) turns it into [`AttnError::Diverged`].
    #[error("the {what} is {value}; lower the learning rate, enable gradient clipping (--clip), or check the data")]
    NonFinite {
        /// What was not finite: `"loss"` or `"gradient norm"`.
        what: &'static str,
        /// Its value (NaN or ±infinity).
        value: f64,
    },
    /// A tensor in a checkpoint or state dict is missing or has the wrong shape.
    #[error("state dict: {reason}")]
    StateDict {
        /// What is wrong, naming the tensor.
        reason: String,
    },
    /// An I/O error while reading or writing a file.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// No registered model has this name.
    #[error("unknown model `{name}`{}; available models: {}", nearest.as_ref().map(|n| format!(" (did you mean `{n}`?)")).unwrap_or_default(), available.join(", "))]
    UnknownModel {
        /// The name asked for.
        name: String,
        /// Every registered name.
        available: Vec<String>,
        /// The closest registered name, if one is close.
        nearest: Option<String>,
    },
    /// No registered sweep has this name.
    #[error("unknown sweep `{name}`{}; the declared sweeps are: {}", nearest.as_ref().map(|n| format!(" (did you mean `{n}`?)")).unwrap_or_default(), available.join(", "))]
    UnknownSweep {
        /// The name asked for.
        name: String,
        /// Every registered sweep name.
        available: Vec<String>,
        /// The closest registered name, if one is close.
        nearest: Option<String>,
    },
    /// Two registered models (or two sweeps) share a name.
    #[error("two registered {kind}s are named `{name}` ({first} and {second}); rename one of them (`#[name = \"...\"]`)")]
    DuplicateName {
        /// `model` or `sweep`.
        kind: &'static str,
        /// The shared name.
        name: String,
        /// The first one's Rust type (or sweep question).
        first: String,
        /// The second one's.
        second: String,
    },
    /// The tensor device failed (out of memory, a CUDA error, ...).
    #[error("device error: {0}")]
    Device(String),
    /// Data-parallel ranks could not exchange what a step needs.
    #[error("data-parallel training: {0}")]
    Distributed(#[from] crate::distributed::CollectiveError),
}

impl AttnError {
    /// Wraps a device error (dfdx's `D::Err`).
    pub fn device(err: impl Debug + Display) -> Self {
        AttnError::Device(err.to_string())
    }

    pub(crate) fn data(
        location: impl Into<String>,
        reason: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        AttnError::Data {
            location: location.into(),
            reason: reason.into(),
            fix: fix.into(),
        }
    }

    pub(crate) fn mismatch(
        path: impl Into<String>,
        expected: impl Display,
        got: impl Display,
    ) -> Self {
        AttnError::ShapeMismatch {
            path: path.into(),
            expected: expected.to_string(),
            got: got.to_string(),
        }
    }
}

/// Converts a device result into an [`AttnError`] result.
pub(crate) trait DeviceResultExt<T> {
    fn dev(self) -> Result<T, AttnError>;
}

impl<T, Err: Debug + Display> DeviceResultExt<T> for Result<T, Err> {
    fn dev(self) -> Result<T, AttnError> {
        self.map_err(AttnError::device)
    }
}

/// Checks that two runtime sizes agree.
pub(crate) fn expect_dim(path: &str, expected: usize, got: usize) -> Result<(), AttnError> {
    if expected == got {
        Ok(())
    } else {
        Err(AttnError::mismatch(path, expected, got))
    }
}
