//! The matrix product inside one attention tile: a small register-blocked GEMM on plain slices
//! with fixed-size inner loops, which LLVM vectorises; instantiated with the multiply-adds of
//! [`crate::kernels::simd`].

use crate::kernels::simd::Arith;

/// One operand of [`gemm`]: a matrix `A` whose element `(r, kk)` is `data[r * rs + kk * cs]`, so
/// that a row-major matrix (`rs = width, cs = 1`) and its transpose (`rs = 1, cs = width`) are
/// read in place.
#[derive(Clone, Copy)]
pub(crate) struct Strided<'a> {
    pub data: &'a [f32],
    pub rs: usize,
    pub cs: usize,
}

/// `C[m, n] (+)= A[m, k] · B[k, n]`, with `B` and `C` row-major (leading dims `ldb`, `ldc`).
///
/// `accumulate = false` overwrites `C`. Blocks of [`Arith::ROWS`], then 4 and 1 rows by 32
/// (where [`Arith::WIDE`]), 16, 8 or 1 columns stay in registers for the whole `k` loop.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(crate) fn gemm<A: Arith>(
    m: usize,
    n: usize,
    k: usize,
    a: Strided<'_>,
    b: &[f32],
    ldb: usize,
    c: &mut [f32],
    ldc: usize,
    accumulate: bool,
) {
    let mut i = 0;
    if A::ROWS == 6 {
        // blocks of 6 rows, then of 4: a remainder of 2 is taken as two blocks of 4 (8 = 6 + 2
        // would leave two rows to the one-row blocks, which wait on the FMA latency)
        let tall = if m % 6 == 2 && m >= 8 {
            m - 8
        } else {
            m - m % 6
        };
        while i + 6 <= tall {
            gemm_rows::<A, 6>(i, n, k, a, b, ldb, c, ldc, accumulate);
            i += 6;
        }
    }
    while i + 4 <= m {
        gemm_rows::<A, 4>(i, n, k, a, b, ldb, c, ldc, accumulate);
        i += 4;
    }
    while i < m {
        gemm_rows::<A, 1>(i, n, k, a, b, ldb, c, ldc, accumulate);
        i += 1;
    }
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn gemm_rows<A: Arith, const MR: usize>(
    i: usize,
    n: usize,
    k: usize,
    a: Strided<'_>,
    b: &[f32],
    ldb: usize,
    c: &mut [f32],
    ldc: usize,
    accumulate: bool,
) {
    let mut j = 0;
    if A::WIDE {
        while j + 32 <= n {
            block::<A, MR, 32>(i, j, k, a, b, ldb, c, ldc, accumulate);
            j += 32;
        }
    }
    while j + 16 <= n {
        block::<A, MR, 16>(i, j, k, a, b, ldb, c, ldc, accumulate);
        j += 16;
    }
    while j + 8 <= n {
        block::<A, MR, 8>(i, j, k, a, b, ldb, c, ldc, accumulate);
        j += 8;
    }
    while j < n {
        block::<A, MR, 1>(i, j, k, a, b, ldb, c, ldc, accumulate);
        j += 1;
    }
}

/// The register block: `MR` rows × `NR` columns of `C` accumulated over all of `k`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn block<A: Arith, const MR: usize, const NR: usize>(
    i: usize,
    j: usize,
    k: usize,
    a: Strided<'_>,
    b: &[f32],
    ldb: usize,
    c: &mut [f32],
    ldc: usize,
    accumulate: bool,
) {
    let mut acc = [[0.0f32; NR]; MR];
    if accumulate {
        for (r, acc) in acc.iter_mut().enumerate() {
            acc.copy_from_slice(&c[(i + r) * ldc + j..][..NR]);
        }
    }
    if k > 0 {
        // Every index read below is at most these two, checked once here rather than per
        // element (the checks kept the loop from holding its accumulators in registers).
        assert!((i + MR - 1) * a.rs + (k - 1) * a.cs < a.data.len());
        assert!((k - 1) * ldb + j + NR <= b.len());
    }
    let (ap, bp) = (a.data.as_ptr(), b.as_ptr());
    for kk in 0..k {
        // SAFETY: kk < k and r < MR keep both offsets within the bounds asserted above.
        let bv = unsafe { &*(bp.add(kk * ldb + j) as *const [f32; NR]) };
        for (r, acc) in acc.iter_mut().enumerate() {
            // SAFETY: as above.
            let av = unsafe { *ap.add((i + r) * a.rs + kk * a.cs) };
            for x in 0..NR {
                acc[x] = A::madd(av, bv[x], acc[x]);
            }
        }
    }
    for (r, acc) in acc.iter().enumerate() {
        c[(i + r) * ldc + j..][..NR].copy_from_slice(acc);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::simd::Plain;

    #[test]
    fn gemm_matches_a_naive_product_for_odd_sizes_and_transposed_operands() {
        check_against_naive::<Plain>();
    }

    /// The AVX2 instantiation, whose 6-row blocks the plain one never takes: heights that
    /// leave 0 to 5 rows after the 6-row blocks (2 taken as two blocks of 4), on this CPU
    /// when it has AVX2 and FMA. The values are small integers and halves, so fused and
    /// unfused multiply-adds give the same bits.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_fused_instantiation_takes_six_row_blocks_and_matches_too() {
        use crate::kernels::simd::{has_avx2_fma, Fused};
        #[target_feature(enable = "avx2,fma")]
        unsafe fn fused() {
            check_against_naive::<Fused>()
        }
        if !has_avx2_fma() {
            eprintln!("skipped: this CPU lacks AVX2 and FMA");
            return;
        }
        // SAFETY: the CPU has AVX2 and FMA (checked above).
        unsafe { fused() }
    }

    /// The AVX-512 instantiation: 6-row blocks 32 columns wide, on this CPU when it has
    /// AVX-512 F and VL.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_wide_instantiation_takes_six_by_thirty_two_blocks_and_matches_too() {
        use crate::kernels::simd::{has_avx512, FusedWide};
        #[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
        unsafe fn wide() {
            check_against_naive::<FusedWide>()
        }
        if !has_avx512() {
            eprintln!("skipped: this CPU lacks AVX-512");
            return;
        }
        // SAFETY: the CPU has AVX-512 F and VL, AVX2 and FMA (checked above).
        unsafe { wide() }
    }

    /// Inlined so that the AVX2 instantiation is compiled with the caller's target features.
    #[inline(always)]
    fn check_against_naive<A: Arith>() {
        for &(m, n, k) in &[
            (1, 1, 1),
            (5, 37, 3),
            (4, 16, 9),
            (9, 25, 17),
            (7, 8, 2),
            (6, 16, 5),
            (8, 33, 4),
            (14, 16, 3),
            (17, 24, 6),
            (32, 64, 32),
            (64, 32, 64),
            (64, 64, 32),
            (13, 70, 5),
        ] {
            let a: Vec<f32> = (0..m * k).map(|x| ((x * 7 % 13) as f32) - 6.0).collect();
            let b: Vec<f32> = (0..k * n)
                .map(|x| ((x * 5 % 11) as f32) * 0.5 - 2.0)
                .collect();
            let mut want = vec![1.0f32; m * n];
            for i in 0..m {
                for j in 0..n {
                    want[i * n + j] += (0..k).map(|t| a[i * k + t] * b[t * n + j]).sum::<f32>();
                }
            }
            let mut c = vec![1.0f32; m * n];
            let a_rows = Strided {
                data: &a,
                rs: k,
                cs: 1,
            };
            gemm::<A>(m, n, k, a_rows, &b, n, &mut c, n, true);
            assert_eq!(c, want, "row-major A, {m}x{n}x{k}");
            // the same A stored transposed ([k, m]) and read with swapped strides
            let at: Vec<f32> = (0..k * m).map(|x| a[(x % m) * k + x / m]).collect();
            let mut c = vec![0.0f32; m * n];
            let a_cols = Strided {
                data: &at,
                rs: 1,
                cs: m,
            };
            gemm::<A>(m, n, k, a_cols, &b, n, &mut c, n, false);
            let want0: Vec<f32> = want.iter().map(|w| w - 1.0).collect();
            assert_eq!(c, want0, "transposed A, {m}x{n}x{k}");
        }
    }
}
