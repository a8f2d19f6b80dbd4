//! NVIDIA's collectives between GPUs, through the cudarc that dfdx's `cuda` feature brings.
//! Type-checked in CI; it has not run on a GPU (docs/SCALING.md).

use std::sync::Arc;

use cudarc::driver::CudaDevice;
use cudarc::nccl::{Comm, Id, ReduceOp};

use super::{Collective, CollectiveError};

/// One GPU's rank in an NCCL communicator. The ranks find each other through another collective
/// (MPI: rank 0 makes NCCL's unique id and broadcasts it), as Horovod and PyTorch's launchers do.
///
/// The reductions run on the device; this first version stages host buffers through it (a copy
/// in and out per call), since the training step hands the exchange one host buffer.
///
/// **PyTorch equivalent**: `torch.distributed.init_process_group("nccl")`.
pub struct Nccl {
    comm: Comm,
    device: Arc<CudaDevice>,
    bootstrap: Box<dyn Collective>,
}

fn failed(library: &'static str, reason: impl std::fmt::Debug) -> CollectiveError {
    CollectiveError::Failed {
        library,
        reason: format!("{reason:?}"),
    }
}

impl Nccl {
    /// Joins `bootstrap`'s ranks in an NCCL communicator on the GPU `ordinal` (each rank on its
    /// own GPU: with one process per GPU, `CUDA_VISIBLE_DEVICES` set to the local rank and
    /// ordinal 0, the GPU dfdx's models use).
    ///
    /// # Errors
    /// [`CollectiveError::Start`] when CUDA or NCCL cannot start (no such GPU, no NCCL).
    pub fn over(bootstrap: Box<dyn Collective>, ordinal: usize) -> Result<Nccl, CollectiveError> {
        let start = |reason: String| CollectiveError::Start {
            library: "NCCL",
            reason,
        };
        let device =
            CudaDevice::new(ordinal).map_err(|e| start(format!("GPU {ordinal}: {e:?}")))?;
        let mut id_bytes = if bootstrap.rank() == 0 {
            let id = Id::new().map_err(|e| start(format!("{e:?}")))?;
            id.internal().iter().map(|&c| c as u8).collect()
        } else {
            Vec::new()
        };
        bootstrap.broadcast_bytes(0, &mut id_bytes)?;
        let mut internal = [0 as std::ffi::c_char; 128];
        if id_bytes.len() != internal.len() {
            return Err(start(format!(
                "rank 0 sent an id of {} bytes, not 128",
                id_bytes.len()
            )));
        }
        for (c, b) in internal.iter_mut().zip(&id_bytes) {
            *c = *b as std::ffi::c_char;
        }
        let comm = Comm::from_rank(
            Arc::clone(&device),
            bootstrap.rank(),
            bootstrap.size(),
            Id::uninit(internal),
        )
        .map_err(|e| start(format!("{e:?}")))?;
        Ok(Nccl {
            comm,
            device,
            bootstrap,
        })
    }

    fn all_reduce<T>(&self, values: &mut [T]) -> Result<(), CollectiveError>
    where
        T: cudarc::nccl::NcclType
            + cudarc::driver::DeviceRepr
            + cudarc::driver::ValidAsZeroBits
            + Default
            + Clone
            + Unpin,
    {
        let send = self
            .device
            .htod_sync_copy(values)
            .map_err(|e| failed("CUDA", e))?;
        let mut recv = self
            .device
            .alloc_zeros::<T>(values.len())
            .map_err(|e| failed("CUDA", e))?;
        self.comm
            .all_reduce(&send, &mut recv, &ReduceOp::Sum)
            .map_err(|e| failed("NCCL", e))?;
        self.device
            .dtoh_sync_copy_into(&recv, values)
            .map_err(|e| failed("CUDA", e))
    }
}

impl Collective for Nccl {
    fn rank(&self) -> usize {
        self.comm.rank()
    }

    fn size(&self) -> usize {
        self.comm.world_size()
    }

    fn all_reduce_sum_f32(&self, values: &mut [f32]) -> Result<(), CollectiveError> {
        self.all_reduce(values)
    }

    fn all_reduce_sum_f64(&self, values: &mut [f64]) -> Result<(), CollectiveError> {
        self.all_reduce(values)
    }

    fn broadcast_bytes(&self, root: usize, bytes: &mut Vec<u8>) -> Result<(), CollectiveError> {
        // small control messages go the bootstrap's way
        self.bootstrap.broadcast_bytes(root, bytes)
    }
}
