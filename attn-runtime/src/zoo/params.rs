//! A model's parameters to and from a [`StateDict`] by their dotted names, with every name and
//! shape checked before anything is loaded (a checkpoint of another model is an error, not a
//! panic or a half-loaded model).

use dfdx::nn::tensor_collection::{
    RecursiveWalker, ScalarOptions, TensorCollection, TensorOptions, TensorVisitor, ViewTensorMut,
    ViewTensorName, ViewTensorRef,
};
use dfdx::prelude::*;
use num_traits::NumCast;

use crate::error::AttnError;
use crate::state_dict::StateDict;

/// Every parameter (and buffer) of `model`, by dotted name, as F32 tensors.
pub fn params_to_state_dict<M: TensorCollection<E, D>, E: Dtype, D: Device<E>>(
    model: &M,
) -> Result<StateDict, AttnError> {
    let mut visitor = Collect {
        sd: StateDict::default(),
    };
    M::iter_tensors(&mut RecursiveWalker {
        m: (model, String::new()),
        f: &mut visitor,
    })
    .map_err(AttnError::device)?;
    Ok(visitor.sd)
}

/// The `(name, shape)` of every tensor `model` has.
pub fn param_shapes<M: TensorCollection<E, D>, E: Dtype, D: Device<E>>(
    model: &M,
) -> Result<Vec<(String, Vec<usize>)>, AttnError> {
    let mut visitor = Shapes { shapes: Vec::new() };
    M::iter_tensors(&mut RecursiveWalker {
        m: (model, String::new()),
        f: &mut visitor,
    })
    .map_err(AttnError::device)?;
    Ok(visitor.shapes)
}

/// Loads every tensor of `model` from `sd`, after checking that `sd` has each name with the
/// right shape and nothing else.
///
/// # Errors
/// [`AttnError::StateDict`] listing what is missing, extra or misshapen; `model` is untouched then.
pub fn load_params<M: TensorCollection<E, D>, E: Dtype, D: Device<E>>(
    model: &mut M,
    sd: &StateDict,
) -> Result<(), AttnError> {
    let expected = param_shapes(model)?;
    let mut problems = Vec::new();
    for (name, shape) in &expected {
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
    let mut visitor = Load { sd, result: Ok(()) };
    M::iter_tensors(&mut RecursiveWalker {
        m: (model, String::new()),
        f: &mut visitor,
    })
    .map_err(AttnError::device)?;
    visitor.result
}

struct Collect {
    sd: StateDict,
}

impl<E: Dtype, D: Device<E>> TensorVisitor<E, D> for Collect {
    type Viewer = (ViewTensorRef, ViewTensorName);
    type Err = D::Err;
    type E2 = E;
    type D2 = D;

    fn visit<S: Shape>(
        &mut self,
        _: TensorOptions<S, E, D>,
        (t, name): (&Tensor<S, E, D>, String),
    ) -> Result<Option<Tensor<S, E, D>>, D::Err> {
        let values = t
            .as_vec()
            .iter()
            .map(|v| v.to_f64().unwrap_or(f64::NAN))
            .collect();
        self.sd.insert(
            name,
            t.shape().concrete().into_iter().collect(),
            values,
            false,
        );
        Ok(None)
    }

    fn visit_scalar<N: NumCast>(
        &mut self,
        _: ScalarOptions<N>,
        _: (&N, String),
    ) -> Result<Option<N>, D::Err> {
        Ok(None)
    }
}

struct Shapes {
    shapes: Vec<(String, Vec<usize>)>,
}

impl<E: Dtype, D: Device<E>> TensorVisitor<E, D> for Shapes {
    type Viewer = (ViewTensorRef, ViewTensorName);
    type Err = D::Err;
    type E2 = E;
    type D2 = D;

    fn visit<S: Shape>(
        &mut self,
        _: TensorOptions<S, E, D>,
        (t, name): (&Tensor<S, E, D>, String),
    ) -> Result<Option<Tensor<S, E, D>>, D::Err> {
        self.shapes
            .push((name, t.shape().concrete().into_iter().collect()));
        Ok(None)
    }

    fn visit_scalar<N: NumCast>(
        &mut self,
        _: ScalarOptions<N>,
        _: (&N, String),
    ) -> Result<Option<N>, D::Err> {
        Ok(None)
    }
}

struct Load<'a> {
    sd: &'a StateDict,
    result: Result<(), AttnError>,
}

impl<'a, E: Dtype, D: Device<E>> TensorVisitor<E, D> for Load<'a> {
    type Viewer = (ViewTensorMut, ViewTensorName);
    type Err = D::Err;
    type E2 = E;
    type D2 = D;

    fn visit<S: Shape>(
        &mut self,
        _: TensorOptions<S, E, D>,
        (t, name): (&mut Tensor<S, E, D>, String),
    ) -> Result<Option<Tensor<S, E, D>>, D::Err> {
        if self.result.is_ok() {
            self.result = self.sd.load_into(&name, t);
        }
        Ok(None)
    }

    fn visit_scalar<N: NumCast>(
        &mut self,
        _: ScalarOptions<N>,
        _: (&mut N, String),
    ) -> Result<Option<N>, D::Err> {
        Ok(None)
    }
}
