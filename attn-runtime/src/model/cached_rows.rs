//! The per-row state of a transformer encoder-decoder's decoding session: one key/value cache
//! per decoder block, the rows' source lengths and the attention options.

use dfdx::prelude::*;

use super::decoding_session::RowState;
use crate::attention::{AttentionMask, AttentionOptions};
use crate::error::AttnError;
use crate::transformer::BlockCache;

/// The state of a [`DecodingSession`](super::DecodingSession) over a transformer decoder (see
/// the module docs); [`RowState::try_select`] selects every block's cache
/// ([`BlockCache::try_selected`]) and the key lengths by the parents.
///
/// **PyTorch equivalent**: an encoder-decoder's `past_key_values` (self- and cross-attention
/// keys and values per layer) with its encoder's attention mask.
pub struct CachedRows<const H: usize, E: Dtype, D: Storage<E>> {
    /// One cache per decoder block, one row per current row.
    pub caches: Vec<BlockCache<H, E, D>>,
    /// Each current row's source length (the cross-attention's key lengths).
    pub lengths: Vec<usize>,
    /// The decoder's causal self-attention options.
    pub self_opts: AttentionOptions,
    /// The cross-attention options, their key lengths the rows'.
    pub cross_opts: AttentionOptions,
}

impl<const H: usize, E: Dtype, D: Device<E>> RowState for CachedRows<H, E, D> {
    fn try_select(&self, parents: &[usize]) -> Result<Self, AttnError> {
        let caches = self
            .caches
            .iter()
            .map(|cache| cache.try_selected(parents))
            .collect::<Result<Vec<_>, _>>()?;
        let lengths: Vec<usize> = parents.iter().map(|&p| self.lengths[p]).collect();
        Ok(CachedRows {
            caches,
            cross_opts: AttentionOptions {
                mask: AttentionMask::none().key_lengths(lengths.clone()),
                ..self.cross_opts.clone()
            },
            lengths,
            self_opts: self.self_opts.clone(),
        })
    }
}
