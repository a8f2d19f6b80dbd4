use attn_runtime::prelude::*;

attention_model! {
    /// Dot scoring cannot compare a 12-wide decoder state with 24-wide bidirectional states.
    pub struct Bad {
        arch: Recurrent,
        task: Seq2Seq { src_vocab: 40, tgt_vocab: 16, src_len: 9, tgt_len: 5 },
        d_model: 8,
        cell: Gru,
        hidden: 12,
        bidirectional: true,
        attention: Dot,
    }
}

fn main() {}
