//! Where the heads lie in the tensors around the fused kernel: the rows of one (batch, head) read
//! in place, and the copies between a layout and the kernel's own `[B, H, S, W]` order.
//!
//! Multi-head attention projects queries, keys and values to `[B, S, H·W]`: each row holds every
//! head side by side. Splitting that into `[B, H, S, W]` with dfdx's reshape and permute, and
//! merging the output back, costs a strided element-by-element copy on one thread each way (and
//! again in the backward pass). The fused kernel instead reads a head's rows where they lie, a
//! row stride apart ([`Heads`], [`ProblemRows`]), as it copies or packs them anyway; what it
//! writes (the output, the gradients of `q`, `k` and `v`) it writes a head at a time, split, and
//! [`HeadRows::scatter`] puts in place.

use super::params::AttnDims;
use crate::kernels::cpu_op::for_each_maybe_parallel;

/// How the values of a tensor given to (or returned by) the fused kernel are ordered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HeadLayout {
    /// `[B, H, S, W]`, row-major: the kernel's own order.
    Split,
    /// `[B, S, H·W]`, row-major: the heads of one position side by side, as a projection
    /// produces them (PyTorch's `batch_first` multi-head layout).
    Merged,
}

/// The sizes of one tensor around the kernel: `batch · heads · seq` rows of `width` values.
#[derive(Clone, Copy, Debug)]
pub(crate) struct HeadRows {
    pub batch: usize,
    pub heads: usize,
    pub seq: usize,
    pub width: usize,
}

impl HeadRows {
    fn per_batch(&self) -> usize {
        self.heads * self.seq * self.width
    }

    /// The offset of row `(h, s)` of one batch element in `layout`.
    fn row(&self, layout: HeadLayout, h: usize, s: usize) -> usize {
        match layout {
            HeadLayout::Split => (h * self.seq + s) * self.width,
            HeadLayout::Merged => (s * self.heads + h) * self.width,
        }
    }

    /// The rows of `q`, `k`, `v` and the output of a call of `dims`.
    pub fn of(dims: &AttnDims) -> [HeadRows; 4] {
        let rows = |seq, width| HeadRows {
            batch: dims.batch,
            heads: dims.heads,
            seq,
            width,
        };
        [
            rows(dims.q_len, dims.head_dim),
            rows(dims.k_len, dims.head_dim),
            rows(dims.k_len, dims.value_dim),
            rows(dims.q_len, dims.value_dim),
        ]
    }

    /// Where the rows of problem `bh` (batch `bh / heads`, head `bh % heads`) start in `layout`,
    /// and the distance from one of its rows to the next.
    fn problem(&self, layout: HeadLayout, bh: usize) -> (usize, usize) {
        let (b, h) = (bh / self.heads, bh % self.heads);
        let start = b * self.per_batch() + self.row(layout, h, 0);
        match layout {
            HeadLayout::Split => (start, self.width),
            HeadLayout::Merged => (start, self.heads * self.width),
        }
    }

    /// Copies `src`, ordered as `layout`, into `dst` in the kernel's `[B, H, S, W]` order
    /// (the kernel reads its inputs in place; the tests compare with this copy).
    #[cfg(test)]
    pub fn gather(&self, layout: HeadLayout, src: &[f32], dst: &mut [f32]) {
        self.reorder(src, HeadLayout::Split, dst, layout, |d, s| *d = s);
    }

    /// Copies `src`, in the kernel's `[B, H, S, W]` order, into `dst` ordered as `layout`.
    pub fn scatter(&self, layout: HeadLayout, src: &[f32], dst: &mut [f32]) {
        self.reorder(src, layout, dst, HeadLayout::Split, |d, s| *d = s);
    }

    /// Adds `src`, in the kernel's `[B, H, S, W]` order, into `dst` ordered as `layout`.
    pub fn scatter_add(&self, layout: HeadLayout, src: &[f32], dst: &mut [f32]) {
        self.reorder(src, layout, dst, HeadLayout::Split, |d, s| *d += s);
    }

    /// For every row: `f(dst row in dst_layout, src row in src_layout)`, element by element,
    /// in parallel over the batch when there is enough work.
    fn reorder(
        &self,
        src: &[f32],
        dst_layout: HeadLayout,
        dst: &mut [f32],
        src_layout: HeadLayout,
        f: impl Fn(&mut f32, f32) + Sync + Send,
    ) {
        let n = self.per_batch();
        assert_eq!(src.len(), self.batch * n, "head_layout: source size");
        assert_eq!(dst.len(), self.batch * n, "head_layout: destination size");
        if n == 0 {
            return;
        }
        let w = self.width;
        let items = rayon::iter::IndexedParallelIterator::zip(
            rayon::slice::ParallelSliceMut::par_chunks_mut(dst, n),
            rayon::slice::ParallelSlice::par_chunks(src, n),
        );
        for_each_maybe_parallel(self.batch * n, items, |_, (dst, src)| {
            for h in 0..self.heads {
                for s in 0..self.seq {
                    let d = &mut dst[self.row(dst_layout, h, s)..][..w];
                    let x = &src[self.row(src_layout, h, s)..][..w];
                    for (d, &x) in d.iter_mut().zip(x) {
                        f(d, x);
                    }
                }
            }
        });
    }
}

/// A tensor around the kernel read in place: its values, laid out as `layout`, and their sizes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Heads<'a> {
    pub values: &'a [f32],
    pub layout: HeadLayout,
    pub rows: HeadRows,
}

impl<'a> Heads<'a> {
    /// Each of `tensors` (values and sizes) laid out as `layout`.
    pub fn all<const N: usize>(
        layout: HeadLayout,
        tensors: [(&'a [f32], HeadRows); N],
    ) -> [Self; N] {
        tensors.map(|(values, rows)| Heads {
            values,
            layout,
            rows,
        })
    }

    /// The rows of problem `bh` (batch `bh / heads`, head `bh % heads`).
    pub fn problem(&self, bh: usize) -> ProblemRows<'a> {
        let (start, stride) = self.rows.problem(self.layout, bh);
        let w = self.rows.width;
        let span = if self.rows.seq == 0 {
            0
        } else {
            (self.rows.seq - 1) * stride + w
        };
        ProblemRows {
            values: &self.values[start..][..span],
            stride,
            width: w,
        }
    }
}

/// The `seq` rows of one (batch, head), `width` values each, `stride` values apart: row `i`
/// is `values[i · stride..][..width]`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ProblemRows<'a> {
    pub values: &'a [f32],
    pub stride: usize,
    pub width: usize,
}

impl<'a> ProblemRows<'a> {
    /// Row `i`.
    #[inline(always)]
    pub fn row(&self, i: usize) -> &'a [f32] {
        &self.values[i * self.stride..][..self.width]
    }

    /// The values from row `i` on (the last row ends the slice), read `stride` apart.
    #[inline(always)]
    pub fn rows_from(&self, i: usize) -> &'a [f32] {
        &self.values[i * self.stride..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROWS: HeadRows = HeadRows {
        batch: 2,
        heads: 3,
        seq: 4,
        width: 5,
    };

    /// The value at `[b, s, h, w]` of a merged tensor: its own coordinates, so a misplaced row
    /// shows.
    fn merged() -> Vec<f32> {
        let mut v = Vec::new();
        for b in 0..ROWS.batch {
            for s in 0..ROWS.seq {
                for h in 0..ROWS.heads {
                    for w in 0..ROWS.width {
                        v.push((b * 1000 + s * 100 + h * 10 + w) as f32);
                    }
                }
            }
        }
        v
    }

    #[test]
    fn merged_rows_split_into_heads_like_a_reshape_and_permute() {
        let mut split = vec![0.0; merged().len()];
        ROWS.gather(HeadLayout::Merged, &merged(), &mut split);
        let mut i = 0;
        for b in 0..ROWS.batch {
            for h in 0..ROWS.heads {
                for s in 0..ROWS.seq {
                    for w in 0..ROWS.width {
                        assert_eq!(split[i], (b * 1000 + s * 100 + h * 10 + w) as f32);
                        i += 1;
                    }
                }
            }
        }
        let mut back = vec![0.0; split.len()];
        ROWS.scatter(HeadLayout::Merged, &split, &mut back);
        assert_eq!(back, merged());
        ROWS.scatter_add(HeadLayout::Merged, &split, &mut back);
        let doubled: Vec<f32> = merged().iter().map(|x| 2.0 * x).collect();
        assert_eq!(back, doubled);
    }

    /// Each (batch, head)'s rows read in place, in either layout, are the rows the gather
    /// copies out.
    #[test]
    fn a_problems_rows_read_in_place_are_the_gathered_rows() {
        let mut split = vec![0.0; merged().len()];
        ROWS.gather(HeadLayout::Merged, &merged(), &mut split);
        let merged = merged();
        for (layout, values) in [(HeadLayout::Merged, &merged), (HeadLayout::Split, &split)] {
            let heads = Heads {
                values,
                layout,
                rows: ROWS,
            };
            for bh in 0..ROWS.batch * ROWS.heads {
                let rows = heads.problem(bh);
                for s in 0..ROWS.seq {
                    let want = &split[(bh * ROWS.seq + s) * ROWS.width..][..ROWS.width];
                    assert_eq!(rows.row(s), want, "{layout:?} problem {bh} row {s}");
                    assert_eq!(&rows.rows_from(s)[..ROWS.width], want);
                }
            }
        }
    }

    #[test]
    fn the_split_layout_is_copied_as_it_is() {
        let src = merged();
        let mut dst = vec![1.0; src.len()];
        ROWS.gather(HeadLayout::Split, &src, &mut dst);
        assert_eq!(dst, src);
        ROWS.scatter_add(HeadLayout::Split, &src, &mut dst);
        assert_eq!(dst, src.iter().map(|x| 2.0 * x).collect::<Vec<_>>());
    }
}
