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
    }
}
