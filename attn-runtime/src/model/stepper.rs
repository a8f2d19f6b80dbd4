//! Incremental decoding of one sequence: what generation asks of a language model.

use crate::error::AttnError;

/// A decoding session over one sequence that keeps what it has computed (a key/value cache), so
/// each new token costs work for that token alone. Made by
/// [`AttnModel::generator`](super::AttnModel::generator).
///
/// # Shapes
/// [`try_feed`](Self::try_feed) takes `n ≥ 1` new token ids and returns the logits `[V]` of the
/// token after the last of them.
///
/// **PyTorch equivalent**: a Hugging Face causal LM called with `past_key_values` and
/// `use_cache=True`, keeping the returned cache for the next call.
pub trait TokenStepper<E> {
    /// The most positions the session holds (the model's context).
    fn context(&self) -> usize;

    /// Positions fed so far.
    fn len(&self) -> usize;

    /// Whether nothing has been fed.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets every position fed (the cache is emptied).
    fn reset(&mut self);

    /// Feeds `ids` after the positions so far and returns the next token's logits.
    ///
    /// # Errors
    /// [`AttnError::InvalidInput`] for no ids, more than the context holds, or ids outside the
    /// vocabulary; device errors.
    fn try_feed(&mut self, ids: &[usize]) -> Result<Vec<E>, AttnError>;
}
