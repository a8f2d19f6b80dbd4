//! The vision transformer: `arch: Transformer` over image patches with a class token, through
//! the one contract (training, prediction, the report of what the class token reads).

use std::sync::atomic::AtomicBool;

use attn_runtime::data::{builtin, ImageAugment, PrepareOptions};
use attn_runtime::infer::{Output, Predictor};
use attn_runtime::prelude::*;
use attn_runtime::train::{load_run, train, Quiet, TrainConfig, TrainRequest};
use attn_runtime::zoo::{Batch, Entry, ZooEntry};

attention_model! {
    /// A tiny ViT on the digits: 2×2 patches, a class token, pre-norm blocks.
    #[name = "tiny-vit", data = "digits"]
    pub struct TinyVit {
        arch: Transformer,
        task: ImageClassify { channels: 1, height: 8, width: 8, classes: 10 },
        patch: 2, d_model: 16, heads: 2, layers: 2, ff: 32,
        activation: Gelu, norm: Pre, pooling: Cls,
    }
}

attention_model! {
    /// A tiny ViT with mean pooling and no class token.
    #[name = "tiny-mean-vit", data = "digits"]
    pub struct TinyMeanVit {
        arch: Transformer,
        task: ImageClassify { channels: 1, height: 8, width: 8, classes: 10 },
        patch: 4, d_model: 16, heads: 2, layers: 1, ff: 32,
    }
}

#[test]
fn the_class_token_is_a_parameter_before_the_patches() {
    let model = Entry::<TinyVit>::NEW.instantiate(1).unwrap();
    let params = model.params().unwrap();
    let token = params.get("class_token.token").unwrap();
    assert_eq!(token.shape, vec![16]);
    // 16 patches and the class token
    assert_eq!(params.get("positional.weight").unwrap().shape, vec![17, 16]);
    let batch = Batch::random(Entry::<TinyVit>::NEW.meta(), 2, 3);
    let out = model.forward(&batch, true).unwrap();
    assert_eq!(out.logits_shape, [2, 10]);
    assert_eq!(out.attention[0].1, [2, 2, 17, 17]);
    assert_eq!(out.attention[0].0, "encoder.layers.0.self_attn");
    // the mean-pooled model has no class token: 4 patches
    let mean = Entry::<TinyMeanVit>::NEW.instantiate(1).unwrap();
    assert!(mean.params().unwrap().get("class_token.token").is_err());
    let out = mean
        .forward(&Batch::random(Entry::<TinyMeanVit>::NEW.meta(), 2, 3), true)
        .unwrap();
    assert_eq!(out.attention[0].1, [2, 2, 4, 4]);
}

#[test]
fn the_class_token_gets_a_gradient_and_changes_the_prediction() {
    let entry = Entry::<TinyVit>::NEW;
    let mut model = entry.instantiate(2).unwrap();
    let batch = Batch::random(entry.meta(), 8, 4);
    let before = model.params().unwrap();
    model.train_step(&batch).unwrap();
    let after = model.params().unwrap();
    let moved = |name: &str| {
        let (a, b) = (before.get(name).unwrap(), after.get(name).unwrap());
        a.values.iter().zip(&b.values).any(|(x, y)| x != y)
    };
    assert!(moved("class_token.token"), "Adam moved the class token");
    assert!(moved("patch_embed.weight"));
}

#[test]
fn a_vision_transformer_learns_the_digits_and_reports_what_its_class_token_reads() {
    let dataset = builtin("digits").unwrap();
    let out = std::env::temp_dir().join(format!("attn-vit-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let outcome = train(
        TrainRequest {
            entry: &Entry::<TinyVit>::NEW,
            dataset: &dataset,
            config: TrainConfig {
                epochs: 12,
                batch_size: 32,
                lr: 3e-3,
                seed: 1,
                data: PrepareOptions::default(),
                ..TrainConfig::default()
            },
            out: out.clone(),
            resume: None,
        },
        &mut Quiet,
        &AtomicBool::new(false),
    )
    .unwrap();
    // a linear classifier of the raw pixels reaches about 95%; chance is 10%
    assert!(
        outcome.test.accuracy() > 0.9,
        "test accuracy {}",
        outcome.test.accuracy()
    );
    let predictor = Predictor::new(load_run(&outcome.run_dir, &Entry::<TinyVit>::NEW).unwrap());
    let pixels = vec![0.5; 64];
    let p = predictor.predict_image(&pixels).unwrap();
    assert!(matches!(p.output, Output::Class { .. }));
    assert_eq!(p.patch_grid, Some([4, 4]));
    assert_eq!(p.input_tokens[0], "<cls>");
    assert_eq!(p.input_tokens.len(), 17);
    let dir = out.join("report");
    attn_runtime::viz::write_report(&p, "tiny-vit", "grey", &dir).unwrap();
    for file in ["class-token.png", "class-token.svg", "index.html"] {
        assert!(dir.join(file).exists(), "{file}");
    }
    let html = std::fs::read_to_string(dir.join("index.html")).unwrap();
    assert!(html.contains("What the class token reads"));
    // the class token's row of each map sums to 1 over the class token and the 16 patches
    for map in &p.attention {
        let [_, heads, queries, keys] = map.shape;
        for h in 0..heads {
            let row = &map.weights[h * queries * keys..h * queries * keys + keys];
            assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-4);
        }
    }
    let _ = std::fs::remove_dir_all(out);
}

#[test]
fn augmented_training_is_seeded_recorded_and_changes_the_run() {
    let dataset = builtin("digits").unwrap();
    let out = std::env::temp_dir().join(format!("attn-vit-augment-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let run = |augment: ImageAugment| {
        train(
            TrainRequest {
                entry: &Entry::<TinyMeanVit>::NEW,
                dataset: &dataset,
                config: TrainConfig {
                    epochs: 1,
                    batch_size: 32,
                    lr: 3e-3,
                    data: PrepareOptions {
                        max_train: Some(320),
                        ..PrepareOptions::default()
                    },
                    attention_reports: false,
                    augment,
                    ..TrainConfig::default()
                },
                out: out.clone(),
                resume: None,
            },
            &mut Quiet,
            &AtomicBool::new(false),
        )
        .unwrap()
    };
    let augment = ImageAugment {
        horizontal_flip: true,
        max_shift: 1,
    };
    let (a, b, plain) = (run(augment), run(augment), run(ImageAugment::default()));
    // the same seed draws the same flips and shifts; without them the model learns otherwise
    assert_eq!(a.history[0].train_loss, b.history[0].train_loss);
    assert_eq!(a.test.loss(), b.test.loss());
    assert_ne!(a.history[0].train_loss, plain.history[0].train_loss);
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(a.run_dir.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["train"]["augment"]["max_shift"], 1, "{config}");
    assert_eq!(config["train"]["augment"]["horizontal_flip"], true);
    let _ = std::fs::remove_dir_all(out);
}
