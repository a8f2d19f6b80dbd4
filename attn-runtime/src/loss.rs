//! Losses.

use dfdx::prelude::*;

use crate::error::{AttnError, DeviceResultExt};

/// Rows whose target is this are ignored by [`try_cross_entropy_rows`] (padding).
pub const IGNORE: usize = usize::MAX;

/// Mean cross-entropy of `logits` rows against class indices, skipping rows whose target is
/// [`IGNORE`].
///
/// # Shapes
/// `logits: [N, C]`, `targets: N` → scalar.
///
/// **PyTorch equivalent**: `F.cross_entropy(logits, targets, ignore_index=-100)` (with
/// `IGNORE` in place of `-100`).
///
/// # Errors
/// [`AttnError::InvalidInput`] when the target count is not `N`, a target is `>= C`, or every
/// row is ignored.
pub fn try_cross_entropy_rows<E: Dtype, D: Device<E>, T: Tape<E, D> + 'static>(
    logits: Tensor<(usize, usize), E, D, T>,
    targets: &[usize],
) -> Result<Tensor<Rank0, E, D, T>, AttnError> {
    try_cross_entropy_rows_smoothed(logits, targets, 0.0)
}

/// Mean cross-entropy of logits of any shape whose last axis is the classes (`[B, C]` of a
/// classifier, `[B, L, G]` of a tagger, `[B, TL, V]` of a sequence-to-sequence model), against
/// one class index per row in row-major order, skipping [`IGNORE`]: the typed models' logits go
/// in as they come out, without a reshape.
///
/// # Shapes
/// `logits: [.., C]` with `N` rows (the product of the other axes), `targets: N` → scalar.
///
/// **PyTorch equivalent**: `F.cross_entropy(logits.flatten(0, -2), targets.flatten())`.
///
/// # Errors
/// As [`try_cross_entropy_rows`]; [`AttnError::InvalidInput`] for a scalar `logits`.
pub fn try_cross_entropy<S: Shape, E: Dtype, D: Device<E>, T: Tape<E, D> + 'static>(
    logits: Tensor<S, E, D, T>,
    targets: &[usize],
) -> Result<Tensor<Rank0, E, D, T>, AttnError> {
    let dims = logits.shape().concrete();
    let Some(&classes) = dims.as_ref().last() else {
        return Err(AttnError::InvalidInput {
            reason: "the logits are a scalar".into(),
            fix: "pass logits whose last axis is the classes".into(),
        });
    };
    let rows = dims.as_ref().iter().rev().skip(1).product::<usize>();
    let rows = logits.try_reshape_like(&(rows, classes)).dev()?;
    try_cross_entropy_rows(rows, targets)
}

/// [`try_cross_entropy_rows`] with label smoothing `epsilon`: the target distribution puts
/// `1 − ε + ε/C` on the target class and `ε/C` on every other.
///
/// **PyTorch equivalent**: `F.cross_entropy(logits, targets, ignore_index=.., label_smoothing=ε)`.
///
/// # Errors
/// As [`try_cross_entropy_rows`], and [`AttnError::InvalidHyperParameter`] for `ε` outside `[0, 1)`.
pub fn try_cross_entropy_rows_smoothed<E: Dtype, D: Device<E>, T: Tape<E, D> + 'static>(
    logits: Tensor<(usize, usize), E, D, T>,
    targets: &[usize],
    epsilon: f64,
) -> Result<Tensor<Rank0, E, D, T>, AttnError> {
    (kernels::<E, D, T>()?.cross_entropy)(logits, targets, epsilon)
}

kernel_tables! {
    /// This module's kernel, compiled once in attn-runtime (see `kernel_tables!`).
    struct LossKernels {
        cross_entropy: fn(
            Tensor<(usize, usize), E, D, T>,
            &[usize],
            f64,
        ) -> Result<Tensor<Rank0, E, D, T>, AttnError>
            = cross_entropy_impl::<E, D, T>,
    }
}

/// [`try_cross_entropy_rows_smoothed`] itself.
fn cross_entropy_impl<E: Dtype, D: Device<E>, T: Tape<E, D> + 'static>(
    logits: Tensor<(usize, usize), E, D, T>,
    targets: &[usize],
    epsilon: f64,
) -> Result<Tensor<Rank0, E, D, T>, AttnError> {
    if !(0.0..1.0).contains(&epsilon) {
        return Err(AttnError::InvalidHyperParameter {
            name: "label_smoothing",
            value: epsilon.to_string(),
            requirement: "must be in [0, 1)",
        });
    }
    let (rows, classes) = *logits.shape();
    if targets.len() != rows {
        return Err(AttnError::InvalidInput {
            reason: format!("{} targets for {rows} rows of logits", targets.len()),
            fix: "give one target per row".into(),
        });
    }
    if let Some(&t) = targets.iter().find(|&&t| t != IGNORE && t >= classes) {
        return Err(AttnError::InvalidInput {
            reason: format!("target class {t} is not below the {classes} classes"),
            fix: "targets must index the model's classes".into(),
        });
    }
    let counted = targets.iter().filter(|&&t| t != IGNORE).count();
    if counted == 0 {
        return Err(AttnError::InvalidInput {
            reason: "every row is ignored".into(),
            fix: "a batch needs at least one target that is not padding".into(),
        });
    }
    if crate::kernels::cpu_op::is_cpu_f32::<E, D>() {
        let rows = crate::kernels::cross_entropy::CrossEntropyRows {
            targets: targets
                .iter()
                .map(|&t| if t == IGNORE { 0 } else { t })
                .collect(),
            weights: targets
                .iter()
                .map(|&t| {
                    if t == IGNORE {
                        0.0
                    } else {
                        -1.0 / counted as f32
                    }
                })
                .collect(),
            epsilon: epsilon as f32,
        };
        return crate::kernels::cross_entropy::try_fused_cross_entropy(logits, rows);
    }
    composite(logits, targets, epsilon, counted)
}

/// The loss from dfdx's ops (every device and dtype; the reference for the fused kernel).
fn composite<E: Dtype, D: Device<E>, T: Tape<E, D> + 'static>(
    logits: Tensor<(usize, usize), E, D, T>,
    targets: &[usize],
    epsilon: f64,
    counted: usize,
) -> Result<Tensor<Rank0, E, D, T>, AttnError> {
    let rows = logits.shape().0;
    // gather each row's target log-probability (no dense one-hot matrix: rows × classes can be
    // millions of entries for a translation model)
    let dev = logits.device().clone();
    let index: Vec<usize> = targets
        .iter()
        .map(|&t| if t == IGNORE { 0 } else { t })
        .collect();
    let weight: Vec<E> = targets
        .iter()
        .map(|&t| {
            E::from_f64(if t == IGNORE {
                0.0
            } else {
                -1.0 / counted as f64
            })
            .unwrap_or_default()
        })
        .collect();
    let index = dev.try_tensor_from_vec(index, (rows,)).dev()?;
    let weight = dev.try_tensor_from_vec(weight, (rows,)).dev()?;
    let (mut tape, logp) =
        crate::tape_holder::TapeHolder::split(logits.try_log_softmax::<Axis<1>>().dev()?);
    let target_logp = tape.run(&logp, |lp| lp.try_select(index).dev())?;
    let per_row = if epsilon > 0.0 {
        let keep = E::from_f64(1.0 - epsilon).unwrap_or_default();
        let spread = E::from_f64(epsilon).unwrap_or_default();
        let mean_logp = tape.run(&logp, |lp| {
            lp.try_mean::<_, Axis<1>>().dev()?.try_mul(spread).dev()
        })?;
        tape.run(&target_logp, |t| {
            t.try_mul(keep).dev()?.try_add(mean_logp).dev()
        })?
    } else {
        target_logp
    };
    let loss = tape.run(&per_row, |r| r.try_mul(weight).dev()?.try_sum().dev())?;
    Ok(tape.finish(loss))
}

/// `ln Σ exp(row[j])` in f64, shifted by the row's maximum so it cannot overflow.
pub(crate) fn row_log_sum_exp(row: &[f32]) -> f64 {
    let max = row.iter().fold(f32::MIN, |m, &v| m.max(v)) as f64;
    max + row
        .iter()
        .map(|&v| (v as f64 - max).exp())
        .sum::<f64>()
        .ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fused_kernel_matches_the_composite_loss_and_gradient() {
        let dev = Cpu::seed_from_u64(7);
        // 37 rows (not a multiple of the rows per task) of 11 classes, two rows ignored
        let logits: Tensor<(usize, usize), f32, Cpu> = dev.sample_normal_like(&(37, 11));
        // recycled buffers of NaN the logits' size: a first gradient the kernel writes but
        // leaves a value of shows
        crate::kernels::op::fill_cache_with_nan(&dev, &[37 * 11], 8);
        let logits = logits * 4.0;
        let mut targets: Vec<usize> = (0..37).map(|i| (i * 5) % 11).collect();
        targets[3] = IGNORE;
        targets[36] = IGNORE;
        for eps in [0.0, 0.1] {
            let counted = 35;
            let fused =
                try_cross_entropy_rows_smoothed(logits.leaky_trace(), &targets, eps).unwrap();
            let composite = composite(logits.leaky_trace(), &targets, eps, counted).unwrap();
            let (a, b) = (
                fused.retaped::<NoneTape>().array(),
                composite.retaped::<NoneTape>().array(),
            );
            assert!(
                (a - b).abs() < 1e-5 * b.abs().max(1.0),
                "ε={eps}: {a} vs {b}"
            );
            // scaled upstream gradient, so the backward's use of it is checked too
            let ga = (fused * 3.0).backward().get(&logits).as_vec();
            let gb = (composite * 3.0).backward().get(&logits).as_vec();
            for (i, (x, y)) in ga.iter().zip(&gb).enumerate() {
                assert!((x - y).abs() < 1e-6, "ε={eps} [{i}]: {x} vs {y}");
            }
            // ignored rows get no gradient
            assert!(ga[3 * 11..4 * 11].iter().all(|g| *g == 0.0));
        }
    }

    #[test]
    fn hand_computed_value_with_an_ignored_row() {
        let dev: Cpu = Default::default();
        // row 0: p(target 1) = 3 / (1 + 3); row 1 ignored; row 2: p(target 0) = 1 / 2
        let logits = dev.tensor_from_vec(vec![0.0f32, 3f32.ln(), 9.0, -9.0, 1.0, 1.0], (3, 2));
        let loss = try_cross_entropy_rows(logits, &[1, IGNORE, 0])
            .unwrap()
            .array();
        let want = -((0.75f32).ln() + (0.5f32).ln()) / 2.0;
        assert!((loss - want).abs() < 1e-6, "{loss} vs {want}");
    }

    #[test]
    fn label_smoothing_hand_computed() {
        let dev: Cpu = Default::default();
        // p = [0.25, 0.75], target 1, epsilon 0.1: q = [0.05, 0.95]
        let logits = dev.tensor_from_vec(vec![0.0f32, 3f32.ln()], (1, 2));
        let loss = try_cross_entropy_rows_smoothed(logits, &[1], 0.1)
            .unwrap()
            .array();
        let want = -(0.95 * 0.75f32.ln() + 0.05 * 0.25f32.ln());
        assert!((loss - want).abs() < 1e-6, "{loss} vs {want}");
        let logits = dev.tensor_from_vec(vec![0.0f32, 0.0], (1, 2));
        assert!(try_cross_entropy_rows_smoothed(logits, &[1], 1.0).is_err());
    }

    #[test]
    fn bad_targets_are_errors() {
        let dev: Cpu = Default::default();
        let logits = || dev.tensor_from_vec(vec![0.0f32; 4], (2, 2));
        assert!(try_cross_entropy_rows(logits(), &[0]).is_err());
        assert!(try_cross_entropy_rows(logits(), &[0, 2]).is_err());
        assert!(try_cross_entropy_rows(logits(), &[IGNORE, IGNORE]).is_err());
    }
}
