//! The keys and values of an attention layer kept between decoding steps, stored as the fused
//! forward kernel reads them, so that a new position costs its own rows and nothing more.

use super::kernel::BLOCK_K;
use super::pack::packed_len;
use super::params::{expect_len, AttnDims};
use crate::error::AttnError;

/// Keys and values of every (batch, head), grown one position at a time: the keys transposed in
/// blocks of [`BLOCK_K`] (the layout [`forward`](super::forward) packs its keys into on every
/// call), the values row by row. Appending writes only the new rows, in place; the buffers grow
/// by whole key blocks, as a `Vec` grows.
///
/// **PyTorch equivalent**: one layer's entry of Hugging Face's `DynamicCache`, but kept in the
/// kernel's own layout instead of `[B, H, S, D]` tensors concatenated each step.
///
/// # Shapes
/// Appends `[B, H, n, Dk]` keys and `[B, H, n, Dv]` values; holds `[B, H, len, ·]`.
#[derive(Clone, Debug, PartialEq)]
pub struct KvRows {
    batch: usize,
    heads: usize,
    head_dim: usize,
    value_dim: usize,
    len: usize,
    /// Per (batch, head): the keys packed transposed, `len` rounded up to whole blocks.
    keys: Vec<Vec<f32>>,
    /// Per (batch, head): the values, `len` rows.
    values: Vec<Vec<f32>>,
}

impl KvRows {
    /// An empty store for `batch` sequences of `heads` heads.
    pub fn new(batch: usize, heads: usize, head_dim: usize, value_dim: usize) -> Self {
        KvRows {
            batch,
            heads,
            head_dim,
            value_dim,
            len: 0,
            keys: vec![Vec::new(); batch * heads],
            values: vec![Vec::new(); batch * heads],
        }
    }

    /// Positions held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no position is held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends `n` positions: `k: [B, H, n, Dk]`, `v: [B, H, n, Dv]`, row-major.
    ///
    /// # Errors
    /// [`AttnError::ShapeMismatch`] when the slices are not whole rows of every (batch, head).
    pub fn append(&mut self, k: &[f32], v: &[f32]) -> Result<(), AttnError> {
        let problems = self.batch * self.heads;
        let (dk, dv) = (self.head_dim, self.value_dim);
        let n = k.len().checked_div(problems * dk).unwrap_or(0);
        expect_len("k", problems * n * dk, k.len())?;
        expect_len("v", problems * n * dv, v.len())?;
        let len = self.len + n;
        for bh in 0..problems {
            let keys = &mut self.keys[bh];
            keys.resize(packed_len(len, dk), 0.0);
            for (r, row) in k[bh * n * dk..][..n * dk].chunks_exact(dk).enumerate() {
                let j = self.len + r;
                let block = &mut keys[(j / BLOCK_K) * BLOCK_K * dk..];
                for (dd, &x) in row.iter().enumerate() {
                    block[dd * BLOCK_K + j % BLOCK_K] = x;
                }
            }
            self.values[bh].extend_from_slice(&v[bh * n * dv..][..n * dv]);
        }
        self.len = len;
        Ok(())
    }

    /// The store of the sequences `rows` name, in that order (a sequence may be named more
    /// than once, or not at all): what a beam search keeps of its beams after a step.
    ///
    /// # Panics
    /// When a row is not below the batch size.
    pub fn select(&self, rows: &[usize]) -> KvRows {
        let pick = |per_bh: &[Vec<f32>]| -> Vec<Vec<f32>> {
            rows.iter()
                .flat_map(|&r| {
                    assert!(r < self.batch, "KvRows::select: row {r} of {}", self.batch);
                    per_bh[r * self.heads..][..self.heads].iter().cloned()
                })
                .collect()
        };
        KvRows {
            batch: rows.len(),
            heads: self.heads,
            head_dim: self.head_dim,
            value_dim: self.value_dim,
            len: self.len,
            keys: pick(&self.keys),
            values: pick(&self.values),
        }
    }

    /// The packed keys of (batch, head) `bh`.
    pub(super) fn packed_keys(&self, bh: usize) -> &[f32] {
        &self.keys[bh]
    }

    /// The values of (batch, head) `bh`, `[len, Dv]`.
    pub(super) fn values(&self, bh: usize) -> &[f32] {
        &self.values[bh]
    }

    /// Checks that a call of sizes `dims` reads this store: same batch, heads and widths, and
    /// `k_len` its length.
    pub(super) fn expect_dims(&self, dims: &AttnDims) -> Result<(), AttnError> {
        let held = AttnDims {
            batch: self.batch,
            heads: self.heads,
            q_len: dims.q_len,
            k_len: self.len,
            head_dim: self.head_dim,
            value_dim: self.value_dim,
        };
        if held != *dims {
            return Err(AttnError::ShapeMismatch {
                path: "fused_attention.kv_rows".into(),
                expected: format!("{held:?}"),
                got: format!("{dims:?}"),
            });
        }
        Ok(())
    }
}
