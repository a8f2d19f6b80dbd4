//! `dates-transformer`: the encoder-decoder transformer, the default model.

use attn_runtime::attention_model;

attention_model! {
    /// Turns human-written dates ("3rd of March 2021") into ISO dates with an encoder-decoder transformer.
    #[name = "dates-transformer", data = "dates"]
    pub struct DatesTransformer {
        arch: Transformer,
        task: Seq2Seq { src_vocab: 64, tgt_vocab: 16, src_len: 32, tgt_len: 12 },
        d_model: 64,
        heads: 4,
        ff: 256,
        encoder_layers: 2,
        decoder_layers: 2,
        activation: Gelu,
        norm: Pre,
        positional: Sinusoidal,
        tie_embeddings: true,
        dropout: 0.1,
    }
}
