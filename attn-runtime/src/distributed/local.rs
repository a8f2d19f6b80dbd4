//! Ranks as threads of one process: the collective that tests (and a user trying data-parallel
//! code without MPI) run the same training code on.

use std::ops::AddAssign;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use super::{Collective, CollectiveError};

/// One rank of a group of threads in one process. Make the group with [`LocalGroup::new`] and
/// hand one member to each thread; each operation waits for every member's call.
///
/// A member dropped while the others still call operations (its thread returned or panicked)
/// makes their operations fail with [`CollectiveError::PeerGone`] instead of waiting forever.
///
/// **PyTorch equivalent**: none built in; `torch.multiprocessing.spawn` with the `gloo` backend
/// plays the same part in tests.
pub struct LocalGroup {
    rank: usize,
    shared: Arc<Shared>,
}

struct Shared {
    size: usize,
    gate: Mutex<Gate>,
    opened: Condvar,
    f32s: Mutex<Vec<Vec<f32>>>,
    f64s: Mutex<Vec<Vec<f64>>>,
    bytes: Mutex<Vec<u8>>,
}

/// A reusable barrier that knows when a member is gone.
struct Gate {
    arrived: usize,
    generation: u64,
    gone: Option<usize>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // a member that panicked while holding a lock leaves data the others overwrite anyway
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl LocalGroup {
    /// A group of `size` ranks (at least one), member `r` at index `r`.
    pub fn new(size: usize) -> Vec<LocalGroup> {
        let size = size.max(1);
        let shared = Arc::new(Shared {
            size,
            gate: Mutex::new(Gate {
                arrived: 0,
                generation: 0,
                gone: None,
            }),
            opened: Condvar::new(),
            f32s: Mutex::new(vec![Vec::new(); size]),
            f64s: Mutex::new(vec![Vec::new(); size]),
            bytes: Mutex::new(Vec::new()),
        });
        (0..size)
            .map(|rank| LocalGroup {
                rank,
                shared: Arc::clone(&shared),
            })
            .collect()
    }

    /// Waits until every member has arrived.
    fn wait(&self) -> Result<(), CollectiveError> {
        let shared = &*self.shared;
        let mut gate = lock(&shared.gate);
        if let Some(rank) = gate.gone {
            return Err(CollectiveError::PeerGone { rank });
        }
        let generation = gate.generation;
        gate.arrived += 1;
        if gate.arrived == shared.size {
            gate.arrived = 0;
            gate.generation += 1;
            shared.opened.notify_all();
            return Ok(());
        }
        while gate.generation == generation && gate.gone.is_none() {
            gate = shared
                .opened
                .wait(gate)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        match gate.gone {
            Some(rank) if gate.generation == generation => Err(CollectiveError::PeerGone { rank }),
            _ => Ok(()),
        }
    }

    /// Every member's `values` summed in rank order, into `values`.
    fn all_reduce<T: Copy + AddAssign>(
        &self,
        slots: &Mutex<Vec<Vec<T>>>,
        values: &mut [T],
    ) -> Result<(), CollectiveError> {
        lock(slots)[self.rank] = values.to_vec();
        self.wait()?;
        let summed = {
            let slots = lock(slots);
            let expected = slots[0].len();
            match slots.iter().position(|s| s.len() != expected) {
                Some(rank) => Err(CollectiveError::LengthMismatch {
                    rank,
                    expected,
                    got: slots[rank].len(),
                }),
                None => {
                    values.copy_from_slice(&slots[0]);
                    for other in &slots[1..] {
                        for (v, o) in values.iter_mut().zip(other) {
                            *v += *o;
                        }
                    }
                    Ok(())
                }
            }
        };
        // nobody writes the next operation's values before every member has read these
        self.wait()?;
        summed
    }
}

impl Drop for LocalGroup {
    fn drop(&mut self) {
        let mut gate = lock(&self.shared.gate);
        gate.gone.get_or_insert(self.rank);
        self.shared.opened.notify_all();
    }
}

impl Collective for LocalGroup {
    fn rank(&self) -> usize {
        self.rank
    }

    fn size(&self) -> usize {
        self.shared.size
    }

    fn all_reduce_sum_f32(&self, values: &mut [f32]) -> Result<(), CollectiveError> {
        self.all_reduce(&self.shared.f32s, values)
    }

    fn all_reduce_sum_f64(&self, values: &mut [f64]) -> Result<(), CollectiveError> {
        self.all_reduce(&self.shared.f64s, values)
    }

    fn broadcast_bytes(&self, root: usize, bytes: &mut Vec<u8>) -> Result<(), CollectiveError> {
        if self.rank == root {
            lock(&self.shared.bytes).clone_from(bytes);
        }
        self.wait()?;
        if self.rank != root {
            bytes.clone_from(&lock(&self.shared.bytes));
        }
        self.wait()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_sum_in_rank_order_and_broadcast() {
        let results: Vec<(Vec<f32>, Vec<f64>, Vec<u8>)> = std::thread::scope(|s| {
            let handles: Vec<_> = LocalGroup::new(3)
                .into_iter()
                .map(|member| {
                    s.spawn(move || {
                        let r = member.rank() as f32;
                        let mut a = vec![r, 10.0 * r, 0.5];
                        member.all_reduce_sum_f32(&mut a).unwrap();
                        let mut b = vec![f64::from(r) + 0.25];
                        member.all_reduce_sum_f64(&mut b).unwrap();
                        let mut bytes = if member.rank() == 1 {
                            b"from one".to_vec()
                        } else {
                            Vec::new()
                        };
                        member.broadcast_bytes(1, &mut bytes).unwrap();
                        assert!(member.any(member.rank() == 2).unwrap());
                        assert!(!member.root_says(member.rank() != 0).unwrap());
                        (a, b, bytes)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for (a, b, bytes) in results {
            assert_eq!(a, vec![3.0, 30.0, 1.5]);
            assert_eq!(b, vec![3.75]);
            assert_eq!(bytes, b"from one");
        }
    }

    #[test]
    fn different_lengths_and_a_departed_rank_are_errors_not_hangs() {
        std::thread::scope(|s| {
            let mut members = LocalGroup::new(2).into_iter();
            let (zero, one) = (members.next().unwrap(), members.next().unwrap());
            let h = s.spawn(move || {
                let mut v = vec![1.0f32; 3];
                let err = one.all_reduce_sum_f32(&mut v).unwrap_err();
                assert!(matches!(
                    err,
                    CollectiveError::LengthMismatch {
                        rank: 1,
                        expected: 2,
                        got: 3
                    }
                ));
                // rank 1 returns: its member is dropped
            });
            let mut v = vec![1.0f32; 2];
            assert!(matches!(
                zero.all_reduce_sum_f32(&mut v),
                Err(CollectiveError::LengthMismatch { .. })
            ));
            h.join().unwrap();
            let mut w = vec![0.0f64];
            assert!(matches!(
                zero.all_reduce_sum_f64(&mut w),
                Err(CollectiveError::PeerGone { rank: 1 })
            ));
        });
    }
}
