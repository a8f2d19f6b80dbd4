//! Softmax cross-entropy in one pass per row, forward and backward, for `f32` on the CPU.
//!
//! The composite loss (`log_softmax`, then select, mean, scale and sum) walks the `[N, C]` logits
//! about eight times each way with a buffer per step; for a translation model's output layer
//! (thousands of rows × thousands of classes) that is a large share of a training step. This
//! kernel reads each row twice forward (max, then sum of exponentials) and once backward,
//! keeping only each row's log-sum-exp.

use dfdx::prelude::*;
use rayon::prelude::*;

use crate::error::AttnError;
use crate::kernels::cpu_op::{min_len, Input};
use crate::kernels::op::{apply, split_operand, CpuOp, InputGrads};
use crate::kernels::simd::{self, exp, simd_dispatch, Arith};
use crate::kernels::tuning::{Isa, KernelConfig};

/// Rows per parallel task.
const ROWS_PER_TASK: usize = 8;

/// What the loss needs besides the logits: per-row weights (`−1/counted` for counted rows, 0 for
/// ignored ones), target classes (any valid class for ignored rows) and the smoothing `ε`.
#[derive(Clone)]
pub(crate) struct CrossEntropyRows {
    pub targets: Vec<usize>,
    pub weights: Vec<f32>,
    pub epsilon: f32,
}

/// Fills `lse` with each row's log-sum-exp and returns
/// `Σ_r weight_r · ((1 − ε)·logp_r[target_r] + ε·mean_j logp_r[j])`, with the rows' arithmetic
/// on the instruction set `isa`.
///
/// # Shapes
/// `logits`: `[N, C]` row-major; `lse`: `[N]`.
pub(crate) fn forward(
    isa: Isa,
    logits: &[f32],
    classes: usize,
    rows: &CrossEntropyRows,
    lse: &mut [f32],
) -> f32 {
    logits
        .par_chunks(classes * ROWS_PER_TASK)
        .zip(lse.par_chunks_mut(ROWS_PER_TASK))
        .with_min_len(min_len(logits.len()))
        .enumerate()
        .map(|(task, (logits, lse))| {
            let mut total = 0f64;
            let mut exps = vec![0f32; classes];
            let first = task * ROWS_PER_TASK;
            dispatch_forward(
                isa, logits, classes, rows, first, lse, &mut exps, &mut total,
            );
            total
        })
        // added in task order, so every run gives the same bits
        .collect::<Vec<f64>>()
        .into_iter()
        .sum::<f64>() as f32
}

simd_dispatch!(
    /// [`forward_rows`] on the instruction set asked for.
    fn dispatch_forward => forward_rows(
        logits: &[f32],
        classes: usize,
        rows: &CrossEntropyRows,
        first: usize,
        lse: &mut [f32],
        exps: &mut [f32],
        total: &mut f64,
    )
);

/// [`forward`] on a task's rows, `first` onwards: their log-sum-exps into `lse`, their weighted
/// loss added to `total`; `exps` is scratch of `classes` values.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn forward_rows<A: Arith>(
    logits: &[f32],
    classes: usize,
    rows: &CrossEntropyRows,
    first: usize,
    lse: &mut [f32],
    exps: &mut [f32],
    total: &mut f64,
) {
    let eps = rows.epsilon;
    for (i, (row, lse)) in logits.chunks(classes).zip(lse.iter_mut()).enumerate() {
        let r = first + i;
        let max = simd::row_max(row);
        // a plain map loop, which LLVM vectorises, then the sum apart
        for (e, &x) in exps.iter_mut().zip(row) {
            *e = exp::<A>(x - max);
        }
        *lse = max + simd::sum(exps).ln();
        let w = rows.weights[r];
        if w != 0.0 {
            let target = row[rows.targets[r]] - *lse;
            // the mean log-probability only counts with smoothing
            let mean = if eps == 0.0 {
                0.0
            } else {
                simd::sum(row) / classes as f32 - *lse
            };
            *total += f64::from(w * ((1.0 - eps) * target + eps * mean));
        }
    }
}

/// Adds the loss's gradient times `upstream` into `dlogits` (or, where `adds` is false, writes
/// it over whatever `dlogits` holds):
/// `upstream · weight_r · ((1 − ε)·[j = target_r] + ε/C − softmax_r[j])`, with the rows'
/// arithmetic on the instruction set `isa`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn backward(
    isa: Isa,
    logits: &[f32],
    classes: usize,
    rows: &CrossEntropyRows,
    lse: &[f32],
    upstream: f32,
    adds: bool,
    dlogits: &mut [f32],
) {
    dlogits
        .par_chunks_mut(classes * ROWS_PER_TASK)
        .zip(logits.par_chunks(classes * ROWS_PER_TASK))
        .with_min_len(min_len(logits.len()))
        .enumerate()
        .for_each(|(task, (dlogits, logits))| {
            let first = task * ROWS_PER_TASK;
            dispatch_backward(
                isa, logits, classes, rows, lse, upstream, adds, first, dlogits,
            );
        });
}

simd_dispatch!(
    /// [`backward_rows`] on the instruction set asked for.
    fn dispatch_backward => backward_rows(
        logits: &[f32],
        classes: usize,
        rows: &CrossEntropyRows,
        lse: &[f32],
        upstream: f32,
        adds: bool,
        first: usize,
        dlogits: &mut [f32],
    )
);

/// [`backward`] on a task's rows, `first` onwards.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn backward_rows<A: Arith>(
    logits: &[f32],
    classes: usize,
    rows: &CrossEntropyRows,
    lse: &[f32],
    upstream: f32,
    adds: bool,
    first: usize,
    dlogits: &mut [f32],
) {
    let eps = rows.epsilon;
    let spread = eps / classes as f32;
    for (i, (drow, row)) in dlogits
        .chunks_mut(classes)
        .zip(logits.chunks(classes))
        .enumerate()
    {
        let r = first + i;
        let w = upstream * rows.weights[r];
        if w == 0.0 {
            if !adds {
                drow.fill(0.0);
            }
            continue;
        }
        let l = lse[r];
        for (d, &x) in drow.iter_mut().zip(row) {
            let g = w * (spread - exp::<A>(x - l));
            *d = if adds { *d + g } else { g };
        }
        drow[rows.targets[r]] += w * (1.0 - eps);
    }
}

/// The loss as a [`CpuOp`] on `[N, classes]` logits, to a scalar.
struct CrossEntropy {
    classes: usize,
    rows: CrossEntropyRows,
}

impl CpuOp<1> for CrossEntropy {
    /// The logits, each row's log-sum-exp, and the instruction set the forward pass ran on.
    type Saved = (Input, Vec<f32>, Isa);

    fn forward(
        &self,
        _: &Cpu,
        [logits]: [Input; 1],
        out: &mut [f32],
    ) -> Result<Self::Saved, AttnError> {
        let isa = KernelConfig::current()?.isa();
        let mut lse = vec![0f32; logits.len() / self.classes];
        out[0] = forward(isa, &logits, self.classes, &self.rows, &mut lse);
        Ok((logits, lse, isa))
    }

    fn backward(
        self,
        _: &Cpu,
        (logits, lse, isa): Self::Saved,
        _: &[f32],
        dy: &[f32],
        grads: &mut dyn InputGrads,
    ) -> Result<(), CpuError> {
        // adds in place (the gradient of other uses of the logits stays), or writes the first
        let mut dlogits = grads.input_whole(0)?.expect("the logits have a gradient");
        let adds = dlogits.adds();
        let (classes, rows) = (self.classes, &self.rows);
        backward(
            isa,
            &logits,
            classes,
            rows,
            &lse,
            dy[0],
            adds,
            dlogits.values(),
        );
        Ok(())
    }
}

/// The loss on dfdx tensors (the caller checked that `E` is `f32` and `D` the `Cpu`, and the
/// targets), gradients into `logits` on its tape.
///
/// # Shapes
/// `logits: [N, C]` → scalar.
pub(crate) fn try_fused_cross_entropy<E: Dtype, D: Device<E>, T: Tape<E, D> + 'static>(
    logits: Tensor<(usize, usize), E, D, T>,
    rows: CrossEntropyRows,
) -> Result<Tensor<Rank0, E, D, T>, AttnError> {
    const NAME: &str = "the fused cross-entropy";
    let classes = logits.shape().1;
    let dev = logits.device().clone();
    let (logits, tape) = split_operand(logits, NAME)?;
    let op = CrossEntropy { classes, rows };
    apply(op, NAME, &dev, [logits], tape, ())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The loss and its gradient (upstream 1) in f64, from the definition.
    fn reference(logits: &[f32], classes: usize, rows: &CrossEntropyRows) -> (f64, Vec<f64>) {
        let eps = f64::from(rows.epsilon);
        let mut loss = 0.0;
        let mut grad = vec![0.0; logits.len()];
        for (r, row) in logits.chunks(classes).enumerate() {
            let w = f64::from(rows.weights[r]);
            let max = row.iter().fold(f64::MIN, |m, &x| m.max(f64::from(x)));
            let lse = max
                + row
                    .iter()
                    .map(|&x| (f64::from(x) - max).exp())
                    .sum::<f64>()
                    .ln();
            let logp = |j: usize| f64::from(row[j]) - lse;
            let mean = (0..classes).map(logp).sum::<f64>() / classes as f64;
            loss += w * ((1.0 - eps) * logp(rows.targets[r]) + eps * mean);
            for j in 0..classes {
                let hit = if j == rows.targets[r] { 1.0 - eps } else { 0.0 };
                grad[r * classes + j] = w * (hit + eps / classes as f64 - logp(j).exp());
            }
        }
        (loss, grad)
    }

    #[test]
    fn every_instruction_set_gives_the_definition_with_and_without_smoothing() {
        let (n, classes) = (37, 203);
        let logits: Vec<f32> = (0..n * classes)
            .map(|i| ((i * 7919 % 1013) as f32 / 1013.0 - 0.5) * 12.0)
            .collect();
        for epsilon in [0.0, 0.1] {
            let rows = CrossEntropyRows {
                targets: (0..n).map(|r| r * 31 % classes).collect(),
                // every fifth row ignored, the others averaged
                weights: (0..n)
                    .map(|r| if r % 5 == 0 { 0.0 } else { -1.0 / 29.0 })
                    .collect(),
                epsilon,
            };
            let (want_loss, want_grad) = reference(&logits, classes, &rows);
            for isa in Isa::ALL.into_iter().filter(|isa| isa.available()) {
                let mut lse = vec![0.0; n];
                let loss = forward(isa, &logits, classes, &rows, &mut lse);
                assert!(
                    (f64::from(loss) - want_loss).abs() < 1e-5 * (1.0 + want_loss.abs()),
                    "{isa:?} ε={epsilon}: {loss} vs {want_loss}"
                );
                // the gradient adds onto what is there
                let mut grad = vec![0.25f32; logits.len()];
                backward(isa, &logits, classes, &rows, &lse, 1.0, true, &mut grad);
                for (i, (g, w)) in grad.iter().zip(&want_grad).enumerate() {
                    assert!(
                        (f64::from(*g) - 0.25 - w).abs() < 1e-6,
                        "{isa:?} ε={epsilon} [{i}]: {g} vs 0.25 + {w}"
                    );
                }
                // or is written over every value, the ignored rows' zeros included
                let mut grad = vec![f32::NAN; logits.len()];
                backward(isa, &logits, classes, &rows, &lse, 1.0, false, &mut grad);
                for (i, (g, w)) in grad.iter().zip(&want_grad).enumerate() {
                    assert!(
                        (f64::from(*g) - w).abs() < 1e-6,
                        "{isa:?} ε={epsilon} [{i}] written: {g} vs {w}"
                    );
                }
            }
        }
    }
}
