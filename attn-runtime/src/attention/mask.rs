//! Attention masks: causal, key padding, local window and arbitrary boolean masks, combinable.

use dfdx::prelude::*;

use super::fused::{AllowedKeys, KernelMask};
use crate::error::{AttnError, DeviceResultExt};

/// An arbitrary boolean mask where `true` means "this query may attend to this key".
///
/// This is the convention of PyTorch's `F.scaled_dot_product_attention(attn_mask=bool)`; note that
/// `nn.MultiheadAttention`'s boolean `attn_mask` means the opposite (`true` = masked out).
///
/// # Shapes
/// Either one `[Sq, Sk]` mask shared by every sequence of the batch, or one per sequence,
/// `[B, Sq, Sk]`, stored row-major.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BoolMask {
    batch: Option<usize>,
    queries: usize,
    keys: usize,
    allowed: Vec<bool>,
}

impl BoolMask {
    /// A `[Sq, Sk]` mask shared over the batch. Fails when `allowed.len() != queries * keys`.
    pub fn shared(queries: usize, keys: usize, allowed: Vec<bool>) -> Result<Self, AttnError> {
        Self::checked(None, queries, keys, allowed)
    }

    /// A `[B, Sq, Sk]` mask, one per sequence. Fails when `allowed.len() != batch * queries * keys`.
    pub fn per_sequence(
        batch: usize,
        queries: usize,
        keys: usize,
        allowed: Vec<bool>,
    ) -> Result<Self, AttnError> {
        Self::checked(Some(batch), queries, keys, allowed)
    }

    /// Builds a shared `[Sq, Sk]` mask from a predicate on (query, key) positions.
    pub fn from_fn(queries: usize, keys: usize, allowed: impl Fn(usize, usize) -> bool) -> Self {
        let allowed = (0..queries)
            .flat_map(|i| (0..keys).map(move |j| (i, j)))
            .map(|(i, j)| allowed(i, j))
            .collect();
        BoolMask {
            batch: None,
            queries,
            keys,
            allowed,
        }
    }

    fn checked(
        batch: Option<usize>,
        queries: usize,
        keys: usize,
        allowed: Vec<bool>,
    ) -> Result<Self, AttnError> {
        let expected = batch.unwrap_or(1) * queries * keys;
        if allowed.len() != expected {
            return Err(AttnError::InvalidMask {
                reason: format!(
                    "a boolean mask of shape {} needs {expected} entries, got {}",
                    shape_text(batch, queries, keys),
                    allowed.len()
                ),
                fix: "pass exactly one bool per (sequence, query, key), row-major".into(),
            });
        }
        Ok(BoolMask {
            batch,
            queries,
            keys,
            allowed,
        })
    }

    fn get(&self, b: usize, i: usize, j: usize) -> bool {
        let b = if self.batch.is_some() { b } else { 0 };
        self.allowed[(b * self.queries + i) * self.keys + j]
    }
}

fn shape_text(batch: Option<usize>, queries: usize, keys: usize) -> String {
    match batch {
        Some(b) => format!("[{b}, {queries}, {keys}]"),
        None => format!("[{queries}, {keys}]"),
    }
}

/// Which keys each query may attend to: the conjunction of every constraint set on it.
///
/// Built with chained methods; an empty mask (the default) lets every query see every key.
/// A query row with no allowed key gets zero weights and a zero context, never NaN.
///
/// ```
/// use attn_runtime::attention::AttentionMask;
/// // A decoder over right-padded sequences of lengths 3 and 5, seeing at most 2 tokens back.
/// let mask = AttentionMask::none().causal().key_lengths(vec![3, 5]).window(2);
/// assert!(mask.allows(1, 4, 2));
/// assert!(!mask.allows(0, 4, 3)); // padding of the first sequence
/// assert!(!mask.allows(1, 2, 3)); // the future
/// assert!(!mask.allows(1, 4, 1)); // outside the window
/// ```
///
/// **PyTorch equivalent**: `is_causal=True`, `key_padding_mask` (from lengths), and a boolean
/// `attn_mask`, ANDed together.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AttentionMask {
    causal: bool,
    key_lengths: Option<Vec<usize>>,
    window: Option<usize>,
    allowed: Option<BoolMask>,
}

impl AttentionMask {
    /// No constraint: every query sees every key.
    pub fn none() -> Self {
        Self::default()
    }

    /// Query `i` sees only keys `j <= i` (top-left aligned, as PyTorch's `is_causal`).
    pub fn causal(mut self) -> Self {
        self.causal = true;
        self
    }

    /// Key padding from per-sequence lengths: in sequence `b`, keys at `j >= lengths[b]` are padding.
    pub fn key_lengths(mut self, lengths: Vec<usize>) -> Self {
        self.key_lengths = Some(lengths);
        self
    }

    /// Local attention: query `i` sees keys `j` with `|i - j| <= window`. The window must be >= 1.
    pub fn window(mut self, window: usize) -> Self {
        self.window = Some(window);
        self
    }

    /// An arbitrary boolean mask (`true` = may attend), ANDed with the other constraints.
    pub fn allowed(mut self, mask: BoolMask) -> Self {
        self.allowed = Some(mask);
        self
    }

    /// Whether no constraint is set.
    pub fn is_none(&self) -> bool {
        *self == Self::default()
    }

    /// Whether query `i` of sequence `b` may attend to key `j`.
    ///
    /// Call after [`AttentionMask::validate`]; indices outside the validated shape read as masked.
    pub fn allows(&self, b: usize, i: usize, j: usize) -> bool {
        if self.causal && j > i {
            return false;
        }
        if let Some(w) = self.window {
            if i.abs_diff(j) > w {
                return false;
            }
        }
        if let Some(lengths) = &self.key_lengths {
            match lengths.get(b) {
                Some(&len) if j < len => {}
                _ => return false,
            }
        }
        if let Some(mask) = &self.allowed {
            if i >= mask.queries || j >= mask.keys || mask.batch.is_some_and(|n| b >= n) {
                return false;
            }
            return mask.get(b, i, j);
        }
        true
    }

    /// The mask as the fused kernel reads it (borrowing the boolean mask, if any).
    pub(crate) fn kernel_view(&self) -> KernelMask<'_> {
        KernelMask {
            causal: self.causal,
            key_lengths: self.key_lengths.as_deref(),
            window: self.window,
            allowed: self.allowed.as_ref().map(|m| AllowedKeys {
                data: &m.allowed,
                per_batch: m.batch.is_some(),
            }),
        }
    }

    /// Checks that the mask fits a batch of `batch` sequences, `queries` queries and `keys` keys.
    pub fn validate(&self, batch: usize, queries: usize, keys: usize) -> Result<(), AttnError> {
        if self.window == Some(0) {
            return Err(AttnError::InvalidMask {
                reason: "a local attention window of 0 lets each query see only its own position"
                    .into(),
                fix: "use a window >= 1 (query i sees keys i-w ..= i+w), or no window".into(),
            });
        }
        if let Some(lengths) = &self.key_lengths {
            if lengths.len() != batch {
                return Err(AttnError::InvalidMask {
                    reason: format!(
                        "{} key lengths were given for a batch of {batch} sequences",
                        lengths.len()
                    ),
                    fix: "pass one length per sequence of the batch".into(),
                });
            }
            if let Some((b, &len)) = lengths.iter().enumerate().find(|(_, &l)| l > keys) {
                return Err(AttnError::InvalidMask {
                    reason: format!(
                        "sequence {b} has length {len}, longer than the {keys} keys it is padded to"
                    ),
                    fix: "each length must be at most the padded sequence length".into(),
                });
            }
        }
        if let Some(mask) = &self.allowed {
            let batch_ok = mask.batch.is_none_or(|n| n == batch);
            if !batch_ok || mask.queries != queries || mask.keys != keys {
                return Err(AttnError::InvalidMask {
                    reason: format!(
                        "the boolean mask has shape {}, the attention scores have [{batch}, {queries}, {keys}]",
                        shape_text(mask.batch, mask.queries, mask.keys)
                    ),
                    fix: "build the mask as [queries, keys] or [batch, queries, keys] of these inputs"
                        .into(),
                });
            }
        }
        Ok(())
    }

    /// Resolves the mask for concrete sizes into an additive bias (0 or a huge negative number)
    /// and a keep factor (1 or 0), both `[B, Sq, Sk]`. `None` when nothing is masked.
    pub(crate) fn resolve<E: Dtype, D: Device<E>>(
        &self,
        device: &D,
        batch: usize,
        queries: usize,
        keys: usize,
    ) -> Result<Option<ResolvedMask<E, D>>, AttnError> {
        self.validate(batch, queries, keys)?;
        if self.is_none() {
            return Ok(None);
        }
        let n = batch * queries * keys;
        let mut bias = Vec::with_capacity(n);
        let mut keep = Vec::with_capacity(n);
        let (zero, one) = (E::default(), E::ONE);
        // Large enough that exp(bias - max) underflows to exactly 0 in f32 and f64, finite so that a
        // fully masked row stays NaN-free (it becomes uniform and the keep factor zeroes it).
        let blocked =
            E::from_f64(-1e30).ok_or_else(|| AttnError::device("dtype cannot hold -1e30"))?;
        let mut any_masked = false;
        for b in 0..batch {
            for i in 0..queries {
                for j in 0..keys {
                    let ok = self.allows(b, i, j);
                    any_masked |= !ok;
                    bias.push(if ok { zero } else { blocked });
                    keep.push(if ok { one } else { zero });
                }
            }
        }
        if !any_masked {
            return Ok(None);
        }
        let shape = (batch, queries, keys);
        Ok(Some(ResolvedMask {
            bias: device.try_tensor_from_vec(bias, shape).dev()?,
            keep: device.try_tensor_from_vec(keep, shape).dev()?,
        }))
    }
}

/// A mask resolved for concrete sizes, as tensors on the device.
pub(crate) struct ResolvedMask<E: Dtype, D: Storage<E>> {
    /// 0 where allowed, -1e30 where masked; added to the scores before the softmax.
    pub bias: Tensor<(usize, usize, usize), E, D>,
    /// 1 where allowed, 0 where masked; multiplied into the weights after the softmax.
    pub keep: Tensor<(usize, usize, usize), E, D>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constraints_combine_by_and() {
        let m = AttentionMask::none()
            .causal()
            .window(1)
            .allowed(BoolMask::from_fn(4, 4, |_, j| j != 0));
        let allowed: Vec<(usize, usize)> = (0..4)
            .flat_map(|i| (0..4).map(move |j| (i, j)))
            .filter(|&(i, j)| m.allows(0, i, j))
            .collect();
        assert_eq!(allowed, vec![(1, 1), (2, 1), (2, 2), (3, 2), (3, 3)]);
    }

    #[test]
    fn window_zero_is_an_error() {
        let err = AttentionMask::none()
            .window(0)
            .validate(1, 3, 3)
            .unwrap_err();
        assert!(err.to_string().contains("window >= 1"), "{err}");
    }

    #[test]
    fn padding_longer_than_sequence_is_an_error() {
        let err = AttentionMask::none()
            .key_lengths(vec![2, 7])
            .validate(2, 3, 5)
            .unwrap_err();
        assert!(err.to_string().contains("sequence 1 has length 7"), "{err}");
    }

    #[test]
    fn wrong_number_of_lengths_is_an_error() {
        let err = AttentionMask::none()
            .key_lengths(vec![2])
            .validate(2, 3, 5)
            .unwrap_err();
        assert!(err.to_string().contains("batch of 2"), "{err}");
    }

    #[test]
    fn bool_mask_of_wrong_shape_is_an_error() {
        assert!(BoolMask::shared(2, 3, vec![true; 5]).is_err());
        let m = AttentionMask::none().allowed(BoolMask::shared(2, 3, vec![true; 6]).unwrap());
        let err = m.validate(1, 3, 2).unwrap_err();
        assert!(err.to_string().contains("[2, 3]"), "{err}");
    }

    #[test]
    fn per_sequence_masks_index_by_batch() {
        let m = BoolMask::per_sequence(2, 1, 2, vec![true, false, false, true]).unwrap();
        let m = AttentionMask::none().allowed(m);
        assert!(m.allows(0, 0, 0) && !m.allows(0, 0, 1));
        assert!(!m.allows(1, 0, 0) && m.allows(1, 0, 1));
    }
}
