//! Transformer models: the cached incremental decoder equals the full causal decoder at every
//! step, weight tying shares the embedding, and a seeded encoder-decoder learns to reverse.

mod common;

use attn_runtime::loss::IGNORE;
use attn_runtime::prelude::*;
use attn_runtime::pytorch_names::{from_pytorch_names, to_pytorch_names};
use attn_runtime::tokens::{BOS, EOS, PAD, RESERVED};
use attn_runtime::zoo::{Batch, Entry, Inputs, ZooEntry};
use common::*;
use rand::{rngs::StdRng, Rng, SeedableRng};

attention_model! {
    /// A small pre-norm encoder-decoder with sinusoidal positions and tied output weights.
    #[name = "tiny-translator", data = "reverse"]
    pub struct TinyTranslator {
        arch: Transformer,
        task: Seq2Seq { src_vocab: 12, tgt_vocab: 12, src_len: 8, tgt_len: 9 },
        d_model: 32, heads: 4, ff: 64,
        encoder_layers: 2, decoder_layers: 2,
        activation: Gelu, norm: Pre, positional: Sinusoidal,
        tie_embeddings: true,
    }
}

attention_model! {
    /// Post-norm, rotary positions, an encoder narrower than the decoder.
    #[name = "tiny-rotary-translator", data = "reverse"]
    pub struct TinyRotaryTranslator {
        arch: Transformer,
        task: Seq2Seq { src_vocab: 12, tgt_vocab: 12, src_len: 8, tgt_len: 9 },
        d_model: 32, kdim: 16, heads: 4, ff: 64,
        encoder_layers: 1, decoder_layers: 2,
        activation: Relu, norm: Post, positional: Rotary,
    }
}

attention_model! {
    /// Learned positions, SwiGLU.
    #[name = "tiny-learned-translator", data = "reverse"]
    pub struct TinyLearnedTranslator {
        arch: Transformer,
        task: Seq2Seq { src_vocab: 12, tgt_vocab: 12, src_len: 8, tgt_len: 9 },
        d_model: 32, heads: 2, ff: 48,
        encoder_layers: 1, decoder_layers: 1,
        activation: Swiglu, norm: Pre, positional: Learned,
    }
}

attention_model! {
    /// Post-norm, relu, learned positions, its own output layer, vocabularies and lengths that
    /// differ, a deeper decoder: the other side of each choice `export --format pytorch` maps.
    #[name = "tiny-post-translator", data = "reverse"]
    pub struct TinyPostTranslator {
        arch: Transformer,
        task: Seq2Seq { src_vocab: 13, tgt_vocab: 11, src_len: 7, tgt_len: 6 },
        d_model: 16, heads: 2, ff: 24,
        encoder_layers: 1, decoder_layers: 2,
        activation: Relu, norm: Post, positional: Learned,
    }
}

attention_model! {
    /// A transformer encoder classifier, mean-pooled.
    #[name = "tiny-classifier", data = "sentiment"]
    pub struct TinyClassifier {
        arch: Transformer,
        task: Classify { vocab: 14, max_len: 7, classes: 3 },
        d_model: 16, heads: 2, ff: 24, layers: 2,
        activation: Gelu, norm: Pre, positional: Sinusoidal,
    }
}

attention_model! {
    /// A post-norm transformer tagger with learned positions.
    #[name = "tiny-tagger", data = "sort"]
    pub struct TinyTagger {
        arch: Transformer,
        task: Tag { vocab: 10, max_len: 6, tags: 5 },
        d_model: 8, heads: 2, ff: 16, layers: 1,
        activation: Relu, norm: Post, positional: Learned,
    }
}

/// Feeds the decoder inputs one step at a time through the cache and compares each step's
/// logits with the full causal pass over the same inputs.
macro_rules! check_cache {
    ($model:ty, $seed:expr) => {{
        let dev = TestDevice::seed_from_u64($seed);
        let model = dev.build_module::<$model, f32>();
        let src = dev.tensor_from_vec(
            vec![4, 5, 6, 7, 8, PAD, PAD, PAD, 9, 10, 11, 4, 5, 6, 7, 8],
            (2, Const::<8>),
        );
        let lengths = vec![5, 8];
        // targets chosen so the full pass feeds fixed, non-greedy inputs
        let targets: Vec<usize> = (0..18).map(|i| RESERVED + (i * 5) % 8).collect();
        let opts = ForwardOptions {
            teacher_forcing: Some(1.0),
            ..ForwardOptions::eval().lengths(lengths.clone())
        };
        let opts = ForwardOptions {
            mode: Mode::Train,
            dropout: Some(0.0),
            ..opts
        };
        let full = model
            .try_forward_with(
                Seq2SeqInput::new(
                    src.clone(),
                    dev.tensor_from_vec(targets.clone(), (2, Const::<9>)),
                ),
                &opts,
            )
            .unwrap()
            .logits
            .as_vec();

        let (mut caches, self_opts, cross_opts) = model.try_start_decoding(src, &lengths).unwrap();
        for t in 0..9 {
            let inputs: Vec<usize> = (0..2)
                .map(|b| if t == 0 { BOS } else { targets[b * 9 + t - 1] })
                .collect();
            let step = model
                .try_step_logits(&dev, &inputs, t, &mut caches, &self_opts, &cross_opts)
                .unwrap()
                .as_vec();
            for b in 0..2 {
                let want = &full[(b * 9 + t) * 12..(b * 9 + t + 1) * 12];
                assert_close(
                    &format!("step {t}, sequence {b}"),
                    &step[b * 12..(b + 1) * 12],
                    want,
                    1e-5,
                );
            }
        }
        assert_eq!(caches[0].len(), 9);
    }};
}

#[test]
fn cached_incremental_decoding_equals_the_full_causal_pass_sinusoidal_pre_norm() {
    check_cache!(TinyTranslator, 1);
}

#[test]
fn cached_incremental_decoding_equals_the_full_causal_pass_rotary_post_norm() {
    check_cache!(TinyRotaryTranslator, 2);
}

#[test]
fn cached_incremental_decoding_equals_the_full_causal_pass_learned_positions() {
    check_cache!(TinyLearnedTranslator, 3);
}

#[test]
fn greedy_decoding_feeds_back_its_own_predictions() {
    let dev = TestDevice::seed_from_u64(4);
    let model = dev.build_module::<TinyTranslator, f32>();
    let src = dev.tensor_from_vec(vec![4, 5, 6, 7, 8, 9, 10, 11], (1, Const::<8>));
    let out = model
        .try_forward_with(Seq2SeqInput::source(src.clone()), &ForwardOptions::eval())
        .unwrap();
    // the logits of the greedy run are those of a full pass fed [BOS, greedy tokens...]
    let fed: Vec<usize> = out.tokens.clone();
    let opts = ForwardOptions {
        mode: Mode::Train,
        dropout: Some(0.0),
        ..ForwardOptions::eval()
    };
    let fed = dev.tensor_from_vec(fed, (1, Const::<9>));
    let full = model
        .try_forward_with(Seq2SeqInput::new(src, fed), &opts)
        .unwrap();
    assert_close("logits", &out.logits.as_vec(), &full.logits.as_vec(), 1e-5);
    assert_eq!(out.tokens, full.tokens);
}

#[test]
fn tied_output_reads_the_target_embedding() {
    let dev = TestDevice::seed_from_u64(5);
    let model = dev.build_module::<TinyTranslator, f32>();
    let path = std::env::temp_dir().join(format!("attn-tied-{}.safetensors", std::process::id()));
    model.save_safetensors(&path).unwrap();
    let sd = StateDict::read(&path).unwrap();
    std::fs::remove_file(&path).ok();
    let names: Vec<&str> = sd.names().collect();
    assert!(
        names.contains(&"out.bias") && !names.iter().any(|n| n.starts_with("out.proj")),
        "{names:?}"
    );
    // the output layer's gradient reaches the embedding even for tokens never fed as input
    let src = dev.tensor_from_vec(vec![4; 8], (1, Const::<8>));
    let targets = vec![4; 9];
    let out = model
        .try_forward_with(
            Seq2SeqInput::new(
                src.traced(model.alloc_grads()),
                dev.tensor_from_vec(targets, (1, Const::<9>)),
            ),
            &ForwardOptions::train(),
        )
        .unwrap();
    let grads = out.logits.sum().backward();
    let g = grads.get(&model.tgt_embedding.weight).as_vec();
    let unused_row = &g[11 * 32..12 * 32]; // token 11 is never a decoder input here
    assert!(
        unused_row.iter().any(|&x| x != 0.0),
        "tying routes output gradients into the embedding"
    );
}

/// Sequences of 3..=7 tokens from `RESERVED..12`; the target is the reverse, then EOS.
fn reversal_batch(rng: &mut StdRng, size: usize) -> Batch {
    let (src_len, tgt_len) = (8, 9);
    let mut ids = vec![PAD; size * src_len];
    let mut targets = vec![IGNORE; size * tgt_len];
    let mut lengths = Vec::new();
    for b in 0..size {
        let len = rng.gen_range(3..=7);
        let seq: Vec<usize> = (0..len).map(|_| rng.gen_range(RESERVED..12)).collect();
        ids[b * src_len..b * src_len + len].copy_from_slice(&seq);
        for (t, &tok) in seq.iter().rev().enumerate() {
            targets[b * tgt_len + t] = tok;
        }
        targets[b * tgt_len + len] = EOS;
        lengths.push(len);
    }
    Batch {
        size,
        inputs: Inputs::Tokens { ids, lengths },
        targets,
    }
}

fn exact_match(logits: &[f32], targets: &[usize], vocab: usize, tgt_len: usize) -> f64 {
    let predicted: Vec<usize> = logits
        .chunks(vocab)
        .map(|row| {
            row.iter()
                .enumerate()
                .fold((0, f32::MIN), |m, (i, &v)| if v > m.1 { (i, v) } else { m })
                .0
        })
        .collect();
    let rows = targets.len() / tgt_len;
    let correct = (0..rows)
        .filter(|&b| {
            (0..tgt_len).all(|t| {
                targets[b * tgt_len + t] == IGNORE
                    || predicted[b * tgt_len + t] == targets[b * tgt_len + t]
            })
        })
        .count();
    correct as f64 / rows as f64
}

#[test]
fn a_seeded_transformer_encoder_decoder_learns_to_reverse_sequences() {
    let mut model = Entry::<TinyTranslator>::NEW.instantiate(7).unwrap();
    model.set_learning_rate(3e-3);
    let mut rng = StdRng::seed_from_u64(11);
    let held_out = reversal_batch(&mut StdRng::seed_from_u64(99), 200);
    let before = exact_match(
        &model.forward(&held_out, false).unwrap().logits,
        &held_out.targets,
        12,
        9,
    );
    assert!(
        before < 0.05,
        "an untrained model already matches {before:.3}"
    );
    let (mut best, mut steps) = (0.0, 0);
    // Stated target: >= 90% exact match (greedy, cached decoding) on 200 held-out sequences
    // within 800 steps of 32.
    while steps < 800 {
        let loss = model.train_step(&reversal_batch(&mut rng, 32)).unwrap();
        assert!(loss.is_finite(), "loss diverged at step {steps}");
        steps += 1;
        if steps % 50 == 0 {
            best = exact_match(
                &model.forward(&held_out, false).unwrap().logits,
                &held_out.targets,
                12,
                9,
            );
            if best >= 0.9 {
                break;
            }
        }
    }
    eprintln!("transformer reversal: exact match {best:.3} after {steps} steps");
    assert!(best >= 0.9, "exact match {best:.3} after {steps} steps");
}

#[test]
fn dropout_applies_in_training_only() {
    use attn_runtime::transformer::{EncoderBlock, FeedForward, Relu};
    let dev = TestDevice::seed_from_u64(6);
    let block = EncoderBlock::<
        16,
        2,
        FeedForward<16, 32, Relu, f32, TestDevice>,
        true,
        f32,
        TestDevice,
    >::build(&dev);
    let x: Tensor<Rank3<2, 5, 16>, f32, _> = dev.sample_normal();
    let run = |opts: &AttentionOptions| {
        block
            .try_block(x.clone(), opts, String::new(), &mut Vec::new())
            .unwrap()
            .as_vec()
    };
    let eval = AttentionOptions {
        dropout: 0.5,
        ..AttentionOptions::default().eval()
    };
    assert_eq!(
        run(&eval),
        run(&eval),
        "evaluation is deterministic, whatever the dropout"
    );
    let no_drop = AttentionOptions::default().train(0.0);
    assert_eq!(
        run(&no_drop),
        run(&eval),
        "training with p = 0 equals evaluation"
    );
    let train = AttentionOptions::default().train(0.5);
    let (a, b) = (run(&train), run(&train));
    assert_ne!(a, b, "training with p = 0.5 drops differently each call");
    assert_ne!(a, run(&eval));
}

/// Loads the PyTorch twin's state dict (`tools/gen_export_fixtures.py`, the twin from
/// `tools/attn_torch.py`) into `entry`'s model, checks that exporting the model gives back that
/// very state dict, name for name and value for value, and that the model's logits on it equal
/// PyTorch's (teacher-forced and greedy for an encoder-decoder).
fn check_pytorch_round_trip(entry: &dyn ZooEntry, file: &str) {
    let pt = StateDict::read(fixture_path("export", &format!("{file}.safetensors"))).unwrap();
    let io = Fixture::load("export", &format!("{file}_io"));
    let mut model = entry.instantiate(0).unwrap();
    let ours = from_pytorch_names(&pt, &model.params().unwrap()).unwrap();
    model.load(&ours).unwrap();

    let exported = to_pytorch_names(&model.params().unwrap()).unwrap();
    assert_eq!(
        exported.names().collect::<Vec<_>>(),
        pt.names().collect::<Vec<_>>(),
        "{file}: exported names"
    );
    for name in pt.names() {
        assert_eq!(
            exported.get(name).unwrap(),
            pt.get(name).unwrap(),
            "{file}: {name}"
        );
    }

    let ids = |name: &str| -> Vec<usize> { io.values(name).iter().map(|&v| v as usize).collect() };
    let batch = Batch {
        size: 2,
        inputs: Inputs::Tokens {
            ids: ids("src"),
            lengths: io.lengths().unwrap(),
        },
        targets: ids("targets"),
    };
    if io.sd.contains("logits") {
        io.assert_close("logits", &model.forward(&batch, false).unwrap().logits);
        return;
    }
    let teacher_forced = model.forward_teacher_forced(&batch, false).unwrap();
    io.assert_close("logits_teacher_forced", &teacher_forced.logits);
    let greedy = model.forward(&batch, false).unwrap();
    io.assert_close("logits_greedy", &greedy.logits);
    // the greedy choices themselves (each next input is the previous position's argmax)
    let tv = io.usize("tgt_vocab");
    let chosen: Vec<usize> = greedy
        .logits
        .chunks(tv)
        .map(|row| (0..tv).max_by(|&a, &b| row[a].total_cmp(&row[b])).unwrap())
        .collect();
    let inputs = ids("greedy_inputs");
    let tl = inputs.len() / 2;
    for b in 0..2 {
        assert_eq!(
            &inputs[b * tl + 1..(b + 1) * tl],
            &chosen[b * tl..(b + 1) * tl - 1],
            "{file}: sequence {b}"
        );
    }
}

#[test]
fn pytorch_export_of_a_pre_norm_tied_model_is_the_pytorch_twins_state_dict_and_outputs() {
    check_pytorch_round_trip(&Entry::<TinyTranslator>::NEW, "tiny_translator");
}

#[test]
fn pytorch_export_of_a_post_norm_untied_model_with_learned_positions_round_trips_too() {
    check_pytorch_round_trip(&Entry::<TinyPostTranslator>::NEW, "tiny_post_translator");
}

#[test]
fn pytorch_export_of_an_encoder_classifier_and_a_tagger_round_trips() {
    check_pytorch_round_trip(&Entry::<TinyClassifier>::NEW, "tiny_classifier");
    check_pytorch_round_trip(&Entry::<TinyTagger>::NEW, "tiny_tagger");
}
