//! What a product's sums are added to.

/// The values `dst` starts from before [`crate::matmul_into`] adds `a · b` to them: zeros
/// (written over), `dst`'s own values (accumulated), or one row repeated down every row of
/// `dst` (a bias, which the register tiles add as they store, so no pass copies it into `dst`
/// first).
///
/// # Shapes
/// `Start::Row(row)`: `row: [N]` for a `dst: [M, N]`.
///
/// **PyTorch equivalent**: `torch.mm(a, b, out=dst)` ([`Start::Zeros`]), `dst.addmm_(a, b)`
/// ([`Start::Dst`]), `torch.addmm(row, a, b, out=dst)` ([`Start::Row`]).
#[derive(Clone, Copy, Debug)]
pub enum Start<'a> {
    /// `dst = a · b`.
    Zeros,
    /// `dst += a · b`.
    Dst,
    /// `dst[i, j] = row[j] + (a · b)[i, j]`.
    Row(&'a [f32]),
}

impl Start<'_> {
    /// [`Start::Dst`] when `accumulate`, else [`Start::Zeros`].
    pub fn accumulating(accumulate: bool) -> Self {
        if accumulate {
            Start::Dst
        } else {
            Start::Zeros
        }
    }

    /// Sets `dst` (`n` values a row) to the values this start names, where a product with an
    /// empty inner dimension or one on the gemm crate needs them in `dst`: zeros, nothing to
    /// do, or the row in every row. Returns whether `dst` now holds the start (so a product
    /// should accumulate onto it).
    pub(crate) fn fill(self, dst: &mut [f32], n: usize) -> bool {
        match self {
            Start::Zeros => false,
            Start::Dst => true,
            Start::Row(row) => {
                for out in dst.chunks_exact_mut(n) {
                    out.copy_from_slice(row);
                }
                true
            }
        }
    }
}
