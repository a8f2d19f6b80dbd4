//! Plumbing for attn's own CPU kernels: telling `f32` tensors on the `Cpu` apart from the generic
//! `E`/`D` the layers are written over (`Any` turns the generic types into the concrete ones
//! when they are), buffers from the device's allocation cache and tensors that own them, the
//! parallel-or-not split of a kernel's work, run-time shapes and kernel tables. The wiring of a
//! kernel into dfdx's autograd is [`super::op`].

use std::any::{Any, TypeId};

use crate::error::AttnError;
use dfdx::prelude::*;

/// Whether tensors of dtype `E` on device `D` are `f32` tensors on the `Cpu`.
pub(crate) fn is_cpu_f32<E: 'static, D: 'static>() -> bool {
    TypeId::of::<E>() == TypeId::of::<f32>() && TypeId::of::<D>() == TypeId::of::<Cpu>()
}

/// `x` as a value of type `Dst`, when `Src` and `Dst` are the same type.
pub(crate) fn cast<Src: 'static, Dst: 'static>(x: Src) -> Option<Dst> {
    let mut slot = Some(x);
    (&mut slot as &mut dyn Any)
        .downcast_mut::<Option<Dst>>()
        .and_then(Option::take)
}

/// The values of an `f32` tensor on the `Cpu`, row-major, read in place from its storage (the
/// tensor is kept alive, not copied), or of a buffer a kernel filled: what a kernel reads its
/// inputs from and keeps for its backward pass.
pub(crate) struct Input(Box<dyn AsValues>);

/// Something holding `f32` values in row-major order.
trait AsValues: 'static {
    fn values(&self) -> &[f32];
}

impl<S: Shape> AsValues for Tensor<S, f32, Cpu> {
    fn values(&self) -> &[f32] {
        // `f32_input` keeps only tensors whose storage is exactly their row-major values
        self.storage_values()
    }
}

/// A buffer from the allocation cache as [`AsValues`].
struct Buffer(CpuBuf);

impl AsValues for Buffer {
    fn values(&self) -> &[f32] {
        &self.0
    }
}

impl std::ops::Deref for Input {
    type Target = [f32];

    fn deref(&self) -> &[f32] {
        self.0.values()
    }
}

impl Input {
    /// The values of a buffer a kernel filled.
    pub(crate) fn buffer(buf: CpuBuf) -> Self {
        Input(Box::new(Buffer(buf)))
    }
}

/// Whether `t` is an `f32` tensor on the `Cpu` laid out row-major (its strides its shape's own):
/// then an op may add a row-major gradient into its gradient buffer, which follows its storage.
pub(crate) fn is_row_major<S: Shape, E: Dtype, D: Storage<E>>(t: &Tensor<S, E, D>) -> bool {
    let Some(t) = cast::<_, Tensor<S, f32, Cpu>>(t.clone()) else {
        return false;
    };
    // `try_contiguous` hands back the same storage exactly when the layout is row-major
    t.clone()
        .try_contiguous()
        .is_ok_and(|c| c.storage_values().as_ptr() == t.storage_values().as_ptr())
}

/// The values of `t`, row-major, when it is an `f32` tensor on the `Cpu` (`None` otherwise):
/// read in place when its storage holds exactly them (a contiguous tensor), else copied once
/// into a buffer from the device's allocation cache.
pub(crate) fn f32_input<S: Shape, E: Dtype, D: Storage<E>>(t: Tensor<S, E, D>) -> Option<Input> {
    let t = cast::<_, Tensor<S, f32, Cpu>>(t)?.try_contiguous().ok()?;
    let n = t.shape().num_elements();
    if t.storage_values().len() == n {
        return Some(Input(Box::new(t)));
    }
    let mut values = t.device().try_alloc_len(n).ok()?;
    t.copy_into(&mut values);
    Some(Input::buffer(values))
}

/// A tensor of `shape` on `dev` (known to be the `Cpu` with `E = f32`) that owns `values`, a
/// buffer from the device's allocation cache ([`buffer`]): no copy, and the storage returns to
/// the cache when the tensor is dropped, as dfdx's own outputs do.
///
/// # Errors
/// A device error when `values` does not hold `shape`'s number of values.
///
/// # Panics
/// When `D` is not the `Cpu` or `E` not `f32`; callers check [`is_cpu_f32`] first.
pub(crate) fn tensor_from_buffer<S: Shape, E: Dtype, D: Device<E>>(
    dev: &D,
    shape: S,
    values: CpuBuf,
) -> Result<Tensor<S, E, D>, D::Err> {
    let cpu: Cpu = cast(dev.clone()).expect(ONLY_CPU_F32);
    match cpu.try_tensor_from_vec(take_vec(values), shape) {
        Ok(t) => Ok(cast(t).expect(ONLY_CPU_F32)),
        Err(e) => Err(cast(e).expect(ONLY_CPU_F32)),
    }
}

/// The `Vec` inside a buffer from the `Cpu`'s allocation cache, for a tensor to own.
///
/// Emptied, the buffer is forgotten rather than dropped: dropped, it would file a zero-length
/// allocation in the cache on every call, and nothing takes those out again. Forgetting it leaks
/// nothing but a count on the cache's `Arc` (its `Vec` is empty), which keeps the device's cache
/// alive as the device itself does.
pub(crate) fn take_vec(mut buf: CpuBuf) -> Vec<f32> {
    let values = std::mem::take(&mut *buf);
    std::mem::forget(buf);
    values
}

/// The `Cpu`'s `f32` buffer type (what `Gradients` holds per tensor).
pub(crate) type CpuBuf = <Cpu as Storage<f32>>::Vec;

/// A zeroed buffer of `n` values from the device `D`, known to be the `Cpu` with `E = f32`.
///
/// # Panics
/// When `D` is not the `Cpu`; callers check [`is_cpu_f32`] before they allocate.
pub(crate) fn buffer<E, D: Storage<E>>(dev: &D, n: usize) -> Result<CpuBuf, D::Err> {
    Ok(cast(dev.try_alloc_len(n)?).expect("a buffer of the Cpu's f32 storage"))
}

/// Why a backward pass registered by one of our kernels may assume the `Cpu` and `f32`.
pub(crate) const ONLY_CPU_F32: &str =
    "attn's CPU kernels run (and register their backward passes) only for f32 on the Cpu";

/// Below this many values a kernel runs on the calling thread: handing a job to rayon's pool
/// from outside it (every op of a training step) costs two thread wake-ups, more than the work.
pub(crate) const PARALLEL_MIN: usize = 1 << 15;

/// Calls `f(index, item)` for every item, on rayon's pool when `work` (values touched) is at least
/// [`PARALLEL_MIN`], else in order on this thread. Items are independent, so both give the same
/// result.
pub(crate) fn for_each_maybe_parallel<I, F>(work: usize, items: I, f: F)
where
    I: rayon::iter::IndexedParallelIterator,
    F: Fn(usize, I::Item) + Sync + Send,
{
    use rayon::prelude::*;
    items
        .with_min_len(min_len(work))
        .enumerate()
        .for_each(|(i, item)| f(i, item));
}

/// The `with_min_len` for a parallel iterator over `work` values: 1 (split freely) from
/// [`PARALLEL_MIN`] on, else everything in one job, which rayon runs on the calling thread.
pub(crate) fn min_len(work: usize) -> usize {
    if work >= PARALLEL_MIN {
        1
    } else {
        usize::MAX
    }
}

/// Shapes whose dimensions are known only at run time, that kernels are written over (see
/// [`realized`]).
pub(crate) type Dyn2 = (usize, usize);
/// Three run-time dimensions.
pub(crate) type Dyn3 = (usize, usize, usize);
/// Four run-time dimensions.
pub(crate) type Dyn4 = (usize, usize, usize, usize);

/// `t` as a tensor of shape type `Dst`, the same dimensions spelled otherwise: all `usize` for a
/// kernel written over run-time shapes (compiled once per tape type, not once per model's
/// sizes), and back to the caller's typed shape after it. No copy; the tensor keeps its id, so
/// gradients still find it.
///
/// # Errors
/// [`AttnError::Device`] when the dimensions differ from `Dst`'s fixed ones, which the callers
/// rule out by construction.
pub(crate) fn realized<Dst, S, E, D, T>(
    t: Tensor<S, E, D, T>,
) -> Result<Tensor<Dst, E, D, T>, AttnError>
where
    S: Shape + RealizeShapeTo<Dst>,
    Dst: Shape<Concrete = S::Concrete>,
    D: Storage<E>,
    T: Tape<E, D> + 'static,
{
    // one line per call site (there are many): no formatting here
    t.try_realize::<Dst>().map_err(|_| {
        AttnError::device("internal: a tensor's dimensions do not fit its typed shape")
    })
}

/// The kernel table of type `K` among `tables` (one per supported dtype, device and tape),
/// found by its type (see `kernel_tables!` in the crate root).
///
/// # Errors
/// [`AttnError::Device`] when none is built for that dtype, device and tape.
pub(crate) fn pick<K: Any>(
    tables: &[&'static (dyn Any + Send + Sync)],
) -> Result<&'static K, AttnError> {
    tables
        .iter()
        .find_map(|t| t.downcast_ref::<K>())
        .ok_or_else(|| {
            AttnError::device(
                "attn's layers run on f32 or f64 tensors on the Cpu, or f32 on Cuda (the `cuda` \
                 feature), recorded on dfdx's OwnedTape or on NoneTape",
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    static TABLE_A: u32 = 7;
    static TABLE_B: (u8, u8) = (1, 2);

    #[test]
    fn a_kernel_table_is_found_by_type_and_a_missing_one_is_an_error() {
        let tables: [&'static (dyn Any + Send + Sync); 2] = [&TABLE_A, &TABLE_B];
        assert_eq!(*pick::<u32>(&tables).unwrap(), 7);
        assert_eq!(*pick::<(u8, u8)>(&tables).unwrap(), (1, 2));
        let err = pick::<f32>(&tables).unwrap_err();
        assert!(matches!(err, AttnError::Device { .. }), "{err}");
    }
}
