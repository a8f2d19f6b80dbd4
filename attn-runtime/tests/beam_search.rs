//! Beam search on a crafted model whose greedy path is provably not the most probable sequence.

use attn_runtime::infer::{BeamSearch, MAX_BEAM};
use attn_runtime::loss::IGNORE;
use attn_runtime::model::ModelMeta;
use attn_runtime::optim::Adam;
use attn_runtime::prelude::*;
use attn_runtime::state_dict::StateDict;
use attn_runtime::tokens::EOS;
use attn_runtime::zoo::{Batch, ForwardSummary, Inputs, StepReport, StepSettings, ZooModel};

attention_model! {
    /// Only its metadata is used: the crafted distributions below stand in for its forward pass.
    #[name = "crafted"]
    pub struct Crafted {
        arch: Transformer,
        task: Seq2Seq { src_vocab: 8, tgt_vocab: 8, src_len: 4, tgt_len: 4 },
        d_model: 8, heads: 2, ff: 8, encoder_layers: 1, decoder_layers: 1,
    }
}

const A: usize = 4;
const B: usize = 5;

/// A "model" with fixed next-token distributions:
/// - first token: A 0.6, B 0.4 (greedy takes A);
/// - after A: four tokens 0.25 each, EOS excluded (so any continuation of A is at most 0.6·0.25 = 0.15);
/// - after B: EOS 0.9;
/// - after A x: EOS 1.0.
///
/// The best sequence is B EOS (0.36); greedy finds A · EOS (at most 0.15).
struct FixedDistributions;

/// Where the source starts with [`FLIP`], the first token is A 0.9 (then EOS 1.0), so A EOS is
/// best there.
const FLIP: usize = 1;

fn logits_for(source: &[usize], prefix: &[usize]) -> Vec<f32> {
    let mut p = [1e-9f64; 8];
    let flipped = source.first() == Some(&FLIP);
    match prefix {
        [] if flipped => {
            p[A] = 0.9;
            p[B] = 0.1;
        }
        [a] if flipped && *a == A => p[EOS] = 1.0,
        [] => {
            p[A] = 0.6;
            p[B] = 0.4;
        }
        [a] if *a == A => {
            for t in [3, 5, 6, 7] {
                p[t] = 0.25;
            }
        }
        [b] if *b == B => {
            p[EOS] = 0.9;
            p[6] = 0.1;
        }
        _ => p[EOS] = 1.0,
    }
    p.iter().map(|q| q.ln() as f32).collect()
}

impl ZooModel for FixedDistributions {
    fn meta(&self) -> &'static ModelMeta {
        &Crafted::META
    }
    fn num_params(&self) -> usize {
        0
    }
    fn forward(&self, _: &Batch, _: bool) -> Result<ForwardSummary, AttnError> {
        Err(AttnError::device("not used"))
    }
    fn forward_teacher_forced(&self, batch: &Batch, _: bool) -> Result<ForwardSummary, AttnError> {
        let Inputs::Tokens { ids, .. } = &batch.inputs else {
            return Err(AttnError::device("token inputs"));
        };
        let mut logits = Vec::new();
        for (row, source) in batch.targets.chunks(4).zip(ids.chunks(4)) {
            for t in 0..4 {
                let prefix: Vec<usize> =
                    row[..t].iter().copied().filter(|&x| x != IGNORE).collect();
                logits.extend(logits_for(source, &prefix));
            }
        }
        Ok(ForwardSummary {
            logits_shape: [batch.size * 4, 8],
            logits,
            attention: Vec::new(),
            weights: Vec::new(),
        })
    }
    fn train_step_with(&mut self, _: &Batch, _: &StepSettings) -> Result<StepReport, AttnError> {
        Err(AttnError::device("not used"))
    }
    fn train_step(&mut self, _: &Batch) -> Result<f32, AttnError> {
        Err(AttnError::device("not used"))
    }
    fn set_learning_rate(&mut self, _: f64) {}
    fn optimizer(&mut self) -> &mut Adam {
        unreachable!("not used")
    }
    fn params(&self) -> Result<StateDict, AttnError> {
        Ok(StateDict::default())
    }
    fn load(&mut self, _: &StateDict) -> Result<(), AttnError> {
        Ok(())
    }
    fn reseed(&mut self, _: u64) -> Result<(), AttnError> {
        Ok(())
    }
}

#[test]
fn beam_search_finds_the_more_probable_sequence_greedy_misses() {
    let model = FixedDistributions;
    let greedy = BeamSearch {
        beam_size: 1,
        length_penalty: 0.0,
    }
    .search(&model, &[6, 7], 4, 4)
    .unwrap();
    assert_eq!(
        greedy[0].tokens[0], A,
        "greedy takes the locally best first token"
    );
    assert!(
        greedy[0].log_prob <= (0.15f64).ln() + 1e-6,
        "{:?}",
        greedy[0]
    );

    let beam = BeamSearch {
        beam_size: 2,
        length_penalty: 0.0,
    }
    .search(&model, &[6, 7], 4, 4)
    .unwrap();
    assert_eq!(beam[0].tokens, vec![B, EOS]);
    assert!(
        (beam[0].log_prob - (0.36f64).ln()).abs() < 1e-6,
        "{:?}",
        beam[0]
    );
    assert!(beam[0].log_prob > greedy[0].log_prob);
}

#[test]
fn a_batch_of_sources_finds_what_each_source_finds_alone() {
    let model = FixedDistributions;
    let beam = BeamSearch {
        beam_size: 2,
        length_penalty: 0.6,
    };
    // the flipped source's search ends a step earlier than the others'
    let sources: [&[usize]; 4] = [&[6, 7], &[FLIP, 2], &[6, 7, 1], &[FLIP]];
    let batched = beam.search_batch(&model, &sources, 4, 4).unwrap();
    assert_eq!(batched.len(), sources.len());
    for (source, found) in sources.iter().zip(&batched) {
        assert_eq!(
            found,
            &beam.search(&model, source, 4, 4).unwrap(),
            "{source:?}"
        );
    }
    let best: Vec<&[usize]> = batched.iter().map(|h| h[0].tokens.as_slice()).collect();
    assert_eq!(best, [&[B, EOS][..], &[A, EOS], &[B, EOS], &[A, EOS]]);
    assert!(beam.search_batch(&model, &[], 4, 4).unwrap().is_empty());
}

#[test]
fn beam_settings_out_of_range_are_refused_naming_the_limit() {
    let model = FixedDistributions;
    let search = |beam_size: usize, length_penalty: f64| {
        BeamSearch {
            beam_size,
            length_penalty,
        }
        .search(&model, &[6, 7], 4, 4)
    };
    for (beam, alpha, needle) in [
        (0, 0.6, "beam_size (--beam) = 0: must be from 1 to 64"),
        (
            MAX_BEAM + 1,
            0.6,
            "beam_size (--beam) = 65: must be from 1 to 64",
        ),
        (
            100_000,
            0.6,
            "beam_size (--beam) = 100000: must be from 1 to 64",
        ),
        (
            2,
            f64::NAN,
            "length_penalty (--length-penalty) = NaN: must be a finite number",
        ),
        (
            2,
            f64::INFINITY,
            "length_penalty (--length-penalty) = inf: must be a finite number",
        ),
        (2, f64::NEG_INFINITY, "= -inf: must be a finite number"),
        (2, -0.5, "= -0.5: must not be negative"),
        (2, 1e300, "must be at most 10"),
    ] {
        let err = search(beam, alpha).unwrap_err();
        assert!(
            matches!(err, AttnError::InvalidHyperParameter { .. })
                && err.to_string().contains(needle),
            "{beam}, {alpha}: {err}"
        );
    }
    // the limits themselves are fine
    assert_eq!(search(MAX_BEAM, 0.0).unwrap()[0].tokens, vec![B, EOS]);
    assert!(search(1, 10.0).is_ok());
}
