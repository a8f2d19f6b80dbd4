//! Luong's multiplicative attention: "general" (`score(s, h) = sᵀ W h`) and "dot" (`sᵀ h`).

use dfdx::prelude::*;

use super::{
    additive::{attend_one_query, single_head, ScoredOutput, StepOutput},
    multi_head::onto_tape,
    scaled_dot_product::try_dot_product_attention,
    AttentionOptions, Projection,
};
use crate::error::{expect_dim, AttnError, DeviceResultExt};
use crate::TensorCollection;

/// Luong et al. (2015) "general" attention for a decoder state over encoder states.
///
/// `score(s_i, h_j) = (W s_i) · h_j`, unscaled, then the shared masked softmax and weighted sum.
/// `Q` is the query (decoder state) width and `K` the key (encoder state) width; the one
/// parameter is `query_proj.weight [K, Q]`, so `W` maps the query into key space.
///
/// # Shapes
/// - [`try_attend`](Self::try_attend): query `[B, Sq, Q]`, keys `[B, Sk, K]`, values `[B, Sk, Dv]`
///   → context `[B, Sq, Dv]`, weights `[B, Sq, Sk]`
/// - [`try_attend_step`](Self::try_attend_step): query `[B, Q]` → context `[B, Dv]`, weights `[B, Sk]`
///
/// **PyTorch equivalent** (no built-in module): `softmax(W(s) @ h.transpose(1, 2)) @ values`
/// with `W = nn.Linear(Q, K, bias=False)`.
#[derive(Clone, Debug, TensorCollection)]
pub struct GeneralAttention<const Q: usize, const K: usize, E: Dtype, D: Storage<E>> {
    /// `W`: `Q -> K`, no bias.
    pub query_proj: Projection<Q, K, E, D, false>,
}

/// Builder of [`GeneralAttention`].
#[derive(Clone, Copy, Debug, Default)]
pub struct GeneralAttentionBuilder<const Q: usize, const K: usize>;

impl<const Q: usize, const K: usize, E: Dtype, D: Device<E>> BuildOnDevice<D, E>
    for GeneralAttentionBuilder<Q, K>
where
    GeneralAttention<Q, K, E, D>: BuildModule<D, E>,
{
    type Built = GeneralAttention<Q, K, E, D>;
}

impl<const Q: usize, const K: usize, E: Dtype, D: Device<E>> GeneralAttention<Q, K, E, D> {
    /// Attends each query over the keys; see the type's docs for shapes.
    ///
    /// # Errors
    /// [`AttnError::ShapeMismatch`] when batch sizes or key/value lengths disagree at run time;
    /// [`AttnError::InvalidMask`] when the mask does not fit (its shape is `[B, Sq, Sk]`).
    pub fn try_attend<B, Sq, Sk, const DV: usize, T, Tk, Tv>(
        &self,
        query: Tensor<(B, Sq, Const<Q>), E, D, T>,
        keys: Tensor<(B, Sk, Const<K>), E, D, Tk>,
        values: Tensor<(B, Sk, Const<DV>), E, D, Tv>,
        opts: &AttentionOptions,
    ) -> Result<ScoredOutput<B, Sq, Sk, DV, E, D, T>, AttnError>
    where
        B: Dim,
        Sq: Dim,
        Sk: Dim,
        T: Tape<E, D> + 'static + Merge<Tk> + Merge<Tv>,
        Tk: Tape<E, D> + 'static,
        Tv: Tape<E, D> + 'static,
    {
        let projected = self.query_proj.try_forward_3d(query)?;
        dot_attention(projected, keys, values, opts)
    }

    /// One decoder step: a single query per sequence; see the type's docs for shapes.
    ///
    /// # Errors
    /// As [`try_attend`](Self::try_attend).
    pub fn try_attend_step<B, Sk, const DV: usize, T, Tk, Tv>(
        &self,
        query: Tensor<(B, Const<Q>), E, D, T>,
        keys: Tensor<(B, Sk, Const<K>), E, D, Tk>,
        values: Tensor<(B, Sk, Const<DV>), E, D, Tv>,
        opts: &AttentionOptions,
    ) -> Result<StepOutput<B, Sk, DV, E, D, T>, AttnError>
    where
        B: Dim,
        Sk: Dim,
        T: Tape<E, D> + 'static + Merge<Tk> + Merge<Tv>,
        Tk: Tape<E, D> + 'static,
        Tv: Tape<E, D> + 'static,
    {
        attend_one_query(query, |query| self.try_attend(query, keys, values, opts))
    }
}

/// Luong "dot" attention, which has no parameters: `score(s, h) = s · h` (query and key widths
/// equal), unscaled.
///
/// # Shapes
/// query `[B, Sq, K]`, keys `[B, Sk, K]`, values `[B, Sk, Dv]` → context `[B, Sq, Dv]`, weights
/// `[B, Sq, Sk]`.
///
/// **PyTorch equivalent**: `softmax(s @ h.transpose(1, 2)) @ values`.
///
/// # Errors
/// As [`GeneralAttention::try_attend`].
pub fn dot_attention<B, Sq, Sk, const K: usize, const DV: usize, E, D, T, Tk, Tv>(
    query: Tensor<(B, Sq, Const<K>), E, D, T>,
    keys: Tensor<(B, Sk, Const<K>), E, D, Tk>,
    values: Tensor<(B, Sk, Const<DV>), E, D, Tv>,
    opts: &AttentionOptions,
) -> Result<ScoredOutput<B, Sq, Sk, DV, E, D, T>, AttnError>
where
    B: Dim,
    Sq: Dim,
    Sk: Dim,
    E: Dtype,
    D: Device<E>,
    T: Tape<E, D> + 'static + Merge<Tk> + Merge<Tv>,
    Tk: Tape<E, D> + 'static,
    Tv: Tape<E, D> + 'static,
{
    let (b, sq, _) = *query.shape();
    let sk = keys.shape().1;
    expect_dim("dot_attention.keys.batch", b.size(), keys.shape().0.size())?;
    expect_dim(
        "dot_attention.values.batch",
        b.size(),
        values.shape().0.size(),
    )?;
    expect_dim(
        "dot_attention.values.seq_len",
        sk.size(),
        values.shape().1.size(),
    )?;
    let q = query
        .try_reshape_like(&(b, Const::<1>, sq, Const::<K>))
        .dev()?;
    let k = onto_tape::<_, _, _, T, _>(keys)
        .try_reshape_like(&(b, Const::<1>, sk, Const::<K>))
        .dev()?;
    let v = onto_tape::<_, _, _, T, _>(values)
        .try_reshape_like(&(b, Const::<1>, sk, Const::<DV>))
        .dev()?;
    single_head(try_dot_product_attention(q, k, v, opts)?, sk)
}
