//! Vectorisable f32 arithmetic on slices, shared by the CPU kernels (fused attention, the loss,
//! element-wise activations): a multiply-add that is plain or fused, a vectorisable `exp`, and
//! row reductions. Written with fixed-size inner loops so that LLVM vectorises them; each kernel
//! instantiates them with [`Plain`] (any CPU) or, inside functions compiled with AVX2/AVX-512
//! target features, with [`Fused`]/[`FusedWide`].

/// How a multiply-add is computed: plain `a * b + c`, or one fused instruction.
pub(crate) trait Arith {
    /// Whether a matrix product's register block may be 32 columns wide (two 16-lane vectors
    /// per row); it would spill with 8-lane registers.
    const WIDE: bool = false;

    /// Rows of a matrix product's tallest register block: 4, or 6 where the registers hold
    /// twelve accumulators besides a row of `B` and a broadcast — 6 × 16 with 8-lane AVX2
    /// vectors, 6 × 32 with 16-lane AVX-512 ones. Twelve keep two FMA units busy through their
    /// four- or five-cycle latency; 4 rows hold eight, which left a fifth of them idle on the
    /// Zen 2 and measured 5–9% slower on the AVX-512 Xeon (docs/PERFORMANCE.md). 8 × 32 is not
    /// used: LLVM compiled its loop to gathers and scatters (docs/DESIGN_NOTES.md).
    const ROWS: usize = 4;

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
    const ROWS: usize = 6;

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
    const ROWS: usize = 6;

    #[inline(always)]
    fn madd(a: f32, b: f32, c: f32) -> f32 {
        a.mul_add(b, c)
    }
}

#[cfg(target_arch = "x86_64")]
pub(crate) use attn_gemm::{has_avx2_fma, has_avx512};

/// Defines `$name(isa, ...)`, which runs `$generic` compiled for the instruction set `isa`
/// ([`crate::tuning::KernelConfig::isa`]): AVX-512 (with the wide register block, [`FusedWide`]), AVX2 +
/// FMA ([`Fused`]), or plain arithmetic ([`Plain`]); one this CPU lacks falls back to the
/// best below it that it has. Closures do not inherit target features, so each variant is its own
/// `#[target_feature]` function around the same generic code.
macro_rules! simd_dispatch {
    ($(#[$doc:meta])* fn $name:ident => $generic:ident($($arg:ident: $ty:ty),* $(,)?)) => {
        $(#[$doc])*
        #[allow(clippy::too_many_arguments)]
        fn $name(isa: $crate::kernels::tuning::Isa, $($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
                unsafe fn avx512($($arg: $ty),*) {
                    $generic::<$crate::kernels::simd::FusedWide>($($arg),*)
                }
                #[target_feature(enable = "avx2,fma")]
                unsafe fn avx2($($arg: $ty),*) {
                    $generic::<$crate::kernels::simd::Fused>($($arg),*)
                }
                if isa == $crate::kernels::tuning::Isa::Avx512 && $crate::kernels::simd::has_avx512() {
                    // SAFETY: the CPU supports AVX-512F/VL, AVX2 and FMA (checked just above).
                    return unsafe { avx512($($arg),*) };
                }
                if isa != $crate::kernels::tuning::Isa::Portable && $crate::kernels::simd::has_avx2_fma() {
                    // SAFETY: the CPU supports AVX2 and FMA (checked just above).
                    return unsafe { avx2($($arg),*) };
                }
            }
            $generic::<$crate::kernels::simd::Plain>($($arg),*)
        }
    };
}
pub(crate) use simd_dispatch;

/// `exp(x)` for `x <= ~88`, within 2 ulp; `0` for `x < -87.3` (including `-inf`).
///
/// Range reduction `x = n·ln2 + r` with `|r| <= ln2/2` (ln 2 split in a high and a low part so
/// `n·ln2_hi` is exact), a degree-7 polynomial for `e^r` (Taylor coefficients adjusted for the
/// interval, as in Cephes' `expf`), and `2^n` assembled in the exponent bits. Only
/// arithmetic, comparisons and bit casts, so loops over it vectorise.
#[inline(always)]
pub(crate) fn exp<A: Arith>(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    // 355/512 exactly (nine significant bits, so `n·LN2_HI` is exact); clippy counts the
    // decimal digits, not the bits
    #[allow(clippy::excessive_precision)]
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
    // e^r = 1 + r + r²·(c2 + c3·r + … + c7·r⁵), the bracket in Estrin's scheme (three pairs
    // combined by r² and r⁴) rather than Horner's: the same polynomial in half the dependent
    // steps, which is what bounds a loop of these (each step waits on the last)
    let r2 = r * r;
    let r4 = r2 * r2;
    // (Cephes' 5.0000001e-1 is 0.5 in f32)
    let c23 = A::madd(r, 1.666_666_5e-1, 0.5);
    let c45 = A::madd(r, 8.333_452e-3, 4.166_579_6e-2);
    let c67 = A::madd(r, 1.987_569_1e-4, 1.398_199_9e-3);
    let p = A::madd(r4, c67, A::madd(r2, c45, c23));
    let er = A::madd(p, r2, r) + 1.0;
    let ni = t.to_bits() as i32 - 0x4B40_0000;
    let pow2 = f32::from_bits(((ni + 127) << 23) as u32);
    if underflow {
        0.0
    } else {
        er * pow2
    }
}

/// The largest value of `row` (`-inf` for an empty row), sixteen lanes at a time.
#[inline(always)]
pub(crate) fn row_max(row: &[f32]) -> f32 {
    let mut lanes = [f32::NEG_INFINITY; 16];
    let mut chunks = row.chunks_exact(16);
    for c in &mut chunks {
        for x in 0..16 {
            lanes[x] = if c[x] > lanes[x] { c[x] } else { lanes[x] };
        }
    }
    let max = |a: f32, b: f32| if a > b { a } else { b };
    chunks
        .remainder()
        .iter()
        .fold(max16(lanes), |m, &v| max(m, v))
}

/// `row[j] = exp(row[j] - shift)`, returning the sum of the new values.
#[inline(always)]
pub(crate) fn exp_shifted_sum<A: Arith>(row: &mut [f32], shift: f32) -> f32 {
    // sixteen lanes at a time, each lane's exponential and running sum together
    let mut lanes = [0.0f32; 16];
    let mut chunks = row.chunks_exact_mut(16);
    for c in &mut chunks {
        for x in 0..16 {
            let e = exp::<A>(c[x] - shift);
            c[x] = e;
            lanes[x] += e;
        }
    }
    let mut tail = 0.0;
    for v in chunks.into_remainder() {
        *v = exp::<A>(*v - shift);
        tail += *v;
    }
    sum16(lanes) + tail
}

/// `Σ row[j]`, sixteen lanes at a time.
#[inline(always)]
pub(crate) fn sum(row: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 16];
    let mut chunks = row.chunks_exact(16);
    for c in &mut chunks {
        for x in 0..16 {
            lanes[x] += c[x];
        }
    }
    sum16(lanes) + chunks.remainder().iter().sum::<f32>()
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
    sum8(lanes) + s
}

// The reductions that end `row_max`, `exp_shifted_sum`, `sum` and `dot`: `sum16`, `sum8` and
// `max16`, in one fixed pairwise order (lane `i` with `i + 8`, then `i + 4`, `i + 2`, `i + 1`),
// written generically in `portable` and, on x86-64, with SSE in `sse`, which the tests hold to
// `portable`'s bits.
#[cfg(target_arch = "x86_64")]
use sse::{max16, sum16, sum8};

#[cfg(not(target_arch = "x86_64"))]
use portable::{max16, sum16, sum8};

/// The reductions on plain `f32`s: the order every instruction set keeps.
#[cfg(any(test, not(target_arch = "x86_64")))]
mod portable {
    /// [`tree8`] over sixteen lanes: lane `i` with `i + 8` first.
    #[inline(always)]
    fn tree16(l: [f32; 16], op: impl Fn(f32, f32) -> f32) -> f32 {
        tree8(std::array::from_fn(|i| op(l[i], l[i + 8])), op)
    }

    /// `op` over the eight lanes pairwise, in three steps (lane `i` with `i + 4`, then `i + 2`,
    /// then `i + 1`), where a fold is a chain of seven dependent scalar steps, which the
    /// softmax of every attention tile row waited on (perf, docs/PERFORMANCE.md).
    #[inline(always)]
    fn tree8(l: [f32; 8], op: impl Fn(f32, f32) -> f32) -> f32 {
        let a = [
            op(l[0], l[4]),
            op(l[1], l[5]),
            op(l[2], l[6]),
            op(l[3], l[7]),
        ];
        let b = [op(a[0], a[2]), op(a[1], a[3])];
        op(b[0], b[1])
    }

    /// The lanes' sum.
    #[inline(always)]
    pub(super) fn sum16(l: [f32; 16]) -> f32 {
        tree16(l, |a, b| a + b)
    }

    /// The lanes' sum.
    #[inline(always)]
    pub(super) fn sum8(l: [f32; 8]) -> f32 {
        tree8(l, |a, b| a + b)
    }

    /// The lanes' largest, `max(a, b) = if a > b { a } else { b }` (NaN included).
    #[inline(always)]
    pub(super) fn max16(l: [f32; 16]) -> f32 {
        tree16(l, |a, b| if a > b { a } else { b })
    }
}

/// [`portable`]'s reductions written with SSE, part of every x86-64 CPU: LLVM compiled the
/// generic trees to one extract and one scalar operation per lane (two dozen instructions a
/// reduction), a tenth of the attention forward's time at head width 32, where every tile row
/// is reduced twice per block of 64 keys (perf, docs/PERFORMANCE.md). Here a step is one
/// vector operation on four lanes at once, in the same order, so the bits do not change.
#[cfg(target_arch = "x86_64")]
mod sse {
    use std::arch::x86_64::*;

    /// The lanes' sum, in [`portable`]'s order.
    #[inline(always)]
    pub(super) fn sum16(l: [f32; 16]) -> f32 {
        tree16(l, add)
    }

    /// The lanes' sum, in [`portable`]'s order.
    #[inline(always)]
    pub(super) fn sum8(l: [f32; 8]) -> f32 {
        tree8(l, add)
    }

    /// The lanes' largest, in [`portable`]'s order and by its rule.
    #[inline(always)]
    pub(super) fn max16(l: [f32; 16]) -> f32 {
        tree16(l, max)
    }

    #[inline(always)]
    fn add(a: __m128, b: __m128) -> __m128 {
        // SAFETY: SSE is part of the x86-64 baseline.
        unsafe { _mm_add_ps(a, b) }
    }

    /// Lane by lane `if a > b { a } else { b }`: what `maxps` computes, NaN and signed zeros
    /// included (it returns its second operand unless the first is greater).
    #[inline(always)]
    fn max(a: __m128, b: __m128) -> __m128 {
        // SAFETY: SSE is part of the x86-64 baseline.
        unsafe { _mm_max_ps(a, b) }
    }

    /// Lanes `4i..4i + 4` of `l` as one vector.
    #[inline(always)]
    fn quarter<const N: usize>(l: &[f32; N], i: usize) -> __m128 {
        // SAFETY: SSE is part of the x86-64 baseline.
        unsafe { _mm_setr_ps(l[4 * i], l[4 * i + 1], l[4 * i + 2], l[4 * i + 3]) }
    }

    #[inline(always)]
    fn tree16(l: [f32; 16], op: impl Fn(__m128, __m128) -> __m128) -> f32 {
        // lanes i and i + 8, then as tree8 over the eight results
        let lo = op(quarter(&l, 0), quarter(&l, 2));
        let hi = op(quarter(&l, 1), quarter(&l, 3));
        tree4(op(lo, hi), op)
    }

    #[inline(always)]
    fn tree8(l: [f32; 8], op: impl Fn(__m128, __m128) -> __m128) -> f32 {
        tree4(op(quarter(&l, 0), quarter(&l, 1)), op)
    }

    /// `(a0 op a2) op (a1 op a3)`.
    #[inline(always)]
    fn tree4(a: __m128, op: impl Fn(__m128, __m128) -> __m128) -> f32 {
        // SAFETY: SSE is part of the x86-64 baseline.
        unsafe {
            let b = op(a, _mm_movehl_ps(a, a));
            let c = op(b, _mm_shuffle_ps::<0b01>(b, b));
            _mm_cvtss_f32(c)
        }
    }
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

    /// The vector trees give the generic trees' bits, lane order and NaN, signed zeros and
    /// infinities included: sums whose value depends on the order of additions (large and
    /// small magnitudes), and maxima where `if a > b { a } else { b }` picks between equal
    /// zeros of either sign or a NaN.
    #[test]
    fn the_reductions_keep_the_tree_order_bit_for_bit() {
        let special = [
            0.0,
            -0.0,
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            1e30,
            -1e30,
            1.0,
            f32::MIN_POSITIVE,
            3.5e-8,
        ];
        let mut seed = 12345u64;
        let mut next = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) as usize
        };
        for case in 0..4000 {
            let lanes: [f32; 16] = std::array::from_fn(|_| {
                if case % 2 == 0 {
                    special[next() % special.len()]
                } else {
                    // magnitudes 2^-20..2^20, so the sum rounds differently in another order
                    let m = (next() % 1000) as f32 / 999.0;
                    let e = (next() % 41) as i32 - 20;
                    let sign = if next() % 2 == 0 { 1.0 } else { -1.0 };
                    sign * (1.0 + m) * 2f32.powi(e)
                }
            });
            let eight: [f32; 8] = std::array::from_fn(|i| lanes[i]);
            for (got, want, what) in [
                (sum16(lanes), portable::sum16(lanes), "sum16"),
                (max16(lanes), portable::max16(lanes), "max16"),
                (sum8(eight), portable::sum8(eight), "sum8"),
            ] {
                assert_eq!(got.to_bits(), want.to_bits(), "{what} of {lanes:?}");
            }
        }
    }
}
