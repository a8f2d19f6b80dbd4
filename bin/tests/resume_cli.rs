//! `train --resume` and `eval` take the run as the source of truth: its data file (by absolute
//! path, refused when it changed), its settings (a contradicting flag is refused, naming both
//! values) and its epoch budget (kept unless `--epochs` extends it).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("attn-resume-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `bin` with `args` in directory `cwd`.
fn run_in(bin: &str, cwd: &Path, args: &[&str]) -> Output {
    Command::new(bin)
        .current_dir(cwd)
        .args(args)
        .env_remove("ATTN_FAULT")
        .output()
        .expect("the binary runs")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn assert_refused(o: &Output, needles: &[&str]) {
    let all = text(o);
    assert!(!o.status.success(), "expected a refusal: {all}");
    assert!(!all.contains("panicked"), "{all}");
    for n in needles {
        assert!(all.contains(n), "expected `{n}` in: {all}");
    }
}

/// 80 labelled reviews.
fn reviews() -> String {
    let words = [
        "good", "bad", "great", "awful", "fine", "poor", "nice", "dull",
    ];
    let mut s = String::from("label\ttext\n");
    for i in 0..80 {
        let w = words[i % 8];
        let label = if i % 2 == 0 { "pos" } else { "neg" };
        s.push_str(&format!("{label}\t{w} film {}\n", words[(i / 8) % 8]));
    }
    s
}

/// The epochs' losses and accuracies in `run`'s metrics (timings apart).
fn curve(run: &Path) -> Vec<(f64, f64, f64)> {
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let f = |k: &str| v[k].as_f64().unwrap();
            (f("train_loss"), f("valid_loss"), f("valid_acc"))
        })
        .collect()
}

/// The one run directory under `out`.
fn run_dir(out: &Path) -> PathBuf {
    let mut runs: Vec<PathBuf> = std::fs::read_dir(out.join("sentiment-single-head"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    runs.sort();
    runs.pop().unwrap()
}

const TRAIN: &str = env!("CARGO_BIN_EXE_train");

#[test]
fn a_run_on_a_data_file_resumes_and_evaluates_from_anywhere_and_refuses_contradictions() {
    let home = scratch("file");
    std::fs::write(home.join("reviews.tsv"), reviews()).unwrap();
    let elsewhere = scratch("elsewhere");
    let flags = [
        "--data",
        "reviews.tsv",
        "--seed",
        "3",
        "--quiet",
        "--out",
        "runs",
    ];
    let model = "sentiment-single-head";

    // the uninterrupted run, and a run of one epoch then resumed to two from another directory
    let o = run_in(
        TRAIN,
        &home,
        &[&[model, "--epochs", "2"], &flags[..]].concat(),
    );
    assert!(o.status.success(), "{}", text(&o));
    let whole = run_dir(&home.join("runs"));
    std::fs::rename(&whole, home.join("whole")).unwrap();
    let whole = home.join("whole");
    let o = run_in(
        TRAIN,
        &home,
        &[&[model, "--epochs", "1"], &flags[..]].concat(),
    );
    assert!(o.status.success(), "{}", text(&o));
    let run = run_dir(&home.join("runs"));
    let dir = run.display().to_string();
    // no model name, no --data: both come from the run (the file by its absolute path)
    let o = run_in(
        TRAIN,
        &elsewhere,
        &["--resume", &dir, "--epochs", "2", "--quiet"],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(curve(&run), curve(&whole));

    // without --epochs a finished run is not extended (it was to the recommended 40)
    let o = run_in(TRAIN, &elsewhere, &["--resume", &dir, "--quiet"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(curve(&run).len(), 2);
    // nor shortened
    let o = run_in(TRAIN, &elsewhere, &["--resume", &dir, "--epochs", "1"]);
    assert_refused(&o, &["the run trains 2 epochs; 1 would end it before"]);

    // flags that contradict the run, each named with both values
    let o = run_in(
        TRAIN,
        &elsewhere,
        &[
            "--resume",
            &dir,
            "--lr",
            "0.5",
            "--seed",
            "9",
            "--batch-size",
            "8",
        ],
    );
    assert_refused(
        &o,
        &[
            "--lr: the run has 0.001, the command line says 0.5",
            "--seed: the run has 3, the command line says 9",
            "--batch-size: the run has 32, the command line says 8",
        ],
    );
    // the same values are no contradiction
    let o = run_in(
        TRAIN,
        &elsewhere,
        &["--resume", &dir, "--seed", "3", "--quiet"],
    );
    assert!(o.status.success(), "{}", text(&o));
    // other data
    std::fs::write(elsewhere.join("other.tsv"), reviews()).unwrap();
    let o = run_in(
        TRAIN,
        &elsewhere,
        &["--resume", &dir, "--data", "other.tsv"],
    );
    assert_refused(&o, &["the run was trained on", "reviews.tsv"]);
    let o = run_in(
        TRAIN,
        &elsewhere,
        &["--resume", &dir, "--data", "sentiment"],
    );
    assert_refused(&o, &["the run was trained on"]);

    // eval from another directory finds the file; a changed file is refused, not scored
    let eval = env!("CARGO_BIN_EXE_eval");
    let o = run_in(eval, &elsewhere, &[&dir]);
    assert!(o.status.success(), "{}", text(&o));
    let changed = reviews().replace("pos\tgood", "neg\tgood");
    std::fs::write(home.join("reviews.tsv"), changed).unwrap();
    let o = run_in(eval, &elsewhere, &[&dir]);
    assert_refused(&o, &["changed since the run was trained on it", "SHA-256"]);
    let o = run_in(TRAIN, &elsewhere, &["--resume", &dir, "--epochs", "3"]);
    assert_refused(&o, &["changed since the run was trained on it"]);
    std::fs::remove_dir_all(&home).ok();
    std::fs::remove_dir_all(&elsewhere).ok();
}
