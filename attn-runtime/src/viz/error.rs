//! The error type of the visualisation layer.

/// What can go wrong when rendering attention weights or computing statistics on them.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum VizError {
    /// A buffer whose length does not match the shape it was given with.
    #[error("size mismatch for {what}: expected {expected}, got {got}")]
    SizeMismatch {
        /// Which input, e.g. `weights` or `layer 2`.
        what: String,
        /// The length the shape implies.
        expected: usize,
        /// The length passed.
        got: usize,
    },
    /// A NaN or infinite value.
    #[error("non-finite value {value} in {what} at index {index}")]
    NonFinite {
        /// Which input.
        what: String,
        /// The flat index of the value.
        index: usize,
        /// The value itself.
        value: f32,
    },
    /// A negative value where a probability or attention weight was expected.
    #[error("negative value {value} in {what} at index {index}; attention weights must be >= 0")]
    Negative {
        /// Which input.
        what: String,
        /// The flat index of the value.
        index: usize,
        /// The value itself.
        value: f32,
    },
    /// A query row whose weights sum to zero, so it is no distribution.
    #[error("row {row} of {what} sums to zero; every query row needs some attention mass")]
    ZeroRow {
        /// Which input.
        what: String,
        /// The query row.
        row: usize,
    },
    /// An input that must not be empty (no queries, no keys, no heat maps).
    #[error("{what} is empty")]
    Empty {
        /// What was empty.
        what: String,
    },
    /// An argument outside its valid range.
    #[error("invalid {name} = {value}: {requirement}")]
    InvalidArgument {
        /// The argument's name.
        name: &'static str,
        /// The value passed, printed.
        value: String,
        /// The valid range.
        requirement: &'static str,
    },
    /// The picture would be larger than the renderer allows.
    #[error("image of {width}x{height} pixels exceeds the limit of {limit} pixels")]
    TooLarge {
        /// Width in pixels.
        width: u64,
        /// Height in pixels.
        height: u64,
        /// The largest pixel count allowed.
        limit: u64,
    },
    /// The PNG encoder failed.
    #[error("PNG encoding failed: {0}")]
    Encode(String),
    /// The embedded font could not be loaded.
    #[error("font: {0}")]
    Font(String),
    /// The plotting library failed to draw.
    #[error("drawing failed: {0}")]
    Draw(String),
}

impl From<::png::EncodingError> for VizError {
    fn from(e: ::png::EncodingError) -> Self {
        VizError::Encode(e.to_string())
    }
}

/// Checks that every value of `values` is finite, naming `what` in the error.
pub(crate) fn check_finite(values: &[f32], what: &str) -> Result<(), VizError> {
    match values.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(VizError::NonFinite {
            what: what.to_string(),
            index,
            value: values[index],
        }),
        None => Ok(()),
    }
}

/// Checks that every value of `values` is finite and non-negative.
pub(crate) fn check_weights(values: &[f32], what: &str) -> Result<(), VizError> {
    check_finite(values, what)?;
    match values.iter().position(|v| *v < 0.0) {
        Some(index) => Err(VizError::Negative {
            what: what.to_string(),
            index,
            value: values[index],
        }),
        None => Ok(()),
    }
}

/// Checks that `got` equals `expected`, naming `what` in the error.
pub(crate) fn check_len(what: &str, expected: usize, got: usize) -> Result<(), VizError> {
    if expected == got {
        Ok(())
    } else {
        Err(VizError::SizeMismatch {
            what: what.to_string(),
            expected,
            got,
        })
    }
}
