//! The residual connection of transformer sub-layers, `x + dropout(y)`, and the dropout inside
//! feed-forward networks, on run-time shapes (compiled once in attn-runtime).

use dfdx::prelude::*;

use crate::error::{AttnError, DeviceResultExt};
use crate::kernels::cpu_op::Dyn3;

/// `x + dropout(y)`, recorded, with `y` carrying the tape.
///
/// # Shapes
/// `y`, `x`: `[B, S, M]` → `[B, S, M]`.
///
/// **PyTorch equivalent**: `x + F.dropout(y, p)`.
pub(crate) fn residual<E: Dtype, D: Device<E>, T: Tape<E, D> + 'static>(
    y: Tensor<Dyn3, E, D, T>,
    x: &Tensor<Dyn3, E, D>,
    p: f64,
) -> Result<Tensor<Dyn3, E, D, T>, AttnError> {
    (kernels::<E, D, T>()?.residual)(y, x, p)
}

/// [`residual`] itself.
fn residual_impl<E: Dtype, D: Device<E>, T: Tape<E, D> + 'static>(
    y: Tensor<Dyn3, E, D, T>,
    x: &Tensor<Dyn3, E, D>,
    p: f64,
) -> Result<Tensor<Dyn3, E, D, T>, AttnError> {
    let y = crate::kernels::elementwise::try_dropout(y, p)?;
    y.try_add(x.clone()).dev()
}

/// `dropout(x, p)` on run-time shapes (what the feed-forward networks call).
pub(crate) fn dropout<E: Dtype, D: Device<E>, T: Tape<E, D> + 'static>(
    x: Tensor<Dyn3, E, D, T>,
    p: f64,
) -> Result<Tensor<Dyn3, E, D, T>, AttnError> {
    (kernels::<E, D, T>()?.dropout)(x, p)
}

kernel_tables! {
    /// This module's kernels, compiled once in attn-runtime (see `kernel_tables!`).
    struct BlockKernels {
        residual: fn(
            Tensor<Dyn3, E, D, T>,
            &Tensor<Dyn3, E, D>,
            f64,
        ) -> Result<Tensor<Dyn3, E, D, T>, AttnError>
            = residual_impl::<E, D, T>,
        dropout: fn(Tensor<Dyn3, E, D, T>, f64) -> Result<Tensor<Dyn3, E, D, T>, AttnError>
            = crate::kernels::elementwise::try_dropout::<Dyn3, E, D, T>,
    }
}
