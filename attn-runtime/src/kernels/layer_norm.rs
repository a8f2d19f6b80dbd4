//! Layer normalisation in one pass per row, forward and backward, for `f32` on the CPU: one read
//! and one write per element each way, parallel over rows, keeping only each row's mean and
//! inverse standard deviation for the backward pass (dfdx's `LayerNorm1D` runs as about ten
//! broadcast element-wise ops each way). [`crate::transformer::NormExt`] calls it.

use dfdx::prelude::*;
use rayon::prelude::*;

use crate::error::AttnError;
use crate::kernels::cpu_op::{for_each_maybe_parallel, min_len, Input};
use crate::kernels::op::{apply, split_operand, CpuOp, InputGrads, Operand};

/// Rows per parallel task: enough work to pay for the hand-off.
const ROWS_PER_TASK: usize = 16;

/// `y = (x − mean) / sqrt(var + eps) · gamma + beta` over each row of `m` values (`var` is the
/// biased variance, as PyTorch's); fills each row's mean and `1 / sqrt(var + eps)`.
///
/// # Shapes
/// `x`, `y`: `[rows, m]`; `gamma`, `beta`: `[m]`; `mean`, `rstd`: `[rows]`.
pub(crate) fn forward(
    x: &[f32],
    gamma: &[f32],
    beta: &[f32],
    eps: f32,
    y: &mut [f32],
    mean: &mut [f32],
    rstd: &mut [f32],
) {
    let m = gamma.len();
    let items = y
        .par_chunks_mut(m * ROWS_PER_TASK)
        .zip(x.par_chunks(m * ROWS_PER_TASK))
        .zip(mean.par_chunks_mut(ROWS_PER_TASK))
        .zip(rstd.par_chunks_mut(ROWS_PER_TASK));
    for_each_maybe_parallel(x.len(), items, |_, (((y, x), mean), rstd)| {
        for (((y, x), mean), rstd) in y
            .chunks_mut(m)
            .zip(x.chunks(m))
            .zip(mean.iter_mut())
            .zip(rstd.iter_mut())
        {
            let mu = x.iter().sum::<f32>() / m as f32;
            let var = x.iter().map(|v| (v - mu) * (v - mu)).sum::<f32>() / m as f32;
            let r = 1.0 / (var + eps).sqrt();
            for (((y, x), g), b) in y.iter_mut().zip(x).zip(gamma).zip(beta) {
                *y = (x - mu) * r * g + b;
            }
            (*mean, *rstd) = (mu, r);
        }
    });
}

/// The gradients of [`forward`] given the output gradient `dy`: `dx` (added to) and the sums
/// over rows for `gamma` and `beta` (returned).
///
/// With `x̂ = (x − mean)·rstd` and `g = dy·gamma`: `dx = rstd·(g − mean(g) − x̂·mean(g·x̂))`,
/// `dgamma = Σ dy·x̂`, `dbeta = Σ dy`.
pub(crate) fn backward(
    x: &[f32],
    gamma: &[f32],
    mean: &[f32],
    rstd: &[f32],
    dy: &[f32],
    dx: &mut [f32],
) -> (Vec<f32>, Vec<f32>) {
    let m = gamma.len();
    let zeros = || (vec![0f32; m], vec![0f32; m]);
    dx.par_chunks_mut(m * ROWS_PER_TASK)
        .zip(x.par_chunks(m * ROWS_PER_TASK))
        .zip(dy.par_chunks(m * ROWS_PER_TASK))
        .zip(
            mean.par_chunks(ROWS_PER_TASK)
                .zip(rstd.par_chunks(ROWS_PER_TASK)),
        )
        .with_min_len(min_len(x.len()))
        .map(|(((dx, x), dy), (mean, rstd))| {
            let (mut dgamma, mut dbeta) = zeros();
            for ((((dx, x), dy), &mu), &r) in dx
                .chunks_mut(m)
                .zip(x.chunks(m))
                .zip(dy.chunks(m))
                .zip(mean)
                .zip(rstd)
            {
                let (mut sum_g, mut sum_gx) = (0f32, 0f32);
                for i in 0..m {
                    let xhat = (x[i] - mu) * r;
                    let g = dy[i] * gamma[i];
                    sum_g += g;
                    sum_gx += g * xhat;
                    dgamma[i] += dy[i] * xhat;
                    dbeta[i] += dy[i];
                }
                let (mean_g, mean_gx) = (sum_g / m as f32, sum_gx / m as f32);
                for i in 0..m {
                    let xhat = (x[i] - mu) * r;
                    dx[i] += r * (dy[i] * gamma[i] - mean_g - xhat * mean_gx);
                }
            }
            (dgamma, dbeta)
        })
        // partial sums in task order, added in that order: the same bits on every run (a
        // parallel reduce would add them in whatever order the threads finish)
        .collect::<Vec<_>>()
        .into_iter()
        .fold(zeros(), |(mut ga, mut ba), (gb, bb)| {
            ga.iter_mut().zip(&gb).for_each(|(a, b)| *a += b);
            ba.iter_mut().zip(&bb).for_each(|(a, b)| *a += b);
            (ga, ba)
        })
}

/// Layer norm over rows of `gamma.len()` values as a [`CpuOp`]; inputs `x`, `gamma`, `beta`.
struct LayerNorm {
    epsilon: f32,
}

/// What the backward pass reads: `x`, `gamma`, and each row's mean and `1 / std`.
struct Saved {
    x: Input,
    gamma: Input,
    mean: Vec<f32>,
    rstd: Vec<f32>,
}

impl CpuOp<3> for LayerNorm {
    type Saved = Saved;

    fn forward(
        &self,
        _: &Cpu,
        [x, gamma, beta]: [Input; 3],
        out: &mut [f32],
    ) -> Result<Saved, AttnError> {
        let rows = x.len() / gamma.len();
        let (mut mean, mut rstd) = (vec![0f32; rows], vec![0f32; rows]);
        forward(&x, &gamma, &beta, self.epsilon, out, &mut mean, &mut rstd);
        Ok(Saved {
            x,
            gamma,
            mean,
            rstd,
        })
    }

    fn backward(
        self,
        _: &Cpu,
        s: Saved,
        _: &[f32],
        dy: &[f32],
        grads: &mut dyn InputGrads,
    ) -> Result<(), CpuError> {
        let dx = grads.input(0)?.expect(HAS_GRADIENT);
        let (dgamma, dbeta) = backward(&s.x, &s.gamma, &s.mean, &s.rstd, dy, dx);
        add(grads.input(1)?.expect(HAS_GRADIENT), &dgamma);
        add(grads.input(2)?.expect(HAS_GRADIENT), &dbeta);
        Ok(())
    }
}

/// Why every input of the layer norm has a gradient buffer.
const HAS_GRADIENT: &str = "the layer norm's inputs are all tensors with gradients";

/// `dst += src`.
fn add(dst: &mut [f32], src: &[f32]) {
    dst.iter_mut().zip(src).for_each(|(d, s)| *d += s);
}

/// The layer norm of `x`'s rows (of `gamma`'s size) with dfdx autograd, gradients into `x`,
/// `gamma` and `beta`.
///
/// # Shapes
/// `x: [..., M]`, `gamma`, `beta`: `[M]` → `x`'s shape.
///
/// **PyTorch equivalent**: `F.layer_norm(x, (M,), gamma, beta, epsilon)`.
///
/// # Errors
/// [`AttnError::Device`] when the tensors are not `f32` on the `Cpu` (the caller checks first),
/// or an allocation fails.
pub(crate) fn fused<S: Shape, G: Shape, E: Dtype, D: Device<E>, T: Tape<E, D> + 'static>(
    gamma: &Tensor<G, E, D>,
    beta: &Tensor<G, E, D>,
    epsilon: f64,
    x: Tensor<S, E, D, T>,
) -> Result<Tensor<S, E, D, T>, AttnError> {
    const NAME: &str = "the fused layer norm";
    let shape = *x.shape();
    let dev = x.device().clone();
    let (x, tape) = split_operand(x, NAME)?;
    let inputs = [x, Operand::of(gamma, NAME)?, Operand::of(beta, NAME)?];
    let op = LayerNorm {
        epsilon: epsilon as f32,
    };
    apply(op, NAME, &dev, inputs, tape, shape)
}
