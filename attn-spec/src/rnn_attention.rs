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
        /// A score function of the user's, implementing the runtime's `ScoreFn` trait
        /// (`attention: MyScore`), in Luong's place (after the decoder step); the declared
        /// model's `DeclaredModel::SCORING_NAME` says which. Not written in declarations, and
        /// last (see `BUILT_IN_NAMES`).
        Custom = "Custom",
    }
}

impl RnnAttention {
    /// The names a declaration's `attention:` takes as built-ins: every name but `Custom`'s,
    /// which stands for a type of the user's.
    pub const BUILT_IN_NAMES: &'static [&'static str] = crate::all_but_last(Self::NAMES);
}
