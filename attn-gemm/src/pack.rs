//! Packing for the register tiles. [`pack_a`]: a tile's rows of an `A` whose rows are not
//! contiguous, step by step. [`pack_b`]: a block of `B`, rows `k0..k0 + kc` and columns `j0..j1` laid
//! out as panels of `nr` columns, each panel `kc` steps of `nr` consecutive values, the last
//! panel zero-padded to full width. The tiles then read `B` sequentially from the level-1 cache
//! whatever its strides were (a row-major `x`, or the transposed view `Wᵀ` of a projection's
//! weight).

use std::cell::RefCell;

use crate::buffer::{release_thread_buffer, with_thread_buffer};
use crate::isa::Isa;
use crate::mat::MatRef;

thread_local! {
    /// Each thread's packing buffer, kept between products so that packing allocates (and
    /// page-faults) once per thread, not once per call.
    static PACKED: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` on this thread's packing buffer, holding `len` values (their contents unspecified;
/// [`with_thread_buffer`]).
pub(crate) fn with_buffer<R>(len: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
    with_thread_buffer(&PACKED, len, f)
}

/// Gives back this thread's packing buffer and each of the current rayon pool's (where none is
/// in use further up its stack); the next product allocates afresh.
pub(crate) fn release_buffers() {
    release_thread_buffer(&PACKED)
}

/// How many values this thread's packing buffer holds.
#[cfg(test)]
pub(crate) fn buffer_len() -> usize {
    PACKED.with(|cell| cell.borrow().len())
}

/// The number of values [`pack_b`] writes for `cols` columns of `kc` rows.
pub(crate) fn packed_len(kc: usize, cols: usize, nr: usize) -> usize {
    cols.div_ceil(nr) * kc * nr
}

/// Packs `b[k0..k0 + kc, j0..j1]` into `dst` (at least [`packed_len`] values).
pub(crate) fn pack_b(
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

/// The number of values [`pack_a`] writes for `rows` rows of `kc` steps, with room for the
/// eight-wide copies that write past a tile of fewer rows.
pub(crate) fn packed_a_len(kc: usize, rows: usize) -> usize {
    kc * rows + 8
}

/// Packs rows `i0..i0 + rows` and steps `k0..k0 + kc` of `a` for the packed tiles, tile after
/// tile of `mr ≤ 8` rows (the last one shorter where `rows` is no multiple of `mr`), each
/// tile's values step by step: tile `t` of height `h` at `t · mr · kc`, `a[i0 + t·mr + r, k0 +
/// p]` at `p · h + r` within it (`dst` holds at least [`packed_a_len`] values).
///
/// A weight gradient's `dyᵀ` (a transposed row-major `dy`) is read step by step along `dy`'s
/// rows, so the chunk streams through the caches once (a tile at a time, its steps would be
/// lines a row of `dy` apart, which at power-of-two widths fall into a few sets of the level-1
/// cache and miss it every time); where the CPU has AVX, each tile's values of a step go as
/// one eight-wide copy, whose extra values the next step's copy overwrites (the last step's
/// go value by value).
pub(crate) fn pack_a(
    dst: &mut [f32],
    a: MatRef<'_>,
    i0: usize,
    rows: usize,
    k0: usize,
    kc: usize,
    mr: usize,
) {
    assert!(mr <= 8 && dst.len() >= packed_a_len(kc, rows));
    if rows == 0 || kc == 0 {
        return;
    }
    let tiles = rows.div_ceil(mr);
    if a.row_stride == 1 {
        let (start, cs) = (i0 + k0 * a.col_stride, a.col_stride);
        #[cfg(target_arch = "x86_64")]
        if start + (kc - 1) * cs + (tiles - 1) * mr + 8 <= a.data.len() && Isa::Avx2.available() {
            // SAFETY: every copy reads 8 values at `start + p·cs + t·mr`, inside `a`'s slice
            // (checked above), and writes 8 at `t·mr·kc + p·h`, at most `(rows - h)·kc + (kc -
            // 1)·h + 8 ≤ rows·kc + 8` (checked above), or 24 at `t·6·kc + p·6` for steps `p..p
            // + 4` before the last, inside the tile; the CPU has AVX2.
            unsafe {
                copy_steps_avx(
                    a.data.as_ptr().add(start),
                    cs,
                    dst.as_mut_ptr(),
                    rows,
                    kc,
                    mr,
                )
            };
            return;
        }
        for p in 0..kc {
            let src = &a.data[start + p * cs..][..rows];
            for (t, from) in src.chunks(mr).enumerate() {
                dst[t * mr * kc + p * from.len()..][..from.len()].copy_from_slice(from);
            }
        }
    } else {
        for t in 0..tiles {
            let h = mr.min(rows - t * mr);
            for p in 0..kc {
                for r in 0..h {
                    dst[t * mr * kc + p * h + r] =
                        a.data[(i0 + t * mr + r) * a.row_stride + (k0 + p) * a.col_stride];
                }
            }
        }
    }
}

/// [`pack_a`]'s copies for a transposed row-major `A` starting at `src`, its steps `stride`
/// apart: `dst[t·mr·kc + p·h..][..8] = src[p·stride + t·mr..][..8]` for every tile `t` (of
/// height `h`) and step `p < kc - 1`, step by step (for six-row tiles, the whole tiles' steps
/// four at a time as three stores of their 24 values), then the last step's `h` values of each
/// tile. `kc ≥ 1`.
///
/// # Safety
/// Those values are readable and writable, and the CPU has AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn copy_steps_avx(
    src: *const f32,
    stride: usize,
    dst: *mut f32,
    rows: usize,
    kc: usize,
    mr: usize,
) {
    use std::arch::x86_64::*;
    let full = rows / mr;
    let last = rows - full * mr;
    // six-row tiles (AVX2's), four steps at a time: each tile's 24 values of the four steps
    // go as three whole eight-wide stores instead of four overlapping ones
    // (measured on the Zen 2: the pack's share of a 512 × 2048 × 128 weight gradient fell from
    // 14% to 8%; docs/PERFORMANCE.md)
    let grouped = if mr == 6 { (kc - 1) / 4 * 4 } else { 0 };
    if grouped > 0 {
        let lo = _mm256_setr_epi32(0, 0, 0, 0, 0, 0, 0, 1);
        let mid_b = _mm256_setr_epi32(2, 3, 4, 5, 0, 0, 0, 0);
        let mid_c = _mm256_setr_epi32(0, 0, 0, 0, 0, 1, 2, 3);
        let hi_c = _mm256_setr_epi32(4, 5, 0, 0, 0, 0, 0, 0);
        let hi_d = _mm256_setr_epi32(0, 0, 0, 1, 2, 3, 4, 5);
        for p in (0..grouped).step_by(4) {
            let from = src.add(p * stride);
            for t in 0..full {
                let at = from.add(t * 6);
                let a = _mm256_loadu_ps(at);
                let b = _mm256_loadu_ps(at.add(stride));
                let c = _mm256_loadu_ps(at.add(2 * stride));
                let d = _mm256_loadu_ps(at.add(3 * stride));
                let out0 = _mm256_blend_ps::<0b1100_0000>(a, _mm256_permutevar8x32_ps(b, lo));
                let out1 = _mm256_blend_ps::<0b1111_0000>(
                    _mm256_permutevar8x32_ps(b, mid_b),
                    _mm256_permutevar8x32_ps(c, mid_c),
                );
                let out2 = _mm256_blend_ps::<0b1111_1100>(
                    _mm256_permutevar8x32_ps(c, hi_c),
                    _mm256_permutevar8x32_ps(d, hi_d),
                );
                let to = dst.add(t * 6 * kc + p * 6);
                _mm256_storeu_ps(to, out0);
                _mm256_storeu_ps(to.add(8), out1);
                _mm256_storeu_ps(to.add(16), out2);
            }
            if last > 0 {
                for q in p..p + 4 {
                    let v = _mm256_loadu_ps(src.add(q * stride + full * mr));
                    _mm256_storeu_ps(dst.add(full * mr * kc + q * last), v);
                }
            }
        }
    }
    for p in grouped..kc - 1 {
        let from = src.add(p * stride);
        for t in 0..full {
            let v = _mm256_loadu_ps(from.add(t * mr));
            _mm256_storeu_ps(dst.add(t * mr * kc + p * mr), v);
        }
        if last > 0 {
            let v = _mm256_loadu_ps(from.add(full * mr));
            _mm256_storeu_ps(dst.add(full * mr * kc + p * last), v);
        }
    }
    // the last step value by value: an eight-wide copy would write into the next tile
    let from = src.add((kc - 1) * stride);
    for t in 0..full + usize::from(last > 0) {
        let h = mr.min(rows - t * mr);
        std::ptr::copy_nonoverlapping(from.add(t * mr), dst.add(t * mr * kc + (kc - 1) * h), h);
    }
}

/// Writes the transpose of the 8 × 8 block whose rows start at `src + r · src_stride` to the
/// rows starting at `dst + c · dst_stride`: `dst[c][r] = src[r][c]`.
///
/// # Safety
/// The 8 rows of 8 values at `src` are readable, those at `dst` writable, and the CPU has AVX.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx")]
pub unsafe fn transpose8(src: *const f32, src_stride: usize, dst: *mut f32, dst_stride: usize) {
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
    fn a_packs_tile_by_tile_step_by_step_from_any_layout() {
        // A = dyᵀ for a 4 × 5 dy (values 10·row + col): A[i, p] = dy[p, i]
        let dy: Vec<f32> = (0..20).map(|i| (10 * (i / 5) + i % 5) as f32).collect();
        let at = MatRef::row_major(&dy, 4, 5).t();
        let mut dst = vec![-1.0; packed_a_len(2, 4)];
        pack_a(&mut dst, at, 1, 4, 2, 2, 3);
        // rows 1..5 of A at steps 2 and 3 in tiles of 3 rows: dy[2, 1..4], dy[3, 1..4], then
        // the one-row tile dy[2, 4], dy[3, 4] (an eight-wide copy would read past dy, so these
        // go value by value)
        assert_eq!(dst[..8], [21., 22., 23., 31., 32., 33., 24., 34.]);
        // the same block from a row-major copy of A
        let copy: Vec<f32> = (0..20).map(|i| dy[(i % 4) * 5 + i / 4]).collect();
        let mut from_copy = vec![-2.0; packed_a_len(2, 4)];
        pack_a(
            &mut from_copy,
            MatRef::row_major(&copy, 5, 4),
            1,
            4,
            2,
            2,
            3,
        );
        assert_eq!(from_copy[..8], dst[..8]);
        // from a wider dy, where the vector copies read inside the slice: dy 9 × 40
        let dy: Vec<f32> = (0..360).map(|i| (100 * (i / 40) + i % 40) as f32).collect();
        let at = MatRef::row_major(&dy, 9, 40).t();
        for (i0, rows, k0, kc, mr) in [
            (0, 12, 0, 4, 6),
            (3, 17, 1, 5, 6),
            (2, 1, 0, 6, 6),
            (4, 29, 2, 7, 8),
            (0, 16, 0, 9, 8),
            // six-row tiles four steps at a time: two groups, then the last step value by
            // value, beside a two-row tile that goes step by step; one group of whole tiles
            (1, 26, 0, 9, 6),
            (0, 36, 3, 5, 6),
        ] {
            let mut dst = vec![-1.0; packed_a_len(kc, rows)];
            pack_a(&mut dst, at, i0, rows, k0, kc, mr);
            for i in 0..rows {
                let (t, r) = (i / mr, i % mr);
                let h = mr.min(rows - t * mr);
                for p in 0..kc {
                    let want = (100 * (k0 + p) + i0 + i) as f32;
                    let got = dst[t * mr * kc + p * h + r];
                    assert_eq!(
                        got, want,
                        "rows {i0}+{rows} by {mr}, step {k0}+{p}, row {i}"
                    );
                }
            }
        }
    }

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
