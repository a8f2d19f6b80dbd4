//! The `gemm` 0.15 interface dfdx 0.13 calls for `f32`/`f64` (`gemm`, `Parallelism`). An `f32`
//! product in a layout attn's product takes — `dst = a·b` or `dst += a·b`, non-negative strides,
//! a destination whose rows or columns are contiguous, on the thread pool — runs on attn-gemm,
//! the product attn's own kernels use, so every `f32` matmul of a model runs on the same tiles
//! and blocking ([`attn_gemm::ProductConfig::current`], which `ATTN_KERNEL` overrides); anything
//! else (`f64`, other scalings, negative strides, `Parallelism::None`) on gemm 0.19. dfdx's
//! `f16` feature would also need `gemm::f16`; attn does not enable it, so this stand-in leaves
//! half precision (and its compile time) out.

use std::any::TypeId;

use attn_gemm::MatRef;
pub use gemm19::Parallelism;

/// `dst = alpha·dst + beta·(lhs · rhs)` (`dst`'s old values read only when `read_dst`), with
/// element `(i, j)` of each matrix at `ptr + i·rs + j·cs`: gemm 0.15's (and 0.19's) contract.
///
/// # Shapes
/// `lhs: [m, k]`, `rhs: [k, n]` → `dst: [m, n]`.
///
/// **PyTorch equivalent**: `torch.addmm(dst, lhs, rhs, beta=alpha, alpha=beta, out=dst)`.
///
/// # Safety
/// As gemm's: each pointer covers its matrix at its strides, `dst` is writable there and
/// overlaps neither input.
#[allow(clippy::too_many_arguments)]
pub unsafe fn gemm<T: 'static>(
    m: usize,
    n: usize,
    k: usize,
    dst: *mut T,
    dst_cs: isize,
    dst_rs: isize,
    read_dst: bool,
    lhs: *const T,
    lhs_cs: isize,
    lhs_rs: isize,
    rhs: *const T,
    rhs_cs: isize,
    rhs_rs: isize,
    alpha: T,
    beta: T,
    conj_dst: bool,
    conj_lhs: bool,
    conj_rhs: bool,
    parallelism: Parallelism,
) {
    let shape = Shape {
        m,
        n,
        k,
        dst: [dst_rs, dst_cs],
        lhs: [lhs_rs, lhs_cs],
        rhs: [rhs_rs, rhs_cs],
    };
    if TypeId::of::<T>() == TypeId::of::<f32>() {
        // SAFETY: `T` is `f32`, so these are `f32` values and pointers.
        let (alpha, beta) = unsafe {
            (
                *(&alpha as *const T).cast::<f32>(),
                *(&beta as *const T).cast::<f32>(),
            )
        };
        let plain = beta == 1.0 && (!read_dst || alpha == 1.0);
        if plain && on_pool(parallelism) {
            // SAFETY: the caller's contract, for `f32`.
            let done =
                unsafe { on_attn_gemm(&shape, dst.cast(), read_dst, lhs.cast(), rhs.cast()) };
            if done {
                return;
            }
        }
    }
    // SAFETY: the caller's contract is gemm 0.19's.
    unsafe {
        gemm19::gemm(
            m,
            n,
            k,
            dst,
            dst_cs,
            dst_rs,
            read_dst,
            lhs,
            lhs_cs,
            lhs_rs,
            rhs,
            rhs_cs,
            rhs_rs,
            alpha,
            beta,
            conj_dst,
            conj_lhs,
            conj_rhs,
            parallelism,
        )
    }
}

/// A product's sizes and each matrix's `[row, column]` strides.
struct Shape {
    m: usize,
    n: usize,
    k: usize,
    dst: [isize; 2],
    lhs: [isize; 2],
    rhs: [isize; 2],
}

/// Whether `parallelism` asks for the whole current pool, which attn's product splits over
/// (dfdx asks for `Rayon(current_num_threads)`).
fn on_pool(parallelism: Parallelism) -> bool {
    match parallelism {
        Parallelism::Rayon(threads) => threads == 0 || threads == rayon::current_num_threads(),
        Parallelism::None => false,
    }
}

/// `dst (+)= lhs · rhs` on attn-gemm, where the layout allows: non-negative input strides, and a
/// destination row-major (`[n, 1]`) or column-major (`[1, m]`, computed as `dstᵀ = rhsᵀ ·
/// lhsᵀ`). `false`, having done nothing, otherwise.
///
/// # Safety
/// [`gemm`]'s contract, for `f32`.
unsafe fn on_attn_gemm(
    shape: &Shape,
    dst: *mut f32,
    accumulate: bool,
    lhs: *const f32,
    rhs: *const f32,
) -> bool {
    let &Shape { m, n, k, .. } = shape;
    let stride = |s: isize| usize::try_from(s).ok();
    let (Some(lr), Some(lc), Some(rr), Some(rc)) = (
        stride(shape.lhs[0]),
        stride(shape.lhs[1]),
        stride(shape.rhs[0]),
        stride(shape.rhs[1]),
    ) else {
        return false;
    };
    let transposed = match shape.dst {
        [rs, 1] if rs == n as isize => false,
        [1, cs] if cs == m as isize => true,
        _ => return false,
    };
    if m == 0 || n == 0 {
        return true;
    }
    // SAFETY: each slice is the span its matrix reaches at its strides, which the caller's
    // pointers cover (an empty span is not read); `dst`'s `m · n` contiguous values are
    // writable and overlap neither input.
    let (a, b, dst) = unsafe {
        let view = |ptr: *const f32, rows, cols, rs, cs| {
            let len = MatRef::extent(rows, cols, rs, cs);
            let data = if len == 0 {
                &[][..]
            } else {
                std::slice::from_raw_parts(ptr, len)
            };
            MatRef::strided(data, rows, cols, rs, cs)
        };
        (
            view(lhs, m, k, lr, lc),
            view(rhs, k, n, rr, rc),
            std::slice::from_raw_parts_mut(dst, m * n),
        )
    };
    if transposed {
        attn_gemm::matmul_into(
            dst,
            attn_gemm::Start::accumulating(accumulate),
            b.t(),
            a.t(),
        );
    } else {
        attn_gemm::matmul_into(dst, attn_gemm::Start::accumulating(accumulate), a, b);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A matrix in a buffer: `(i, j)` at `i·rs + j·cs`.
    struct Strided {
        data: Vec<f32>,
        rs: isize,
        cs: isize,
    }

    impl Strided {
        fn at(&self, i: usize, j: usize) -> f32 {
            self.data[i * self.rs as usize + j * self.cs as usize]
        }
    }

    fn values(len: usize, seed: usize) -> Vec<f32> {
        (0..len)
            .map(|i| ((i * 31 + seed * 7) % 17) as f32 * 0.1 - 0.8)
            .collect()
    }

    /// How a test matrix lies in its buffer.
    #[derive(Clone, Copy, Debug, PartialEq)]
    enum Layout {
        /// Row-major.
        Rows,
        /// Column-major (a transposed view).
        Cols,
        /// One row repeated (row stride 0, as dfdx broadcasts a batch).
        Broadcast,
    }

    /// A `rows × cols` matrix laid out as `layout` says.
    fn matrix(rows: usize, cols: usize, layout: Layout, seed: usize) -> Strided {
        let (len, rs, cs) = match layout {
            Layout::Rows => (rows * cols, cols, 1),
            Layout::Cols => (rows * cols, 1, rows),
            Layout::Broadcast => (cols, 0, 1),
        };
        Strided {
            data: values(len, seed),
            rs: rs as isize,
            cs: cs as isize,
        }
    }

    /// `gemm` as dfdx calls it, on a destination laid out as `dst_layout`, against the textbook
    /// triple loop in `f64`; returns the result in row-major order.
    #[allow(clippy::too_many_arguments)]
    fn run(
        (m, k, n): (usize, usize, usize),
        a: &Strided,
        b: &Strided,
        dst_layout: Layout,
        accumulate: bool,
        alpha: f32,
        beta: f32,
        parallelism: Parallelism,
    ) -> Vec<f32> {
        let mut dst = matrix(m, n, dst_layout, 9);
        let start: Vec<f32> = (0..m * n).map(|e| dst.at(e / n, e % n)).collect();
        // SAFETY: each buffer covers its matrix at its strides.
        unsafe {
            gemm(
                m,
                n,
                k,
                dst.data.as_mut_ptr(),
                dst.cs,
                dst.rs,
                accumulate,
                a.data.as_ptr(),
                a.cs,
                a.rs,
                b.data.as_ptr(),
                b.cs,
                b.rs,
                alpha,
                beta,
                false,
                false,
                false,
                parallelism,
            );
        }
        let got: Vec<f32> = (0..m * n).map(|e| dst.at(e / n, e % n)).collect();
        for i in 0..m {
            for j in 0..n {
                let dot: f64 = (0..k)
                    .map(|p| f64::from(a.at(i, p)) * f64::from(b.at(p, j)))
                    .sum();
                let old = if accumulate {
                    f64::from(alpha) * f64::from(start[i * n + j])
                } else {
                    0.0
                };
                let want = old + f64::from(beta) * dot;
                let e = got[i * n + j];
                assert!(
                    (f64::from(e) - want).abs() < 1e-4 * (1.0 + want.abs()),
                    "({i}, {j}) of {m}x{k}x{n}, dst {dst_layout:?}: {e} vs {want}"
                );
            }
        }
        got
    }

    /// Every layout dfdx hands the shim — row-major and transposed inputs, a broadcast batch,
    /// a column-major destination (the gradient of a transposed view), written over and
    /// accumulated — at shapes that fit no tile, on the tiles' path and on gemm 0.19's
    /// (other scalings, one thread): each against the textbook product. Where the tiles take the
    /// product, the result is attn-gemm's to the bit (the same product attn's kernels make).
    #[test]
    fn every_layout_dfdx_uses_gives_the_textbook_product() {
        for (m, k, n) in [(67, 129, 45), (5, 3, 7), (130, 40, 33)] {
            for (a_layout, b_layout) in [
                (Layout::Rows, Layout::Rows),
                (Layout::Cols, Layout::Rows),
                (Layout::Rows, Layout::Cols),
                (Layout::Cols, Layout::Cols),
                (Layout::Broadcast, Layout::Rows),
            ] {
                let a = matrix(m, k, a_layout, 1);
                let b = matrix(k, n, b_layout, 2);
                for dst_layout in [Layout::Rows, Layout::Cols] {
                    for accumulate in [false, true] {
                        let pool = Parallelism::Rayon(rayon::current_num_threads());
                        let got = run((m, k, n), &a, &b, dst_layout, accumulate, 1.0, 1.0, pool);
                        // the same product on attn-gemm directly
                        let mut want: Vec<f32> = (0..m * n)
                            .map(|e| matrix(m, n, dst_layout, 9).at(e / n, e % n))
                            .collect();
                        let av = MatRef::strided(&a.data, m, k, a.rs as usize, a.cs as usize);
                        let bv = MatRef::strided(&b.data, k, n, b.rs as usize, b.cs as usize);
                        if dst_layout == Layout::Rows {
                            attn_gemm::matmul_into(
                                &mut want,
                                attn_gemm::Start::accumulating(accumulate),
                                av,
                                bv,
                            );
                            assert!(got == want, "{m}x{k}x{n} {a_layout:?}·{b_layout:?}: bits");
                        }
                        // gemm 0.19's path: scaled, or asked for one thread
                        run((m, k, n), &a, &b, dst_layout, true, 0.5, 2.0, pool);
                        run(
                            (m, k, n),
                            &a,
                            &b,
                            dst_layout,
                            accumulate,
                            1.0,
                            1.0,
                            Parallelism::None,
                        );
                    }
                }
            }
        }
    }

    /// `f64` products (dfdx's other dtype) still run, on gemm 0.19.
    #[test]
    fn f64_products_run_on_gemm() {
        let (m, k, n) = (9, 11, 7);
        let a: Vec<f64> = (0..m * k).map(|i| (i % 5) as f64 - 2.0).collect();
        let b: Vec<f64> = (0..k * n).map(|i| (i % 3) as f64 - 1.0).collect();
        let mut c = vec![0.0f64; m * n];
        // SAFETY: row-major buffers of the stated sizes.
        unsafe {
            gemm(
                m,
                n,
                k,
                c.as_mut_ptr(),
                1,
                n as isize,
                false,
                a.as_ptr(),
                1,
                k as isize,
                b.as_ptr(),
                1,
                n as isize,
                0.0,
                1.0,
                false,
                false,
                false,
                Parallelism::Rayon(0),
            );
        }
        for i in 0..m {
            for j in 0..n {
                let want: f64 = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
                assert_eq!(c[i * n + j], want);
            }
        }
    }
}
