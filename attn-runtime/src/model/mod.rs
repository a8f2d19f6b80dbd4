//! Models: the one contract every model implements ([`AttnModel`]), their metadata and
//! shape-free batches, the building blocks `attention_model!` expands into, and the six kinds of
//! declared models (token classifiers and taggers, patch classifiers, recurrent classifiers,
//! recurrent and transformer encoder-decoders, decoder-only language models).

mod batch;
mod batch_input;
mod cached_rows;
mod causal_lm;
mod class_token;
mod contract;
mod decoder_attention;
mod decoding_session;
mod encoder;
mod heads;
mod meta;
mod output;
mod patch_model;
mod positional;
mod recurrent_rows;
mod rnn_classifier;
mod rnn_seq2seq;
mod scored_encoder;
mod source_stepper;
mod stepper;
mod token_encoding;
mod token_model;
mod transformer_seq2seq;

pub use crate::attention::LayerAttention;
pub use batch::{Batch, Inputs};
pub use batch_input::{image_input, seq2seq_input, token_input};
pub use cached_rows::CachedRows;
pub use causal_lm::CausalLm;
pub use class_token::{ClassToken, NoClassToken, PatchPrefix};
pub(crate) use contract::impl_attn_model;
pub use contract::{AttnModel, BatchInput, BatchOutput, Mode, Seq2SeqInput};
pub use decoder_attention::{DecoderAttention, DotScoring, ScoredStates};
pub use decoding_session::{DecodingSession, RowState};
pub use encoder::{SelfAttentionEncoder, SelfAttentionLayer, SequenceEncoder, SingleHeadEncoder};
pub use heads::{ClsPoolClassifierHead, MeanPoolClassifierHead, PerTokenHead, TaskHead};
pub use meta::{ArchKind, DeclaredModel, ModelMeta, TaskSpec};
pub use output::{ForwardOptions, ModelOutput};
pub use patch_model::PatchModel;
pub use positional::{
    sinusoid_table, LearnedPositions, NoPositions, PositionalEncoding, SinusoidalPositions,
};
pub use recurrent_rows::RecurrentRows;
pub use rnn_classifier::{AttentionPool, RnnClassifier};
pub use rnn_seq2seq::RnnSeq2Seq;
pub use scored_encoder::{BuiltInScores, HeadScoring, ScoreFn, Scored, ScoredSingleHeadEncoder};
pub use source_stepper::{source_batch, SourceStepper};
pub use stepper::TokenStepper;
pub use token_model::TokenModel;
pub use transformer_seq2seq::TransformerSeq2Seq;
