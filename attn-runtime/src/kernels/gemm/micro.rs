//! The register tiles of attn's matrix product: `MR` rows of `A` times one packed panel of `B`
//! (`NR` columns), accumulated in vector registers over the inner dimension and added to (or
//! written over) `C` once at the end. Two shapes, one per instruction set:
//!
//! * AVX-512: 8 rows × 32 columns, sixteen 16-lane accumulators — enough independent sums to
//!   keep two FMA units busy through their four-cycle latency, with room for the two `B` vectors
//!   and the broadcast `A` value in the 32 registers;
//! * AVX2 + FMA: 6 rows × 16 columns, twelve 8-lane accumulators of the 16 registers.
//!
//! `A` is read in place, its rows `a_rs` apart and each row's steps contiguous (one broadcast
//! per row and step), so a row-major `x` or `dy` costs no copy; `B` comes packed by
//! [`super::pack`], `NR` values per step, zero-padded past the matrix's last column. Each
//! output is one chain of fused multiply-adds over the inner dimension in order, whatever the
//! tile's height or the instruction set, so the same product gives the same bits on every
//! tile split and thread count.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// One tile call: `c[0..MR, 0..cols] = (overwrite ? 0 : c) + a[0..MR, 0..k] · b`.
///
/// # Safety
/// `a + r·a_rs + p` is readable for `r < MR`, `p < k`; `b` holds `k · NR` packed values;
/// `c + r·ldc + j` is writable for `r < MR`, `j < cols ≤ NR`; the CPU has the kernel's
/// instruction set.
pub(super) type TileFn = unsafe fn(
    k: usize,
    a: *const f32,
    a_rs: isize,
    b: *const f32,
    c: *mut f32,
    ldc: usize,
    cols: usize,
    overwrite: bool,
);

/// A register-tile shape and its tiles for every height up to `mr` (the last rows of a matrix
/// whose height is no multiple of `mr` take a shorter one).
#[derive(Clone, Copy)]
pub(super) struct Micro {
    /// Rows per full tile.
    pub mr: usize,
    /// Columns per tile and per packed panel.
    pub nr: usize,
    /// `tiles[h - 1]` computes `h` rows.
    tiles: &'static [TileFn],
}

impl Micro {
    /// The tile for `rows` rows, `1 ≤ rows ≤ mr`.
    pub fn tile(&self, rows: usize) -> TileFn {
        self.tiles[rows - 1]
    }
}

/// The AVX-512 tiles (8 × 32); only to be called where the CPU has AVX-512 F.
#[cfg(target_arch = "x86_64")]
pub(super) const AVX512: Micro = Micro {
    mr: 8,
    nr: 32,
    tiles: &[
        tile_avx512::<1>,
        tile_avx512::<2>,
        tile_avx512::<3>,
        tile_avx512::<4>,
        tile_avx512::<5>,
        tile_avx512::<6>,
        tile_avx512::<7>,
        tile_avx512::<8>,
    ],
};

/// The AVX2 + FMA tiles (6 × 16); only to be called where the CPU has both.
#[cfg(target_arch = "x86_64")]
pub(super) const AVX2: Micro = Micro {
    mr: 6,
    nr: 16,
    tiles: &[
        tile_avx2::<1>,
        tile_avx2::<2>,
        tile_avx2::<3>,
        tile_avx2::<4>,
        tile_avx2::<5>,
        tile_avx2::<6>,
    ],
};

/// The lanes `0..n` (`n` clamped to 16) of a 16-lane mask.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn lanes16(n: usize) -> __mmask16 {
    if n >= 16 {
        0xffff
    } else {
        ((1u32 << n) - 1) as __mmask16
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
unsafe fn tile_avx512<const MR: usize>(
    k: usize,
    a: *const f32,
    a_rs: isize,
    b: *const f32,
    c: *mut f32,
    ldc: usize,
    cols: usize,
    overwrite: bool,
) {
    let mut acc = [[_mm512_setzero_ps(); 2]; MR];
    let (mut a, mut b) = (a, b);
    for _ in 0..k {
        // SAFETY (this block): the caller's contract covers `k` steps of `a` and of `b`.
        let b0 = _mm512_loadu_ps(b);
        let b1 = _mm512_loadu_ps(b.add(16));
        for (r, acc) in acc.iter_mut().enumerate() {
            let ar = _mm512_set1_ps(*a.offset(r as isize * a_rs));
            acc[0] = _mm512_fmadd_ps(ar, b0, acc[0]);
            acc[1] = _mm512_fmadd_ps(ar, b1, acc[1]);
        }
        a = a.add(1);
        b = b.add(32);
    }
    let (m0, m1) = (lanes16(cols), lanes16(cols.saturating_sub(16)));
    for (r, acc) in acc.iter().enumerate() {
        let row = c.add(r * ldc);
        let (mut v0, mut v1) = (acc[0], acc[1]);
        if !overwrite {
            v0 = _mm512_add_ps(_mm512_maskz_loadu_ps(m0, row), v0);
            v1 = _mm512_add_ps(_mm512_maskz_loadu_ps(m1, row.add(16)), v1);
        }
        _mm512_mask_storeu_ps(row, m0, v0);
        _mm512_mask_storeu_ps(row.add(16), m1, v1);
    }
}

/// An AVX2 mask with lanes `0..n` (`n` clamped to 8) set.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn lanes8(n: usize) -> __m256i {
    let n = n.min(8) as i32;
    _mm256_cmpgt_epi32(
        _mm256_set1_epi32(n),
        _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
    )
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
unsafe fn tile_avx2<const MR: usize>(
    k: usize,
    a: *const f32,
    a_rs: isize,
    b: *const f32,
    c: *mut f32,
    ldc: usize,
    cols: usize,
    overwrite: bool,
) {
    let mut acc = [[_mm256_setzero_ps(); 2]; MR];
    let (mut a, mut b) = (a, b);
    for _ in 0..k {
        // SAFETY (this block): the caller's contract covers `k` steps of `a` and of `b`.
        let b0 = _mm256_loadu_ps(b);
        let b1 = _mm256_loadu_ps(b.add(8));
        for (r, acc) in acc.iter_mut().enumerate() {
            let ar = _mm256_set1_ps(*a.offset(r as isize * a_rs));
            acc[0] = _mm256_fmadd_ps(ar, b0, acc[0]);
            acc[1] = _mm256_fmadd_ps(ar, b1, acc[1]);
        }
        a = a.add(1);
        b = b.add(16);
    }
    let (m0, m1) = (lanes8(cols), lanes8(cols.saturating_sub(8)));
    for (r, acc) in acc.iter().enumerate() {
        let row = c.add(r * ldc);
        let (mut v0, mut v1) = (acc[0], acc[1]);
        if !overwrite {
            v0 = _mm256_add_ps(_mm256_maskload_ps(row, m0), v0);
            v1 = _mm256_add_ps(_mm256_maskload_ps(row.add(8), m1), v1);
        }
        _mm256_maskstore_ps(row, m0, v0);
        _mm256_maskstore_ps(row.add(8), m1, v1);
    }
}
