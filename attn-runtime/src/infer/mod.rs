//! Inference: a trained run on new text or images, with its attention; greedy decoding or beam
//! search for sequence-to-sequence models; text generation (greedy or sampled, with a key/value
//! cache) for language models.

mod beam;
mod generate;
mod predictor;
mod sampling;

pub use crate::run::{BeamSearch, MAX_BEAM, MAX_LENGTH_PENALTY};
pub use beam::Hypothesis;
pub use generate::{generate, Generation, KvCache};
pub use predictor::{AttentionMap, Output, Prediction, Predictor};
pub use sampling::{softmax, top_k_filter, top_p_filter, Decoding, Sampler, Sampling};
