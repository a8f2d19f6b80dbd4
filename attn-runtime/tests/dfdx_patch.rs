//! What attn's patch of dfdx (`shims/dfdx/PATCH.md`) changes in dfdx's own operations: a
//! matmul's output takes a buffer from the allocation cache without the zero-fill, which the
//! product then writes whole. Each layout dfdx's matmul forwards take, on a recycled buffer full
//! of NaN, against the textbook product in `f64`; an empty inner dimension still gives zeros.

use attn_runtime::prelude::*;

/// `a · b` of row-major `a: [m, k]` and `b: [k, n]`, in `f64`.
fn textbook(a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Vec<f64> {
    let mut out = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            out[i * n + j] = (0..k)
                .map(|p| f64::from(a[i * k + p]) * f64::from(b[p * n + j]))
                .sum();
        }
    }
    out
}

fn values(len: usize, seed: usize) -> Vec<f32> {
    (0..len)
        .map(|i| ((i * 29 + seed * 13) % 19) as f32 / 4.0 - 2.0)
        .collect()
}

/// A cache-enabled device whose cache holds one buffer of `len` NaNs, and that buffer's address.
fn device_with_nan_buffer(len: usize) -> (Cpu, *const f32) {
    let dev = Cpu::seed_from_u64(0);
    dev.enable_cache();
    let junk = dev.tensor_from_vec(vec![f32::NAN; len], (len,));
    let at = junk.storage_values().as_ptr();
    drop(junk);
    (dev, at)
}

/// The inputs of the products: four batches of `a: [m, k]` and of `b: [k, n]`, row-major.
struct Inputs {
    a: Vec<f32>,
    b: Vec<f32>,
    m: usize,
    k: usize,
    n: usize,
}

impl Inputs {
    /// `got`, `batches` row-major `[m, n]` products, against the textbook products of the
    /// batches of `a` and of `b` (or of its first batch for each, where `b_shared`).
    fn check(&self, case: &str, got: &[f32], batches: usize, b_shared: bool) {
        let Inputs { a, b, m, k, n } = self;
        let (m, k, n) = (*m, *k, *n);
        assert_eq!(got.len(), batches * m * n, "{case}: output size");
        for t in 0..batches {
            let bt = if b_shared { 0 } else { t };
            let want = textbook(&a[t * m * k..], &b[bt * k * n..], m, k, n);
            for (e, (g, w)) in got[t * m * n..][..m * n].iter().zip(&want).enumerate() {
                assert!(
                    (f64::from(*g) - w).abs() <= 1e-5 * (1.0 + w.abs()),
                    "{case} batch {t} [{e}]: {g} vs {w}"
                );
            }
        }
    }
}

#[test]
fn matmul_outputs_on_recycled_buffers_are_the_textbook_products() {
    let (m, k, n) = (5, 7, 3);
    let inputs = Inputs {
        a: values(4 * m * k, 1),
        b: values(4 * k * n, 2),
        m,
        k,
        n,
    };
    let (a, b) = (&inputs.a, &inputs.b);

    let (dev, junk) = device_with_nan_buffer(m * n);
    let x = dev.tensor_from_vec(a[..m * k].to_vec(), (m, k));
    let y = dev.tensor_from_vec(b[..k * n].to_vec(), (k, n));
    let out = x.matmul(y);
    assert_eq!(out.storage_values().as_ptr(), junk, "the NaN buffer reused");
    inputs.check("[m,k]·[k,n]", out.storage_values(), 1, true);

    let (dev, junk) = device_with_nan_buffer(2 * m * n);
    let x = dev.tensor_from_vec(a[..2 * m * k].to_vec(), (2, m, k));
    let y = dev.tensor_from_vec(b[..k * n].to_vec(), (k, n));
    let out = x.matmul(y);
    assert_eq!(out.storage_values().as_ptr(), junk);
    inputs.check("[b,m,k]·[k,n]", out.storage_values(), 2, true);

    let (dev, junk) = device_with_nan_buffer(2 * m * n);
    let x = dev.tensor_from_vec(a[..2 * m * k].to_vec(), (2, m, k));
    let y = dev.tensor_from_vec(b[..2 * k * n].to_vec(), (2, k, n));
    let out = x.matmul(y);
    assert_eq!(out.storage_values().as_ptr(), junk);
    inputs.check("[b,m,k]·[b,k,n]", out.storage_values(), 2, false);

    let (dev, junk) = device_with_nan_buffer(4 * m * n);
    let x = dev.tensor_from_vec(a.clone(), (2, 2, m, k));
    let y = dev.tensor_from_vec(b.clone(), (2, 2, k, n));
    let out = x.matmul(y);
    assert_eq!(out.storage_values().as_ptr(), junk);
    inputs.check("[b,s,m,k]·[b,s,k,n]", out.storage_values(), 4, false);
}

#[test]
fn an_empty_inner_dimension_gives_zeros_on_a_recycled_buffer() {
    let (dev, _) = device_with_nan_buffer(6);
    let x = dev.tensor_from_vec(Vec::<f32>::new(), (2, 0));
    let y = dev.tensor_from_vec(Vec::<f32>::new(), (0, 3));
    assert_eq!(x.matmul(y).storage_values(), &[0.0; 6]);
}
