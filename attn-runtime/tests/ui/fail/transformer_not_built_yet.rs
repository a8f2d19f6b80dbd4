use attn_runtime::prelude::*;

attention_model! {
    /// Validated in full; this version cannot build transformers yet.
    pub struct Translator {
        arch: Transformer,
        task: Seq2Seq { src_vocab: 40, tgt_vocab: 16, src_len: 30, tgt_len: 10 },
        d_model: 32,
        heads: 4,
        ff: 64,
        encoder_layers: 2,
        decoder_layers: 2,
    }
}

fn main() {}
