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

    /// For a product that can only write over `dst` or add to it (the gemm crate's, or one
    /// with an empty inner dimension): puts the start into `dst` (`n` values a row) where the
    /// product is to add to it, and says whether it is. [`Start::Dst`]: already there, `true`;
    /// [`Start::Row`]: the row copied into every row, `true`; [`Start::Zeros`]: `dst` left as
    /// it is, `false` (the product writes over it).
    pub(crate) fn prefill(self, dst: &mut [f32], n: usize) -> bool {
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
