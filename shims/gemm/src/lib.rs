//! The `gemm` 0.15 interface dfdx 0.13 calls for `f32`/`f64` (`gemm`, `Parallelism`), served by
//! gemm 0.19's faster kernels. dfdx's `f16` feature would also need `gemm::f16`; attn does not
//! enable it, so this stand-in leaves half precision (and its compile time) out.

pub use gemm19::{gemm, Parallelism};

#[cfg(test)]
mod tests {
    /// A row-major product against the textbook triple loop, at a shape that is no multiple of
    /// any kernel tile, with the accumulate form dfdx uses for gradients (`dst = dst + a·b`).
    #[test]
    fn forwards_to_a_correct_gemm() {
        let (m, k, n) = (67, 129, 45);
        let a: Vec<f32> = (0..m * k)
            .map(|i| ((i * 31) % 17) as f32 * 0.1 - 0.8)
            .collect();
        let b: Vec<f32> = (0..k * n)
            .map(|i| ((i * 7) % 13) as f32 * 0.1 - 0.6)
            .collect();
        let mut c = vec![1.0f32; m * n];
        // SAFETY: the pointers cover m×k, k×n and m×n row-major buffers.
        unsafe {
            super::gemm(
                m,
                n,
                k,
                c.as_mut_ptr(),
                1,
                n as isize,
                true,
                a.as_ptr(),
                1,
                k as isize,
                b.as_ptr(),
                1,
                n as isize,
                1.0,
                1.0,
                false,
                false,
                false,
                super::Parallelism::Rayon(2),
            );
        }
        for i in 0..m {
            for j in 0..n {
                let want: f32 = 1.0 + (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum::<f32>();
                let got = c[i * n + j];
                assert!((got - want).abs() < 1e-3, "({i}, {j}): {got} vs {want}");
            }
        }
    }
}
