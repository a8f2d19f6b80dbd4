//! The machine's practical f32 peak: independent fused multiply-adds on every core, with the
//! widest vectors the CPU offers (AVX-512, else AVX2, chosen at run time).
//!
//! A matrix product cannot beat this loop, so "GEMM GFLOP/s ÷ this" is how close to the
//! hardware it gets. Compare with `torch.mm` on the same machine for the library view.

/// Fused multiply-adds per call of [`fma_burst`] per thread (each is 2 flops): about 2 ms of
/// work, so that handing the burst to the other threads (tens of microseconds on a VM, see
/// `attn_runtime::threads::keep_workers_awake`) costs a percent of it. A burst a sixteenth of
/// this read 20% below the rate gemm and MKL reach on the 2-core Xeon.
pub const FMAS_PER_BURST: u64 = CHAINS as u64 * 16 * (1 << 20);

/// Independent accumulator chains: more than FMA latency × FMA units, so the loop runs at the
/// units' throughput, not their latency.
const CHAINS: usize = 12;

/// Runs [`FMAS_PER_BURST`] multiply-adds on each of `threads` rayon threads; returns the sum over
/// threads of each one's mean result (≈ 1 each), so nothing is optimised away.
pub fn fma_burst(threads: usize) -> f32 {
    use rayon::prelude::*;
    (0..threads)
        .into_par_iter()
        .map(|t| one_core(t as f32))
        .sum()
}

fn one_core(seed: f32) -> f32 {
    #[cfg(target_arch = "x86_64")]
    {
        if is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F (checked above).
            return unsafe { burst_avx512(seed) };
        }
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            // SAFETY: the CPU has AVX2 and FMA (checked above).
            return unsafe { burst_avx2(seed) };
        }
    }
    burst_portable(seed)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,fma")]
unsafe fn burst_avx512(seed: f32) -> f32 {
    use std::arch::x86_64::*;
    let (a, b) = (_mm512_set1_ps(0.999), _mm512_set1_ps(1e-3));
    let mut acc = [_mm512_set1_ps(seed); CHAINS];
    for _ in 0..FMAS_PER_BURST as usize / (CHAINS * 16) {
        for x in acc.iter_mut() {
            *x = _mm512_fmadd_ps(*x, a, b);
        }
    }
    let mut out = [0f32; 16];
    let sum = acc
        .iter()
        .fold(_mm512_setzero_ps(), |s, x| _mm512_add_ps(s, *x));
    _mm512_storeu_ps(out.as_mut_ptr(), sum);
    out.iter().sum::<f32>() / (16 * CHAINS) as f32
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn burst_avx2(seed: f32) -> f32 {
    use std::arch::x86_64::*;
    let (a, b) = (_mm256_set1_ps(0.999), _mm256_set1_ps(1e-3));
    let mut acc = [_mm256_set1_ps(seed); CHAINS];
    // 8 lanes per vector: twice the rounds for the same number of multiply-adds
    for _ in 0..FMAS_PER_BURST as usize / (CHAINS * 8) {
        for x in acc.iter_mut() {
            *x = _mm256_fmadd_ps(*x, a, b);
        }
    }
    let mut out = [0f32; 8];
    let sum = acc
        .iter()
        .fold(_mm256_setzero_ps(), |s, x| _mm256_add_ps(s, *x));
    _mm256_storeu_ps(out.as_mut_ptr(), sum);
    out.iter().sum::<f32>() / (8 * CHAINS) as f32
}

fn burst_portable(seed: f32) -> f32 {
    let mut acc = [[seed; 16]; CHAINS];
    for _ in 0..FMAS_PER_BURST as usize / (CHAINS * 16) {
        for chain in acc.iter_mut() {
            for x in chain.iter_mut() {
                *x = x.mul_add(0.999, 1e-3);
            }
        }
    }
    acc.iter().flatten().sum::<f32>() / (16 * CHAINS) as f32
}

/// Inner steps of the panel [`tile_mix_burst`] cycles through: its operands (8 KiB of panel
/// and 2 KiB of rows on AVX-512) stay in the level-1 cache.
const MIX_STEPS: usize = 64;

/// The operands of [`tile_mix_burst`]: every row value `0.5`, every panel value `2⁻¹⁰`, so each
/// multiply-add adds exactly `2⁻¹¹` and the result can be checked.
const MIX_A: f32 = 0.5;
const MIX_B: f32 = 1.0 / 1024.0;

/// [`FMAS_PER_BURST`] multiply-adds on each of `threads` rayon threads in the instruction mix of
/// attn's register tiles (`attn_gemm`'s micro-kernels), with their operands in the level-1
/// cache: per inner step, two vector loads of a panel, one broadcast load per row, and two
/// fused multiply-adds per row — 8 rows × 32 columns on AVX-512, 6 × 16 on AVX2. No product
/// on these tiles can beat it, so "GEMM GFLOP/s ÷ this" separates what the tile's own
/// instructions cost from what the blocking and the memory cost. Returns the sum over threads
/// of each one's mean accumulator divided by its steps (`2⁻¹¹` each; the plain
/// [`fma_burst`]'s result where the CPU has neither set).
pub fn tile_mix_burst(threads: usize) -> f32 {
    use rayon::prelude::*;
    (0..threads)
        .into_par_iter()
        .map(|_| tile_mix_one_core())
        .sum()
}

fn tile_mix_one_core() -> f32 {
    #[cfg(target_arch = "x86_64")]
    {
        if is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F (checked above).
            return unsafe { tile_mix_avx512() };
        }
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            // SAFETY: the CPU has AVX2 and FMA (checked above).
            return unsafe { tile_mix_avx2() };
        }
    }
    burst_portable(0.0)
}

/// The tile mix with `$rows` rows of `$lanes`-lane vectors, two vectors per row (the
/// instruction set's load, broadcast, fused multiply-add and zero); evaluates to the mean
/// accumulator over the steps run.
#[cfg(target_arch = "x86_64")]
macro_rules! tile_mix {
    ($rows:expr, $lanes:expr, $vec:ty, $zero:ident, $load:ident, $set1:ident, $fmadd:ident, $store:ident) => {{
        const ROWS: usize = $rows;
        // opaque to the optimiser, so that each step loads its operands as a tile does
        let a = std::hint::black_box([MIX_A; ROWS * MIX_STEPS]);
        let b = std::hint::black_box([MIX_B; 2 * $lanes * MIX_STEPS]);
        let mut acc: [[$vec; 2]; ROWS] = [[$zero(); 2]; ROWS];
        let steps = FMAS_PER_BURST as usize / (2 * $lanes * ROWS);
        for s in 0..steps {
            let p = s % MIX_STEPS;
            let b0 = $load(b.as_ptr().add(2 * $lanes * p));
            let b1 = $load(b.as_ptr().add(2 * $lanes * p + $lanes));
            for (r, acc) in acc.iter_mut().enumerate() {
                let ar = $set1(*a.as_ptr().add(r * MIX_STEPS + p));
                acc[0] = $fmadd(ar, b0, acc[0]);
                acc[1] = $fmadd(ar, b1, acc[1]);
            }
        }
        let mut out = [0f32; $lanes];
        let mut total = 0.0f64;
        for acc in acc.iter().flatten() {
            $store(out.as_mut_ptr(), *acc);
            total += out.iter().map(|&x| x as f64).sum::<f64>();
        }
        (total / (2 * $lanes * ROWS * steps) as f64) as f32
    }};
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn tile_mix_avx512() -> f32 {
    use std::arch::x86_64::*;
    tile_mix!(
        8,
        16,
        __m512,
        _mm512_setzero_ps,
        _mm512_loadu_ps,
        _mm512_set1_ps,
        _mm512_fmadd_ps,
        _mm512_storeu_ps
    )
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn tile_mix_avx2() -> f32 {
    use std::arch::x86_64::*;
    tile_mix!(
        6,
        8,
        __m256,
        _mm256_setzero_ps,
        _mm256_loadu_ps,
        _mm256_set1_ps,
        _mm256_fmadd_ps,
        _mm256_storeu_ps
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_burst_computes_the_recurrence() {
        // x ← 0.999·x + 0.001 from x₀ gives 1 − (1 − x₀)·0.999ⁿ, n ≥ 65536 rounds: thread 0
        // starts at 0 and ends within 0.999⁶⁵⁵³⁶ ≈ 3e-29 of 1 (or closer); thread 1 starts at 1
        // and stays
        let v = fma_burst(1);
        assert!((v - 1.0).abs() < 1e-4, "{v}");
        let two = fma_burst(2);
        assert!((two - v - 1.0).abs() < 1e-4, "{two}");
    }

    #[test]
    fn the_tile_mix_adds_each_product_once_per_step() {
        // each lane's accumulator gains 0.5 · 2⁻¹⁰ = 2⁻¹¹ per step, exactly in f32 at these
        // sizes, so the mean over the steps is 2⁻¹¹ on one thread and twice that on two (the
        // portable fallback's recurrence ends at ≈ 1 instead)
        let expected = if cfg!(target_arch = "x86_64")
            && (is_x86_feature_detected!("avx512f")
                || (is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")))
        {
            MIX_A * MIX_B
        } else {
            1.0
        };
        assert!(
            (tile_mix_burst(1) - expected).abs() < 1e-4 * expected,
            "{}",
            tile_mix_burst(1)
        );
        assert!((tile_mix_burst(2) - 2.0 * expected).abs() < 2e-4 * expected);
    }
}
