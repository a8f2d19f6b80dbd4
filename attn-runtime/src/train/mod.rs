//! Training: settings, the loop with validation, early stopping and checkpoints, run
//! directories written atomically, and scores.
//!
//! # The typed training step
//!
//! What [`train`] does for every batch, written by hand on a declared model: gradients
//! allocated once, the input traced so the forward pass records onto the tape, the training-mode
//! forward (`forward_mut`: dropout on), the loss, the backward pass, an Adam step. Shapes are
//! checked by the compiler all along: `ids` must be `[B, 16]` and the logits are `[B, 2]`.
//!
//! ```
//! use attn_runtime::loss::try_cross_entropy;
//! use attn_runtime::optim::{Adam, AdamConfig};
//! use attn_runtime::prelude::*;
//!
//! attention_model! {
//!     /// A tiny review classifier.
//!     #[name = "tiny-reviews"]
//!     pub struct TinyReviews {
//!         arch: SelfAttention,
//!         task: Classify { vocab: 100, max_len: 16, classes: 2 },
//!         d_model: 16, heads: 2, layers: 1, positional: Sinusoidal, dropout: 0.1,
//!     }
//! }
//!
//! # fn main() -> Result<(), AttnError> {
//! let dev: Cpu = Default::default();
//! let mut model = dev.build_module::<TinyReviews, f32>();
//! let mut adam = Adam::new(AdamConfig { lr: 1e-2, ..Default::default() });
//! let ids: Tensor<(usize, Const<16>), usize, Cpu> = dev.tensor_from_vec((0..32).collect(), (2, Const));
//! let targets = [0, 1];
//! let mut grads = model.alloc_grads();
//! let mut losses = Vec::new();
//! for _ in 0..20 {
//!     let logits = model.forward_mut(ids.clone().traced(grads)); // [2, 2], on the tape
//!     let loss = try_cross_entropy(logits, &targets)?;
//!     losses.push(loss.array());
//!     grads = loss.backward();
//!     adam.update(&mut model, &grads, Some(1.0))?; // clip the global norm to 1, then step
//!     model.zero_grads(&mut grads);
//! }
//! assert!(losses[19] < losses[0] / 2.0, "{losses:?}");
//! # Ok(())
//! # }
//! ```

mod evaluate;
mod evaluate_run;
mod lr_finder;
mod ngram_baseline;
mod recommended;
mod test_predictions;
mod trainer;

pub use crate::run::{
    load_run, output_bleu, run_model_name, write_atomic, EpochReport, LoadedRun, RunConfig, RunDir,
    RunState, RunSummary, Scores, Selection, SelectionKey, TrainConfig, BEST, INTERRUPTED, LAST,
    OPTIMIZER,
};
pub use evaluate::{
    evaluate, evaluate_against, evaluate_teacher_forced, rows_per_example, References,
};
pub use evaluate_run::{evaluate_run, EvalReport, LanguageModelReport, Seq2SeqReport};
pub use lr_finder::{find_lr, minimum, steepest_descent, valley, LrPoint, LrRange, LrRangeTest};
pub use ngram_baseline::{ngram_baseline, NgramBaseline, BASELINE_GAMMAS, BASELINE_ORDERS};
pub use recommended::recommended;
pub use test_predictions::{write_test_predictions, TestPrediction};
pub use trainer::{
    train, train_data_parallel, Quiet, RunInfo, Stop, TrainObserver, TrainOutcome, TrainRequest,
};
