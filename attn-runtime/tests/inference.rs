//! Inference on a trained run: greedy decoding equals beam search of width 1, wider beams score
//! at least as well, predictions carry every attention map, and bad input is a clear error.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use attn_runtime::data::{builtin, PrepareOptions};
use attn_runtime::infer::{BeamSearch, Output, Predictor};
use attn_runtime::prelude::*;
use attn_runtime::tokens::EOS;
use attn_runtime::train::{load_run, train, Quiet, TrainConfig, TrainRequest};
use attn_runtime::zoo::{Batch, Entry, Inputs};

attention_model! {
    /// Reverses digit sequences.
    #[name = "tiny-reverser", data = "reverse"]
    pub struct TinyReverser {
        arch: Transformer,
        task: Seq2Seq { src_vocab: 16, tgt_vocab: 16, src_len: 10, tgt_len: 11 },
        d_model: 32, heads: 4, ff: 64, encoder_layers: 1, decoder_layers: 1,
        norm: Pre,
    }
}

fn trained(name: &str) -> (Predictor, PathBuf) {
    trained_with(name, false)
}

/// A trained run; with `truncate`, trained as `train --truncate` trains.
fn trained_with(name: &str, truncate: bool) -> (Predictor, PathBuf) {
    let out = std::env::temp_dir().join(format!("attn-inference-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let config = TrainConfig {
        epochs: 2,
        batch_size: 32,
        lr: 3e-3,
        data: PrepareOptions {
            max_train: Some(1200),
            max_eval: Some(32),
            truncate,
            ..Default::default()
        },
        ..TrainConfig::default()
    };
    let data = builtin("reverse").unwrap();
    let entry = Entry::<TinyReverser>::NEW;
    let request = TrainRequest {
        entry: &entry,
        dataset: &data,
        config,
        out: out.clone(),
        resume: None,
    };
    let outcome = train(request, &mut Quiet, &AtomicBool::new(false)).unwrap();
    (
        Predictor::new(load_run(&outcome.run_dir, &entry).unwrap()),
        out,
    )
}

#[test]
fn beam_search_of_width_one_is_greedy_and_wider_beams_score_no_worse() {
    let (predictor, out) = trained("beam");
    for text in ["3 1 4 1 5", "9 2 6", "2 7 1 8 2 8 1"] {
        let greedy = predictor.predict_text(text, None).unwrap();
        let one = predictor
            .predict_text(
                text,
                Some(BeamSearch {
                    beam_size: 1,
                    length_penalty: 0.0,
                }),
            )
            .unwrap();
        let four = predictor
            .predict_text(
                text,
                Some(BeamSearch {
                    beam_size: 4,
                    length_penalty: 0.0,
                }),
            )
            .unwrap();
        let (
            Output::Sequence { text: g, .. },
            Output::Sequence {
                text: b1,
                score: s1,
                ..
            },
            Output::Sequence { score: s4, .. },
        ) = (&greedy.output, &one.output, &four.output)
        else {
            panic!("sequence outputs")
        };
        assert_eq!(g, b1, "{text}");
        // the same sequence scored in a batch of 4 beams or of 1 may differ in the last f32 bits
        // (the matrix products block differently), hence a tolerance of f32 rounding
        let (s4v, s1v) = (s4.unwrap(), s1.unwrap());
        assert!(
            s4v >= s1v - 1e-6 * s1v.abs().max(1.0),
            "{text}: beam 4 {s4:?} < beam 1 {s1:?}"
        );
        // the decoder's maps refer to the output tokens and the input tokens
        let cross = greedy
            .attention
            .iter()
            .find(|m| m.layer.ends_with("cross_attn"))
            .unwrap();
        assert_eq!(cross.shape[3], 10);
        assert_eq!(greedy.input_tokens.len(), text.split(' ').count());
    }
    std::fs::remove_dir_all(&out).ok();
}

#[test]
fn bad_inputs_are_clear_errors() {
    let (predictor, out) = trained("bad");
    let err = predictor
        .predict_text("1 2 3 4 5 6 7 8 9 1 2", None)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("the text has 11 tokens, `tiny-reverser` takes at most 10"),
        "{err}"
    );
    let err = predictor.predict_text("   ", None).unwrap_err().to_string();
    assert!(err.contains("no token"), "{err}");
    let err = predictor.predict_image(&[0.0; 64]).unwrap_err().to_string();
    assert!(err.contains("reads text, not images"), "{err}");
    let err = predictor
        .predict_text(
            "1 2",
            Some(BeamSearch {
                beam_size: 0,
                length_penalty: 0.6,
            }),
        )
        .unwrap_err()
        .to_string();
    assert!(err.contains("beam_size"), "{err}");
    std::fs::remove_dir_all(&out).ok();
}

/// A run trained with `--truncate` cuts a long text as training and evaluation cut their
/// examples (its first `src_len` tokens), where a run trained without refuses it.
#[test]
fn a_run_trained_with_truncate_cuts_long_texts_as_training_did() {
    let (predictor, out) = trained_with("truncate", true);
    let long = predictor
        .predict_text("1 2 3 4 5 6 7 8 9 1 2", None)
        .unwrap();
    let cut = predictor.predict_text("1 2 3 4 5 6 7 8 9 1", None).unwrap();
    assert_eq!(long.input_tokens, cut.input_tokens);
    assert_eq!(long.input_tokens.len(), 10);
    let (Output::Sequence { text: a, .. }, Output::Sequence { text: b, .. }) =
        (&long.output, &cut.output)
    else {
        panic!("sequence outputs")
    };
    assert_eq!(a, b);
    std::fs::remove_dir_all(&out).ok();
}

/// The maps a prediction returns are the ones the forward pass that produced its output used:
/// feeding the predicted tokens back by teacher forcing reproduces every map up to the step that
/// emitted `<eos>`, and that pass's logits choose the predicted tokens. Each row sums to 1 over
/// the keys it may see; padding keys and future decoder positions get exactly 0.
#[test]
fn returned_weights_are_the_forward_pass_weights() {
    let (predictor, out) = trained("weights");
    let run = predictor.run();
    for text in ["3 1 4 1 5", "9 2 6 0 0 7 1"] {
        let p = predictor.predict_text(text, None).unwrap();
        let n_src = text.split(' ').count();
        assert_eq!(p.input_tokens.len(), n_src);
        // the emitted ids: the output tokens, then <eos> if it was produced
        let emitted = p
            .output_tokens
            .iter()
            .filter(|t| t.as_str() != "<eos>")
            .cloned()
            .collect::<Vec<_>>();
        let mut ids = run.vocabs.tgt.as_ref().unwrap().encode(&emitted);
        if p.output_tokens.last().map(String::as_str) == Some("<eos>") {
            ids.push(EOS);
        }
        let steps = ids.len();
        assert!(steps > 0, "{text}: nothing emitted");
        let mut fed = ids.clone();
        fed.resize(11, 0);
        let mut src = run.vocabs.src.as_ref().unwrap().encode(&p.input_tokens);
        src.resize(10, 0);
        let batch = Batch {
            size: 1,
            inputs: Inputs::Tokens {
                ids: src,
                lengths: vec![n_src],
            },
            targets: fed,
        };
        let forced = run.model.forward_teacher_forced(&batch, true).unwrap();
        // the teacher-forced logits pick the emitted tokens
        let width = forced.logits_shape[1];
        for (step, &id) in ids.iter().enumerate() {
            let row = &forced.logits[step * width..(step + 1) * width];
            let best = (0..width)
                .max_by(|&a, &b| row[a].total_cmp(&row[b]))
                .unwrap();
            assert_eq!(best, id, "{text}: step {step}");
        }
        assert_eq!(p.attention.len(), forced.attention.len());
        for (map, ((name, shape), weights)) in p
            .attention
            .iter()
            .zip(forced.attention.iter().zip(&forced.weights))
        {
            assert_eq!(&map.layer, name);
            assert_eq!(&map.shape, shape);
            let [_, heads, queries, keys] = *shape;
            let decoder = name.starts_with("decoder");
            let causal = decoder && name.ends_with("self_attn");
            for h in 0..heads {
                for q in 0..queries {
                    let at = (h * queries + q) * keys;
                    let row = &map.weights[at..at + keys];
                    let visible = if causal { q + 1 } else { n_src };
                    let sum: f32 = row[..visible].iter().sum();
                    assert!((sum - 1.0).abs() < 1e-5, "{name} h{h} q{q}: sums to {sum}");
                    assert!(
                        row[visible..].iter().all(|&w| w == 0.0),
                        "{name} h{h} q{q}: a masked key got weight"
                    );
                    if decoder && q >= steps {
                        continue; // after <eos> the two passes are fed different tokens
                    }
                    for (k, (a, b)) in row.iter().zip(&weights[at..at + keys]).enumerate() {
                        assert!(
                            (a - b).abs() < 1e-5,
                            "{text}: {name} h{h} q{q} k{k}: returned {a}, forward pass {b}"
                        );
                    }
                }
            }
        }
    }
    std::fs::remove_dir_all(&out).ok();
}
