//! A language model through every command: `train` (perplexity per epoch), `eval` (test
//! perplexity), `generate` (every sampling option, the same seed giving the same text, with and
//! without the cache), `predict` (the next token) and `attend` (attention over a prompt).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn run(bin: &str, args: &[&str]) -> Output {
    Command::new(bin)
        .args(args)
        .output()
        .expect("the binary runs")
}

/// Trains `bible-lm` briefly into a scratch directory and returns it and the run directory.
fn trained() -> (PathBuf, String) {
    let dir = std::env::temp_dir().join(format!("attn-generate-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let o = Command::new(env!("CARGO_BIN_EXE_train"))
        .args([
            "bible-lm",
            "--epochs",
            "1",
            "--max-train",
            "150",
            "--max-eval",
            "20",
            "--out",
        ])
        .arg(&dir)
        .output()
        .unwrap();
    let all = text(&o);
    assert!(o.status.success(), "{all}");
    assert!(all.contains("perplexity"), "{all}");
    let run_dir = std::fs::read_dir(dir.join("bible-lm"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    (dir, run_dir.display().to_string())
}

fn generate(run_dir: &str, args: &[&str]) -> Output {
    let mut all = vec![run_dir];
    all.extend_from_slice(args);
    run(env!("CARGO_BIN_EXE_generate"), &all)
}

#[test]
fn a_language_model_trains_evaluates_generates_predicts_and_attends() {
    let (dir, run_dir) = trained();
    let summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(Path::new(&run_dir).join("summary.json")).unwrap(),
    )
    .unwrap();
    let test_ppl = summary["test_perplexity"].as_f64().unwrap();
    assert!(test_ppl > 1.0 && test_ppl < 96.0, "{summary}");
    // a language model chooses its checkpoint by perplexity unless told otherwise
    let config: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(Path::new(&run_dir).join("config.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(config["train"]["selection"], "Perplexity", "{config}");
    let o = run(
        env!("CARGO_BIN_EXE_train"),
        &["bible-lm", "--epochs", "1", "--select", "exact-match"],
    );
    assert!(!o.status.success());
    assert!(text(&o).contains("selects by perplexity"), "{}", text(&o));

    // eval: the same perplexity on the same test split
    let o = run(env!("CARGO_BIN_EXE_eval"), &[&run_dir]);
    let all = text(&o);
    assert!(o.status.success(), "{all}");
    assert!(all.contains("perplexity"), "{all}");
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(Path::new(&run_dir).join("eval.json")).unwrap(),
    )
    .unwrap();
    let lm = &report["language_model"];
    let ppl = lm["perplexity"].as_f64().unwrap();
    assert!((ppl - test_ppl).abs() < 1e-6 * ppl, "{report} vs {summary}");
    assert!((ppl - lm["loss"].as_f64().unwrap().exp()).abs() < 1e-9 * ppl);

    // greedy, with and without the cache: the same text while it fits the context of 64
    let greedy = generate(
        &run_dir,
        &["--prompt", "And God", "--max-tokens", "30", "--no-stop"],
    );
    assert!(greedy.status.success(), "{}", text(&greedy));
    let greedy_text = String::from_utf8(greedy.stdout.clone()).unwrap();
    assert!(greedy_text.starts_with("And God"), "{greedy_text}");
    let uncached = generate(
        &run_dir,
        &[
            "--prompt",
            "And God",
            "--max-tokens",
            "30",
            "--no-stop",
            "--no-cache",
        ],
    );
    assert_eq!(greedy.stdout, uncached.stdout, "{}", text(&uncached));

    // sampling with every option: the same seed gives the same text, another seed another
    let sampled = |seed: &str| {
        let o = generate(
            &run_dir,
            &[
                "--prompt",
                "In the",
                "--max-tokens",
                "40",
                "--temperature",
                "1.3",
                "--top-k",
                "30",
                "--top-p",
                "0.95",
                "--seed",
                seed,
                "--stop",
                "<eos>",
            ],
        );
        assert!(o.status.success(), "{}", text(&o));
        String::from_utf8(o.stdout).unwrap()
    };
    let a = sampled("7");
    assert_eq!(a, sampled("7"));
    assert_ne!(a, sampled("8"));
    assert_ne!(a, greedy_text);
    let o = generate(&run_dir, &["--sample", "--seed", "3", "--max-tokens", "5"]);
    assert!(
        o.status.success(),
        "an empty prompt starts a document: {}",
        text(&o)
    );

    // refusals name the flag and the fix
    for (args, says) in [
        (
            vec!["--seed", "3"],
            "--seed 3 chooses the draws of sampling",
        ),
        (vec!["--top-p", "1.5"], "top_p"),
        (vec!["--temperature", "0"], "temperature"),
        (
            vec!["--stop", "zz"],
            "the stop token \"zz\" is not in the run's vocabulary",
        ),
    ] {
        let o = generate(&run_dir, &args);
        assert!(!o.status.success(), "{args:?}");
        assert!(text(&o).contains(says), "{args:?}: {}", text(&o));
    }

    // predict: the next character, with the likeliest ones
    let o = run(
        env!("CARGO_BIN_EXE_predict"),
        &[&run_dir, "In the beginnin", "--json"],
    );
    assert!(o.status.success(), "{}", text(&o));
    let p: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let next = &p["prediction"]["output"]["NextToken"];
    let probs = next["probabilities"].as_array().unwrap();
    assert_eq!(probs.len(), 10, "{p}");
    assert_eq!(next["token"], probs[0][0]);
    // one causal self-attention map per block, over the prompt
    let maps = p["prediction"]["attention"].as_array().unwrap();
    assert_eq!(maps.len(), 4, "{p}");
    assert_eq!(maps[0]["layer"], "decoder.layers.0.self_attn");

    // attend: the report over a prompt
    let out = dir.join("attention");
    let o = Command::new(env!("CARGO_BIN_EXE_attend"))
        .args([&run_dir, "In the beginning", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert!(out.join("index.html").exists());
    std::fs::remove_dir_all(&dir).ok();
}
