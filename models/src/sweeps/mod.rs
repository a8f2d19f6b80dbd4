//! The declared sweeps, one file each, and their registry by name.

mod activation;
mod depth;
mod dropout;
mod heads;
mod width;

use attn_runtime::experiment::SweepDecl;

pub use activation::ActivationSweep;
pub use depth::DepthSweep;
pub use dropout::DropoutSweep;
pub use heads::HeadsSweep;
pub use width::WidthSweep;

/// Every declared sweep, in the order `sweep --list` shows them.
pub static SWEEPS: &[&SweepDecl] = &[
    &HeadsSweep::SWEEP,
    &WidthSweep::SWEEP,
    &DepthSweep::SWEEP,
    &DropoutSweep::SWEEP,
    &ActivationSweep::SWEEP,
];

/// Looks a sweep up by name.
pub fn find_sweep(name: &str) -> Option<&'static SweepDecl> {
    SWEEPS.iter().copied().find(|s| s.name == name)
}
