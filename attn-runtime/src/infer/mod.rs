//! Inference: a trained run on new text or images, with its attention; greedy decoding or beam
//! search for sequence-to-sequence models.

mod beam;
mod predictor;
mod sampling;

pub use beam::{BeamSearch, Hypothesis, MAX_BEAM, MAX_LENGTH_PENALTY};
pub use predictor::{AttentionMap, Output, Prediction, Predictor};
pub use sampling::{softmax, top_k_filter, top_p_filter, Decoding, Sampler, Sampling};
