//! A user's own attention models, outside attn's zoo: two declared models, one built by hand
//! ([`hybrid`]), and the registry that hands them to attn's commands.

pub mod hybrid;

use attn_runtime::registry::Registry;
use attn_runtime::zoo::Entry;
use attn_runtime::{attention_model, attention_sweep};

attention_model! {
    /// Reads the sentiment of short reviews with one small pre-norm transformer layer.
    #[name = "my-review-classifier", data = "sentiment"]
    pub struct MyReviewClassifier {
        arch: Transformer,
        task: Classify { vocab: 2048, max_len: 48, classes: 2 },
        d_model: 32,
        heads: 2,
        ff: 64,
        layers: 1,
        activation: Silu,
        norm: Pre,
        positional: Sinusoidal,
        pooling: Cls,
        dropout: 0.1,
    }
}

attention_model! {
    /// Reverses digit sequences with a small encoder-decoder transformer.
    #[name = "my-reverser", data = "reverse"]
    pub struct MyReverser {
        arch: Transformer,
        task: Seq2Seq { src_vocab: 16, tgt_vocab: 16, src_len: 12, tgt_len: 12 },
        d_model: 32,
        heads: 2,
        ff: 64,
        encoder_layers: 1,
        decoder_layers: 1,
        activation: Gelu,
        norm: Pre,
        positional: Learned,
        dropout: 0.0,
    }
}

attention_sweep! {
    /// Does a wider model sort better? One transformer layer of width 16 or 32.
    #[name = "my-width-sweep", data = "sort"]
    pub struct MyWidthSweep {
        base: {
            arch: Transformer,
            task: Tag { vocab: 16, max_len: 12, tags: 16 },
            d_model: 16, heads: 2, ff: 32, layers: 1,
            norm: Pre, dropout: 0.0,
        },
        grid: { d_model: [16, 32] },
        seeds: 1,
    }
}

/// This crate's models, for attn's commands (`attn_cli::main(&my_attn_models::registry())`).
pub fn registry() -> Registry {
    Registry::new()
        .model(&Entry::<MyReviewClassifier>::NEW)
        .model(&Entry::<MyReverser>::NEW)
        .model(&Entry::<hybrid::LstmTransformer>::NEW)
        .sweep(&MyWidthSweep::SWEEP)
}
