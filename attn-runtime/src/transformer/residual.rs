//! The residual connection of transformer sub-layers, `x + dropout(y)`, and the dropout inside
//! feed-forward networks, on run-time shapes (compiled once in attn-runtime).

use dfdx::prelude::*;

use crate::error::{AttnError, DeviceResultExt};
use crate::kernels::cpu_op::Dyn3;

/// `x + dropout(y)`, recorded, with `y` carrying the tape.
///
/// # Shapes
/// `y`, `x`: `[B, S, M]` → `[B, S, M]`.
///
/// **PyTorch equivalent**: `x + F.dropout(y, p)`.
pub(crate) fn residual<E: Dtype, D: Device<E>, T: Tape<E, D> + 'static>(
    y: Tensor<Dyn3, E, D, T>,
    x: &Tensor<Dyn3, E, D>,
    p: f64,
) -> Result<Tensor<Dyn3, E, D, T>, AttnError> {
    (kernels::<E, D, T>()?.residual)(y, x, p)
}

/// [`residual`] itself.
fn residual_impl<E: Dtype, D: Device<E>, T: Tape<E, D> + 'static>(
    y: Tensor<Dyn3, E, D, T>,
    x: &Tensor<Dyn3, E, D>,
    p: f64,
) -> Result<Tensor<Dyn3, E, D, T>, AttnError> {
    // one parallel pass each way on the Cpu; a permuted `x` (its gradient in another order)
    // and other devices take dfdx's add
    if crate::kernels::cpu_op::is_row_major(x) {
        return crate::kernels::elementwise::try_residual_cpu(y, x, p);
    }
    let y = crate::kernels::elementwise::try_dropout(y, p)?;
    y.try_add(x.clone()).dev()
}

/// `dropout(x, p)` on run-time shapes (what the feed-forward networks call).
pub(crate) fn dropout<E: Dtype, D: Device<E>, T: Tape<E, D> + 'static>(
    x: Tensor<Dyn3, E, D, T>,
    p: f64,
) -> Result<Tensor<Dyn3, E, D, T>, AttnError> {
    (kernels::<E, D, T>()?.dropout)(x, p)
}

kernel_tables! {
    /// This module's kernels, compiled once in attn-runtime (see `kernel_tables!`).
    struct BlockKernels {
        residual: fn(
            Tensor<Dyn3, E, D, T>,
            &Tensor<Dyn3, E, D>,
            f64,
        ) -> Result<Tensor<Dyn3, E, D, T>, AttnError>
            = residual_impl::<E, D, T>,
        dropout: fn(Tensor<Dyn3, E, D, T>, f64) -> Result<Tensor<Dyn3, E, D, T>, AttnError>
            = crate::kernels::elementwise::try_dropout::<Dyn3, E, D, T>,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::elementwise::try_dropout;

    type T3 = Tensor<Dyn3, f32, Cpu>;

    /// `x + dropout(y)` and the gradients of `Σ out ∘ up` for `y` and `x`, through the kernel
    /// ([`residual`]) or dfdx's composite add; `permute` hands the kernel a transposed `x`
    /// (the same values), whose gradient must come back in its own layout.
    fn run(seed: u64, p: f64, composite: bool, permute: bool) -> [Vec<f32>; 3] {
        let dev = Cpu::seed_from_u64(seed);
        let (b, s, m) = (3, 70, 40);
        // recycled buffers of NaN: a gradient the kernel writes (the first of `x` and of `y`)
        // but leaves a value of shows
        crate::kernels::op::fill_cache_with_nan(&dev, &[b * s * m], 8);
        let y: T3 = dev.sample_normal_like(&(b, s, m));
        let xt: Tensor<(usize, usize, usize), f32, Cpu> = dev.sample_normal_like(&(b, m, s));
        let x: T3 = if permute {
            xt.clone().permute::<_, Axes3<0, 2, 1>>()
        } else {
            xt.clone().permute::<_, Axes3<0, 2, 1>>().contiguous()
        };
        let up: T3 = dev.sample_normal_like(&(b, s, m));
        let tape = y.leaky_trace();
        let x_traced = x.clone();
        let out = if composite {
            let dropped = try_dropout(tape, p).unwrap();
            dropped.try_add(x_traced).unwrap()
        } else {
            residual(tape, &x_traced, p).unwrap()
        };
        let values = out.retaped::<NoneTape>().as_vec();
        let grads = (out * up).sum().backward();
        [values, grads.get(&y).as_vec(), grads.get(&x).as_vec()]
    }

    /// The kernel gives the composite form's values and both gradients bit for bit, with and
    /// without dropout (the same mask from the same seed), and for a transposed `x` too.
    #[test]
    fn the_residual_kernel_matches_dropout_then_add() {
        for (p, permute) in [(0.0, false), (0.3, false), (0.3, true)] {
            let want = run(5, p, true, permute);
            let got = run(5, p, false, permute);
            for (name, (g, w)) in ["out", "dy", "dx"].iter().zip(got.iter().zip(&want)) {
                assert_eq!(g, w, "p {p} permuted {permute}: {name}");
            }
        }
    }

    #[test]
    fn inputs_of_different_shapes_are_refused() {
        let dev = Cpu::default();
        let y: T3 = dev.zeros_like(&(2, 5, 4));
        let x: T3 = dev.zeros_like(&(2, 6, 4));
        let err = residual(y.leaky_trace(), &x, 0.0).unwrap_err();
        assert!(matches!(err, AttnError::ShapeMismatch { .. }), "{err}");
    }
}
