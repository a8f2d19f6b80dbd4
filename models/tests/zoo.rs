//! Every zoo model builds, runs forward and backward on CPU with the declared shapes, and the
//! registry finds models by name.

use attn_models::{find, names, SentimentEncoder, MODELS};
use attn_runtime::model::TaskSpec;
use attn_runtime::prelude::*;
use attn_runtime::zoo::{Batch, Inputs};

#[test]
fn every_zoo_model_runs_forward_and_backward_with_declared_shapes() {
    assert!(MODELS.len() >= 15);
    for entry in MODELS {
        let meta = entry.meta();
        let mut model = entry
            .instantiate(7)
            .unwrap_or_else(|e| panic!("{}: {e}", meta.name));
        assert!(model.num_params() > 0, "{}", meta.name);
        let batch = Batch::random(meta, 3, 11);
        let out = model
            .forward(&batch, true)
            .unwrap_or_else(|e| panic!("{}: {e}", meta.name));

        let rows = match meta.task {
            TaskSpec::Classify { .. } | TaskSpec::ImageClassify { .. } => 3,
            TaskSpec::Tag { max_len, .. } => 3 * max_len,
            TaskSpec::Seq2Seq { tgt_len, .. } => 3 * tgt_len,
            TaskSpec::LanguageModel { context, .. } => 3 * context,
        };
        assert_eq!(
            out.logits_shape,
            [rows, meta.task.num_labels()],
            "{}",
            meta.name
        );
        assert!(out.logits.iter().all(|x| x.is_finite()), "{}", meta.name);

        // every declared attention map, with the declared layer and head counts
        let shapes: Vec<[usize; 4]> = out.attention.iter().map(|(_, s)| *s).collect();
        assert_eq!(shapes, meta.attention_shapes(3), "{}", meta.name);
        assert!(!shapes.is_empty(), "{}", meta.name);
        // maps are named by their layer's parameter path, encoder layers first, in order (a
        // decoder-only model's blocks are its `decoder`)
        let names: Vec<&str> = out.attention.iter().map(|(n, _)| n.as_str()).collect();
        let stack = match meta.task {
            TaskSpec::LanguageModel { .. } => "decoder",
            _ => "encoder",
        };
        for i in 0..meta.layers.min(names.len()) {
            if meta.layers > 1 {
                assert!(
                    names[i].starts_with(&format!("{stack}.layers.{i}.")),
                    "{}: {names:?}",
                    meta.name
                );
            }
        }
        let mut unique = names.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), names.len(), "{}: {names:?}", meta.name);
        // rows sum to 1 over the keys each query may see, masked keys get nothing: padding of
        // the source, and the future in a decoder's self-attention
        for ((name, _), (w, [_, heads, queries, keys])) in
            out.attention.iter().zip(out.weights.iter().zip(&shapes))
        {
            let causal = name.starts_with("decoder.") && name.ends_with("self_attn");
            let visible_keys = |b: usize, q: usize| match (&batch.inputs, causal) {
                (_, true) => q + 1,
                (Inputs::Tokens { lengths, .. }, false) => lengths[b],
                (Inputs::Images { .. }, false) => *keys,
            };
            for (row, chunk) in w.chunks(*keys).enumerate() {
                let (b, q) = (row / (heads * queries), row % queries);
                let visible: f32 = chunk[..visible_keys(b, q)].iter().sum();
                let masked: f32 = chunk[visible_keys(b, q)..].iter().sum();
                assert!(
                    (visible - 1.0).abs() < 1e-4,
                    "{}: {name} row {row} sums to {visible}",
                    meta.name
                );
                assert_eq!(
                    masked, 0.0,
                    "{}: {name}: a masked key got weight",
                    meta.name
                );
            }
        }

        let first = model
            .train_step(&batch)
            .unwrap_or_else(|e| panic!("{}: {e}", meta.name));
        assert!(
            first.is_finite() && first > 0.0,
            "{}: loss {first}",
            meta.name
        );
        let mut last = first;
        for _ in 0..15 {
            last = model.train_step(&batch).unwrap();
        }
        assert!(
            last < first,
            "{}: 16 Adam steps on one batch did not lower the loss ({first} -> {last})",
            meta.name
        );
    }
}

#[test]
fn registry_finds_models_and_names_the_nearest_on_a_typo() {
    assert_eq!(find("sentiment-encoder").unwrap().meta().heads, 4);
    let err = find("sentiment-encodr").err().unwrap().to_string();
    assert!(
        err.contains("unknown model `sentiment-encodr` (did you mean `sentiment-encoder`?)"),
        "{err}"
    );
    assert!(err.contains("digits-patches"), "{err}");
    let mut sorted = names();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), MODELS.len(), "names are unique");
    attn_models::registry()
        .check()
        .expect("no two zoo models or sweeps share a name");
    let clash = attn_models::registry()
        .model(MODELS[0])
        .check()
        .unwrap_err();
    assert!(
        matches!(
            clash,
            attn_runtime::AttnError::DuplicateName { kind: "model", .. }
        ),
        "{clash}"
    );
    for entry in MODELS {
        assert!(
            entry.meta().data.is_some(),
            "{} has a default dataset",
            entry.meta().name
        );
        assert!(
            !entry.meta().summary.is_empty(),
            "{} has a summary",
            entry.meta().name
        );
    }
}

#[test]
fn parameter_names_follow_the_declaration() {
    let dev: Cpu = Default::default();
    let model = dev.build_module::<SentimentEncoder, f32>();
    let path = std::env::temp_dir().join(format!("attn-names-{}.safetensors", std::process::id()));
    model.save_safetensors(&path).unwrap();
    let sd = StateDict::read(&path).unwrap();
    std::fs::remove_file(&path).ok();
    let names: Vec<&str> = sd.names().collect();
    for expected in [
        "embedding.weight",
        "encoder.layers.0.attention.q_proj.weight",
        "encoder.layers.0.attention.q_proj.bias",
        "encoder.layers.1.attention.out_proj.weight",
        "encoder.layers.1.norm.gamma",
        "head.proj.weight",
        "head.proj.bias",
    ] {
        assert!(names.contains(&expected), "{expected} not in {names:?}");
    }
    assert_eq!(sd.get("embedding.weight").unwrap().shape, vec![4096, 64]);
}

#[test]
fn typed_forward_backward_and_weights_of_a_declared_model() {
    let dev: Cpu = Cpu::seed_from_u64(3);
    let model = dev.build_module::<SentimentEncoder, f32>();
    let ids: Tensor<(usize, Const<64>), usize, _> =
        dev.tensor_from_vec((0..128).map(|i| i % 4096).collect(), (2, Const));
    let out = model
        .try_forward_with(
            ids.clone().traced(model.alloc_grads()),
            &ForwardOptions::train().lengths(vec![64, 5]).with_weights(),
        )
        .unwrap();
    let logits: Tensor<(usize, Const<2>), f32, _, _> = out.logits;
    assert_eq!(out.attention.len(), 2);
    let grads = logits.sum().backward();
    let g = grads
        .get(&model.encoder.layers.modules[0].attention.q_proj.weight)
        .as_vec();
    assert!(g.iter().any(|&x| x != 0.0));
    // the metadata is the declaration
    assert_eq!(SentimentEncoder::META.d_model, 64);
    assert_eq!(SentimentEncoder::META.dropout, 0.1);
    // eval mode through dfdx's Module is deterministic
    let a = model.forward(ids.clone()).as_vec();
    let b = model.forward(ids).as_vec();
    assert_eq!(a, b);
}

#[test]
fn out_of_vocabulary_ids_are_an_error_not_a_panic() {
    let dev: Cpu = Default::default();
    let model = dev.build_module::<SentimentEncoder, f32>();
    let ids: Tensor<(usize, Const<64>), usize, _> = dev.tensor_from_vec(vec![5000; 64], (1, Const));
    let err = model
        .try_forward_with(ids, &ForwardOptions::eval())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("token id 5000 at position 0 is outside the vocabulary of 4096"),
        "{err}"
    );
}

#[test]
fn fashion_vit_trains_mirrored_images_by_default_and_text_models_do_not() {
    use attn_runtime::train::recommended;
    let fashion = find("fashion-vit").unwrap().meta();
    let cfg = recommended(fashion, "fashion-mnist");
    assert!(cfg.augment.horizontal_flip && cfg.augment.max_shift == 0);
    assert!(cfg.check_for(&fashion.task).is_ok());
    for model in ["dates-transformer", "digits-vit", "bible-lm"] {
        let meta = find(model).unwrap().meta();
        let data = meta.data.unwrap().name();
        let cfg = recommended(meta, data);
        assert!(cfg.augment.is_none(), "{model}");
        assert!(cfg.check_for(&meta.task).is_ok(), "{model}");
    }
}

#[test]
fn the_translation_recipe_reads_subwords_and_decodes_with_a_beam() {
    use attn_runtime::data::{builtin, Tokenizer};
    use attn_runtime::infer::BeamSearch;
    use attn_runtime::train::{recommended, Selection};
    let meta = find("bible-transformer").unwrap().meta();
    let cfg = recommended(meta, "bible-en-es");
    assert!(cfg.check_for(&meta.task).is_ok());
    assert_eq!(cfg.beam, Some(BeamSearch::default()));
    assert_eq!(
        (
            cfg.beam.unwrap().beam_size,
            cfg.beam.unwrap().length_penalty
        ),
        (4, 0.6)
    );
    assert_eq!(cfg.selection, Selection::Bleu);
    assert!(cfg.data.truncate && cfg.label_smoothing == 0.1);
    let data = builtin("bible-en-es").unwrap();
    assert_eq!(
        (data.src_tokenizer, data.tgt_tokenizer),
        (Tokenizer::Bpe, Tokenizer::Bpe)
    );
    // the same model on another file decodes greedily unless asked
    assert_eq!(recommended(meta, "my-verses.tsv").beam, None);
}
