//! `scoring:` — the score of a single-head model's attention.

vocabulary! {
    /// How query/key scores are computed in a single-head model.
    pub enum Scoring {
        /// `q·kᵀ`, unscaled.
        Dot = "Dot",
        /// `q·kᵀ / √d`.
        Scaled = "Scaled",
    }
}
