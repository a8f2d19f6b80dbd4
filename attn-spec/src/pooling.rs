//! `pooling:` — how a classifier turns a sequence into one vector.

vocabulary! {
    /// A classifier's pooling.
    pub enum Pooling {
        /// The mean over the real (unpadded) positions.
        Mean = "Mean",
        /// The output at position 0, a marker token the data pipeline puts first (transformers).
        Cls = "Cls",
    }
}
