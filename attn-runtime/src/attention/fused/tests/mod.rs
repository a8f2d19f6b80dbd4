//! Tests of the fused kernel against a naive float64 reference, of every kernel configuration and
//! of the dfdx op against the composite path, and of its dropout.

mod configs;
mod dropout;
mod kernel;
mod op;
mod reference;
