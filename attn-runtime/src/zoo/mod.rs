//! Running declared models without knowing their types: batches, the batch interface every
//! model implements, and the type-erased entries a registry holds.

mod batch;
mod batch_model;
mod entry;

pub use batch::{Batch, Inputs};
pub use batch_model::{BatchModel, BatchOutput};
pub use entry::{Entry, ForwardSummary, ZooEntry, ZooModel};
