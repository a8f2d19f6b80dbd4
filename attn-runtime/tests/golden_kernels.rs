//! Golden tests of the fused f32 CPU kernels against PyTorch (`tools/gen_kernel_fixtures.py`):
//! the one-pass layer norm (`NormExt::try_norm`: output and the gradients of x, gamma and beta)
//! and the one-pass softmax cross-entropy (`try_cross_entropy_rows{,_smoothed}`: loss and the
//! gradient of the logits, with ignored rows and label smoothing). The reference is float64 on
//! the same float32 inputs; the tolerance is the suites' `TOL` (1e-5, scaled by `1 + |want|`).
//! Each case also shows that a plausible wrong result would fail the comparison.

mod common;

use attn_runtime::dfdx::nn::builders;
use attn_runtime::dfdx::nn::modules::LayerNorm1D;
use attn_runtime::loss::{try_cross_entropy_rows, try_cross_entropy_rows_smoothed, IGNORE};
use attn_runtime::prelude::*;
use attn_runtime::transformer::NormExt;
use common::*;

/// The kernels under test are the `f32` `Cpu` paths, whatever the default test device is.
type Dev = Cpu;

/// The largest `|got − want| / (1 + |want|)`: the measure [`assert_close`] bounds by [`TOL`].
fn scaled_err(got: &[f32], want: &[f32]) -> f64 {
    assert_eq!(got.len(), want.len());
    got.iter()
        .zip(want)
        .map(|(&g, &w)| (g as f64 - w as f64).abs() / (1.0 + (w as f64).abs()))
        .fold(0.0, f64::max)
}

/// A tensor of `shape` from the fixture, on the Cpu.
fn cpu_tensor<S: Shape>(dev: &Dev, fx: &Fixture, name: &str, shape: S) -> Tensor<S, f32, Dev> {
    let got: Vec<usize> = shape.concrete().into_iter().collect();
    assert_eq!(
        fx.shape(name),
        got,
        "fixture {} tensor {name} shape",
        fx.name
    );
    dev.tensor_from_vec(fx.values(name), shape)
}

/// Runs a layer-norm fixture through the fused kernel; returns the output and the gradient of x
/// for the case's own checks.
fn check_layer_norm<const M: usize>(name: &str) -> (Fixture, Vec<f32>, Vec<f32>) {
    let dev = Dev::seed_from_u64(0);
    let fx = Fixture::load("kernels", name);
    let shape = fx.config["shape"].as_array().unwrap();
    let (b, s) = (
        shape[0].as_u64().unwrap() as usize,
        shape[1].as_u64().unwrap() as usize,
    );
    assert_eq!(fx.usize("m"), M);
    assert_eq!(fx.config["eps"].as_f64(), Some(1e-5));

    let mut norm: LayerNorm1D<M, f32, Dev> = dev.build_module::<builders::LayerNorm1D<M>, f32>();
    norm.gamma = cpu_tensor(&dev, &fx, "param.gamma", Rank1::<M>::default());
    norm.beta = cpu_tensor(&dev, &fx, "param.beta", Rank1::<M>::default());
    norm.epsilon = 1e-5;
    let x = cpu_tensor(&dev, &fx, "input.x", (b, s, Const::<M>));
    let upstream = cpu_tensor(&dev, &fx, "upstream", (b, s, Const::<M>));

    let y = norm.try_norm(x.leaky_trace()).unwrap();
    let out = y.retaped::<NoneTape>().as_vec();
    fx.assert_close("expected.output", &out);
    let grads = (y * upstream).sum().backward();
    let (dx, dgamma, dbeta) = (
        grads.get(&x).as_vec(),
        grads.get(&norm.gamma).as_vec(),
        grads.get(&norm.beta).as_vec(),
    );
    fx.assert_close("grad.x", &dx);
    fx.assert_close("grad.gamma", &dgamma);
    fx.assert_close("grad.beta", &dbeta);
    eprintln!(
        "{name}: scaled errors y {:.1e}, dx {:.1e}, dgamma {:.1e}, dbeta {:.1e}",
        scaled_err(&out, &fx.values("expected.output")),
        scaled_err(&dx, &fx.values("grad.x")),
        scaled_err(&dgamma, &fx.values("grad.gamma")),
        scaled_err(&dbeta, &fx.values("grad.beta")),
    );
    (fx, out, dx)
}

/// Layer norm with the unbiased variance (`/ (M − 1)`, as `torch.var`'s default), in f64: the
/// classic wrong layer norm, which the comparison must reject.
fn unbiased_layer_norm(fx: &Fixture, m: usize) -> Vec<f32> {
    let (gamma, beta) = (fx.values("param.gamma"), fx.values("param.beta"));
    fx.values("input.x")
        .chunks(m)
        .flat_map(|row| {
            let mu = row.iter().map(|&v| v as f64).sum::<f64>() / m as f64;
            let var = row.iter().map(|&v| (v as f64 - mu).powi(2)).sum::<f64>() / (m - 1) as f64;
            let r = 1.0 / (var + 1e-5).sqrt();
            row.iter()
                .zip(&gamma)
                .zip(&beta)
                .map(move |((&v, &g), &b)| ((v as f64 - mu) * r * g as f64 + b as f64) as f32)
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn layer_norm_rows_not_a_multiple_of_the_task_size_match_pytorch() {
    let (fx, out, _) = check_layer_norm::<24>("layer_norm_3x37x24");
    // a wrong result fails: the unbiased variance is off by sqrt(24/23), far beyond TOL
    let wrong = unbiased_layer_norm(&fx, 24);
    assert!(scaled_err(&wrong, &fx.values("expected.output")) > 100.0 * TOL);
    assert!(scaled_err(&out, &wrong) > 100.0 * TOL);
}

#[test]
fn layer_norm_large_magnitude_inputs_match_pytorch() {
    // x ≈ 100 ± 50: each row's sum is ~1.3e4 in f32, and the mean/variance must survive the
    // offset (the kernel subtracts the mean before squaring); output and gradients within TOL
    let (fx, out, dx) = check_layer_norm::<128>("layer_norm_2x5x128_large");
    // grad.x is small here (|dx| ≲ 0.13, rstd ≈ 0.02), so the `1 + |want|` scaling alone would be
    // a loose relative bound: also hold it to TOL × the largest |dx| (measured: ~1e-7)
    let want = fx.values("grad.x");
    let peak = want.iter().fold(0f32, |a, w| a.max(w.abs())) as f64;
    let x_err = dx
        .iter()
        .zip(&want)
        .map(|(&g, &w)| (g as f64 - w as f64).abs())
        .fold(0.0, f64::max);
    eprintln!("grad.x: max abs error / max |dx| = {:.1e}", x_err / peak);
    assert!(
        x_err <= TOL * peak,
        "grad.x: max abs error {x_err:.3e} > TOL × {peak:.3e}"
    );
    // a wrong result fails: the unbiased variance is off by sqrt(128/127)
    let wrong = unbiased_layer_norm(&fx, 128);
    assert!(scaled_err(&wrong, &fx.values("expected.output")) > 10.0 * TOL);
    assert!(scaled_err(&out, &wrong) > 10.0 * TOL);
}

/// The fixture's targets with `-1` mapped to [`IGNORE`].
fn targets(fx: &Fixture) -> Vec<usize> {
    fx.values("targets")
        .iter()
        .map(|&t| if t < 0.0 { IGNORE } else { t as usize })
        .collect()
}

/// Runs a cross-entropy fixture through the fused kernel (via the public loss); returns the
/// loss and the gradient of the logits.
fn check_cross_entropy(name: &str) -> (Fixture, f32, Vec<f32>) {
    let dev = Dev::default();
    let fx = Fixture::load("kernels", name);
    let (rows, classes) = (fx.usize("rows"), fx.usize("classes"));
    let eps = fx.config["label_smoothing"].as_f64().unwrap();
    let upstream = fx.config["upstream"].as_f64().unwrap() as f32;
    let logits = cpu_tensor(&dev, &fx, "input.logits", (rows, classes));
    let targets = targets(&fx);
    let ignored: Vec<usize> = fx.config["ignored"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    for (r, t) in targets.iter().enumerate() {
        assert_eq!(*t == IGNORE, ignored.contains(&r), "row {r} target {t}");
    }

    let loss = if eps == 0.0 {
        try_cross_entropy_rows(logits.leaky_trace(), &targets).unwrap()
    } else {
        try_cross_entropy_rows_smoothed(logits.leaky_trace(), &targets, eps).unwrap()
    };
    let value = loss.retaped::<NoneTape>().array();
    fx.assert_close("expected.loss", &[value]);
    let grad = (loss * upstream).backward().get(&logits).as_vec();
    fx.assert_close("grad.logits", &grad);
    eprintln!(
        "{name}: scaled errors loss {:.1e}, dlogits {:.1e}",
        scaled_err(&[value], &fx.values("expected.loss")),
        scaled_err(&grad, &fx.values("grad.logits")),
    );
    // ignored rows get exactly no gradient; counted rows' gradients sum to 0 (softmax − target)
    for (r, row) in grad.chunks(classes).enumerate() {
        if ignored.contains(&r) {
            assert!(row.iter().all(|&g| g == 0.0), "ignored row {r}: {row:?}");
        } else {
            let sum: f32 = row.iter().sum();
            assert!(sum.abs() < 1e-6, "row {r} gradient sums to {sum}");
        }
    }
    (fx, value, grad)
}

#[test]
fn cross_entropy_with_ignored_rows_matches_pytorch() {
    let (fx, loss, _) = check_cross_entropy("cross_entropy_37x11");
    // a wrong result fails: counting the two ignored rows in the mean (/37, not /35)
    let wrong = loss * 35.0 / 37.0;
    assert!(scaled_err(&[wrong], &fx.values("expected.loss")) > 100.0 * TOL);
}

#[test]
fn cross_entropy_with_label_smoothing_matches_pytorch() {
    let (fx, _, grad) = check_cross_entropy("cross_entropy_37x11_smoothed");
    // a wrong result fails: the unsmoothed gradient is far from PyTorch's smoothed one
    let (_, _, unsmoothed) = check_cross_entropy("cross_entropy_37x11");
    assert!(scaled_err(&unsmoothed, &fx.values("grad.logits")) > 100.0 * TOL);
    assert!(scaled_err(&grad, &unsmoothed) > 100.0 * TOL);
}

#[test]
fn cross_entropy_large_logits_match_pytorch() {
    let (fx, _, grad) = check_cross_entropy("cross_entropy_64x1000_large");
    // a wrong result fails: the gradient without the upstream factor 3
    let unscaled: Vec<f32> = grad.iter().map(|g| g / 3.0).collect();
    assert!(scaled_err(&unscaled, &fx.values("grad.logits")) > 100.0 * TOL);
}
