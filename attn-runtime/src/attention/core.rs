//! The seam every attention variant computes through: masked softmax over scores, dropout,
//! and the weighted sum of values.

use dfdx::prelude::*;

use super::{multi_head::onto_tape, AttentionOptions, AttnOutput};
use crate::error::{expect_dim, AttnError, DeviceResultExt};
use crate::kernels::cpu_op::{realized, Dyn4};

/// Turns raw attention scores into weights and weights the values by them.
///
/// `weights = softmax(scores + mask_bias) * keep`, so masked keys get exactly zero weight and a
/// query with no visible key gets zero weights and a zero context (never NaN); dropout (training
/// mode only) follows the softmax, as in PyTorch; `context = dropout(weights) · v`.
///
/// Every scoring function (dot product, scaled dot product, additive, general) ends here, so a
/// fused kernel can replace this one function.
///
/// # Shapes
/// - `scores`: `[B, H, Sq, Sk]`
/// - `v`: `[B, H, Sk, Dv]`
/// - returns `context: [B, H, Sq, Dv]`, `weights: [B, H, Sq, Sk]`
///
/// # Errors
/// [`AttnError::ShapeMismatch`] when `v` disagrees with `scores` on B, H or Sk;
/// [`AttnError::InvalidMask`] when the mask does not fit; an invalid dropout probability.
pub fn try_attend<B, H, Sq, Sk, Dv, E, D, T, Tv>(
    scores: Tensor<(B, H, Sq, Sk), E, D, T>,
    v: Tensor<(B, H, Sk, Dv), E, D, Tv>,
    opts: &AttentionOptions,
) -> Result<AttnOutput<(B, H, Sq, Dv), (B, H, Sq, Sk), E, D, T>, AttnError>
where
    B: Dim,
    H: Dim,
    Sq: Dim,
    Sk: Dim,
    Dv: Dim,
    E: Dtype,
    D: Device<E>,
    T: Tape<E, D> + 'static + Merge<Tv>,
    Tv: Tape<E, D> + 'static,
{
    let v = onto_tape::<_, _, _, T, _>(v);
    let scores = realized::<Dyn4, _, _, _, _>(scores)?;
    let out = (kernels::<E, D, T>()?.attend)(scores, realized(v)?, opts)?;
    realize_output(out)
}

kernel_tables! {
    /// This module's kernel, compiled once in attn-runtime (see `kernel_tables!`).
    struct CoreKernels {
        attend: fn(
            Tensor<Dyn4, E, D, T>,
            Tensor<Dyn4, E, D, T>,
            &AttentionOptions,
        ) -> Result<AttnOutput<Dyn4, Dyn4, E, D, T>, AttnError>
            = attend_erased::<E, D, T>,
    }
}

/// [`try_attend`] on run-time shapes: compiled once per tape type, whatever the models' sizes.
pub(crate) fn attend_erased<E, D, T>(
    scores: Tensor<Dyn4, E, D, T>,
    v: Tensor<Dyn4, E, D, T>,
    opts: &AttentionOptions,
) -> Result<AttnOutput<Dyn4, Dyn4, E, D, T>, AttnError>
where
    E: Dtype,
    D: Device<E>,
    T: Tape<E, D> + 'static,
{
    let shape = *scores.shape();
    let (b, h, sq, sk) = shape;
    let vs = v.shape();
    expect_dim("attention.value.batch", b, vs.0)?;
    expect_dim("attention.value.heads", h, vs.1)?;
    expect_dim("attention.value.seq_len", sk, vs.2)?;
    let p = opts.effective_dropout();
    check_dropout(p)?;

    let mask = opts.mask.resolve(scores.device(), b, sq, sk)?;
    let weights = match mask {
        None => scores.try_softmax::<Axis<3>>().dev()?,
        Some(mask) => {
            let bias = mask
                .bias
                .try_reshape_like(&(shape.0, shape.2, shape.3))
                .dev()?
                .try_broadcast_like::<_, Axis<1>>(&shape)
                .dev()?;
            let keep = mask
                .keep
                .try_reshape_like(&(shape.0, shape.2, shape.3))
                .dev()?
                .try_broadcast_like::<_, Axis<1>>(&shape)
                .dev()?;
            scores
                .try_add(bias)
                .dev()?
                .try_softmax::<Axis<3>>()
                .dev()?
                .try_mul(keep)
                .dev()?
        }
    };
    let captured = opts.need_weights.then(|| weights.retaped::<NoneTape>());
    let weights = if p > 0.0 {
        weights.try_dropout(p).dev()?
    } else {
        weights
    };
    let context = weights.try_matmul(v).dev()?;
    Ok(AttnOutput {
        context,
        weights: captured,
    })
}

/// `out` with the shapes its caller typed (the same dimensions; no copy).
pub(crate) fn realize_output<C0, W0, C, W, E, D, T>(
    out: AttnOutput<C0, W0, E, D, T>,
) -> Result<AttnOutput<C, W, E, D, T>, AttnError>
where
    C0: Shape + RealizeShapeTo<C>,
    W0: Shape + RealizeShapeTo<W>,
    C: Shape<Concrete = C0::Concrete>,
    W: Shape<Concrete = W0::Concrete>,
    E: Dtype,
    D: Device<E>,
    T: Tape<E, D> + 'static,
{
    Ok(AttnOutput {
        context: realized(out.context)?,
        weights: out.weights.map(realized).transpose()?,
    })
}

/// Dropout must be a probability below 1 (1 would zero every weight and divide by zero).
pub(crate) fn check_dropout(p: f64) -> Result<(), AttnError> {
    if (0.0..1.0).contains(&p) {
        Ok(())
    } else {
        Err(AttnError::InvalidHyperParameter {
            name: "dropout",
            value: p.to_string(),
            requirement: "must be in [0, 1)",
        })
    }
}
