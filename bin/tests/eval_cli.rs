//! The `eval` and `predict` commands: scoring files like the sacrebleu CLI (values from
//! sacreBLEU 2.6.0 and scikit-learn 1.9.1, computed once by hand in their Python), evaluating a
//! trained run into `eval.json`, and predicting from it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("attn-eval-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn run(bin: &str, args: &[&str]) -> Output {
    Command::new(bin)
        .args(args)
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

fn write(dir: &Path, name: &str, body: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    p.display().to_string()
}

#[test]
fn bleu_of_files_matches_sacrebleu() {
    let dir = scratch("bleu");
    let hyp = write(&dir, "hyp.txt", "the cat sat on a mat .\na dog runs\n");
    let reference = write(&dir, "ref.txt", "the cat sat on the mat .\nthe dog runs\n");
    let o = run(
        env!("CARGO_BIN_EXE_eval"),
        &["bleu", "--hyp", &hyp, "--ref", &reference],
    );
    let all = text(&o);
    assert!(o.status.success(), "{all}");
    // sacrebleu.corpus_bleu(hyps, [refs]) printed exactly this
    assert!(
        all.contains(
            "BLEU = 45.18 80.0/62.5/33.3/25.0 (BP = 1.000 ratio = 1.000 hyp_len = 10 ref_len = 10)"
        ),
        "{all}"
    );
    assert!(
        all.contains("nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0"),
        "{all}"
    );
    let o = run(
        env!("CARGO_BIN_EXE_eval"),
        &["bleu", "--hyp", &hyp, "--ref", &reference, "--json"],
    );
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        (json["score"].as_f64().unwrap() - 45.180100180492246).abs() < 1e-9,
        "{json}"
    );
    let short = write(&dir, "short.txt", "one line\n");
    let o = run(
        env!("CARGO_BIN_EXE_eval"),
        &["bleu", "--hyp", &hyp, "--ref", &short],
    );
    assert!(
        !o.status.success() && text(&o).contains("has 1 lines, the hypotheses 2"),
        "{}",
        text(&o)
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn f1_of_files_matches_scikit_learn() {
    let dir = scratch("f1");
    let gold = write(&dir, "gold.txt", "a\nb\na\nc\nb\n");
    let pred = write(&dir, "pred.txt", "a\nb\nb\nc\na\n");
    let o = run(
        env!("CARGO_BIN_EXE_eval"),
        &["f1", "--gold", &gold, "--pred", &pred, "--json"],
    );
    assert!(o.status.success(), "{}", text(&o));
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    // f1_score(g, p, average="macro") = 0.6666666666666666, "weighted" = 0.6
    assert!(
        (json["report"]["macro_avg"]["f1"].as_f64().unwrap() - 0.6666666666666666).abs() < 1e-12,
        "{json}"
    );
    assert!(
        (json["report"]["weighted_avg"]["f1"].as_f64().unwrap() - 0.6).abs() < 1e-12,
        "{json}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_trained_run_is_evaluated_and_predicts() {
    let dir = scratch("run");
    let o = Command::new(env!("CARGO_BIN_EXE_train"))
        .args(["digits-patches", "--epochs", "2", "--quiet", "--out"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let run_dir = std::fs::read_dir(dir.join("digits-patches"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let run_dir = run_dir.display().to_string();
    let o = run(env!("CARGO_BIN_EXE_eval"), &[&run_dir]);
    let all = text(&o);
    assert!(o.status.success(), "{all}");
    assert!(
        all.contains("macro avg") && all.contains("confusion matrix"),
        "{all}"
    );
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(Path::new(&run_dir).join("eval.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(report["examples"], 179);
    assert!(
        report["classification"]["accuracy"].as_f64().unwrap() > 0.5,
        "{report}"
    );
    // a blank image, as 64 comma-separated pixels
    let pixels = vec!["0"; 64].join(",");
    let o = run(
        env!("CARGO_BIN_EXE_predict"),
        &[&run_dir, &pixels, "--json"],
    );
    assert!(o.status.success(), "{}", text(&o));
    let p: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let probs = p["prediction"]["output"]["Class"]["probabilities"]
        .as_array()
        .unwrap();
    let total: f64 = probs.iter().map(|x| x[1].as_f64().unwrap()).sum();
    assert!((total - 1.0).abs() < 1e-6 && probs.len() == 10, "{p}");
    assert_eq!(p["prediction"]["attention"].as_array().unwrap().len(), 2);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bad_files_and_runs_are_clear_errors() {
    let dir = scratch("bad");
    let hyp = write(&dir, "hyp.txt", "a b c\n");
    let empty = write(&dir, "empty.txt", "");
    let latin1 = dir.join("latin1.txt");
    std::fs::write(&latin1, [0x63u8, 0x61, 0x66, 0xe9, 0x0a]).unwrap();
    let latin1 = latin1.display().to_string();
    let two = write(&dir, "two.txt", "a b c\nd e f\n");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["bleu", "--hyp", &empty, "--ref", &empty], "empty"),
        (
            vec!["bleu", "--hyp", &two, "--ref", &hyp],
            "has 1 lines, the hypotheses 2: give one line per segment",
        ),
        (vec!["bleu", "--hyp", &latin1, "--ref", &hyp], "valid UTF-8"),
        (
            vec!["f1", "--gold", &hyp, "--pred", &empty],
            "give one label per line in both",
        ),
    ];
    for (args, needle) in cases {
        let o = run(env!("CARGO_BIN_EXE_eval"), &args);
        let all = text(&o);
        assert!(!o.status.success(), "{args:?}: {all}");
        assert!(
            all.to_lowercase().contains(&needle.to_lowercase()),
            "{args:?}: expected `{needle}` in {all}"
        );
        assert!(!all.contains("panicked"), "{all}");
    }
    // a run directory whose training never completed an epoch
    let run_dir = dir.join("run");
    std::fs::create_dir_all(&run_dir).unwrap();
    std::fs::write(run_dir.join("config.json"), r#"{"model":"digits-patches","meta":{},"dataset":"digits","train":{"epochs":1,"batch_size":32,"lr":0.001,"warmup":0,"decay":"Constant","adam":{"lr":0.001,"beta1":0.9,"beta2":0.999,"eps":1e-8,"weight_decay":0.0,"decoupled":true},"clip_norm":1.0,"label_smoothing":0.0,"patience":null,"seed":0,"dropout":null,"teacher_forcing":null,"data":{"truncate":false,"max_vocab":null,"max_train":null}},"attn_version":"0.1.0"}"#).unwrap();
    let o = run(env!("CARGO_BIN_EXE_eval"), &[run_dir.to_str().unwrap()]);
    let all = text(&o);
    assert!(
        !o.status.success() && all.contains("no checkpoint (model.safetensors)"),
        "{all}"
    );
    assert!(!all.contains("panicked"), "{all}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn beam_settings_out_of_range_are_refused_before_the_run_loads() {
    // the settings are checked first: no run directory is needed to see the refusal
    let run_dir = "no-such-run";
    for (args, needle) in [
        (
            vec![run_dir, "1 2", "--beam", "100000"],
            "invalid beam_size (--beam) = 100000: must be from 1 to 64",
        ),
        (vec![run_dir, "1 2", "--beam", "0"], "must be from 1 to 64"),
        (
            vec![run_dir, "1 2", "--beam", "4", "--length-penalty", "nan"],
            "invalid length_penalty (--length-penalty) = NaN: must be a finite number",
        ),
        (
            vec![run_dir, "1 2", "--length-penalty", "inf"],
            "= inf: must be a finite number",
        ),
        (
            vec![run_dir, "1 2", "--beam", "4", "--length-penalty=-1"],
            "= -1: must not be negative",
        ),
    ] {
        let o = run(env!("CARGO_BIN_EXE_predict"), &args);
        let all = text(&o);
        assert!(!o.status.success(), "{args:?}: {all}");
        assert!(
            all.contains(needle),
            "{args:?}: expected `{needle}` in {all}"
        );
        assert!(!all.contains("panicked"), "{all}");
    }
}
