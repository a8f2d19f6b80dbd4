//! A bounds-checked `f32` matrix product on slices, for attn's kernels and (through
//! `shims/gemm`) dfdx's matmuls. Where `A`'s rows are contiguous (a projection's `x · Wᵀ`, its
//! input gradient `dy · W`, most of dfdx's products) it runs on attn's own blocked product
//! over AVX-512 or AVX2 register tiles ([`blocked`], [`micro`], [`pack`]), chosen with the
//! configuration ([`ProductConfig`]); so does a transposed `A` (a weight gradient's
//! `dyᵀ · x`, packed a chunk of rows at a time) on AVX2. A transposed `A` on AVX-512, and CPUs
//! without AVX2, run on the `gemm` crate (0.19).
//!
//! Why our own: at the projection shapes (B·S rows by widths of 64 to 512) gemm 0.19's split
//! over two threads reached 79–90% of the measured FMA peak on a Zen 4 EPYC and 52–78% on a
//! Xeon (docs/PERFORMANCE.md), while its single-threaded kernels reached 88–98%: the loss was
//! the split, which gemm does not let a caller choose. The register tiles here are short and
//! conventional; the split ([`blocked`]) is what differs. For the weight gradients gemm's own
//! AVX-512 kernels stayed ahead of ours on the Zen 4; on a Zen 2 (AVX2) ours with a packed `A`
//! were ahead of gemm's (docs/DESIGN_NOTES.md), so each instruction set runs the faster one.

use crate::config::ProductConfig;
use crate::isa::Isa;
use crate::mat::MatRef;
use crate::start::Start;
use crate::{blocked, micro};

/// Below this many multiply-adds a product runs on the calling thread: waking the pool costs
/// more than a few microseconds of AVX-512 work.
const PARALLEL_MIN_MACS: usize = 1 << 20;

/// `dst = start + a · b`: written over ([`Start::Zeros`]), accumulated ([`Start::Dst`]), or
/// onto a row repeated down every row ([`Start::Row`], a bias); `dst` is `a.rows × b.cols`
/// row-major. Runs with the process's configuration ([`ProductConfig::current`]).
///
/// # Shapes
/// `a: [M, K]`, `b: [K, N]` (either may be a transposed view) → `dst: [M, N]`;
/// `Start::Row(row)`: `row: [N]`.
///
/// **PyTorch equivalent**: `torch.mm(a, b, out=dst)`, `dst.addmm_(a, b)`, or
/// `torch.addmm(row, a, b, out=dst)`.
///
/// # Panics
/// When the inner dimensions, `dst`'s size or the start row's length do not match.
pub fn matmul_into(dst: &mut [f32], start: Start<'_>, a: MatRef<'_>, b: MatRef<'_>) {
    matmul_into_with(&ProductConfig::current(), dst, start, a, b)
}

/// [`matmul_into`] with `config` instead of the process's configuration: its instruction set
/// picks the register tiles ([`Isa::Portable`]: the `gemm` crate), its
/// [`ProductConfig::kc`] the packed block. Every configuration gives the same values to
/// rounding, and each gives the same bits on any number of threads.
///
/// # Panics
/// When the inner dimensions or `dst`'s size do not match.
pub fn matmul_into_with(
    config: &ProductConfig,
    dst: &mut [f32],
    start: Start<'_>,
    a: MatRef<'_>,
    b: MatRef<'_>,
) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert_eq!(k, b.rows, "matmul_into: inner dimensions");
    assert_eq!(dst.len(), m * n, "matmul_into: destination size");
    if let Start::Row(row) = start {
        assert_eq!(row.len(), n, "matmul_into: the start row's length");
    }
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !start.prefill(dst, n) {
            dst.fill(0.0);
        }
        return;
    }
    let parallel = m * n * k >= PARALLEL_MIN_MACS;
    match tiles_for(config.isa) {
        // rows of `A` contiguous: attn's tiles; a transposed `A` (a weight gradient's `dyᵀ`):
        // packed for the tiles where they measured faster than the gemm crate, else on the
        // gemm crate (docs/DESIGN_NOTES.md)
        Some(micro) if a.col_stride == 1 || micro.packs_a() => {
            let packed_rows = if a.col_stride == 1 { 0 } else { micro.mr };
            let kc = config.kc(micro.nr, packed_rows);
            let cols = config.block_cols(kc, micro.nr);
            let rows = config.block_rows(kc, micro.mr);
            let blocking = blocked::Blocking {
                micro,
                kc,
                cols,
                rows,
            };
            blocked::matmul(dst, start, a, b, blocking, parallel)
        }
        _ => {
            let accumulate = start.prefill(dst, n);
            on_gemm_crate(dst, accumulate, a, b, parallel)
        }
    }
}

/// The register tiles of `isa`, or of the best instruction set below it that this CPU has;
/// `None` for [`Isa::Portable`] or a CPU without AVX2.
fn tiles_for(isa: Isa) -> Option<micro::Micro> {
    Isa::ALL
        .into_iter()
        .skip_while(|&below| below != isa)
        .find(|below| below.available())
        .and_then(micro::of)
}

/// The product on the `gemm` crate (its own kernels and thread split).
fn on_gemm_crate(dst: &mut [f32], accumulate: bool, a: MatRef<'_>, b: MatRef<'_>, parallel: bool) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    let parallelism = if parallel {
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

/// Frees the scratch memory products keep between calls: each thread's packing buffer (this
/// thread's and the current rayon pool's workers'), which grows to the largest block a thread
/// has packed. For a program that is done with a model and goes on to another (a sweep), so
/// that memory does not stay at the largest product's size; the next product allocates again.
///
/// **PyTorch equivalent**: none for the CPU (`torch.cuda.empty_cache()` plays this part for the
/// GPU's caching allocator).
pub fn release_buffers() {
    crate::pack::release_buffers()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The textbook product in `f64`, and for each output the sum of its terms' magnitudes
    /// (what its `f32` rounding error scales with).
    fn naive(a: MatRef<'_>, b: MatRef<'_>) -> (Vec<f32>, Vec<f32>) {
        let mut out = vec![0.0; a.rows * b.cols];
        let mut mag = vec![0.0; a.rows * b.cols];
        for i in 0..a.rows {
            for j in 0..b.cols {
                let (mut s, mut abs) = (0.0f64, 0.0f64);
                for p in 0..a.cols {
                    let x = a.data[i * a.row_stride + p * a.col_stride];
                    let y = b.data[p * b.row_stride + j * b.col_stride];
                    s += f64::from(x) * f64::from(y);
                    abs += (f64::from(x) * f64::from(y)).abs();
                }
                out[i * b.cols + j] = s as f32;
                mag[i * b.cols + j] = abs as f32;
            }
        }
        (out, mag)
    }

    fn values(n: usize, seed: usize) -> Vec<f32> {
        (0..n)
            .map(|i| (((i * 37 + seed * 11) % 23) as f32 - 11.0) / 7.0)
            .collect()
    }

    fn on_threads<R: Send>(threads: usize, f: impl FnOnce() -> R + Send) -> R {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("a thread pool")
            .install(f)
    }

    /// Every configuration the selector or `ATTN_KERNEL` can choose on this CPU (each
    /// instruction set with each packed block), on 1, 2 and 3 threads, against the `f64`
    /// textbook product: written over, accumulated and onto a bias row (into a destination of
    /// NaN, which the product must not read), `A` row-major and transposed, `B`
    /// transposed and row-major, at sizes that fit no tile (rows, columns and inner steps with
    /// remainders), past the parallel threshold, past one packed column block of the smallest
    /// inner block, with long inner dimensions, and with widths of whole panels (which a
    /// transposed `A`'s row-major `B` is read in place at on AVX2).
    /// Each configuration must also give the same bits on every thread count.
    #[test]
    fn every_configuration_matches_the_textbook_product_on_any_thread_count() {
        let shapes = [
            (3, 5, 4),
            (131, 67, 129),
            (67, 131, 203),
            (9, 600, 290),
            (40, 2100, 40),
            (13, 2200, 21),
            // widths of whole 16-wide panels: a transposed `A`'s row-major `B` is read in
            // place on AVX2 where its rows are short enough, packed where they are not
            (70, 300, 48),
            (37, 1100, 64),
            (20, 90, 144),
        ];
        for config in ProductConfig::candidates() {
            for (m, k, n) in shapes {
                for transposed_a in [false, true] {
                    let (a, b) = (values(m * k, 1), values(n * k, 2));
                    let am = if transposed_a {
                        MatRef::row_major(&a, k, m).t()
                    } else {
                        MatRef::row_major(&a, m, k)
                    };
                    // projections read Wᵀ, weight gradients a row-major x
                    let bm = if transposed_a {
                        MatRef::row_major(&b, k, n)
                    } else {
                        MatRef::row_major(&b, n, k).t()
                    };
                    let (want, mag) = naive(am, bm);
                    let start = values(m * n, 3);
                    let bias = values(n, 4);
                    let mut first: Option<[Vec<f32>; 3]> = None;
                    for threads in [1, 2, 3] {
                        let [over, acc, biased] = on_threads(threads, || {
                            let mut over = vec![7.0; m * n];
                            matmul_into_with(&config, &mut over, Start::Zeros, am, bm);
                            let mut acc = start.clone();
                            matmul_into_with(&config, &mut acc, Start::Dst, am, bm);
                            let mut biased = vec![f32::NAN; m * n];
                            matmul_into_with(&config, &mut biased, Start::Row(&bias), am, bm);
                            [over, acc, biased]
                        });
                        let case =
                            format!("{config} {m}x{k}x{n} aᵀ={transposed_a} {threads} threads");
                        for e in 0..m * n {
                            let tol = 1e-5 * (mag[e] + 1.0);
                            assert!(
                                (over[e] - want[e]).abs() <= tol,
                                "{case} [{e}]: {} vs {}",
                                over[e],
                                want[e]
                            );
                            let w = start[e] + want[e];
                            assert!(
                                (acc[e] - w).abs() <= tol + 1e-6 * w.abs(),
                                "{case} [{e}] accumulated: {} vs {w}",
                                acc[e]
                            );
                            let w = bias[e % n] + want[e];
                            assert!(
                                (biased[e] - w).abs() <= tol + 1e-6 * w.abs(),
                                "{case} [{e}] onto the bias row: {} vs {w}",
                                biased[e]
                            );
                        }
                        let bits = [over, acc, biased];
                        match &first {
                            None => first = Some(bits),
                            Some(one) => {
                                assert!(one == &bits, "{case}: not the bits of one thread")
                            }
                        }
                    }
                }
            }
        }
    }

    /// Released buffers come back empty and products after it still give the same values.
    #[test]
    fn released_buffers_are_empty_and_products_go_on() {
        let (m, k, n) = (40, 300, 48);
        let (a, b) = (values(m * k, 1), values(k * n, 2));
        let product = || {
            let mut c = vec![0.0; m * n];
            let bm = MatRef::row_major(&b, k, n);
            matmul_into(&mut c, Start::Zeros, MatRef::row_major(&a, m, k), bm);
            c
        };
        let before = product();
        assert!(
            crate::pack::buffer_len() > 0,
            "the product packed into this thread's buffer"
        );
        release_buffers();
        assert_eq!(crate::pack::buffer_len(), 0);
        assert_eq!(product(), before);
    }

    #[test]
    fn an_empty_inner_dimension_gives_zeros_leaves_the_sum_or_repeats_the_row() {
        let row = [1.5, -2.0];
        for (start, want) in [
            (Start::Dst, [3.0; 4]),
            (Start::Zeros, [0.0; 4]),
            (Start::Row(&row), [1.5, -2.0, 1.5, -2.0]),
        ] {
            let mut dst = vec![3.0; 4];
            let (a, b) = (MatRef::row_major(&[], 2, 0), MatRef::row_major(&[], 0, 2));
            matmul_into(&mut dst, start, a, b);
            assert_eq!(dst, want, "{start:?}");
        }
    }

    #[test]
    #[should_panic(expected = "the start row's length")]
    fn a_start_row_of_the_wrong_length_is_refused() {
        let (a, b) = ([1.0; 6], [1.0; 6]);
        let mut dst = [0.0; 4];
        let (am, bm) = (MatRef::row_major(&a, 2, 3), MatRef::row_major(&b, 3, 2));
        matmul_into(&mut dst, Start::Row(&[1.0; 3]), am, bm);
    }
}
