//! Data-parallel training: several ranks (processes, or threads in tests) each take a share of
//! every global batch, and their gradients are summed over a [`Collective`] before the gradient
//! is clipped and Adam steps, so every rank takes the same step a single process would take on
//! the whole batch.
//!
//! Three ways to reach the other ranks, one trait:
//! - [`SingleProcess`]: one rank, nothing to exchange (the default; no dependency).
//! - `Mpi` (feature `mpi`): the `mpi` crate over the distribution's OpenMPI or MPICH, started
//!   with `mpirun -np N`.
//! - `Nccl` (feature `cuda`): NVIDIA's collectives over cudarc, bootstrapped through MPI
//!   (type-checked, never run on a GPU yet: docs/SCALING.md).
//!
//! [`LocalGroup`] runs ranks as threads of one process, for tests and for trying data-parallel
//! code without MPI.
//!
//! **PyTorch equivalent**: `torch.distributed` with the `gloo`/`mpi`/`nccl` backends and
//! `DistributedDataParallel` (gradients all-reduced between `backward()` and `optimizer.step()`).

mod collective;
mod gradients;
mod local;
#[cfg(feature = "mpi")]
mod mpi;
#[cfg(feature = "cuda")]
mod nccl;
mod timed;

pub use collective::{Collective, CollectiveError, SingleProcess};
pub(crate) use gradients::{flatten_gradients, share_gradients};
pub use local::LocalGroup;
#[cfg(feature = "mpi")]
pub use mpi::Mpi;
#[cfg(feature = "cuda")]
pub use nccl::Nccl;
pub use timed::Timed;
