//! `norm:` — where transformer blocks put their layer norms.

vocabulary! {
    /// Layer norm placement in a transformer block.
    pub enum Norm {
        /// Before each sub-layer, inside the residual (and a final norm after the stack).
        Pre = "Pre",
        /// After each residual sum (the original transformer).
        Post = "Post",
    }
}
