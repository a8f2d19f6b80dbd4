//! Golden test of the vision transformer's patch embedding and class-token path against PyTorch
//! (`tools/gen_vit_fixtures.py`): a tiny ViT built as torchvision and timm build one
//! (`nn.Conv2d(CH, M, P, stride=P)` patch embedding, `cls_token`, `pos_embed`, a pre-norm
//! `nn.TransformerEncoderLayer` with exact GELU, the final `nn.LayerNorm`, an `nn.Linear` head on
//! the class token), in float64, against the same model declared with `attention_model!` and
//! loaded with PyTorch's parameters. The logits, the cross-entropy loss, the gradient of the
//! images and the gradient of every parameter must match within [`TOL`].
//!
//! PyTorch's names map to ours: the conv weight `[M, CH, P, P]` is our `patch_embed.weight`
//! `[M, CH·P·P]` (the fixture also holds it reshaped, `patch_embed.weight_as_linear`),
//! `cls_token [1, 1, M]` is `class_token.token [M]`, `pos_embed [1, L, M]` is
//! `positional.weight [L, M]`, the fused `in_proj_*` split by rows into `q_proj`, `k_proj`,
//! `v_proj`, `linearN` live under `ffn.`, LayerNorm's `weight`/`bias` are dfdx's `gamma`/`beta`,
//! and `head.*` is `head.proj.*`.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use attn_runtime::loss::try_cross_entropy;
use attn_runtime::param::{for_each_param, for_each_param_mut};
use attn_runtime::prelude::*;
use common::*;

attention_model! {
    /// The fixture's ViT: 4×4 one-channel images, 2×2 patches, a class token, one pre-norm block.
    pub struct GoldenVit {
        arch: Transformer,
        task: ImageClassify { channels: 1, height: 4, width: 4, classes: 3 },
        patch: 2, d_model: 8, heads: 2, layers: 1, ff: 16,
        activation: Gelu, norm: Pre, pooling: Cls,
    }
}

const CH: usize = 1;
const IH: usize = 4;
const IW: usize = 4;
const M: usize = 8;
type Dev = TestDevice;
const FIXTURE: &str = "vit_patch_cls";

/// The PyTorch tensor (without the `param.`/`grad.` prefix) and the rows of it that hold our
/// parameter `ours`.
fn pytorch_source(ours: &str) -> (String, Option<Range<usize>>) {
    for (i, part) in ["q_proj", "k_proj", "v_proj"].iter().enumerate() {
        if let Some((block, leaf)) = ours.split_once(&format!(".self_attn.{part}.")) {
            let name = format!("{block}.self_attn.in_proj_{leaf}");
            return (name, Some(i * M..(i + 1) * M));
        }
    }
    let name = match ours {
        "patch_embed.weight" => "patch_embed.weight_as_linear".to_string(),
        "class_token.token" => "cls_token".to_string(),
        "positional.weight" => "pos_embed".to_string(),
        _ => ours
            .replace("head.proj.", "head.")
            .replace(".ffn.", ".")
            .replace(".gamma", ".weight")
            .replace(".beta", ".bias"),
    };
    (name, None)
}

/// The values of fixture tensor `name` (rows `rows` when given), checked to fit a tensor of
/// shape `dims` (PyTorch's leading 1s of `cls_token` and `pos_embed` dropped).
fn source_values(
    fx: &Fixture,
    name: &str,
    rows: &Option<Range<usize>>,
    dims: &[usize],
) -> Vec<f32> {
    let mut shape = fx.shape(name);
    let values = fx.values(name);
    let values = match rows {
        Some(rows) => {
            let row_len: usize = shape[1..].iter().product();
            shape[0] = rows.len();
            values[rows.start * row_len..rows.end * row_len].to_vec()
        }
        None => values,
    };
    let first = shape.iter().position(|&d| d != 1).unwrap_or(shape.len());
    assert_eq!(
        &shape[first..],
        dims,
        "{FIXTURE}: `{name}` {rows:?} does not fit our shape {dims:?}"
    );
    values
}

/// The worst `|got − want| / (1 + |want|)` (the metric of [`assert_close`]).
fn scaled_error(got: &[f32], want: &[f32]) -> f64 {
    assert_eq!(got.len(), want.len());
    got.iter()
        .zip(want)
        .map(|(&g, &w)| (g as f64 - w as f64).abs() / (1.0 + (w as f64).abs()))
        .fold(0.0, f64::max)
}

/// Loads the fixture's parameters into our model, runs it on the fixture's images and returns
/// the scaled error of every compared tensor, by fixture name (`expected.logits`, `loss`,
/// `grad.images`, `grad.<pytorch name>` for every parameter, some split by rows).
fn vit_errors() -> BTreeMap<String, f64> {
    let fx = Fixture::load("transformer", FIXTURE);
    assert_eq!(
        (
            fx.usize("channels"),
            fx.usize("height"),
            fx.usize("width"),
            fx.usize("patch"),
            fx.usize("m"),
            fx.usize("h"),
            fx.usize("f"),
            fx.usize("layers"),
            fx.usize("classes"),
        ),
        (CH, IH, IW, 2, M, 2, 16, 1, 3),
        "{FIXTURE}: the fixture's sizes are the declaration's"
    );
    let dev = Dev::seed_from_u64(0);
    let mut model = dev.build_module::<GoldenVit, f32>();

    // PyTorch's parameters under our names; every PyTorch parameter must be used.
    let mut used = BTreeSet::new();
    for_each_param_mut(&mut model, |(ours, _, p)| {
        let (name, rows) = pytorch_source(ours);
        let values = source_values(&fx, &format!("param.{name}"), &rows, &p.dims());
        p.set_values_f64(&values.iter().map(|&v| v as f64).collect::<Vec<_>>());
        used.insert(name);
        Ok(())
    })
    .unwrap();
    used.insert("patch_embed.weight".into()); // the conv form of patch_embed.weight_as_linear
    let unused: Vec<&str> = fx
        .sd
        .names()
        .filter_map(|n| n.strip_prefix("param."))
        .filter(|n| !used.contains(*n))
        .collect();
    assert!(
        unused.is_empty(),
        "{FIXTURE}: PyTorch parameters we did not load: {unused:?}"
    );

    let b = fx.usize("b");
    let labels: Vec<usize> = fx.values("labels").iter().map(|&l| l as usize).collect();
    let images = tensor(
        &dev,
        &fx,
        "input.images",
        (b, Const::<CH>, Const::<IH>, Const::<IW>),
    );
    let out = model
        .try_forward_with(images.leaky_trace(), &ForwardOptions::eval())
        .unwrap();
    let mut errors = BTreeMap::new();
    let mut record = |name: String, got: &[f32], want: &[f32]| {
        errors.insert(name, scaled_error(got, want));
    };
    record(
        "expected.logits".into(),
        &out.logits.as_vec(),
        &fx.values("expected.logits"),
    );
    let loss = try_cross_entropy(out.logits, &labels).unwrap();
    record("loss".into(), &[loss.array()], &fx.values("loss"));
    let grads = loss.backward();
    record(
        "grad.images".into(),
        &grads.get(&images).as_vec(),
        &fx.values("grad.images"),
    );

    let mut compared = BTreeSet::new();
    for_each_param(&model, |(ours, trainable, p)| {
        assert!(trainable, "{ours} is a parameter");
        let got: Vec<f32> = p
            .grad_values_f64(&grads)
            .iter()
            .map(|&v| v as f32)
            .collect();
        let (name, rows) = pytorch_source(ours);
        let want = source_values(&fx, &format!("grad.{name}"), &rows, &p.dims());
        let key = match &rows {
            Some(r) => format!("grad.{name}[{}..{}] ({ours})", r.start, r.end),
            None => format!("grad.{name}"),
        };
        record(key, &got, &want);
        if ours == "patch_embed.weight" {
            // the same values in the conv layout [M, CH, P, P]
            record(
                "grad.patch_embed.weight".into(),
                &got,
                &fx.values("grad.patch_embed.weight"),
            );
        }
        compared.insert(name);
        Ok(())
    })
    .unwrap();
    compared.insert("patch_embed.weight".into());
    let missing: Vec<&str> = fx
        .sd
        .names()
        .filter_map(|n| n.strip_prefix("grad."))
        .filter(|n| *n != "images" && !compared.contains(*n))
        .collect();
    assert!(
        missing.is_empty(),
        "{FIXTURE}: gradients not compared: {missing:?}"
    );
    for (name, err) in &errors {
        eprintln!("{FIXTURE}: {name}: scaled error {err:.3e}");
    }
    errors
}

/// Asserts the forward values (`expected.logits`, `loss`) or the gradients within [`TOL`],
/// naming every tensor out of tolerance.
fn check(gradients: bool) {
    assert_errors_within_tol(FIXTURE, &vit_errors(), gradients);
}

#[test]
fn vit_patch_embedding_and_class_token_logits_and_loss_match_pytorch() {
    check(false);
}

#[test]
fn vit_patch_embedding_and_class_token_gradients_match_pytorch() {
    check(true);
}
