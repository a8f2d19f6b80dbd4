use attn_runtime::prelude::*;

attention_model! {
    /// Validated in full; this version cannot build recurrent models yet.
    pub struct Rnn {
        arch: Recurrent,
        task: Seq2Seq { src_vocab: 40, tgt_vocab: 16, src_len: 30, tgt_len: 10 },
        d_model: 32,
        cell: Gru,
        hidden: 64,
        attention: Additive,
    }
}

fn main() {}
