//! A bounds-checked `f32` matrix product on slices, over the same `gemm` crate (0.19, AVX-512
//! kernels picked at run time) that serves dfdx's matmuls through `shims/gemm`.

/// A read-only view of a matrix in a slice: element `(r, c)` at `r · row_stride + c ·
/// col_stride`, so a transpose is a view, not a copy.
///
/// **PyTorch equivalent**: a 2-d tensor and its `.t()` view.
#[derive(Clone, Copy, Debug)]
pub struct MatRef<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

impl<'a> MatRef<'a> {
    /// A `rows × cols` row-major matrix.
    ///
    /// # Panics
    /// When `data` holds fewer than `rows · cols` values.
    pub fn row_major(data: &'a [f32], rows: usize, cols: usize) -> Self {
        assert!(
            data.len() >= rows * cols,
            "MatRef: {} values for a {rows}×{cols} matrix",
            data.len()
        );
        MatRef {
            data,
            rows,
            cols,
            row_stride: cols,
            col_stride: 1,
        }
    }

    /// The transpose, as a view.
    pub fn t(self) -> Self {
        MatRef {
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
            ..self
        }
    }
}

/// Below this many multiply-adds a product runs on the calling thread: waking the pool costs
/// more than a few microseconds of AVX-512 work.
const PARALLEL_MIN_MACS: usize = 1 << 20;

/// `dst = a · b`, or `dst += a · b` when `accumulate`; `dst` is `a.rows × b.cols` row-major.
///
/// # Shapes
/// `a: [M, K]`, `b: [K, N]` (either may be a transposed view) → `dst: [M, N]`.
///
/// **PyTorch equivalent**: `torch.mm(a, b, out=dst)`, or `dst.addmm_(a, b)` when accumulating.
///
/// # Panics
/// When the inner dimensions or `dst`'s size do not match.
pub fn matmul_into(dst: &mut [f32], accumulate: bool, a: MatRef<'_>, b: MatRef<'_>) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert_eq!(k, b.rows, "matmul_into: inner dimensions");
    assert_eq!(dst.len(), m * n, "matmul_into: destination size");
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            dst.fill(0.0);
        }
        return;
    }
    let parallelism = if m * n * k >= PARALLEL_MIN_MACS {
        gemm::Parallelism::Rayon(rayon::current_num_threads())
    } else {
        gemm::Parallelism::None
    };
    // SAFETY: `row_major` checked each view's slice covers `rows · cols` values at its strides
    // (a transpose covers the same offsets), `dst` holds `m · n` row-major values, and the three
    // slices cannot overlap (`dst` is borrowed mutably).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            a.data.as_ptr(),
            a.col_stride as isize,
            a.row_stride as isize,
            b.data.as_ptr(),
            b.col_stride as isize,
            b.row_stride as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: MatRef<'_>, b: MatRef<'_>) -> Vec<f32> {
        let mut out = vec![0.0; a.rows * b.cols];
        for i in 0..a.rows {
            for j in 0..b.cols {
                let mut s = 0.0f64;
                for p in 0..a.cols {
                    let x = a.data[i * a.row_stride + p * a.col_stride];
                    let y = b.data[p * b.row_stride + j * b.col_stride];
                    s += f64::from(x) * f64::from(y);
                }
                out[i * b.cols + j] = s as f32;
            }
        }
        out
    }

    fn values(n: usize, seed: usize) -> Vec<f32> {
        (0..n)
            .map(|i| (((i * 37 + seed * 11) % 23) as f32 - 11.0) / 7.0)
            .collect()
    }

    #[test]
    fn products_and_transposed_views_match_the_triple_loop() {
        // big enough for the parallel path, odd sizes that fit no kernel tile
        // (and one wider than tall)
        for (m, k, n) in [(3, 5, 4), (131, 67, 129), (67, 131, 203)] {
            let a = values(m * k, 1);
            let bt = values(n * k, 2);
            let am = MatRef::row_major(&a, m, k);
            let b = MatRef::row_major(&bt, n, k).t();
            let want = naive(am, b);
            let mut got = vec![7.0; m * n];
            matmul_into(&mut got, false, am, b);
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() <= 1e-4 * (1.0 + w.abs()), "{g} vs {w}");
            }
            matmul_into(&mut got, true, am, b);
            for (g, w) in got.iter().zip(&want) {
                assert!(
                    (g - 2.0 * w).abs() <= 2e-4 * (1.0 + w.abs()),
                    "{g} vs 2×{w}"
                );
            }
        }
    }

    #[test]
    fn an_empty_inner_dimension_gives_zeros_or_leaves_the_sum() {
        let mut dst = vec![3.0; 4];
        matmul_into(
            &mut dst,
            true,
            MatRef::row_major(&[], 2, 0),
            MatRef::row_major(&[], 0, 2),
        );
        assert_eq!(dst, vec![3.0; 4]);
        matmul_into(
            &mut dst,
            false,
            MatRef::row_major(&[], 2, 0),
            MatRef::row_major(&[], 0, 2),
        );
        assert_eq!(dst, vec![0.0; 4]);
    }
}
