//! Attention rollout (Abnar & Zuidema, "Quantifying Attention Flow in Transformers", ACL 2020):
//! how much each output position draws on each input token through all the layers.
//!
//! Each layer `l` is a head-averaged self-attention matrix `W_l` of shape `[size, size]`,
//! row-major, rows indexed by query. The residual connection is modelled by adding the identity
//! and renormalising rows: `A_l = rownorm(W_l + I)` (for softmax rows this is `½ W_l + ½ I`, the
//! paper's form). Rollout multiplies them in order, first layer first:
//! `R = A_L · … · A_2 · A_1`, so `R[i][j]` is the share of output position `i` that flows from
//! input token `j`. Every row of `R` sums to 1.

use super::error::{check_len, check_weights, VizError};

/// Attention rollout (Abnar & Zuidema 2020): how much each output position draws on each input
/// token through all `layers`, as a `[size, size]` row-major matrix.
///
/// Each layer `l` is a head-averaged self-attention matrix `W_l`, `[size, size]` row-major, rows
/// indexed by query. The residual connection is modelled by adding the identity and
/// renormalising rows, `A_l = rownorm(W_l + I)` (for softmax rows, the paper's `½ W_l + ½ I`);
/// then `R = A_L · … · A_2 · A_1`, first layer applied first. `R[i][j]` is the share of output
/// position `i` that flows from input token `j`; rows of `R` sum to 1. No layers give the
/// identity. Weights must be finite and non-negative.
pub fn rollout(layers: &[Vec<f32>], size: usize) -> Result<Vec<f32>, VizError> {
    let n2 = size
        .checked_mul(size)
        .ok_or_else(|| VizError::InvalidArgument {
            name: "size",
            value: size.to_string(),
            requirement: "size * size must fit in usize",
        })?;
    let mut r = identity(size);
    for (l, layer) in layers.iter().enumerate() {
        let what = format!("layer {l}");
        check_len(&what, n2, layer.len())?;
        check_weights(layer, &what)?;
        let a = with_residual(layer, size);
        r = matmul(&a, &r, size);
    }
    Ok(r.into_iter().map(|x| x as f32).collect())
}

/// The `size x size` identity in f64.
fn identity(size: usize) -> Vec<f64> {
    let mut m = vec![0.0; size * size];
    for i in 0..size {
        m[i * size + i] = 1.0;
    }
    m
}

/// `rownorm(w + I)`; every row sums to at least 1 before normalising, so none is zero.
fn with_residual(w: &[f32], size: usize) -> Vec<f64> {
    let mut a: Vec<f64> = w.iter().map(|&x| f64::from(x)).collect();
    for (i, row) in a.chunks_mut(size).enumerate() {
        row[i] += 1.0;
        let sum: f64 = row.iter().sum();
        row.iter_mut().for_each(|x| *x /= sum);
    }
    a
}

/// The product `a · b` of two `size x size` row-major matrices.
fn matmul(a: &[f64], b: &[f64], size: usize) -> Vec<f64> {
    let mut out = vec![0.0; size * size];
    for i in 0..size {
        for k in 0..size {
            let aik = a[i * size + k];
            if aik != 0.0 {
                for j in 0..size {
                    out[i * size + j] += aik * b[k * size + j];
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_layers_is_identity_and_rows_sum_to_one() {
        assert_eq!(rollout(&[], 2).unwrap(), vec![1.0, 0.0, 0.0, 1.0]);
        let layers = vec![vec![0.2, 0.3, 0.5, 0.1, 0.1, 0.8, 0.3, 0.3, 0.4]; 3];
        let r = rollout(&layers, 3).unwrap();
        for row in r.chunks(3) {
            assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        }
    }

    #[test]
    fn bad_layers_fail() {
        assert!(matches!(
            rollout(&[vec![1.0; 3]], 2),
            Err(VizError::SizeMismatch { .. })
        ));
        let nan = vec![1.0, f32::NAN, 0.0, 1.0];
        assert!(matches!(
            rollout(&[nan], 2),
            Err(VizError::NonFinite { index: 1, .. })
        ));
        let neg = vec![1.0, -0.5, 0.0, 1.0];
        assert!(matches!(rollout(&[neg], 2), Err(VizError::Negative { .. })));
    }
}
