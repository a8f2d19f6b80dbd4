//! The gradient exchange of a data-parallel step: every rank's gradient of its share of the
//! batch, weighted by the share's size, summed over the ranks, so that each gets the gradient of
//! the whole batch's mean loss.

use dfdx::nn::tensor_collection::TensorCollection;
use dfdx::prelude::*;

use super::Collective;
use crate::error::AttnError;
use crate::param::for_each_param;

/// Every trainable parameter's gradient in `grads`, in the model's walk order (the same on every
/// rank), as one buffer.
///
/// # Errors
/// [`AttnError::Device`] when the walk fails.
pub(crate) fn flatten_gradients<M, E, D>(
    model: &M,
    grads: &Gradients<E, D>,
) -> Result<Vec<f32>, AttnError>
where
    M: TensorCollection<E, D> + Clone,
    E: Dtype,
    D: Device<E>,
{
    let mut flat = Vec::new();
    for_each_param(model, |(_, trainable, p)| {
        if trainable {
            p.append_grad_f32(grads, &mut flat);
        }
        Ok(())
    })?;
    Ok(flat)
}

/// Turns this rank's `gradient` of its share's mean loss `loss` over `rows` rows into the
/// gradient of the whole batch's mean loss, the same bits on every rank: each share's gradient
/// is weighted by its rows' part of the batch's, then the ranks' are summed. Returns the whole
/// batch's mean loss. With one rank it changes nothing.
///
/// The totals come first, so that a loss that is not finite on any rank is seen by every rank
/// before the gradients are exchanged (they then stop together, none left waiting).
///
/// **PyTorch equivalent**: DistributedDataParallel's gradient all-reduce, weighted by the rows
/// (DDP divides by the world size, which equals this only when every share has as many rows).
///
/// # Errors
/// [`AttnError::Distributed`] when the exchange fails; [`AttnError::NonFinite`] when the
/// batch's loss is not finite (the gradients are then not exchanged).
pub(crate) fn share_gradients(
    collective: &dyn Collective,
    gradient: &mut [f32],
    loss: f32,
    rows: usize,
) -> Result<f64, AttnError> {
    let own = if rows == 0 {
        0.0
    } else {
        f64::from(loss) * rows as f64
    };
    let mut totals = [own, rows as f64];
    collective.all_reduce_sum_f64(&mut totals)?;
    let [loss_sum, all_rows] = totals;
    let loss = if all_rows > 0.0 {
        loss_sum / all_rows
    } else {
        0.0
    };
    if !loss.is_finite() {
        return Err(AttnError::NonFinite {
            what: "loss",
            value: loss,
        });
    }
    let weight = if all_rows > 0.0 {
        (rows as f64 / all_rows) as f32
    } else {
        0.0
    };
    for g in gradient.iter_mut() {
        *g *= weight;
    }
    collective.all_reduce_sum_f32(gradient)?;
    Ok(loss)
}
