//! The training loop: reproducible curves, resuming, and bad input that must be a clear error
//! with no half-written file.

mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use attn_runtime::data::{builtin, Dataset, Examples, PrepareOptions, Split, Tokenizer};
use attn_runtime::prelude::*;
use attn_runtime::train::{
    train, EpochReport, Quiet, Selection, Stop, TrainConfig, TrainOutcome, TrainRequest,
};
use attn_runtime::zoo::{Entry, ZooEntry};

attention_model! {
    /// A tiny tagger for the sort task.
    #[name = "tiny-sorter", data = "sort"]
    pub struct TinySorter {
        arch: SelfAttention,
        task: Tag { vocab: 16, max_len: 12, tags: 16 },
        d_model: 16, heads: 2, layers: 1,
        dropout: 0.1,
    }
}

attention_model! {
    /// A tiny sequence-to-sequence transformer for the reverse task.
    #[name = "tiny-reverser", data = "reverse"]
    pub struct TinyReverser {
        arch: Transformer,
        task: Seq2Seq { src_vocab: 16, tgt_vocab: 16, src_len: 10, tgt_len: 11 },
        d_model: 16, heads: 2, ff: 32, encoder_layers: 1, decoder_layers: 1,
        norm: Pre,
    }
}

attention_model! {
    /// A tiny classifier.
    #[name = "tiny-classifier", data = "sentiment"]
    pub struct TinyClassifier {
        arch: SingleHead,
        task: Classify { vocab: 64, max_len: 6, classes: 2 },
        d_model: 8,
    }
}

fn scratch(name: &str) -> PathBuf {
    common::scratch_dir("training", name)
}

fn quick(epochs: usize) -> TrainConfig {
    TrainConfig {
        epochs,
        batch_size: 32,
        lr: 3e-3,
        seed: 5,
        data: PrepareOptions {
            max_train: Some(256),
            max_eval: Some(64),
            ..Default::default()
        },
        ..TrainConfig::default()
    }
}

fn run(
    entry: &dyn ZooEntry,
    dataset: &Dataset,
    config: TrainConfig,
    out: &Path,
    resume: Option<&Path>,
) -> Result<TrainOutcome, AttnError> {
    let request = TrainRequest {
        entry,
        dataset,
        config,
        out: out.to_path_buf(),
        resume: resume.map(Path::to_path_buf),
    };
    train(request, &mut Quiet, &AtomicBool::new(false))
}

fn losses(o: &TrainOutcome) -> Vec<(f64, f64, f64)> {
    o.history
        .iter()
        .map(|r| (r.train_loss, r.valid_loss, r.valid_acc))
        .collect()
}

/// No temporary file is left in a run directory.
fn assert_no_partial_files(dir: &Path) {
    for entry in walk(dir) {
        let name = entry.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            !name.contains(".tmp"),
            "half-written file left: {}",
            entry.display()
        );
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn the_same_seed_gives_the_same_loss_curve() {
    let data = builtin("sort").unwrap();
    let out = scratch("seed");
    let a = run(&Entry::<TinySorter>::NEW, &data, quick(2), &out, None).unwrap();
    let b = run(&Entry::<TinySorter>::NEW, &data, quick(2), &out, None).unwrap();
    assert_eq!(losses(&a), losses(&b));
    assert_ne!(a.run_dir, b.run_dir);
    let c = run(
        &Entry::<TinySorter>::NEW,
        &data,
        TrainConfig {
            seed: 6,
            ..quick(2)
        },
        &out,
        None,
    )
    .unwrap();
    assert_ne!(losses(&a), losses(&c), "another seed gives another curve");
    for file in [
        "config.json",
        "vocab.json",
        "metrics.csv",
        "metrics.jsonl",
        "model.safetensors",
        "checkpoints/epoch-0002/last.safetensors",
        "checkpoints/epoch-0002/optimizer.safetensors",
        "checkpoints/epoch-0002/state.json",
        "checkpoints/epoch-0002/metrics.jsonl",
        "summary.json",
        "attention/example-1/index.html",
        "attention/example-1/overview.png",
        "attention/example-1/stats.json",
        "attention/example-3/index.html",
    ] {
        assert!(a.run_dir.join(file).is_file(), "{file} missing");
    }
    // only the newest and the best checkpoints are kept; model.safetensors is the best's
    let best = a
        .run_dir
        .join(format!("checkpoints/epoch-{:04}", a.best_epoch));
    assert_eq!(
        std::fs::read(a.run_dir.join("model.safetensors")).unwrap(),
        std::fs::read(best.join("last.safetensors")).unwrap()
    );
    let kept = std::fs::read_dir(a.run_dir.join("checkpoints"))
        .unwrap()
        .count();
    assert_eq!(kept, if a.best_epoch == 2 { 1 } else { 2 });
    // statistics of every head; the key-padding mask leaves padding no weight
    let stats: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(a.run_dir.join("attention/example-1/stats.json")).unwrap(),
    )
    .unwrap();
    let heads = stats["heads"].as_array().unwrap();
    assert_eq!(heads.len(), 2, "{stats}");
    for h in heads {
        assert_eq!(h[2]["padding"].as_f64(), Some(0.0), "{h}: masked padding");
    }
    let csv = std::fs::read_to_string(a.run_dir.join("metrics.csv")).unwrap();
    assert_eq!(csv.lines().count(), 3, "{csv}");
    assert_no_partial_files(&out);
    std::fs::remove_dir_all(&out).ok();
}

#[test]
fn resuming_continues_the_uninterrupted_curve() {
    let data = builtin("sort").unwrap();
    let out = scratch("resume");
    let whole = run(&Entry::<TinySorter>::NEW, &data, quick(3), &out, None).unwrap();
    let first = run(&Entry::<TinySorter>::NEW, &data, quick(2), &out, None).unwrap();
    let resumed = run(
        &Entry::<TinySorter>::NEW,
        &data,
        quick(3),
        &out,
        Some(&first.run_dir),
    )
    .unwrap();
    assert_eq!(resumed.run_dir, first.run_dir);
    assert_eq!(losses(&resumed), losses(&whole));
    assert_eq!(resumed.test, whole.test);
    std::fs::remove_dir_all(&out).ok();
}

#[test]
fn a_run_stopped_in_its_first_epoch_resumes_from_the_beginning() {
    let data = builtin("sort").unwrap();
    let out = scratch("stopped-first");
    let whole = run(&Entry::<TinySorter>::NEW, &data, quick(2), &out, None).unwrap();
    // a stop requested before the first step: nothing is committed
    let request = TrainRequest {
        entry: &Entry::<TinySorter>::NEW,
        dataset: &data,
        config: quick(2),
        out: out.clone(),
        resume: None,
    };
    let stopped = train(request, &mut Quiet, &AtomicBool::new(true)).unwrap();
    assert_eq!(
        (stopped.stopped, stopped.best_epoch),
        (Stop::Interrupted, 0)
    );
    assert!(stopped.run_dir.join("interrupted.safetensors").is_file());
    let resumed = run(
        &Entry::<TinySorter>::NEW,
        &data,
        quick(2),
        &out,
        Some(&stopped.run_dir),
    )
    .unwrap();
    assert_eq!(losses(&resumed), losses(&whole));
    assert_eq!(resumed.test, whole.test);
    let model = |o: &TrainOutcome| std::fs::read(o.run_dir.join("model.safetensors")).unwrap();
    assert_eq!(model(&resumed), model(&whole));
    assert!(
        !stopped.run_dir.join("interrupted.safetensors").exists(),
        "a committed epoch supersedes the stopped model"
    );
    std::fs::remove_dir_all(&out).ok();
}

/// Replaces every tensor byte of a safetensors file, keeping its header.
fn scramble(path: &Path) {
    let mut bytes = std::fs::read(path).unwrap();
    let header = 8 + u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    for (i, b) in bytes[header..].iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(97).wrapping_add(13);
    }
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn damaged_checkpoint_bytes_are_refused_before_anything_runs() {
    let data = builtin("sort").unwrap();
    let out = scratch("damaged");
    let entry = Entry::<TinySorter>::NEW;
    let first = run(&entry, &data, quick(2), &out, None).unwrap();
    let dir = &first.run_dir;
    // a copy, not the hard link the run keeps, so the checkpoints stay whole
    let model = dir.join("model.safetensors");
    let bytes = std::fs::read(&model).unwrap();
    std::fs::remove_file(&model).unwrap();
    std::fs::write(&model, bytes).unwrap();
    scramble(&model);
    // `eval`/`predict` load the best checkpoint, not the damaged copy beside it
    assert!(attn_runtime::train::load_run(dir, &entry).is_ok());
    let last = dir.join("checkpoints/epoch-0002/last.safetensors");
    scramble(&last);
    let committed = || std::fs::read_dir(dir.join("checkpoints")).unwrap().count();
    let before = committed();
    let err = run(&entry, &data, quick(3), &out, Some(dir)).unwrap_err();
    assert!(
        matches!(&err, AttnError::StateDict { reason } if reason.contains("damaged")),
        "{err:?}"
    );
    assert_eq!(committed(), before, "nothing trained or committed");
    assert!(!dir.join("checkpoints/epoch-0003").exists());
    if first.best_epoch == 2 {
        assert!(attn_runtime::train::load_run(dir, &entry).is_err());
    }
    std::fs::remove_dir_all(&out).ok();
}

#[test]
fn runs_started_at_once_never_share_a_directory() {
    let out = scratch("claim");
    let dirs: Vec<PathBuf> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|_| s.spawn(|| attn_runtime::train::RunDir::create(&out, "m").unwrap().path))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut unique = dirs.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 8, "{dirs:?}");
    std::fs::remove_dir_all(&out).ok();
}

#[test]
fn a_checkpoint_of_another_model_is_refused_on_resume() {
    let sort = builtin("sort").unwrap();
    let out = scratch("other-model");
    let first = run(&Entry::<TinySorter>::NEW, &sort, quick(1), &out, None).unwrap();
    let words = sentiment_like();
    let err = run(
        &Entry::<TinyClassifier>::NEW,
        &words,
        quick(2),
        &out,
        Some(&first.run_dir),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("this run trained `tiny-sorter`, not `tiny-classifier`"),
        "{err}"
    );
    // the run directory is untouched
    let state =
        std::fs::read_to_string(first.run_dir.join("checkpoints/epoch-0001/state.json")).unwrap();
    assert!(state.contains("\"epochs_done\": 1"), "{state}");
    std::fs::remove_dir_all(&out).ok();
}

fn sentiment_like() -> Dataset {
    let texts = [
        "good film",
        "bad film",
        "great plot",
        "awful plot",
        "good plot",
        "bad acting",
        "great acting",
        "awful film",
    ];
    let pairs = (0..64)
        .map(|i| {
            (
                texts[i % 8].to_string(),
                if i % 2 == 0 { "pos" } else { "neg" }.to_string(),
            )
        })
        .collect();
    Dataset {
        name: "toy".into(),
        examples: Examples::Labelled(pairs),
        src_tokenizer: Tokenizer::Word,
        tgt_tokenizer: Tokenizer::Word,
        min_count: 1,
        split: Split::Seeded,
    }
}

#[test]
fn a_vocabulary_larger_than_declared_is_an_error_that_says_what_to_do() {
    let data = builtin("sentiment").unwrap();
    let out = scratch("vocab");
    let err = run(&Entry::<TinyClassifier>::NEW, &data, quick(1), &out, None)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("declares vocab: 64") && err.contains("--max-vocab 64"),
        "{err}"
    );
    // the tokeniser that fits comes first: capping a word vocabulary turns text into UNKs
    assert!(
        err.contains("`--tokenizer char`")
            && err.contains("`--tokenizer bpe` (subwords learnt from the training split, as many as vocab: 64 holds")
            && err.contains("instead of word"),
        "{err}"
    );
    assert_no_partial_files(&out);
    std::fs::remove_dir_all(&out).ok();
}

#[test]
fn sequences_longer_than_declared_fail_unless_truncation_is_asked_for() {
    let data = sentiment_like();
    let long = Dataset {
        examples: Examples::Labelled(vec![
            (
                "one two three four five six seven".into(),
                "pos".into()
            );
            40
        ]),
        ..data
    };
    let out = scratch("long");
    let err = run(&Entry::<TinyClassifier>::NEW, &long, quick(1), &out, None)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("7 tokens, longer than the model's maximum of 6")
            && err.contains("--truncate"),
        "{err}"
    );
    let cfg = TrainConfig {
        data: PrepareOptions {
            truncate: true,
            ..quick(1).data
        },
        ..quick(1)
    };
    assert!(run(&Entry::<TinyClassifier>::NEW, &long, cfg, &out, None).is_ok());
    std::fs::remove_dir_all(&out).ok();
}

#[test]
fn an_unwritable_output_directory_is_an_error() {
    let out = scratch("unwritable");
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    std::fs::write(&out, b"a file where the directory should be").unwrap();
    let err = run(
        &Entry::<TinySorter>::NEW,
        &builtin("sort").unwrap(),
        quick(1),
        &out,
        None,
    )
    .unwrap_err();
    assert!(matches!(err, AttnError::Io { .. }), "{err:?}");
    assert!(
        err.to_string().contains(&out.display().to_string()),
        "{err}"
    );
    std::fs::remove_file(&out).ok();
}

#[test]
fn a_diverging_run_stops_and_keeps_the_last_good_checkpoint() {
    let data = builtin("sort").unwrap();
    let out = scratch("nan");
    // one sane epoch, then resume with an absurd learning rate and no clipping
    let first = run(&Entry::<TinySorter>::NEW, &data, quick(1), &out, None).unwrap();
    let last = first
        .run_dir
        .join("checkpoints/epoch-0001/last.safetensors");
    let good = std::fs::read(&last).unwrap();
    let config_path = first.run_dir.join("config.json");
    let config = std::fs::read_to_string(&config_path).unwrap();
    let mut json: serde_json::Value = serde_json::from_str(&config).unwrap();
    json["train"]["lr"] = serde_json::json!(1e30);
    json["train"]["clip_norm"] = serde_json::Value::Null;
    std::fs::write(&config_path, serde_json::to_string(&json).unwrap()).unwrap();
    let err = run(
        &Entry::<TinySorter>::NEW,
        &data,
        quick(3),
        &out,
        Some(&first.run_dir),
    )
    .unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, AttnError::Diverged { .. }), "{err:?}");
    assert!(
        message.contains("last good checkpoint") && message.contains("(epoch 1)"),
        "{message}"
    );
    assert_eq!(std::fs::read(&last).unwrap(), good);
    let kept: Vec<_> = std::fs::read_dir(first.run_dir.join("checkpoints"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        kept,
        ["epoch-0001"],
        "nothing of the diverged epoch is committed"
    );
    assert_no_partial_files(&out);
    std::fs::remove_dir_all(&out).ok();
}

#[test]
fn impossible_settings_are_rejected_before_anything_is_written() {
    let out = scratch("settings");
    for bad in [
        TrainConfig {
            batch_size: 0,
            ..quick(1)
        },
        TrainConfig {
            lr: -1.0,
            ..quick(1)
        },
        TrainConfig {
            dropout: Some(1.0),
            ..quick(1)
        },
    ] {
        let err = run(
            &Entry::<TinySorter>::NEW,
            &builtin("sort").unwrap(),
            bad,
            &out,
            None,
        )
        .unwrap_err();
        assert!(
            matches!(err, AttnError::InvalidHyperParameter { .. }),
            "{err:?}"
        );
    }
    assert!(!out.exists());
}

#[test]
fn an_empty_split_is_refused_naming_it_before_anything_is_written() {
    let out = scratch("empty-split");
    // two examples: the 80/10/10 split holds none out for validation and test
    let tiny = Dataset {
        examples: Examples::Labelled(vec![
            ("good film".into(), "pos".into()),
            ("bad film".into(), "neg".into()),
        ]),
        ..sentiment_like()
    };
    let err = run(&Entry::<TinyClassifier>::NEW, &tiny, quick(1), &out, None).unwrap_err();
    assert!(matches!(err, AttnError::Data { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.starts_with("toy: the validation split is empty: the data set has 2 examples")
            && message.contains("at least 3")
            && message.contains("give the data set more examples"),
        "{message}"
    );
    // a cap of 0 empties a split of any data set
    for (data, bad) in [
        (
            PrepareOptions {
                max_eval: Some(0),
                ..quick(1).data
            },
            "max_eval (--max-eval) = 0: must be at least 1",
        ),
        (
            PrepareOptions {
                max_train: Some(0),
                ..quick(1).data
            },
            "max_train (--max-train) = 0: must be at least 1",
        ),
    ] {
        let config = TrainConfig { data, ..quick(1) };
        let err = run(
            &Entry::<TinyClassifier>::NEW,
            &sentiment_like(),
            config,
            &out,
            None,
        )
        .unwrap_err();
        assert!(
            matches!(err, AttnError::InvalidHyperParameter { .. }) && err.to_string().contains(bad),
            "{err}"
        );
    }
    assert!(!out.exists());
    // three examples are enough: one each
    let three = Dataset {
        examples: Examples::Labelled(vec![("good film".into(), "pos".into()); 3]),
        ..sentiment_like()
    };
    let o = run(&Entry::<TinyClassifier>::NEW, &three, quick(1), &out, None).unwrap();
    assert_eq!(o.test.examples, 1);
    std::fs::remove_dir_all(&out).ok();
}

#[test]
fn a_vocabulary_cap_without_room_for_a_real_token_is_refused() {
    let out = scratch("max-vocab");
    for cap in [0, 1, 4] {
        let config = TrainConfig {
            data: PrepareOptions {
                max_vocab: Some(cap),
                ..quick(1).data
            },
            ..quick(1)
        };
        let err = run(
            &Entry::<TinyClassifier>::NEW,
            &sentiment_like(),
            config,
            &out,
            None,
        )
        .unwrap_err();
        let message = err.to_string();
        assert!(
            matches!(err, AttnError::InvalidHyperParameter { .. })
                && message.contains(&format!(
                    "max_vocab (--max-vocab) = {cap}: must be at least {}",
                    attn_runtime::data::MIN_VOCAB
                ))
                && message.contains("<pad>, <bos>, <eos>, <unk>"),
            "{message}"
        );
    }
    assert!(!out.exists());
    // the smallest cap keeps the most frequent word
    let config = TrainConfig {
        data: PrepareOptions {
            max_vocab: Some(attn_runtime::data::MIN_VOCAB),
            ..quick(1).data
        },
        ..quick(1)
    };
    assert!(run(
        &Entry::<TinyClassifier>::NEW,
        &sentiment_like(),
        config,
        &out,
        None
    )
    .is_ok());
    std::fs::remove_dir_all(&out).ok();
}

#[test]
fn training_reports_a_stop_kind() {
    let out = scratch("stop");
    let o = run(
        &Entry::<TinySorter>::NEW,
        &builtin("sort").unwrap(),
        quick(1),
        &out,
        None,
    )
    .unwrap();
    assert_eq!(o.stopped, Stop::Completed);
    std::fs::remove_dir_all(&out).ok();
}

#[test]
fn bucketing_groups_similar_lengths_and_keeps_every_example_once() {
    use attn_runtime::data::{batches, bucketed_batches, Encoded};
    use attn_runtime::zoo::Inputs;
    let examples: Vec<Encoded> = (0..320)
        .map(|i| Encoded {
            ids: vec![4 + i % 7; 1 + (i * 7919) % 12],
            pixels: Vec::new(),
            target: vec![4; 1 + (i * 7919) % 12],
        })
        .collect();
    let meta = &TinySorter::META;
    let spread = |bs: &[attn_runtime::zoo::Batch]| -> usize {
        bs.iter()
            .map(|b| match &b.inputs {
                Inputs::Tokens { lengths, .. } => {
                    lengths.iter().max().unwrap() - lengths.iter().min().unwrap()
                }
                Inputs::Images { .. } => 0,
            })
            .sum()
    };
    let plain = batches(&examples, meta, 32, Some(3));
    let bucketed = bucketed_batches(&examples, meta, 32, Some(3), true);
    assert!(
        spread(&bucketed) < spread(&plain) / 4,
        "{} vs {}",
        spread(&bucketed),
        spread(&plain)
    );
    let count = |bs: &[attn_runtime::zoo::Batch]| bs.iter().map(|b| b.size).sum::<usize>();
    assert_eq!(count(&bucketed), 320);
    assert_eq!(
        bucketed,
        bucketed_batches(&examples, meta, 32, Some(3), true),
        "seeded"
    );
}

/// The first epoch whose key beats every earlier one's (ties keep the earlier epoch).
fn first_best(o: &TrainOutcome, key: &dyn Fn(&EpochReport) -> (f64, f64, f64)) -> usize {
    o.history
        .iter()
        .fold(None::<&EpochReport>, |best, e| match best {
            Some(b) if key(e) <= key(b) => Some(b),
            _ => Some(e),
        })
        .unwrap()
        .epoch
}

#[test]
fn the_selection_setting_chooses_the_best_checkpoint() {
    let data = builtin("sort").unwrap();
    let out = scratch("selection");
    let by = |selection| {
        // settings whose fifth epoch has the better accuracy and exact match but the
        // fourth the lower loss (when this was written)
        let settings = TrainConfig {
            epochs: 5,
            batch_size: 16,
            lr: 3e-2,
            seed: 7,
            data: PrepareOptions {
                max_train: Some(200),
                max_eval: Some(50),
                ..Default::default()
            },
            attention_reports: false,
            selection,
            ..TrainConfig::default()
        };
        run(&Entry::<TinySorter>::NEW, &data, settings, &out, None).unwrap()
    };
    // the default: the highest exact match, then accuracy, then the lowest loss
    let default = by(Selection::default());
    let exact_first = |e: &EpochReport| (e.valid_exact, e.valid_acc, -e.valid_loss);
    assert_eq!(default.best_epoch, first_best(&default, &exact_first));
    // by loss: the lowest validation loss, written into config.json
    let by_loss = by(Selection::Loss);
    assert_eq!(
        losses(&default),
        losses(&by_loss),
        "the rule does not change training"
    );
    let loss_first = |e: &EpochReport| (-e.valid_loss, e.valid_exact, e.valid_acc);
    assert_eq!(by_loss.best_epoch, first_best(&by_loss, &loss_first));
    let config = std::fs::read_to_string(by_loss.run_dir.join("config.json")).unwrap();
    assert!(config.contains("\"selection\": \"Loss\""), "{config}");
    std::fs::remove_dir_all(&out).ok();
}

fn selecting(selection: Selection, epochs: usize) -> TrainConfig {
    TrainConfig {
        epochs,
        batch_size: 16,
        lr: 1e-2,
        seed: 3,
        data: PrepareOptions {
            max_train: Some(256),
            max_eval: Some(48),
            ..Default::default()
        },
        attention_reports: false,
        selection,
        ..TrainConfig::default()
    }
}

#[test]
fn bleu_chooses_the_checkpoint_of_a_sequence_to_sequence_run() {
    let data = builtin("reverse").unwrap();
    let out = scratch("select-bleu");
    let entry = Entry::<TinyReverser>::NEW;
    let o = run(&entry, &data, selecting(Selection::Bleu, 4), &out, None).unwrap();
    let bleu: Vec<f64> = o.history.iter().map(|e| e.valid_bleu.unwrap()).collect();
    assert!(o.history.iter().all(|e| e.valid_macro_f1.is_none()));
    assert!(
        bleu.iter().all(|b| (0.0..=100.0).contains(b)) && bleu[3] > bleu[0],
        "validation BLEU learns: {bleu:?}"
    );
    let bleu_first = |e: &EpochReport| (e.valid_bleu.unwrap(), e.valid_exact, -e.valid_loss);
    assert_eq!(o.best_epoch, first_best(&o, &bleu_first));
    // the BLEU summed batch by batch is the corpus BLEU `eval` computes on the same checkpoint
    let test_bleu = o.test.bleu().unwrap();
    let loaded = attn_runtime::train::load_run(&o.run_dir, &entry).unwrap();
    let report = attn_runtime::train::evaluate_run(&loaded, &data, 7, None).unwrap();
    let greedy = report.seq2seq.clone().unwrap();
    assert_eq!(test_bleu, greedy.bleu);
    assert_eq!(greedy.decoding, "greedy");
    // `eval --beam`: one beam ranked by log-probability is greedy decoding, output for output
    let one = attn_runtime::infer::BeamSearch {
        beam_size: 1,
        length_penalty: 0.0,
    };
    let narrow = attn_runtime::train::evaluate_run(&loaded, &data, 7, Some(one)).unwrap();
    let texts = |r: &attn_runtime::train::EvalReport| -> Vec<String> {
        r.predictions.iter().map(|p| p.prediction.clone()).collect()
    };
    assert!(!report.predictions.is_empty());
    assert_eq!(texts(&narrow), texts(&report));
    assert_eq!(narrow.seq2seq.unwrap().bleu, greedy.bleu);
    // four beams, four sources per forward pass (a batch of 16 rows): every output is what
    // `predict --beam 4` gives for that input alone, and the report says how it decoded
    let four = attn_runtime::infer::BeamSearch::default();
    let wide = attn_runtime::train::evaluate_run(&loaded, &data, 16, Some(four)).unwrap();
    assert_eq!(
        wide.seq2seq.as_ref().unwrap().decoding,
        "beam 4, length penalty 0.6"
    );
    let predictor = attn_runtime::infer::Predictor::new(loaded);
    for row in &wide.predictions {
        let p = predictor.predict_text(&row.input, Some(four)).unwrap();
        let attn_runtime::infer::Output::Sequence { text, .. } = p.output else {
            panic!("a sequence model predicts sequences")
        };
        assert_eq!(row.prediction, text, "input {:?}", row.input);
    }
    let summary = std::fs::read_to_string(o.run_dir.join("summary.json")).unwrap();
    let summary: serde_json::Value = serde_json::from_str(&summary).unwrap();
    assert_eq!(summary["test_bleu"].as_f64(), Some(test_bleu));
    let csv = std::fs::read_to_string(o.run_dir.join("metrics.csv")).unwrap();
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let column = header.iter().position(|&h| h == "valid_bleu").unwrap();
    let first: Vec<&str> = csv.lines().nth(1).unwrap().split(',').collect();
    assert_eq!(first.len(), header.len());
    assert_eq!(first[column], format!("{:.6}", bleu[0]));
    std::fs::remove_dir_all(&out).ok();
}

#[test]
fn macro_f1_chooses_the_checkpoint_of_a_classifier_and_a_tagger() {
    let out = scratch("select-f1");
    let data = sentiment_like();
    let entry = Entry::<TinyClassifier>::NEW;
    let o = run(&entry, &data, selecting(Selection::MacroF1, 4), &out, None).unwrap();
    let f1_first = |e: &EpochReport| (e.valid_macro_f1.unwrap(), e.valid_acc, -e.valid_loss);
    assert_eq!(o.best_epoch, first_best(&o, &f1_first));
    assert!(o.history.iter().all(|e| e.valid_bleu.is_none()));
    // the counts summed batch by batch score as scikit-learn's report on all the predictions
    let loaded = attn_runtime::train::load_run(&o.run_dir, &entry).unwrap();
    let report = attn_runtime::train::evaluate_run(&loaded, &data, 5, None).unwrap();
    // a beam is refused for a classifier, not ignored
    let beam = Some(attn_runtime::infer::BeamSearch::default());
    match attn_runtime::train::evaluate_run(&loaded, &data, 5, beam) {
        Err(AttnError::InvalidHyperParameter { name, .. }) => {
            assert_eq!(name, "beam_size (--beam)")
        }
        other => panic!("a beam for a classifier: {:?}", other.map(|r| r.model)),
    }
    let macro_f1 = report.classification.unwrap().macro_avg.f1;
    assert_eq!(o.test.macro_f1(), Some(macro_f1));

    let sort = builtin("sort").unwrap();
    let tagger = run(
        &Entry::<TinySorter>::NEW,
        &sort,
        selecting(Selection::MacroF1, 3),
        &out,
        None,
    )
    .unwrap();
    let f1: Vec<f64> = tagger
        .history
        .iter()
        .map(|e| e.valid_macro_f1.unwrap())
        .collect();
    assert!(f1.iter().all(|f| (0.0..=1.0).contains(f)), "{f1:?}");
    assert_eq!(tagger.best_epoch, first_best(&tagger, &f1_first));
    std::fs::remove_dir_all(&out).ok();
}

#[test]
fn a_selection_the_task_has_no_score_for_is_refused_before_anything_is_written() {
    let out = scratch("select-refused");
    let err = run(
        &Entry::<TinySorter>::NEW,
        &builtin("sort").unwrap(),
        selecting(Selection::Bleu, 1),
        &out,
        None,
    )
    .unwrap_err();
    let AttnError::InvalidHyperParameter {
        name, requirement, ..
    } = err
    else {
        panic!("{err:?}")
    };
    assert_eq!(name, "selection");
    assert!(requirement.contains("macro-f1"), "{requirement}");
    let err = run(
        &Entry::<TinyReverser>::NEW,
        &builtin("reverse").unwrap(),
        selecting(Selection::MacroF1, 1),
        &out,
        None,
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            AttnError::InvalidHyperParameter {
                name: "selection",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(!out.exists());
}

/// The learning-rate range test: seeded (the same steps twice), one step per rate from the
/// first to the last, the loss falling from its start before the large rates, a suggestion
/// inside the range, and a stop where the loss diverges.
#[test]
fn the_learning_rate_range_test_is_seeded_and_suggests_a_rate_where_the_loss_falls() {
    use attn_runtime::train::{find_lr, LrRangeTest};
    let data = builtin("reverse").unwrap();
    let entry = Entry::<TinyReverser>::NEW;
    let test = LrRangeTest {
        steps: 60,
        ..LrRangeTest::default()
    };
    let range = find_lr(&entry, &data, &quick(1), &test).unwrap();
    assert_eq!(range, find_lr(&entry, &data, &quick(1), &test).unwrap());
    let n = range.points.len();
    assert!(n > 20, "{n} steps");
    for (i, p) in range.points.iter().enumerate() {
        assert!((p.lr / test.lr_at(i) - 1.0).abs() < 1e-12);
        assert!(p.loss.is_finite() && p.smoothed.is_finite());
    }
    let lowest = range
        .points
        .iter()
        .map(|p| p.smoothed)
        .fold(f64::INFINITY, f64::min);
    assert!(
        lowest < 0.95 * range.points[0].smoothed,
        "the loss never fell: {:?}",
        range.points
    );
    let lr = range.suggestion.expect("a suggestion");
    assert!((test.min_lr..=test.max_lr).contains(&lr), "{lr}");
    // where the rate ends far too high, the loss blows up and the test stops before the end
    let wild = LrRangeTest {
        max_lr: 1e4,
        ..test
    };
    let range = find_lr(&entry, &data, &quick(1), &wild).unwrap();
    assert!(range.diverged && range.points.len() < 60, "{range:?}");
}

#[test]
fn subwords_are_refused_for_tagged_data_whose_tokens_come_one_per_tag() {
    let mut data = builtin("sort").unwrap();
    data.src_tokenizer = Tokenizer::Bpe;
    let err =
        attn_runtime::data::prepare(&data, &TinySorter::META, &PrepareOptions::default(), None)
            .map(drop)
            .unwrap_err()
            .to_string();
    assert!(
        err.contains("subwords do not apply to tagged data")
            && err.contains("leave --tokenizer out"),
        "{err}"
    );
}
