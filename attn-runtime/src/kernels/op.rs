//! One op trait for attn's CPU kernels, in the spirit of candle's `CustomOp`: a kernel writes its
//! forward and backward passes on `f32` slices ([`CpuOp`]); [`apply`] owns the wiring into dfdx's
//! autograd — the `f32`-on-`Cpu` check, the input values, the output tensor built from the
//! kernel's own buffer, the backward registration, the output gradient and the input gradients.
//!
//! dfdx 0.13 has no public way to add a device kernel from outside; its public `Tape` API
//! (`split_tape`, `add_backward_op`, ghosts and `Gradients::get_or_alloc_mut`) is enough to
//! register a backward pass, and `Any` turns the generic `E`/`D` into `f32`/`Cpu` when they are.

use dfdx::prelude::*;
use dfdx::tensor::Gradients;

use super::cpu_op::{
    cast, f32_input, is_cpu_f32, is_row_major, tensor_from_buffer, CpuBuf, Input, ONLY_CPU_F32,
};
use crate::error::{AttnError, DeviceResultExt};
use crate::kernels::tuning::KernelConfig;
use crate::threads::keep_workers_awake;

/// A CPU kernel on `f32` slices with its own backward pass, applied to dfdx tensors by
/// [`apply`]. `N` is the number of input tensors.
///
/// The kernel sees its inputs as row-major values, read in place ([`Input`], which it may keep for
/// the backward pass: the input tensors' storage stays shared, not copied), and writes every value
/// of its output; the backward pass gets the output's gradient and adds
/// (never assigns: an input may be used elsewhere, or twice by this op) each input's gradient.
pub(crate) trait CpuOp<const N: usize>: 'static {
    /// What the backward pass keeps of the forward one: the inputs it reads, row statistics, a
    /// dropout seed.
    type Saved: 'static;

    /// Whether [`backward`](Self::backward) reads the output's values. Only then does the
    /// backward pass keep the output's storage (shared): holding it stops dfdx from reusing that
    /// buffer in place for a later op.
    const READS_OUTPUT: bool = false;

    /// Computes the output into `out` from the inputs' values — **every value of `out` must be
    /// written**: it comes from the allocation cache unzeroed, holding whatever it last held — returning what the backward pass needs. `cpu` hands out buffers from the
    /// device's allocation cache (`try_alloc_len`).
    ///
    /// # Errors
    /// Invalid sizes or settings the op checks, and allocation failures.
    fn forward(
        &self,
        cpu: &Cpu,
        inputs: [Input; N],
        out: &mut [f32],
    ) -> Result<Self::Saved, AttnError>;

    /// Adds the inputs' gradients into `grads`, given the output's values `out` (what
    /// [`forward`](Self::forward) wrote; empty unless [`READS_OUTPUT`](Self::READS_OUTPUT)) and its
    /// gradient `dy`.
    ///
    /// # Errors
    /// Allocation failures.
    fn backward(
        self,
        cpu: &Cpu,
        saved: Self::Saved,
        out: &[f32],
        dy: &[f32],
        grads: &mut dyn InputGrads,
    ) -> Result<(), CpuError>;
}

/// The gradient buffers of an op's inputs during its backward pass, one at a time.
pub(crate) trait InputGrads {
    /// The gradient of input `i`, in place (its row-major values, to be added to); `None` for an
    /// [`Operand::absent`] input.
    ///
    /// # Errors
    /// Allocation failures.
    fn input(&mut self, i: usize) -> Result<Option<&mut [f32]>, CpuError>;

    /// The gradient of input `i` for a kernel that computes it whole: [`GradBuf::Add`] where
    /// the input has a gradient already, [`GradBuf::Write`] where this is its first (a buffer
    /// not zero-filled, so that the kernel writes it instead of zeroing it and adding); `None`
    /// for an [`Operand::absent`] input.
    ///
    /// # Errors
    /// Allocation failures.
    fn input_whole(&mut self, i: usize) -> Result<Option<GradBuf<'_>>, CpuError>;
}

/// An input's gradient buffer as [`InputGrads::input_whole`] hands it out.
pub(crate) enum GradBuf<'a> {
    /// The gradient so far, row-major: the kernel adds to it.
    Add(&'a mut [f32]),
    /// A new buffer of unspecified values: the kernel writes every one.
    Write(&'a mut [f32]),
}

impl GradBuf<'_> {
    /// Whether the kernel adds to the buffer (rather than writing it).
    pub(crate) fn adds(&self) -> bool {
        matches!(self, GradBuf::Add(_))
    }

    /// The buffer, whichever it is.
    pub(crate) fn values(&mut self) -> &mut [f32] {
        match self {
            GradBuf::Add(values) | GradBuf::Write(values) => values,
        }
    }
}

impl<'a> GradBuf<'a> {
    /// The buffer, whichever it is, for as long as it is lent.
    fn into_values(self) -> &'a mut [f32] {
        match self {
            GradBuf::Add(values) | GradBuf::Write(values) => values,
        }
    }
}

/// What a kernel asks of an input's gradient buffer.
#[derive(Clone, Copy)]
enum Want {
    /// The gradient to add to, zero-filled when it is new ([`InputGrads::input`]).
    Add,
    /// The gradient to compute whole: a new one is not zero-filled ([`InputGrads::input_whole`]).
    Whole,
}

/// Finds (allocating when first asked) a tensor's gradient buffer in a `Gradients`, as the
/// `f32` `Cpu`'s: always [`GradBuf::Add`] for [`Want::Add`], [`GradBuf::Write`] for a new one
/// asked [`Want::Whole`].
type GradSlot<E, D> =
    Box<dyn for<'a> Fn(&'a mut Gradients<E, D>, Want) -> Result<GradBuf<'a>, CpuError>>;

/// One input of a [`CpuOp`]: its values, row-major, and where its gradient goes.
pub(crate) struct Operand<E: Dtype, D: Storage<E>> {
    values: Input,
    grad: Option<GradSlot<E, D>>,
}

impl<E: Dtype, D: Device<E>> Operand<E, D> {
    /// `t`'s values, row-major, and its gradient, when it is an `f32` tensor on the `Cpu`.
    ///
    /// The gradient is added to `t`'s own in row-major order, so `t` must be laid out row-major
    /// (a parameter, or a tensor made contiguous on the tape, as [`split_operand`] does): a
    /// gradient buffer follows its tensor's storage order.
    ///
    /// # Errors
    /// [`AttnError::Device`] naming `op` when it is not, when it is not laid out row-major, or
    /// when an allocation fails.
    pub(crate) fn of<S: Shape>(t: &Tensor<S, E, D>, op: &'static str) -> Result<Self, AttnError> {
        // the same tensor (its id) as the `f32` `Cpu`'s, whose values the op reads and whose
        // gradients the slot finds
        let t = cast::<_, Tensor<S, f32, Cpu>>(t.clone()).ok_or_else(|| not_cpu_f32(op))?;
        if !is_row_major(&t) {
            return Err(AttnError::device(format!(
                "{op} adds gradients in row-major order, and was given a tensor laid out \
                 otherwise: make it contiguous on its tape first (`split_operand`)"
            )));
        }
        let ghost = t.ghost();
        let values = f32_input(t).ok_or_else(|| not_cpu_f32(op))?;
        Ok(Operand {
            values,
            grad: Some(Box::new(move |grads, want| {
                let grads: &mut Gradients<f32, Cpu> = (grads as &mut dyn std::any::Any)
                    .downcast_mut()
                    .expect(ONLY_CPU_F32);
                Ok(match want {
                    Want::Add => GradBuf::Add(&mut grads.get_or_alloc_mut(&ghost)?[..]),
                    Want::Whole => match grads.get_or_alloc_unzeroed_mut(&ghost)? {
                        (values, true) => GradBuf::Write(values),
                        (values, false) => GradBuf::Add(values),
                    },
                })
            })),
        })
    }

    /// An input that is not there (a projection without bias): no values and no gradient.
    ///
    /// # Errors
    /// [`AttnError::Device`] when `dev` is not the `Cpu`.
    pub(crate) fn absent(dev: &D, op: &'static str) -> Result<Self, AttnError> {
        let cpu: Cpu = cast(dev.clone()).ok_or_else(|| not_cpu_f32(op))?;
        Ok(Operand {
            values: Input::buffer(cpu.try_alloc_len(0).dev()?),
            grad: None,
        })
    }
}

/// `x` made contiguous (on its tape: a permuted input's gradient reaches it through dfdx's copy),
/// without its tape, as an [`Operand`], and the tape: the usual first input of an op.
///
/// # Errors
/// As [`Operand::of`].
pub(crate) fn split_operand<S, E, D, T>(
    x: Tensor<S, E, D, T>,
    op: &'static str,
) -> Result<(Operand<E, D>, T), AttnError>
where
    S: Shape,
    E: Dtype,
    D: Device<E>,
    T: Tape<E, D> + 'static,
{
    let (x, tape) = x.try_contiguous().dev()?.split_tape();
    Ok((Operand::of(&x, op)?, tape))
}

/// The error of an op given tensors that are not `f32` on the `Cpu`.
pub(crate) fn not_cpu_f32(op: &'static str) -> AttnError {
    AttnError::device(format!("{op} runs on f32 tensors on the Cpu only"))
}

/// Runs `op` on `inputs` into a tensor of `out_shape` on `dev` and, when `tape` records,
/// registers its backward pass.
///
/// The output tensor takes the buffer the kernel wrote (no copy), and a backward pass that needs
/// the output reads it in place; the output's gradient is lent to it in place and put back after, so a
/// leaky tape still finds it.
///
/// Before each pass it keeps the thread pool's other workers awake
/// ([`keep_workers_awake`], for the configured [`KernelConfig::spin`]).
///
/// # Errors
/// [`AttnError::Device`] when `E` is not `f32` or `D` not the `Cpu` (callers check
/// [`is_cpu_f32`] first and take dfdx's composite ops otherwise); [`AttnError::InvalidInput`]
/// when [`crate::tuning::ENV_VAR`] is set wrong; the op's own errors.
pub(crate) fn apply<Op, const N: usize, So, E, D, T>(
    op: Op,
    name: &'static str,
    dev: &D,
    inputs: [Operand<E, D>; N],
    mut tape: T,
    out_shape: So,
) -> Result<Tensor<So, E, D, T>, AttnError>
where
    Op: CpuOp<N>,
    So: Shape,
    E: Dtype,
    D: Device<E>,
    T: Tape<E, D> + 'static,
{
    if !is_cpu_f32::<E, D>() {
        return Err(not_cpu_f32(name));
    }
    let cpu: Cpu = cast(dev.clone()).ok_or_else(|| not_cpu_f32(name))?;
    let spin = KernelConfig::current()?.spin;
    keep_workers_awake(spin);
    let mut slots = Vec::with_capacity(N);
    let values = inputs.map(|operand| {
        slots.push(operand.grad);
        operand.values
    });
    // unzeroed: the op writes every value (see `CpuOp::forward`)
    let mut out_values = cpu.try_alloc_f32_unzeroed(out_shape.num_elements()).dev()?;
    let saved = op.forward(&cpu, values, &mut out_values)?;
    let out: Tensor<So, E, D> = tensor_from_buffer(dev, out_shape, out_values).dev()?;
    if T::OWNS_TAPE {
        let out_ghost = out.ghost();
        // the output's storage, shared (the backward pass reads it; nothing is copied)
        let out_values = if Op::READS_OUTPUT {
            Some(f32_input(out.clone()).ok_or_else(|| not_cpu_f32(name))?)
        } else {
            None
        };
        tape.add_backward_op(move |grads| {
            keep_workers_awake(spin);
            let dy = std::mem::take(gradient_vec(grads.get_or_alloc_mut(&out_ghost)?));
            let result = op.backward(
                &cpu,
                saved,
                out_values.as_deref().unwrap_or(&[]),
                &dy,
                &mut Slots {
                    grads,
                    slots: &slots,
                },
            );
            *gradient_vec(grads.get_or_alloc_mut(&out_ghost)?) = dy;
            result.map_err(|e| cast(e).expect(ONLY_CPU_F32))
        });
    }
    Ok(out.put_tape(tape))
}

/// The values of a gradient buffer that is the `Cpu`'s `f32` buffer, as the `Vec` it holds.
fn gradient_vec<V: 'static>(buf: &mut V) -> &mut Vec<f32> {
    let buf: &mut CpuBuf = (buf as &mut dyn std::any::Any)
        .downcast_mut()
        .expect(ONLY_CPU_F32);
    buf
}

/// [`InputGrads`] over dfdx's `Gradients`.
struct Slots<'a, E: Dtype, D: Storage<E>> {
    grads: &'a mut Gradients<E, D>,
    slots: &'a [Option<GradSlot<E, D>>],
}

impl<E: Dtype, D: Storage<E>> InputGrads for Slots<'_, E, D> {
    fn input(&mut self, i: usize) -> Result<Option<&mut [f32]>, CpuError> {
        Ok(self.slot(i, Want::Add)?.map(GradBuf::into_values))
    }

    fn input_whole(&mut self, i: usize) -> Result<Option<GradBuf<'_>>, CpuError> {
        self.slot(i, Want::Whole)
    }
}

impl<E: Dtype, D: Storage<E>> Slots<'_, E, D> {
    /// Input `i`'s gradient as `want` asks for it; `None` for an absent input.
    fn slot(&mut self, i: usize, want: Want) -> Result<Option<GradBuf<'_>>, CpuError> {
        match &self.slots[i] {
            Some(slot) => Ok(Some(slot(self.grads, want)?)),
            None => Ok(None),
        }
    }
}

/// Fills `dev`'s allocation cache (enabling it) with `copies` buffers of NaN for each of `lens`,
/// so that a buffer a kernel takes without the zero-fill ([`GradBuf::Write`], an output) and
/// does not write whole shows as NaN in what the test compares.
#[cfg(test)]
pub(crate) fn fill_cache_with_nan(dev: &Cpu, lens: &[usize], copies: usize) {
    dev.enable_cache();
    let junk: Vec<_> = lens
        .iter()
        .flat_map(|&len| std::iter::repeat_n(len, copies))
        .map(|len| dev.tensor_from_vec(vec![f32::NAN; len], (len,)))
        .collect();
    drop(junk);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An operand's gradient is added in row-major order, so a permuted tensor is refused
    /// (naming the op) rather than given its gradient in the wrong order; a row-major one, and
    /// the same values made contiguous, are taken.
    #[test]
    fn an_operand_must_be_row_major() {
        let dev = Cpu::default();
        let t: Tensor<Rank2<3, 5>, f32, Cpu> = dev.sample_normal();
        let permuted = t.clone().permute::<Rank2<5, 3>, _>();
        let err = Operand::of(&permuted, "a test op").err().expect("refused");
        assert!(matches!(err, AttnError::Device { .. }), "{err}");
        assert!(err.to_string().contains("a test op"), "{err}");
        assert!(Operand::of(&t, "a test op").is_ok());
        assert!(Operand::of(&permuted.contiguous(), "a test op").is_ok());
    }
}
