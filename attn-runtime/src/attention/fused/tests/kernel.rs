//! The fused kernel against the naive reference: every mask kind and combination, shapes that
//! are not multiples of the tile, `Sq != Sk`, and queries that see no key.

use super::reference::{assert_close, reference, values};
use crate::attention::fused::{backward, forward, AttnDims, FusedParams, Scratch};
use crate::attention::{AttentionMask, BoolMask};
use crate::AttnError;

const TOL: f32 = 1e-5;

fn dims(batch: usize, heads: usize, q_len: usize, k_len: usize, hd: usize, vd: usize) -> AttnDims {
    AttnDims {
        batch,
        heads,
        q_len,
        k_len,
        head_dim: hd,
        value_dim: vd,
    }
}

/// A random boolean mask, `[B, Sq, Sk]` or shared, with about `density` of the keys allowed.
fn random_bool(d: &AttnDims, per_batch: bool, density: f32, seed: u64) -> BoolMask {
    let n = if per_batch { d.batch } else { 1 } * d.q_len * d.k_len;
    let allowed = values(n, seed)
        .iter()
        .map(|&x| x < -2.0 + 4.0 * density)
        .collect();
    if per_batch {
        BoolMask::per_sequence(d.batch, d.q_len, d.k_len, allowed).unwrap()
    } else {
        BoolMask::shared(d.q_len, d.k_len, allowed).unwrap()
    }
}

/// Every mask kind, alone and combined, for inputs of sizes `d`.
fn masks(d: &AttnDims) -> Vec<(&'static str, AttentionMask)> {
    let lengths: Vec<usize> = (0..d.batch)
        .map(|b| match b % 3 {
            0 => d.k_len,
            1 => (d.k_len / 3).max(1),
            _ => 0, // a sequence with no key at all
        })
        .collect();
    let none = AttentionMask::none;
    let mut row0_blocked = vec![true; d.q_len * d.k_len];
    row0_blocked[..d.k_len].fill(false);
    vec![
        ("none", none()),
        ("causal", none().causal()),
        ("key_lengths", none().key_lengths(lengths.clone())),
        ("window_1", none().window(1)),
        ("window_5", none().window(5)),
        ("window_wide", none().window(70)),
        (
            "bool_shared",
            none().allowed(random_bool(d, false, 0.6, 11)),
        ),
        (
            "bool_per_seq",
            none().allowed(random_bool(d, true, 0.3, 12)),
        ),
        (
            "bool_row_blocked",
            none().allowed(BoolMask::shared(d.q_len, d.k_len, row0_blocked).unwrap()),
        ),
        (
            "causal_lengths",
            none().causal().key_lengths(lengths.clone()),
        ),
        ("causal_window", none().causal().window(3)),
        (
            "causal_window_bool",
            none()
                .causal()
                .window(9)
                .allowed(random_bool(d, false, 0.7, 13)),
        ),
        (
            "all",
            none()
                .causal()
                .window(40)
                .key_lengths(lengths)
                .allowed(random_bool(d, true, 0.8, 14)),
        ),
    ]
}

fn check(d: AttnDims, scale: f32, name: &str, mask: &AttentionMask) {
    let params = FusedParams {
        dims: d,
        scale,
        mask: mask.kernel_view(),
        dropout: None,
    };
    let (nq, nk, nv, no, nl) = d.lens();
    let (q, k, v, dout) = (values(nq, 1), values(nk, 2), values(nv, 3), values(no, 4));
    let want = reference(&params, &q, &k, &v, &dout, &|_, _, _| 1.0);
    let mut out = vec![f32::NAN; no];
    let mut lse = vec![f32::NAN; nl];
    forward(&params, &q, &k, &v, &mut out, &mut lse).unwrap();
    let what = format!("{d:?} {name}");
    assert_close(&format!("{what} out"), &out, &want.out, TOL);
    // gradients are written whole: a value left as it was shows as NaN
    let (mut dq, mut dk, mut dv) = (vec![f32::NAN; nq], vec![f32::NAN; nk], vec![f32::NAN; nv]);
    backward(
        &params, &q, &k, &v, &out, &lse, &dout, &mut dq, &mut dk, &mut dv,
    )
    .unwrap();
    assert_close(&format!("{what} dq"), &dq, &want.dq, TOL);
    assert_close(&format!("{what} dk"), &dk, &want.dk, TOL);
    assert_close(&format!("{what} dv"), &dv, &want.dv, TOL);
}

#[test]
fn matches_the_reference_for_every_mask_and_odd_shapes() {
    let shapes = [
        dims(1, 1, 1, 1, 1, 1),
        dims(2, 3, 5, 7, 4, 6),
        dims(3, 2, 33, 65, 8, 3),
        dims(2, 1, 70, 129, 16, 17),
        dims(3, 1, 100, 40, 5, 7),
        dims(1, 2, 40, 100, 32, 32),
    ];
    for d in shapes {
        let scale = 1.0 / (d.head_dim as f32).sqrt();
        for (name, mask) in masks(&d) {
            check(d, scale, name, &mask);
        }
    }
    // unscaled and a custom factor
    check(
        dims(1, 2, 20, 30, 8, 8),
        1.0,
        "none",
        &AttentionMask::none(),
    );
    check(
        dims(1, 2, 20, 30, 8, 8),
        0.05,
        "causal",
        &AttentionMask::none().causal(),
    );
}

#[test]
fn queries_that_see_no_key_get_zero_output_and_zero_gradients() {
    let d = dims(2, 2, 40, 70, 8, 8);
    // sequence 1 has no key; in sequence 0, query 0 is blocked by the boolean mask
    let mut allowed = vec![true; d.q_len * d.k_len];
    allowed[..d.k_len].fill(false);
    let mask = AttentionMask::none()
        .key_lengths(vec![70, 0])
        .allowed(BoolMask::shared(d.q_len, d.k_len, allowed).unwrap());
    let params = FusedParams {
        dims: d,
        scale: 0.3,
        mask: mask.kernel_view(),
        dropout: None,
    };
    let (nq, nk, nv, no, nl) = d.lens();
    let (q, k, v, dout) = (values(nq, 5), values(nk, 6), values(nv, 7), values(no, 8));
    let mut out = vec![f32::NAN; no];
    let mut lse = vec![f32::NAN; nl];
    forward(&params, &q, &k, &v, &mut out, &mut lse).unwrap();
    let (mut dq, mut dk, mut dv) = (vec![f32::NAN; nq], vec![f32::NAN; nk], vec![f32::NAN; nv]);
    backward(
        &params, &q, &k, &v, &out, &lse, &dout, &mut dq, &mut dk, &mut dv,
    )
    .unwrap();
    assert!(out
        .iter()
        .chain(&dq)
        .chain(&dk)
        .chain(&dv)
        .all(|x| x.is_finite()));
    let (sq, hd, vd) = (d.q_len, d.head_dim, d.value_dim);
    for h in 0..2 {
        // sequence 0, query 0
        let bh = h;
        assert!(out[bh * sq * vd..][..vd].iter().all(|&x| x == 0.0));
        assert!(dq[bh * sq * hd..][..hd].iter().all(|&x| x == 0.0));
        assert!(out[bh * sq * vd..][vd..2 * vd].iter().any(|&x| x != 0.0));
        // all of sequence 1
        let bh = 2 + h;
        assert!(out[bh * sq * vd..][..sq * vd].iter().all(|&x| x == 0.0));
        assert!(dq[bh * sq * hd..][..sq * hd].iter().all(|&x| x == 0.0));
        assert!(dk[bh * d.k_len * hd..][..d.k_len * hd]
            .iter()
            .all(|&x| x == 0.0));
        assert!(dv[bh * d.k_len * vd..][..d.k_len * vd]
            .iter()
            .all(|&x| x == 0.0));
    }
}

#[test]
fn no_keys_at_all_gives_zeros() {
    let d = dims(1, 2, 3, 0, 4, 5);
    let params = FusedParams {
        dims: d,
        scale: 1.0,
        mask: Default::default(),
        dropout: None,
    };
    let mut out = vec![f32::NAN; 2 * 3 * 5];
    let mut lse = vec![0.0; 6];
    forward(&params, &values(24, 1), &[], &[], &mut out, &mut lse).unwrap();
    assert!(out.iter().all(|&x| x == 0.0));
}

#[test]
fn bad_inputs_are_errors_not_panics() {
    let d = dims(1, 1, 4, 4, 2, 2);
    let good = FusedParams {
        dims: d,
        scale: 1.0,
        mask: Default::default(),
        dropout: None,
    };
    let x = values(8, 1);
    let (mut out, mut lse) = (vec![0.0; 8], vec![0.0; 4]);
    let err = forward(&good, &x[..7], &x, &x, &mut out, &mut lse).unwrap_err();
    assert!(
        matches!(&err, AttnError::ShapeMismatch { path, .. } if path.contains("q")),
        "{err}"
    );
    let mask = AttentionMask::none().window(0);
    let bad = FusedParams {
        mask: mask.kernel_view(),
        ..good
    };
    assert!(matches!(
        forward(&bad, &x, &x, &x, &mut out, &mut lse),
        Err(AttnError::InvalidMask { .. })
    ));
    let mask = AttentionMask::none().key_lengths(vec![1, 2]);
    let bad = FusedParams {
        mask: mask.kernel_view(),
        ..good
    };
    assert!(forward(&bad, &x, &x, &x, &mut out, &mut lse).is_err());
    let bad = FusedParams {
        dims: dims(1, 1, 4, 4, 0, 2),
        ..good
    };
    let err = forward(&bad, &[], &[], &x, &mut out, &mut lse).unwrap_err();
    assert!(matches!(err, AttnError::InvalidInput { .. }), "{err}");
    let (mut g1, mut g2, mut g3) = (vec![0.0; 8], vec![0.0; 8], vec![0.0; 3]);
    let err = backward(&good, &x, &x, &x, &x, &lse, &x, &mut g1, &mut g2, &mut g3).unwrap_err();
    assert!(err.to_string().contains("dv"), "{err}");
}

#[test]
fn scratch_grows_with_sequence_times_width_not_its_square() {
    let d = dims(1, 8, 4096, 4096, 64, 64);
    let s = Scratch::of(&d, 16);
    let seq_times_width = d.problems() * d.k_len * d.head_dim;
    let square = d.problems() * d.q_len * d.k_len;
    assert!(s.forward <= 2 * seq_times_width, "{s:?}");
    // per thread: one head's keys and values, repacked
    assert!(s.backward <= 16 * 3 * d.k_len * d.head_dim, "{s:?}");
    assert!(s.forward.max(s.backward) * 8 < square, "{s:?}");
    // doubling the sequence doubles the scratch (up to the fixed tiles)
    let d2 = dims(1, 8, 8192, 8192, 64, 64);
    let s2 = Scratch::of(&d2, 16);
    assert!(s2.forward <= 2 * s.forward && s2.backward <= 2 * s.backward);
}

/// Rows `from..to` of every (batch, head) of `x: [B·H, S, W]`.
fn rows(x: &[f32], problems: usize, s: usize, w: usize, from: usize, to: usize) -> Vec<f32> {
    (0..problems)
        .flat_map(|bh| x[(bh * s + from) * w..(bh * s + to) * w].iter().copied())
        .collect()
}

#[test]
fn cached_rows_appended_in_pieces_give_the_full_forward_exactly() {
    use crate::attention::fused::{forward_cached, KvRows};
    // 2 sequences, 3 heads, 150 keys (past two key blocks) arriving as 1 + 63 + 1 + 85 rows
    let (b, h, sk, hd, vd) = (2, 3, 150, 5, 4);
    let full = dims(b, h, 4, sk, hd, vd);
    let (nq, nk, nv, no, nl) = full.lens();
    let (q, k, v) = (values(nq, 21), values(nk, 22), values(nv, 23));
    let mut kv = KvRows::new(b, h, hd, vd);
    let mut at = 0;
    for n in [1, 63, 1, 85] {
        let (kp, vp) = (
            rows(&k, b * h, sk, hd, at, at + n),
            rows(&v, b * h, sk, vd, at, at + n),
        );
        kv.append(&kp, &vp).unwrap();
        at += n;
        assert_eq!(kv.len(), at);
    }
    for (name, mask) in [
        ("none", AttentionMask::none()),
        ("window", AttentionMask::none().window(30)),
    ] {
        let params = FusedParams {
            dims: full,
            scale: 0.4,
            mask: mask.kernel_view(),
            dropout: None,
        };
        let (mut want, mut want_lse) = (vec![0.0; no], vec![0.0; nl]);
        forward(&params, &q, &k, &v, &mut want, &mut want_lse).unwrap();
        let (mut out, mut lse) = (vec![f32::NAN; no], vec![f32::NAN; nl]);
        forward_cached(&params, &q, &kv, &mut out, &mut lse).unwrap();
        assert_eq!(out, want, "{name}");
        assert_eq!(lse, want_lse, "{name}");
        let reference = reference(&params, &q, &k, &v, &values(no, 24), &|_, _, _| 1.0);
        assert_close(name, &out, &reference.out, TOL);
    }
    // a call that does not match what the rows hold is an error
    let none = AttentionMask::none();
    let params = FusedParams {
        dims: dims(b, h, 4, sk - 1, hd, vd),
        scale: 0.4,
        mask: none.kernel_view(),
        dropout: None,
    };
    let (mut out, mut lse) = (vec![0.0; no], vec![0.0; nl]);
    assert!(matches!(
        forward_cached(&params, &q, &kv, &mut out, &mut lse),
        Err(AttnError::ShapeMismatch { .. })
    ));
    assert!(kv.append(&[0.0; 7], &[]).is_err());
}
