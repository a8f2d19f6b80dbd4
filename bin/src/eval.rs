//! `eval`: scores a trained run on its test split, or scores files the way the sacrebleu CLI does.
//!
//! ```text
//! cargo run --release --bin eval -- runs/dates-transformer/20261130-104654 [--predictions out.tsv] [--split-out split/]
//! cargo run --release --bin eval -- runs/bible-transformer/<timestamp> [--beam 4 [--length-penalty 0.6] | --greedy]
//! cargo run --release --bin eval -- bleu --hyp out.txt --ref ref.txt [ref2.txt ...] [--tokenize 13a|none] [--lowercase] [--sentence] [--json]
//! cargo run --release --bin eval -- f1 --gold gold.txt --pred pred.txt [--json]
//! ```

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use attn_runtime::data::split_for;
use attn_runtime::infer::BeamSearch;
use attn_runtime::metrics::{classification_report, Bleu, BleuTokenizer, ClassificationReport};
use attn_runtime::model::TaskSpec;
use attn_runtime::registry::Registry;
use attn_runtime::run::write_split_files;
use attn_runtime::train::{
    evaluate_run, load_run, run_model_name, write_test_predictions, EvalReport,
};
use clap::{Parser, Subcommand, ValueEnum};

use crate::decoding::Asked;

/// Evaluate a trained run, or score files.
#[derive(Parser, Debug, Clone)]
#[command(version, about, args_conflicts_with_subcommands = true)]
pub struct Args {
    /// A run directory made by `train` (scores its best checkpoint on its test split).
    run: Option<PathBuf>,
    /// Examples per batch.
    #[arg(long, default_value_t = 64)]
    batch_size: usize,
    /// Also write every test example's input, reference and prediction to this file (`.jsonl`
    /// or `.tsv`), to score with other tools.
    #[arg(long, value_name = "FILE")]
    predictions: Option<PathBuf>,
    /// Also write the run's split (the train, valid and test examples it used, as data files
    /// `load` reads: JSON lines, or CSV for images) into this directory.
    #[arg(long, value_name = "DIR")]
    split_out: Option<PathBuf>,
    /// Decode a sequence-to-sequence model's test outputs with beam search of this many beams,
    /// 1 to 64 (slower than greedy: each step feeds the decoder one token per beam,
    /// `--batch-size` beams at a time); default: the run's own decoding (greedy,
    /// or the beam its recipe names, as for bible-transformer).
    #[arg(long, conflicts_with = "greedy")]
    beam: Option<usize>,
    /// Beam search's length penalty α, from 0 to 10 (default 0.6; needs --beam).
    #[arg(long, requires = "beam")]
    length_penalty: Option<f64>,
    /// Decode greedily, whatever the run's own decoding.
    #[arg(long)]
    greedy: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug, Clone)]
enum Command {
    /// BLEU of a hypothesis file against reference files (one segment per line, UTF-8).
    Bleu {
        /// The system output.
        #[arg(long)]
        hyp: PathBuf,
        /// One or more reference files, aligned with the hypotheses.
        #[arg(long = "ref", required = true, num_args = 1..)]
        refs: Vec<PathBuf>,
        /// Tokeniser.
        #[arg(long, value_enum, default_value_t = TokenizeArg::V13a)]
        tokenize: TokenizeArg,
        /// Case-insensitive.
        #[arg(long)]
        lowercase: bool,
        /// One sentence BLEU per line instead of the corpus score.
        #[arg(long)]
        sentence: bool,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Precision, recall and F1 of predicted labels against gold labels (one label per line).
    F1 {
        /// Gold labels.
        #[arg(long)]
        gold: PathBuf,
        /// Predicted labels.
        #[arg(long)]
        pred: PathBuf,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum TokenizeArg {
    #[value(name = "13a")]
    V13a,
    None,
}

/// The `eval` command over `registry`'s models, with the process's arguments: what a binary's
/// `main` calls. Exits with status 1 (and the error on standard error) when the command fails.
pub fn main(registry: &Registry) {
    // the main thread drives the kernels: let it be a worker of their thread pool
    attn_runtime::threads::join_worker_pool();
    crate::exit_on_error(run(registry, Args::parse()));
}

fn lines(path: &Path) -> Result<Vec<String>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(text.lines().map(String::from).collect())
}

/// Runs the command: what [`main`] does after parsing the arguments. Returns the report of a
/// run's evaluation (also written to `<run>/eval.json`), `None` for `bleu` and `f1`.
///
/// # Errors
/// Whatever stops the command (unknown model, bad data or run directory, ...), with a message
/// that says what to fix.
pub fn run(registry: &Registry, args: Args) -> Result<Option<EvalReport>> {
    registry.check()?;
    match (args.command, args.run) {
        (
            Some(Command::Bleu {
                hyp,
                refs,
                tokenize,
                lowercase,
                sentence,
                json,
            }),
            _,
        ) => bleu(&hyp, &refs, tokenize, lowercase, sentence, json).map(|()| None),
        (Some(Command::F1 { gold, pred, json }), _) => f1(&gold, &pred, json).map(|()| None),
        (None, Some(dir)) => {
            let outputs = Outputs {
                predictions: args.predictions.as_deref(),
                split_out: args.split_out.as_deref(),
            };
            let beam = args.beam.map(|beam_size| BeamSearch {
                beam_size,
                length_penalty: args
                    .length_penalty
                    .unwrap_or(BeamSearch::default().length_penalty),
            });
            let asked = Asked::new(beam, args.greedy);
            // checked before the run loads, as `predict` does
            if let Asked::Beam(beam) = &asked {
                beam.validate()?;
            }
            evaluate(registry, &dir, args.batch_size, asked, outputs).map(Some)
        }
        (None, None) => bail!(
            "pass a run directory (e.g. runs/dates-transformer/<timestamp>), or `bleu` / `f1`"
        ),
    }
}

/// What `eval` writes besides `eval.json`.
#[derive(Clone, Copy)]
struct Outputs<'a> {
    /// `--predictions`.
    predictions: Option<&'a Path>,
    /// `--split-out`.
    split_out: Option<&'a Path>,
}

fn evaluate(
    registry: &Registry,
    dir: &Path,
    batch_size: usize,
    asked: Asked,
    Outputs {
        predictions,
        split_out,
    }: Outputs<'_>,
) -> Result<EvalReport> {
    let name = run_model_name(dir)?;
    let entry = registry.find(&name)?;
    if let Some(path) = predictions {
        // refused before the evaluation runs, not after
        if let TaskSpec::LanguageModel { .. } = entry.meta().task {
            bail!(
                "--predictions writes one line per test example, and `{name}` is a language \
                 model, scored per token: leave --predictions out (use `generate` to see its text)"
            );
        }
        if !matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("jsonl" | "tsv")
        ) {
            bail!(
                "--predictions {}: name a .jsonl or .tsv file",
                path.display()
            );
        }
    }
    let run = load_run(dir, entry)?;
    // the data the run was trained on, by absolute path, refused if it changed since
    let dataset = run.dataset()?;
    let beam = asked.resolve(&run);
    let report = evaluate_run(&run, &dataset, batch_size, beam)?;
    print_report(&report);
    println!("wrote {}", dir.join("eval.json").display());
    if let Some(out) = split_out {
        let splits = split_for(&dataset, entry.meta(), &run.config.train.data)?;
        let sizes = [&splits.train, &splits.valid, &splits.test].map(|p| p.len());
        write_split_files(out, &splits)?;
        println!(
            "wrote the split into {} (train {}, valid {}, test {} examples)",
            out.display(),
            sizes[0],
            sizes[1],
            sizes[2]
        );
    }
    if let Some(path) = predictions {
        write_test_predictions(path, &report.predictions)?;
        println!(
            "wrote {} ({} test examples: input, reference, prediction)",
            path.display(),
            report.predictions.len()
        );
    }
    Ok(report)
}

fn print_report(r: &EvalReport) {
    println!(
        "{} on the {} test split ({} examples)",
        r.model, r.dataset, r.examples
    );
    if let Some(c) = &r.classification {
        println!("accuracy {:.4}", c.accuracy);
        println!(
            "{:<12} {:>9} {:>9} {:>9} {:>8}",
            "class", "precision", "recall", "f1", "support"
        );
        print_class_rows(c, |label| {
            r.labels
                .as_ref()
                .and_then(|l| l.get(label).cloned())
                .unwrap_or_else(|| label.to_string())
        });
        print_averages(c);
        if let Some(cm) = &r.confusion {
            println!("confusion matrix (rows: gold, columns: predicted):");
            for row in cm {
                println!(
                    "  {}",
                    row.iter().map(|n| format!("{n:>5}")).collect::<String>()
                );
            }
        }
    }
    if let Some((token, exact)) = r.tagging {
        println!("token accuracy {token:.4}, exact match {exact:.4}");
    }
    if let Some(lm) = &r.language_model {
        println!(
            "perplexity {:.4} (loss {:.4} nats per token), token accuracy {:.4}, over {} tokens",
            lm.perplexity, lm.loss, lm.token_accuracy, lm.tokens
        );
        let b = &lm.ngram_baseline;
        println!(
            "n-gram baseline on the same tokens: perplexity {:.4} (order {}, add-{} smoothing, chosen on validation: {:.4})",
            b.test_perplexity, b.order, b.gamma, b.valid_perplexity
        );
    }
    if let Some(s) = &r.seq2seq {
        println!("{} ({} decoding)", s.bleu_summary, s.decoding);
        println!("signature: {}", s.bleu_signature);
        println!(
            "exact match {:.4}, token accuracy {:.4}",
            s.exact_match, s.token_accuracy
        );
        for (src, reference, out) in &s.samples {
            println!("  {src}\n    reference: {reference}\n    output:    {out}");
        }
    }
}

fn bleu(
    hyp: &Path,
    refs: &[PathBuf],
    tokenize: TokenizeArg,
    lowercase: bool,
    sentence: bool,
    json: bool,
) -> Result<()> {
    let hyps = lines(hyp)?;
    let refs: Vec<Vec<String>> = refs.iter().map(|r| lines(r)).collect::<Result<_>>()?;
    for (r, path) in refs.iter().zip(refs.iter().enumerate()) {
        if r.len() != hyps.len() {
            bail!(
                "reference file {} has {} lines, the hypotheses {}: give one line per segment",
                path.0 + 1,
                r.len(),
                hyps.len()
            );
        }
    }
    let tokenizer = match tokenize {
        TokenizeArg::V13a => BleuTokenizer::V13a,
        TokenizeArg::None => BleuTokenizer::None,
    };
    if sentence {
        let metric = Bleu {
            tokenizer,
            lowercase,
            ..Bleu::sentence()
        };
        for (i, h) in hyps.iter().enumerate() {
            let segment_refs: Vec<&str> = refs.iter().map(|r| r[i].as_str()).collect();
            let score = metric.sentence_score(h, &segment_refs)?;
            if json {
                println!(
                    "{}",
                    serde_json::json!({ "score": score.score, "signature": score.signature })
                );
            } else {
                println!("{score}");
            }
        }
        return Ok(());
    }
    let metric = Bleu {
        tokenizer,
        lowercase,
        ..Bleu::default()
    };
    let score = metric.corpus_score(&hyps, &refs)?;
    if json {
        println!(
            "{}",
            serde_json::json!({
                "name": "BLEU", "score": score.score, "signature": score.signature, "counts": score.counts,
                "totals": score.totals, "precisions": score.precisions, "bp": score.bp,
                "sys_len": score.sys_len, "ref_len": score.ref_len,
            })
        );
    } else {
        println!("{score}");
        println!("signature: {}", score.signature);
    }
    Ok(())
}

fn f1(gold: &Path, pred: &Path, json: bool) -> Result<()> {
    let (g, p) = (lines(gold)?, lines(pred)?);
    if g.len() != p.len() {
        bail!(
            "{} has {} lines but {} has {}: give one label per line in both",
            gold.display(),
            g.len(),
            pred.display(),
            p.len()
        );
    }
    let mut names: Vec<String> = g.iter().chain(&p).cloned().collect();
    names.sort();
    names.dedup();
    // every line's label is in `names` (sorted): a binary search, not a scan per line
    let id = |s: &String| names.binary_search(s).unwrap_or(0);
    let report = classification_report(
        &g.iter().map(id).collect::<Vec<_>>(),
        &p.iter().map(id).collect::<Vec<_>>(),
    )?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(
                &serde_json::json!({ "labels": names, "report": report })
            )?
        );
        return Ok(());
    }
    println!(
        "{:<12} {:>9} {:>9} {:>9} {:>8}",
        "label", "precision", "recall", "f1", "support"
    );
    print_class_rows(&report, |label| names[label].clone());
    println!("accuracy {:.4}", report.accuracy);
    print_averages(&report);
    Ok(())
}

/// One line per class of `report`: name, precision, recall, F1, support.
fn print_class_rows(report: &ClassificationReport, name: impl Fn(usize) -> String) {
    for c in &report.classes {
        println!(
            "{:<12} {:>9.4} {:>9.4} {:>9.4} {:>8}",
            name(c.label),
            c.precision,
            c.recall,
            c.f1,
            c.support
        );
    }
}

/// The micro, macro and weighted averages of `report`, as scikit-learn's report prints them.
fn print_averages(report: &ClassificationReport) {
    for (name, avg) in [
        ("micro", &report.micro_avg),
        ("macro", &report.macro_avg),
        ("weighted", &report.weighted_avg),
    ] {
        println!(
            "{:<12} {:>9.4} {:>9.4} {:>9.4} {:>8}",
            format!("{name} avg"),
            avg.precision,
            avg.recall,
            avg.f1,
            report.support
        );
    }
}
