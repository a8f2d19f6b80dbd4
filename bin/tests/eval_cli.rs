//! The `eval` and `predict` commands: scoring files like the sacrebleu CLI (values from
//! sacreBLEU 2.6.0 and scikit-learn 1.9.1, computed once by hand in their Python), evaluating a
//! trained run into `eval.json`, predicting from it, and exporting it for PyTorch.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

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

/// Trains `model` with `extra` flags (the epochs, the caps) into `dir` and returns its run
/// directory.
fn train_run(dir: &Path, model: &str, extra: &[&str]) -> PathBuf {
    let o = Command::new(env!("CARGO_BIN_EXE_train"))
        .args([model, "--quiet"])
        .args(extra)
        .arg("--out")
        .arg(dir)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    std::fs::read_dir(dir.join(model))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path()
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
fn f1_of_files_with_a_hundred_thousand_labels() {
    // 400k lines over 100k labels: a label scan per line (what `eval f1` did) takes minutes
    let dir = scratch("f1-many");
    let (mut gold, mut pred) = (String::new(), String::new());
    for i in 0..400_000 {
        let label = format!("l{}\n", i % 100_000);
        gold.push_str(&label);
        // every line of a label k with k % 4 == 0 is predicted as the new label `x`
        pred.push_str(if i % 4 == 0 { "x\n" } else { &label });
    }
    let (gold, pred) = (
        write(&dir, "gold.txt", &gold),
        write(&dir, "pred.txt", &pred),
    );
    let o = run(
        env!("CARGO_BIN_EXE_eval"),
        &["f1", "--gold", &gold, "--pred", &pred, "--json"],
    );
    assert!(o.status.success(), "{}", text(&o));
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(json["report"]["accuracy"].as_f64(), Some(0.75));
    // 75 000 labels with F1 1, 25 000 with 0, and `x` (never gold) with 0
    assert_eq!(
        json["report"]["macro_avg"]["f1"].as_f64(),
        Some(75_000.0 / 100_001.0)
    );
    assert_eq!(json["labels"].as_array().unwrap().len(), 100_001);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_trained_run_is_evaluated_and_predicts() {
    let dir = scratch("run");
    let run_dir = train_run(&dir, "digits-patches", &["--epochs", "2"])
        .display()
        .to_string();
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
    // every test example's prediction, written for other tools: they give eval's accuracy
    let preds = Path::new(&run_dir).join("predictions.jsonl");
    let o = run(
        env!("CARGO_BIN_EXE_eval"),
        &[&run_dir, "--predictions", preds.to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", text(&o));
    let rows: Vec<serde_json::Value> = std::fs::read_to_string(&preds)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 179);
    let right = rows
        .iter()
        .filter(|r| r["reference"] == r["prediction"])
        .count();
    assert_eq!(
        right as f64 / 179.0,
        report["classification"]["accuracy"].as_f64().unwrap()
    );
    // an image's input is its 64 pixels
    assert_eq!(
        rows[0]["input"].as_str().unwrap().split(',').count(),
        64,
        "{}",
        rows[0]
    );
    let o = run(
        env!("CARGO_BIN_EXE_eval"),
        &[&run_dir, "--predictions", "p.txt"],
    );
    assert!(!o.status.success());
    assert!(
        text(&o).contains("name a .jsonl or .tsv file"),
        "{}",
        text(&o)
    );

    // beam search is for sequence outputs: refused for a classifier, and a length penalty
    // without a beam is refused rather than ignored
    let o = run(env!("CARGO_BIN_EXE_eval"), &[&run_dir, "--beam", "4"]);
    assert!(!o.status.success());
    assert!(
        text(&o).contains("applies to sequence-to-sequence models only"),
        "{}",
        text(&o)
    );
    let o = run(
        env!("CARGO_BIN_EXE_eval"),
        &[&run_dir, "--length-penalty", "1"],
    );
    assert!(!o.status.success());
    assert!(text(&o).contains("--beam <BEAM>"), "{}", text(&o));

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

/// `bin` with `args`, `input` on its standard input.
fn run_with_stdin(bin: &str, args: &[&str], input: &str) -> Output {
    let mut child = Command::new(bin)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
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
        // `eval` checks the same settings the same way (it takes no input text)
        if args.contains(&"--beam") {
            let args: Vec<&str> = args.iter().copied().filter(|&a| a != "1 2").collect();
            let o = run(env!("CARGO_BIN_EXE_eval"), &args);
            let all = text(&o);
            assert!(
                !o.status.success() && all.contains(needle),
                "{args:?}: {all}"
            );
        }
    }
}

#[test]
fn predict_answers_every_input_line_and_refuses_bad_ones() {
    let dir = scratch("predict-lines");
    let run_dir = train_run(
        &dir,
        "digits-patches",
        &["--epochs", "1", "--max-train", "64", "--max-eval", "16"],
    )
    .display()
    .to_string();
    let predict = env!("CARGO_BIN_EXE_predict");
    let blank = vec!["0"; 64].join(",");
    let with = |first: &str| format!("{first},{}", vec!["0"; 63].join(","));

    // one output line per input line, in order; the blank one gets an error line
    let o = run_with_stdin(predict, &[&run_dir], &format!("{blank}\n\n{blank}\n"));
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", text(&o));
    assert!(
        lines[0].starts_with(&blank) && lines[2].starts_with(&blank),
        "{stdout}"
    );
    assert_eq!(
        lines[1],
        "\terror: the input is blank; give comma-separated pixel values in [0, 1]"
    );
    assert!(!o.status.success(), "{}", text(&o));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("1 of 3 inputs refused (input 2): the input is blank"),
        "{stderr}"
    );

    // non-finite and out-of-range pixels are refused by position, the others still predicted
    let (nan, inf, huge, negative) = (with("NaN"), with("inf"), with("1e30"), with("-0.5"));
    let o = run(
        predict,
        &[
            &run_dir, "--", &nan, &blank, &inf, &huge, &negative, "0,x", "",
        ],
    );
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 7, "{}", text(&o));
    for (line, needle) in [
        (0, "pixel 1 is NaN, not a finite number"),
        (2, "pixel 1 is inf, not a finite number"),
        (3, "pixel 1 is 1e30, outside [0, 1]"),
        (4, "pixel 1 is -0.5, outside [0, 1]"),
        (5, "pixel 2 (`x`) is not a number"),
        (6, "the input is blank"),
    ] {
        assert!(lines[line].contains(needle), "line {line}: {stdout}");
        assert!(lines[line].contains("error: "), "line {line}: {stdout}");
    }
    assert!(!lines[1].contains("error"), "{stdout}");
    assert!(!o.status.success());
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("6 of 7 inputs refused (inputs 1, 3, 4, 5, 6, 7)")
            && !stderr.contains("panicked"),
        "{stderr}"
    );

    // JSON lines keep the order too
    let o = run(predict, &[&run_dir, "", &blank, "--json"]);
    let values: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(values.len(), 2, "{}", text(&o));
    assert!(
        values[0]["error"].as_str().unwrap().contains("blank"),
        "{values:?}"
    );
    assert!(values[1]["prediction"].is_object(), "{values:?}");
    assert!(!o.status.success());

    // no input at all says how to give one
    let o = run_with_stdin(predict, &[&run_dir], "");
    assert!(!o.status.success());
    assert!(
        text(&o).contains("no input: pass inputs after the run directory"),
        "{}",
        text(&o)
    );

    // attend refuses the same pixels
    let o = run(env!("CARGO_BIN_EXE_attend"), &[&run_dir, &nan]);
    assert!(!o.status.success());
    assert!(
        text(&o).contains("pixel 1 is NaN, not a finite number") && !text(&o).contains("panicked"),
        "{}",
        text(&o)
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_trained_transformer_exports_under_pytorch_names() {
    use attn_runtime::state_dict::StateDict;
    let dir = scratch("export");
    let run_dir = train_run(
        &dir,
        "dates-transformer",
        &["--epochs", "1", "--max-train", "64", "--max-eval", "16"],
    );
    let out = dir.join("dates.safetensors");
    let o = run(
        env!("CARGO_BIN_EXE_export"),
        &[
            run_dir.to_str().unwrap(),
            "--format",
            "pytorch",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("attn_torch.load"), "{}", text(&o));
    let pt = StateDict::read(&out).unwrap();
    let ours = StateDict::read(run_dir.join("model.safetensors")).unwrap();
    // nn.Transformer's names: fused input projections, the blocks' own linear layers and norms
    let fused = pt.get("encoder.layers.0.self_attn.in_proj_weight").unwrap();
    assert_eq!(fused.shape, vec![192, 64]);
    for (k, p) in ["q_proj", "k_proj", "v_proj"].iter().enumerate() {
        let part = ours
            .get(&format!("encoder.layers.0.self_attn.{p}.weight"))
            .unwrap();
        assert_eq!(
            fused.values[k * 64 * 64..(k + 1) * 64 * 64],
            part.values[..],
            "{p}"
        );
    }
    for name in [
        "decoder.layers.1.multihead_attn.in_proj_bias",
        "decoder.layers.1.linear2.weight",
        "decoder.norm.weight",
        "encoder.layers.1.norm2.bias",
        "src_embedding.weight",
        "out.bias",
    ] {
        assert!(
            pt.contains(name),
            "{name} missing: {:?}",
            pt.names().collect::<Vec<_>>()
        );
    }
    assert!(!pt
        .names()
        .any(|n| n.contains("gamma") || n.contains("q_proj")));
    // the declaration and the vocabularies travel with the weights
    let meta: serde_json::Value = serde_json::from_str(&pt.metadata()["attn.model"]).unwrap();
    assert_eq!(meta["name"], "dates-transformer");
    assert_eq!(meta["d_model"], 64);
    let vocab: serde_json::Value = serde_json::from_str(&pt.metadata()["attn.vocab"]).unwrap();
    assert!(vocab.is_object(), "{vocab}");

    // not a run, or a format we do not write: clear errors, nothing written
    let o = run(
        env!("CARGO_BIN_EXE_export"),
        &[dir.to_str().unwrap(), "--format", "pytorch"],
    );
    assert!(!o.status.success());
    assert!(text(&o).contains("config.json"), "{}", text(&o));
    let o = run(
        env!("CARGO_BIN_EXE_export"),
        &[run_dir.to_str().unwrap(), "--format", "onnx"],
    );
    assert!(!o.status.success());
    assert!(
        text(&o).contains("possible values: pytorch"),
        "{}",
        text(&o)
    );
    std::fs::remove_dir_all(&dir).ok();
}
