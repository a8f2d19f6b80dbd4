//! What one fused attention call is about: sizes, scale, mask and dropout, as plain data on
//! slices (no tensors), plus the visible key range of each query row.

use crate::error::AttnError;

/// The sizes of one fused attention call.
///
/// # Shapes
/// `q: [batch, heads, q_len, head_dim]`, `k: [batch, heads, k_len, head_dim]`,
/// `v: [batch, heads, k_len, value_dim]`, output `[batch, heads, q_len, value_dim]`, all
/// contiguous row-major.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttnDims {
    /// B.
    pub batch: usize,
    /// H.
    pub heads: usize,
    /// Sq, the number of queries.
    pub q_len: usize,
    /// Sk, the number of keys and values.
    pub k_len: usize,
    /// Dk, the width of queries and keys.
    pub head_dim: usize,
    /// Dv, the width of values and of the output.
    pub value_dim: usize,
}

impl AttnDims {
    /// `B · H`, the number of independent attention problems.
    pub fn problems(&self) -> usize {
        self.batch * self.heads
    }

    /// Element counts of `(q, k, v, out, lse)`.
    pub fn lens(&self) -> (usize, usize, usize, usize, usize) {
        let bh = self.problems();
        (
            bh * self.q_len * self.head_dim,
            bh * self.k_len * self.head_dim,
            bh * self.k_len * self.value_dim,
            bh * self.q_len * self.value_dim,
            bh * self.q_len,
        )
    }
}

/// An arbitrary boolean mask seen by the kernel: `true` = may attend, `[Sq, Sk]` shared over the
/// batch or `[B, Sq, Sk]` per sequence, row-major.
#[derive(Clone, Copy, Debug)]
pub struct AllowedKeys<'a> {
    /// The mask entries.
    pub data: &'a [bool],
    /// Whether there is one `[Sq, Sk]` mask per sequence of the batch.
    pub per_batch: bool,
}

/// The mask as the kernel sees it: the same constraints as
/// [`AttentionMask`](crate::attention::AttentionMask), ANDed.
///
/// Causal, window and key lengths give each query row one contiguous range of visible keys, which
/// the kernel uses to skip whole tiles; the boolean mask is tested element by element inside the
/// tiles that remain.
#[derive(Clone, Copy, Debug, Default)]
pub struct KernelMask<'a> {
    /// Query `i` sees keys `j <= i` (top-left aligned).
    pub causal: bool,
    /// Per-sequence key lengths: keys `j >= lengths[b]` are padding.
    pub key_lengths: Option<&'a [usize]>,
    /// Query `i` sees keys with `|i - j| <= window`.
    pub window: Option<usize>,
    /// An arbitrary boolean mask.
    pub allowed: Option<AllowedKeys<'a>>,
}

impl KernelMask<'_> {
    /// The half-open range of keys query `i` of sequence `b` may see before the boolean mask,
    /// empty (`lo == hi`) when none; both ends are non-decreasing in `i`.
    pub fn key_range(&self, b: usize, i: usize, k_len: usize) -> (usize, usize) {
        let mut lo = 0;
        let mut hi = k_len;
        if self.causal {
            hi = hi.min(i.saturating_add(1));
        }
        if let Some(w) = self.window {
            lo = i.saturating_sub(w);
            hi = hi.min(i.saturating_add(w).saturating_add(1));
        }
        if let Some(lengths) = self.key_lengths {
            hi = hi.min(lengths.get(b).copied().unwrap_or(0));
        }
        let lo = lo.min(k_len);
        (lo, hi.max(lo))
    }

    /// The boolean mask row of query `i` in sequence `b`, `Sk` entries, if there is a mask.
    pub fn allowed_row(&self, b: usize, i: usize, q_len: usize, k_len: usize) -> Option<&[bool]> {
        self.allowed.map(|m| {
            let b = if m.per_batch { b } else { 0 };
            &m.data[(b * q_len + i) * k_len..][..k_len]
        })
    }

    fn check(&self, dims: &AttnDims) -> Result<(), AttnError> {
        if let Some(lengths) = self.key_lengths {
            if lengths.len() != dims.batch {
                return Err(AttnError::mismatch(
                    "fused_attention.mask.key_lengths",
                    dims.batch,
                    lengths.len(),
                ));
            }
        }
        if self.window == Some(0) {
            return Err(AttnError::InvalidMask {
                reason: "a local attention window of 0".into(),
                fix: "use a window >= 1, or no window".into(),
            });
        }
        if let Some(m) = self.allowed {
            let n = if m.per_batch { dims.batch } else { 1 } * dims.q_len * dims.k_len;
            if m.data.len() != n {
                return Err(AttnError::mismatch(
                    "fused_attention.mask.allowed",
                    n,
                    m.data.len(),
                ));
            }
        }
        Ok(())
    }
}

/// Attention-weight dropout for the fused kernel: keep probability `1 - p`, kept weights scaled by
/// `1 / (1 - p)`, the keep decision of weight `(b, h, i, j)` a hash of `(seed, b, h, i, j)`, so
/// the backward pass regenerates the forward's mask without storing it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct KernelDropout {
    /// The drop probability, in `[0, 1)`.
    pub p: f32,
    /// The seed of this call (drawn from the device per call).
    pub seed: u64,
}

/// Everything one fused attention call needs besides the tensors.
#[derive(Clone, Copy, Debug)]
pub struct FusedParams<'a> {
    /// Sizes.
    pub dims: AttnDims,
    /// The factor applied to `q · kᵀ` (e.g. `1/sqrt(head_dim)`).
    pub scale: f32,
    /// Which keys each query may see.
    pub mask: KernelMask<'a>,
    /// Dropout on the weights (training), or `None`.
    pub dropout: Option<KernelDropout>,
}

impl FusedParams<'_> {
    /// Checks the mask and dropout against the sizes, and the head dims (the kernel needs
    /// `head_dim, value_dim >= 1`).
    pub(crate) fn check(&self) -> Result<(), AttnError> {
        if self.dims.head_dim == 0 || self.dims.value_dim == 0 {
            return Err(AttnError::InvalidInput {
                reason: format!(
                    "fused attention needs head dims >= 1, got head_dim {} and value_dim {}",
                    self.dims.head_dim, self.dims.value_dim
                ),
                fix: "use the composite kernel (AttentionKernel::Composite) for empty heads".into(),
            });
        }
        if let Some(d) = self.dropout {
            if !(0.0..1.0).contains(&d.p) {
                return Err(AttnError::InvalidHyperParameter {
                    name: "dropout",
                    value: d.p.to_string(),
                    requirement: "must be in [0, 1)",
                });
            }
        }
        self.mask.check(&self.dims)
    }
}

/// Checks that a slice holds `expected` values.
pub(crate) fn expect_len(what: &str, expected: usize, got: usize) -> Result<(), AttnError> {
    if expected == got {
        Ok(())
    } else {
        Err(AttnError::mismatch(
            format!("fused_attention.{what}.len"),
            expected,
            got,
        ))
    }
}
