//! Packing a block of `B` for the register tiles: rows `k0..k0 + kc` and columns `j0..j1` laid
//! out as panels of `nr` columns, each panel `kc` steps of `nr` consecutive values, the last
//! panel zero-padded to full width. The tiles then read `B` sequentially from the level-1 cache
//! whatever its strides were (a row-major `x`, or the transposed view `Wᵀ` of a projection's
//! weight).

use std::cell::RefCell;

use super::MatRef;

thread_local! {
    /// Each thread's packing buffer, kept between products so that packing allocates (and
    /// page-faults) once per thread, not once per call.
    static PACKED: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` on this thread's packing buffer, holding `len` values (their contents unspecified).
/// On a fresh buffer where this thread's is already in use further up its stack (a rayon
/// worker that, waiting inside one parallel call, picked up a job that makes a product).
pub(super) fn with_buffer<R>(len: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
    PACKED.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => {
            if buf.len() < len {
                buf.resize(len, 0.0);
            }
            f(&mut buf[..len])
        }
        Err(_) => f(&mut vec![0.0; len]),
    })
}

/// The number of values [`pack_b`] writes for `cols` columns of `kc` rows.
pub(super) fn packed_len(kc: usize, cols: usize, nr: usize) -> usize {
    cols.div_ceil(nr) * kc * nr
}

/// Packs `b[k0..k0 + kc, j0..j1]` into `dst` (at least [`packed_len`] values).
pub(super) fn pack_b(
    dst: &mut [f32],
    b: MatRef<'_>,
    k0: usize,
    kc: usize,
    j0: usize,
    j1: usize,
    nr: usize,
) {
    let at = |p: usize, j: usize| b.data[p * b.row_stride + j * b.col_stride];
    for (panel, out) in dst[..packed_len(kc, j1 - j0, nr)]
        .chunks_exact_mut(kc * nr)
        .enumerate()
    {
        let first = j0 + panel * nr;
        let width = (j1 - first).min(nr);
        let start = k0 * b.row_stride + first * b.col_stride;
        if b.col_stride == 1 {
            // rows of B are contiguous: copy `width` values per step, a fixed-size copy (a
            // vector move, not a call to memcpy) for whole panels of the tiles' widths
            let src = &b.data[start..];
            match (width, nr) {
                (32, 32) => copy_steps::<32>(out, src, b.row_stride),
                (16, 16) => copy_steps::<16>(out, src, b.row_stride),
                _ => {
                    for (p, step) in out.chunks_exact_mut(nr).enumerate() {
                        let at = p * b.row_stride;
                        step[..width].copy_from_slice(&src[at..at + width]);
                        step[width..].fill(0.0);
                    }
                }
            }
        } else if b.row_stride == 1 {
            // a transposed view (`Wᵀ`): each column of B is a contiguous row of the stored
            // matrix, written into every step of the panel
            for j in 0..width {
                let column = &b.data[start + j * b.col_stride..][..kc];
                for (step, v) in out.chunks_exact_mut(nr).zip(column) {
                    step[j] = *v;
                }
            }
            if width < nr {
                for step in out.chunks_exact_mut(nr) {
                    step[width..].fill(0.0);
                }
            }
        } else {
            for j in 0..width {
                for p in 0..kc {
                    out[p * nr + j] = at(k0 + p, first + j);
                }
            }
            if width < nr {
                for step in out.chunks_exact_mut(nr) {
                    step[width..].fill(0.0);
                }
            }
        }
    }
}

/// `dst[p · R..(p + 1) · R] = src[p · stride..][..R]` for every step `p` of `dst`.
#[inline(always)]
fn copy_steps<const R: usize>(dst: &mut [f32], src: &[f32], stride: usize) {
    for (p, step) in dst.chunks_exact_mut(R).enumerate() {
        let from: &[f32; R] = src[p * stride..p * stride + R]
            .try_into()
            .expect("R values");
        let to: &mut [f32; R] = step.try_into().expect("R values");
        *to = *from;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panels_hold_the_block_in_step_order_padded_with_zeros() {
        // b: 3 × 5 row-major, values 10·row + col
        let data: Vec<f32> = (0..15).map(|i| (10 * (i / 5) + i % 5) as f32).collect();
        let b = MatRef::row_major(&data, 3, 5);
        let mut dst = vec![-1.0; packed_len(2, 4, 2)];
        pack_b(&mut dst, b, 1, 2, 1, 4, 2);
        // rows 1..3, columns 1..4 in panels of 2: [11 12 | 21 22] [13 0 | 23 0]
        assert_eq!(dst, [11., 12., 21., 22., 13., 0., 23., 0.]);
        // the same block of the transpose's transpose, read column by column
        let stored: Vec<f32> = (0..15).map(|i| (10 * (i % 3) + i / 3) as f32).collect();
        let bt = MatRef::row_major(&stored, 5, 3).t();
        let mut dst_t = vec![-1.0; packed_len(2, 4, 2)];
        pack_b(&mut dst_t, bt, 1, 2, 1, 4, 2);
        assert_eq!(dst_t, dst);
    }
}
