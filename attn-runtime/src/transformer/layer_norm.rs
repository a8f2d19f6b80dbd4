//! Layer normalisation through the one-pass CPU kernel of `crate::kernels::layer_norm`.
//!
//! dfdx's `LayerNorm1D` runs as about ten broadcast element-wise ops (mean, subtract, square,
//! mean, add, sqrt, divide, scale, shift), each a full pass over the activations with its own
//! buffer, and as many again backwards. [`NormExt::try_norm`] computes the same function with one
//! read and one write per element each way, parallel over rows, keeping only each row's mean and
//! inverse standard deviation for the backward pass. Other devices and dtypes run dfdx's module.

use dfdx::nn::modules::LayerNorm1D;
use dfdx::prelude::*;

use crate::error::{AttnError, DeviceResultExt};
use crate::kernels::cpu_op::{is_cpu_f32, realized, Dyn3};
use crate::kernels::layer_norm::fused;

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
        // recycled buffers of NaN the input's size: a first gradient the kernel writes but
        // leaves a value of shows
        crate::kernels::op::fill_cache_with_nan(&dev, &[3 * 35 * 6], 8);

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
