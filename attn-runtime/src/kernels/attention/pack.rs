//! The layout the attention tiles read keys (and, in the backward pass, values) in: each block
//! of [`BLOCK_K`] rows transposed, so that one step of a tile's product reads the block's
//! `BLOCK_K` values of one column contiguously.

use super::head_layout::ProblemRows;
use super::kernel::BLOCK_K;
use crate::kernels::tuning::Isa;

/// Values of `rows` rows `width` wide once packed: whole blocks of [`BLOCK_K`] rows.
pub(super) fn packed_len(rows: usize, width: usize) -> usize {
    rows.div_ceil(BLOCK_K) * BLOCK_K * width
}

/// `dst[t][d][jj] = src[t·BLOCK_K + jj][d]`: the first `rows` rows of `src` (read in place,
/// `src.stride` apart) transposed block by block, the last block zero-padded to [`BLOCK_K`] rows, into `dst`
/// ([`packed_len`] values, whatever they held before). Eight rows by eight columns at a time
/// with AVX shuffles where `isa` has AVX2 and the CPU too, else value by value: the same values
/// either way.
///
/// **PyTorch equivalent**: none public; the layout of the key panels of its flash-attention
/// CPU kernel's packed products.
pub(super) fn pack_transposed(isa: Isa, src: ProblemRows<'_>, rows: usize, dst: &mut [f32]) {
    let (width, stride) = (src.width, src.stride);
    assert!(rows == 0 || src.values.len() >= (rows - 1) * stride + width);
    assert!(dst.len() >= packed_len(rows, width));
    for (t, block) in dst[..packed_len(rows, width)]
        .chunks_mut(BLOCK_K * width)
        .enumerate()
    {
        let j0 = t * BLOCK_K;
        let n = BLOCK_K.min(rows - j0);
        let src = &src.rows_from(j0)[..(n - 1) * stride + width];
        if n < BLOCK_K {
            for column in block.chunks_exact_mut(BLOCK_K) {
                column[n..].fill(0.0);
            }
        }
        #[cfg(target_arch = "x86_64")]
        if isa != Isa::Portable && crate::kernels::simd::has_avx2_fma() {
            // SAFETY: the CPU has AVX (checked above); `src` holds `n` rows of `width` values
            // `stride` apart and `block` `width` columns of `BLOCK_K` values (asserted and
            // sliced above).
            unsafe { transpose_block_avx(src, n, width, stride, block) };
            continue;
        }
        let _ = isa;
        transpose_block(src, 0..n, 0..width, stride, block);
    }
}

/// `block[d · BLOCK_K + jj] = src[jj · stride + d]` for the rows `jj` and columns `d` given.
fn transpose_block(
    src: &[f32],
    rows: std::ops::Range<usize>,
    columns: std::ops::Range<usize>,
    stride: usize,
    block: &mut [f32],
) {
    for jj in rows {
        for d in columns.clone() {
            block[d * BLOCK_K + jj] = src[jj * stride + d];
        }
    }
}

/// [`transpose_block`] of all `n` rows and `width` columns: whole squares of eight rows by
/// eight columns through AVX registers ([`attn_gemm::transpose8`]), the rest value by value.
///
/// # Safety
/// The CPU has AVX; `n ≥ 1`, `src.len() ≥ (n − 1) · stride + width`, `width ≤ stride`,
/// `block.len() ≥ width · BLOCK_K`, `n ≤ BLOCK_K`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
unsafe fn transpose_block_avx(
    src: &[f32],
    n: usize,
    width: usize,
    stride: usize,
    block: &mut [f32],
) {
    let (rows8, cols8) = (n / 8 * 8, width / 8 * 8);
    for jj in (0..rows8).step_by(8) {
        for d in (0..cols8).step_by(8) {
            // SAFETY: rows jj..jj + 8 ≤ n and columns d..d + 8 ≤ width of `src`; columns
            // d..d + 8 of `block` at rows jj..jj + 8 ≤ BLOCK_K (the caller's bounds).
            attn_gemm::transpose8(
                src.as_ptr().add(jj * stride + d),
                stride,
                block.as_mut_ptr().add(d * BLOCK_K + jj),
                BLOCK_K,
            );
        }
    }
    transpose_block(src, 0..rows8, cols8..width, stride, block);
    transpose_block(src, rows8..n, 0..width, stride, block);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every instruction set this CPU has packs the same values as the definition, at row
    /// counts with and without a partial last block and widths with and without a remainder
    /// past the eight-column squares, from rows side by side and from rows with other values
    /// between them (a head of merged rows), over a buffer that held other values (NaN).
    #[test]
    fn packing_transposes_each_block_and_zero_pads_the_last() {
        for isa in Isa::ALL.into_iter().filter(|isa| isa.available()) {
            for (rows, width) in [
                (1, 1),
                (8, 8),
                (64, 32),
                (70, 32),
                (130, 13),
                (5, 40),
                (200, 64),
            ] {
                for stride in [width, 3 * width + 5] {
                    let n = (rows - 1) * stride + width;
                    let src: Vec<f32> = (0..n).map(|i| i as f32 + 0.5).collect();
                    let rows_in = ProblemRows {
                        values: &src,
                        stride,
                        width,
                    };
                    let mut dst = vec![f32::NAN; packed_len(rows, width)];
                    pack_transposed(isa, rows_in, rows, &mut dst);
                    for (i, &x) in dst.iter().enumerate() {
                        let (t, d, jj) = (i / (BLOCK_K * width), i / BLOCK_K % width, i % BLOCK_K);
                        let j = t * BLOCK_K + jj;
                        let want = if j < rows { src[j * stride + d] } else { 0.0 };
                        assert_eq!(
                            x.to_bits(),
                            want.to_bits(),
                            "{isa:?} {rows}x{width} stride {stride} at {i}"
                        );
                    }
                }
            }
        }
    }
}
