//! Embedding lookup for `f32` on the `Cpu` as one op: each id's row of the table copied into the
//! output, rows in parallel; backward, each output row's gradient added into its id's row of the
//! table's gradient, in bands of columns in parallel.
//!
//! dfdx's `Embedding` gathers value by value through its generic gather kernel, unravelling
//! every index on one thread, forward and backward: 3% of the 2-layer encoder's training step on
//! the model-167 Xeon (docs/PERFORMANCE.md), where a row copy does the same work in a few
//! microseconds.

use dfdx::nn::modules::Embedding;
use dfdx::prelude::*;
use rayon::prelude::*;

use crate::error::{AttnError, DeviceResultExt};
use crate::kernels::cpu_op::{for_each_maybe_parallel, is_cpu_f32, Input};
use crate::kernels::op::{apply, CpuOp, InputGrads, Operand};

/// Rows of the table picked by id as a [`CpuOp`]; its one input is the table `[V, M]`.
struct Lookup {
    /// One id per output row, each below the table's height (checked).
    ids: Vec<usize>,
    /// The table's width `M`.
    width: usize,
}

impl CpuOp<1> for Lookup {
    type Saved = ();

    fn forward(&self, _: &Cpu, [table]: [Input; 1], out: &mut [f32]) -> Result<(), AttnError> {
        let (m, table): (usize, &[f32]) = (self.width, &table);
        for_each_maybe_parallel(
            out.len(),
            out.par_chunks_mut(m).zip(self.ids.par_iter()),
            |_, (row, &id)| row.copy_from_slice(&table[id * m..(id + 1) * m]),
        );
        Ok(())
    }

    fn backward(
        self,
        _: &Cpu,
        (): (),
        _: &[f32],
        dy: &[f32],
        grads: &mut dyn InputGrads,
    ) -> Result<(), CpuError> {
        let m = self.width;
        let dtable = grads
            .input(0)?
            .expect("an embedding table is a tensor with a gradient");
        // bands of columns in parallel, each over the rows in order: a repeated id's gradients
        // add up in the same order on any number of threads
        let band = m
            .div_ceil(rayon::current_num_threads())
            .next_multiple_of(16)
            .min(m);
        let ids = &self.ids;
        for_each_maybe_parallel(dy.len(), (0..m.div_ceil(band)).into_par_iter(), |_, b| {
            let (c0, c1) = (b * band, ((b + 1) * band).min(m));
            let dtable = dtable.as_ptr() as usize;
            for (&id, dy) in ids.iter().zip(dy.chunks_exact(m)) {
                // SAFETY: the bands cut the columns `0..m` apart, so no two tasks touch the
                // same value; `id` is below the table's height and `c1 ≤ m`, so the
                // `c1 - c0` values from `id · m + c0` lie inside `dtable`, which outlives
                // the parallel loop.
                let row = unsafe {
                    std::slice::from_raw_parts_mut((dtable as *mut f32).add(id * m + c0), c1 - c0)
                };
                for (g, d) in row.iter_mut().zip(&dy[c0..c1]) {
                    *g += d;
                }
            }
        });
        Ok(())
    }
}

/// Every id must index the embedding table.
///
/// # Errors
/// [`AttnError::InvalidInput`] naming the first id at `vocab` or above and its position.
pub(crate) fn check_token_ids(ids: &[usize], vocab: usize) -> Result<(), AttnError> {
    match ids.iter().enumerate().find(|(_, &id)| id >= vocab) {
        None => Ok(()),
        Some((i, &id)) => Err(AttnError::InvalidInput {
            reason: format!("token id {id} at position {i} is outside the vocabulary of {vocab}"),
            fix: format!(
                "map tokens to ids below {vocab} (use UNK for unknown ones) or declare a larger \
                 vocab"
            ),
        }),
    }
}

/// The shapes of ids an embedding takes, and the shape it makes of them: one more axis, the
/// table's width.
pub(crate) trait IdShape: Shape {
    /// `Self` with `M` appended.
    type Embedded<const M: usize>: Shape;

    /// This shape with `M` appended.
    fn embedded<const M: usize>(&self) -> Self::Embedded<M>;
}

impl<S: Dim> IdShape for (S,) {
    type Embedded<const M: usize> = (S, Const<M>);

    fn embedded<const M: usize>(&self) -> (S, Const<M>) {
        (self.0, Const)
    }
}

impl<B: Dim, S: Dim> IdShape for (B, S) {
    type Embedded<const M: usize> = (B, S, Const<M>);

    fn embedded<const M: usize>(&self) -> (B, S, Const<M>) {
        (self.0, self.1, Const)
    }
}

/// `embedding`'s rows for `ids`, with dfdx autograd: attn's kernel for `f32` on the `Cpu`,
/// dfdx's `Embedding` module on other dtypes and devices.
///
/// # Shapes
/// `ids: [S]` or `[B, S]`, table `[V, M]` → `[S, M]` or `[B, S, M]`.
///
/// **PyTorch equivalent**: `nn.Embedding(V, M)(ids)` (`F.embedding(ids, weight)`).
///
/// # Errors
/// [`AttnError::InvalidInput`] for an id outside the table (`V` or above), naming it and its
/// position; [`AttnError::Device`] when an allocation fails.
pub(crate) fn try_embed<const V: usize, const M: usize, S, E, D, T>(
    embedding: &Embedding<V, M, E, D>,
    ids: Tensor<S, usize, D, T>,
) -> Result<Tensor<S::Embedded<M>, E, D, T>, AttnError>
where
    S: IdShape,
    E: Dtype,
    D: Device<E>,
    T: Tape<E, D> + 'static,
    Embedding<V, M, E, D>:
        Module<Tensor<S, usize, D, T>, Output = Tensor<S::Embedded<M>, E, D, T>, Error = D::Err>,
{
    const NAME: &str = "the embedding lookup";
    let values = ids.as_vec();
    check_token_ids(&values, V)?;
    if !is_cpu_f32::<E, D>() {
        return embedding.try_forward(ids).dev();
    }
    let out_shape = ids.shape().embedded::<M>();
    let (ids, tape) = ids.split_tape();
    let dev = ids.device().clone();
    let rows = values.len();
    let table = Operand::of(&embedding.weight, NAME)?;
    let lookup = Lookup {
        ids: values,
        width: M,
    };
    apply(lookup, NAME, &dev, [table], tape, (rows, M))?
        .try_reshape_like(&out_shape)
        .dev()
}

#[cfg(test)]
mod tests {
    use dfdx::nn::builders::Embedding;
    use dfdx::prelude::*;

    use super::try_embed;
    use crate::error::AttnError;

    type Table = dfdx::nn::modules::Embedding<11, 40, f32, Cpu>;

    /// Output and the gradients of the table and of a second use of it, through the kernel
    /// or dfdx's module, for `Σ y ∘ up`: ids repeat, so a row's gradients add up.
    fn run(table: &Table, ids: &[usize], b: usize, kernel: bool) -> [Vec<f32>; 2] {
        let dev = table.weight.device().clone();
        let s = ids.len() / b;
        let ids = dev.tensor_from_vec(ids.to_vec(), (b, s));
        let up: Tensor<(usize, usize, Const<40>), f32, _> = dev.tensor_from_vec(
            (0..b * s * 40).map(|i| (i as f32 * 0.37).sin()).collect(),
            (b, s, Const),
        );
        let ids = ids.leaky_trace();
        let y = if kernel {
            try_embed(table, ids).unwrap()
        } else {
            table.try_forward(ids).unwrap()
        };
        let values = y.retaped::<NoneTape>().as_vec();
        let grads = (y * up).sum().backward();
        [values, grads.get(&table.weight).as_vec()]
    }

    #[test]
    fn the_lookup_matches_dfdx_embedding_with_gradients_on_repeated_ids() {
        let dev = Cpu::seed_from_u64(3);
        let table = dev.build_module::<Embedding<11, 40>, f32>();
        // gradients of the table go into a zeroed buffer, outputs into unzeroed ones: NaN left
        // in either shows
        crate::kernels::op::fill_cache_with_nan(&dev, &[440, 40 * 12, 40 * 4096], 4);
        // a small batch, and one past the parallel threshold (4096 rows of 40 values)
        for (b, len) in [(3, 12), (64, 4096)] {
            let ids: Vec<usize> = (0..len).map(|i| (i * 7 + i / 5) % 11).collect();
            let got = run(&table, &ids, b, true);
            let want = run(&table, &ids, b, false);
            assert_eq!(got[0], want[0], "{len} rows: values");
            for (i, (g, w)) in got[1].iter().zip(&want[1]).enumerate() {
                assert!(
                    (g - w).abs() <= 1e-4 * (1.0 + w.abs()),
                    "{len} rows: table gradient [{i}]: {g} vs {w}"
                );
            }
        }
    }

    #[test]
    fn a_single_sequence_of_ids_embeds_to_rows() {
        let dev = Cpu::seed_from_u64(5);
        let table = dev.build_module::<Embedding<11, 40>, f32>();
        let ids = dev.tensor([4usize, 0, 10]);
        let y: Tensor<(Const<3>, Const<40>), f32, _> = try_embed(&table, ids.clone()).unwrap();
        assert_eq!(y.as_vec(), table.try_forward(ids).unwrap().as_vec());
    }

    #[test]
    fn an_id_outside_the_table_is_refused_with_its_position() {
        let dev = Cpu::default();
        let table = dev.build_module::<Embedding<11, 40>, f32>();
        let ids = dev.tensor([[1usize, 11]]);
        let err = try_embed(&table, ids).unwrap_err();
        assert!(matches!(err, AttnError::InvalidInput { .. }), "{err}");
    }
}
