//! This crate's own models through attn's library commands, end to end: trained, resumed,
//! evaluated, used for prediction and drawn, exactly as `my-attn <command>` runs them.

use std::path::{Path, PathBuf};
use std::process::Command;

use attn_cli::{attend, eval, predict, sweep, train, Parser};
use attn_runtime::infer::Output;
use attn_runtime::loss::IGNORE;
use attn_runtime::tokens::BOS;
use attn_runtime::train::TrainOutcome;
use attn_runtime::zoo::{Batch, Entry, Inputs, ZooEntry, ZooModel};
use my_attn_models::hybrid::LstmTransformer;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("my-attn-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// `my-attn train <model> <flags>` into `out`, small and quiet.
fn train_run(model: &str, out: &Path, flags: &[&str]) -> TrainOutcome {
    let mut args = vec!["train", model, "--quiet", "--out", out.to_str().unwrap()];
    args.extend_from_slice(flags);
    train::run(&my_attn_models::registry(), train::Args::parse_from(args))
        .expect("training runs")
        .expect("a training, not --list")
}

fn losses(o: &TrainOutcome) -> Vec<(f64, f64, f64)> {
    o.history
        .iter()
        .map(|r| (r.train_loss, r.valid_loss, r.valid_acc))
        .collect()
}

const SMALL: [&str; 6] = [
    "--max-train",
    "512",
    "--max-eval",
    "64",
    "--batch-size",
    "32",
];

/// Trains `model` for two epochs, then again for one epoch resumed to two (the same run), and
/// evaluates, predicts with and draws the run; `heads` is how many attention maps it has.
fn seq2seq_end_to_end(model: &str, heads: usize) {
    let registry = my_attn_models::registry();
    let whole = train_run(
        model,
        &scratch(&format!("{model}-whole")),
        &[&SMALL[..], &["--epochs", "2"]].concat(),
    );
    assert_eq!(whole.history.len(), 2);
    assert!(
        whole.history[1].train_loss < whole.history[0].train_loss,
        "a second epoch lowers the training loss: {:?}",
        losses(&whole)
    );

    // one epoch, then `--resume` to two: the very run the uninterrupted training made
    let halves = scratch(&format!("{model}-halves"));
    let first = train_run(model, &halves, &[&SMALL[..], &["--epochs", "1"]].concat());
    let dir = first.run_dir.to_str().unwrap().to_string();
    let resumed = train_run(
        model,
        &halves,
        &[&SMALL[..], &["--epochs", "2", "--resume", &dir]].concat(),
    );
    assert_eq!(resumed.run_dir, first.run_dir);
    assert_eq!(losses(&resumed), losses(&whole));
    assert_eq!(resumed.test, whole.test);

    // eval scores the best checkpoint on the same test split the training reported on
    let report = eval::run(&registry, eval::Args::parse_from(["eval", &dir]))
        .expect("eval runs")
        .expect("a run's report");
    assert_eq!(report.model, model);
    assert_eq!(report.examples, 64);
    let seq = report.seq2seq.expect("sequence-to-sequence scores");
    assert!(
        (seq.token_accuracy - resumed.test.accuracy()).abs() < 1e-9,
        "eval's token accuracy {} is the training's test score {}",
        seq.token_accuracy,
        resumed.test.accuracy()
    );
    assert!(Path::new(&dir).join("eval.json").is_file());

    // beam search decodes the same test split (on the model's decoding session, where it has one)
    let beam = eval::run(
        &registry,
        eval::Args::parse_from(["eval", &dir, "--beam", "3"]),
    )
    .expect("eval --beam runs")
    .expect("a run's report");
    assert_eq!(beam.examples, 64);
    let beam = beam.seq2seq.expect("sequence-to-sequence scores");
    assert!(
        (0.0..=1.0).contains(&beam.exact_match),
        "{}",
        beam.exact_match
    );

    // predict decodes digits, at most the declared 12 target tokens
    let predictions = predict::run(
        &registry,
        predict::Args::parse_from(["predict", &dir, "3 1 4 1 5", "9 2 6"]),
    )
    .expect("predict runs");
    assert_eq!(predictions.len(), 2);
    for p in &predictions {
        let Output::Sequence { tokens, .. } = &p.output else {
            panic!(
                "a sequence-to-sequence model predicts a sequence: {:?}",
                p.output
            );
        };
        assert!(tokens.len() < 12, "{tokens:?}");
    }
    assert_eq!(predictions[0].input_tokens, ["3", "1", "4", "1", "5"]);

    // attend draws every head of every attention layer
    let files = attend::run(
        &registry,
        attend::Args::parse_from(["attend", &dir, "3 1 4 1 5"]),
    )
    .expect("attend runs");
    assert_eq!(
        files.stats.len(),
        heads,
        "{:?}",
        files.stats.iter().map(|s| (&s.0, s.1)).collect::<Vec<_>>()
    );
    assert!(files.dir.join("index.html").is_file());
    assert!(files.dir.starts_with(&dir));
}

#[test]
fn my_declared_seq2seq_model_trains_resumes_evaluates_predicts_and_attends() {
    // 1 encoder layer, 1 decoder layer (self and cross attention), 2 heads each
    seq2seq_end_to_end("my-reverser", 6);
}

#[test]
fn my_hand_built_hybrid_gets_every_tool_through_the_contract() {
    // no encoder attention (an LSTM), 1 decoder layer (self and cross attention), 2 heads each
    seq2seq_end_to_end("lstm-transformer", 4);
}

/// The logits the hybrid's teacher-forced pass gives each `(source, prefix)` row at position
/// `prefix.len()` (sources of up to 12 digits, targets of 12, 16 tokens).
fn teacher_forced(
    model: &dyn ZooModel,
    sources: &[&[usize]],
    rows: &[(usize, Vec<usize>)],
) -> Vec<f32> {
    let (sl, tl, v) = (12, 12, 16);
    let mut ids = vec![0; rows.len() * sl];
    let mut targets = vec![IGNORE; rows.len() * tl];
    let mut lengths = Vec::new();
    for (b, (s, prefix)) in rows.iter().enumerate() {
        ids[b * sl..][..sources[*s].len()].copy_from_slice(sources[*s]);
        targets[b * tl..][..prefix.len()].copy_from_slice(prefix);
        targets[b * tl + prefix.len()] = 0;
        lengths.push(sources[*s].len());
    }
    let batch = Batch {
        size: rows.len(),
        inputs: Inputs::Tokens { ids, lengths },
        targets,
    };
    let out = model.forward_teacher_forced(&batch, false).unwrap();
    rows.iter()
        .enumerate()
        .flat_map(|(b, (_, prefix))| out.logits[(b * tl + prefix.len()) * v..][..v].to_vec())
        .collect()
}

/// The hybrid's own decoding session: rows repeated and reordered as a beam search does, each
/// step's logits those of its teacher-forced pass over the same prefixes.
#[test]
fn my_hybrids_decoding_session_steps_as_its_teacher_forced_pass_scores() {
    let model = Entry::<LstmTransformer>::NEW.instantiate(5).unwrap();
    let sources: [&[usize]; 2] = [&[3, 4, 5], &[6, 7, 8, 9, 10]];
    let mut session = model
        .source_stepper(&sources)
        .unwrap()
        .expect("the hybrid implements a session");
    let steps = [
        session.try_step(&[0, 1, 1], &[BOS; 3]).unwrap(),
        session.try_step(&[2, 0], &[5, 6]).unwrap(),
        session.try_step(&[1, 1, 0], &[7, 8, 9]).unwrap(),
    ];
    let want = [
        teacher_forced(&*model, &sources, &[(0, vec![]), (1, vec![]), (1, vec![])]),
        teacher_forced(&*model, &sources, &[(1, vec![5]), (0, vec![6])]),
        teacher_forced(
            &*model,
            &sources,
            &[(0, vec![6, 7]), (0, vec![6, 8]), (1, vec![5, 9])],
        ),
    ];
    for (t, (got, want)) in steps.iter().zip(&want).enumerate() {
        assert_eq!(got.len(), want.len(), "step {t}");
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            assert!(
                (g - w).abs() <= 1e-4 * (1.0 + w.abs()),
                "step {t} [{i}]: {g} vs {w}"
            );
        }
    }
}

#[test]
fn my_classifier_trains_and_predicts_class_probabilities() {
    let registry = my_attn_models::registry();
    let run = train_run(
        "my-review-classifier",
        &scratch("classifier"),
        &[&SMALL[..], &["--epochs", "1"]].concat(),
    );
    let dir = run.run_dir.to_str().unwrap().to_string();
    let predictions = predict::run(
        &registry,
        predict::Args::parse_from(["predict", &dir, "a wonderful, moving film"]),
    )
    .expect("predict runs");
    let Output::Class { probabilities, .. } = &predictions[0].output else {
        panic!("a classifier predicts a class: {:?}", predictions[0].output);
    };
    assert_eq!(probabilities.len(), 2);
    let total: f64 = probabilities.iter().map(|(_, p)| p).sum();
    assert!((total - 1.0).abs() < 1e-5, "{probabilities:?}");
    // CLS pooling: the marker token comes first
    assert_eq!(
        predictions[0].input_tokens,
        ["<bos>", "a", "wonderful", ",", "moving", "film"]
    );
}

#[test]
fn the_three_line_main_lists_this_crates_models_and_refuses_unknown_ones() {
    let bin = env!("CARGO_BIN_EXE_my-attn");
    let list = Command::new(bin)
        .args(["train", "--list"])
        .output()
        .unwrap();
    assert!(list.status.success());
    let text = String::from_utf8_lossy(&list.stdout);
    for name in ["my-review-classifier", "my-reverser", "lstm-transformer"] {
        assert!(text.contains(name), "{name} missing from: {text}");
    }
    assert!(
        !text.contains("dates-transformer"),
        "the zoo is not in this registry: {text}"
    );

    let wrong = Command::new(bin)
        .args(["train", "my-revreser"])
        .output()
        .unwrap();
    assert_eq!(wrong.status.code(), Some(1));
    let err = String::from_utf8_lossy(&wrong.stderr);
    assert!(
        err.contains("unknown model `my-revreser` (did you mean `my-reverser`?)"),
        "{err}"
    );
}

#[test]
fn my_sweep_runs_every_grid_point_and_writes_its_report() {
    let out = scratch("sweeps");
    sweep::run(
        &my_attn_models::registry(),
        sweep::Args::parse_from([
            "sweep",
            "my-width-sweep",
            "--epochs",
            "1",
            "--max-train",
            "256",
            "--out",
            out.to_str().unwrap(),
        ]),
    )
    .expect("the sweep runs");
    let dir = out.join("my-width-sweep");
    let records = std::fs::read_to_string(dir.join("records.jsonl")).unwrap();
    assert_eq!(records.lines().count(), 2, "one run per width: {records}");
    for width in ["\"d_model\":\"16\"", "\"d_model\":\"32\""] {
        assert!(records.contains(width), "{width} missing from {records}");
    }
    assert!(dir.join("summary.md").is_file());
}
