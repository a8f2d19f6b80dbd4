//! Recurrent models: padding never leaks into encoder outputs, final states or attention, and a
//! seeded GRU-Bahdanau encoder-decoder learns sequence reversal.

mod common;

use attn_runtime::loss::IGNORE;
use attn_runtime::prelude::*;
use attn_runtime::rnn::Gru;
use attn_runtime::tokens::{EOS, PAD, RESERVED};
use attn_runtime::zoo::{Batch, Entry, Inputs, ZooEntry};
use common::*;
use rand::{rngs::StdRng, Rng, SeedableRng};

attention_model! {
    /// Reverses short token sequences: a bidirectional GRU encoder, Bahdanau attention.
    #[name = "reverse-gru-bahdanau", data = "reverse"]
    pub struct ReverseGru {
        arch: Recurrent,
        cell: Gru,
        bidirectional: true,
        attention: Additive,
        task: Seq2Seq { src_vocab: 12, tgt_vocab: 12, src_len: 8, tgt_len: 9 },
        d_model: 16,
        hidden: 32,
    }
}

attention_model! {
    /// A tiny GRU classifier pooled by additive attention.
    #[name = "tiny-gru-classifier", data = "sentiment"]
    pub struct TinyGruClassifier {
        arch: Recurrent,
        cell: Gru,
        bidirectional: false,
        attention: Additive,
        task: Classify { vocab: 10, max_len: 4, classes: 2 },
        d_model: 6,
        hidden: 5,
    }
}

/// An id outside the vocabulary is refused with its position, and before the lengths are
/// looked at: a batch with a bad id and bad lengths reports the id.
#[test]
fn a_recurrent_classifier_refuses_an_id_outside_its_vocabulary_first() {
    let dev: Cpu = Default::default();
    let model = Cpu::seed_from_u64(2).build_module::<TinyGruClassifier, f32>();
    let ids = |v: Vec<usize>| -> Tensor<(usize, Const<4>), usize, _> {
        dev.tensor_from_vec(v, (2, Const))
    };
    let fine = ForwardOptions::eval().lengths(vec![4, 2]);
    assert!(model
        .try_forward_with(ids(vec![1, 2, 3, 9, 4, 5, 0, 0]), &fine)
        .is_ok());
    let bad_lengths = ForwardOptions::eval().lengths(vec![4, 7]);
    for opts in [&fine, &bad_lengths] {
        match model.try_forward_with(ids(vec![1, 2, 3, 4, 5, 10, 0, 0]), opts) {
            Err(AttnError::InvalidInput { reason, .. }) => {
                assert!(reason.contains("token id 10 at position 5"), "{reason}")
            }
            other => panic!("expected the id refused, got {:?}", other.map(|_| ())),
        }
    }
    match model.try_forward_with(ids(vec![1, 2, 3, 4, 5, 6, 0, 0]), &bad_lengths) {
        Err(AttnError::InvalidInput { reason, .. }) => assert!(reason.contains("7"), "{reason}"),
        other => panic!("expected the lengths refused, got {:?}", other.map(|_| ())),
    }
}

#[test]
fn right_padding_does_not_change_encoder_outputs_or_final_states() {
    let dev = TestDevice::seed_from_u64(1);
    let rnn = Gru::<3, 5, 10, 2, true, f32, TestDevice>::build(&dev);
    let x: Tensor<(usize, usize, Const<3>), f32, _> = dev.sample_normal_like(&(1, 4, Const));
    let alone = rnn.try_forward(x.clone(), None).unwrap();

    let mut padded = x.as_vec();
    padded.extend((0..3 * 3).map(|i| 50.0 - i as f32));
    let padded = dev.tensor_from_vec(padded, (1, 7, Const::<3>));
    let out = rnn.try_forward(padded, Some(&[4])).unwrap();
    let (a, p) = (alone.output.as_vec(), out.output.as_vec());
    assert_close("outputs", &p[..4 * 10], &a, 1e-6);
    assert!(
        p[4 * 10..].iter().all(|&v| v == 0.0),
        "padded outputs are zero"
    );
    for (k, (h_a, h_p)) in alone.h_n.iter().zip(&out.h_n).enumerate() {
        assert_close(&format!("h_n[{k}]"), &h_p.as_vec(), &h_a.as_vec(), 1e-6);
    }
}

#[test]
fn right_padding_does_not_change_decoder_attention_or_logits() {
    let dev = TestDevice::seed_from_u64(2);
    let model = dev.build_module::<ReverseGru, f32>();
    let run = |pad: usize| {
        let ids = vec![5, 6, 7, pad, pad, pad, pad, pad];
        let src = dev.tensor_from_vec(ids, (1, Const::<8>));
        model
            .try_forward_with(
                Seq2SeqInput::source(src),
                &ForwardOptions::eval().lengths(vec![3]).with_weights(),
            )
            .unwrap()
    };
    let (a, b) = (run(PAD), run(9));
    assert_eq!(a.logits.as_vec(), b.logits.as_vec());
    let (wa, wb) = (
        a.attention[0].weights.as_vec(),
        b.attention[0].weights.as_vec(),
    );
    assert_eq!(wa, wb);
    for row in wa.chunks(8) {
        assert!((row[..3].iter().sum::<f32>() - 1.0).abs() < 1e-5);
        assert!(
            row[3..].iter().all(|&w| w == 0.0),
            "padding got attention: {row:?}"
        );
    }
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

/// Share of sequences whose greedy decoding equals the target up to and including EOS.
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
                let want = targets[b * tgt_len + t];
                want == IGNORE || predicted[b * tgt_len + t] == want
            })
        })
        .count();
    correct as f64 / rows as f64
}

#[test]
fn a_seeded_gru_bahdanau_model_learns_to_reverse_sequences() {
    let mut model = Entry::<ReverseGru>::NEW.instantiate(7).unwrap();
    model.set_learning_rate(1e-2);
    let mut rng = StdRng::seed_from_u64(11);
    let held_out = reversal_batch(&mut StdRng::seed_from_u64(99), 200);
    let untrained = model.forward(&held_out, false).unwrap();
    let before = exact_match(&untrained.logits, &held_out.targets, 12, 9);
    assert!(
        before < 0.05,
        "an untrained model already matches {before:.3}"
    );
    let mut best = 0.0;
    let mut steps = 0;
    // Stated target: >= 90% exact match on 200 held-out sequences within 600 steps of 32.
    while steps < 600 {
        let batch = reversal_batch(&mut rng, 32);
        let loss = model.train_step(&batch).unwrap();
        assert!(loss.is_finite(), "loss diverged at step {steps}");
        steps += 1;
        if steps % 50 == 0 {
            let out = model.forward(&held_out, false).unwrap();
            best = exact_match(&out.logits, &held_out.targets, 12, 9);
            if best >= 0.9 {
                break;
            }
        }
    }
    assert!(best >= 0.9, "exact match {best:.3} after {steps} steps");
    // evaluation decodes greedily: the targets of the batch are not read
    let mut blind = held_out.clone();
    blind
        .targets
        .iter_mut()
        .for_each(|t| *t = if *t == IGNORE { IGNORE } else { RESERVED });
    let a = model.forward(&held_out, false).unwrap().logits;
    let b = model.forward(&blind, false).unwrap().logits;
    assert_eq!(a, b, "evaluation must not use the targets");
    eprintln!("reversal: exact match {best:.3} after {steps} steps");
}

#[test]
fn teacher_forcing_feeds_the_targets_at_the_configured_ratio() {
    let dev = TestDevice::seed_from_u64(4);
    let model = dev.build_module::<ReverseGru, f32>();
    let src = || dev.tensor_from_vec(vec![5, 6, 7, 8, 9, 10, 11, 4], (1, Const::<8>));
    let targets: Vec<usize> = vec![4, 5, 6, 7, 8, 9, 10, 11, EOS];
    let run = |targets: &[usize], ratio: f64| {
        let opts = ForwardOptions {
            teacher_forcing: Some(ratio),
            ..ForwardOptions::train()
        };
        model
            .try_forward_with(
                Seq2SeqInput::new(
                    src(),
                    dev.tensor_from_vec(targets.to_vec(), (1, Const::<9>)),
                ),
                &opts,
            )
            .unwrap()
            .logits
            .as_vec()
    };
    let greedy = model
        .try_forward_with(Seq2SeqInput::source(src()), &ForwardOptions::eval())
        .unwrap()
        .logits
        .as_vec();
    // ratio 0: the decoder feeds back its own predictions, exactly as in evaluation
    assert_eq!(run(&targets, 0.0), greedy);
    // ratio 1: step t sees target t-1, so changing target 0 changes step 1 but not step 0
    let mut other = targets.clone();
    other[0] = 11;
    let (a, b) = (run(&targets, 1.0), run(&other, 1.0));
    assert_eq!(a[..12], b[..12], "step 0 only sees BOS");
    assert_ne!(a[12..24], b[12..24], "step 1 sees the first target");
}

/// A cell of the user's: the LSTM's step under another name.
#[derive(Clone, Copy, Debug, Default)]
struct MyCell;

impl attn_runtime::rnn::RecurrentCell for MyCell {
    const GATES: usize = 4;
    const HAS_CELL_STATE: bool = true;
    const FOLD_HIDDEN_BIAS: bool = true;
    const NAME: &'static str = "MyCell";

    fn step<E: Dtype, D: Device<E>, T: Tape<E, D> + 'static>(
        tape: &mut attn_runtime::tape_holder::TapeHolder<T>,
        gi: &Tensor<(usize, usize), E, D>,
        gh: &Tensor<(usize, usize), E, D>,
        state: &attn_runtime::rnn::DynState<E, D>,
    ) -> Result<attn_runtime::rnn::DynState<E, D>, AttnError> {
        <attn_runtime::rnn::LstmCell as attn_runtime::rnn::RecurrentCell>::step(tape, gi, gh, state)
    }
}

#[test]
fn a_stack_of_a_cell_attn_does_not_compile_in_is_an_error_that_names_it() {
    let dev = TestDevice::seed_from_u64(1);
    let rnn =
        attn_runtime::rnn::RnnStack::<MyCell, 4, 3, 5, 5, 1, false, f32, TestDevice>::build(&dev);
    let x: Tensor<(usize, usize, Const<3>), f32, _> = dev.sample_normal_like(&(1, 4, Const));
    let err = rnn.try_forward(x, None).err().expect("an error, not a run");
    match err {
        AttnError::InvalidInput { reason, fix } => {
            assert!(reason.contains("MyCell"), "{reason}");
            assert!(fix.contains("rnn::Lstm"), "{fix}");
        }
        other => panic!("{other}"),
    }
}
