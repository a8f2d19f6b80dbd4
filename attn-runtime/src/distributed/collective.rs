//! The operations data-parallel training needs from its ranks, and the one-rank case.

/// Why a collective operation failed.
#[derive(Debug, thiserror::Error)]
pub enum CollectiveError {
    /// The communication library could not be started.
    #[error("{library} could not start: {reason}")]
    Start {
        /// `MPI`, `NCCL`.
        library: &'static str,
        /// What it said.
        reason: String,
    },
    /// Ranks handed buffers of different lengths to one operation (they run different code or
    /// different models).
    #[error("rank {rank} reduced {got} values where rank 0 reduced {expected}: every rank must run the same model on the same settings")]
    LengthMismatch {
        /// The rank whose buffer differs.
        rank: usize,
        /// Rank 0's length.
        expected: usize,
        /// Its length.
        got: usize,
    },
    /// A rank is gone (its thread or process ended before the others).
    #[error("rank {rank} left the group before the others; see its own error above")]
    PeerGone {
        /// The rank that is gone.
        rank: usize,
    },
    /// The device's communication failed.
    #[error("{library} failed: {reason}")]
    Failed {
        /// `NCCL`, `CUDA`.
        library: &'static str,
        /// What it said.
        reason: String,
    },
}

/// The ranks of a data-parallel run, and the collective operations between them.
///
/// Every rank calls the same operations in the same order; each call returns once every rank
/// has made it. Sums are taken in the same order on every rank, so every rank gets the same
/// bits back.
///
/// **PyTorch equivalent**: a `torch.distributed` process group (`get_rank`, `get_world_size`,
/// `all_reduce(op=SUM)`, `broadcast`).
pub trait Collective {
    /// This rank, `0..size()`.
    fn rank(&self) -> usize;
    /// How many ranks take part.
    fn size(&self) -> usize;
    /// Replaces `values` by their element-wise sum over every rank.
    ///
    /// # Errors
    /// [`CollectiveError`] when the ranks' lengths differ or a rank is gone.
    fn all_reduce_sum_f32(&self, values: &mut [f32]) -> Result<(), CollectiveError>;
    /// [`all_reduce_sum_f32`](Self::all_reduce_sum_f32) in `f64`.
    ///
    /// # Errors
    /// As there.
    fn all_reduce_sum_f64(&self, values: &mut [f64]) -> Result<(), CollectiveError>;
    /// Replaces `bytes` on every rank by rank `root`'s (of any length).
    ///
    /// # Errors
    /// [`CollectiveError`] when a rank is gone.
    fn broadcast_bytes(&self, root: usize, bytes: &mut Vec<u8>) -> Result<(), CollectiveError>;

    /// Whether this rank writes the run directory, checkpoints and reports (rank 0).
    fn is_writer(&self) -> bool {
        self.rank() == 0
    }

    /// Whether any rank passes `true` (a stop requested on one rank stops them all at the same
    /// step).
    ///
    /// # Errors
    /// As [`all_reduce_sum_f64`](Self::all_reduce_sum_f64).
    fn any(&self, flag: bool) -> Result<bool, CollectiveError> {
        if self.size() == 1 {
            return Ok(flag);
        }
        let mut v = [f64::from(u8::from(flag))];
        self.all_reduce_sum_f64(&mut v)?;
        Ok(v[0] > 0.0)
    }

    /// Rank 0's `flag` on every rank.
    ///
    /// # Errors
    /// As [`broadcast_bytes`](Self::broadcast_bytes).
    fn root_says(&self, flag: bool) -> Result<bool, CollectiveError> {
        if self.size() == 1 {
            return Ok(flag);
        }
        let mut b = vec![u8::from(flag)];
        self.broadcast_bytes(0, &mut b)?;
        Ok(b.first() == Some(&1))
    }
}

/// One process, one rank: every operation leaves its values as they are.
#[derive(Clone, Copy, Debug, Default)]
pub struct SingleProcess;

impl Collective for SingleProcess {
    fn rank(&self) -> usize {
        0
    }

    fn size(&self) -> usize {
        1
    }

    fn all_reduce_sum_f32(&self, _: &mut [f32]) -> Result<(), CollectiveError> {
        Ok(())
    }

    fn all_reduce_sum_f64(&self, _: &mut [f64]) -> Result<(), CollectiveError> {
        Ok(())
    }

    fn broadcast_bytes(&self, _: usize, _: &mut Vec<u8>) -> Result<(), CollectiveError> {
        Ok(())
    }
}
