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
use crate::kernels::simd::{self, exp, Plain};

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
/// `Σ_r weight_r · ((1 − ε)·logp_r[target_r] + ε·mean_j logp_r[j])`.
///
/// # Shapes
/// `logits`: `[N, C]` row-major; `lse`: `[N]`.
pub(crate) fn forward(
    logits: &[f32],
    classes: usize,
    rows: &CrossEntropyRows,
    lse: &mut [f32],
) -> f32 {
    let eps = rows.epsilon;
    logits
        .par_chunks(classes * ROWS_PER_TASK)
        .zip(lse.par_chunks_mut(ROWS_PER_TASK))
        .with_min_len(min_len(logits.len()))
        .enumerate()
        .map(|(task, (logits, lse))| {
            let mut total = 0f64;
            let mut exps = vec![0f32; classes];
            for (i, (row, lse)) in logits.chunks(classes).zip(lse.iter_mut()).enumerate() {
                let r = task * ROWS_PER_TASK + i;
                let max = simd::row_max(row);
                // a plain map loop, which LLVM vectorises, then the sum apart
                for (e, &x) in exps.iter_mut().zip(row) {
                    *e = exp::<Plain>(x - max);
                }
                *lse = max + simd::sum(&exps).ln();
                let w = rows.weights[r];
                if w != 0.0 {
                    let target = row[rows.targets[r]] - *lse;
                    let mean = row.iter().sum::<f32>() / classes as f32 - *lse;
                    total += f64::from(w * ((1.0 - eps) * target + eps * mean));
                }
            }
            total
        })
        // added in task order, so every run gives the same bits
        .collect::<Vec<f64>>()
        .into_iter()
        .sum::<f64>() as f32
}

/// Adds the loss's gradient times `upstream` into `dlogits`:
/// `upstream · weight_r · ((1 − ε)·[j = target_r] + ε/C − softmax_r[j])`.
pub(crate) fn backward(
    logits: &[f32],
    classes: usize,
    rows: &CrossEntropyRows,
    lse: &[f32],
    upstream: f32,
    dlogits: &mut [f32],
) {
    let eps = rows.epsilon;
    let spread = eps / classes as f32;
    dlogits
        .par_chunks_mut(classes * ROWS_PER_TASK)
        .zip(logits.par_chunks(classes * ROWS_PER_TASK))
        .with_min_len(min_len(logits.len()))
        .enumerate()
        .for_each(|(task, (dlogits, logits))| {
            for (i, (drow, row)) in dlogits
                .chunks_mut(classes)
                .zip(logits.chunks(classes))
                .enumerate()
            {
                let r = task * ROWS_PER_TASK + i;
                let w = upstream * rows.weights[r];
                if w == 0.0 {
                    continue;
                }
                let l = lse[r];
                for (d, &x) in drow.iter_mut().zip(row) {
                    *d += w * (spread - exp::<Plain>(x - l));
                }
                drow[rows.targets[r]] += w * (1.0 - eps);
            }
        });
}

/// The loss as a [`CpuOp`] on `[N, classes]` logits, to a scalar.
struct CrossEntropy {
    classes: usize,
    rows: CrossEntropyRows,
}

impl CpuOp<1> for CrossEntropy {
    /// The logits and each row's log-sum-exp.
    type Saved = (Input, Vec<f32>);

    fn forward(
        &self,
        _: &Cpu,
        [logits]: [Input; 1],
        out: &mut [f32],
    ) -> Result<Self::Saved, AttnError> {
        let mut lse = vec![0f32; logits.len() / self.classes];
        out[0] = forward(&logits, self.classes, &self.rows, &mut lse);
        Ok((logits, lse))
    }

    fn backward(
        self,
        _: &Cpu,
        (logits, lse): Self::Saved,
        _: &[f32],
        dy: &[f32],
        grads: &mut dyn InputGrads,
    ) -> Result<(), CpuError> {
        // adds in place: the gradient of other uses of the logits stays
        let dlogits = grads.input(0)?.expect("the logits have a gradient");
        backward(&logits, self.classes, &self.rows, &lse, dy[0], dlogits);
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
