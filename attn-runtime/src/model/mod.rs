//! Declared models: their metadata, the building blocks `attention_model!` expands into, and the
//! models themselves (token classifiers and taggers, patch classifiers).

mod encoder;
mod heads;
mod meta;
mod output;
mod patch_model;
mod positional;
mod token_encoding;
mod token_model;

pub use encoder::{SelfAttentionEncoder, SelfAttentionLayer, SequenceEncoder, SingleHeadEncoder};
pub use heads::{ClsPoolClassifierHead, MeanPoolClassifierHead, PerTokenHead, TaskHead};
pub use meta::{ArchKind, DeclaredModel, ModelMeta, TaskSpec};
pub use output::{ForwardOptions, LayerAttention, ModelOutput};
pub use patch_model::PatchModel;
pub use positional::{
    sinusoid_table, LearnedPositions, NoPositions, PositionalEncoding, SinusoidalPositions,
};
pub use token_model::TokenModel;
mod decoder_attention;
mod rnn_seq2seq;

pub use decoder_attention::{DecoderAttention, DotScoring};
pub use rnn_seq2seq::{RnnSeq2Seq, Seq2SeqOutput};
mod rnn_classifier;

pub use rnn_classifier::{AttentionPool, RnnClassifier};
mod transformer_seq2seq;

pub use transformer_seq2seq::TransformerSeq2Seq;
