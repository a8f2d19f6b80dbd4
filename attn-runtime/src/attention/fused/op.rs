//! The fused kernel as a dfdx operation with its own backward pass, for `f32` tensors on the
//! `Cpu` device.

use dfdx::prelude::*;

use crate::attention::{core::check_dropout, AttentionMask, AttentionOptions};
use crate::error::{AttnError, DeviceResultExt};
use crate::kernels::attention::{
    backward_with, forward_with, AttnDims, FusedParams, HeadLayout, HeadRows, KernelDropout,
};
use crate::kernels::cpu_op::{is_cpu_f32, realized, CpuBuf, Dyn3, Dyn4, Input};
use crate::kernels::op::{apply, split_operand, CpuOp, GradBuf, InputGrads};
use crate::kernels::tuning::KernelConfig;

fn not_cpu_f32() -> AttnError {
    AttnError::InvalidInput {
        reason: "the fused attention kernel runs on f32 tensors on the Cpu device only".into(),
        fix: "use AttentionKernel::Auto or AttentionKernel::Composite on other devices and dtypes"
            .into(),
    }
}

/// The kernel as a [`CpuOp`] on `q`, `k`, `v` laid out as `layout`: the settings to run it and
/// to rebuild the same weights backwards (configuration, mask and dropout seed).
struct FusedAttention {
    config: KernelConfig,
    dims: AttnDims,
    layout: HeadLayout,
    scale: f32,
    mask: AttentionMask,
    dropout: Option<KernelDropout>,
}

/// What the backward pass reads of the forward one: the inputs (read in place, in `layout`)
/// and the log-sum-exps.
struct Saved {
    q: Input,
    k: Input,
    v: Input,
    lse: CpuBuf,
}

impl FusedAttention {
    fn params(&self) -> FusedParams<'_> {
        FusedParams {
            dims: self.dims,
            scale: self.scale,
            mask: self.mask.kernel_view(),
            dropout: self.dropout,
        }
    }
}

impl CpuOp<3> for FusedAttention {
    type Saved = Saved;
    /// `rowsum(dO ∘ O)` of the backward pass.
    const READS_OUTPUT: bool = true;

    fn forward(
        &self,
        cpu: &Cpu,
        [q, k, v]: [Input; 3],
        out: &mut [f32],
    ) -> Result<Saved, AttnError> {
        let (_, _, _, n_out, n_lse) = self.dims.lens();
        // the kernel writes every output value and log-sum-exp: no zero-fill
        let mut lse = cpu.try_alloc_f32_unzeroed(n_lse).dev()?;
        let (config, params, layout) = (&self.config, self.params(), self.layout);
        match layout {
            HeadLayout::Split => forward_with(config, &params, layout, &q, &k, &v, out, &mut lse)?,
            HeadLayout::Merged => {
                // each task writes one head's rows, which lie apart in the merged layout: they
                // go to a split buffer first, then to their places
                let mut o = cpu.try_alloc_f32_unzeroed(n_out).dev()?;
                forward_with(config, &params, layout, &q, &k, &v, &mut o, &mut lse)?;
                HeadRows::of(&self.dims)[3].scatter(layout, &o, out);
            }
        }
        Ok(Saved { q, k, v, lse })
    }

    fn backward(
        self,
        cpu: &Cpu,
        s: Saved,
        out: &[f32],
        dy: &[f32],
        grads: &mut dyn InputGrads,
    ) -> Result<(), CpuError> {
        let rows = HeadRows::of(&self.dims);
        let (nq, nk, nv, _, _) = self.dims.lens();
        // the kernel writes every value (zeroing each head's part in parallel first), split;
        // it reads q, k, v, the output and its gradient in place, in the op's layout
        let mut dq = cpu.try_alloc_f32_unzeroed(nq)?;
        let mut dk = cpu.try_alloc_f32_unzeroed(nk)?;
        let mut dv = cpu.try_alloc_f32_unzeroed(nv)?;
        if let Err(e) = backward_with(
            &self.config,
            &self.params(),
            self.layout,
            &s.q,
            &s.k,
            &s.v,
            out,
            &s.lse,
            dy,
            &mut dq,
            &mut dk,
            &mut dv,
        ) {
            unreachable!("the forward pass checked these sizes: {e}");
        }
        for (i, d) in [dq, dk, dv].iter().enumerate() {
            match grads.input_whole(i)?.expect("q, k and v have gradients") {
                GradBuf::Add(grad) => rows[i].scatter_add(self.layout, d, grad),
                GradBuf::Write(grad) => rows[i].scatter(self.layout, d, grad),
            }
        }
        Ok(())
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
    const NAME: &str = "the fused attention kernel";
    if !is_cpu_f32::<E, D>() {
        return Err(not_cpu_f32());
    }
    opts.mask.validate(dims.batch, dims.q_len, dims.k_len)?;
    let p = opts.effective_dropout();
    check_dropout(p)?;
    let dev = q.device().clone();
    let (q, tape_q) = split_operand(q, NAME)?;
    let (k, tape_k) = split_operand(k, NAME)?;
    let (v, tape_v) = split_operand(v, NAME)?;
    let tape = tape_q.merge(tape_k).merge(tape_v);
    let op = FusedAttention {
        config: KernelConfig::current()?,
        dims,
        layout,
        scale: opts.scale.factor(dims.head_dim) as f32,
        mask: opts.mask.clone(),
        dropout: (p > 0.0).then(|| KernelDropout {
            p: p as f32,
            seed: dev.random_u64(),
        }),
    };
    apply(op, NAME, &dev, [q, k, v], tape, out_shape)
}
