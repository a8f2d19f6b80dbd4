//! Layer normalisation in one pass per row, forward and backward, for `f32` on the CPU.
//!
//! dfdx's `LayerNorm1D` runs as about ten broadcast element-wise ops (mean, subtract, square,
//! mean, add, sqrt, divide, scale, shift), each a full pass over the activations with its own
//! buffer, and as many again backwards. [`NormExt::try_norm`] computes the same function with one
//! read and one write per element each way, parallel over rows, keeping only each row's mean and
//! inverse standard deviation for the backward pass. Other devices and dtypes run dfdx's module.

use dfdx::nn::modules::LayerNorm1D;
use dfdx::prelude::*;
use rayon::prelude::*;

use crate::cpu_op::{
    add_into, buffer, cpu_values_mut, f32_buffer, for_each_maybe_parallel, is_cpu_f32, min_len,
    realized, tensor_from_values, Dyn3, ONLY_CPU_F32,
};
use crate::error::{AttnError, DeviceResultExt};

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

/// Layer normalisation through the fused CPU kernel where it applies.
pub trait NormExt<const M: usize, E: Dtype, D: Device<E>> {
    /// Normalises the last axis of `x` (of size `M`): the one-pass kernel of this module for
    /// `f32` on the `Cpu`, gradients into `x`, `gamma` and `beta` included; dfdx's
    /// `LayerNorm1D` module otherwise. Both compute the same function.
    ///
    /// # Shapes
    /// `x`: `[..., M]` (any rank dfdx's `LayerNorm1D` accepts) → the same shape.
    ///
    /// **PyTorch equivalent**: `nn.LayerNorm(M)(x)`.
    ///
    /// # Errors
    /// A device error (allocation).
    fn try_norm<S: Shape, T: Tape<E, D> + 'static>(
        &self,
        x: Tensor<S, E, D, T>,
    ) -> Result<Tensor<S, E, D, T>, AttnError>
    where
        Self: Module<Tensor<S, E, D, T>, Output = Tensor<S, E, D, T>, Error = D::Err>;

    /// [`try_norm`](Self::try_norm) on run-time shapes `[B, S, M]` (what the blocks written
    /// over run-time shapes call; compiled once per tape type).
    ///
    /// # Errors
    /// A device error (allocation).
    fn try_norm_dyn<T: Tape<E, D> + 'static>(
        &self,
        x: Tensor<Dyn3, E, D, T>,
    ) -> Result<Tensor<Dyn3, E, D, T>, AttnError>;

    /// [`try_norm`](Self::try_norm) of `[B, S, M]` through
    /// [`try_norm_dyn`](Self::try_norm_dyn): the same values, compiled once.
    ///
    /// # Errors
    /// A device error (allocation).
    fn try_norm_3d<B: Dim, S: Dim, T: Tape<E, D> + 'static>(
        &self,
        x: Tensor<(B, S, Const<M>), E, D, T>,
    ) -> Result<Tensor<(B, S, Const<M>), E, D, T>, AttnError> {
        realized(self.try_norm_dyn(realized::<Dyn3, _, _, _, _>(x)?)?)
    }
}

impl<const M: usize, E: Dtype, D: Device<E>> NormExt<M, E, D> for LayerNorm1D<M, E, D> {
    fn try_norm<S: Shape, T: Tape<E, D> + 'static>(
        &self,
        x: Tensor<S, E, D, T>,
    ) -> Result<Tensor<S, E, D, T>, AttnError>
    where
        Self: Module<Tensor<S, E, D, T>, Output = Tensor<S, E, D, T>, Error = D::Err>,
    {
        if !is_cpu_f32::<E, D>() || x.shape().num_elements() == 0 {
            return self.try_forward(x).dev();
        }
        fused(&self.gamma, &self.beta, self.epsilon, x)
    }

    fn try_norm_dyn<T: Tape<E, D> + 'static>(
        &self,
        x: Tensor<Dyn3, E, D, T>,
    ) -> Result<Tensor<Dyn3, E, D, T>, AttnError> {
        let gamma = realized::<(usize,), _, _, _, _>(self.gamma.clone())?;
        let beta = realized::<(usize,), _, _, _, _>(self.beta.clone())?;
        (kernels::<E, D, T>()?.norm)(&gamma, &beta, self.epsilon, x)
    }
}

/// Layer norm over the last axis of `[B, S, M]` on run-time shapes: the fused kernel for `f32`
/// on the `Cpu`, elsewhere what dfdx's `LayerNorm1D` computes.
fn norm_dyn<E: Dtype, D: Device<E>, T: Tape<E, D> + 'static>(
    gamma: &Tensor<(usize,), E, D>,
    beta: &Tensor<(usize,), E, D>,
    epsilon: f64,
    x: Tensor<Dyn3, E, D, T>,
) -> Result<Tensor<Dyn3, E, D, T>, AttnError> {
    let shape = *x.shape();
    if is_cpu_f32::<E, D>() && shape.0 * shape.1 * shape.2 > 0 {
        return fused(gamma, beta, epsilon, x);
    }
    composite_dyn(gamma, beta, epsilon, x)
}

kernel_tables! {
    /// This module's kernel, compiled once in attn-runtime (see `kernel_tables!`).
    struct NormKernels {
        norm: fn(
            &Tensor<(usize,), E, D>,
            &Tensor<(usize,), E, D>,
            f64,
            Tensor<Dyn3, E, D, T>,
        ) -> Result<Tensor<Dyn3, E, D, T>, AttnError>
            = norm_dyn::<E, D, T>,
    }
}

/// What dfdx's `LayerNorm1D` computes, on run-time shapes (every device).
fn composite_dyn<E: Dtype, D: Device<E>, T: Tape<E, D> + 'static>(
    gamma: &Tensor<(usize,), E, D>,
    beta: &Tensor<(usize,), E, D>,
    epsilon: f64,
    x: Tensor<Dyn3, E, D, T>,
) -> Result<Tensor<Dyn3, E, D, T>, AttnError> {
    let shape = *x.shape();
    x.try_normalize::<Axis<2>>(epsilon)
        .dev()?
        .try_mul(
            gamma
                .retaped::<T>()
                .try_broadcast_like::<_, Axes2<0, 1>>(&shape)
                .dev()?,
        )
        .dev()?
        .try_add(
            beta.retaped::<T>()
                .try_broadcast_like::<_, Axes2<0, 1>>(&shape)
                .dev()?,
        )
        .dev()
}

/// The fused path; the caller checked that `E` is `f32` and `D` the `Cpu`.
fn fused<S: Shape, G: Shape, E: Dtype, D: Device<E>, T: Tape<E, D> + 'static>(
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

#[cfg(test)]
mod tests {
    use super::*;

    fn build(dev: &Cpu) -> LayerNorm1D<6, f32, Cpu> {
        let mut norm: LayerNorm1D<6, f32, Cpu> =
            dev.build_module::<dfdx::nn::builders::LayerNorm1D<6>, f32>();
        norm.gamma = dev.tensor([0.5, 1.0, 1.5, -1.0, 2.0, 0.25]);
        norm.beta = dev.tensor([0.1, -0.2, 0.3, 0.0, 0.5, -1.0]);
        norm
    }

    fn close(a: &[f32], b: &[f32], what: &str) {
        assert_eq!(a.len(), b.len());
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            assert!(
                (x - y).abs() <= 1e-5 * (1.0 + y.abs()),
                "{what}[{i}]: {x} vs {y}"
            );
        }
    }

    #[test]
    fn fused_and_dfdx_agree_forward_and_backward() {
        let dev = Cpu::seed_from_u64(3);
        let norm = build(&dev);
        // 3 × 35 rows: not a multiple of the rows per task
        let x: Tensor<Rank3<3, 35, 6>, f32, Cpu> = dev.sample_normal();
        let x = x * 3.0 + 1.0;
        let upstream: Tensor<Rank3<3, 35, 6>, f32, Cpu> = dev.sample_normal();

        let gamma = realized::<(usize,), _, _, _, _>(norm.gamma.clone()).unwrap();
        let beta = realized::<(usize,), _, _, _, _>(norm.beta.clone()).unwrap();
        let run = |path: usize| {
            // a leaky tape keeps the input's gradient, not only the parameters'
            let dyn3 = || realized::<Dyn3, _, _, _, _>(x.leaky_trace()).unwrap();
            let y = match path {
                0 => norm.forward(x.leaky_trace()),
                1 => norm.try_norm(x.leaky_trace()).unwrap(),
                2 => realized(norm.try_norm_dyn(dyn3()).unwrap()).unwrap(),
                _ => realized(composite_dyn(&gamma, &beta, norm.epsilon, dyn3()).unwrap()).unwrap(),
            };
            let values = y.retaped::<NoneTape>().as_vec();
            let grads = (y * upstream.clone()).sum().backward();
            let g = |t: Vec<f32>| t;
            (
                values,
                g(grads.get(&x).as_vec()),
                g(grads.get(&norm.gamma).as_vec()),
                g(grads.get(&norm.beta).as_vec()),
            )
        };
        // dfdx's module, the fused kernel, and both on run-time shapes
        let (y0, dx0, dg0, db0) = run(0);
        for path in 1..4 {
            let (y1, dx1, dg1, db1) = run(path);
            close(&y1, &y0, &format!("y ({path})"));
            close(&dx1, &dx0, &format!("dx ({path})"));
            close(&dg1, &dg0, &format!("dgamma ({path})"));
            close(&db1, &db0, &format!("dbeta ({path})"));
        }
        let (y1, ..) = run(1);
        // every row of the output before scaling has mean 0: check through beta
        let first_row_mean: f32 = y1[..6]
            .iter()
            .zip(norm.gamma.as_vec())
            .zip(norm.beta.as_vec())
            .map(|((y, g), b)| (y - b) / g)
            .sum::<f32>()
            / 6.0;
        assert!(first_row_mean.abs() < 1e-5, "{first_row_mean}");
    }

    #[test]
    fn inference_without_a_tape_and_gradients_accumulate() {
        let dev = Cpu::seed_from_u64(4);
        let norm = build(&dev);
        let x: Tensor<Rank2<5, 6>, f32, Cpu> = dev.sample_normal();
        close(
            &norm.try_norm(x.clone()).unwrap().as_vec(),
            &norm.forward(x.clone()).as_vec(),
            "y",
        );
        // two uses of x on one tape: its gradient is the sum of both
        let y = norm.try_norm(x.leaky_trace()).unwrap();
        let (y, tape) = y.split_tape();
        let z = norm.try_norm(x.clone().put_tape(tape)).unwrap();
        let grads = (z + y).sum().backward();
        let twice = grads.get(&x).as_vec();
        let grads = norm.try_norm(x.leaky_trace()).unwrap().sum().backward();
        let once = grads.get(&x).as_vec();
        let doubled: Vec<f32> = once.iter().map(|g| 2.0 * g).collect();
        close(&twice, &doubled, "dx");
    }
}
