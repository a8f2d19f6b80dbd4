//! `attention:` — the attention of a recurrent model.

vocabulary! {
    /// The attention a recurrent model uses (to decode, or to pool a classifier).
    pub enum RnnAttention {
        /// Bahdanau's additive (MLP) scores, attending before the decoder step.
        Additive = "Additive",
        /// Luong's general scores, `sᵀ·W·h`, after the decoder step.
        General = "General",
        /// Luong's dot scores, `sᵀ·h`, after the decoder step.
        Dot = "Dot",
    }
}
