//! `dates-gru-bahdanau`: the "attention in RNNs" chapter with Bahdanau's additive attention.

use attn_runtime::attention_model;

attention_model! {
    /// Human-written dates to ISO dates, with a bidirectional GRU encoder and additive attention.
    #[name = "dates-gru-bahdanau", data = "dates"]
    pub struct DatesGruBahdanau {
        arch: Recurrent,
        cell: Gru,
        bidirectional: true,
        attention: Additive,
        task: Seq2Seq { src_vocab: 64, tgt_vocab: 16, src_len: 32, tgt_len: 12 },
        d_model: 32,
        hidden: 64,
        layers: 1,
    }
}
