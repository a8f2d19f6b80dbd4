//! The `train` command as people run it: every zoo model trains for one short epoch on its
//! default data set, and bad input ends with a clear message and a non-zero exit, never a panic.

use std::path::PathBuf;
use std::process::{Command, Output};

fn train(args: &[&str], out: &PathBuf) -> Output {
    Command::new(env!("CARGO_BIN_EXE_train"))
        .args(args)
        .arg("--out")
        .arg(out)
        .arg("--quiet")
        .output()
        .expect("the train binary runs")
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("attn-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The one run directory `train` made for `model` under `out`.
fn only_run(out: &std::path::Path, model: &str) -> PathBuf {
    let runs: Vec<PathBuf> = std::fs::read_dir(out.join(model))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(runs.len(), 1, "{runs:?}");
    runs[0].clone()
}

fn assert_clean_failure(o: &Output, needle: &str) {
    let all = text(o);
    assert!(!o.status.success(), "expected a failure: {all}");
    assert!(all.contains(needle), "expected `{needle}` in: {all}");
    assert!(!all.contains("panicked"), "panicked: {all}");
}

#[test]
fn every_zoo_model_trains_one_short_epoch_on_its_default_data() {
    let out = scratch("zoo");
    for entry in attn_models::MODELS {
        let name = entry.meta().name;
        let o = train(
            &[
                name,
                "--epochs",
                "1",
                "--max-train",
                "64",
                "--max-eval",
                "16",
                "--batch-size",
                "16",
            ],
            &out,
        );
        assert!(o.status.success(), "{name}: {}", text(&o));
        let all = text(&o);
        assert!(all.contains("done: best epoch 1"), "{name}: {all}");
        let runs: Vec<_> = std::fs::read_dir(out.join(name)).unwrap().collect();
        assert_eq!(runs.len(), 1, "{name}");
    }
    std::fs::remove_dir_all(&out).ok();
}

#[test]
fn select_sets_the_checkpoint_rule_the_run_records() {
    let out = scratch("select");
    let short = |select: &str| {
        let args = ["--epochs", "1", "--max-train", "64", "--max-eval", "16"];
        let mut all = vec!["sort-tagger", "--select", select];
        all.extend(args);
        train(&all, &out)
    };
    let o = short("loss");
    assert!(o.status.success(), "{}", text(&o));
    let run = only_run(&out, "sort-tagger");
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["train"]["selection"], "Loss", "{config}");
    let wrong = train(&["sort-tagger", "--select", "best"], &out);
    assert_clean_failure(&wrong, "invalid value 'best' for '--select <SELECT>'");
    // a tagger has no BLEU: refused before a run directory is made
    let runs = || std::fs::read_dir(out.join("sort-tagger")).unwrap().count();
    let wrong = train(&["sort-tagger", "--select", "bleu"], &out);
    assert_clean_failure(&wrong, "selects by macro-f1, exact-match, accuracy or loss");
    assert_eq!(runs(), 1);
    let f1 = short("macro-f1");
    assert!(f1.status.success(), "{}", text(&f1));
    assert!(text(&f1).contains("valid_f1"), "{}", text(&f1));
    std::fs::remove_dir_all(&out).ok();
}

#[test]
fn list_shows_the_zoo() {
    let o = Command::new(env!("CARGO_BIN_EXE_train"))
        .arg("--list")
        .output()
        .unwrap();
    let all = text(&o);
    assert!(o.status.success());
    for entry in attn_models::MODELS {
        assert!(all.contains(entry.meta().name), "{all}");
    }
}

#[test]
fn an_unknown_model_lists_the_available_ones_and_the_nearest() {
    let o = train(&["dates-transfomer"], &scratch("unknown"));
    assert_clean_failure(
        &o,
        "unknown model `dates-transfomer` (did you mean `dates-transformer`?)",
    );
    assert!(text(&o).contains("sentiment-encoder"));
}

#[test]
fn a_malformed_data_line_names_the_file_and_line() {
    let dir = scratch("malformed");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("reviews.tsv");
    std::fs::write(
        &file,
        "label\ttext\npos\tgreat phone\nneg\tbad battery\tand a stray field\n",
    )
    .unwrap();
    let o = train(
        &["sentiment-encoder", "--data", file.to_str().unwrap()],
        &dir.join("runs"),
    );
    assert_clean_failure(
        &o,
        &format!("{}:3: 3 fields where 2 were expected", file.display()),
    );
    assert!(
        !dir.join("runs").exists(),
        "nothing is written for bad data"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn data_too_small_to_split_and_impossible_caps_are_refused_before_anything_is_written() {
    let dir = scratch("tiny-data");
    std::fs::create_dir_all(&dir).unwrap();
    let runs = dir.join("runs");
    let two = dir.join("two.tsv");
    std::fs::write(&two, "label\ttext\npos\tgreat phone\nneg\tbad battery\n").unwrap();
    let o = train(
        &["sentiment-encoder", "--data", two.to_str().unwrap()],
        &runs,
    );
    assert_clean_failure(
        &o,
        &format!(
            "{}: the validation split is empty: the data set has 2 examples",
            two.display()
        ),
    );
    assert_clean_failure(&o, "give the data set more examples");
    let o = train(&["sentiment-encoder", "--max-eval", "0"], &runs);
    assert_clean_failure(&o, "invalid max_eval (--max-eval) = 0: must be at least 1");
    for cap in ["0", "1", "4"] {
        let o = train(&["sentiment-encoder", "--max-vocab", cap], &runs);
        assert_clean_failure(
            &o,
            &format!("invalid max_vocab (--max-vocab) = {cap}: must be at least 5"),
        );
    }
    // image augmentation on a text model
    let o = train(&["sentiment-encoder", "--horizontal-flip"], &runs);
    assert_clean_failure(
        &o,
        "invalid augment (--horizontal-flip, --max-shift) = horizontal flip true, max shift 0: \
         image augmentation applies to image classifiers only",
    );
    assert!(!runs.exists(), "nothing is written for bad data");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_data_path_to_no_file_is_file_not_found() {
    let dir = scratch("missing-data");
    for missing in ["no/such/reviews.tsv", "reviews.csv"] {
        let o = train(&["sentiment-encoder", "--data", missing], &dir);
        assert_clean_failure(&o, &format!("{missing}: file not found; check the path"));
        assert!(!text(&o).contains("no built-in data set"), "{}", text(&o));
    }
    assert!(!dir.exists());
}

#[test]
fn cuda_without_the_feature_gives_a_hint() {
    let o = train(&["dates-transformer", "--device", "cuda"], &scratch("cuda"));
    if cfg!(feature = "cuda") {
        return;
    }
    assert_clean_failure(
        &o,
        "built without CUDA: rebuild with `cargo run --release --features cuda",
    );
}

#[test]
fn a_resume_directory_that_is_not_a_run_is_refused() {
    let dir = scratch("notarun");
    std::fs::create_dir_all(&dir).unwrap();
    let o = train(
        &["dates-transformer", "--resume", dir.to_str().unwrap()],
        &dir,
    );
    assert_clean_failure(&o, "not a run directory (no config.json)");
    std::fs::remove_dir_all(&dir).ok();
}

/// The texts of an SVG's `<text>` elements, trimmed, in document order.
fn svg_texts(svg: &str) -> Vec<String> {
    svg.split("<text")
        .skip(1)
        .filter_map(|t| Some(t[t.find('>')? + 1..t.find("</text>")?].trim().to_string()))
        .collect()
}

/// A short sweep's arguments: one epoch of `max_train` examples, `seeds` seeds per point.
fn short_sweep<'a>(name: &'a str, max_train: &'a str, seeds: &'a str) -> Vec<&'a str> {
    vec![
        name,
        "--epochs",
        "1",
        "--max-train",
        max_train,
        "--seeds",
        seeds,
    ]
}

fn sweep(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sweep"))
        .args(args)
        .output()
        .expect("the sweep binary runs")
}

#[test]
fn a_declared_sweep_runs_and_writes_its_report() {
    let out = scratch("sweep");
    let out_arg = out.to_str().unwrap();
    let mut args = short_sweep("sweep-heads", "64", "2");
    args.extend(["--out", out_arg]);
    let o = sweep(&args);
    assert!(o.status.success(), "{}", text(&o));
    let dir = out.join("sweep-heads");
    for file in [
        "records.jsonl",
        "summary.csv",
        "summary.md",
        "valid-vs-heads.png",
        "valid-vs-heads.svg",
        "time-vs-heads.png",
        "time-vs-heads.svg",
        "curves-by-heads.png",
        "curves-by-heads.svg",
        "loss-curves-by-heads.png",
    ] {
        assert!(dir.join(file).is_file(), "{file} missing: {}", text(&o));
    }
    let records = std::fs::read_to_string(dir.join("records.jsonl")).unwrap();
    assert_eq!(records.lines().count(), 8, "4 grid points × 2 seeds");
    let csv = std::fs::read_to_string(dir.join("summary.csv")).unwrap();
    assert_eq!(csv.lines().count(), 5, "{csv}");
    assert!(csv.lines().nth(1).unwrap().starts_with("1,2,0,"), "{csv}");
    // one learning curve per head count (a 2-pixel line each, and one in its legend row, named
    // by its setting), and the report shows every chart
    let curves = std::fs::read_to_string(dir.join("curves-by-heads.svg")).unwrap();
    assert_eq!(
        curves.matches("stroke-width=\"2\"").count(),
        2 * 4,
        "{curves}"
    );
    for heads in [1, 2, 4, 8] {
        let label = format!("heads={heads}");
        assert!(svg_texts(&curves).contains(&label), "{label}: {curves}");
    }
    let md = std::fs::read_to_string(dir.join("summary.md")).unwrap();
    assert!(md.contains("(curves-by-heads.png)"), "{md}");
    // each run records its own peak heap, and sweeps draw no heatmaps
    for line in records.lines() {
        let record: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(record["peak_memory_bytes"].as_u64().unwrap() > 0, "{line}");
    }
    let run_dirs: Vec<_> = std::fs::read_dir(dir.join("runs"))
        .unwrap()
        .flat_map(|model| std::fs::read_dir(model.unwrap().path()).unwrap())
        .map(|run| run.unwrap().path())
        .collect();
    assert_eq!(run_dirs.len(), 8);
    for run_dir in run_dirs {
        assert!(
            run_dir.join("summary.json").exists(),
            "{}",
            run_dir.display()
        );
        assert!(!run_dir.join("attention").exists(), "{}", run_dir.display());
    }
    // a rerun trains nothing and gives the same records
    let again = sweep(&args);
    assert!(again.status.success(), "{}", text(&again));
    assert_eq!(
        std::fs::read_to_string(dir.join("records.jsonl")).unwrap(),
        records
    );
    // --replot draws the charts again without training: from the records, then, without
    // them, from summary.csv, which has no learning curves
    let charts = [
        "valid-vs-heads.svg",
        "time-vs-heads.png",
        "curves-by-heads.svg",
    ];
    let drawn: Vec<Vec<u8>> = charts
        .iter()
        .map(|c| std::fs::read(dir.join(c)).unwrap())
        .collect();
    for chart in charts {
        std::fs::remove_file(dir.join(chart)).unwrap();
    }
    let replot = sweep(&["sweep-heads", "--replot", "--out", out_arg]);
    assert!(replot.status.success(), "{}", text(&replot));
    for (chart, before) in charts.iter().zip(&drawn) {
        assert_eq!(&std::fs::read(dir.join(chart)).unwrap(), before, "{chart}");
    }
    std::fs::remove_file(dir.join("records.jsonl")).unwrap();
    std::fs::remove_file(dir.join("valid-vs-heads.svg")).unwrap();
    std::fs::remove_file(dir.join("curves-by-heads.svg")).unwrap();
    let replot = sweep(&["sweep-heads", "--replot", "--out", out_arg]);
    assert!(replot.status.success(), "{}", text(&replot));
    assert_eq!(std::fs::read(dir.join(charts[0])).unwrap(), drawn[0]);
    assert!(!dir.join("curves-by-heads.svg").exists());
    std::fs::remove_dir_all(&out).ok();
}

#[test]
fn a_categorical_setting_gets_a_chart_with_one_tick_per_value() {
    let out = scratch("sweep-activation");
    let mut args = short_sweep("sweep-activation", "32", "1");
    args.extend(["--out", out.to_str().unwrap()]);
    let o = sweep(&args);
    assert!(o.status.success(), "{}", text(&o));
    let svg =
        std::fs::read_to_string(out.join("sweep-activation/valid-vs-activation.svg")).unwrap();
    let texts = svg_texts(&svg);
    for name in ["Relu", "Gelu", "Silu", "Swiglu"] {
        assert!(texts.contains(&name.to_string()), "{name} tick missing");
    }
    std::fs::remove_dir_all(&out).ok();
}

#[test]
fn an_unknown_sweep_lists_the_declared_ones() {
    let o = sweep(&["sweep-head"]);
    assert_clean_failure(
        &o,
        "unknown sweep `sweep-head` (did you mean `sweep-heads`?)",
    );
    assert_clean_failure(&o, "sweep-dropout");
    let o = sweep(&["--list"]);
    assert!(o.status.success());
    assert_eq!(text(&o).lines().count(), 5, "{}", text(&o));
}

#[test]
fn the_attention_kernel_configuration_is_shown_and_a_wrong_override_is_refused() {
    let run = |spec: &str, out: &PathBuf| {
        Command::new(env!("CARGO_BIN_EXE_train"))
            .args(["dates-transformer", "--epochs", "1", "--max-train", "64"])
            .args(["--max-eval", "16", "--batch-size", "16", "--quiet", "--out"])
            .arg(out)
            .env("ATTN_KERNEL", spec)
            .output()
            .expect("the train binary runs")
    };
    let (good, bad) = (scratch("kernel-config"), scratch("kernel-config-bad"));
    let o = run("isa=portable,block_q=16,gemm_kc=128", &good);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains(
            "kernels: isa=portable block_q=16 gemm_kc=128 spin_us=5000 (set by ATTN_KERNEL)"
        ),
        "{}",
        text(&o)
    );
    let o = run("isa=sse4", &bad);
    assert_clean_failure(&o, "ATTN_KERNEL=\"isa=sse4\": unknown isa `sse4`");
    assert_clean_failure(
        &o,
        "unset ATTN_KERNEL, or set it to e.g. `isa=avx2,block_q=32,gemm_kc=128,spin_us=0`",
    );
    // said once, not wrapped in a second "invalid input"
    assert!(
        !text(&o).contains("invalid input: invalid input"),
        "{}",
        text(&o)
    );
    assert!(!bad.exists(), "nothing is written for a wrong override");
    std::fs::remove_dir_all(&good).ok();
}

/// Numerals to words, spelt digit by digit: `1207` → `one two zero seven`.
fn numerals_file(dir: &std::path::Path, lines: usize) -> PathBuf {
    const WORDS: [&str; 10] = [
        "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
    ];
    std::fs::create_dir_all(dir).unwrap();
    let body: String = (0..lines)
        .map(|i| {
            let n = 1000 + i * 37;
            let words: Vec<&str> = n
                .to_string()
                .chars()
                .map(|c| WORDS[c.to_digit(10).unwrap() as usize])
                .collect();
            format!("{n}\t{}\n", words.join(" "))
        })
        .collect();
    let path = dir.join("numerals.tsv");
    std::fs::write(&path, body).unwrap();
    path
}

#[test]
fn sources_and_targets_get_tokenisers_of_their_own() {
    let out = scratch("src-tgt-tokenizers");
    let data = numerals_file(&out, 80);
    let data = data.to_str().unwrap();
    let short = ["--epochs", "1", "--max-eval", "8", "--batch-size", "16"];

    // by word, each of the 80 numerals is a source token of its own: the hint names the
    // tokeniser that fits, not only --max-vocab
    let mut args = vec!["dates-transformer", "--data", data];
    args.extend(short);
    assert_clean_failure(
        &train(&args, &out),
        "the source vocabulary has 68 entries but `dates-transformer` declares src_vocab: 64",
    );
    let all = text(&train(&args, &out));
    assert!(
        all.contains("`--src-tokenizer char`")
            && all.contains("`--src-tokenizer bpe` (subwords learnt from the training split, as many as src_vocab: 64 holds")
            && all.contains("instead of word"),
        "{all}"
    );
    assert!(all.contains("--max-vocab 64"), "{all}");

    // numerals by character, words by word: the run records both, and eval reads its data
    // again with both
    let by_char_and_word = |more: &[&'static str]| {
        let mut args = vec!["dates-transformer", "--data", data];
        args.extend(["--src-tokenizer", "char", "--tgt-tokenizer", "word"]);
        args.extend(short);
        args.extend(more);
        train(&args, &out)
    };
    let o = by_char_and_word(&[]);
    assert!(o.status.success(), "{}", text(&o));
    // the metrics table says what train_acc is: a teacher-forced sample
    assert!(
        text(&o).contains("train_acc: 256 training examples scored in evaluation mode")
            && text(&o).contains("teacher-forced for sequence models"),
        "{}",
        text(&o)
    );
    let run = only_run(&out, "dates-transformer");
    let vocabs: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("vocab.json")).unwrap()).unwrap();
    assert_eq!(vocabs["src_tokenizer"], "Char", "{vocabs}");
    assert_eq!(vocabs["tgt_tokenizer"], "Word", "{vocabs}");
    // the target vocabulary is the ten digit words and the reserved ids, not characters
    let tgt = vocabs["tgt"]["tokens"].as_array().unwrap();
    assert!(tgt.iter().any(|t| t == "seven"), "{vocabs}");
    let preds = out.join("predictions.tsv");
    let split = out.join("split");
    let o = Command::new(env!("CARGO_BIN_EXE_eval"))
        .arg(&run)
        .arg("--predictions")
        .arg(&preds)
        .arg("--split-out")
        .arg(&split)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    // the split as the run used it: 80 lines, 8 held out for testing and 8 for validation
    // (--max-eval 8 caps them at that), the test file the examples the predictions are of
    let jsonl = |name: &str| -> Vec<serde_json::Value> {
        std::fs::read_to_string(split.join(name))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let (train_rows, valid_rows, test_rows) = (
        jsonl("train.jsonl"),
        jsonl("valid.jsonl"),
        jsonl("test.jsonl"),
    );
    assert_eq!(
        [train_rows.len(), valid_rows.len(), test_rows.len()],
        [64, 8, 8]
    );
    // the prediction file scored by `eval bleu` gives the run's own test BLEU
    let body = std::fs::read_to_string(&preds).unwrap();
    let mut lines = body.lines();
    assert_eq!(lines.next(), Some("input\treference\tprediction"));
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split('\t').collect()).collect();
    assert_eq!(rows.len(), 8, "{body}");
    assert!(
        rows.iter()
            .all(|r| r.len() == 3 && r[0].parse::<u32>().is_ok()),
        "{body}"
    );
    for (row, example) in rows.iter().zip(&test_rows) {
        let given = (example["source"].as_str(), example["target"].as_str());
        assert_eq!((Some(row[0]), Some(row[1])), given);
    }
    let column = |k: usize| {
        rows.iter()
            .map(|r| format!("{}\n", r[k]))
            .collect::<String>()
    };
    let (hyp, refs) = (out.join("hyp.txt"), out.join("ref.txt"));
    std::fs::write(&hyp, column(2)).unwrap();
    std::fs::write(&refs, column(1)).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_eval"))
        .args(["bleu", "--json", "--hyp"])
        .arg(&hyp)
        .arg("--ref")
        .arg(&refs)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let bleu: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("eval.json")).unwrap()).unwrap();
    assert_eq!(bleu["score"], report["seq2seq"]["bleu"], "{bleu} {report}");
    assert_eq!(report["seq2seq"]["decoding"], "greedy", "{report}");

    // a run whose configuration names a beam (as bible-transformer's recipe does) is decoded
    // with it by `eval` and `predict`, unless --greedy says otherwise
    let config_path = run.join("config.json");
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&config_path).unwrap()).unwrap();
    assert!(config["train"]["beam"].is_null(), "{config}");
    config["train"]["beam"] = serde_json::json!({ "beam_size": 2, "length_penalty": 0.0 });
    std::fs::write(&config_path, config.to_string()).unwrap();
    let with = |bin: &str, more: &[&str]| Command::new(bin).arg(&run).args(more).output().unwrap();
    let o = with(env!("CARGO_BIN_EXE_eval"), &[]);
    assert!(
        o.status.success() && text(&o).contains("(beam 2, length penalty 0 decoding)"),
        "{}",
        text(&o)
    );
    let o = with(env!("CARGO_BIN_EXE_eval"), &["--greedy"]);
    assert!(
        o.status.success() && text(&o).contains("(greedy decoding)"),
        "{}",
        text(&o)
    );
    let o = with(env!("CARGO_BIN_EXE_eval"), &["--greedy", "--beam", "3"]);
    assert!(
        !o.status.success() && text(&o).contains("cannot be used with"),
        "{}",
        text(&o)
    );
    // predict reports a beam's score, and none when decoding greedily
    let score = |more: &[&str]| -> serde_json::Value {
        let mut args = vec!["1207", "--json"];
        args.extend(more);
        let o = with(env!("CARGO_BIN_EXE_predict"), &args);
        assert!(o.status.success(), "{}", text(&o));
        let p: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        p["prediction"]["output"]["Sequence"]["score"].clone()
    };
    assert!(score(&[]).is_f64(), "{}", score(&[]));
    assert!(score(&["--greedy"]).is_null());

    // a resumed run keeps its tokenisers: another one is refused, naming both
    let run_arg = run.to_str().unwrap();
    let o = train(
        &[
            "--resume",
            run_arg,
            "--epochs",
            "2",
            "--tgt-tokenizer",
            "char",
        ],
        &out,
    );
    assert_clean_failure(
        &o,
        "--tokenizer: the run read its targets with word, the command line says char",
    );

    // the learning-rate range test suggests a rate and writes no run
    let runs_before = std::fs::read_dir(out.join("dates-transformer"))
        .unwrap()
        .count();
    let o = by_char_and_word(&["--find-lr"]);
    assert!(o.status.success(), "{}", text(&o));
    let all = text(&o);
    assert!(
        all.contains("suggested learning rate: ") && all.contains("<- lowest smoothed loss"),
        "{all}"
    );
    let runs_after = std::fs::read_dir(out.join("dates-transformer"))
        .unwrap()
        .count();
    assert_eq!(runs_before, runs_after);
    assert_clean_failure(
        &train(&["--resume", run_arg, "--find-lr"], &out),
        "--find-lr looks for a rate to start a run with",
    );

    // data-parallel training needs a binary built with MPI (the suite's is not); refused before
    // any run directory is made
    assert_clean_failure(
        &train(&["dates-transformer", "--distributed", "mpi"], &out),
        "this binary was built without MPI: build it with `--features mpi`",
    );

    // one-sided text has no source or target tokeniser; images no tokeniser at all
    assert_clean_failure(
        &train(&["sentiment-encoder", "--tgt-tokenizer", "char"], &out),
        "--tgt-tokenizer does not apply to a Classify model: its text has one side; use --tokenizer",
    );
    assert_clean_failure(
        &train(&["digits-patches", "--tokenizer", "char"], &out),
        "--tokenizer does not apply to a",
    );
    std::fs::remove_dir_all(&out).ok();
}

#[test]
fn subwords_are_learnt_from_the_training_split_kept_with_the_run_and_joined_back() {
    let out = scratch("bpe");
    let data = numerals_file(&out, 80);
    let args = [
        "bible-transformer",
        "--data",
        data.to_str().unwrap(),
        "--src-tokenizer",
        "char",
        "--tgt-tokenizer",
        "bpe",
        "--epochs",
        "1",
        "--max-eval",
        "8",
        "--batch-size",
        "16",
    ];
    let o = train(&args, &out);
    assert!(o.status.success(), "{}", text(&o));
    let run = only_run(&out, "bible-transformer");
    // the target side's subwords: frequent digit words become single pieces marked as word
    // starts, saved with the vocabulary and as a Hugging Face file
    let vocabs: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("vocab.json")).unwrap()).unwrap();
    assert_eq!(vocabs["tgt_tokenizer"], "Bpe", "{vocabs}");
    let tgt = vocabs["tgt"]["tokens"].as_array().unwrap();
    assert!(tgt.iter().any(|t| t == "\u{2581}seven"), "{tgt:?}");
    assert!(vocabs.get("src_subwords").is_none(), "{vocabs}");
    let hf: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("tgt_tokenizer.json")).unwrap())
            .unwrap();
    assert_eq!(hf["model"]["type"], "BPE", "{hf}");
    assert!(!run.join("tokenizer.json").exists());

    // eval writes joined-back text: the references as given, predictions without word marks
    let preds = out.join("predictions.tsv");
    let o = Command::new(env!("CARGO_BIN_EXE_eval"))
        .arg(&run)
        .arg("--predictions")
        .arg(&preds)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let body = std::fs::read_to_string(&preds).unwrap();
    let rows: Vec<Vec<&str>> = body
        .lines()
        .skip(1)
        .map(|l| l.split('\t').collect())
        .collect();
    assert_eq!(rows.len(), 8, "{body}");
    assert!(!body.contains('\u{2581}'), "{body}");
    assert!(
        rows.iter().all(|r| r[1].split(' ').count() == 4),
        "references are the file's four words: {body}"
    );
    let o = Command::new(env!("CARGO_BIN_EXE_predict"))
        .arg(&run)
        .arg("1207")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert!(!text(&o).contains('\u{2581}'), "{}", text(&o));

    // a tagger's text comes as tokens: subwords are refused
    let o = train(
        &["sort-tagger", "--tokenizer", "bpe", "--epochs", "1"],
        &out,
    );
    assert_clean_failure(&o, "--tokenizer bpe does not apply to a tagging model");
    std::fs::remove_dir_all(&out).ok();
}

#[test]
fn a_sweep_runs_in_shares_and_their_records_make_the_report() {
    let out = scratch("sweep-shares");
    let shared = out.join("shared");
    let with = |more: &[&str]| {
        let mut args = short_sweep("sweep-heads", "64", "1");
        args.extend(more);
        sweep(&args)
    };
    let shared_arg = shared.to_str().unwrap();
    for share in ["0/2", "1/2"] {
        let o = with(&["--out", shared_arg, "--shard", share]);
        assert!(o.status.success(), "{}", text(&o));
        assert!(
            text(&o).contains(&format!("share {share}: 2 run(s) recorded")),
            "{}",
            text(&o)
        );
    }
    let dir = shared.join("sweep-heads");
    for share in ["shard-0-of-2", "shard-1-of-2"] {
        let records = std::fs::read_to_string(dir.join(share).join("records.jsonl")).unwrap();
        assert_eq!(records.lines().count(), 2, "{share}: {records}");
    }
    assert!(
        !dir.join("summary.csv").exists(),
        "a share writes no report"
    );
    // the whole sweep over the shared directory trains nothing and writes the report
    let o = with(&["--out", shared_arg]);
    assert!(o.status.success(), "{}", text(&o));
    let csv = std::fs::read_to_string(dir.join("summary.csv")).unwrap();
    assert_eq!(csv.lines().count(), 5, "{csv}");
    assert!(dir.join("valid-vs-heads.png").is_file());
    // the shares' directories, copied elsewhere, merge into the same summary
    let merged_out = out.join("merged");
    let shares: Vec<String> = ["shard-0-of-2", "shard-1-of-2"]
        .iter()
        .map(|s| dir.join(s).display().to_string())
        .collect();
    let merged_arg = merged_out.to_str().unwrap();
    let o = with(&["--out", merged_arg, "--merge", &shares[0], &shares[1]]);
    assert!(o.status.success(), "{}", text(&o));
    let merged = merged_out.join("sweep-heads");
    let records = std::fs::read_to_string(merged.join("records.jsonl")).unwrap();
    assert_eq!(records.lines().count(), 4, "{records}");
    let strip_times = |csv: &str| -> Vec<String> {
        // heads, runs, diverged, params, then (past the allocator's peak) the metric and the
        // final, best and gap columns; the times are the clock's
        csv.lines()
            .map(|l| {
                let cells: Vec<&str> = l.split(',').collect();
                [&cells[..4], &cells[5..12]].concat().join(",")
            })
            .collect()
    };
    let merged_csv = std::fs::read_to_string(merged.join("summary.csv")).unwrap();
    assert_eq!(strip_times(&merged_csv), strip_times(&csv));
    // a share missing, or a share that is not one: clear errors
    let o = with(&["--out", merged_arg, "--merge", &shares[0]]);
    assert_clean_failure(&o, "2 of the sweep's 4 runs have no record");
    let o = with(&["--out", shared_arg, "--shard", "2/2"]);
    assert_clean_failure(&o, "shares are numbered from 0 to n - 1");
    std::fs::remove_dir_all(&out).ok();
}
