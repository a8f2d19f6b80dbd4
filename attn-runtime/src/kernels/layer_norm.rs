//! Layer normalisation in one pass per row, forward and backward, for `f32` on the CPU: one read
//! and one write per element each way, parallel over rows, keeping only each row's mean and
//! inverse standard deviation for the backward pass (dfdx's `LayerNorm1D` runs as about ten
//! broadcast element-wise ops each way). [`crate::transformer::NormExt`] calls it.

use dfdx::prelude::*;
use rayon::prelude::*;

use crate::error::{AttnError, DeviceResultExt};
use crate::kernels::cpu_op::{
    add_into, buffer, cpu_values_mut, f32_buffer, for_each_maybe_parallel, min_len,
    tensor_from_values, ONLY_CPU_F32,
};

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

/// The gradients of [`forward`] given the output gradient `dy`: `dx` (overwritten) and the sums
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
                    dx[i] = r * (dy[i] * gamma[i] - mean_g - xhat * mean_gx);
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

/// The fused path; the caller checked that `E` is `f32` and `D` the `Cpu`.
pub(crate) fn fused<S: Shape, G: Shape, E: Dtype, D: Device<E>, T: Tape<E, D> + 'static>(
    gamma: &Tensor<G, E, D>,
    beta: &Tensor<G, E, D>,
    epsilon: f64,
    x: Tensor<S, E, D, T>,
) -> Result<Tensor<S, E, D, T>, AttnError> {
    let wrong = || AttnError::device("the fused layer norm runs on f32 tensors on the Cpu only");
    let shape = *x.shape();
    let (x, mut tape) = x.try_contiguous().dev()?.split_tape();
    let x_ghost = x.ghost();
    let (gamma_ghost, beta_ghost) = (gamma.ghost(), beta.ghost());
    let device = x.device().clone();
    let xs = f32_buffer(x).ok_or_else(wrong)?;
    let width = gamma.shape().num_elements();
    let gamma = f32_buffer(gamma.clone()).ok_or_else(wrong)?;
    let beta = f32_buffer(beta.clone()).ok_or_else(wrong)?;
    let rows = xs.len() / width;
    let mut ys = buffer::<E, _>(&device, xs.len()).dev()?;
    let (mut mean, mut rstd) = (vec![0f32; rows], vec![0f32; rows]);
    forward(
        &xs,
        &gamma,
        &beta,
        epsilon as f32,
        &mut ys,
        &mut mean,
        &mut rstd,
    );
    let out = tensor_from_values(&device, shape, &ys).dev()?;
    if T::OWNS_TAPE {
        let out_ghost = out.ghost();
        tape.add_backward_op(move |grads| {
            // read in place: the gradient's own buffer, no copy
            let dy = cpu_values_mut(grads.get_or_alloc_mut(&out_ghost)?).expect(ONLY_CPU_F32);
            let mut dx = buffer::<E, _>(&device, xs.len())?;
            let (dgamma, dbeta) = backward(&xs, &gamma, &mean, &rstd, dy, &mut dx);
            add_into(grads.get_or_alloc_mut(&x_ghost)?, &dx);
            add_into(grads.get_or_alloc_mut(&gamma_ghost)?, &dgamma);
            add_into(grads.get_or_alloc_mut(&beta_ghost)?, &dbeta);
            Ok(())
        });
    }
    Ok(out.put_tape(tape))
}
