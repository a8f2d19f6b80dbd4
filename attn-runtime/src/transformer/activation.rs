//! Feed-forward activations, chosen in a declaration with `activation:`.

use dfdx::prelude::*;

use crate::error::{AttnError, DeviceResultExt};
use crate::kernels::cpu_op::Dyn3;
use crate::tape_holder::TapeHolder;

/// An elementwise activation: one of the built-ins below, or a type of your own, which a
/// declaration names by its path (`activation: SquaredRelu`, `activation: acts::Swish`) — any
/// name that is not a built-in's, nor a typo of one (`Gelo` stays an error). The gated
/// `Geglu`/`Swiglu` are built-ins only.
///
/// `try_apply` works on any shape, dtype, device and tape: build it from dfdx's tensor ops, and
/// turn their device errors into an [`AttnError`] with [`AttnError::device`]. A function that
/// uses `x` twice (such as `x·σ(x)`) must route the tape through both uses; the built-ins'
/// sources show how.
///
/// # Example
///
/// ```
/// use attn_runtime::prelude::*;
/// use attn_runtime::transformer::Activation;
///
/// /// Squared ReLU, `max(0, x)²` (So et al., 2021, "Primer").
/// #[derive(Clone, Copy, Debug, Default)]
/// pub struct SquaredRelu;
///
/// impl Activation for SquaredRelu {
///     const NAME: &'static str = "SquaredRelu";
///
///     fn try_apply<S: Shape, E: Dtype, D: Device<E>, T: Tape<E, D> + 'static>(
///         x: Tensor<S, E, D, T>,
///     ) -> Result<Tensor<S, E, D, T>, AttnError> {
///         x.try_relu().and_then(|r| r.try_square()).map_err(AttnError::device)
///     }
/// }
///
/// attention_model! {
///     /// A tagger whose feed-forward networks use squared ReLU.
///     pub struct Primer {
///         arch: Transformer,
///         task: Tag { vocab: 10, max_len: 4, tags: 3 },
///         d_model: 8, heads: 2, ff: 16, layers: 1,
///         activation: SquaredRelu,
///     }
/// }
///
/// assert_eq!(Primer::META.activation, attn_runtime::spec::Activation::Custom);
/// assert_eq!(<Primer as DeclaredModel>::ACTIVATION_NAME, "SquaredRelu");
/// let dev: Cpu = Default::default();
/// let model = dev.build_module::<Primer, f32>();
/// let ids: Tensor<(usize, Const<4>), usize, _> = dev.tensor_from_vec(vec![1; 8], (2, Const));
/// let _: Tensor<(usize, Const<4>, Const<3>), f32, _> = model.forward(ids);
/// ```
pub trait Activation: Clone + Copy + std::fmt::Debug + Default + 'static {
    /// The declaration's name for it (for a type of your own, its type name, by convention).
    const NAME: &'static str;

    /// Applies the activation.
    fn try_apply<S: Shape, E: Dtype, D: Device<E>, T: Tape<E, D> + 'static>(
        x: Tensor<S, E, D, T>,
    ) -> Result<Tensor<S, E, D, T>, AttnError>;

    /// [`try_apply`](Self::try_apply) on the run-time shape `[B, S, F]` the feed-forward
    /// networks call it with. Provided as `try_apply` itself; attn's built-ins run a copy
    /// compiled once in attn-runtime instead of one per crate.
    ///
    /// # Errors
    /// As [`try_apply`](Self::try_apply).
    fn try_apply_dyn<E: Dtype, D: Device<E>, T: Tape<E, D> + 'static>(
        x: Tensor<(usize, usize, usize), E, D, T>,
    ) -> Result<Tensor<(usize, usize, usize), E, D, T>, AttnError> {
        Self::try_apply(x)
    }
}

kernel_tables! {
    /// The built-ins on run-time shapes, compiled once in attn-runtime (see `kernel_tables!`).
    struct ActivationKernels {
        relu: ActivationFn<E, D, T> = <Relu as Activation>::try_apply::<Dyn3, E, D, T>,
        gelu_tanh: ActivationFn<E, D, T> = <GeluTanh as Activation>::try_apply::<Dyn3, E, D, T>,
        tanh: ActivationFn<E, D, T> = <Tanh as Activation>::try_apply::<Dyn3, E, D, T>,
        sigmoid: ActivationFn<E, D, T> = <Sigmoid as Activation>::try_apply::<Dyn3, E, D, T>,
        leaky_relu: ActivationFn<E, D, T> = <LeakyRelu as Activation>::try_apply::<Dyn3, E, D, T>,
        silu: ActivationFn<E, D, T> = <Silu as Activation>::try_apply::<Dyn3, E, D, T>,
        gelu: ActivationFn<E, D, T> = <Gelu as Activation>::try_apply::<Dyn3, E, D, T>,
    }
}

type ActivationFn<E, D, T> = fn(Tensor<Dyn3, E, D, T>) -> Result<Tensor<Dyn3, E, D, T>, AttnError>;

/// A built-in's [`Activation::try_apply_dyn`]: its entry of the compiled table.
macro_rules! compiled_dyn {
    ($field:ident) => {
        fn try_apply_dyn<E: Dtype, D: Device<E>, T: Tape<E, D> + 'static>(
            x: Tensor<Dyn3, E, D, T>,
        ) -> Result<Tensor<Dyn3, E, D, T>, AttnError> {
            (kernels::<E, D, T>()?.$field)(x)
        }
    };
}

/// An activation that is one dfdx op, optionally with our CPU kernel for `f32` on the `Cpu`.
macro_rules! unary_activation {
    ($(#[$doc:meta])* $name:ident, $decl:literal, $field:ident, $op:ident $(, cpu: $kernel:path)?) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Default)]
        pub struct $name;

        impl Activation for $name {
            const NAME: &'static str = $decl;

            compiled_dyn!($field);

            fn try_apply<S: Shape, E: Dtype, D: Device<E>, T: Tape<E, D> + 'static>(
                x: Tensor<S, E, D, T>,
            ) -> Result<Tensor<S, E, D, T>, AttnError> {
                $(
                    if crate::kernels::cpu_op::is_cpu_f32::<E, D>() {
                        return $kernel(x);
                    }
                )?
                x.$op().dev()
            }
        }
    };
}

unary_activation!(
    /// `max(0, x)`. **PyTorch equivalent**: `F.relu`.
    Relu, "Relu", relu, try_relu, cpu: crate::kernels::elementwise::try_relu_cpu
);
unary_activation!(
    /// The tanh approximation of GELU, `0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))`.
    /// **PyTorch equivalent**: `F.gelu(x, approximate="tanh")`.
    GeluTanh, "GeluTanh", gelu_tanh, try_fast_gelu
);
unary_activation!(
    /// `tanh(x)`. **PyTorch equivalent**: `torch.tanh`.
    Tanh, "Tanh", tanh, try_tanh
);
unary_activation!(
    /// `1 / (1 + e^(−x))`. **PyTorch equivalent**: `torch.sigmoid`.
    Sigmoid, "Sigmoid", sigmoid, try_sigmoid
);

/// `x` for `x > 0`, `0.01·x` otherwise, with PyTorch's derivative at 0 (the slope 0.01).
/// Computed as `0.01·x + 0.99·relu(x)`. **PyTorch equivalent**: `F.leaky_relu` (slope 0.01).
#[derive(Clone, Copy, Debug, Default)]
pub struct LeakyRelu;

impl Activation for LeakyRelu {
    const NAME: &'static str = "LeakyRelu";

    compiled_dyn!(leaky_relu);

    fn try_apply<S: Shape, E: Dtype, D: Device<E>, T: Tape<E, D> + 'static>(
        x: Tensor<S, E, D, T>,
    ) -> Result<Tensor<S, E, D, T>, AttnError> {
        let slope = E::from_f64(0.01).unwrap_or_default();
        let rest = E::from_f64(0.99).unwrap_or_default();
        let (mut tape, x) = TapeHolder::split(x);
        let positive = tape.run(&x, |x| x.try_relu().dev()?.try_mul(rest).dev())?;
        let out = tape.run(&x, |x| x.try_mul(slope).dev()?.try_add(positive).dev())?;
        Ok(tape.finish(out))
    }
}

/// SiLU (Swish), `x·σ(x)`. **PyTorch equivalent**: `F.silu`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Silu;

impl Activation for Silu {
    const NAME: &'static str = "Silu";

    compiled_dyn!(silu);

    fn try_apply<S: Shape, E: Dtype, D: Device<E>, T: Tape<E, D> + 'static>(
        x: Tensor<S, E, D, T>,
    ) -> Result<Tensor<S, E, D, T>, AttnError> {
        if crate::kernels::cpu_op::is_cpu_f32::<E, D>() {
            return crate::kernels::elementwise::try_silu_cpu(x);
        }
        let (mut tape, x) = TapeHolder::split(x);
        let gate = tape.run(&x, |x| x.try_sigmoid().dev())?;
        let out = tape.run(&x, |x| x.try_mul(gate).dev())?;
        Ok(tape.finish(out))
    }
}

/// Exact GELU, `x·Φ(x)` with the normal CDF through `erf`. **PyTorch equivalent**: `F.gelu`.
///
/// dfdx 0.13's `accurate_gelu` computes the right values but a wrong derivative: its
/// `x·φ(x)` term misses the chain rule's `1/√2` (CPU and CUDA kernels alike), overstating it by
/// `√2`. This adds `c(x) − c(x)` with `c = (√2 − 1)·φ` recorded only on the first term: the value
/// is unchanged (the two are computed identically) and the gradient gains `(√2 − 1)·φ'(x) =
/// −(√2 − 1)·x·φ(x)`, which cancels the excess. The golden tests against PyTorch check it.
#[derive(Clone, Copy, Debug, Default)]
pub struct Gelu;

impl Activation for Gelu {
    const NAME: &'static str = "Gelu";

    compiled_dyn!(gelu);

    fn try_apply<S: Shape, E: Dtype, D: Device<E>, T: Tape<E, D> + 'static>(
        x: Tensor<S, E, D, T>,
    ) -> Result<Tensor<S, E, D, T>, AttnError> {
        if crate::kernels::cpu_op::is_cpu_f32::<E, D>() {
            return crate::kernels::elementwise::try_gelu_cpu(x);
        }
        Self::try_apply_composite(x)
    }
}

impl Gelu {
    /// GELU from dfdx's ops (every device and dtype; the reference for the CPU kernel).
    pub(crate) fn try_apply_composite<S: Shape, E: Dtype, D: Device<E>, T: Tape<E, D> + 'static>(
        x: Tensor<S, E, D, T>,
    ) -> Result<Tensor<S, E, D, T>, AttnError> {
        let k = E::from_f64((std::f64::consts::SQRT_2 - 1.0) / (2.0 * std::f64::consts::PI).sqrt())
            .unwrap_or_default();
        let minus_half = E::from_f64(-0.5).unwrap_or_default();
        fn scaled_normal_pdf<S: Shape, E: Dtype, D: Device<E>, T: Tape<E, D> + 'static>(
            x: Tensor<S, E, D, T>,
            minus_half: E,
            k: E,
        ) -> Result<Tensor<S, E, D, T>, AttnError> {
            x.try_square()
                .dev()?
                .try_mul(minus_half)
                .dev()?
                .try_exp()
                .dev()?
                .try_mul(k)
                .dev()
        }
        let (mut tape, x) = TapeHolder::split(x);
        let gelu = tape.run(&x, |x| x.try_accurate_gelu().dev())?;
        let constant = scaled_normal_pdf(x.clone(), minus_half, k)?;
        let out = tape.run(&x, |x| {
            scaled_normal_pdf(x, minus_half, k)?
                .try_sub(constant)
                .dev()?
                .try_add(gelu)
                .dev()
        })?;
        Ok(tape.finish(out))
    }
}
