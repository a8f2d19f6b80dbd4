//! Transformer blocks built on the attention core (dfdx 0.13's own transformer is post-norm only,
//! ReLU only, without dropout or positional encoding, and its decoder is not causal): encoder and
//! decoder blocks with either norm placement, feed-forward networks with every common activation
//! (gated ones included), stacks, and PyTorch state-dict loading.

mod activation;
mod decoder_block;
mod encoder_block;
mod feed_forward;
mod kv_cache;
mod layer_norm;
mod output;
mod residual;
mod stack;

pub use activation::{Activation, Gelu, GeluTanh, LeakyRelu, Relu, Sigmoid, Silu, Tanh};
pub use decoder_block::DecoderBlock;
pub use encoder_block::EncoderBlock;
pub use feed_forward::{FeedForward, FeedForwardNet, GatedFeedForward};
pub use kv_cache::{BlockCache, CachedDecoder, HeadTensor, SelfAttentionCache};
pub use layer_norm::NormExt;
pub use output::{OutputProjection, TiedOutput, UntiedOutput};
pub(crate) use residual::residual;
pub use stack::{TransformerDecoder, TransformerEncoder};
