//! Element-wise ops of the training step as single CPU passes with their own backward, for `f32`
//! on the `Cpu`: dropout (dfdx draws one ChaCha random number per element on one thread, which
//! was an eighth of the default model's step) and exact GELU (dfdx's is a scalar `erf` per
//! element, and needs a correction for its wrong derivative, see
//! [`crate::transformer::Gelu`]). Other devices and dtypes keep dfdx's ops.

use dfdx::prelude::*;
use rayon::prelude::*;

use crate::error::{AttnError, DeviceResultExt};
use crate::kernels::counter_hash::{mix32, mix64};
use crate::kernels::cpu_op::{for_each_maybe_parallel, is_cpu_f32, Input};
use crate::kernels::op::{apply, split_operand, CpuOp, InputGrads, Operand};
use crate::kernels::simd::{exp, Plain};

/// Elements per parallel task (and per dropout random stream).
const CHUNK: usize = 4096;

/// An element-wise [`CpuOp`]: `forward(chunk, x, y)` writes a chunk of the output,
/// `backward(chunk, x, dy, dx)` adds a chunk of the input gradient; chunks of [`CHUNK`] values
/// run in parallel.
struct Unary<F, B> {
    forward: F,
    backward: B,
}

impl<F, B> CpuOp<1> for Unary<F, B>
where
    F: Fn(usize, &[f32], &mut [f32]) + Sync + 'static,
    B: Fn(usize, &[f32], &[f32], &mut [f32]) + Sync + 'static,
{
    /// The input's values.
    type Saved = Input;

    fn forward(&self, _: &Cpu, [xs]: [Input; 1], out: &mut [f32]) -> Result<Input, AttnError> {
        for_each_maybe_parallel(
            xs.len(),
            out.par_chunks_mut(CHUNK).zip(xs.par_chunks(CHUNK)),
            |c, (y, x)| (self.forward)(c, x, y),
        );
        Ok(xs)
    }

    fn backward(
        self,
        _: &Cpu,
        xs: Input,
        _: &[f32],
        dy: &[f32],
        grads: &mut dyn InputGrads,
    ) -> Result<(), CpuError> {
        let mut dx = grads
            .input_whole(0)?
            .expect("the input of an element-wise op has a gradient");
        // a first gradient is zeroed chunk by chunk, in parallel, just before it is added to
        let adds = dx.adds();
        for_each_maybe_parallel(
            xs.len(),
            dx.values()
                .par_chunks_mut(CHUNK)
                .zip(xs.par_chunks(CHUNK).zip(dy.par_chunks(CHUNK))),
            |c, (dx, (x, dy))| {
                if !adds {
                    dx.fill(0.0);
                }
                (self.backward)(c, x, dy, dx)
            },
        );
        Ok(())
    }
}

/// Runs `forward` over `x`'s values into a new tensor and, on a tape, `backward(x, dy, dx)` to
/// add the input gradient (see [`Unary`]).
fn try_unary<S, E, D, T, F, B>(
    x: Tensor<S, E, D, T>,
    forward: F,
    backward: B,
) -> Result<Tensor<S, E, D, T>, AttnError>
where
    S: Shape,
    E: Dtype,
    D: Device<E>,
    T: Tape<E, D> + 'static,
    F: Fn(usize, &[f32], &mut [f32]) + Sync + 'static,
    B: Fn(usize, &[f32], &[f32], &mut [f32]) + Sync + 'static,
{
    const NAME: &str = "an element-wise CPU kernel";
    let shape = *x.shape();
    let dev = x.device().clone();
    let (x, tape) = split_operand(x, NAME)?;
    apply(Unary { forward, backward }, NAME, &dev, [x], tape, shape)
}

/// `factor[i] = 1/(1-p)` where element `chunk·CHUNK + i` is kept, else 0: a hash of the seed,
/// the chunk and the position, so the backward pass regenerates the forward's mask.
fn dropout_factors(seed: u64, chunk: usize, p: f32, factors: &mut [f32]) {
    let key = mix64(seed ^ mix64(chunk as u64));
    let key = (key ^ (key >> 32)) as u32;
    let threshold = (f64::from(p) * 4_294_967_296.0).min(4_294_967_295.0) as u32;
    let keep = 1.0 / (1.0 - p);
    for (i, f) in factors.iter_mut().enumerate() {
        let kept = mix32(key ^ (i as u32).wrapping_mul(0x9E37_79B9)) >= threshold;
        *f = if kept { keep } else { 0.0 };
    }
}

/// Inverted dropout: each element is zeroed with probability `p` and the others scaled by
/// `1/(1-p)`, as `x.try_dropout(p)`; the keep mask comes from a counter-based hash seeded from
/// the device's generator, so it costs no stored mask and runs in parallel.
///
/// # Shapes
/// Any; the output has `x`'s shape.
///
/// **PyTorch equivalent**: `F.dropout(x, p, training=True)`.
///
/// # Errors
/// A device error (allocation).
pub fn try_dropout<S: Shape, E: Dtype, D: Device<E>, T: Tape<E, D> + 'static>(
    x: Tensor<S, E, D, T>,
    p: f64,
) -> Result<Tensor<S, E, D, T>, AttnError> {
    if p <= 0.0 {
        return Ok(x);
    }
    if !is_cpu_f32::<E, D>() {
        return x.try_dropout(p).dev();
    }
    let seed = x.device().random_u64();
    let p = p as f32;
    try_unary(
        x,
        move |c, x, y| {
            dropout_factors(seed, c, p, y);
            y.iter_mut().zip(x).for_each(|(y, x)| *y *= x);
        },
        move |c, _x, dy, dx| {
            let mut factors = [0f32; CHUNK];
            let factors = &mut factors[..dx.len()];
            dropout_factors(seed, c, p, factors);
            for ((dx, dy), f) in dx.iter_mut().zip(dy).zip(&*factors) {
                *dx += dy * f;
            }
        },
    )
}

/// The residual connection `x + dropout(y)` as one [`CpuOp`] (dfdx's add runs on one thread, and
/// dropout would be a pass of its own): `dropout` is `(seed, p)` when it drops, with
/// [`dropout_factors`]' mask; without, every factor is 1 (`y · 1` is `y` exactly).
struct Residual {
    dropout: Option<(u64, f32)>,
}

impl Residual {
    /// The factors of chunk `c` (`len` values), in `factors`.
    fn factors<'a>(&self, c: usize, factors: &'a mut [f32; CHUNK], len: usize) -> &'a [f32] {
        let factors = &mut factors[..len];
        match self.dropout {
            Some((seed, p)) => dropout_factors(seed, c, p, factors),
            None => factors.fill(1.0),
        }
        factors
    }
}

impl CpuOp<2> for Residual {
    type Saved = ();

    fn forward(&self, _: &Cpu, [y, x]: [Input; 2], out: &mut [f32]) -> Result<(), AttnError> {
        let len = out.len();
        let chunks = out
            .par_chunks_mut(CHUNK)
            .zip(y.par_chunks(CHUNK).zip(x.par_chunks(CHUNK)));
        for_each_maybe_parallel(len, chunks, |c, (out, (y, x))| {
            let mut factors = [0f32; CHUNK];
            let f = self.factors(c, &mut factors, out.len());
            for (((o, y), x), f) in out.iter_mut().zip(y).zip(x).zip(f) {
                *o = y * f + x;
            }
        });
        Ok(())
    }

    fn backward(
        self,
        _: &Cpu,
        _: (),
        _: &[f32],
        dy: &[f32],
        grads: &mut dyn InputGrads,
    ) -> Result<(), CpuError> {
        // each gradient added to, or written where it is the input's first
        if let Some(mut dx) = grads.input_whole(1)? {
            let adds = dx.adds();
            let chunks = dx.values().par_chunks_mut(CHUNK).zip(dy.par_chunks(CHUNK));
            for_each_maybe_parallel(dy.len(), chunks, |_, (dx, dy)| {
                if adds {
                    dx.iter_mut().zip(dy).for_each(|(dx, dy)| *dx += dy);
                } else {
                    dx.copy_from_slice(dy);
                }
            });
        }
        if let Some(mut dyin) = grads.input_whole(0)? {
            let adds = dyin.adds();
            let chunks = dyin
                .values()
                .par_chunks_mut(CHUNK)
                .zip(dy.par_chunks(CHUNK));
            for_each_maybe_parallel(dy.len(), chunks, |c, (dyin, dy)| {
                let mut factors = [0f32; CHUNK];
                let f = self.factors(c, &mut factors, dy.len());
                for ((g, dy), f) in dyin.iter_mut().zip(dy).zip(f) {
                    *g = if adds { *g + dy * f } else { dy * f };
                }
            });
        }
        Ok(())
    }
}

/// `x + dropout(y, p)` for `f32` on the `Cpu`, in parallel passes forward and backward (the
/// same dropout mask as [`try_dropout`] draws for `y` from the same seed).
///
/// # Shapes
/// `y`, `x`: the same shape → that shape.
///
/// **PyTorch equivalent**: `x + F.dropout(y, p, training=True)`.
///
/// # Errors
/// [`AttnError::ShapeMismatch`] when the shapes differ; a device error (allocation, not `f32`
/// on the `Cpu`, or an `x` that is not row-major: [`Operand::of`]).
pub(crate) fn try_residual_cpu<S, E, D, T>(
    y: Tensor<S, E, D, T>,
    x: &Tensor<S, E, D>,
    p: f64,
) -> Result<Tensor<S, E, D, T>, AttnError>
where
    S: Shape,
    E: Dtype,
    D: Device<E>,
    T: Tape<E, D> + 'static,
{
    const NAME: &str = "the residual connection's CPU kernel";
    let shape = *y.shape();
    if shape.concrete() != x.shape().concrete() {
        return Err(AttnError::mismatch(
            "residual.x",
            format!("{:?}", shape.concrete()),
            format!("{:?}", x.shape().concrete()),
        ));
    }
    let dev = y.device().clone();
    let dropout = (p > 0.0).then(|| (dev.random_u64(), p as f32));
    let x = Operand::of(x, NAME)?;
    let (y, tape) = split_operand(y, NAME)?;
    apply(Residual { dropout }, NAME, &dev, [y, x], tape, shape)
}

/// `erf(x)` within 1.5e-7 (Abramowitz and Stegun 7.1.26, exponential from the fused attention's
/// vectorisable `exp`).
#[inline(always)]
fn erf(x: f32) -> f32 {
    let a = x.abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * a);
    let poly = t
        * (0.254_829_6
            + t * (-0.284_496_74 + t * (1.421_413_8 + t * (-1.453_152_1 + t * 1.061_405_4))));
    let y = 1.0 - poly * exp::<Plain>(-a * a);
    if x < 0.0 {
        -y
    } else {
        y
    }
}

/// Exact GELU `x·Φ(x)` in one pass each way (`Φ' = φ`), for `f32` on the `Cpu`.
///
/// # Shapes
/// Any; the output has `x`'s shape.
///
/// **PyTorch equivalent**: `F.gelu(x)`.
pub(crate) fn try_gelu_cpu<S: Shape, E: Dtype, D: Device<E>, T: Tape<E, D> + 'static>(
    x: Tensor<S, E, D, T>,
) -> Result<Tensor<S, E, D, T>, AttnError> {
    const FRAC_1_SQRT_2: f32 = std::f32::consts::FRAC_1_SQRT_2;
    // 1 / sqrt(2π)
    const INV_SQRT_2PI: f32 = 0.398_942_3;
    try_pointwise(
        x,
        |x| 0.5 * x * (1.0 + erf(x * FRAC_1_SQRT_2)),
        |x| {
            let cdf = 0.5 * (1.0 + erf(x * FRAC_1_SQRT_2));
            let pdf = INV_SQRT_2PI * exp::<Plain>(-0.5 * x * x);
            cdf + x * pdf
        },
    )
}

/// SiLU `x·σ(x)` in one pass each way (`d/dx = σ(x)·(1 + x·(1 − σ(x)))`), for `f32` on the
/// `Cpu`.
///
/// # Shapes
/// Any; the output has `x`'s shape.
///
/// **PyTorch equivalent**: `F.silu(x)`.
pub(crate) fn try_silu_cpu<S: Shape, E: Dtype, D: Device<E>, T: Tape<E, D> + 'static>(
    x: Tensor<S, E, D, T>,
) -> Result<Tensor<S, E, D, T>, AttnError> {
    try_pointwise(
        x,
        |x| x / (1.0 + exp::<Plain>(-x)),
        |x| {
            let sigma = 1.0 / (1.0 + exp::<Plain>(-x));
            sigma * (1.0 + x * (1.0 - sigma))
        },
    )
}

/// ReLU `max(0, x)` in one parallel pass each way (gradient 0 at 0, as PyTorch's), for `f32`
/// on the `Cpu`.
///
/// # Shapes
/// Any; the output has `x`'s shape.
///
/// **PyTorch equivalent**: `F.relu(x)`.
pub(crate) fn try_relu_cpu<S: Shape, E: Dtype, D: Device<E>, T: Tape<E, D> + 'static>(
    x: Tensor<S, E, D, T>,
) -> Result<Tensor<S, E, D, T>, AttnError> {
    try_pointwise(
        x,
        |x| if x > 0.0 { x } else { 0.0 },
        |x| if x > 0.0 { 1.0 } else { 0.0 },
    )
}

/// `y = f(x)` element by element and, on a tape, `dx += dy · f'(x)`: [`try_unary`] for functions
/// of one value (monomorphised, so the loops inline `f` and vectorise).
fn try_pointwise<S, E, D, T, F, Df>(
    x: Tensor<S, E, D, T>,
    f: F,
    derivative: Df,
) -> Result<Tensor<S, E, D, T>, AttnError>
where
    S: Shape,
    E: Dtype,
    D: Device<E>,
    T: Tape<E, D> + 'static,
    F: Fn(f32) -> f32 + Sync + 'static,
    Df: Fn(f32) -> f32 + Sync + 'static,
{
    try_unary(
        x,
        move |_, x, y| {
            for (y, &x) in y.iter_mut().zip(x) {
                *y = f(x);
            }
        },
        move |_, x, dy, dx| {
            for ((dx, &x), &dy) in dx.iter_mut().zip(x).zip(dy) {
                *dx += dy * derivative(x);
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropout_keeps_the_expected_share_scales_and_reuses_its_mask_backwards() {
        let dev = Cpu::seed_from_u64(1);
        let x: Tensor<Rank2<100, 1000>, f32, Cpu> = dev.ones();
        let y = try_dropout(x.leaky_trace(), 0.3).unwrap();
        let values = y.retaped::<NoneTape>().as_vec();
        let kept = values.iter().filter(|v| **v != 0.0).count() as f64 / 1e5;
        assert!((kept - 0.7).abs() < 0.01, "{kept}");
        assert!(values
            .iter()
            .all(|v| *v == 0.0 || (v - 1.0 / 0.7).abs() < 1e-6));
        // d(sum y)/dx is each element's factor: the same mask as the forward pass
        let grads = y.sum().backward();
        assert_eq!(grads.get(&x).as_vec(), values);
        // a new call draws a new mask; p = 0 is the identity
        let again = try_dropout(x.clone(), 0.3).unwrap().as_vec();
        assert_ne!(again, values);
        assert_eq!(try_dropout(x.clone(), 0.0).unwrap().as_vec(), x.as_vec());
    }

    type Op = fn(
        Tensor<Rank1<9000>, f32, Cpu, OwnedTape<f32, Cpu>>,
    ) -> Result<Tensor<Rank1<9000>, f32, Cpu, OwnedTape<f32, Cpu>>, AttnError>;

    /// A kernel against dfdx's composite form of the same function: values and gradients on
    /// 9,000 normal samples scaled by 3 (both tails and the kink or bend at 0).
    fn check_against_composite(fused: Op, composite: Op) {
        let dev = Cpu::seed_from_u64(2);
        let x: Tensor<Rank1<9000>, f32, Cpu> = dev.sample_normal();
        let x = x * 3.0;
        let up: Tensor<Rank1<9000>, f32, Cpu> = dev.sample_normal();
        // recycled buffers of NaN the input's size: a first gradient the kernel leaves a value
        // of shows
        crate::kernels::op::fill_cache_with_nan(&dev, &[9000], 8);
        let fused = fused(x.leaky_trace()).unwrap();
        let composite = composite(x.leaky_trace()).unwrap();
        let (a, b) = (
            fused.retaped::<NoneTape>().as_vec(),
            composite.retaped::<NoneTape>().as_vec(),
        );
        for (i, (a, b)) in a.iter().zip(&b).enumerate() {
            assert!((a - b).abs() < 2e-6 * (1.0 + b.abs()), "[{i}] {a} vs {b}");
        }
        let ga = (fused * up.clone()).sum().backward().get(&x).as_vec();
        let gb = (composite * up).sum().backward().get(&x).as_vec();
        for (i, (a, b)) in ga.iter().zip(&gb).enumerate() {
            assert!((a - b).abs() < 2e-6 * (1.0 + b.abs()), "[{i}] {a} vs {b}");
        }
    }

    #[test]
    fn a_transposed_input_gets_its_gradient_in_its_own_layout() {
        let dev = Cpu::seed_from_u64(3);
        let x: Tensor<Rank2<40, 70>, f32, Cpu> = dev.sample_normal();
        let up: Tensor<Rank2<70, 40>, f32, Cpu> = dev.sample_normal();
        let grad = |fused: bool| {
            let xt = x.leaky_trace().permute::<Rank2<70, 40>, _>();
            let y = if fused {
                try_gelu_cpu(xt).unwrap()
            } else {
                crate::transformer::Gelu::try_apply_composite(xt).unwrap()
            };
            (y * up.clone()).sum().backward().get(&x).as_vec()
        };
        let (a, b) = (grad(true), grad(false));
        for (i, (a, b)) in a.iter().zip(&b).enumerate() {
            assert!((a - b).abs() < 2e-6 * (1.0 + b.abs()), "[{i}] {a} vs {b}");
        }
    }

    #[test]
    fn gelu_kernel_matches_the_composite_gelu_values_and_gradients() {
        check_against_composite(try_gelu_cpu, crate::transformer::Gelu::try_apply_composite);
    }

    #[test]
    fn silu_and_relu_kernels_match_dfdx_values_and_gradients() {
        check_against_composite(try_silu_cpu, |x| {
            let (mut tape, x) = crate::tape_holder::TapeHolder::split(x);
            let gate = tape.run(&x, |x| x.try_sigmoid().dev())?;
            let out = tape.run(&x, |x| x.try_mul(gate).dev())?;
            Ok(tape.finish(out))
        });
        check_against_composite(try_relu_cpu, |x| x.try_relu().dev());
    }
}
