//! Golden tests of `attn_runtime::metrics` against sacreBLEU and scikit-learn (fixtures from
//! `tools/gen_metric_fixtures.py`, committed under `tests/fixtures/metrics/`).
//!
//! Counts, lengths, labels, token strings and signatures must be equal. Floats computed with
//! IEEE arithmetic alone (precisions, recall, F1, averages, chrF) must be bit-identical; values
//! that go through `exp`/`ln` (BLEU score and brevity penalty) may differ by [`LIBM_TOL`] where a
//! platform's libm differs from the one the fixtures were made with.

use std::path::PathBuf;

use attn_runtime::metrics::*;
use serde_json::Value;

/// Allowed difference for values computed through the platform's `exp`/`ln`.
const LIBM_TOL: f64 = 1e-9;

fn load(name: &str) -> Vec<Value> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/metrics")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let json: Value = serde_json::from_str(&text).expect("fixture is JSON");
    json["cases"].as_array().expect("cases").clone()
}

fn strs(v: &Value) -> Vec<String> {
    v.as_array()
        .expect("array of strings")
        .iter()
        .map(|s| s.as_str().expect("string").to_string())
        .collect()
}

fn usizes(v: &Value) -> Vec<usize> {
    v.as_array()
        .expect("array of integers")
        .iter()
        .map(|x| x.as_u64().expect("integer") as usize)
        .collect()
}

fn f64s(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("array of numbers")
        .iter()
        .map(|x| x.as_f64().expect("number"))
        .collect()
}

fn num(v: &Value) -> f64 {
    v.as_f64().expect("number")
}

#[track_caller]
fn assert_close(what: &str, got: f64, want: f64, tol: f64) {
    assert!(
        (got - want).abs() <= tol,
        "{what}: got {got:?}, want {want:?} (diff {:e}, tolerance {tol:e})",
        (got - want).abs()
    );
}

#[test]
fn tokenizer_13a_matches_sacrebleu() {
    let cases = load("tokenize_13a.json");
    assert!(cases.len() > 200);
    for case in &cases {
        let input = case["input"].as_str().unwrap();
        assert_eq!(
            tokenize_13a(input),
            case["expected"].as_str().unwrap(),
            "input {input:?}"
        );
    }
}

fn bleu_config(config: &Value) -> Bleu {
    let value = config["smooth_value"].as_f64();
    Bleu {
        tokenizer: match config["tokenize"].as_str().unwrap() {
            "13a" => BleuTokenizer::V13a,
            "none" => BleuTokenizer::None,
            other => panic!("tokenizer {other}"),
        },
        lowercase: config["lowercase"].as_bool().unwrap(),
        smoothing: match config["smooth_method"].as_str().unwrap() {
            "none" => Smoothing::None,
            "exp" => Smoothing::Exp,
            "floor" => Smoothing::Floor(value.unwrap_or(0.1)),
            "add-k" => Smoothing::AddK(value.unwrap_or(1.0)),
            other => panic!("smoothing {other}"),
        },
        effective_order: config["effective_order"].as_bool().unwrap(),
    }
}

#[test]
fn bleu_matches_sacrebleu() {
    let cases = load("bleu.json");
    assert!(cases.len() > 80);
    let (mut corpus, mut sentence) = (0, 0);
    for case in &cases {
        let name = case["name"].as_str().unwrap();
        let bleu = bleu_config(&case["config"]);
        let hyps = strs(&case["hyps"]);
        let got = match case["level"].as_str().unwrap() {
            "corpus" => {
                corpus += 1;
                let refs: Vec<Vec<String>> =
                    case["refs"].as_array().unwrap().iter().map(strs).collect();
                bleu.corpus_score(&hyps, &refs)
            }
            _ => {
                sentence += 1;
                bleu.sentence_score(&hyps[0], &strs(&case["refs"]))
            }
        }
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        let want = &case["expected"];

        // sacreBLEU reports add-k smoothed counts (k added to orders >= 2 unless nothing matched)
        let k = match bleu.smoothing {
            Smoothing::AddK(k) if got.counts.iter().any(|&c| c > 0) => k,
            _ => 0.0,
        };
        let shift = |raw: [usize; 4]| -> Vec<f64> {
            let mut v: Vec<f64> = raw.iter().map(|&c| c as f64).collect();
            v[1..].iter_mut().for_each(|c| *c += k);
            v
        };
        assert_eq!(shift(got.counts), f64s(&want["counts"]), "{name}: counts");
        assert_eq!(shift(got.totals), f64s(&want["totals"]), "{name}: totals");
        assert_eq!(
            got.sys_len as u64,
            want["sys_len"].as_u64().unwrap(),
            "{name}: sys_len"
        );
        assert_eq!(
            got.ref_len as u64,
            want["ref_len"].as_u64().unwrap(),
            "{name}: ref_len"
        );
        assert_eq!(
            got.precisions.to_vec(),
            f64s(&want["precisions"]),
            "{name}: precisions"
        );
        assert_eq!(
            got.signature,
            want["signature"].as_str().unwrap(),
            "{name}: signature"
        );
        assert_close(&format!("{name}: bp"), got.bp, num(&want["bp"]), LIBM_TOL);
        assert_close(
            &format!("{name}: score"),
            got.score,
            num(&want["score"]),
            LIBM_TOL,
        );
        assert_eq!(
            got.to_string(),
            want["str"].as_str().unwrap(),
            "{name}: str"
        );
    }
    assert!(
        corpus > 20 && sentence > 40,
        "{corpus} corpus, {sentence} sentence cases"
    );
}

#[test]
fn bleu_convenience_functions_use_sacrebleu_defaults() {
    let cases = load("bleu.json");
    let find = |n: &str| cases.iter().find(|c| c["name"] == n).unwrap().clone();
    let case = find("corpus_default_2ref");
    let refs: Vec<Vec<String>> = case["refs"].as_array().unwrap().iter().map(strs).collect();
    let got = corpus_bleu(&strs(&case["hyps"]), &refs).unwrap();
    assert_eq!(
        got.signature,
        case["expected"]["signature"].as_str().unwrap()
    );
    assert_close(
        "corpus_bleu",
        got.score,
        num(&case["expected"]["score"]),
        LIBM_TOL,
    );

    let case = find("sentence_three_refs");
    let got = sentence_bleu(&strs(&case["hyps"])[0], &strs(&case["refs"])).unwrap();
    assert_eq!(
        got.signature,
        case["expected"]["signature"].as_str().unwrap()
    );
    assert_close(
        "sentence_bleu",
        got.score,
        num(&case["expected"]["score"]),
        LIBM_TOL,
    );
}

fn chrf_config(config: &Value) -> Chrf {
    Chrf {
        char_order: config["char_order"].as_u64().unwrap() as usize,
        word_order: config["word_order"].as_u64().unwrap() as usize,
        beta: config["beta"].as_u64().unwrap() as u32,
        lowercase: config["lowercase"].as_bool().unwrap(),
        whitespace: config["whitespace"].as_bool().unwrap(),
        eps_smoothing: config["eps_smoothing"].as_bool().unwrap(),
    }
}

#[test]
fn chrf_matches_sacrebleu() {
    let cases = load("chrf.json");
    assert!(cases.len() > 40);
    for case in &cases {
        let name = case["name"].as_str().unwrap();
        let chrf = chrf_config(&case["config"]);
        let hyps = strs(&case["hyps"]);
        let got = match case["level"].as_str().unwrap() {
            "corpus" => {
                let refs: Vec<Vec<String>> =
                    case["refs"].as_array().unwrap().iter().map(strs).collect();
                chrf.corpus_score(&hyps, &refs)
            }
            _ => chrf.sentence_score(&hyps[0], &strs(&case["refs"])),
        }
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        let want = &case["expected"];
        assert_eq!(got.score, num(&want["score"]), "{name}: score");
        assert_eq!(
            got.signature,
            want["signature"].as_str().unwrap(),
            "{name}: signature"
        );
        assert_eq!(
            got.to_string(),
            want["str"].as_str().unwrap(),
            "{name}: str"
        );
    }
    let default = cases
        .iter()
        .find(|c| c["name"] == "sentence_default")
        .unwrap();
    let got = sentence_chrf(&strs(&default["hyps"])[0], &strs(&default["refs"])).unwrap();
    assert_eq!(got.score, num(&default["expected"]["score"]));
}

#[track_caller]
fn assert_prf(what: &str, got: PrfScores, want: &Value) {
    assert_eq!(got.precision, num(&want["precision"]), "{what}: precision");
    assert_eq!(got.recall, num(&want["recall"]), "{what}: recall");
    assert_eq!(got.f1, num(&want["f1"]), "{what}: f1");
}

#[track_caller]
fn assert_report_avg(what: &str, got: PrfScores, support: usize, want: &Value) {
    assert_eq!(got.precision, num(&want["precision"]), "{what}: precision");
    assert_eq!(got.recall, num(&want["recall"]), "{what}: recall");
    assert_eq!(got.f1, num(&want["f1-score"]), "{what}: f1");
    assert_eq!(support as f64, num(&want["support"]), "{what}: support");
}

#[test]
fn classification_matches_sklearn() {
    let cases = load("classification.json");
    for case in &cases {
        let name = case["name"].as_str().unwrap();
        let (gold, pred) = (usizes(&case["gold"]), usizes(&case["pred"]));
        let want = &case["expected"];
        let labels = usizes(&want["labels"]);

        assert_eq!(
            accuracy(&gold, &pred).unwrap(),
            num(&want["accuracy"]),
            "{name}: accuracy"
        );
        let cm = confusion_matrix(&gold, &pred, None).unwrap();
        assert_eq!(cm.labels, labels, "{name}: confusion labels");
        if let Some(rows) = want["confusion_matrix"].as_array() {
            let rows: Vec<Vec<usize>> = rows.iter().map(usizes).collect();
            assert_eq!(cm.counts, rows, "{name}: confusion matrix");
        }
        if let Some(cm_labels) = case["cm_labels"].as_array() {
            let cm_labels: Vec<usize> = cm_labels
                .iter()
                .map(|l| l.as_u64().unwrap() as usize)
                .collect();
            let cm = confusion_matrix(&gold, &pred, Some(&cm_labels)).unwrap();
            let rows: Vec<Vec<usize>> = want["confusion_matrix_labels"]
                .as_array()
                .unwrap()
                .iter()
                .map(usizes)
                .collect();
            assert_eq!(cm.counts, rows, "{name}: confusion matrix with labels");
        }

        let per_class = precision_recall_f1(&gold, &pred, Average::None).unwrap();
        assert!(per_class.average.is_none());
        let classes = &per_class.classes;
        let pc = &want["per_class"];
        assert_eq!(
            classes.iter().map(|c| c.label).collect::<Vec<_>>(),
            labels,
            "{name}"
        );
        let field = |f: fn(&ClassScores) -> f64| classes.iter().map(f).collect::<Vec<_>>();
        assert_eq!(
            field(|c| c.precision),
            f64s(&pc["precision"]),
            "{name}: precision"
        );
        assert_eq!(field(|c| c.recall), f64s(&pc["recall"]), "{name}: recall");
        assert_eq!(field(|c| c.f1), f64s(&pc["f1"]), "{name}: f1");
        let support: Vec<usize> = classes.iter().map(|c| c.support).collect();
        assert_eq!(support, usizes(&pc["support"]), "{name}: support");

        for (avg, key) in [
            (Average::Micro, "micro"),
            (Average::Macro, "macro"),
            (Average::Weighted, "weighted"),
        ] {
            let got = precision_recall_f1(&gold, &pred, avg).unwrap();
            assert_eq!(got.classes, per_class.classes, "{name}: {key} per-class");
            assert_prf(&format!("{name}: {key}"), got.average.unwrap(), &want[key]);
        }

        if let Some(pos_label) = case["pos_label"].as_u64() {
            let got = precision_recall_f1(
                &gold,
                &pred,
                Average::Binary {
                    pos_label: pos_label as usize,
                },
            );
            match want["binary_error"].as_str() {
                None => assert_prf(
                    &format!("{name}: binary"),
                    got.unwrap().average.unwrap(),
                    &want["binary"],
                ),
                Some("NotBinary") => {
                    assert!(
                        matches!(got, Err(MetricError::NotBinary { .. })),
                        "{name}: {got:?}"
                    )
                }
                Some(_) => assert!(
                    matches!(got, Err(MetricError::InvalidPosLabel { .. })),
                    "{name}: {got:?}"
                ),
            }
        }

        let report = classification_report(&gold, &pred).unwrap();
        let rep = &want["report"];
        assert_eq!(
            report.accuracy,
            num(&rep["accuracy"]),
            "{name}: report accuracy"
        );
        assert_report_avg(
            &format!("{name}: macro avg"),
            report.macro_avg,
            gold.len(),
            &rep["macro avg"],
        );
        assert_report_avg(
            &format!("{name}: weighted avg"),
            report.weighted_avg,
            gold.len(),
            &rep["weighted avg"],
        );
        assert_prf(
            &format!("{name}: report micro"),
            report.micro_avg,
            &want["micro"],
        );
        for (c, w) in report
            .classes
            .iter()
            .zip(rep["classes"].as_array().unwrap())
        {
            let scores = PrfScores {
                precision: c.precision,
                recall: c.recall,
                f1: c.f1,
            };
            assert_report_avg(&format!("{name}: class {}", c.label), scores, c.support, w);
        }
        assert_eq!(report.support, gold.len());
    }
}

#[test]
fn metrics_reject_bad_input() {
    let none: [&str; 0] = [];
    assert!(matches!(
        corpus_bleu(&none, &[none]),
        Err(MetricError::Empty { .. })
    ));
    assert!(matches!(
        corpus_chrf(&["a"], &[["a", "b"]]),
        Err(MetricError::LengthMismatch { .. })
    ));
    assert!(matches!(
        accuracy(&[1], &[]),
        Err(MetricError::LengthMismatch { .. })
    ));
    assert!(matches!(
        precision_recall_f1(&[], &[], Average::Macro),
        Err(MetricError::Empty { .. })
    ));
    let empty: [Vec<usize>; 0] = [];
    assert!(matches!(
        token_accuracy(&empty, &empty, None),
        Err(MetricError::Empty { .. })
    ));
}

/// What validation sums batch by batch scores as sacreBLEU and scikit-learn score the whole.
mod accumulated {
    use super::*;
    use attn_runtime::train::{output_bleu, Scores};

    #[test]
    fn bleu_statistics_summed_over_batches_score_as_sacrebleu_on_the_corpus() {
        let cases = load("bleu.json");
        let mut checked = 0;
        let mut output_config = 0;
        for case in cases.iter().filter(|c| c["level"] == "corpus") {
            let refs = case["refs"].as_array().unwrap();
            if refs.len() != 1 {
                continue;
            }
            let name = case["name"].as_str().unwrap();
            let bleu = bleu_config(&case["config"]);
            let (hyps, refs) = (strs(&case["hyps"]), strs(&refs[0]));
            // batches of three segments, as an evaluation of batch size 3 sums them
            let mut sum = Scores::default();
            for (h, r) in hyps.chunks(3).zip(refs.chunks(3)) {
                let mut stats = BleuStats::default();
                for (h, r) in h.iter().zip(r) {
                    stats += bleu.segment_stats(h, &[r]).unwrap();
                }
                sum.add(&Scores {
                    bleu: Some(stats),
                    ..Scores::default()
                });
            }
            let got = bleu.score_from_stats(&sum.bleu.unwrap(), 1).unwrap();
            let want = num(&case["expected"]["score"]);
            assert_close(name, got.score, want, LIBM_TOL);
            if bleu == output_bleu() {
                // the rule `Selection::Bleu` ranks by
                assert_close(name, sum.bleu().unwrap(), want, LIBM_TOL);
                output_config += 1;
            }
            checked += 1;
        }
        assert!(
            checked > 20 && output_config >= 1,
            "{checked}, {output_config}"
        );
    }

    #[test]
    fn class_counts_summed_over_batches_give_scikit_learns_macro_f1() {
        let cases = load("classification.json");
        for case in &cases {
            let name = case["name"].as_str().unwrap();
            let (gold, pred) = (usizes(&case["gold"]), usizes(&case["pred"]));
            let classes = 1 + gold.iter().chain(&pred).max().unwrap();
            // one-hot logits of the predictions, scored in batches of four rows
            let mut sum = Scores::default();
            for (g, p) in gold.chunks(4).zip(pred.chunks(4)) {
                let logits: Vec<f32> = p
                    .iter()
                    .flat_map(|&p| (0..classes).map(move |c| f32::from(u8::from(c == p))))
                    .collect();
                let batch = Scores::of(&logits, classes, g, 1, false)
                    .with_classes(&logits, classes, g, classes);
                sum.add(&batch);
            }
            let want = &case["expected"]["macro"];
            assert_eq!(sum.macro_f1(), Some(num(&want["f1"])), "{name}: macro F1");
            let avg = sum.classes.as_ref().unwrap().macro_avg().unwrap();
            assert_eq!(avg.precision, num(&want["precision"]), "{name}");
            assert_eq!(avg.recall, num(&want["recall"]), "{name}");
        }
        assert!(cases.len() > 10, "{}", cases.len());
    }
}

#[test]
fn ngram_perplexity_matches_nltk() {
    let cases = load("ngram.json");
    assert!(cases.len() >= 18);
    let sentences =
        |v: &Value| -> Vec<Vec<String>> { v.as_array().unwrap().iter().map(strs).collect() };
    for case in &cases {
        let name = case["name"].as_str().unwrap();
        let order = case["order"].as_u64().unwrap() as usize;
        let lm = NgramLm::fit(order, num(&case["gamma"]), &sentences(&case["train"]));
        assert_eq!(
            lm.vocab_size() as u64,
            case["vocab_size"].as_u64().unwrap(),
            "{name}: vocabulary"
        );
        for s in case["scores"].as_array().unwrap() {
            let got = lm.score(s["word"].as_str().unwrap(), &strs(&s["context"]));
            assert_close(&format!("{name}: score"), got, num(&s["score"]), 1e-15);
        }
        let got = lm.perplexity(&sentences(&case["test"])).unwrap();
        // NLTK takes 2 to the mean log2: the same up to rounding
        assert_close(name, got, num(&case["perplexity"]), 1e-9 * got);
    }
}
