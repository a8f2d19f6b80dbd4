//! The ranks of an `mpirun`: the collective operations through the `mpi` crate (rsmpi) over the
//! distribution's OpenMPI or MPICH.

use mpi::collective::SystemOperation;
use mpi::environment::Universe;
use mpi::topology::SimpleCommunicator;
use mpi::traits::{Communicator, CommunicatorCollectives, Root};

use super::{Collective, CollectiveError};

/// This process's rank among those `mpirun -np N` started (`MPI_COMM_WORLD`). MPI is started
/// by [`Mpi::start`] and finalised when the value is dropped; a process starts it once.
///
/// **PyTorch equivalent**: `torch.distributed.init_process_group("mpi")`.
pub struct Mpi {
    world: SimpleCommunicator,
    // finalises MPI when dropped, after `world`
    _universe: Universe,
}

impl Mpi {
    /// Starts MPI in this process (`MPI_Init`). Outside `mpirun` a process is a group of one.
    ///
    /// # Errors
    /// [`CollectiveError::Start`] when MPI was started already in this process.
    pub fn start() -> Result<Mpi, CollectiveError> {
        let universe = mpi::initialize().ok_or(CollectiveError::Start {
            library: "MPI",
            reason: "it was started already in this process (MPI starts once per process)".into(),
        })?;
        Ok(Mpi {
            world: universe.world(),
            _universe: universe,
        })
    }
}

impl Collective for Mpi {
    fn rank(&self) -> usize {
        usize::try_from(self.world.rank()).unwrap_or(0)
    }

    fn size(&self) -> usize {
        usize::try_from(self.world.size()).unwrap_or(1)
    }

    fn all_reduce_sum_f32(&self, values: &mut [f32]) -> Result<(), CollectiveError> {
        let own = values.to_vec();
        self.world
            .all_reduce_into(&own[..], values, SystemOperation::sum());
        Ok(())
    }

    fn all_reduce_sum_f64(&self, values: &mut [f64]) -> Result<(), CollectiveError> {
        let own = values.to_vec();
        self.world
            .all_reduce_into(&own[..], values, SystemOperation::sum());
        Ok(())
    }

    fn broadcast_bytes(&self, root: usize, bytes: &mut Vec<u8>) -> Result<(), CollectiveError> {
        let root = self
            .world
            .process_at_rank(i32::try_from(root).unwrap_or(i32::MAX));
        let mut len = bytes.len() as u64;
        root.broadcast_into(&mut len);
        bytes.resize(usize::try_from(len).unwrap_or(0), 0);
        root.broadcast_into(&mut bytes[..]);
        Ok(())
    }
}
