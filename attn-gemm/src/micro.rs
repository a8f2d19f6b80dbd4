//! The register tiles of attn's matrix product: `MR` rows of `A` times one packed panel of `B`
//! (`NR` columns), accumulated in vector registers over the inner dimension and stored into `C`
//! once at the end, added to `C`'s values, to a bias row, or to nothing ([`Init`]). Two shapes,
//! one per instruction set:
//!
//! * AVX-512: 8 rows × 32 columns, sixteen 16-lane accumulators — enough independent sums to
//!   keep two FMA units busy through their four-cycle latency, with room for the two `B` vectors
//!   and the broadcast `A` value in the 32 registers;
//! * AVX2 + FMA: 6 rows × 16 columns, twelve 8-lane accumulators of the 16 registers.
//!
//! `A` is read in place, its rows `a_rs` apart and each row's steps contiguous (one broadcast
//! per row and step), so a row-major `x` or `dy` costs no copy; or, for the packed tiles, from
//! a copy made by [`crate::pack::pack_a`] (a weight gradient's transposed `dyᵀ`, whose rows are
//! not contiguous), `MR` values per step. `B` comes packed by
//! [`crate::pack`], `NR` values per step, zero-padded past the matrix's last column, or, for
//! the products that pack `A`, is read in place where its rows are contiguous, short, and
//! `NR` divides its width, a row's `NR` values per step. Each
//! output is one chain of fused multiply-adds over the inner dimension in order, whatever the
//! tile's height or the instruction set, so the same product gives the same bits on every
//! tile split and thread count.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

use crate::isa::Isa;

/// What a tile adds its sums to as it stores them.
#[derive(Clone, Copy)]
pub(crate) enum Init {
    /// Nothing: `c` is written over.
    Zero,
    /// `src[r·row_stride + j]` for the tile's row `r` and column `j`: `c` itself (its `ldc`) to
    /// accumulate, or a bias row for every row (stride 0).
    From(*const f32, usize),
}

/// One tile call: `c[0..MR, 0..cols] = init + a[0..MR, 0..k] · b`, with `a[r, p]`
/// at `a + r·a_rs + p`, or at `a + p·MR + r` for a packed tile (which ignores `a_rs`), and
/// `b[p, 0..NR]` at `b + p·b_rs` (`b_rs = NR` for a packed panel).
///
/// # Safety
/// `a[r, p]` is readable for `r < MR`, `p < k`; so is `b[p, h]` for `p < k`, `h < NR`;
/// `c + r·ldc + j` is writable for `r < MR`, `j < cols ≤ NR`, and an [`Init::From`]'s
/// `src + r·row_stride + j` readable for the same; the CPU has the kernel's instruction set.
pub(crate) type TileFn = unsafe fn(
    k: usize,
    a: *const f32,
    a_rs: isize,
    b: *const f32,
    b_rs: usize,
    c: *mut f32,
    ldc: usize,
    cols: usize,
    init: Init,
);

/// A register-tile shape and its tiles for every height up to `mr` (the last rows of a matrix
/// whose height is no multiple of `mr` take a shorter one).
#[derive(Clone, Copy)]
pub(crate) struct Micro {
    /// Rows per full tile.
    pub mr: usize,
    /// Columns per tile and per packed panel.
    pub nr: usize,
    /// `tiles[h - 1]` computes `h` rows, reading `A` in place.
    tiles: &'static [TileFn],
    /// The same for a packed `A`, where these tiles measured faster than the gemm crate on a
    /// transposed `A` (docs/DESIGN_NOTES.md); `None`: such products stay on the gemm crate.
    packed: Option<&'static [TileFn]>,
}

impl Micro {
    /// The tile for `rows` rows, `1 ≤ rows ≤ mr`, reading `A` in place.
    pub fn tile(&self, rows: usize) -> TileFn {
        self.tiles[rows - 1]
    }

    /// Whether a product whose `A` must be packed runs on these tiles.
    pub fn packs_a(&self) -> bool {
        self.packed.is_some()
    }

    /// The tile for `rows` rows of an `A` packed by [`crate::pack::pack_a`].
    ///
    /// # Panics
    /// Where [`Micro::packs_a`] is false.
    pub fn packed_tile(&self, rows: usize) -> TileFn {
        self.packed.expect("tiles for a packed A")[rows - 1]
    }
}

/// The accumulation shared by the tiles: `acc[r][h] += a[r, p] · b[p, h·LANES..]` for every
/// step `p < k`, one broadcast of `A` per row and step and two vectors of the panel (its steps
/// `b_rs` apart),
/// with one pointer per row of `A` indexed by the step and the steps unrolled by four (fewer
/// address computations per step than a base plus multiples of the stride; none for a packed
/// `A`, read at constant offsets). `packed` (a constant): `A` packed, `MR` values per step (`MR`,
/// the tile's height, in scope). Expands inside a tile, where the vector type's instruction set
/// is enabled, with that set's load, broadcast and fused multiply-add.
macro_rules! accumulate {
    ($acc:ident, $k:expr, $a:expr, $a_rs:expr, $packed:expr, $b:expr, $b_rs:expr, $lanes:expr, $load:ident, $set1:ident, $fmadd:ident) => {{
        let (k, b, b_rs, packed) = ($k, $b, $b_rs, $packed);
        let rows: [*const f32; MR] = std::array::from_fn(|r| {
            if packed {
                $a.add(r)
            } else {
                $a.offset(r as isize * $a_rs)
            }
        });
        // distance between a row's consecutive steps
        let stride = if packed { MR } else { 1 };
        let step = |acc: &mut [[_; 2]; MR], p: usize| {
            // SAFETY (this closure): the tile's contract covers `k` steps of `a` and of `b`,
            // and `p < k`.
            let b0 = $load(b.add(b_rs * p));
            let b1 = $load(b.add(b_rs * p + $lanes));
            for (acc, row) in acc.iter_mut().zip(rows) {
                let ar = $set1(*row.add(p * stride));
                acc[0] = $fmadd(ar, b0, acc[0]);
                acc[1] = $fmadd(ar, b1, acc[1]);
            }
        };
        let mut p = 0;
        while p + 4 <= k {
            step(&mut $acc, p);
            step(&mut $acc, p + 1);
            step(&mut $acc, p + 2);
            step(&mut $acc, p + 3);
            p += 4;
        }
        while p < k {
            step(&mut $acc, p);
            p += 1;
        }
    }};
}

/// The tiles compiled for `isa` (whether or not this CPU has it); `None` for [`Isa::Portable`],
/// whose products run on the gemm crate.
pub(crate) fn of(isa: Isa) -> Option<Micro> {
    match isa {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => Some(AVX512),
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => Some(AVX2),
        _ => None,
    }
}

/// The AVX-512 tiles (8 × 32); only to be called where the CPU has AVX-512 F.
#[cfg(target_arch = "x86_64")]
const AVX512: Micro = Micro {
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
    packed: None,
};

/// The AVX2 + FMA tiles (6 × 16); only to be called where the CPU has both.
#[cfg(target_arch = "x86_64")]
const AVX2: Micro = Micro {
    mr: 6,
    nr: 16,
    tiles: &avx2_tiles::<false>(),
    packed: Some(&avx2_tiles::<true>()),
};

/// The AVX2 tiles of every height, reading `A` in place or packed.
#[cfg(target_arch = "x86_64")]
const fn avx2_tiles<const PACKED: bool>() -> [TileFn; 6] {
    [
        tile_avx2::<1, PACKED>,
        tile_avx2::<2, PACKED>,
        tile_avx2::<3, PACKED>,
        tile_avx2::<4, PACKED>,
        tile_avx2::<5, PACKED>,
        tile_avx2::<6, PACKED>,
    ]
}

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
    b_rs: usize,
    c: *mut f32,
    ldc: usize,
    cols: usize,
    init: Init,
) {
    let mut acc = [[_mm512_setzero_ps(); 2]; MR];
    accumulate!(
        acc,
        k,
        a,
        a_rs,
        false,
        b,
        b_rs,
        16,
        _mm512_loadu_ps,
        _mm512_set1_ps,
        _mm512_fmadd_ps
    );
    let (m0, m1) = (lanes16(cols), lanes16(cols.saturating_sub(16)));
    for (r, acc) in acc.iter().enumerate() {
        let row = c.add(r * ldc);
        let (mut v0, mut v1) = (acc[0], acc[1]);
        if let Init::From(src, rs) = init {
            let src = src.add(r * rs);
            v0 = _mm512_add_ps(_mm512_maskz_loadu_ps(m0, src), v0);
            v1 = _mm512_add_ps(_mm512_maskz_loadu_ps(m1, src.add(16)), v1);
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
unsafe fn tile_avx2<const MR: usize, const PACKED: bool>(
    k: usize,
    a: *const f32,
    a_rs: isize,
    b: *const f32,
    b_rs: usize,
    c: *mut f32,
    ldc: usize,
    cols: usize,
    init: Init,
) {
    let mut acc = [[_mm256_setzero_ps(); 2]; MR];
    accumulate!(
        acc,
        k,
        a,
        a_rs,
        PACKED,
        b,
        b_rs,
        8,
        _mm256_loadu_ps,
        _mm256_set1_ps,
        _mm256_fmadd_ps
    );
    if cols >= 16 {
        // Whole rows with plain loads and stores: AMD's Zen 2 runs a masked store as a
        // microcoded sequence many times slower, which cost a quarter of a short product's time.
        for (r, acc) in acc.iter().enumerate() {
            let row = c.add(r * ldc);
            let (mut v0, mut v1) = (acc[0], acc[1]);
            if let Init::From(src, rs) = init {
                let src = src.add(r * rs);
                v0 = _mm256_add_ps(_mm256_loadu_ps(src), v0);
                v1 = _mm256_add_ps(_mm256_loadu_ps(src.add(8)), v1);
            }
            _mm256_storeu_ps(row, v0);
            _mm256_storeu_ps(row.add(8), v1);
        }
        return;
    }
    let (m0, m1) = (lanes8(cols), lanes8(cols.saturating_sub(8)));
    for (r, acc) in acc.iter().enumerate() {
        let row = c.add(r * ldc);
        let (mut v0, mut v1) = (acc[0], acc[1]);
        if let Init::From(src, rs) = init {
            let src = src.add(r * rs);
            v0 = _mm256_add_ps(_mm256_maskload_ps(src, m0), v0);
            v1 = _mm256_add_ps(_mm256_maskload_ps(src.add(8), m1), v1);
        }
        _mm256_maskstore_ps(row, m0, v0);
        _mm256_maskstore_ps(row.add(8), m1, v1);
    }
}
