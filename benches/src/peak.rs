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
}
