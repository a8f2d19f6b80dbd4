//! Running declared models without knowing their types: batches, the batch interface every
//! model implements, and the type-erased entries a registry holds.

mod batch;
mod batch_model;
mod entry;
mod params;

pub use batch::{Batch, Inputs};
pub use batch_model::{BatchModel, BatchOutput};
pub use entry::{
    adam_state_from_state_dict, adam_state_to_state_dict, Entry, ForwardSummary, StepReport,
    StepSettings, ZooEntry, ZooModel,
};
pub use params::{load_params, param_shapes, params_to_state_dict};
