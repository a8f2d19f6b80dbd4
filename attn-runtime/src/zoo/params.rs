//! A model's parameters to and from a [`StateDict`] by their dotted names, with every name and
//! shape checked before anything is loaded (a checkpoint of another model is an error, not a
//! panic or a half-loaded model).

use dfdx::nn::tensor_collection::TensorCollection;
use dfdx::prelude::*;

use crate::error::AttnError;
use crate::param::{for_each_param, for_each_param_mut};
use crate::state_dict::StateDict;

/// Every parameter (and buffer) of `model`, by dotted name, as F32 tensors.
pub fn params_to_state_dict<M: TensorCollection<E, D> + Clone, E: Dtype, D: Device<E>>(
    model: &M,
) -> Result<StateDict, AttnError> {
    let mut sd = StateDict::default();
    for_each_param(model, |(name, _, p)| {
        sd.insert(name.to_string(), p.dims(), p.values_f64(), false);
        Ok(())
    })?;
    Ok(sd)
}

/// The `(name, shape)` of every tensor `model` has.
pub fn param_shapes<M: TensorCollection<E, D> + Clone, E: Dtype, D: Device<E>>(
    model: &M,
) -> Result<Vec<(String, Vec<usize>)>, AttnError> {
    let mut shapes = Vec::new();
    for_each_param(model, |(name, _, p)| {
        shapes.push((name.to_string(), p.dims()));
        Ok(())
    })?;
    Ok(shapes)
}

/// Loads every tensor of `model` from `sd`, after checking that `sd` has each name with the
/// right shape and nothing else.
///
/// # Errors
/// [`AttnError::StateDict`] listing what is missing, extra or misshapen; `model` is untouched then.
pub fn load_params<M: TensorCollection<E, D> + Clone, E: Dtype, D: Device<E>>(
    model: &mut M,
    sd: &StateDict,
) -> Result<(), AttnError> {
    check_fits(&param_shapes(model)?, sd)?;
    for_each_param_mut(model, |(name, _, p)| sd.load_param(name, p))
}

/// Whether `sd` holds exactly the tensors `expected` names, with their shapes (written once,
/// not once per model type).
fn check_fits(expected: &[(String, Vec<usize>)], sd: &StateDict) -> Result<(), AttnError> {
    let mut problems = Vec::new();
    for (name, shape) in expected {
        match sd.get(name) {
            Err(_) => problems.push(format!("missing `{name}`")),
            Ok(t) if &t.shape != shape => problems.push(format!(
                "`{name}` is {:?}, the model's is {shape:?}",
                t.shape
            )),
            Ok(_) => {}
        }
    }
    let known: std::collections::BTreeSet<&str> =
        expected.iter().map(|(n, _)| n.as_str()).collect();
    let extra: Vec<&str> = sd.names().filter(|n| !known.contains(n)).collect();
    if !extra.is_empty() {
        problems.push(format!("unexpected {}", extra.join(", ")));
    }
    if !problems.is_empty() {
        let shown: Vec<String> = problems.iter().take(6).cloned().collect();
        return Err(AttnError::StateDict {
            reason: format!(
                "the checkpoint does not fit this model ({}{})",
                shown.join("; "),
                if problems.len() > 6 {
                    format!("; and {} more", problems.len() - 6)
                } else {
                    String::new()
                }
            ),
        });
    }
    Ok(())
}
