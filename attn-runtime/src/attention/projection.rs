//! A linear projection with optional bias, applied to the last axis of `[.., I]` tensors.

use dfdx::prelude::*;
use num_traits::Float;
use rand_distr::{uniform::SampleUniform, Uniform};

use crate::error::{AttnError, DeviceResultExt};
use crate::kernels::cpu_op::{is_cpu_f32, realized, Dyn2, Dyn3};
use crate::kernels::linear::try_linear;

/// `y = x · Wᵀ + b` over the last axis, with the bias present only when `BIAS` is `true`.
///
/// The weight is stored `[O, I]` like PyTorch's, so state dicts load without transposing.
/// Parameters are named `weight` and `bias`. Initialisation follows PyTorch's attention
/// projections: Xavier-uniform weight, zero bias.
///
/// # Shapes
/// `[B, S, I] -> [B, S, O]`, or `[N, I] -> [N, O]`; `[B, S, I]` is applied as one `[B·S, I]`
/// matrix product (measured faster in dfdx than a batched one).
///
/// **PyTorch equivalent**: `nn.Linear(I, O, bias=BIAS)` with `xavier_uniform_` weights.
#[derive(Clone, Debug)]
pub struct Projection<const I: usize, const O: usize, E: Dtype, D: Storage<E>, const BIAS: bool> {
    /// `[O, I]`
    pub weight: Tensor<Rank2<O, I>, E, D>,
    /// `[O]`, present exactly when `BIAS`.
    pub bias: Option<Tensor<Rank1<O>, E, D>>,
}

fn xavier_uniform<const I: usize, const O: usize, E, D>(
    t: &mut Tensor<Rank2<O, I>, E, D>,
) -> Result<(), D::Err>
where
    E: Dtype + Float + SampleUniform,
    D: Device<E>,
{
    let bound = (6.0 / (I + O) as f64).sqrt();
    let bound = E::from_f64(bound).unwrap_or(E::ONE);
    t.try_fill_with_distr(Uniform::new(-bound, bound))
}

impl<const I: usize, const O: usize, E, D> TensorCollection<E, D> for Projection<I, O, E, D, true>
where
    E: Dtype + Float + SampleUniform,
    D: Device<E>,
{
    type To<E2: Dtype, D2: Device<E2>> = Projection<I, O, E2, D2, true>;

    fn iter_tensors<V: ModuleVisitor<Self, E, D>>(
        visitor: &mut V,
    ) -> Result<Option<Self::To<V::E2, V::D2>>, V::Err> {
        visitor.visit_fields(
            (
                Self::tensor(
                    "weight",
                    |s| &s.weight,
                    |s| &mut s.weight,
                    TensorOptions::reset_with(xavier_uniform),
                ),
                Self::tensor(
                    "bias",
                    |s| s.bias.as_ref().expect("a biased projection has a bias"),
                    |s| s.bias.as_mut().expect("a biased projection has a bias"),
                    TensorOptions::reset_to_zeros(),
                ),
            ),
            |(weight, bias)| Projection {
                weight,
                bias: Some(bias),
            },
        )
    }
}

impl<const I: usize, const O: usize, E, D> TensorCollection<E, D> for Projection<I, O, E, D, false>
where
    E: Dtype + Float + SampleUniform,
    D: Device<E>,
{
    type To<E2: Dtype, D2: Device<E2>> = Projection<I, O, E2, D2, false>;

    fn iter_tensors<V: ModuleVisitor<Self, E, D>>(
        visitor: &mut V,
    ) -> Result<Option<Self::To<V::E2, V::D2>>, V::Err> {
        visitor.visit_fields(
            Self::tensor(
                "weight",
                |s| &s.weight,
                |s| &mut s.weight,
                TensorOptions::reset_with(xavier_uniform),
            ),
            |weight| Projection { weight, bias: None },
        )
    }
}

impl<const I: usize, const O: usize, E: Dtype, D: Device<E>, const BIAS: bool>
    Projection<I, O, E, D, BIAS>
{
    /// Projects `[N, I] -> [N, O]`: for `f32` on the `Cpu` as one fused op (product and bias in
    /// one pass), elsewhere as dfdx's matmul plus a broadcast add.
    pub fn try_forward_2d<N: Dim, T: Tape<E, D> + 'static>(
        &self,
        x: Tensor<(N, Const<I>), E, D, T>,
    ) -> Result<Tensor<(N, Const<O>), E, D, T>, AttnError> {
        self.try_project(x, is_cpu_f32::<E, D>())
    }

    /// [`Self::try_forward_2d`] as dfdx's matmul plus a broadcast add on every device: the
    /// reference the fused op is tested against.
    #[cfg(test)]
    pub(crate) fn try_forward_2d_composite<N: Dim, T: Tape<E, D> + 'static>(
        &self,
        x: Tensor<(N, Const<I>), E, D, T>,
    ) -> Result<Tensor<(N, Const<O>), E, D, T>, AttnError> {
        self.try_project(x, false)
    }

    fn try_project<N: Dim, T: Tape<E, D> + 'static>(
        &self,
        x: Tensor<(N, Const<I>), E, D, T>,
        fused: bool,
    ) -> Result<Tensor<(N, Const<O>), E, D, T>, AttnError> {
        let linear = self.erased()?;
        realized((kernels::<E, D, T>()?.project)(
            realized::<Dyn2, _, _, _, _>(x)?,
            &linear.weight,
            linear.bias.as_ref(),
            fused,
        )?)
    }

    /// The same parameters on run-time shapes (the same tensors: gradients reach them).
    pub(crate) fn erased(&self) -> Result<DynLinear<E, D>, AttnError> {
        let weight = realized::<Dyn2, _, _, _, _>(self.weight.clone())?;
        let bias = match &self.bias {
            Some(b) => Some(realized::<(usize,), _, _, _, _>(b.clone())?),
            None => None,
        };
        Ok(DynLinear { weight, bias })
    }

    /// Projects `[B, S, I] -> [B, S, O]`.
    pub fn try_forward_3d<B: Dim, S: Dim, T: Tape<E, D> + 'static>(
        &self,
        x: Tensor<(B, S, Const<I>), E, D, T>,
    ) -> Result<Tensor<(B, S, Const<O>), E, D, T>, AttnError> {
        realized(
            self.erased()?
                .try_forward_3d(realized::<Dyn3, _, _, _, _>(x)?)?,
        )
    }
}

/// A [`Projection`]'s parameters on run-time shapes: `weight: [O, I]`, `bias: [O]`.
///
/// What layers written over run-time shapes project with (compiled once per tape type).
#[derive(Clone, Debug)]
pub(crate) struct DynLinear<E: Dtype, D: Storage<E>> {
    pub(crate) weight: Tensor<Dyn2, E, D>,
    pub(crate) bias: Option<Tensor<(usize,), E, D>>,
}

impl<E: Dtype, D: Device<E>> DynLinear<E, D> {
    /// `[B, S, I] -> [B, S, O]`, fused on the `Cpu` for `f32`.
    pub(crate) fn try_forward_3d<T: Tape<E, D> + 'static>(
        &self,
        x: Tensor<Dyn3, E, D, T>,
    ) -> Result<Tensor<Dyn3, E, D, T>, AttnError> {
        (kernels::<E, D, T>()?.project_3d)(
            x,
            &self.weight,
            self.bias.as_ref(),
            is_cpu_f32::<E, D>(),
        )
    }

    /// `[B, S, I] -> [B, S, O]` as dfdx's matmul plus a broadcast add on every device.
    pub(crate) fn try_forward_3d_composite<T: Tape<E, D> + 'static>(
        &self,
        x: Tensor<Dyn3, E, D, T>,
    ) -> Result<Tensor<Dyn3, E, D, T>, AttnError> {
        (kernels::<E, D, T>()?.project_3d)(x, &self.weight, self.bias.as_ref(), false)
    }
}

/// A projection with its weight `[O, I]` and optional bias `[O]` on run-time shapes, fused or not.
type ProjectFn<S, E, D, T> = fn(
    Tensor<S, E, D, T>,
    &Tensor<Dyn2, E, D>,
    Option<&Tensor<(usize,), E, D>>,
    bool,
) -> Result<Tensor<S, E, D, T>, AttnError>;

kernel_tables! {
    /// This module's kernels, compiled once in attn-runtime (see `kernel_tables!`).
    struct ProjectionKernels {
        project: ProjectFn<Dyn2, E, D, T> = project::<E, D, T>,
        project_3d: ProjectFn<Dyn3, E, D, T> = project_3d::<E, D, T>,
    }
}

/// `[B, S, I] -> [B, S, O]` on run-time shapes, as one `[B·S, I]` product.
fn project_3d<E: Dtype, D: Device<E>, T: Tape<E, D> + 'static>(
    x: Tensor<Dyn3, E, D, T>,
    weight: &Tensor<Dyn2, E, D>,
    bias: Option<&Tensor<(usize,), E, D>>,
    fused: bool,
) -> Result<Tensor<Dyn3, E, D, T>, AttnError> {
    let (b, s, i) = *x.shape();
    let flat = x.try_reshape_like(&(b * s, i)).dev()?;
    let y = project(flat, weight, bias, fused)?;
    let o = y.shape().1;
    y.try_reshape_like(&(b, s, o)).dev()
}

/// `x · Wᵀ + b` on run-time shapes (`x: [N, I]`, `weight: [O, I]`, `bias: [O]` → `[N, O]`):
/// compiled once per tape type, whatever the layers' sizes. `fused` takes the one-pass CPU op
/// (`f32` on the `Cpu` only), else dfdx's matmul plus a broadcast add.
fn project<E: Dtype, D: Device<E>, T: Tape<E, D> + 'static>(
    x: Tensor<Dyn2, E, D, T>,
    weight: &Tensor<Dyn2, E, D>,
    bias: Option<&Tensor<(usize,), E, D>>,
    fused: bool,
) -> Result<Tensor<Dyn2, E, D, T>, AttnError> {
    if fused {
        return try_linear(x, weight, bias);
    }
    let n = x.shape().0;
    let o = weight.shape().0;
    let y = x
        .try_matmul(
            weight
                .retaped::<T>()
                .try_permute::<_, Axes2<1, 0>>()
                .dev()?,
        )
        .dev()?;
    match bias {
        None => Ok(y),
        Some(bias) => y
            .try_add(
                bias.retaped::<T>()
                    .try_broadcast_like::<_, Axis<0>>(&(n, o))
                    .dev()?,
            )
            .dev(),
    }
}

/// The builder of a [`Projection`], for `dev.build_module::<ProjectionBuilder<I, O, BIAS>, E>()`.
#[derive(Clone, Copy, Debug, Default)]
pub struct ProjectionBuilder<const I: usize, const O: usize, const BIAS: bool>;

impl<const I: usize, const O: usize, const BIAS: bool, E: Dtype, D: Device<E>> BuildOnDevice<D, E>
    for ProjectionBuilder<I, O, BIAS>
where
    Projection<I, O, E, D, BIAS>: BuildModule<D, E>,
{
    type Built = Projection<I, O, E, D, BIAS>;
}
