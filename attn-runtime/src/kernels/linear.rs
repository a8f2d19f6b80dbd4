//! `y = x · Wᵀ + b` for `f32` on the `Cpu` as one dfdx op: the bias is the product's starting
//! row, which the register tiles add as they store their sums (no pass over the output), and
//! the backward pass is three products and a column sum straight into the gradient buffers.
//!
//! dfdx's composite form (matmul, then a broadcast add) spends a second pass over the output on
//! one thread, index by index, forward, and a broadcast sum backward; in multi-head attention and
//! feed-forward layers that pass cost as much as the product.

use dfdx::prelude::*;
use rayon::prelude::*;

use crate::error::AttnError;

use crate::kernels::cpu_op::{for_each_maybe_parallel, Dyn2, Input};
use crate::kernels::op::{apply, split_operand, CpuOp, InputGrads, Operand};
use crate::kernels::simd::{simd_dispatch, Arith};
use crate::kernels::tuning::{Isa, KernelConfig};
use attn_gemm::{matmul_into, MatRef, Start};

/// `x · Wᵀ + b` as a [`CpuOp`]; inputs `x: [rows, i]`, `weight: [o, i]` and `bias: [o]` (empty
/// when absent).
struct Linear {
    rows: usize,
    i: usize,
    o: usize,
}

impl CpuOp<3> for Linear {
    /// `x` and `weight`, which the gradients of each other need, and the instruction set of
    /// the bias gradient's sums.
    type Saved = (Input, Input, Isa);

    fn forward(
        &self,
        _: &Cpu,
        [xs, ws, bs]: [Input; 3],
        out: &mut [f32],
    ) -> Result<Self::Saved, AttnError> {
        let Linear { rows, i, o } = *self;
        let isa = KernelConfig::current()?.isa();
        // the tiles add the bias row as they store their sums: no pass copies it into `out`
        let start = if bs.is_empty() {
            Start::Zeros
        } else {
            Start::Row(&bs)
        };
        matmul_into(
            out,
            start,
            MatRef::row_major(&xs, rows, i),
            MatRef::row_major(&ws, o, i).t(),
        );
        Ok((xs, ws, isa))
    }

    fn backward(
        self,
        _: &Cpu,
        (xs, ws, isa): Self::Saved,
        _: &[f32],
        dy: &[f32],
        grads: &mut dyn InputGrads,
    ) -> Result<(), CpuError> {
        let Linear { rows, i, o } = self;
        let dy_mat = MatRef::row_major(dy, rows, o);
        // dx += dy · W, dW += dyᵀ · x (each written instead where it is the first gradient),
        // db += Σ_rows dy
        let mut dx = grads.input_whole(0)?.expect(HAS_GRADIENT);
        let start = Start::accumulating(dx.adds());
        matmul_into(dx.values(), start, dy_mat, MatRef::row_major(&ws, o, i));
        let mut dw = grads.input_whole(1)?.expect(HAS_GRADIENT);
        let start = Start::accumulating(dw.adds());
        matmul_into(
            dw.values(),
            start,
            dy_mat.t(),
            MatRef::row_major(&xs, rows, i),
        );
        if let Some(db) = grads.input(2)? {
            // bands of columns in parallel, each summed over the rows in order: the same sums
            // on any number of threads
            let band = o
                .div_ceil(rayon::current_num_threads())
                .next_multiple_of(16);
            for_each_maybe_parallel(rows * o, db.par_chunks_mut(band), |b, db| {
                dispatch_add_column_sums(isa, dy, o, b * band, db);
            });
        }
        Ok(())
    }
}

/// Rows of `dy` per pass of [`add_column_sums`] over its columns: the band's sums and the rows'
/// values of a block of columns stay in the level-1 cache.
const SUM_ROWS: usize = 32;

/// `db[j] += Σ_r dy[r, first + j]` for the columns of `db`, `dy` being `[rows, o]` row-major;
/// each column summed over the rows in order, starting from `db[j]`, as a running sum would
/// (the same bits), but the sums of 64 (then 16) columns at a time held in registers over
/// [`SUM_ROWS`] rows instead of loaded and stored at every row.
///
/// # Shapes
/// `dy: [rows, o]`, `db: [w]` with `first + w ≤ o`.
///
/// **PyTorch equivalent**: `db += dy[:, first:first + w].sum(0)` (with the sum taken in row
/// order).
#[inline(always)]
fn add_column_sums<A: Arith>(dy: &[f32], o: usize, first: usize, db: &mut [f32]) {
    for rows in dy.chunks(SUM_ROWS * o) {
        let mut j = 0;
        while j + 64 <= db.len() {
            add_block_sums::<64>(rows, o, first + j, &mut db[j..j + 64]);
            j += 64;
        }
        while j + 16 <= db.len() {
            add_block_sums::<16>(rows, o, first + j, &mut db[j..j + 16]);
            j += 16;
        }
        for (g, col) in db[j..].iter_mut().zip(first + j..) {
            for row in rows.chunks_exact(o) {
                *g += row[col];
            }
        }
    }
}

/// [`add_column_sums`] for `W` columns from `col` on, `db` `W` long.
#[inline(always)]
fn add_block_sums<const W: usize>(rows: &[f32], o: usize, col: usize, db: &mut [f32]) {
    let mut sums: [f32; W] = std::array::from_fn(|x| db[x]);
    for row in rows.chunks_exact(o) {
        let values = &row[col..][..W];
        for x in 0..W {
            sums[x] += values[x];
        }
    }
    db.copy_from_slice(&sums);
}

simd_dispatch!(
    /// [`add_column_sums`] compiled for the instruction set asked for.
    fn dispatch_add_column_sums => add_column_sums(dy: &[f32], o: usize, first: usize, db: &mut [f32])
);

/// Why `x` and the weight have gradient buffers.
const HAS_GRADIENT: &str = "the projection's input and weight are tensors with gradients";

/// `x · Wᵀ + b` with dfdx autograd, for `f32` tensors on the `Cpu`.
///
/// Gradients are added into those of `x`, `weight` and `bias` (a dense `[O, I]` weight and `[O]`
/// bias, as modules build and load them).
///
/// # Shapes
/// `x: [N, I]`, `weight: [O, I]`, `bias: [O]` → `[N, O]`.
///
/// **PyTorch equivalent**: `F.linear(x, weight, bias)` (its `addmm`).
///
/// # Errors
/// [`AttnError::Device`] when the tensors are not `f32` on the `Cpu`, or an allocation fails.
pub(crate) fn try_linear<E, D, T>(
    x: Tensor<Dyn2, E, D, T>,
    weight: &Tensor<Dyn2, E, D>,
    bias: Option<&Tensor<(usize,), E, D>>,
) -> Result<Tensor<Dyn2, E, D, T>, AttnError>
where
    E: Dtype,
    D: Device<E>,
    T: Tape<E, D> + 'static,
{
    const NAME: &str = "the fused projection";
    let (o, i) = *weight.shape();
    debug_assert_eq!(x.shape().1, i, "the input's width is the weight's");
    let rows = x.shape().0;
    let dev = x.device().clone();
    let (x, tape) = split_operand(x, NAME)?;
    let bias = match bias {
        Some(b) => Operand::of(b, NAME)?,
        None => Operand::absent(&dev, NAME)?,
    };
    let inputs = [x, Operand::of(weight, NAME)?, bias];
    apply(Linear { rows, i, o }, NAME, &dev, inputs, tape, (rows, o))
}

#[cfg(test)]
mod tests {
    use dfdx::prelude::*;

    use crate::attention::{Projection, ProjectionBuilder};

    type P<const BIAS: bool> = Projection<5, 3, f32, Cpu, BIAS>;

    fn close(what: &str, a: &[f32], b: &[f32]) {
        assert_eq!(a.len(), b.len(), "{what}");
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            assert!(
                (x - y).abs() <= 1e-5 * (1.0 + y.abs()),
                "{what}[{i}]: {x} vs {y}"
            );
        }
    }

    /// Output and the gradients of x, weight and bias of `Σ y ∘ up`, through the fused op or
    /// dfdx's composite matmul + broadcast add; with `twice`, x is used twice so gradients must
    /// add up, without, the op writes x's first gradient (as it writes the weight's).
    fn run<const BIAS: bool>(
        p: &P<BIAS>,
        x: &Tensor<Rank2<7, 5>, f32, Cpu>,
        fused: bool,
        twice: bool,
    ) -> Vec<Vec<f32>>
    where
        P<BIAS>: TensorCollection<f32, Cpu>,
    {
        let dev = x.device().clone();
        let up: Tensor<Rank2<7, 3>, f32, _> = dev.tensor_from_vec(
            (0..21).map(|i| (i as f32 * 0.37).sin()).collect(),
            Rank2::<7, 3>::default(),
        );
        let xt = x.leaky_trace();
        let y = if fused {
            p.try_forward_2d(xt.with_empty_tape()).unwrap()
        } else {
            p.try_forward_2d_composite(xt.with_empty_tape()).unwrap()
        };
        let values = y.retaped::<NoneTape>().as_vec();
        let loss = if twice {
            (values, (y * up).sum() + xt.square().sum())
        } else {
            (values, (y * up).sum())
        };
        let grads = loss.1.backward();
        let mut out = vec![loss.0, grads.get(x).as_vec(), grads.get(&p.weight).as_vec()];
        if let Some(b) = &p.bias {
            out.push(grads.get(b).as_vec());
        }
        out
    }

    fn check<const BIAS: bool>()
    where
        P<BIAS>: TensorCollection<f32, Cpu>,
        ProjectionBuilder<5, 3, BIAS>: BuildOnDevice<Cpu, f32, Built = P<BIAS>>,
    {
        let dev = Cpu::seed_from_u64(4);
        let mut p = dev.build_module::<ProjectionBuilder<5, 3, BIAS>, f32>();
        if let Some(b) = &mut p.bias {
            *b = dev.tensor([0.5, -1.0, 2.0]);
        }
        let x: Tensor<Rank2<7, 5>, f32, _> = dev.sample_normal();
        // recycled buffers of NaN the size of x, the weight, the output and the bias: a
        // gradient the op writes but leaves a value of shows
        crate::kernels::op::fill_cache_with_nan(&dev, &[35, 15, 21, 3], 8);
        for twice in [true, false] {
            let fused = run(&p, &x, true, twice);
            let composite = run(&p, &x, false, twice);
            for (i, (a, b)) in fused.iter().zip(&composite).enumerate() {
                close(&format!("output {i} (x used twice: {twice})"), a, b);
            }
            assert_eq!(fused.len(), if BIAS { 4 } else { 3 });
        }
    }

    #[test]
    fn the_fused_projection_matches_matmul_plus_bias_with_gradients() {
        check::<true>();
        check::<false>();
    }

    /// Large enough that the bias gradient is summed in parallel bands of columns.
    #[test]
    fn a_wide_bias_gradient_summed_in_bands_matches_the_composite() {
        let dev = Cpu::seed_from_u64(9);
        let p = dev.build_module::<ProjectionBuilder<16, 40, true>, f32>();
        let x: Tensor<(usize, Const<16>), f32, _> = dev.sample_normal_like(&(1000, Const));
        let up: Tensor<(usize, Const<40>), f32, _> = dev.sample_normal_like(&(1000, Const));
        let bias_grad = |fused: bool| {
            let xt = x.leaky_trace();
            let y = if fused {
                p.try_forward_2d(xt).unwrap()
            } else {
                p.try_forward_2d_composite(xt).unwrap()
            };
            let grads = (y * up.clone()).sum().backward();
            grads.get(p.bias.as_ref().unwrap()).as_vec()
        };
        close("bias gradient", &bias_grad(true), &bias_grad(false));
    }

    /// The blocked column sums give a running sum's bits, row by row from the gradient's
    /// value, on every instruction set: widths through the 64- and 16-column blocks and the
    /// single columns, from an offset, over more rows than one pass takes, into a gradient
    /// that already holds values.
    #[test]
    fn the_bias_gradient_sums_each_column_in_row_order_on_every_instruction_set() {
        use super::{dispatch_add_column_sums, SUM_ROWS};
        use crate::kernels::tuning::Isa;
        let (rows, o, first, w) = (2 * SUM_ROWS + 11, 150, 3, 64 + 2 * 16 + 7);
        // magnitudes from 2^-12 to 2^12, so another order of additions rounds differently
        let dy: Vec<f32> = (0..rows * o)
            .map(|i| ((i * 7919 % 211) as f32 - 105.0) * 2f32.powi((i % 25) as i32 - 12))
            .collect();
        let start: Vec<f32> = (0..w).map(|j| j as f32 * 0.37 - 3.0).collect();
        let mut want = start.clone();
        for row in dy.chunks_exact(o) {
            for (g, d) in want.iter_mut().zip(&row[first..]) {
                *g += d;
            }
        }
        for isa in Isa::ALL {
            let mut got = start.clone();
            dispatch_add_column_sums(isa, &dy, o, first, &mut got);
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&got), bits(&want), "{isa:?}");
        }
    }
}
