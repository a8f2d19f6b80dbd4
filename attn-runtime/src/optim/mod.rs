//! Optimisation: Adam/AdamW with state that checkpoints save, gradient clipping by global norm,
//! and learning-rate schedules.

mod adamw;
mod schedule;

pub use adamw::{grad_norm, Adam, AdamConfig, AdamState};
pub use schedule::{Decay, LrSchedule};
