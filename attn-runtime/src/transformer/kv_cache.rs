//! Incremental decoding: a key/value cache per decoder layer, so each new target token costs one
//! row of attention instead of a full causal pass.

use dfdx::prelude::*;

use crate::transformer::NormExt;

use super::{DecoderBlock, EncoderBlock, FeedForwardNet, TransformerEncoder};
use crate::attention::fused::{
    forward_cached, AttnDims, FusedParams, HeadLayout, HeadRows, KvRows,
};
use crate::attention::{
    try_apply_rotary, AttentionMask, AttentionOptions, BoolMask, MultiHeadAttention, Rotary,
};
use crate::error::{AttnError, DeviceResultExt};
use crate::kernels::cpu_op::{
    buffer, f32_input, is_cpu_f32, realized, tensor_from_buffer, Dyn3, ONLY_CPU_F32,
};

/// Keys or values of one attention layer, `[B, H, S, M/H]`.
pub type HeadTensor<const H: usize, E, D> = Tensor<(usize, Const<H>, usize, usize), E, D>;

/// The cache of one decoder block: its self-attention keys and values so far, and the
/// cross-attention keys and values of the encoder output (computed once).
#[derive(Clone, Debug)]
pub struct BlockCache<const H: usize, E: Dtype, D: Storage<E>> {
    /// Self-attention keys and values, one row per decoded position.
    pub self_attn: SelfAttentionCache<H, E, D>,
    /// Cross-attention keys of the memory.
    pub cross_k: HeadTensor<H, E, D>,
    /// Cross-attention values of the memory.
    pub cross_v: HeadTensor<H, E, D>,
}

impl<const H: usize, E: Dtype, D: Storage<E>> BlockCache<H, E, D> {
    /// How many positions have been decoded.
    pub fn len(&self) -> usize {
        self.self_attn.len()
    }

    /// The cache of the sequences `rows` name, in that order (a sequence may be named more
    /// than once, or not at all): a beam search's beams after a step, each continuing the beam
    /// it names.
    ///
    /// # Shapes
    /// Every cached tensor `[B, H, S, W]` → `[rows.len(), H, S, W]`.
    ///
    /// **PyTorch equivalent**: `_reorder_cache` of a Hugging Face encoder-decoder: an
    /// `index_select(0, rows)` of every cached key and value.
    ///
    /// # Errors
    /// [`AttnError::InvalidInput`] for a row outside the batch; device errors.
    pub fn try_selected(&self, rows: &[usize]) -> Result<Self, AttnError>
    where
        D: Device<E>,
    {
        let batch = self.cross_k.shape().0;
        if let Some(&row) = rows.iter().find(|&&r| r >= batch) {
            return Err(AttnError::InvalidInput {
                reason: format!("row {row} of a decoding cache of {batch} sequences"),
                fix: "name rows of the previous step, each below its number of rows".into(),
            });
        }
        let dev = self.cross_k.device().clone();
        let idx = dev
            .try_tensor_from_vec(rows.to_vec(), (rows.len(),))
            .dev()?;
        let gather = |t: &HeadTensor<H, E, D>| -> Result<HeadTensor<H, E, D>, AttnError> {
            t.clone().try_gather(idx.clone()).dev()
        };
        let rows = match &self.self_attn.rows {
            Rows::Empty => Rows::Empty,
            Rows::Packed(packed) => Rows::Packed(packed.select(rows)),
            Rows::Tensors { k, v } => Rows::Tensors {
                k: gather(k)?,
                v: gather(v)?,
            },
        };
        Ok(BlockCache {
            self_attn: SelfAttentionCache { rows },
            cross_k: gather(&self.cross_k)?,
            cross_v: gather(&self.cross_v)?,
        })
    }

    /// Whether nothing has been decoded yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// `k`/`v` with `new_k`/`new_v`'s rows after their own (the tensor path, off the CPU).
fn append<const H: usize, E: Dtype, D: Device<E>>(
    old: Option<(HeadTensor<H, E, D>, HeadTensor<H, E, D>)>,
    new_k: HeadTensor<H, E, D>,
    new_v: HeadTensor<H, E, D>,
) -> Result<(HeadTensor<H, E, D>, HeadTensor<H, E, D>), AttnError> {
    match old {
        None => Ok((new_k, new_v)),
        Some((k, v)) => Ok((
            (k, new_k).try_concat_along(Axis::<2>).dev()?,
            (v, new_v).try_concat_along(Axis::<2>).dev()?,
        )),
    }
}

impl<const M: usize, const H: usize, E: Dtype, D: Device<E>> MultiHeadAttention<M, H, M, M, E, D> {
    /// Self-attention of new positions over every position so far: the new keys and values are
    /// appended to `cache` (rotated at their positions when `opts.rotary`), and the queries see
    /// the cached keys `opts.mask` allows at their positions (its causal and window
    /// constraints; key lengths and a boolean mask are read for the first sequence, so leave
    /// them out of incremental options).
    ///
    /// # Shapes
    /// `x: [B, S_new, M]` → `[B, S_new, M]`; the cache grows by `S_new` rows.
    pub fn try_attend_incremental(
        &self,
        x: Tensor<(usize, usize, Const<M>), E, D>,
        cache: &mut SelfAttentionCache<H, E, D>,
        opts: &AttentionOptions,
    ) -> Result<Tensor<(usize, usize, Const<M>), E, D>, AttnError> {
        let offset = cache.len();
        let x_len = x.shape().1;
        let q = self.try_project_query(x.clone())?;
        let (k, v) =
            self.try_project_key_value::<usize, usize, NoneTape, NoneTape, NoneTape>(x.clone(), x)?;
        let (q, k) = match &opts.rotary {
            Some(r) => {
                let r = Rotary {
                    offset: offset + r.offset,
                    ..*r
                };
                (try_apply_rotary(q, &r)?, try_apply_rotary(k, &r)?)
            }
            None => (q, k),
        };
        // the new queries sit at positions `offset..`: the declared constraints (causal, local
        // window) are read at those positions; one new query past a causal mask sees every key
        let new = x_len;
        let keys = offset + new;
        let allowed = |i: usize, j: usize| opts.mask.allows(0, i + offset, j);
        let every = (0..new).all(|i| (0..keys).all(|j| allowed(i, j)));
        let mask = if every {
            AttentionMask::none()
        } else {
            AttentionMask::none().allowed(BoolMask::from_fn(new, keys, allowed))
        };
        let opts = AttentionOptions {
            rotary: None,
            mask,
            ..opts.clone()
        };
        if is_cpu_f32::<E, D>() {
            return self.attend_rows(q, k, v, cache, &opts);
        }
        let old = match std::mem::take(&mut cache.rows) {
            Rows::Tensors { k, v } => Some((k, v)),
            _ => None,
        };
        let (k, v) = append(old, k, v)?;
        cache.rows = Rows::Tensors {
            k: k.clone(),
            v: v.clone(),
        };
        Ok(self.try_attend_heads(q, k, v, &opts)?.context)
    }

    /// The CPU path of [`Self::try_attend_incremental`]: the new rows go into the cache's
    /// [`KvRows`] in place and the fused kernel reads every cached row from there, so a step
    /// copies only its own rows (the tensor path copied the whole cache two or three times).
    fn attend_rows(
        &self,
        q: HeadTensor<H, E, D>,
        k: HeadTensor<H, E, D>,
        v: HeadTensor<H, E, D>,
        cache: &mut SelfAttentionCache<H, E, D>,
        opts: &AttentionOptions,
    ) -> Result<Tensor<(usize, usize, Const<M>), E, D>, AttnError> {
        let (b, _, n, w) = *q.shape();
        let dev = q.device().clone();
        let (Some(q), Some(k), Some(v)) = (f32_input(q), f32_input(k), f32_input(v)) else {
            unreachable!("{ONLY_CPU_F32}");
        };
        if !matches!(cache.rows, Rows::Packed(_)) {
            cache.rows = Rows::Packed(KvRows::new(b, H, w, w));
        }
        let Rows::Packed(rows) = &mut cache.rows else {
            unreachable!("set above");
        };
        // refused before the rows grow, so a failed step leaves the cache as it was
        opts.mask.validate(b, n, rows.len() + n)?;
        rows.append(&k, &v)?;
        let params = FusedParams {
            dims: AttnDims {
                batch: b,
                heads: H,
                q_len: n,
                k_len: rows.len(),
                head_dim: w,
                value_dim: w,
            },
            scale: opts.scale.factor(w) as f32,
            mask: opts.mask.kernel_view(),
            dropout: None,
        };
        let mut out = buffer::<E, D>(&dev, b * H * n * w).dev()?;
        let mut lse = buffer::<E, D>(&dev, b * H * n).dev()?;
        forward_cached(&params, &q, rows, &mut out, &mut lse)?;
        // [B, H, n, W] -> [B, n, H·W], as the fused op merges its output, then the output
        // projection
        let mut merged = buffer::<E, D>(&dev, out.len()).dev()?;
        let layout = HeadRows {
            batch: b,
            heads: H,
            seq: n,
            width: w,
        };
        layout.scatter(HeadLayout::Merged, &out, &mut merged);
        let context: Tensor<Dyn3, E, D> = tensor_from_buffer(&dev, (b, n, H * w), merged).dev()?;
        realized(self.erased()?.out.try_forward_3d(context)?)
    }
}

impl<const M: usize, const H: usize, const K: usize, Ffn, const PRE: bool, E, D>
    DecoderBlock<M, H, K, Ffn, PRE, E, D>
where
    E: Dtype,
    D: Device<E>,
    Ffn: FeedForwardNet<M, E, D>,
{
    /// A cache for decoding against `memory` (`[B, S, K]`): the cross-attention keys and values
    /// are projected once here.
    pub fn try_new_cache(
        &self,
        memory: &Tensor<(usize, usize, Const<K>), E, D>,
    ) -> Result<BlockCache<H, E, D>, AttnError> {
        let (cross_k, cross_v) = self
            .cross_attn
            .try_project_key_value::<usize, usize, NoneTape, NoneTape, NoneTape>(
                memory.clone(),
                memory.clone(),
            )?;
        Ok(BlockCache {
            self_attn: SelfAttentionCache::default(),
            cross_k,
            cross_v,
        })
    }

    /// The block on new target positions only, in evaluation mode, using and extending `cache`.
    /// Equals the rows of the full causal pass at those positions.
    ///
    /// # Shapes
    /// `x: [B, S_new, M]` → `[B, S_new, M]`.
    pub fn try_step(
        &self,
        x: Tensor<(usize, usize, Const<M>), E, D>,
        cache: &mut BlockCache<H, E, D>,
        self_opts: &AttentionOptions,
        cross_opts: &AttentionOptions,
    ) -> Result<Tensor<(usize, usize, Const<M>), E, D>, AttnError> {
        let self_attend = |x: Tensor<(usize, usize, Const<M>), E, D>,
                           cache: &mut BlockCache<H, E, D>| {
            self.self_attn
                .try_attend_incremental(x, &mut cache.self_attn, self_opts)
        };
        let cross_attend = |x: Tensor<(usize, usize, Const<M>), E, D>,
                            cache: &BlockCache<H, E, D>| {
            let q = self.cross_attn.try_project_query(x)?;
            Ok::<_, AttnError>(
                self.cross_attn
                    .try_attend_heads(q, cache.cross_k.clone(), cache.cross_v.clone(), cross_opts)?
                    .context,
            )
        };
        let ffn = |x| self.ffn.try_feed_forward(x, 0.0);
        let add = |a: Tensor<(usize, usize, Const<M>), E, D>,
                   b: Tensor<(usize, usize, Const<M>), E, D>| a.try_add(b).dev();
        if PRE {
            let x = add(x.clone(), self_attend(self.norm1.try_norm_3d(x)?, cache)?)?;
            let x = add(x.clone(), cross_attend(self.norm2.try_norm_3d(x)?, cache)?)?;
            add(x.clone(), ffn(self.norm3.try_norm_3d(x)?)?)
        } else {
            let x = self
                .norm1
                .try_norm_3d(add(x.clone(), self_attend(x, cache)?)?)?;
            let x = self
                .norm2
                .try_norm_3d(add(x.clone(), cross_attend(x, cache)?)?)?;
            self.norm3.try_norm_3d(add(x.clone(), ffn(x)?)?)
        }
    }
}

/// The keys and values one self-attention layer has seen so far: what a decoder-only model
/// keeps between generation steps. On the CPU in `f32` they are kept as the fused kernel reads
/// them ([`KvRows`]), written in place; elsewhere as `[B, H, S, M/H]` tensors.
///
/// **PyTorch equivalent**: one layer's entry of Hugging Face's `past_key_values`.
#[derive(Clone, Debug)]
pub struct SelfAttentionCache<const H: usize, E: Dtype, D: Storage<E>> {
    rows: Rows<H, E, D>,
}

/// Where a [`SelfAttentionCache`] keeps its rows.
#[derive(Clone, Debug, Default)]
enum Rows<const H: usize, E: Dtype, D: Storage<E>> {
    /// Nothing seen yet.
    #[default]
    Empty,
    /// `f32` on the CPU: in the fused kernel's layout.
    Packed(KvRows),
    /// Other dtypes and devices: tensors grown by concatenation.
    Tensors {
        k: HeadTensor<H, E, D>,
        v: HeadTensor<H, E, D>,
    },
}

impl<const H: usize, E: Dtype, D: Storage<E>> Default for SelfAttentionCache<H, E, D> {
    fn default() -> Self {
        SelfAttentionCache { rows: Rows::Empty }
    }
}

impl<const H: usize, E: Dtype, D: Storage<E>> SelfAttentionCache<H, E, D> {
    /// How many positions it holds.
    pub fn len(&self) -> usize {
        match &self.rows {
            Rows::Empty => 0,
            Rows::Packed(rows) => rows.len(),
            Rows::Tensors { k, .. } => k.shape().2,
        }
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<const M: usize, const H: usize, Ffn, const PRE: bool, E, D> EncoderBlock<M, H, Ffn, PRE, E, D>
where
    E: Dtype,
    D: Device<E>,
    Ffn: FeedForwardNet<M, E, D>,
{
    /// The block on new positions only, in evaluation mode, extending `cache`: equals the rows
    /// of the full pass at those positions under `opts`' causal mask.
    ///
    /// # Shapes
    /// `x: [B, S_new, M]` → `[B, S_new, M]`.
    pub fn try_step(
        &self,
        x: Tensor<(usize, usize, Const<M>), E, D>,
        cache: &mut SelfAttentionCache<H, E, D>,
        opts: &AttentionOptions,
    ) -> Result<Tensor<(usize, usize, Const<M>), E, D>, AttnError> {
        let attend = |x, cache: &mut SelfAttentionCache<H, E, D>| {
            self.self_attn.try_attend_incremental(x, cache, opts)
        };
        let ffn = |x| self.ffn.try_feed_forward(x, 0.0);
        let add = |a: Tensor<(usize, usize, Const<M>), E, D>,
                   b: Tensor<(usize, usize, Const<M>), E, D>| a.try_add(b).dev();
        if PRE {
            let x = add(x.clone(), attend(self.norm1.try_norm_3d(x)?, cache)?)?;
            add(x.clone(), ffn(self.norm2.try_norm_3d(x)?)?)
        } else {
            let x = self.norm1.try_norm_3d(add(x.clone(), attend(x, cache)?)?)?;
            self.norm2.try_norm_3d(add(x.clone(), ffn(x)?)?)
        }
    }
}

/// A stack of causal self-attention blocks that can run on new positions only, keeping each
/// block's keys and values: what generation with a key/value cache needs of a decoder-only
/// model's blocks.
pub trait CachedDecoder<const M: usize, E: Dtype, D: Device<E>> {
    /// The keys and values of every block.
    type Cache: Clone + std::fmt::Debug;

    /// An empty cache.
    fn new_cache(&self) -> Self::Cache;

    /// How many positions `cache` holds.
    fn cached(cache: &Self::Cache) -> usize;

    /// The stack (and its final norm) on new positions, extending `cache`; equals the rows of
    /// the full causal pass at those positions.
    ///
    /// # Shapes
    /// `x: [B, S_new, M]` → `[B, S_new, M]`.
    ///
    /// # Errors
    /// Device errors.
    fn try_step(
        &self,
        x: Tensor<(usize, usize, Const<M>), E, D>,
        cache: &mut Self::Cache,
        opts: &AttentionOptions,
    ) -> Result<Tensor<(usize, usize, Const<M>), E, D>, AttnError>;
}

impl<const M: usize, const H: usize, Ffn, const N: usize, const PRE: bool, E, D>
    CachedDecoder<M, E, D> for TransformerEncoder<M, H, Ffn, N, PRE, E, D>
where
    E: Dtype,
    D: Device<E>,
    Ffn: FeedForwardNet<M, E, D>,
{
    type Cache = Vec<SelfAttentionCache<H, E, D>>;

    fn new_cache(&self) -> Self::Cache {
        vec![SelfAttentionCache::default(); N]
    }

    fn cached(cache: &Self::Cache) -> usize {
        cache.first().map_or(0, SelfAttentionCache::len)
    }

    fn try_step(
        &self,
        x: Tensor<(usize, usize, Const<M>), E, D>,
        cache: &mut Self::Cache,
        opts: &AttentionOptions,
    ) -> Result<Tensor<(usize, usize, Const<M>), E, D>, AttnError> {
        let mut x = x;
        for (block, cache) in self.layers.modules.iter().zip(cache.iter_mut()) {
            x = block.try_step(x, cache, opts)?;
        }
        match &self.norm {
            Some(norm) => norm.try_norm_3d(x),
            None => Ok(x),
        }
    }
}
