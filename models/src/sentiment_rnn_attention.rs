//! `sentiment-rnn-attention`: the common "RNN + attention" text classifier.

use attn_runtime::attention_model;

attention_model! {
    /// Sentiment of short reviews from a bidirectional GRU whose outputs are pooled by attention.
    #[name = "sentiment-rnn-attention", data = "sentiment"]
    pub struct SentimentRnnAttention {
        arch: Recurrent,
        cell: Gru,
        bidirectional: true,
        attention: Additive,
        task: Classify { vocab: 4096, max_len: 64, classes: 2 },
        d_model: 64,
        hidden: 64,
    }
}
