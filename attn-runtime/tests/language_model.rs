//! The decoder-only language model through the one contract: next-token windows, training with
//! perplexity, generation with and without the key/value cache (same logits), sampling with a
//! seed (same text), and the refusals.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use attn_runtime::data::{
    language_model_windows, load_file, prepare, Dataset, Encoded, Examples, PrepareOptions, Split,
    Tokenizer,
};
use attn_runtime::experiment::{
    aggregate, markdown_table, run_sweep, QuietSweep, SweepMetric, SweepRun,
};
use attn_runtime::infer::{generate, Decoding, Generation, KvCache, Sampling};
use attn_runtime::model::TaskSpec;
use attn_runtime::prelude::*;
use attn_runtime::tokens::EOS;
use attn_runtime::train::{train, Quiet, Selection, TrainConfig, TrainRequest};
use attn_runtime::zoo::{Batch, Entry, Inputs, ZooEntry, ZooModel};

attention_model! {
    /// A tiny GPT with learned positions and a tied output.
    #[name = "tiny-gpt", data = "bible-en"]
    pub struct TinyGpt {
        arch: Decoder,
        task: LanguageModel { vocab: 40, context: 12 },
        d_model: 16, heads: 2, layers: 2, ff: 32,
        activation: Gelu,
        tie_embeddings: true,
    }
}

attention_model! {
    /// A tiny GPT with rotary positions, a gated feed-forward network, a local window and its
    /// own output layer.
    #[name = "tiny-rotary-gpt", data = "bible-en"]
    pub struct TinyRotaryGpt {
        arch: Decoder,
        task: LanguageModel { vocab: 40, context: 12 },
        d_model: 16, heads: 4, layers: 2, ff: 24,
        activation: Swiglu,
        positional: Rotary,
        window: 5,
    }
}

attention_model! {
    /// A tiny GPT with sinusoidal positions.
    #[name = "tiny-sinusoidal-gpt", data = "bible-en"]
    pub struct TinySinusoidalGpt {
        arch: Decoder,
        task: LanguageModel { vocab: 40, context: 12 },
        d_model: 16, heads: 2, layers: 1, ff: 32,
        positional: Sinusoidal,
    }
}

fn entries() -> [&'static dyn ZooEntry; 3] {
    [
        &Entry::<TinyGpt>::NEW,
        &Entry::<TinyRotaryGpt>::NEW,
        &Entry::<TinySinusoidalGpt>::NEW,
    ]
}

/// Logits of the token after `window` from the model's full forward pass (no cache).
fn full_pass(model: &dyn ZooModel, window: &[usize], context: usize) -> Vec<f32> {
    let n = window.len();
    let mut ids = window.to_vec();
    ids.resize(context, 0);
    let out = model
        .forward(
            &Batch {
                size: 1,
                inputs: Inputs::Tokens {
                    ids,
                    lengths: vec![n],
                },
                targets: vec![attn_runtime::loss::IGNORE; context],
            },
            false,
        )
        .unwrap();
    let v = out.logits_shape[1];
    out.logits[(n - 1) * v..n * v].to_vec()
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn windows_predict_every_next_token_once() {
    let stream = [10, 11, 12, 13, 14, 15, 16];
    let w = language_model_windows(&stream, 3);
    let pairs: Vec<(Vec<usize>, Vec<usize>)> = w
        .iter()
        .map(|e| (e.ids.clone(), e.target.clone()))
        .collect();
    assert_eq!(
        pairs,
        vec![
            (vec![10, 11, 12], vec![11, 12, 13]),
            (vec![13, 14, 15], vec![14, 15, 16]),
        ]
    );
    // a remainder makes a shorter last window; one token predicts nothing
    let w = language_model_windows(&stream[..5], 3);
    assert_eq!(w[1].ids, vec![13]);
    assert_eq!(w[1].target, vec![14]);
    assert!(language_model_windows(&[7], 4).is_empty());
}

#[test]
fn cached_generation_equals_the_full_pass_at_every_step() {
    for entry in entries() {
        let meta = entry.meta();
        let TaskSpec::LanguageModel { context, .. } = meta.task else {
            unreachable!()
        };
        let model = entry.instantiate(3).unwrap();
        let mut session = model.generator().expect("a language model generates");
        assert_eq!(session.context(), context);
        let text = [5usize, 9, 4, 17, 33, 8, 21, 6, 30, 12, 7, 25];
        // a prefill of several tokens, then one at a time up to the full context
        let logits = session.try_feed(&text[..4]).unwrap();
        let d = max_diff(&logits, &full_pass(model.as_ref(), &text[..4], context));
        assert!(d < 1e-5, "{}: prefill differs by {d}", meta.name);
        for t in 4..text.len() {
            let logits = session.try_feed(&text[t..t + 1]).unwrap();
            let full = full_pass(model.as_ref(), &text[..=t], context);
            let d = max_diff(&logits, &full);
            assert!(d < 1e-5, "{}: step {t} differs by {d}", meta.name);
        }
        assert_eq!(session.len(), context);
        // the context is full: one more is refused, a reset starts over
        let err = session.try_feed(&[3]).unwrap_err().to_string();
        assert!(err.contains("do not fit the context of 12"), "{err}");
        session.reset();
        let again = session.try_feed(&text[..1]).unwrap();
        assert!(max_diff(&again, &full_pass(model.as_ref(), &text[..1], context)) < 1e-5);
    }
}

#[test]
fn generation_with_and_without_the_cache_gives_the_same_tokens() {
    for entry in entries() {
        let model = entry.instantiate(11).unwrap();
        // 4 prompt tokens and 20 new ones: past the context of 12, where the two part ways by
        // design, so compare the first 8 only
        for decoding in [
            Decoding::Greedy,
            Decoding::Sample(Sampling {
                temperature: 1.5,
                top_k: Some(20),
                top_p: Some(0.95),
                seed: 4,
            }),
        ] {
            let settings = |cache| Generation {
                max_tokens: 8,
                decoding,
                stop: None,
                cache,
            };
            let prompt = [6, 7, 8, 9];
            let cached = generate(model.as_ref(), &prompt, &settings(KvCache::On), |_| Ok(()));
            let plain = generate(model.as_ref(), &prompt, &settings(KvCache::Off), |_| Ok(()));
            assert_eq!(cached.unwrap(), plain.unwrap(), "{}", entry.meta().name);
        }
    }
}

#[test]
fn the_same_seed_gives_the_same_text_and_streams_every_token() {
    let model = Entry::<TinyGpt>::NEW.instantiate(2).unwrap();
    let sample = |seed| {
        let settings = Generation {
            max_tokens: 40,
            decoding: Decoding::Sample(Sampling {
                temperature: 2.0,
                top_k: None,
                top_p: None,
                seed,
            }),
            stop: None,
            cache: KvCache::On,
        };
        let mut streamed = Vec::new();
        let out = generate(model.as_ref(), &[5, 6], &settings, |t| {
            streamed.push(t);
            Ok(())
        })
        .unwrap();
        assert_eq!(out, streamed, "every token is streamed, in order");
        out
    };
    let a = sample(1);
    assert_eq!(a.len(), 40, "past the context of 12, generation goes on");
    assert_eq!(a, sample(1));
    assert_ne!(a, sample(2), "another seed draws other tokens");
    // PAD and BOS are never drawn, even from a flat distribution
    assert!(a.iter().all(|&t| t > 1 && t < 40), "{a:?}");
}

#[test]
fn greedy_generation_takes_the_argmax_and_stops_at_the_stop_token() {
    let model = Entry::<TinyGpt>::NEW.instantiate(5).unwrap();
    let greedy = generate(
        model.as_ref(),
        &[9, 10],
        &Generation {
            max_tokens: 6,
            stop: None,
            ..Generation::default()
        },
        |_| Ok(()),
    )
    .unwrap();
    let mut text = vec![9, 10];
    for &t in &greedy {
        let mut logits = full_pass(model.as_ref(), &text, 12);
        logits[0] = f32::NEG_INFINITY;
        logits[1] = f32::NEG_INFINITY;
        let best = (0..logits.len())
            .max_by(|&a, &b| logits[a].total_cmp(&logits[b]))
            .unwrap();
        assert_eq!(t, best);
        text.push(t);
    }
    // stopping at the third greedy token returns the first three
    let stopped = generate(
        model.as_ref(),
        &[9, 10],
        &Generation {
            max_tokens: 6,
            stop: Some(greedy[2]),
            ..Generation::default()
        },
        |_| Ok(()),
    )
    .unwrap();
    let first = greedy.iter().position(|&t| t == greedy[2]).unwrap();
    assert_eq!(stopped, greedy[..=first].to_vec());
}

#[test]
fn generation_refuses_what_it_cannot_do() {
    let model = Entry::<TinyGpt>::NEW.instantiate(5).unwrap();
    let err = generate(model.as_ref(), &[99], &Generation::default(), |_| Ok(()))
        .unwrap_err()
        .to_string();
    assert!(err.contains("outside the vocabulary of 40"), "{err}");
    let bad = Generation {
        decoding: Decoding::Sample(Sampling {
            temperature: 0.0,
            ..Sampling::default()
        }),
        ..Generation::default()
    };
    assert!(generate(model.as_ref(), &[5], &bad, |_| Ok(())).is_err());
    attention_model! {
        /// Not a language model.
        #[name = "tiny-tagger", data = "sort"]
        pub struct TinyTagger {
            arch: SelfAttention,
            task: Tag { vocab: 16, max_len: 4, tags: 16 },
            d_model: 8, heads: 2, layers: 1,
        }
    }
    let tagger = Entry::<TinyTagger>::NEW.instantiate(1).unwrap();
    assert!(tagger.generator().is_none());
    let err = generate(tagger.as_ref(), &[5], &Generation::default(), |_| Ok(()))
        .unwrap_err()
        .to_string();
    assert!(err.contains("only language models generate"), "{err}");
}

fn text_dataset(lines: Vec<String>) -> Dataset {
    Dataset {
        name: "pattern".into(),
        examples: Examples::Text(lines),
        src_tokenizer: Tokenizer::Char,
        tgt_tokenizer: Tokenizer::Char,
        min_count: 1,
        split: Split::Seeded,
    }
}

fn scratch(name: &str) -> PathBuf {
    common::scratch_dir("lm", name)
}

#[test]
fn training_lowers_perplexity_and_selects_by_it() {
    // a text whose next character follows from the previous ones
    let lines: Vec<String> = (0..240)
        .map(|i| "abcdefgh".chars().cycle().skip(i % 8).take(20).collect())
        .collect();
    let dataset = text_dataset(lines);
    let entry = Entry::<TinyGpt>::NEW;
    let config = TrainConfig {
        epochs: 3,
        batch_size: 16,
        lr: 1e-2,
        seed: 3,
        selection: Selection::Perplexity,
        ..TrainConfig::default()
    };
    let out = scratch("train");
    let outcome = train(
        TrainRequest {
            entry: &entry,
            dataset: &dataset,
            config,
            out: out.clone(),
            resume: None,
        },
        &mut Quiet,
        &AtomicBool::new(false),
    )
    .unwrap();
    let ppl: Vec<f64> = outcome
        .history
        .iter()
        .map(|r| {
            r.valid_perplexity
                .expect("a language model reports perplexity")
        })
        .collect();
    for (r, p) in outcome.history.iter().zip(&ppl) {
        assert!(
            (p - r.valid_loss.exp()).abs() < 1e-9 * p,
            "perplexity is exp(loss)"
        );
        assert!(r.valid_bleu.is_none() && r.valid_macro_f1.is_none());
    }
    // 8 letters and EOS: a model that learned nothing sits near 40, one that learned the cycle
    // near 1
    assert!(ppl[0] < 20.0, "{ppl:?}");
    assert!(ppl[2] < ppl[0], "{ppl:?}");
    assert!(ppl[2] < 2.0, "{ppl:?}");
    let best = ppl
        .iter()
        .enumerate()
        .min_by(|a, b| a.1.total_cmp(b.1))
        .unwrap()
        .0;
    assert_eq!(outcome.best_epoch, best + 1, "{ppl:?}");
    assert!(outcome.test.perplexity() < 2.0);
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(outcome.run_dir.join("summary.json")).unwrap())
            .unwrap();
    let test_ppl = summary["test_perplexity"].as_f64().unwrap();
    assert!((test_ppl - outcome.test.perplexity()).abs() < 1e-9);
    let csv = std::fs::read_to_string(outcome.run_dir.join("metrics.csv")).unwrap();
    assert!(csv.lines().next().unwrap().contains("valid_perplexity"));
    let _ = std::fs::remove_dir_all(out);
}

#[test]
fn a_sweep_of_language_models_compares_perplexity_lowest_first() {
    let lines: Vec<String> = (0..160)
        .map(|i| "abcdefgh".chars().cycle().skip(i % 8).take(20).collect())
        .collect();
    let dataset = text_dataset(lines);
    let (learned, sinusoidal) = (Entry::<TinyGpt>::NEW, Entry::<TinySinusoidalGpt>::NEW);
    let config = TrainConfig {
        epochs: 3,
        batch_size: 16,
        lr: 1e-2,
        selection: Selection::default_for(&learned.meta().task),
        attention_reports: false,
        ..TrainConfig::default()
    };
    let runs: Vec<SweepRun> = [
        ("learned", &learned as &dyn ZooEntry),
        ("sinusoidal", &sinusoidal),
    ]
    .into_iter()
    .map(|(positional, entry)| SweepRun {
        point: BTreeMap::from([("positional".to_string(), positional.to_string())]),
        entry,
        config: config.clone(),
        seed: 0,
    })
    .collect();
    let dir = scratch("sweep");
    let records = run_sweep(
        &runs,
        &dataset,
        &dir,
        &mut QuietSweep,
        &AtomicBool::new(false),
    )
    .unwrap();
    assert_eq!(records.len(), 2);
    for r in &records {
        assert_eq!(r.metric, Some(SweepMetric::Perplexity), "{r:?}");
        let valid: Vec<f64> = r.curve.iter().map(|c| c.valid).collect();
        assert_eq!(valid.len(), 3);
        // perplexity, not accuracy: exp of the validation loss, between 1 and the vocabulary
        for c in &r.curve {
            assert!(
                (c.valid - c.valid_loss.exp()).abs() < 1e-9 * c.valid,
                "{r:?}"
            );
            assert!(c.valid > 1.0 && c.valid < 40.0, "{r:?}");
        }
        // the best is the lowest, and the gap is validation minus training perplexity there
        let (at, best) = valid
            .iter()
            .copied()
            .enumerate()
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap();
        assert_eq!(r.best_valid, best, "{valid:?}");
        assert!(r.best_valid < valid[0], "{valid:?}");
        assert_eq!(r.final_valid, valid[2]);
        let gap = best - r.curve[at].train_loss.exp();
        assert!((r.train_valid_gap - gap).abs() < 1e-12, "{r:?}");
    }
    let summary = aggregate(&records);
    assert_eq!(summary[0].metric, Some(SweepMetric::Perplexity));
    let table = markdown_table(&summary);
    assert!(
        table.starts_with("| point | runs | diverged | params | final perplexity | best perplexity | valid − train |"),
        "{table}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_language_model_refuses_selection_rules_it_has_no_score_for() {
    let dataset = text_dataset(vec!["abcabcabc".into(); 30]);
    let entry = Entry::<TinyGpt>::NEW;
    for selection in [Selection::ExactMatch, Selection::Bleu, Selection::MacroF1] {
        let err = train(
            TrainRequest {
                entry: &entry,
                dataset: &dataset,
                config: TrainConfig {
                    epochs: 1,
                    selection,
                    ..TrainConfig::default()
                },
                out: scratch("refused"),
                resume: None,
            },
            &mut Quiet,
            &AtomicBool::new(false),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("selects by perplexity"), "{err}");
    }
    assert!(Selection::Perplexity
        .check(&TaskSpec::Classify {
            vocab: 4,
            max_len: 2,
            classes: 2
        })
        .is_err());
}

#[test]
fn text_files_and_splits_become_next_token_windows() {
    let dir = scratch("files");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("story.txt");
    let body: String = (0..30)
        .map(|i| format!("line {i} of the story\r\n\n"))
        .collect();
    std::fs::write(&path, format!("\u{feff}{body}")).unwrap();
    let meta = <TinyGpt as DeclaredModel>::META;
    let data = load_file(&path, &meta.task, Tokenizer::Char).unwrap();
    let Examples::Text(lines) = &data.examples else {
        panic!("text")
    };
    assert_eq!(lines.len(), 30, "blank lines are no documents");
    assert_eq!(lines[0], "line 0 of the story");
    let prepared = prepare(&data, &meta, &PrepareOptions::default(), None).unwrap();
    // every window's target is its input shifted by one, documents joined by EOS
    let check = |part: &[Encoded]| {
        for pair in part.windows(2) {
            assert_eq!(pair[0].ids.len(), 12);
            assert_eq!(pair[0].target[..11], pair[0].ids[1..]);
            assert_eq!(pair[0].target[11], pair[1].ids[0]);
        }
        assert!(part.iter().any(|e| e.target.contains(&EOS)));
    };
    check(&prepared.train);
    check(&prepared.test);
    // a file of another format is refused with the formats a language model reads
    let csv = dir.join("story.csv");
    std::fs::write(&csv, "a,b\n").unwrap();
    let err = load_file(&csv, &meta.task, Tokenizer::Char)
        .unwrap_err()
        .to_string();
    assert!(err.contains(".txt or .jsonl (language models)"), "{err}");
    // text with nothing to predict in a split is refused, not scored
    let empty = text_dataset(vec![String::new(); 3]);
    let err = prepare(&empty, &meta, &PrepareOptions::default(), None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("has no token to predict"), "{err}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn the_built_in_text_is_the_english_side_of_the_bible_pairs() {
    let en = attn_runtime::data::builtin("bible-en").unwrap();
    let pairs = attn_runtime::data::builtin("bible-en-es").unwrap();
    let (Examples::Text(verses), Examples::Pairs(p)) = (&en.examples, &pairs.examples) else {
        panic!("kinds")
    };
    assert_eq!(verses.len(), p.len());
    assert_eq!(
        verses[0],
        "In the beginning, God created the heavens and the earth."
    );
    assert_eq!(en.src_tokenizer, Tokenizer::Char);
}
