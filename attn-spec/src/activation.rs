//! `activation:` — the feed-forward activations of transformer blocks.

vocabulary! {
    /// The activation of a transformer's feed-forward network.
    pub enum Activation {
        /// `max(0, x)`.
        Relu = "Relu",
        /// Exact GELU, `x·Φ(x)`.
        Gelu = "Gelu",
        /// GELU's tanh approximation.
        GeluTanh = "GeluTanh",
        /// SiLU (swish), `x·σ(x)`.
        Silu = "Silu",
        /// `tanh(x)`.
        Tanh = "Tanh",
        /// `σ(x)`.
        Sigmoid = "Sigmoid",
        /// `max(0.01·x, x)`.
        LeakyRelu = "LeakyRelu",
        /// Gated feed-forward with a GELU gate.
        Geglu = "Geglu",
        /// Gated feed-forward with a SiLU gate.
        Swiglu = "Swiglu",
        /// A type of the user's implementing the runtime's `Activation` trait
        /// (`activation: SquaredRelu`); the declared model's `DeclaredModel::ACTIVATION_NAME`
        /// says which. Not written in declarations, and last (see `BUILT_IN_NAMES`).
        Custom = "Custom",
    }
}

impl Activation {
    /// The names a declaration's `activation:` takes as built-ins: every name but `Custom`'s,
    /// which stands for a type of the user's.
    pub const BUILT_IN_NAMES: &'static [&'static str] = crate::all_but_last(Self::NAMES);
}
