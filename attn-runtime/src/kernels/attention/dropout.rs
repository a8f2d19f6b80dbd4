//! Counter-based dropout: the keep decision of weight `(b, h, i, j)` is a hash of
//! `(seed, b, h, i, j)`, so the backward pass regenerates the forward's mask instead of storing
//! an `[B, H, Sq, Sk]` tensor.

use super::params::KernelDropout;
use crate::kernels::counter_hash::{mix32, mix64};

/// The dropout stream of one query row `(b, h, i)`: keys are hashed with a 32-bit key derived
/// from the seed and the row.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RowDropout {
    key: u32,
    /// Keep when the hash is at least this (`p · 2^32`).
    threshold: u32,
    /// `1 / (1 - p)`, the factor of kept weights.
    pub keep_scale: f32,
}

impl RowDropout {
    /// The stream of row `i` of problem `bh` (= `b · H + h`).
    pub(crate) fn new(d: &KernelDropout, bh: usize, i: usize) -> Self {
        let row = mix64(d.seed ^ mix64(((bh as u64) << 32) ^ i as u64));
        let threshold = (d.p as f64 * 4_294_967_296.0).min(4_294_967_295.0) as u32;
        RowDropout {
            key: (row ^ (row >> 32)) as u32,
            threshold,
            keep_scale: 1.0 / (1.0 - d.p),
        }
    }

    /// Whether weight `(i, j)` of this row is kept.
    #[inline(always)]
    #[cfg(test)]
    pub(crate) fn keeps(&self, j: usize) -> bool {
        mix32(self.key ^ (j as u32).wrapping_mul(0x9E37_79B9)) >= self.threshold
    }

    /// `out[jj] = keep(j0 + jj) ? 1/(1-p) : 0`.
    #[inline(always)]
    pub(crate) fn factors(&self, j0: usize, out: &mut [f32]) {
        let (key, threshold, keep) = (self.key, self.threshold, self.keep_scale);
        let j0 = j0 as u32;
        for (jj, f) in out.iter_mut().enumerate() {
            let j = j0.wrapping_add(jj as u32);
            let h = mix32(key ^ j.wrapping_mul(0x9E37_79B9));
            *f = if h >= threshold { keep } else { 0.0 };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_about_one_minus_p_and_is_reproducible() {
        let d = KernelDropout { p: 0.3, seed: 42 };
        let mut kept = 0usize;
        let n_rows = 64;
        let n_keys = 1000;
        for i in 0..n_rows {
            let r = RowDropout::new(&d, 3, i);
            let mut f = vec![0.0; n_keys];
            r.factors(0, &mut f);
            for (j, &fj) in f.iter().enumerate() {
                assert_eq!(fj != 0.0, r.keeps(j));
                kept += r.keeps(j) as usize;
            }
            // a tile starting mid-row sees the same decisions
            let mut g = vec![0.0; 10];
            r.factors(500, &mut g);
            assert_eq!(&g[..], &f[500..510]);
        }
        let frac = kept as f64 / (n_rows * n_keys) as f64;
        assert!((frac - 0.7).abs() < 0.01, "kept fraction {frac}");
    }

    #[test]
    fn different_seeds_rows_and_heads_give_different_masks() {
        let pattern = |seed: u64, bh: usize, i: usize| -> Vec<bool> {
            let r = RowDropout::new(&KernelDropout { p: 0.5, seed }, bh, i);
            (0..64).map(|j| r.keeps(j)).collect()
        };
        let base = pattern(1, 0, 0);
        assert_ne!(base, pattern(2, 0, 0));
        assert_ne!(base, pattern(1, 1, 0));
        assert_ne!(base, pattern(1, 0, 1));
        assert_eq!(base, pattern(1, 0, 0));
    }

    #[test]
    fn p_zero_keeps_everything_unscaled() {
        let r = RowDropout::new(&KernelDropout { p: 0.0, seed: 9 }, 0, 0);
        let mut f = vec![0.0; 100];
        r.factors(0, &mut f);
        assert!(f.iter().all(|&x| x == 1.0));
    }
}
