//! `bible-transformer`: English → Spanish translation on public-domain Bible verses.
//!
//! Subwords on both sides (the data set's tokeniser, learnt from the training split): sources
//! of up to 40, targets of up to 39 and the end token (the recipe's `--truncate` cuts the
//! ≈ 0.2% of verse sides that are longer). Positions are learnt, not fixed
//! sinusoids: dfdx starts an embedding table of 4,096 rows at U(±1/64), rows of norm ≈ 0.1
//! against ≈ 8 for a sinusoid row of width 128, so with sinusoids the tokens are nearly
//! invisible under their positions at the start and the model learns slowly (validation loss
//! 6.02 after one epoch, against 5.18 with learnt positions starting at N(0, 0.02), rows of norm
//! ≈ 0.23; docs/DESIGN_NOTES.md, "The translation model").

use attn_runtime::attention_model;

attention_model! {
    /// Translates English Bible verses (World English Bible) into Spanish (Reina-Valera 1909).
    #[name = "bible-transformer", data = "bible-en-es"]
    pub struct BibleTransformer {
        arch: Transformer,
        task: Seq2Seq { src_vocab: 4096, tgt_vocab: 4096, src_len: 40, tgt_len: 40 },
        d_model: 128,
        heads: 4,
        ff: 512,
        encoder_layers: 3,
        decoder_layers: 3,
        activation: Gelu,
        norm: Pre,
        positional: Learned,
        tie_embeddings: true,
        dropout: 0.2,
    }
}
