//! The documentation of `#[derive(TensorCollection)]`, attached to its re-export.

/// dfdx's `TensorCollection` for a hand-built module, written from its fields: the one walk
/// that builds the module ([`try_build`](crate::param::try_build)), names its parameters (checkpoints, state
/// dicts, [`LoadPytorch`](crate::pytorch_names::LoadPytorch)), resets, counts, moves and
/// updates them — what PyTorch's `nn.Module` does for the sub-modules and `nn.Parameter`s
/// assigned in `__init__`, and burn's `#[derive(Module)]`.
///
/// * A field is a sub-module, visited under the field's name (`encoder.layers.0.…`).
/// * `#[collection(tensor = <TensorOptions>)]` makes it a tensor, reset as the options say
///   (`TensorOptions::reset_to_zeros()`, `TensorOptions::reset_with(f)`); a `Tensor` field
///   without it is a compile error that says so.
/// * A `PhantomData` field is not visited.
///
/// The struct's dtype and device are the parameters of its `D: Storage<E>` (or `Device<E>`)
/// bound. A type parameter that occurs in a sub-module's type is taken to be a module type
/// itself: it moves with the collection to another dtype and device, and is required to be
/// a `TensorCollection`. On the struct, `#[collection(marker(P, ..))]` keeps such parameters as
/// they are (a cell kind or scoring rule inside a sub-module's type), and
/// `#[collection(bound(..))]` adds where-predicates to the `E: Dtype + Float + SampleUniform,
/// D: Device<E>` that dfdx's layers need.
///
/// ```
/// use attn_runtime::dfdx::nn::modules;
/// use attn_runtime::prelude::*;
///
/// /// `x + gate ⊙ inner(x)`, with a learned gate per feature.
/// #[derive(Clone, Debug, TensorCollection)]
/// struct Gated<const M: usize, Inner, E: Dtype, D: Storage<E>> {
///     inner: Inner,
///     norm: modules::LayerNorm1D<M, E, D>,
///     #[collection(tensor = TensorOptions::reset_to_zeros())]
///     gate: Tensor<Rank1<M>, E, D>,
/// }
///
/// type Model = Gated<8, Projection<8, 8, f32, Cpu, true>, f32, Cpu>;
/// let dev: Cpu = Default::default();
/// let model: Model = attn_runtime::param::try_build(&dev)?;
/// let mut names = Vec::new();
/// attn_runtime::param::for_each_param(&model, |(name, _, _)| {
///     names.push(name.to_string());
///     Ok(())
/// })?;
/// assert_eq!(
///     names,
///     ["inner.weight", "inner.bias", "norm.gamma", "norm.beta", "gate"]
/// );
/// assert_eq!(model.gate.array(), [0.0; 8]);
/// // moved to f64 with it: `Inner` is a sub-module type
/// let wide: Gated<8, Projection<8, 8, f64, Cpu, true>, f64, Cpu> = model.to_dtype();
/// assert_eq!(wide.inner.weight.array()[0][0], model.inner.weight.array()[0][0] as f64);
/// # Ok::<(), AttnError>(())
/// ```
pub use attn_macros::TensorCollection;
