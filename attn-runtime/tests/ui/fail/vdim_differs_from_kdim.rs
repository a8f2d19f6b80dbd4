use attn_runtime::prelude::*;

attention_model! {
    /// The encoder output is both keys and values: one width.
    pub struct Bad {
        arch: Transformer,
        task: Seq2Seq { src_vocab: 40, tgt_vocab: 16, src_len: 9, tgt_len: 5 },
        d_model: 16, kdim: 8, vdim: 12, heads: 4, ff: 32,
        encoder_layers: 1, decoder_layers: 1,
    }
}

fn main() {}
