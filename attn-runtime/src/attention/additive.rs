//! Additive (Bahdanau) attention: `score(s, h) = vᵀ tanh(W s + U h + b)`.

use dfdx::prelude::*;

use super::{core::try_attend, multi_head::onto_tape, AttentionOptions, AttnOutput, Projection};
use crate::error::{expect_dim, AttnError, DeviceResultExt};
use crate::TensorCollection;

/// The output of a scoring attention over several queries: context `[B, Sq, Dv]`, weights
/// `[B, Sq, Sk]`.
pub type ScoredOutput<B, Sq, Sk, const DV: usize, E, D, T> =
    AttnOutput<(B, Sq, Const<DV>), (B, Sq, Sk), E, D, T>;

/// The output of one decoder step: context `[B, Dv]`, weights `[B, Sk]`.
pub type StepOutput<B, Sk, const DV: usize, E, D, T> = AttnOutput<(B, Const<DV>), (B, Sk), E, D, T>;

/// Additive attention of Bahdanau et al. (2015) for a decoder state over encoder states.
///
/// `score(s_i, h_j) = vᵀ tanh(W s_i + U h_j + b)`, then the masked softmax and weighted sum of the
/// shared attention seam. `Q` is the query (decoder state) width, `K` the key (encoder state)
/// width, `A` the attention hidden width. Parameters: `query_proj.weight [A, Q]`,
/// `key_proj.weight [A, K]`, `key_proj.bias [A]`, `score_proj.weight [1, A]`.
///
/// # Shapes
/// - [`try_attend`](Self::try_attend): query `[B, Sq, Q]`, keys `[B, Sk, K]`, values `[B, Sk, Dv]`
///   → context `[B, Sq, Dv]`, weights `[B, Sq, Sk]`
/// - [`try_attend_step`](Self::try_attend_step): query `[B, Q]` → context `[B, Dv]`, weights `[B, Sk]`
///
/// **PyTorch equivalent** (no built-in module): `v(torch.tanh(W(s)[:, :, None] + U(h)[:, None]))`
/// with `W = nn.Linear(Q, A, bias=False)`, `U = nn.Linear(K, A)`, `v = nn.Linear(A, 1, bias=False)`,
/// then `softmax` over keys and `weights @ values`.
#[derive(Clone, Debug, TensorCollection)]
pub struct AdditiveAttention<
    const Q: usize,
    const K: usize,
    const A: usize,
    E: Dtype,
    D: Storage<E>,
> {
    /// `W`: query projection `Q -> A`, no bias.
    pub query_proj: Projection<Q, A, E, D, false>,
    /// `U` and `b`: key projection `K -> A`.
    pub key_proj: Projection<K, A, E, D, true>,
    /// `v`: `A -> 1`, no bias.
    pub score_proj: Projection<A, 1, E, D, false>,
}

/// Builder of [`AdditiveAttention`].
#[derive(Clone, Copy, Debug, Default)]
pub struct AdditiveAttentionBuilder<const Q: usize, const K: usize, const A: usize>;

impl<const Q: usize, const K: usize, const A: usize, E: Dtype, D: Device<E>> BuildOnDevice<D, E>
    for AdditiveAttentionBuilder<Q, K, A>
where
    AdditiveAttention<Q, K, A, E, D>: BuildModule<D, E>,
{
    type Built = AdditiveAttention<Q, K, A, E, D>;
}

impl<const Q: usize, const K: usize, const A: usize, E: Dtype, D: Device<E>>
    AdditiveAttention<Q, K, A, E, D>
{
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
        let (b, sq, _) = *query.shape();
        let sk = keys.shape().1;
        expect_dim(
            "additive_attention.keys.batch",
            b.size(),
            keys.shape().0.size(),
        )?;
        expect_dim(
            "additive_attention.values.batch",
            b.size(),
            values.shape().0.size(),
        )?;
        expect_dim(
            "additive_attention.values.seq_len",
            sk.size(),
            values.shape().1.size(),
        )?;
        let hidden = (b, sq, sk, Const::<A>);

        let wq = self
            .query_proj
            .try_forward_3d(query)?
            .try_broadcast_like::<_, Axis<2>>(&hidden)
            .dev()?;
        let uk = self
            .key_proj
            .try_forward_3d(onto_tape::<_, _, _, T, _>(keys))?
            .try_broadcast_like::<_, Axis<1>>(&hidden)
            .dev()?;
        let energy = wq.try_add(uk).dev()?.try_tanh().dev()?;
        let flat = energy
            .try_reshape_like(&(b.size() * sq.size() * sk.size(), Const::<A>))
            .dev()?;
        let scores = self
            .score_proj
            .try_forward_2d(flat)?
            .try_reshape_like(&(b, Const::<1>, sq, sk))
            .dev()?;
        let values = onto_tape::<_, _, _, T, _>(values)
            .try_reshape_like(&(b, Const::<1>, sk, Const::<DV>))
            .dev()?;
        single_head(try_attend(scores, values, opts)?, sk)
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

/// `[B, 1, Sq, Dv]`/`[B, 1, Sq, Sk]` → `[B, Sq, Dv]`/`[B, Sq, Sk]`.
pub(crate) fn single_head<B, Sq, Sk, const DV: usize, E, D, T>(
    out: AttnOutput<(B, Const<1>, Sq, Const<DV>), (B, Const<1>, Sq, Sk), E, D, T>,
    sk: Sk,
) -> Result<ScoredOutput<B, Sq, Sk, DV, E, D, T>, AttnError>
where
    B: Dim,
    Sq: Dim,
    Sk: Dim,
    E: Dtype,
    D: Device<E>,
    T: Tape<E, D> + 'static,
{
    let (b, _, sq, _) = *out.context.shape();
    let context = out.context.try_reshape_like(&(b, sq, Const::<DV>)).dev()?;
    let weights = match out.weights {
        Some(w) => Some(w.try_reshape_like(&(b, sq, sk)).dev()?),
        None => None,
    };
    Ok(AttnOutput { context, weights })
}

/// One query per sequence, `[B, Q]`, through `attend`, which takes queries `[B, 1, Q]`: its
/// `[B, 1, Dv]`/`[B, 1, Sk]` become `[B, Dv]`/`[B, Sk]`. The body of every layer's
/// `try_attend_step`.
pub(crate) fn attend_one_query<B, Sk, const Q: usize, const DV: usize, E, D, T>(
    query: Tensor<(B, Const<Q>), E, D, T>,
    attend: impl FnOnce(
        Tensor<(B, Const<1>, Const<Q>), E, D, T>,
    ) -> Result<ScoredOutput<B, Const<1>, Sk, DV, E, D, T>, AttnError>,
) -> Result<StepOutput<B, Sk, DV, E, D, T>, AttnError>
where
    B: Dim,
    Sk: Dim,
    E: Dtype,
    D: Device<E>,
    T: Tape<E, D> + 'static,
{
    let b = query.shape().0;
    let out = attend(query.try_reshape_like(&(b, Const::<1>, Const::<Q>)).dev()?)?;
    let context = out.context.try_reshape_like(&(b, Const::<DV>)).dev()?;
    let weights = match out.weights {
        Some(w) => {
            let sk = w.shape().2;
            Some(w.try_reshape_like(&(b, sk)).dev()?)
        }
        None => None,
    };
    Ok(AttnOutput { context, weights })
}
