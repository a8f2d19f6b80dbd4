//! attn's own blocked matrix product on the register tiles of [`crate::micro`]: `B`
//! packed a block of [`Blocking::kc`] inner steps by [`Blocking::cols`] columns at a time
//! (sized to the level-1 and level-2 caches; read in place instead where `A` is packed and
//! `B`'s rows are short, contiguous whole panels), `A` read in place where its rows are contiguous
//! (a projection's `x · Wᵀ`, its input gradient `dy · W`) or packed a chunk of
//! [`Blocking::rows`] rows at a time where they are not (a weight gradient's `dyᵀ · x`), and
//! the rows cut into bands of
//! whole register tiles, one per thread, each band packing the (small) `B` for itself. No
//! thread waits on another's packing, and each output is computed exactly as on one thread, so
//! a product gives the same bits on any number of threads.
//!
//! On the 2-core Zen 4 of docs/PERFORMANCE.md this split beats gemm 0.19's own at the models'
//! projection shapes (gemm cuts the columns of `C` and packs `A` once per product).

use rayon::prelude::*;

use crate::mat::MatRef;
use crate::micro::{Init, Micro};
use crate::pack::{pack_a, pack_b, packed_a_len, packed_len, with_buffer};
use crate::start::Start;

/// The longest row (values from one row of `B` to the next) at which a product that packs
/// `A` reads `B` in place: on the Zen 2 of docs/PERFORMANCE.md a weight gradient with 128-wide
/// rows gained 2–8% by it, 256-wide ones were even, 512-wide ones lost 25%.
const IN_PLACE_B_MAX_ROW: usize = 128;

/// How a product is blocked: its register tiles, the size of each packed block of `B`, and of
/// each packed chunk of an `A` that must be packed.
#[derive(Clone, Copy)]
pub(crate) struct Blocking {
    /// The register tiles.
    pub micro: Micro,
    /// Inner steps per packed block.
    pub kc: usize,
    /// Columns per packed block, a multiple of the tiles' width.
    pub cols: usize,
    /// Rows per packed chunk of an `A` that is packed, a multiple of the tiles' height.
    pub rows: usize,
}

/// `dst = start + a · b`, blocked by `blocking`; over rayon's
/// current pool when `parallel`, in bands of whole tiles of rows, one per thread, each run by
/// [`serial`]. The inner dimension must be non-empty, `a`'s rows contiguous (`col_stride` 1)
/// or the tiles able to read a packed `A` ([`Micro::packs_a`]), and `dst` must hold `a.rows ·
/// b.cols` values (checked by the caller).
pub(crate) fn matmul(
    dst: &mut [f32],
    start: Start<'_>,
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
        return serial(dst, start, a, b, blocking);
    }
    dst.par_chunks_mut(band * n)
        .enumerate()
        .for_each(|(i, dst)| {
            let rows = a.rows_from(i * band, dst.len() / n);
            serial(dst, start, rows, b, blocking);
        });
}

/// `dst = start + a · b` on the calling thread: for each block of columns and
/// each block of inner steps, pack `B`, then run every tile of rows against every panel (the
/// tile's rows of `A`, in place or packed, stay in the level-1 cache across the panels, the
/// packed block in the level-2).
fn serial(dst: &mut [f32], start: Start<'_>, a: MatRef<'_>, b: MatRef<'_>, blocking: Blocking) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    let Blocking {
        micro,
        kc,
        cols: block_cols,
        rows: block_rows,
    } = blocking;
    let Micro { mr, nr, .. } = micro;
    let packs_a = a.col_stride != 1;
    // `B` read where it lies when its rows are contiguous, short and cut into whole panels,
    // for the products that pack `A` (a weight gradient's row-major `x`): each panel is then
    // `nr` values of each row, a row apart, and the copy would cost more than the tiles'
    // strided reads; rows further apart crowd fewer sets of the L1d (measured,
    // docs/PERFORMANCE.md)
    let b_in_place =
        packs_a && b.col_stride == 1 && n % nr == 0 && b.row_stride <= IN_PLACE_B_MAX_ROW;
    // rows per pass over the panels: a packed chunk, or all of them where `A` is read in place
    let chunk_rows = if packs_a { block_rows.min(m) } else { m };
    let b_len = if b_in_place {
        0
    } else {
        packed_len(kc, block_cols.min(n), nr)
    };
    let a_len = if packs_a {
        packed_a_len(kc, chunk_rows)
    } else {
        0
    };
    with_buffer(b_len + a_len, |buffer| {
        let (packed, a_packed) = buffer.split_at_mut(b_len);
        for j0 in (0..n).step_by(block_cols) {
            let j1 = (j0 + block_cols).min(n);
            for k0 in (0..k).step_by(kc) {
                let steps = kc.min(k - k0);
                // the block's panels and the distance between a panel's steps
                let (panels, b_rs): (&[f32], usize) = if b_in_place {
                    (&b.data[k0 * b.row_stride..], b.row_stride)
                } else {
                    pack_b(packed, b, k0, steps, j0, j1, nr);
                    (&packed[..packed_len(steps, j1 - j0, nr)], nr)
                };
                let panel = |p: usize| {
                    if b_in_place {
                        &panels[j0 + p * nr..]
                    } else {
                        &panels[p * steps * nr..]
                    }
                };
                // what the block's sums add to: the start for the first block, what the
                // blocks before it left in `dst` for the others
                let start = if k0 == 0 { start } else { Start::Dst };
                for c0 in (0..m).step_by(chunk_rows) {
                    let c1 = (c0 + chunk_rows).min(m);
                    if packs_a {
                        pack_a(a_packed, a, c0, c1 - c0, k0, steps, mr);
                    }
                    for i in (c0..c1).step_by(mr) {
                        let rows = mr.min(c1 - i);
                        let (a_tile, a_rs, tile) = if packs_a {
                            (&a_packed[(i - c0) * steps..], 0, micro.packed_tile(rows))
                        } else {
                            (
                                &a.data[i * a.row_stride + k0..],
                                a.row_stride,
                                micro.tile(rows),
                            )
                        };
                        for p in 0..(j1 - j0).div_ceil(nr) {
                            let j = j0 + p * nr;
                            // SAFETY: the tile reads rows i..i + rows and steps k0..k0 + steps
                            // of `a` (inside the view, which `MatRef` checked against its
                            // slice, its rows contiguous; or the `rows · steps` values packed
                            // from it), `steps · nr` packed values of `B` or, in place, steps
                            // k0..k0 + steps and columns j..j + nr of the view (`nr` divides
                            // its width), and writes rows i..
                            // and columns j..j + min(nr, n - j) of the m × n `dst`, reading
                            // the same of `dst` or those columns of the start's row (`n`
                            // values, checked by the caller); the
                            // instruction set was checked when `micro` was chosen.
                            unsafe {
                                let c = dst.as_mut_ptr().add(i * n + j);
                                let init = match start {
                                    Start::Zeros => Init::Zero,
                                    Start::Dst => Init::From(c, n),
                                    Start::Row(row) => Init::From(row.as_ptr().add(j), 0),
                                };
                                tile(
                                    steps,
                                    a_tile.as_ptr(),
                                    a_rs as isize,
                                    panel(p).as_ptr(),
                                    b_rs,
                                    c,
                                    n,
                                    (n - j).min(nr),
                                    init,
                                )
                            };
                        }
                    }
                }
            }
        }
    });
}
