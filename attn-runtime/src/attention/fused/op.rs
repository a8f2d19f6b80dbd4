//! The fused kernel as a dfdx operation with its own backward pass, for `f32` tensors on the
//! `Cpu` device.

use dfdx::prelude::*;

use super::kernel;
use super::params::{AttnDims, FusedParams, KernelDropout};
use crate::attention::{core::check_dropout, AttentionMask, AttentionOptions};
use crate::cpu_op::{add_into, buffer, cast, is_cpu_f32, values, CpuBuf};
use crate::error::{AttnError, DeviceResultExt};

type Cpu4<S> = Tensor<S, f32, Cpu>;

const ONLY_CPU_F32: &str =
    "fused attention runs (and registers its backward) only for f32 on the Cpu";

fn not_cpu_f32() -> AttnError {
    AttnError::InvalidInput {
        reason: "the fused attention kernel runs on f32 tensors on the Cpu device only".into(),
        fix: "use AttentionKernel::Auto or AttentionKernel::Composite on other devices and dtypes"
            .into(),
    }
}

/// What the backward pass needs of the forward: its inputs, output and log-sum-exp, and the
/// settings to rebuild the same weights (mask and dropout seed).
struct Saved {
    dims: AttnDims,
    scale: f32,
    mask: AttentionMask,
    dropout: Option<KernelDropout>,
    q: CpuBuf,
    k: CpuBuf,
    v: CpuBuf,
    out: CpuBuf,
    lse: CpuBuf,
}

impl Saved {
    fn params(&self) -> FusedParams<'_> {
        FusedParams {
            dims: self.dims,
            scale: self.scale,
            mask: self.mask.kernel_view(),
            dropout: self.dropout,
        }
    }
}

/// Fused scaled-dot-product attention on dfdx tensors: `softmax(scale · q · kᵀ + mask) · v`
/// with dropout on the weights in training mode, never materialising the `[Sq, Sk]` weights.
///
/// Gradients flow into `q`, `k` and `v` through the fused backward pass (accumulated into any
/// gradient already there); with a `NoneTape` nothing is kept for it. Non-contiguous inputs
/// (e.g. heads split by a permute) are made contiguous first, on the tape.
///
/// # Shapes
/// `q: [B, H, Sq, Dk]`, `k: [B, H, Sk, Dk]`, `v: [B, H, Sk, Dv]` → `[B, H, Sq, Dv]`.
///
/// **PyTorch equivalent**: `F.scaled_dot_product_attention(q, k, v, attn_mask, dropout_p,
/// is_causal, scale)` on its fused CPU backend.
///
/// # Errors
/// [`AttnError::InvalidInput`] when `E` is not `f32` or `D` not `Cpu`; mask, dropout and size
/// errors as [`kernel::forward`].
pub(crate) fn try_fused_sdpa<B, H, Sq, Sk, Dk, Dv, E, D, T>(
    q: Tensor<(B, H, Sq, Dk), E, D, T>,
    k: Tensor<(B, H, Sk, Dk), E, D, T>,
    v: Tensor<(B, H, Sk, Dv), E, D, T>,
    opts: &AttentionOptions,
) -> Result<Tensor<(B, H, Sq, Dv), E, D, T>, AttnError>
where
    B: Dim,
    H: Dim,
    Sq: Dim,
    Sk: Dim,
    Dk: Dim,
    Dv: Dim,
    E: Dtype,
    D: Device<E>,
    T: Tape<E, D>,
{
    if !is_cpu_f32::<E, D>() {
        return Err(not_cpu_f32());
    }
    let (qs, ks, vs) = (*q.shape(), *k.shape(), *v.shape());
    let dims = AttnDims {
        batch: qs.0.size(),
        heads: qs.1.size(),
        q_len: qs.2.size(),
        k_len: ks.2.size(),
        head_dim: qs.3.size(),
        value_dim: vs.3.size(),
    };
    opts.mask.validate(dims.batch, dims.q_len, dims.k_len)?;
    let p = opts.effective_dropout();
    check_dropout(p)?;
    // The kernel reads rows in place: give it row-major inputs (a no-op when they already are).
    let (q, tape_q) = q.try_contiguous().dev()?.split_tape();
    let (k, tape_k) = k.try_contiguous().dev()?.split_tape();
    let (v, tape_v) = v.try_contiguous().dev()?.split_tape();
    let mut tape = tape_q.merge(tape_k).merge(tape_v);
    let (q_ghost, k_ghost, v_ghost) = (q.ghost(), k.ghost(), v.ghost());
    let device = q.device().clone();
    let cq: Cpu4<(B, H, Sq, Dk)> = cast(q).ok_or_else(not_cpu_f32)?;
    let ck: Cpu4<(B, H, Sk, Dk)> = cast(k).ok_or_else(not_cpu_f32)?;
    let cv: Cpu4<(B, H, Sk, Dv)> = cast(v).ok_or_else(not_cpu_f32)?;
    let cpu = cq.device().clone();
    let dropout = (p > 0.0).then(|| KernelDropout {
        p: p as f32,
        seed: cpu.random_u64(),
    });
    let (_, _, _, n_out, n_lse) = dims.lens();
    let mut saved = Saved {
        dims,
        scale: opts.scale.factor(dims.head_dim) as f32,
        mask: opts.mask.clone(),
        dropout,
        q: values::<_, E, _>(&device, &cq).dev()?,
        k: values::<_, E, _>(&device, &ck).dev()?,
        v: values::<_, E, _>(&device, &cv).dev()?,
        out: buffer::<E, _>(&device, n_out).dev()?,
        lse: buffer::<E, _>(&device, n_lse).dev()?,
    };
    drop((cq, ck, cv));
    {
        let Saved {
            q, k, v, out, lse, ..
        } = &mut saved;
        let params = FusedParams {
            dims,
            scale: opts.scale.factor(dims.head_dim) as f32,
            mask: opts.mask.kernel_view(),
            dropout,
        };
        kernel::forward(&params, q, k, v, out, lse)?;
    }
    let out_shape = (qs.0, qs.1, qs.2, vs.3);
    let mut out: Cpu4<(B, H, Sq, Dv)> = cpu.try_zeros_like(&out_shape).dev()?;
    out.copy_from(&saved.out);
    let out: Tensor<(B, H, Sq, Dv), E, D> = cast(out).ok_or_else(not_cpu_f32)?;
    if T::OWNS_TAPE {
        let out_ghost = out.ghost();
        tape.add_backward_op(move |grads| {
            grads.try_alloc_for(&out_ghost)?;
            let grad_out: Cpu4<(B, H, Sq, Dv)> = cast(grads.get(&out_ghost)).expect(ONLY_CPU_F32);
            let dout = values::<_, E, _>(&device, &grad_out)?;
            drop(grad_out);
            let (nq, nk, nv, _, _) = saved.dims.lens();
            let mut dq = buffer::<E, _>(&device, nq)?;
            let mut dk = buffer::<E, _>(&device, nk)?;
            let mut dv = buffer::<E, _>(&device, nv)?;
            let s = &saved;
            if let Err(e) = kernel::backward(
                &s.params(),
                &s.q,
                &s.k,
                &s.v,
                &s.out,
                &s.lse,
                &dout,
                &mut dq,
                &mut dk,
                &mut dv,
            ) {
                unreachable!("the forward pass checked these sizes: {e}");
            }
            add_into(grads.get_or_alloc_mut(&q_ghost)?, &dq);
            add_into(grads.get_or_alloc_mut(&k_ghost)?, &dk);
            add_into(grads.get_or_alloc_mut(&v_ghost)?, &dv);
            Ok(())
        });
    }
    Ok(out.put_tape(tape))
}
