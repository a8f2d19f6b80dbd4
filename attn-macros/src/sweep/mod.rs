//! `attention_sweep!`: a base model, a compile-time grid (one model type per point) and
//! run-time values, checked like any declaration.

mod expand;
mod parse;

pub use expand::expand;
pub use parse::SweepDeclaration;
