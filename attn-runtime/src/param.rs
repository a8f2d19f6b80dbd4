//! A model's parameters one at a time, their shapes erased: the one walk over a model that
//! checkpoints, the optimizer, gradient allocation and device moves all share.
//!
//! dfdx visits a model's tensors through a [`TensorVisitor`]; its walker is instantiated once per
//! (model, visitor) pair, and in a user's binary each such pair is a copy of the whole walk over
//! every field of the model. Nine visitors (save, load, shapes, gradient norm, update, gradient
//! allocation, parameter count, device move, build) made nine copies per declared model, a fifth
//! of the code its binary compiled. Here one visitor hands each tensor to a `dyn FnMut` as a
//! [`Param`] (a `dyn` view of a tensor of any shape), or builds it when there is no model yet, so
//! every consumer is ordinary code over `dyn Param` and each model's walk is compiled once,
//! whatever builds, reads or writes its parameters.
//!
//! **PyTorch equivalent**: `model.named_parameters()` (and `named_buffers()`).

use dfdx::nn::tensor_collection::{
    RecursiveWalker, ScalarOptions, TensorCollection, TensorOptions, TensorVisitor, ViewTensorMut,
    ViewTensorName,
};
use dfdx::prelude::*;
use num_traits::NumCast;

use crate::error::AttnError;

/// One tensor of a model, whatever its shape.
///
/// # Shapes
/// Any: [`dims`](Param::dims) gives it at run time; values are row-major.
pub trait Param<E: Dtype, D: Device<E>> {
    /// The tensor's dimensions.
    fn dims(&self) -> Vec<usize>;
    /// Its values, row-major, as `f64` (a `memcpy` and a widening loop for `f32` on the `Cpu`,
    /// where dfdx's `as_vec` walks the tensor index by index).
    fn values_f64(&self) -> Vec<f64>;
    /// Overwrites its values (row-major; as many as the tensor has), rounding to its dtype.
    fn set_values_f64(&mut self, values: &[f64]);
    /// Overwrites its values (row-major; as many as the tensor has).
    fn set_values(&mut self, values: &[E]);
    /// Its gradient in `grads`, row-major, as `f64`; zeros when `grads` holds none (a parameter
    /// the loss does not reach), as the in-place path for `f32` on the `Cpu` counts it.
    fn grad_values_f64(&self, grads: &Gradients<E, D>) -> Vec<f64>;
    /// The sum of its gradient's squares in `grads`, accumulated in `f64` in storage order
    /// (0 when `grads` holds none). Read in place for `f32` on the `Cpu`.
    fn grad_sum_sq(&self, grads: &Gradients<E, D>) -> f64;
    /// Appends its gradient in `grads` to `out`, row-major, as `f32` (zeros when `grads` holds
    /// none): the one buffer data-parallel ranks exchange. Read in place for `f32` on the `Cpu`.
    fn append_grad_f32(&self, grads: &Gradients<E, D>, out: &mut Vec<f32>);
    /// Its values and its gradient in `grads`, both in place, when it is an `f32` tensor on the
    /// `Cpu` (the optimizer's path without copies); `None` for other dtypes and devices.
    fn cpu_f32_mut<'a>(&'a mut self, grads: &'a Gradients<E, D>) -> Option<CpuF32<'a>>;
    /// Allocates a zeroed gradient for it in `grads` (when it has none).
    ///
    /// # Errors
    /// The device's, when the allocation fails.
    fn try_alloc_grad(&self, grads: &mut Gradients<E, D>) -> Result<(), D::Err>;
    /// Replaces it by a copy of its values on `dev` (a new tensor, with a new id).
    ///
    /// # Errors
    /// The device's, when the allocation fails.
    fn try_move_to(&mut self, dev: &D) -> Result<(), D::Err>;
}

/// Partial sums [`sum_sq_f32`] keeps: four vectors of eight `f64` lanes, enough independent
/// additions to hide the adds' latency.
const SUM_SQ_LANES: usize = 32;

/// `Σ g²` in `f64`, over [`SUM_SQ_LANES`] interleaved partial sums added up at the end: the
/// same order on every machine, and vectorised, where one running sum waits on each addition
/// in turn (the gradient norm of a step reads every gradient once, on one thread).
pub(crate) fn sum_sq_f32(g: &[f32]) -> f64 {
    let mut partial = [0.0f64; SUM_SQ_LANES];
    let chunks = g.chunks_exact(SUM_SQ_LANES);
    let rest = chunks.remainder();
    for chunk in chunks {
        for (p, &x) in partial.iter_mut().zip(chunk) {
            let x = <f64 as From<f32>>::from(x);
            *p += x * x;
        }
    }
    for (p, &x) in partial.iter_mut().zip(rest) {
        let x = <f64 as From<f32>>::from(x);
        *p += x * x;
    }
    partial.iter().sum()
}

impl<S: Shape, E: Dtype, D: Device<E>> Param<E, D> for Tensor<S, E, D> {
    fn dims(&self) -> Vec<usize> {
        self.shape().concrete().into_iter().collect()
    }

    fn values_f64(&self) -> Vec<f64> {
        to_f64(self)
    }

    fn set_values_f64(&mut self, values: &[f64]) {
        if let Some(p) = (self as &mut dyn std::any::Any).downcast_mut::<Tensor<S, f32, Cpu>>() {
            let narrowed: Vec<f32> = values.iter().map(|&v| v as f32).collect();
            p.copy_from(&narrowed);
            return;
        }
        let values: Vec<E> = values
            .iter()
            .map(|&v| E::from_f64(v).unwrap_or_default())
            .collect();
        self.copy_from(&values);
    }

    fn set_values(&mut self, values: &[E]) {
        self.copy_from(values);
    }

    fn grad_values_f64(&self, grads: &Gradients<E, D>) -> Vec<f64> {
        match grads.try_get(self) {
            Some(grad) => to_f64(&grad),
            None => vec![0.0; self.shape().num_elements()],
        }
    }

    fn grad_sum_sq(&self, grads: &Gradients<E, D>) -> f64 {
        let sum_sq = |g: &mut dyn Iterator<Item = f64>| g.map(|g| g.powi(2)).sum::<f64>();
        let any_grads = grads as &dyn std::any::Any;
        match (
            (self as &dyn std::any::Any).downcast_ref::<Tensor<S, f32, Cpu>>(),
            any_grads.downcast_ref::<Gradients<f32, Cpu>>(),
        ) {
            (Some(p), Some(grads)) => grads.storage_values_of(p).map_or(0.0, sum_sq_f32),
            _ => sum_sq(&mut self.grad_values_f64(grads).into_iter()),
        }
    }

    fn append_grad_f32(&self, grads: &Gradients<E, D>, out: &mut Vec<f32>) {
        match (
            (self as &dyn std::any::Any).downcast_ref::<Tensor<S, f32, Cpu>>(),
            (grads as &dyn std::any::Any).downcast_ref::<Gradients<f32, Cpu>>(),
        ) {
            (Some(p), Some(grads)) => match grads.storage_values_of(p) {
                Some(g) => out.extend_from_slice(g),
                None => out.resize(out.len() + p.shape().num_elements(), 0.0),
            },
            _ => out.extend(self.grad_values_f64(grads).into_iter().map(|g| g as f32)),
        }
    }

    fn cpu_f32_mut<'a>(&'a mut self, grads: &'a Gradients<E, D>) -> Option<CpuF32<'a>> {
        let p = (self as &mut dyn std::any::Any).downcast_mut::<Tensor<S, f32, Cpu>>()?;
        let grads = (grads as &dyn std::any::Any).downcast_ref::<Gradients<f32, Cpu>>()?;
        let grad = grads.storage_values_of(p);
        Some(CpuF32 {
            values: p.storage_values_mut(),
            grad,
        })
    }

    fn try_alloc_grad(&self, grads: &mut Gradients<E, D>) -> Result<(), D::Err> {
        grads.try_alloc_for(self)
    }

    fn try_move_to(&mut self, dev: &D) -> Result<(), D::Err> {
        *self = dev.try_tensor_from_vec(self.as_vec(), *self.shape())?;
        Ok(())
    }
}

/// An `f32` parameter on the `Cpu` and its gradient, both in storage order (row-major: a
/// parameter is contiguous, never broadcast), borrowed in place.
pub struct CpuF32<'a> {
    /// The parameter's values, to write.
    pub values: &'a mut [f32],
    /// Its gradient, `None` when the gradients hold none for it.
    pub grad: Option<&'a [f32]>,
}

/// A parameter's (or gradient's) values, row-major, as `f64`: one copy of its storage, which
/// is its values in order (parameters and gradients are contiguous, never broadcast), where
/// dfdx's `as_vec` walks the tensor index by index.
fn to_f64<S: Shape, E: Dtype, D: Device<E>>(t: &Tensor<S, E, D>) -> Vec<f64> {
    let mut values = vec![E::default(); t.shape().num_elements()];
    t.copy_into(&mut values);
    values
        .iter()
        .map(|v| v.to_f64().unwrap_or(f64::NAN))
        .collect()
}

/// What a walk hands its callback for each tensor: its dotted name, whether the optimizer
/// updates it (a parameter, not a buffer), and the tensor.
pub type Visit<'a, P> = (&'a str, bool, P);

/// Calls `f` on every tensor of `model`, in the model's field order, stopping at the first error.
///
/// The walk runs over a clone of `model` (its tensors are reference-counted: no values are
/// copied), so reading and writing share one walk per model type.
///
/// # Errors
/// The first error `f` returns; [`AttnError::Device`] when the walk itself fails.
pub fn for_each_param<M, E, D>(
    model: &M,
    mut f: impl FnMut(Visit<'_, &dyn Param<E, D>>) -> Result<(), AttnError>,
) -> Result<(), AttnError>
where
    M: TensorCollection<E, D> + Clone,
    E: Dtype,
    D: Device<E>,
{
    for_each_param_mut(&mut model.clone(), |(name, trainable, p)| {
        f((name, trainable, &*p))
    })
}

/// Calls `f` on every tensor of `model`, mutably, in the model's field order, stopping at the
/// first error.
///
/// # Errors
/// The first error `f` returns; [`AttnError::Device`] when the walk itself fails.
pub fn for_each_param_mut<M, E, D>(
    model: &mut M,
    mut f: impl FnMut(Visit<'_, &mut dyn Param<E, D>>) -> Result<(), AttnError>,
) -> Result<(), AttnError>
where
    M: TensorCollection<E, D>,
    E: Dtype,
    D: Device<E>,
{
    let mut visitor = Walk {
        f: &mut f,
        device: None,
        failed: None,
    };
    M::iter_tensors(&mut RecursiveWalker {
        m: (Some(model), String::new()),
        f: &mut visitor,
    })
    .map_err(AttnError::device)?;
    visitor.failed.map_or(Ok(()), Err)
}

/// Builds a model on `dev`, every tensor initialised as its module declares (what dfdx's
/// `dev.build_module::<M, E>()` does, drawing the same values from `dev`'s random stream), through
/// the same walk as [`for_each_param_mut`].
///
/// # Errors
/// [`AttnError::Device`] when an allocation fails.
pub fn try_build<M, E, D>(dev: &D) -> Result<M, AttnError>
where
    M: TensorCollection<E, D, To<E, D> = M>,
    E: Dtype,
    D: Device<E>,
{
    let mut ignore = |_: Visit<'_, &mut dyn Param<E, D>>| Ok(());
    let mut visitor = Walk {
        f: &mut ignore,
        device: Some(dev),
        failed: None,
    };
    let built = M::iter_tensors(&mut RecursiveWalker {
        m: (None, String::new()),
        f: &mut visitor,
    })
    .map_err(AttnError::device)?;
    built.ok_or_else(|| AttnError::device("internal: a model's walk built no model"))
}

/// Zeroed gradients for every trainable tensor of `model`, to trace a forward pass with.
///
/// Unlike dfdx's `model.alloc_grads()`, the intermediate values' gradients are not dropped at
/// the end of the backward pass but with the `Gradients` (dfdx 0.13 gives no public way to name
/// the leaves); the backward pass's peak memory is the same, since dfdx drops them only after
/// the last backward op either way.
///
/// # Errors
/// [`AttnError::Device`] when an allocation fails.
pub fn try_alloc_grads<M, E, D>(model: &M) -> Result<Gradients<E, D>, AttnError>
where
    M: TensorCollection<E, D> + Clone,
    E: Dtype,
    D: Device<E>,
{
    let mut grads = Gradients::leaky();
    for_each_param(model, |(_, trainable, p)| {
        if trainable {
            p.try_alloc_grad(&mut grads).map_err(AttnError::device)?;
        }
        Ok(())
    })?;
    Ok(grads)
}

/// How many values the trainable tensors of `model` hold.
pub fn num_trainable_params<M, E, D>(model: &M) -> Result<usize, AttnError>
where
    M: TensorCollection<E, D> + Clone,
    E: Dtype,
    D: Device<E>,
{
    let mut count = 0;
    for_each_param(model, |(_, trainable, p)| {
        if trainable {
            count += p.dims().iter().product::<usize>();
        }
        Ok(())
    })?;
    Ok(count)
}

/// Moves every tensor of `model` onto `dev` (new tensors, new ids; values unchanged).
///
/// # Errors
/// [`AttnError::Device`] when an allocation fails.
pub fn try_move_to<M, E, D>(model: &mut M, dev: &D) -> Result<(), AttnError>
where
    M: TensorCollection<E, D>,
    E: Dtype,
    D: Device<E>,
{
    for_each_param_mut(model, |(_, _, p)| {
        p.try_move_to(dev).map_err(AttnError::device)
    })
}

type WalkFn<'f, E, D> = dyn FnMut(Visit<'_, &mut dyn Param<E, D>>) -> Result<(), AttnError> + 'f;

/// The one visitor of every model: with the model (`Some`), it hands each tensor to the callback;
/// without (`None`), it builds each tensor on `device` as the module declares.
struct Walk<'f, E: Dtype, D: Device<E>> {
    f: &'f mut WalkFn<'f, E, D>,
    device: Option<&'f D>,
    failed: Option<AttnError>,
}

impl<'f, E: Dtype, D: Device<E>> TensorVisitor<E, D> for Walk<'f, E, D> {
    type Viewer = (Option<ViewTensorMut>, ViewTensorName);
    type Err = D::Err;
    type E2 = E;
    type D2 = D;

    fn visit<S: Shape>(
        &mut self,
        opts: TensorOptions<S, E, D>,
        (t, name): (Option<&mut Tensor<S, E, D>>, String),
    ) -> Result<Option<Tensor<S, E, D>>, D::Err> {
        match (t, self.device) {
            (Some(t), _) => {
                if self.failed.is_none() {
                    self.failed = (self.f)((&name, opts.do_gradient_update, t)).err();
                }
                Ok(None)
            }
            (None, Some(dev)) => {
                let mut tensor: Tensor<S, E, D> = dev.try_zeros_like(&opts.shape)?;
                (opts.reset)(&mut tensor)?;
                Ok(Some(tensor))
            }
            (None, None) => Ok(None),
        }
    }

    fn visit_scalar<N: NumCast>(
        &mut self,
        opts: ScalarOptions<N>,
        (n, _): (Option<&mut N>, String),
    ) -> Result<Option<N>, D::Err> {
        Ok(n.is_none().then_some(opts.default))
    }
}

/// Fills `t` from N(0, `std`²): ViT's and GPT-2's initialisation of learned positions and
/// tokens.
///
/// **PyTorch equivalent**: `nn.init.normal_(t, std=std)` (`trunc_normal_` in timm).
pub(crate) fn fill_normal<S, E, D>(t: &mut Tensor<S, E, D>, std: f64) -> Result<(), D::Err>
where
    S: Shape,
    E: Dtype + num_traits::Float,
    D: Device<E>,
{
    let std = E::from_f64(std).unwrap_or(E::ONE);
    t.try_fill_with_distr(NormalDraw { std })
}

/// N(0, `std`²) in any float `E`: a standard normal draw in `f64`, converted to `E`, times
/// `std` in `E` — `rand_distr::Normal<E>`'s arithmetic for `f32` and `f64` (the same values)
/// without its `StandardNormal: Distribution<E>` bound, which would otherwise be required of
/// every module holding a normally initialised tensor, and of every module around it.
struct NormalDraw<E> {
    std: E,
}

impl<E: num_traits::Float> rand_distr::Distribution<E> for NormalDraw<E> {
    fn sample<R: rand::Rng + ?Sized>(&self, rng: &mut R) -> E {
        let z: f64 = rng.sample(rand_distr::StandardNormal);
        E::zero() + self.std * <E as NumCast>::from(z).unwrap_or_else(E::nan)
    }
}

#[cfg(test)]
mod tests {
    use super::sum_sq_f32;

    /// The interleaved sum is the running sum's value to `f64` rounding, at lengths below,
    /// at and past one round of partial sums, with and without a remainder.
    #[test]
    fn the_interleaved_sum_of_squares_is_the_running_sum() {
        for len in [0, 1, 31, 32, 33, 1000, 4099] {
            let g: Vec<f32> = (0..len)
                .map(|i| ((i * 37 % 101) as f32 - 50.0) / 7.0)
                .collect();
            let want: f64 = g.iter().map(|&x| f64::from(x) * f64::from(x)).sum();
            let got = sum_sq_f32(&g);
            assert!(
                (got - want).abs() <= 1e-12 * want,
                "{len} values: {got} vs {want}"
            );
        }
    }
}
