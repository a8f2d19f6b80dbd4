//! A read-only strided view of a matrix in a slice.

/// A read-only view of a matrix in a slice: element `(r, c)` at `r · row_stride + c ·
/// col_stride`, so a transpose is a view, not a copy.
///
/// **PyTorch equivalent**: a 2-d tensor and its `.t()` view.
#[derive(Clone, Copy, Debug)]
pub struct MatRef<'a> {
    pub(crate) data: &'a [f32],
    pub(crate) rows: usize,
    pub(crate) cols: usize,
    pub(crate) row_stride: usize,
    pub(crate) col_stride: usize,
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

    /// A `rows × cols` matrix whose element `(r, c)` is `data[r · row_stride + c ·
    /// col_stride]` (a stride of 0 repeats a row or column, as a broadcast does).
    ///
    /// # Panics
    /// When `data` holds fewer than [`MatRef::extent`] values.
    pub fn strided(
        data: &'a [f32],
        rows: usize,
        cols: usize,
        row_stride: usize,
        col_stride: usize,
    ) -> Self {
        let need = Self::extent(rows, cols, row_stride, col_stride);
        assert!(
            data.len() >= need,
            "MatRef: {} values for a {rows}×{cols} matrix at strides ({row_stride}, \
             {col_stride}), which reaches {need}",
            data.len()
        );
        MatRef {
            data,
            rows,
            cols,
            row_stride,
            col_stride,
        }
    }

    /// How many values a `rows × cols` matrix at these strides reaches into its slice: one past
    /// its last element (0 for an empty matrix).
    pub fn extent(rows: usize, cols: usize, row_stride: usize, col_stride: usize) -> usize {
        if rows == 0 || cols == 0 {
            0
        } else {
            (rows - 1) * row_stride + (cols - 1) * col_stride + 1
        }
    }

    /// Rows `first..first + count` of this view, as a view.
    pub(crate) fn rows_from(self, first: usize, count: usize) -> Self {
        MatRef {
            data: &self.data[first * self.row_stride..],
            rows: count,
            ..self
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
