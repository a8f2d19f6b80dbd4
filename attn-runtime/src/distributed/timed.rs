//! A collective that counts the time its operations take: the exchange's share of a step.

use std::cell::Cell;
use std::time::Instant;

use super::{Collective, CollectiveError};

/// Another collective, with the wall time spent in its operations summed (waiting for slower
/// ranks included: the time this rank could not compute).
///
/// **PyTorch equivalent**: the `all_reduce` rows of `torch.profiler`'s table.
pub struct Timed {
    inner: Box<dyn Collective>,
    seconds: Cell<f64>,
    calls: Cell<u64>,
}

impl Timed {
    /// Times `inner`'s operations.
    pub fn new(inner: Box<dyn Collective>) -> Timed {
        Timed {
            inner,
            seconds: Cell::new(0.0),
            calls: Cell::new(0),
        }
    }

    /// Seconds spent in operations so far.
    pub fn seconds(&self) -> f64 {
        self.seconds.get()
    }

    /// Operations so far.
    pub fn calls(&self) -> u64 {
        self.calls.get()
    }

    fn time<T>(&self, op: impl FnOnce(&dyn Collective) -> T) -> T {
        let started = Instant::now();
        let out = op(self.inner.as_ref());
        self.seconds
            .set(self.seconds.get() + started.elapsed().as_secs_f64());
        self.calls.set(self.calls.get() + 1);
        out
    }
}

impl Collective for Timed {
    fn rank(&self) -> usize {
        self.inner.rank()
    }

    fn size(&self) -> usize {
        self.inner.size()
    }

    fn all_reduce_sum_f32(&self, values: &mut [f32]) -> Result<(), CollectiveError> {
        self.time(|c| c.all_reduce_sum_f32(values))
    }

    fn all_reduce_sum_f64(&self, values: &mut [f64]) -> Result<(), CollectiveError> {
        self.time(|c| c.all_reduce_sum_f64(values))
    }

    fn broadcast_bytes(&self, root: usize, bytes: &mut Vec<u8>) -> Result<(), CollectiveError> {
        self.time(|c| c.broadcast_bytes(root, bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distributed::SingleProcess;

    #[test]
    fn counts_every_operation_and_passes_values_through() {
        let timed = Timed::new(Box::new(SingleProcess));
        let mut v = [1.5f32, 2.0];
        timed.all_reduce_sum_f32(&mut v).unwrap();
        let mut b = b"x".to_vec();
        timed.broadcast_bytes(0, &mut b).unwrap();
        assert_eq!((v, b, timed.calls()), ([1.5, 2.0], b"x".to_vec(), 2));
        assert!(timed.seconds() >= 0.0 && (timed.rank(), timed.size()) == (0, 1));
    }
}
