//! `positional:` — how token (or patch) positions enter the model.

vocabulary! {
    /// The positional encoding.
    pub enum Positional {
        /// Fixed sine/cosine encodings added to the embeddings.
        Sinusoidal = "Sinusoidal",
        /// A learned embedding per position, added to the embeddings.
        Learned = "Learned",
        /// Rotary embeddings applied to queries and keys inside attention (transformers).
        Rotary = "Rotary",
        /// No positions.
        None = "None",
    }
}
