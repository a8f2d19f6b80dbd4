//! A naive float64 attention, forward and backward, straight from the definitions: the
//! reference the fused kernel is tested against.

use crate::attention::fused::{AttnDims, FusedParams};

/// Outputs and gradients of the reference, as f32.
pub struct Reference {
    pub out: Vec<f32>,
    pub dq: Vec<f32>,
    pub dk: Vec<f32>,
    pub dv: Vec<f32>,
}

/// `keep(bh, i, j)`: the dropout factor of weight `(i, j)` of problem `bh` (1 without dropout).
pub fn reference(
    params: &FusedParams<'_>,
    q: &[f32],
    k: &[f32],
    v: &[f32],
    dout: &[f32],
    keep: &dyn Fn(usize, usize, usize) -> f64,
) -> Reference {
    let AttnDims {
        batch,
        heads,
        q_len: sq,
        k_len: sk,
        head_dim: hd,
        value_dim: vd,
    } = params.dims;
    let (nq, nk, nv, no, _) = params.dims.lens();
    let (mut out, mut dq, mut dk, mut dv) =
        (vec![0.0; no], vec![0.0; nq], vec![0.0; nk], vec![0.0; nv]);
    let scale = params.scale as f64;
    for bh in 0..batch * heads {
        let b = bh / heads;
        let (qo, ko, vo, oo) = (bh * sq * hd, bh * sk * hd, bh * sk * vd, bh * sq * vd);
        for i in 0..sq {
            let (lo, hi) = params.mask.key_range(b, i, sk);
            let allowed = params.mask.allowed_row(b, i, sq, sk);
            let visible: Vec<usize> = (lo..hi).filter(|&j| allowed.is_none_or(|a| a[j])).collect();
            if visible.is_empty() {
                continue;
            }
            let scores: Vec<f64> = visible
                .iter()
                .map(|&j| {
                    let dot: f64 = (0..hd)
                        .map(|d| q[qo + i * hd + d] as f64 * k[ko + j * hd + d] as f64)
                        .sum();
                    dot * scale
                })
                .collect();
            let max = scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let exps: Vec<f64> = scores.iter().map(|s| (s - max).exp()).collect();
            let total: f64 = exps.iter().sum();
            let p: Vec<f64> = exps.iter().map(|e| e / total).collect();
            let z: Vec<f64> = visible.iter().map(|&j| keep(bh, i, j)).collect();
            for d in 0..vd {
                out[oo + i * vd + d] = visible
                    .iter()
                    .enumerate()
                    .map(|(n, &j)| p[n] * z[n] * v[vo + j * vd + d] as f64)
                    .sum();
            }
            // backward: dP = dO·Vᵀ ∘ Z, dS = P ∘ (dP − Σ P dP)
            let g = &dout[oo + i * vd..][..vd];
            let dp: Vec<f64> = visible
                .iter()
                .enumerate()
                .map(|(n, &j)| {
                    z[n] * (0..vd)
                        .map(|d| g[d] as f64 * v[vo + j * vd + d] as f64)
                        .sum::<f64>()
                })
                .collect();
            let row: f64 = p.iter().zip(&dp).map(|(a, b)| a * b).sum();
            for (n, &j) in visible.iter().enumerate() {
                let ds = p[n] * (dp[n] - row) * scale;
                for d in 0..vd {
                    dv[vo + j * vd + d] += p[n] * z[n] * g[d] as f64;
                }
                for d in 0..hd {
                    dq[qo + i * hd + d] += ds * k[ko + j * hd + d] as f64;
                    dk[ko + j * hd + d] += ds * q[qo + i * hd + d] as f64;
                }
            }
        }
    }
    let f = |x: Vec<f64>| x.into_iter().map(|x| x as f32).collect();
    Reference {
        out: f(out),
        dq: f(dq),
        dk: f(dk),
        dv: f(dv),
    }
}

/// Deterministic pseudo-random values in about [-2, 2].
pub fn values(n: usize, seed: u64) -> Vec<f32> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    (0..n).map(|_| rng.gen_range(-2.0f32..2.0)).collect()
}

/// `|got - want| <= tol · (1 + |want|)` elementwise.
pub fn assert_close(what: &str, got: &[f32], want: &[f32], tol: f32) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert!(
            g.is_finite() && (g - w).abs() <= tol * (1.0 + w.abs()),
            "{what}[{i}]: got {g}, want {w}"
        );
    }
}
