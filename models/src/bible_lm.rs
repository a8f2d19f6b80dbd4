//! `bible-lm`: a character-level decoder-only (GPT-style) language model of the English Bible.

use attn_runtime::attention_model;

attention_model! {
    /// Writes English Bible verses one character at a time with a GPT-style decoder.
    #[name = "bible-lm", data = "bible-en"]
    pub struct BibleLm {
        arch: Decoder,
        task: LanguageModel { vocab: 96, context: 64 },
        d_model: 128,
        heads: 4,
        layers: 4,
        ff: 512,
        activation: Gelu,
        positional: Learned,
        tie_embeddings: true,
    }
}
