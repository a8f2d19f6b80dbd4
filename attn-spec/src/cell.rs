//! `cell:` — the recurrent cells.

vocabulary! {
    /// The cell of a recurrent model.
    pub enum Cell {
        /// Long short-term memory (four gates).
        Lstm = "Lstm",
        /// Gated recurrent unit (three gates).
        Gru = "Gru",
    }
}
