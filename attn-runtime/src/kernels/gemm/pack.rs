//! Packing a block of `B` for the register tiles: rows `k0..k0 + kc` and columns `j0..j1` laid
//! out as panels of `nr` columns, each panel `kc` steps of `nr` consecutive values, the last
//! panel zero-padded to full width. The tiles then read `B` sequentially from the level-1 cache
//! whatever its strides were (a row-major `x`, or the transposed view `Wᵀ` of a projection's
//! weight).

use std::cell::RefCell;

use super::MatRef;
use crate::kernels::tuning::Isa;

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
            // matrix; 8 × 8 blocks transposed in vector registers where the CPU has AVX2 (one
            // column at a time, every value is a scalar store into a different line of the
            // panel), the edges value by value
            let cs = b.col_stride;
            let (blocked_cols, blocked_steps) = if Isa::Avx2.available() {
                (width / 8 * 8, kc / 8 * 8)
            } else {
                (0, 0)
            };
            #[cfg(target_arch = "x86_64")]
            if blocked_cols > 0 && blocked_steps > 0 {
                // every block reads inside the view's slice, which `MatRef` checked
                assert!(start + (blocked_cols - 1) * cs + blocked_steps <= b.data.len());
                for jb in (0..blocked_cols).step_by(8) {
                    for p0 in (0..blocked_steps).step_by(8) {
                        // SAFETY: rows jb..jb + 8 of the stored matrix hold steps
                        // p0..p0 + 8 (asserted above); the panel holds kc · nr values and
                        // p0 + 8 ≤ kc, jb + 8 ≤ nr; the CPU has AVX2, hence AVX (checked
                        // above).
                        unsafe {
                            transpose8(
                                b.data.as_ptr().add(start + jb * cs + p0),
                                cs,
                                out.as_mut_ptr().add(p0 * nr + jb),
                                nr,
                            )
                        };
                    }
                }
            }
            let column = |j: usize| &b.data[start + j * cs..][..kc];
            for j in 0..width {
                let first_step = if j < blocked_cols { blocked_steps } else { 0 };
                for (p, v) in column(j).iter().enumerate().skip(first_step) {
                    out[p * nr + j] = *v;
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

/// Writes the transpose of the 8 × 8 block whose rows start at `src + r · src_stride` to the
/// rows starting at `dst + c · dst_stride`: `dst[c][r] = src[r][c]`.
///
/// # Safety
/// The 8 rows of 8 values at `src` are readable, those at `dst` writable, and the CPU has AVX.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
unsafe fn transpose8(src: *const f32, src_stride: usize, dst: *mut f32, dst_stride: usize) {
    use std::arch::x86_64::*;
    let r: [__m256; 8] = std::array::from_fn(|i| _mm256_loadu_ps(src.add(i * src_stride)));
    // pairs of rows interleaved, per 128-bit lane: [a0 b0 a1 b1 | a4 b4 a5 b5], ...
    let t0 = _mm256_unpacklo_ps(r[0], r[1]);
    let t1 = _mm256_unpackhi_ps(r[0], r[1]);
    let t2 = _mm256_unpacklo_ps(r[2], r[3]);
    let t3 = _mm256_unpackhi_ps(r[2], r[3]);
    let t4 = _mm256_unpacklo_ps(r[4], r[5]);
    let t5 = _mm256_unpackhi_ps(r[4], r[5]);
    let t6 = _mm256_unpacklo_ps(r[6], r[7]);
    let t7 = _mm256_unpackhi_ps(r[6], r[7]);
    // four rows' column c in each lane: [a0 b0 c0 d0 | a4 b4 c4 d4], ...
    let s0 = _mm256_shuffle_ps::<0x44>(t0, t2);
    let s1 = _mm256_shuffle_ps::<0xEE>(t0, t2);
    let s2 = _mm256_shuffle_ps::<0x44>(t1, t3);
    let s3 = _mm256_shuffle_ps::<0xEE>(t1, t3);
    let s4 = _mm256_shuffle_ps::<0x44>(t4, t6);
    let s5 = _mm256_shuffle_ps::<0xEE>(t4, t6);
    let s6 = _mm256_shuffle_ps::<0x44>(t5, t7);
    let s7 = _mm256_shuffle_ps::<0xEE>(t5, t7);
    // the lanes joined: column c of all eight rows
    let columns = [
        _mm256_permute2f128_ps::<0x20>(s0, s4),
        _mm256_permute2f128_ps::<0x20>(s1, s5),
        _mm256_permute2f128_ps::<0x20>(s2, s6),
        _mm256_permute2f128_ps::<0x20>(s3, s7),
        _mm256_permute2f128_ps::<0x31>(s0, s4),
        _mm256_permute2f128_ps::<0x31>(s1, s5),
        _mm256_permute2f128_ps::<0x31>(s2, s6),
        _mm256_permute2f128_ps::<0x31>(s3, s7),
    ];
    for (c, v) in columns.into_iter().enumerate() {
        _mm256_storeu_ps(dst.add(c * dst_stride), v);
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

    #[test]
    fn transposed_views_pack_like_their_row_major_copies() {
        // B = Wᵀ for a 45 × 37 W: blocks of 8 × 8 and edges in both directions, panels of 32
        // and 16, a block of steps and columns away from the origin
        let (rows, cols) = (45, 37);
        let w: Vec<f32> = (0..rows * cols).map(|i| i as f32).collect();
        let bt = MatRef::row_major(&w, rows, cols).t();
        let copy: Vec<f32> = (0..cols * rows)
            .map(|i| w[(i % rows) * cols + i / rows])
            .collect();
        let b = MatRef::row_major(&copy, cols, rows);
        for nr in [32, 16] {
            for (k0, kc, j0, j1) in [(0, 37, 0, 45), (3, 27, 5, 44), (8, 16, 8, 40)] {
                let len = packed_len(kc, j1 - j0, nr);
                let (mut from_t, mut from_rm) = (vec![-1.0; len], vec![-2.0; len]);
                pack_b(&mut from_t, bt, k0, kc, j0, j1, nr);
                pack_b(&mut from_rm, b, k0, kc, j0, j1, nr);
                assert_eq!(
                    from_t, from_rm,
                    "nr {nr}, steps {k0}+{kc}, columns {j0}..{j1}"
                );
            }
        }
    }
}
