//! What can be wrong with a configuration spec of [`crate::ENV_VAR`].

/// A configuration spec's mistake: the kernels that read the spec turn it into their own error,
/// with the fix.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    /// An item without `=`.
    #[error("`{0}` is not key=value")]
    NotKeyValue(String),
    /// An instruction set with no name among [`crate::Isa::ALL`].
    #[error("unknown isa `{0}`")]
    UnknownIsa(String),
    /// An instruction set this CPU lacks.
    #[error("this CPU has no {0}")]
    MissingIsa(&'static str),
    /// A number outside the choices its key allows.
    #[error("{key} `{value}` is not one of {choices:?}")]
    NotAChoice {
        /// The key.
        key: &'static str,
        /// The value as written.
        value: String,
        /// What the key allows.
        choices: &'static [usize],
    },
}
