//! The error type of the model zoo.

/// What can go wrong looking a model up.
#[derive(Debug, thiserror::Error)]
pub enum ModelsError {
    /// No zoo model has this name.
    #[error("unknown model `{name}`{}; available models: {}", nearest.map(|n| format!(" (did you mean `{n}`?)")).unwrap_or_default(), available.join(", "))]
    UnknownModel {
        /// The name asked for.
        name: String,
        /// Every registered name.
        available: Vec<&'static str>,
        /// The closest registered name, if one is close.
        nearest: Option<&'static str>,
    },
}
