//! `bible-transformer`: English → Spanish translation on public-domain Bible verses.

use attn_runtime::attention_model;

attention_model! {
    /// Translates English Bible verses (World English Bible) into Spanish (Reina-Valera 1909).
    #[name = "bible-transformer", data = "bible-en-es"]
    pub struct BibleTransformer {
        arch: Transformer,
        task: Seq2Seq { src_vocab: 4096, tgt_vocab: 4096, src_len: 40, tgt_len: 32 },
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
