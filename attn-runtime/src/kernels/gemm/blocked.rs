//! attn's own blocked matrix product on the register tiles of [`super::micro`], for an `A`
//! whose rows are contiguous (a projection's `x · Wᵀ`, its input gradient `dy · W`): `B`
//! packed a block of [`Blocking::kc`] inner steps by [`Blocking::cols`] columns at a time
//! (sized to the level-1 and level-2 caches), `A` read in place, and the rows cut into bands of
//! whole register tiles, one per thread, each band packing the (small) `B` for itself. No
//! thread waits on another's packing, and each output is computed exactly as on one thread, so
//! a product gives the same bits on any number of threads.
//!
//! On the 2-core Zen 4 of docs/PERFORMANCE.md this split beats gemm 0.19's own at the models'
//! projection shapes (gemm cuts the columns of `C` and packs `A` once per product).

use rayon::prelude::*;

use super::micro::Micro;
use super::pack::{pack_b, packed_len, with_buffer};
use super::MatRef;

/// How a product is blocked: its register tiles and the size of each packed block of `B`.
#[derive(Clone, Copy)]
pub(super) struct Blocking {
    /// The register tiles.
    pub micro: Micro,
    /// Inner steps per packed block.
    pub kc: usize,
    /// Columns per packed block, a multiple of the tiles' width.
    pub cols: usize,
}

/// `dst = a · b`, or `dst += a · b` when `accumulate`, blocked by `blocking`; over rayon's
/// current pool when `parallel`, in bands of whole tiles of rows, one per thread, each run by
/// [`serial`]. The inner dimension must be non-empty, `a`'s rows contiguous (`col_stride` 1)
/// and `dst` must hold `a.rows · b.cols` values (checked by the caller).
pub(super) fn matmul(
    dst: &mut [f32],
    accumulate: bool,
    a: MatRef<'_>,
    b: MatRef<'_>,
    blocking: Blocking,
    parallel: bool,
) {
    let (m, n) = (a.rows, b.cols);
    let threads = if parallel {
        rayon::current_num_threads()
    } else {
        1
    };
    let band = m.div_ceil(threads).next_multiple_of(blocking.micro.mr);
    if threads == 1 || band >= m {
        return serial(dst, accumulate, a, b, blocking);
    }
    dst.par_chunks_mut(band * n)
        .enumerate()
        .for_each(|(i, dst)| {
            let rows = a.rows_from(i * band, dst.len() / n);
            serial(dst, accumulate, rows, b, blocking);
        });
}

/// `dst (+)= a · b` on the calling thread: for each block of columns and
/// each block of inner steps, pack `B`, then run every tile of rows against every panel (the
/// tile's rows of `A` stay in the level-1 cache across the panels, the packed block in the
/// level-2).
fn serial(dst: &mut [f32], accumulate: bool, a: MatRef<'_>, b: MatRef<'_>, blocking: Blocking) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    let Blocking {
        micro,
        kc,
        cols: block_cols,
    } = blocking;
    let Micro { mr, nr, .. } = micro;
    with_buffer(packed_len(kc, block_cols.min(n), nr), |packed| {
        for j0 in (0..n).step_by(block_cols) {
            let j1 = (j0 + block_cols).min(n);
            for k0 in (0..k).step_by(kc) {
                let steps = kc.min(k - k0);
                pack_b(packed, b, k0, steps, j0, j1, nr);
                let overwrite = !accumulate && k0 == 0;
                let panels = &packed[..packed_len(steps, j1 - j0, nr)];
                for i in (0..m).step_by(mr) {
                    let a_row = &a.data[i * a.row_stride + k0..];
                    let tile = micro.tile(mr.min(m - i));
                    for (p, panel) in panels.chunks_exact(steps * nr).enumerate() {
                        let j = j0 + p * nr;
                        // SAFETY: the tile reads rows i..i + rows and steps k0..k0 + steps of
                        // `a` (inside the view, which `MatRef` checked against its slice; its
                        // rows are contiguous), `steps · nr` packed values of `B`, and writes
                        // rows i.. and columns j..j + min(nr, n - j) of the m × n `dst`; the
                        // instruction set was checked when `micro` was chosen.
                        unsafe {
                            tile(
                                steps,
                                a_row.as_ptr(),
                                a.row_stride as isize,
                                panel.as_ptr(),
                                dst.as_mut_ptr().add(i * n + j),
                                n,
                                (n - j).min(nr),
                                overwrite,
                            )
                        };
                    }
                }
            }
        }
    });
}
