//! The fused kernel as a dfdx operation with its own backward pass, for `f32` tensors on the
//! `Cpu` device.

use dfdx::prelude::*;

use crate::attention::{core::check_dropout, AttentionMask, AttentionOptions};
use crate::error::{AttnError, DeviceResultExt};
use crate::kernels::attention::{
    self as kernel, AttnDims, FusedParams, HeadLayout, HeadRows, KernelDropout,
};
use crate::kernels::cpu_op::{
    buffer, cast, cpu_values_mut, is_cpu_f32, realized, tensor_from_values, values, CpuBuf, Dyn3,
    Dyn4, ONLY_CPU_F32,
};

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
/// are made contiguous first, on the tape.
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
#[allow(clippy::type_complexity)]
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
    T: Tape<E, D> + 'static,
{
    let (qs, ks, vs) = (*q.shape(), *k.shape(), *v.shape());
    let dims = AttnDims {
        batch: qs.0.size(),
        heads: qs.1.size(),
        q_len: qs.2.size(),
        k_len: ks.2.size(),
        head_dim: qs.3.size(),
        value_dim: vs.3.size(),
    };
    // the op runs on run-time shapes: one copy of it per tape type, not one per model's sizes
    let out = try_fused_op(
        realized::<Dyn4, _, _, _, _>(q)?,
        realized::<Dyn4, _, _, _, _>(k)?,
        realized::<Dyn4, _, _, _, _>(v)?,
        dims,
        HeadLayout::Split,
        (dims.batch, dims.heads, dims.q_len, dims.value_dim),
        opts,
    )?;
    realized(out)
}

/// [`try_fused_sdpa`] over heads that lie side by side in each row, as projections produce
/// them: splits `[B, S, M]` into `H` heads of `M / H`, attends, and merges the heads back, with
/// neither split nor merge costing a copy of its own (see [`HeadLayout::Merged`]).
///
/// # Shapes
/// `q: [B, Sq, M]`, `k: [B, Sk, M]`, `v: [B, Sk, M]` → `[B, Sq, M]`.
///
/// **PyTorch equivalent**: the core of `nn.MultiheadAttention` between its input and output
/// projections: `q.view(B, Sq, H, M // H).transpose(1, 2)` (and so on), SDPA, then
/// `.transpose(1, 2).reshape(B, Sq, M)`.
///
/// # Errors
/// As [`try_fused_sdpa`].
pub(crate) fn try_fused_merged_heads<E, D, T>(
    q: Tensor<Dyn3, E, D, T>,
    k: Tensor<Dyn3, E, D, T>,
    v: Tensor<Dyn3, E, D, T>,
    heads: usize,
    opts: &AttentionOptions,
) -> Result<Tensor<Dyn3, E, D, T>, AttnError>
where
    E: Dtype,
    D: Device<E>,
    T: Tape<E, D> + 'static,
{
    let (b, sq, m) = *q.shape();
    let dims = AttnDims {
        batch: b,
        heads,
        q_len: sq,
        k_len: k.shape().1,
        head_dim: m / heads,
        value_dim: m / heads,
    };
    try_fused_op(q, k, v, dims, HeadLayout::Merged, (b, sq, m), opts)
}

/// The rows of `q`, `k`, `v` and the output of a call.
fn head_rows(d: &AttnDims) -> [HeadRows; 4] {
    let rows = |seq, width| HeadRows {
        batch: d.batch,
        heads: d.heads,
        seq,
        width,
    };
    [
        rows(d.q_len, d.head_dim),
        rows(d.k_len, d.head_dim),
        rows(d.k_len, d.value_dim),
        rows(d.q_len, d.value_dim),
    ]
}

/// The values of a contiguous `Cpu` tensor laid out as `layout`, in the kernel's order, in a
/// buffer from the device `D`.
fn split_values<S: Shape, E, D: Storage<E>>(
    dev: &D,
    t: &Tensor<S, f32, Cpu>,
    rows: HeadRows,
    layout: HeadLayout,
) -> Result<CpuBuf, D::Err> {
    let buf = values::<_, E, _>(dev, t)?;
    if layout == HeadLayout::Split {
        return Ok(buf);
    }
    let mut split = buffer(dev, buf.len())?;
    rows.gather(layout, &buf, &mut split);
    Ok(split)
}

/// The fused op on tensors of any shape whose values are `dims` laid out as `layout`.
fn try_fused_op<Sq, Sk, Sv, So, E, D, T>(
    q: Tensor<Sq, E, D, T>,
    k: Tensor<Sk, E, D, T>,
    v: Tensor<Sv, E, D, T>,
    dims: AttnDims,
    layout: HeadLayout,
    out_shape: So,
    opts: &AttentionOptions,
) -> Result<Tensor<So, E, D, T>, AttnError>
where
    Sq: Shape,
    Sk: Shape,
    Sv: Shape,
    So: Shape,
    E: Dtype,
    D: Device<E>,
    T: Tape<E, D> + 'static,
{
    if !is_cpu_f32::<E, D>() {
        return Err(not_cpu_f32());
    }
    opts.mask.validate(dims.batch, dims.q_len, dims.k_len)?;
    let p = opts.effective_dropout();
    check_dropout(p)?;
    // Reading values needs them row-major (a no-op when they already are).
    let (q, tape_q) = q.try_contiguous().dev()?.split_tape();
    let (k, tape_k) = k.try_contiguous().dev()?.split_tape();
    let (v, tape_v) = v.try_contiguous().dev()?.split_tape();
    let mut tape = tape_q.merge(tape_k).merge(tape_v);
    let (q_ghost, k_ghost, v_ghost) = (q.ghost(), k.ghost(), v.ghost());
    let device = q.device().clone();
    let cq: Tensor<Sq, f32, Cpu> = cast(q).ok_or_else(not_cpu_f32)?;
    let ck: Tensor<Sk, f32, Cpu> = cast(k).ok_or_else(not_cpu_f32)?;
    let cv: Tensor<Sv, f32, Cpu> = cast(v).ok_or_else(not_cpu_f32)?;
    let cpu = cq.device().clone();
    let dropout = (p > 0.0).then(|| KernelDropout {
        p: p as f32,
        seed: cpu.random_u64(),
    });
    let [q_rows, k_rows, v_rows, out_rows] = head_rows(&dims);
    let (_, _, _, n_out, n_lse) = dims.lens();
    let mut saved = Saved {
        dims,
        scale: opts.scale.factor(dims.head_dim) as f32,
        mask: opts.mask.clone(),
        dropout,
        q: split_values::<_, E, _>(&device, &cq, q_rows, layout).dev()?,
        k: split_values::<_, E, _>(&device, &ck, k_rows, layout).dev()?,
        v: split_values::<_, E, _>(&device, &cv, v_rows, layout).dev()?,
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
    let out: Tensor<So, E, D> = match layout {
        HeadLayout::Split => tensor_from_values(&device, out_shape, &saved.out),
        HeadLayout::Merged => {
            let mut merged = buffer::<E, _>(&device, n_out).dev()?;
            out_rows.scatter(layout, &saved.out, &mut merged);
            tensor_from_values(&device, out_shape, &merged)
        }
    }
    .dev()?;
    if T::OWNS_TAPE {
        let out_ghost = out.ghost();
        tape.add_backward_op(move |grads| {
            let mut dout = buffer::<E, _>(&device, n_out)?;
            let grad_out = cpu_values_mut(grads.get_or_alloc_mut(&out_ghost)?).expect(ONLY_CPU_F32);
            out_rows.gather(layout, grad_out, &mut dout);
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
            let add = |rows: HeadRows, grad: Option<&mut [f32]>, d: &[f32]| {
                rows.scatter_add(layout, d, grad.expect(ONLY_CPU_F32));
            };
            add(
                q_rows,
                cpu_values_mut(grads.get_or_alloc_mut(&q_ghost)?),
                &dq,
            );
            add(
                k_rows,
                cpu_values_mut(grads.get_or_alloc_mut(&k_ghost)?),
                &dk,
            );
            add(
                v_rows,
                cpu_values_mut(grads.get_or_alloc_mut(&v_ghost)?),
                &dv,
            );
            Ok(())
        });
    }
    Ok(out.put_tape(tape))
}
