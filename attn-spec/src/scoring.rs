//! `scoring:` — the score of a single-head model's attention.

vocabulary! {
    /// How query/key scores are computed in a single-head model.
    pub enum Scoring {
        /// `q·kᵀ`, unscaled.
        Dot = "Dot",
        /// `q·kᵀ / √d`.
        Scaled = "Scaled",
        /// A type of the user's implementing the runtime's `ScoreFn` trait
        /// (`scoring: DotOverWidth`); the declared model's `DeclaredModel::SCORING_NAME` says
        /// which. Not written in declarations, and last (see `BUILT_IN_NAMES`).
        Custom = "Custom",
    }
}

impl Scoring {
    /// The names a declaration's `scoring:` takes as built-ins: every name but `Custom`'s,
    /// which stands for a type of the user's.
    pub const BUILT_IN_NAMES: &'static [&'static str] = crate::all_but_last(Self::NAMES);
}
