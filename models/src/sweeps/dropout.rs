//! `sweep-dropout`: dropout and the gap between training and validation accuracy.

use attn_runtime::attention_sweep;

attention_sweep! {
    /// Does dropout close the train-validation gap? A self-attention sentiment classifier.
    #[name = "sweep-dropout", data = "sentiment"]
    pub struct DropoutSweep {
        base: {
            arch: SelfAttention,
            task: Classify { vocab: 4096, max_len: 64, classes: 2 },
            d_model: 32, heads: 2, layers: 1,
            positional: Sinusoidal,
        },
        runtime: { dropout: [0.0, 0.1, 0.3, 0.5] },
        seeds: 3,
    }
}
