//! `y = x · Wᵀ + b` for `f32` on the `Cpu` as one dfdx op: the bias is the product's starting
//! value, so the product adds onto it in the same pass, and the backward pass is three
//! accumulating products and a column sum straight into the gradient buffers.
//!
//! dfdx's composite form (matmul, then a broadcast add) spends a second pass over the output on
//! one thread, index by index, forward, and a broadcast sum backward; in multi-head attention and
//! feed-forward layers that pass cost as much as the product.

use dfdx::prelude::*;

use crate::error::{AttnError, DeviceResultExt};
use crate::kernels::cpu_op::{
    buffer, cpu_values_mut, f32_buffer, tensor_from_values, Dyn2, ONLY_CPU_F32,
};
use crate::kernels::gemm::{matmul_into, MatRef};

/// `x · Wᵀ + b` with dfdx autograd, for `f32` tensors on the `Cpu`.
///
/// Gradients are added into those of `x`, `weight` and `bias` (a dense `[O, I]` weight and `[O]`
/// bias, as modules build and load them).
///
/// # Shapes
/// `x: [N, I]`, `weight: [O, I]`, `bias: [O]` → `[N, O]`.
///
/// **PyTorch equivalent**: `F.linear(x, weight, bias)` (its `addmm`).
///
/// # Errors
/// [`AttnError::Device`] when the tensors are not `f32` on the `Cpu`, or an allocation fails.
pub(crate) fn try_linear<E, D, T>(
    x: Tensor<Dyn2, E, D, T>,
    weight: &Tensor<Dyn2, E, D>,
    bias: Option<&Tensor<(usize,), E, D>>,
) -> Result<Tensor<Dyn2, E, D, T>, AttnError>
where
    E: Dtype,
    D: Device<E>,
    T: Tape<E, D> + 'static,
{
    let (o, i) = *weight.shape();
    debug_assert_eq!(x.shape().1, i, "the input's width is the weight's");
    let wrong = || AttnError::device("the fused projection runs on f32 tensors on the Cpu only");
    let rows = x.shape().0;
    let (x, mut tape) = x.try_contiguous().dev()?.split_tape();
    let x_ghost = x.ghost();
    let w_ghost = weight.ghost();
    let b_ghost = bias.map(|b| b.ghost());
    let device = x.device().clone();
    let xs = f32_buffer(x).ok_or_else(wrong)?;
    let ws = f32_buffer(weight.clone()).ok_or_else(wrong)?;
    let mut ys = buffer::<E, _>(&device, rows * o).dev()?;
    if let Some(b) = bias {
        let bs = f32_buffer(b.clone()).ok_or_else(wrong)?;
        for row in ys.chunks_exact_mut(o) {
            row.copy_from_slice(&bs);
        }
    }
    matmul_into(
        &mut ys,
        bias.is_some(),
        MatRef::row_major(&xs, rows, i),
        MatRef::row_major(&ws, o, i).t(),
    );
    let out = tensor_from_values(&device, (rows, o), &ys).dev()?;
    drop(ys);
    if T::OWNS_TAPE {
        let out_ghost = out.ghost();
        tape.add_backward_op(move |grads| {
            let mut dy = buffer::<E, _>(&device, rows * o)?;
            dy.copy_from_slice(
                cpu_values_mut(grads.get_or_alloc_mut(&out_ghost)?).expect(ONLY_CPU_F32),
            );
            let dy_mat = MatRef::row_major(&dy, rows, o);
            // dx += dy · W, dW += dyᵀ · x, db += Σ_rows dy
            let dx = cpu_values_mut(grads.get_or_alloc_mut(&x_ghost)?).expect(ONLY_CPU_F32);
            matmul_into(dx, true, dy_mat, MatRef::row_major(&ws, o, i));
            let dw = cpu_values_mut(grads.get_or_alloc_mut(&w_ghost)?).expect(ONLY_CPU_F32);
            matmul_into(dw, true, dy_mat.t(), MatRef::row_major(&xs, rows, i));
            if let Some(b_ghost) = &b_ghost {
                let db = cpu_values_mut(grads.get_or_alloc_mut(b_ghost)?).expect(ONLY_CPU_F32);
                for row in dy.chunks_exact(o) {
                    for (g, d) in db.iter_mut().zip(row) {
                        *g += d;
                    }
                }
            }
            Ok(())
        });
    }
    Ok(out.put_tape(tape))
}

#[cfg(test)]
mod tests {
    use dfdx::prelude::*;

    use crate::attention::{Projection, ProjectionBuilder};

    type P<const BIAS: bool> = Projection<5, 3, f32, Cpu, BIAS>;

    fn close(what: &str, a: &[f32], b: &[f32]) {
        assert_eq!(a.len(), b.len(), "{what}");
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            assert!(
                (x - y).abs() <= 1e-5 * (1.0 + y.abs()),
                "{what}[{i}]: {x} vs {y}"
            );
        }
    }

    /// Output and the gradients of x, weight and bias of `Σ y ∘ up`, through the fused op or
    /// dfdx's composite matmul + broadcast add; x is used twice so gradients must add up.
    fn run<const BIAS: bool>(
        p: &P<BIAS>,
        x: &Tensor<Rank2<7, 5>, f32, Cpu>,
        fused: bool,
    ) -> Vec<Vec<f32>>
    where
        P<BIAS>: TensorCollection<f32, Cpu>,
    {
        let dev = x.device().clone();
        let up: Tensor<Rank2<7, 3>, f32, _> = dev.tensor_from_vec(
            (0..21).map(|i| (i as f32 * 0.37).sin()).collect(),
            Rank2::<7, 3>::default(),
        );
        let xt = x.leaky_trace();
        let y = if fused {
            p.try_forward_2d(xt.with_empty_tape()).unwrap()
        } else {
            p.try_forward_2d_composite(xt.with_empty_tape()).unwrap()
        };
        let loss = (
            y.retaped::<NoneTape>().as_vec(),
            (y * up).sum() + xt.square().sum(),
        );
        let grads = loss.1.backward();
        let mut out = vec![loss.0, grads.get(x).as_vec(), grads.get(&p.weight).as_vec()];
        if let Some(b) = &p.bias {
            out.push(grads.get(b).as_vec());
        }
        out
    }

    fn check<const BIAS: bool>()
    where
        P<BIAS>: TensorCollection<f32, Cpu>,
        ProjectionBuilder<5, 3, BIAS>: BuildOnDevice<Cpu, f32, Built = P<BIAS>>,
    {
        let dev = Cpu::seed_from_u64(4);
        let mut p = dev.build_module::<ProjectionBuilder<5, 3, BIAS>, f32>();
        if let Some(b) = &mut p.bias {
            *b = dev.tensor([0.5, -1.0, 2.0]);
        }
        let x: Tensor<Rank2<7, 5>, f32, _> = dev.sample_normal();
        let fused = run(&p, &x, true);
        let composite = run(&p, &x, false);
        for (i, (a, b)) in fused.iter().zip(&composite).enumerate() {
            close(&format!("output {i}"), a, b);
        }
        assert_eq!(fused.len(), if BIAS { 4 } else { 3 });
    }

    #[test]
    fn the_fused_projection_matches_matmul_plus_bias_with_gradients() {
        check::<true>();
        check::<false>();
    }
}
