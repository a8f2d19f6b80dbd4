//! The arithmetic inside one tile: a small register-blocked matrix product, a vectorisable
//! `exp`, and row reductions. Written on plain slices with fixed-size inner loops so that LLVM
//! vectorises them; instantiated once with separate multiply and add (any x86-64 / other CPU) and
//! once with fused multiply-add inside `#[target_feature(enable = "avx2,fma")]` functions.

/// How a multiply-add is computed: plain `a * b + c`, or one fused instruction.
pub(crate) trait Arith {
    /// Whether [`gemm`]'s register block may be 32 columns wide: 4 rows × 32 columns is eight
    /// 16-lane accumulators, enough to keep two FMA units busy through their latency, but it
    /// would spill with 8-lane registers.
    const WIDE: bool = false;

    /// `a * b + c`.
    fn madd(a: f32, b: f32, c: f32) -> f32;
}

/// `a * b + c` with two roundings: what every CPU can do fast.
pub(crate) struct Plain;

impl Arith for Plain {
    #[inline(always)]
    fn madd(a: f32, b: f32, c: f32) -> f32 {
        a * b + c
    }
}

/// `fma(a, b, c)`: one instruction when compiled with the `fma` target feature (a slow library
/// call otherwise, so it is only used inside functions that enable it).
#[cfg(target_arch = "x86_64")]
pub(crate) struct Fused;

#[cfg(target_arch = "x86_64")]
impl Arith for Fused {
    #[inline(always)]
    fn madd(a: f32, b: f32, c: f32) -> f32 {
        a.mul_add(b, c)
    }
}

/// [`Fused`] with the wide register block, for functions compiled with AVX-512.
#[cfg(target_arch = "x86_64")]
pub(crate) struct FusedWide;

#[cfg(target_arch = "x86_64")]
impl Arith for FusedWide {
    const WIDE: bool = true;

    #[inline(always)]
    fn madd(a: f32, b: f32, c: f32) -> f32 {
        a.mul_add(b, c)
    }
}

/// Whether this CPU has AVX2 and FMA (checked at run time, cached by std).
#[cfg(target_arch = "x86_64")]
pub(crate) fn has_avx2_fma() -> bool {
    is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
}

/// Whether this CPU has AVX-512 F and VL besides AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
pub(crate) fn has_avx512() -> bool {
    is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512vl") && has_avx2_fma()
}

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
/// `accumulate = false` overwrites `C`. Blocks of 4 rows by 16, 8 or 1 columns stay in
/// registers for the whole `k` loop.
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

/// `exp(x)` for `x <= ~88`, within 2 ulp; `0` for `x < -87.3` (including `-inf`).
///
/// Range reduction `x = n·ln2 + r` with `|r| <= ln2/2` (ln 2 split in a high and a low part so
/// `n·ln2_hi` is exact), a degree-6 polynomial for `e^r` (Taylor coefficients adjusted for the
/// interval, as in Cephes' `expf`), and `2^n` assembled in the exponent bits. Only
/// arithmetic, comparisons and bit casts, so loops over it vectorise.
#[inline(always)]
pub(crate) fn exp<A: Arith>(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_375;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // 1.5 · 2^23: adding it rounds to an integer held in the low mantissa bits.
    const ROUND: f32 = 12_582_912.0;
    let underflow = x < -87.3;
    let xc = if x > 88.3 { 88.3 } else { x };
    let xc = if underflow { 0.0 } else { xc };
    let t = A::madd(xc, LOG2E, ROUND);
    let n = t - ROUND;
    let r = A::madd(-n, LN2_LO, A::madd(-n, LN2_HI, xc));
    let mut p = 1.987_569_1e-4f32;
    p = A::madd(p, r, 1.398_199_9e-3);
    p = A::madd(p, r, 8.333_452e-3);
    p = A::madd(p, r, 4.166_579_6e-2);
    p = A::madd(p, r, 1.666_666_5e-1);
    p = A::madd(p, r, 5.000_000_1e-1);
    let er = A::madd(p, r * r, r) + 1.0;
    let ni = t.to_bits() as i32 - 0x4B40_0000;
    let pow2 = f32::from_bits(((ni + 127) << 23) as u32);
    if underflow {
        0.0
    } else {
        er * pow2
    }
}

/// The largest value of `row` (`-inf` for an empty row), eight lanes at a time.
#[inline(always)]
pub(crate) fn row_max(row: &[f32]) -> f32 {
    let mut lanes = [f32::NEG_INFINITY; 8];
    let mut chunks = row.chunks_exact(8);
    for c in &mut chunks {
        for x in 0..8 {
            lanes[x] = if c[x] > lanes[x] { c[x] } else { lanes[x] };
        }
    }
    let mut m = f32::NEG_INFINITY;
    for &v in lanes.iter().chain(chunks.remainder()) {
        m = if v > m { v } else { m };
    }
    m
}

/// `row[j] = exp(row[j] - shift)`, returning the sum of the new values.
#[inline(always)]
pub(crate) fn exp_shifted_sum<A: Arith>(row: &mut [f32], shift: f32) -> f32 {
    // one plain loop (which LLVM vectorises) and the sum apart: fused into one loop the
    // polynomial stayed scalar
    for v in row.iter_mut() {
        *v = exp::<A>(*v - shift);
    }
    sum(row)
}

/// `Σ row[j]`, eight lanes at a time.
#[inline(always)]
pub(crate) fn sum(row: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let mut chunks = row.chunks_exact(8);
    for c in &mut chunks {
        for x in 0..8 {
            lanes[x] += c[x];
        }
    }
    lanes.iter().sum::<f32>() + chunks.remainder().iter().sum::<f32>()
}

/// `Σ a[i] · b[i]`, eight lanes at a time.
#[inline(always)]
pub(crate) fn dot<A: Arith>(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut ca = a.chunks_exact(8);
    let mut cb = b.chunks_exact(8);
    for (x, y) in (&mut ca).zip(&mut cb) {
        for l in 0..8 {
            lanes[l] = A::madd(x[l], y[l], lanes[l]);
        }
    }
    let mut s = 0.0;
    for (x, y) in ca.remainder().iter().zip(cb.remainder()) {
        s = A::madd(*x, *y, s);
    }
    lanes.iter().sum::<f32>() + s
}

/// `x[i] *= f`.
#[inline(always)]
pub(crate) fn scale(x: &mut [f32], f: f32) {
    for v in x {
        *v *= f;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_is_within_two_ulp_of_std_over_the_softmax_range() {
        let mut worst = 0.0f64;
        let mut x = -87.0f32;
        while x <= 1.0 {
            let want = (x as f64).exp();
            let got = exp::<Plain>(x) as f64;
            worst = worst.max(((got - want) / want).abs());
            x += 0.0137;
        }
        assert!(worst < 2.5e-7, "worst relative error {worst}");
        assert_eq!(exp::<Plain>(f32::NEG_INFINITY), 0.0);
        assert_eq!(exp::<Plain>(-100.0), 0.0);
        assert_eq!(exp::<Plain>(0.0), 1.0);
    }

    #[test]
    fn gemm_matches_a_naive_product_for_odd_sizes_and_transposed_operands() {
        for &(m, n, k) in &[(1, 1, 1), (5, 37, 3), (4, 16, 9), (9, 25, 17), (7, 8, 2)] {
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
            gemm::<Plain>(m, n, k, a_rows, &b, n, &mut c, n, true);
            assert_eq!(c, want, "row-major A, {m}x{n}x{k}");
            // the same A stored transposed ([k, m]) and read with swapped strides
            let at: Vec<f32> = (0..k * m).map(|x| a[(x % m) * k + x / m]).collect();
            let mut c = vec![0.0f32; m * n];
            let a_cols = Strided {
                data: &at,
                rs: 1,
                cs: m,
            };
            gemm::<Plain>(m, n, k, a_cols, &b, n, &mut c, n, false);
            let want0: Vec<f32> = want.iter().map(|w| w - 1.0).collect();
            assert_eq!(c, want0, "transposed A, {m}x{n}x{k}");
        }
    }

    #[test]
    fn reductions_handle_tails() {
        let row: Vec<f32> = (0..13).map(|x| (x as f32 * 1.7).sin()).collect();
        let want = row.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
        assert_eq!(row_max(&row), want);
        assert_eq!(row_max(&[]), f32::NEG_INFINITY);
        let mut e = row.clone();
        let s = exp_shifted_sum::<Plain>(&mut e, want);
        let want_s: f32 = row.iter().map(|x| (x - want).exp()).sum();
        assert!((s - want_s).abs() < 1e-5 * want_s);
        let d = dot::<Plain>(&row, &row);
        let want_d: f32 = row.iter().map(|x| x * x).sum();
        assert!((d - want_d).abs() < 1e-5 * want_d);
    }
}
