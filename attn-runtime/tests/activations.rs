//! Every feed-forward activation against its reference formula (value and derivative, on a grid
//! from -6 to 6), and against PyTorch's values (`tools/gen_transformer_fixtures.py`).

mod common;

use attn_runtime::prelude::*;
use attn_runtime::transformer::{Activation, Gelu, GeluTanh, LeakyRelu, Relu, Sigmoid, Silu, Tanh};
use common::*;

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

fn normal_pdf(x: f64) -> f64 {
    (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt()
}

fn normal_cdf(x: f64) -> f64 {
    0.5 * (1.0 + libm::erf(x / std::f64::consts::SQRT_2))
}

/// `f` and `f'` of the tanh approximation of GELU.
fn gelu_tanh(x: f64) -> (f64, f64) {
    let c = (2.0 / std::f64::consts::PI).sqrt();
    let u = c * (x + 0.044715 * x.powi(3));
    let t = u.tanh();
    let du = c * (1.0 + 3.0 * 0.044715 * x * x);
    (
        0.5 * x * (1.0 + t),
        0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * du,
    )
}

fn check<A: Activation>(reference: impl Fn(f64) -> (f64, f64), pytorch: &str) {
    let dev = TestDevice::default();
    let fx = Fixture::load("transformer", "activations");
    let xs = fx.values("x");
    let x = dev.tensor_from_vec(xs.clone(), (xs.len(),));
    let y = A::try_apply(x.leaky_trace()).unwrap();
    let got = y.as_vec();
    let grads = y.sum().backward();
    let slopes = grads.get(&x).as_vec();
    let (want, want_slope): (Vec<f32>, Vec<f32>) = xs
        .iter()
        .map(|&x| {
            let (f, df) = reference(x as f64);
            (f as f32, df as f32)
        })
        .unzip();
    assert_close(&format!("{} value", A::NAME), &got, &want, 1e-5);
    assert_close(
        &format!("{} derivative", A::NAME),
        &slopes,
        &want_slope,
        1e-5,
    );
    fx.assert_close(pytorch, &got);
}

#[test]
fn relu_matches_its_formula() {
    check::<Relu>(|x| if x > 0.0 { (x, 1.0) } else { (0.0, 0.0) }, "relu");
}

#[test]
fn exact_gelu_matches_its_formula() {
    check::<Gelu>(
        |x| (x * normal_cdf(x), normal_cdf(x) + x * normal_pdf(x)),
        "gelu",
    );
}

#[test]
fn tanh_gelu_matches_its_formula() {
    check::<GeluTanh>(gelu_tanh, "gelu_tanh");
}

#[test]
fn silu_matches_its_formula() {
    check::<Silu>(
        |x| (x * sigmoid(x), sigmoid(x) * (1.0 + x * (1.0 - sigmoid(x)))),
        "silu",
    );
}

#[test]
fn tanh_matches_its_formula() {
    check::<Tanh>(|x| (x.tanh(), 1.0 - x.tanh().powi(2)), "tanh");
}

#[test]
fn sigmoid_matches_its_formula() {
    check::<Sigmoid>(|x| (sigmoid(x), sigmoid(x) * (1.0 - sigmoid(x))), "sigmoid");
}

#[test]
fn leaky_relu_matches_its_formula() {
    check::<LeakyRelu>(
        |x| if x > 0.0 { (x, 1.0) } else { (0.01 * x, 0.01) },
        "leaky_relu",
    );
}
