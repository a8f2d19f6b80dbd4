//! Dot-product and scaled dot-product attention over per-head queries, keys and values.

use dfdx::prelude::*;

use super::{
    core::{attend_erased, realize_output},
    fused,
    multi_head::onto_tape,
    AttentionKernel, AttentionOptions, AttnOutput, Scale,
};
use crate::error::{expect_dim, AttnError, DeviceResultExt};
use crate::kernels::cpu_op::{realized, Dyn4};

/// The output of [`try_scaled_dot_product_attention`]: context `[B, H, Sq, Dv]`, weights
/// `[B, H, Sq, Sk]`.
pub type SdpaOutput<B, H, Sq, Sk, Dv, E, D, T> =
    AttnOutput<(B, H, Sq, Dv), (B, H, Sq, Sk), E, D, T>;

/// Scaled dot-product attention: `softmax(q · kᵀ · scale + mask) · v`.
///
/// The scale comes from `opts.scale` (`1/sqrt(d_k)` by default; [`Scale::Unscaled`] gives the
/// basic dot-product attention of [`try_dot_product_attention`]). Batch, heads and sequence
/// lengths and head dims may be runtime (`usize`) or compile-time (`Const<N>`) dimensions; with
/// compile-time head dims a key of the wrong width does not type-check, with runtime ones it is an
/// error.
///
/// # Shapes
/// - `q`: `[B, H, Sq, Dk]`, `k`: `[B, H, Sk, Dk]`, `v`: `[B, H, Sk, Dv]`
/// - returns `context: [B, H, Sq, Dv]`, `weights: [B, H, Sq, Sk]`
///
/// **PyTorch equivalent**: `F.scaled_dot_product_attention(q, k, v, attn_mask, dropout_p,
/// is_causal, scale)`, which returns no weights.
///
/// ```
/// use attn_runtime::prelude::*;
/// let dev: Cpu = Default::default();
/// let q: Tensor<Rank4<1, 2, 3, 4>, f32, _> = dev.sample_normal();
/// let k: Tensor<Rank4<1, 2, 5, 4>, f32, _> = dev.sample_normal();
/// let v: Tensor<Rank4<1, 2, 5, 6>, f32, _> = dev.sample_normal();
/// let out = try_scaled_dot_product_attention(q, k, v, &AttentionOptions::default()).unwrap();
/// let weights = out.weights.unwrap().array();
/// let row_sum: f32 = weights[0][1][2].iter().sum();
/// assert!((row_sum - 1.0).abs() < 1e-6);
/// ```
///
/// # Errors
/// A [`AttnError::ShapeMismatch`] naming the dimension when runtime sizes disagree, an
/// [`AttnError::InvalidMask`] when the mask does not fit.
pub fn try_scaled_dot_product_attention<B, H, Sq, Sk, Dk, Dv, E, D, T, Tk, Tv>(
    q: Tensor<(B, H, Sq, Dk), E, D, T>,
    k: Tensor<(B, H, Sk, Dk), E, D, Tk>,
    v: Tensor<(B, H, Sk, Dv), E, D, Tv>,
    opts: &AttentionOptions,
) -> Result<SdpaOutput<B, H, Sq, Sk, Dv, E, D, T>, AttnError>
where
    B: Dim,
    H: Dim,
    Sq: Dim,
    Sk: Dim,
    Dk: Dim,
    Dv: Dim,
    E: Dtype,
    D: Device<E>,
    T: Tape<E, D> + 'static + Merge<Tk> + Merge<Tv>,
    Tk: Tape<E, D> + 'static,
    Tv: Tape<E, D> + 'static,
{
    let (qs, ks, vs) = (*q.shape(), *k.shape(), *v.shape());
    expect_dim("attention.key.batch", qs.0.size(), ks.0.size())?;
    expect_dim("attention.key.heads", qs.1.size(), ks.1.size())?;
    expect_dim("attention.key.head_dim", qs.3.size(), ks.3.size())?;
    expect_dim("attention.value.batch", qs.0.size(), vs.0.size())?;
    expect_dim("attention.value.heads", qs.1.size(), vs.1.size())?;
    expect_dim("attention.value.seq_len", ks.2.size(), vs.2.size())?;
    // Keys and values join the query's tape so their reshapes are recorded even when they came
    // without one (dfdx's idiom of threading one tape through the query).
    let k = onto_tape::<_, _, _, T, _>(k);
    let v = onto_tape::<_, _, _, T, _>(v);
    let out = (kernels::<E, D, T>()?.sdpa)(
        realized::<Dyn4, _, _, _, _>(q)?,
        realized(k)?,
        realized(v)?,
        opts,
    )?;
    realize_output(out)
}

kernel_tables! {
    /// This module's kernel, compiled once in attn-runtime (see `kernel_tables!`).
    struct SdpaKernels {
        sdpa: fn(
            Tensor<Dyn4, E, D, T>,
            Tensor<Dyn4, E, D, T>,
            Tensor<Dyn4, E, D, T>,
            &AttentionOptions,
        ) -> Result<AttnOutput<Dyn4, Dyn4, E, D, T>, AttnError>
            = sdpa_erased::<E, D, T>,
    }
}

/// [`try_scaled_dot_product_attention`] on run-time shapes, its sizes checked: compiled once per
/// tape type, whatever the models' sizes.
pub(crate) fn sdpa_erased<E, D, T>(
    q: Tensor<Dyn4, E, D, T>,
    k: Tensor<Dyn4, E, D, T>,
    v: Tensor<Dyn4, E, D, T>,
    opts: &AttentionOptions,
) -> Result<AttnOutput<Dyn4, Dyn4, E, D, T>, AttnError>
where
    E: Dtype,
    D: Device<E>,
    T: Tape<E, D> + 'static,
{
    let (head_dim, value_dim) = (q.shape().3, v.shape().3);
    if use_fused::<E, D>(opts, head_dim, value_dim)? {
        let context = fused::try_fused_sdpa(q, k, v, opts)?;
        return Ok(AttnOutput {
            context,
            weights: None,
        });
    }
    let factor = opts.scale.factor(head_dim);
    let q = if factor == 1.0 {
        q
    } else {
        let factor =
            E::from_f64(factor).ok_or_else(|| AttnError::device("scale overflows dtype"))?;
        q.try_mul(factor).dev()?
    };
    let scores = q
        .try_matmul(k.try_permute::<_, Axes4<0, 1, 3, 2>>().dev()?)
        .dev()?;
    attend_erased(scores, v, opts)
}

/// Whether the fused kernel computes this call (see [`AttentionKernel`]).
pub(crate) fn use_fused<E: Dtype, D: 'static>(
    opts: &AttentionOptions,
    head_dim: usize,
    value_dim: usize,
) -> Result<bool, AttnError> {
    let applies = crate::kernels::cpu_op::is_cpu_f32::<E, D>();
    match opts.kernel {
        AttentionKernel::Composite => Ok(false),
        AttentionKernel::Auto => Ok(applies && !opts.need_weights && head_dim > 0 && value_dim > 0),
        AttentionKernel::Fused if !applies => Err(AttnError::InvalidInput {
            reason: "AttentionKernel::Fused runs on f32 tensors on the Cpu device only".into(),
            fix: "use AttentionKernel::Auto, which takes the composite kernel elsewhere".into(),
        }),
        AttentionKernel::Fused if opts.need_weights => Err(AttnError::InvalidInput {
            reason: "AttentionKernel::Fused never materialises the attention weights".into(),
            fix: "call .skip_weights() on the options, or use AttentionKernel::Composite to get \
                  the weights"
                .into(),
        }),
        AttentionKernel::Fused => Ok(true),
    }
}

/// Basic (unscaled) dot-product attention: `softmax(q · kᵀ + mask) · v`.
///
/// The same computation as [`try_scaled_dot_product_attention`] with [`Scale::Unscaled`],
/// whatever `opts.scale` says.
///
/// # Shapes
/// - `q`: `[B, H, Sq, Dk]`, `k`: `[B, H, Sk, Dk]`, `v`: `[B, H, Sk, Dv]`
/// - returns `context: [B, H, Sq, Dv]`, `weights: [B, H, Sq, Sk]`
///
/// **PyTorch equivalent**: `F.scaled_dot_product_attention(q, k, v, scale=1.0)`.
pub fn try_dot_product_attention<B, H, Sq, Sk, Dk, Dv, E, D, T, Tk, Tv>(
    q: Tensor<(B, H, Sq, Dk), E, D, T>,
    k: Tensor<(B, H, Sk, Dk), E, D, Tk>,
    v: Tensor<(B, H, Sk, Dv), E, D, Tv>,
    opts: &AttentionOptions,
) -> Result<SdpaOutput<B, H, Sq, Sk, Dv, E, D, T>, AttnError>
where
    B: Dim,
    H: Dim,
    Sq: Dim,
    Sk: Dim,
    Dk: Dim,
    Dv: Dim,
    E: Dtype,
    D: Device<E>,
    T: Tape<E, D> + 'static + Merge<Tk> + Merge<Tv>,
    Tk: Tape<E, D> + 'static,
    Tv: Tape<E, D> + 'static,
{
    let opts = opts.clone().scale(Scale::Unscaled);
    try_scaled_dot_product_attention(q, k, v, &opts)
}
