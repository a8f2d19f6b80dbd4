//! Layer normalisation in one pass per row, forward and backward, for `f32` on the CPU: one read
//! and one write per element each way, parallel over rows, keeping only each row's mean and
//! inverse standard deviation for the backward pass (dfdx's `LayerNorm1D` runs as about ten
//! broadcast element-wise ops each way). [`crate::transformer::NormExt`] calls it.

use dfdx::prelude::*;
use rayon::prelude::*;

use crate::error::AttnError;
use crate::kernels::cpu_op::{for_each_maybe_parallel, min_len, Input};
use crate::kernels::op::{apply, split_operand, CpuOp, InputGrads, Operand};
use crate::kernels::simd::{self, simd_dispatch, Arith};
use crate::kernels::tuning::{Isa, KernelConfig};

/// Rows per parallel task: enough work to pay for the hand-off.
const ROWS_PER_TASK: usize = 16;

/// `y = (x − mean) / sqrt(var + eps) · gamma + beta` over each row of `m` values (`var` is the
/// biased variance, as PyTorch's); fills each row's mean and `1 / sqrt(var + eps)`. The rows'
/// arithmetic runs on the instruction set `isa`.
///
/// # Shapes
/// `x`, `y`: `[rows, m]`; `gamma`, `beta`: `[m]`; `mean`, `rstd`: `[rows]`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn forward(
    isa: Isa,
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
        dispatch_forward(isa, x, gamma, beta, eps, y, mean, rstd)
    });
}

simd_dispatch!(
    /// [`forward_rows`] on the instruction set asked for.
    fn dispatch_forward => forward_rows(
        x: &[f32],
        gamma: &[f32],
        beta: &[f32],
        eps: f32,
        y: &mut [f32],
        mean: &mut [f32],
        rstd: &mut [f32],
    )
);

/// [`forward`] on a task's rows.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn forward_rows<A: Arith>(
    x: &[f32],
    gamma: &[f32],
    beta: &[f32],
    eps: f32,
    y: &mut [f32],
    mean: &mut [f32],
    rstd: &mut [f32],
) {
    let m = gamma.len();
    for (((y, x), mean), rstd) in y
        .chunks_mut(m)
        .zip(x.chunks(m))
        .zip(mean.iter_mut())
        .zip(rstd.iter_mut())
    {
        let mu = simd::sum(x) / m as f32;
        // the deviations go to `y` first, for the variance
        for (y, x) in y.iter_mut().zip(x) {
            *y = x - mu;
        }
        let var = simd::dot::<A>(y, y) / m as f32;
        let r = 1.0 / (var + eps).sqrt();
        for ((y, g), b) in y.iter_mut().zip(gamma).zip(beta) {
            *y = A::madd(*y * r, *g, *b);
        }
        (*mean, *rstd) = (mu, r);
    }
}

/// The gradients of [`forward`] given the output gradient `dy`: `dx` (added to, or where `adds`
/// is false written over whatever it holds) and the sums over rows for `gamma` and `beta`
/// (returned). The rows' arithmetic runs on `isa`.
///
/// With `x̂ = (x − mean)·rstd` and `g = dy·gamma`: `dx = rstd·(g − mean(g) − x̂·mean(g·x̂))`,
/// `dgamma = Σ dy·x̂`, `dbeta = Σ dy`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn backward(
    isa: Isa,
    x: &[f32],
    gamma: &[f32],
    mean: &[f32],
    rstd: &[f32],
    dy: &[f32],
    adds: bool,
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
            let (mut xhat, mut g) = zeros();
            let sums = (&mut dgamma[..], &mut dbeta[..]);
            let scratch = (&mut xhat[..], &mut g[..]);
            dispatch_backward(isa, x, gamma, mean, rstd, dy, adds, dx, sums, scratch);
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

/// Two slices of one row's length.
type RowPair<'a> = (&'a mut [f32], &'a mut [f32]);

simd_dispatch!(
    /// [`backward_rows`] on the instruction set asked for.
    fn dispatch_backward => backward_rows(
        x: &[f32],
        gamma: &[f32],
        mean: &[f32],
        rstd: &[f32],
        dy: &[f32],
        adds: bool,
        dx: &mut [f32],
        sums: RowPair<'_>,
        scratch: RowPair<'_>,
    )
);

/// [`backward`] on a task's rows: `dx` added to (or written), `dy·x̂` and `dy` added to `sums`; `scratch`
/// holds a row's `x̂` and `g`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn backward_rows<A: Arith>(
    x: &[f32],
    gamma: &[f32],
    mean: &[f32],
    rstd: &[f32],
    dy: &[f32],
    adds: bool,
    dx: &mut [f32],
    (dgamma, dbeta): RowPair<'_>,
    (xhat, g): RowPair<'_>,
) {
    let m = gamma.len();
    for ((((dx, x), dy), &mu), &r) in dx
        .chunks_mut(m)
        .zip(x.chunks(m))
        .zip(dy.chunks(m))
        .zip(mean)
        .zip(rstd)
    {
        for i in 0..m {
            xhat[i] = (x[i] - mu) * r;
            g[i] = dy[i] * gamma[i];
            dgamma[i] = A::madd(dy[i], xhat[i], dgamma[i]);
            dbeta[i] += dy[i];
        }
        let mean_g = simd::sum(g) / m as f32;
        let mean_gx = simd::dot::<A>(g, xhat) / m as f32;
        for i in 0..m {
            let d = r * (g[i] - mean_g - xhat[i] * mean_gx);
            dx[i] = if adds { dx[i] + d } else { d };
        }
    }
}

/// Layer norm over rows of `gamma.len()` values as a [`CpuOp`]; inputs `x`, `gamma`, `beta`.
struct LayerNorm {
    epsilon: f32,
}

/// What the backward pass reads: `x`, `gamma`, each row's mean and `1 / std`, and the
/// instruction set the forward pass ran on.
struct Saved {
    x: Input,
    gamma: Input,
    mean: Vec<f32>,
    rstd: Vec<f32>,
    isa: Isa,
}

impl CpuOp<3> for LayerNorm {
    type Saved = Saved;

    fn forward(
        &self,
        _: &Cpu,
        [x, gamma, beta]: [Input; 3],
        out: &mut [f32],
    ) -> Result<Saved, AttnError> {
        let isa = KernelConfig::current()?.isa();
        let rows = x.len() / gamma.len();
        let (mut mean, mut rstd) = (vec![0f32; rows], vec![0f32; rows]);
        forward(
            isa,
            &x,
            &gamma,
            &beta,
            self.epsilon,
            out,
            &mut mean,
            &mut rstd,
        );
        Ok(Saved {
            x,
            gamma,
            mean,
            rstd,
            isa,
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
        let mut dx = grads.input_whole(0)?.expect(HAS_GRADIENT);
        let adds = dx.adds();
        let (x, gamma) = (&s.x, &s.gamma);
        let (dgamma, dbeta) = backward(s.isa, x, gamma, &s.mean, &s.rstd, dy, adds, dx.values());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_instruction_set_gives_the_definition_forward_and_backward() {
        let (rows, m, eps) = (37, 45, 1e-5f32);
        let wave = |n: usize, k: usize| -> Vec<f32> {
            (0..n)
                .map(|i| ((i * k % 101) as f32 / 101.0 - 0.4) * 3.0)
                .collect()
        };
        let (x, gamma, beta, dy) = (
            wave(rows * m, 37),
            wave(m, 11),
            wave(m, 5),
            wave(rows * m, 13),
        );
        // the definition in f64: y, and dx, dgamma, dbeta of Σ y·dy
        let mut want_y = vec![0f64; rows * m];
        let mut want_dx = vec![0f64; rows * m];
        let (mut want_dgamma, mut want_dbeta) = (vec![0f64; m], vec![0f64; m]);
        for r in 0..rows {
            let row: Vec<f64> = x[r * m..(r + 1) * m]
                .iter()
                .map(|&v| f64::from(v))
                .collect();
            let mu = row.iter().sum::<f64>() / m as f64;
            let var = row.iter().map(|v| (v - mu).powi(2)).sum::<f64>() / m as f64;
            let rs = 1.0 / (var + f64::from(eps)).sqrt();
            let xhat: Vec<f64> = row.iter().map(|v| (v - mu) * rs).collect();
            let g: Vec<f64> = (0..m)
                .map(|i| f64::from(dy[r * m + i]) * f64::from(gamma[i]))
                .collect();
            let mean_g = g.iter().sum::<f64>() / m as f64;
            let mean_gx = (0..m).map(|i| g[i] * xhat[i]).sum::<f64>() / m as f64;
            for i in 0..m {
                want_y[r * m + i] = xhat[i] * f64::from(gamma[i]) + f64::from(beta[i]);
                want_dx[r * m + i] = rs * (g[i] - mean_g - xhat[i] * mean_gx);
                want_dgamma[i] += f64::from(dy[r * m + i]) * xhat[i];
                want_dbeta[i] += f64::from(dy[r * m + i]);
            }
        }
        let close = |what: &str, got: &[f32], want: &[f64], offset: f64| {
            for (i, (g, w)) in got.iter().zip(want).enumerate() {
                let w = w + offset;
                assert!(
                    (f64::from(*g) - w).abs() < 1e-4 * (1.0 + w.abs()),
                    "{what}[{i}]: {g} vs {w}"
                );
            }
        };
        for isa in Isa::ALL.into_iter().filter(|isa| isa.available()) {
            let mut y = vec![0f32; rows * m];
            let (mut mean, mut rstd) = (vec![0f32; rows], vec![0f32; rows]);
            forward(isa, &x, &gamma, &beta, eps, &mut y, &mut mean, &mut rstd);
            close(&format!("{isa:?} y"), &y, &want_y, 0.0);
            // dx is added to what is there
            let mut dx = vec![0.5f32; rows * m];
            let (dgamma, dbeta) = backward(isa, &x, &gamma, &mean, &rstd, &dy, true, &mut dx);
            close(&format!("{isa:?} dx"), &dx, &want_dx, 0.5);
            // or written over every value
            let mut dx = vec![f32::NAN; rows * m];
            backward(isa, &x, &gamma, &mean, &rstd, &dy, false, &mut dx);
            close(&format!("{isa:?} dx written"), &dx, &want_dx, 0.0);
            close(&format!("{isa:?} dgamma"), &dgamma, &want_dgamma, 0.0);
            close(&format!("{isa:?} dbeta"), &dbeta, &want_dbeta, 0.0);
        }
    }
}
