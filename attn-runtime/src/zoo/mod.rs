//! Running models without knowing their types: the type-erased entries a registry holds, and
//! parameters by name.

mod entry;
mod params;

pub use crate::model::{AttnModel, Batch, BatchOutput, Inputs};
pub use entry::{
    adam_state_from_state_dict, adam_state_to_state_dict, Entry, ForwardSummary, StepReport,
    StepSettings, ZooEntry, ZooModel,
};
pub use params::{load_params, param_shapes, params_to_state_dict};
