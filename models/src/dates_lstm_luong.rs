//! `dates-lstm-luong`: the "attention in RNNs" chapter with Luong's general attention.

use attn_runtime::attention_model;

attention_model! {
    /// Human-written dates to ISO dates, with an LSTM encoder-decoder and Luong's general attention.
    #[name = "dates-lstm-luong", data = "dates"]
    pub struct DatesLstmLuong {
        arch: Recurrent,
        cell: Lstm,
        attention: General,
        task: Seq2Seq { src_vocab: 64, tgt_vocab: 16, src_len: 32, tgt_len: 12 },
        d_model: 32,
        hidden: 64,
        layers: 1,
    }
}
