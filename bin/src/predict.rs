//! `predict`: runs a trained model on new inputs.
//!
//! ```text
//! cargo run --release --bin predict -- runs/dates-transformer/<timestamp> "3rd of March 2021" "Mar 4 1999"
//! echo "great phone" | cargo run --release --bin predict -- runs/sentiment-transformer/<timestamp>
//! cargo run --release --bin predict -- runs/dates-transformer/<timestamp> --beam 4 "the 1st of may, 2001"
//! ```
//! Image models read one image per argument or line: comma-separated pixel values in `[0, 1]`.

use std::io::BufRead;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use attn_runtime::infer::{BeamSearch, Output, Prediction, Predictor};
use attn_runtime::model::TaskSpec;
use attn_runtime::registry::Registry;
use attn_runtime::train::{load_run, run_model_name};
use attn_runtime::AttnError;
use clap::Parser;

use crate::decoding::Asked;

/// Predict with a trained run.
#[derive(Parser, Debug, Clone)]
#[command(version, about)]
pub struct Args {
    /// A run directory made by `train`.
    run: PathBuf,
    /// Inputs; standard input lines when none is given (one output line per input line, blank
    /// ones included).
    inputs: Vec<String>,
    /// Beam search with this many beams, 1 to 64 (sequence-to-sequence models); default: the
    /// run's own decoding (greedy, or the beam its recipe names, as for bible-transformer).
    #[arg(long, conflicts_with = "greedy")]
    beam: Option<usize>,
    /// Decode greedily, whatever the run's own decoding.
    #[arg(long)]
    greedy: bool,
    /// Beam search's length penalty α, from 0 to 10.
    #[arg(long, default_value_t = 0.6)]
    length_penalty: f64,
    /// One JSON object per input, attention included.
    #[arg(long)]
    json: bool,
}

/// The `predict` command over `registry`'s models, with the process's arguments: what a binary's
/// `main` calls. Exits with status 1 (and the error on standard error) when the command fails.
pub fn main(registry: &Registry) {
    // the main thread drives the kernels: let it be a worker of their thread pool
    attn_runtime::threads::join_worker_pool();
    crate::exit_on_error(run(registry, Args::parse()));
}

/// Runs the command: what [`main`] does after parsing the arguments. Prints one line per input,
/// in order: the prediction, or `error: ...` for an input that cannot be predicted for (blank,
/// not pixel values, too long, ...); returns the predictions.
///
/// # Errors
/// Whatever stops the command (unknown model, bad data or run directory, beam settings out of
/// range, no input at all, ...), with a message that says what to fix; and, once every input
/// has its line, an error counting the refused inputs, so the exit status is not 0.
pub fn run(registry: &Registry, args: Args) -> Result<Vec<Prediction>> {
    registry.check()?;
    // the length penalty is checked even without --beam, so that a typo is not silently ignored
    let settings = BeamSearch {
        beam_size: args.beam.unwrap_or(1),
        length_penalty: args.length_penalty,
    };
    settings.validate()?;
    let asked = Asked::new(args.beam.map(|_| settings), args.greedy);
    let name = run_model_name(&args.run)?;
    let entry = registry.find(&name)?;
    let predictor = Predictor::new(load_run(&args.run, entry)?);
    let beam = asked.resolve(predictor.run());
    let inputs: Vec<String> = if args.inputs.is_empty() {
        std::io::stdin()
            .lock()
            .lines()
            .collect::<Result<_, _>>()
            .context("cannot read standard input")?
    } else {
        args.inputs.clone()
    };
    if inputs.is_empty() {
        bail!(
            "no input: pass inputs after the run directory (`predict {} \"some text\"`), or one per line on standard input",
            args.run.display()
        );
    }
    let image = matches!(entry.meta().task, TaskSpec::ImageClassify { .. });
    let mut predictions = Vec::new();
    let mut refused: Vec<(usize, String)> = Vec::new();
    for (i, input) in inputs.iter().enumerate() {
        match predict_one(&predictor, input, image, beam)? {
            Ok(prediction) => {
                print(input, &prediction, args.json)?;
                predictions.push(prediction);
            }
            Err(reason) => {
                print_refusal(input, &reason, args.json)?;
                refused.push((i + 1, reason));
            }
        }
    }
    if let Some((_, reason)) = refused.first() {
        let which: Vec<String> = refused.iter().map(|(i, _)| i.to_string()).collect();
        if refused.len() == 1 {
            bail!(
                "1 of {} inputs refused (input {}): {reason}",
                inputs.len(),
                which[0]
            );
        }
        bail!(
            "{} of {} inputs refused (inputs {}); the first: {reason}",
            refused.len(),
            inputs.len(),
            which.join(", ")
        );
    }
    Ok(predictions)
}

/// The prediction for one input, or why this input (and only it) cannot have one; `Err` for
/// what stops every input (a failing device, ...).
fn predict_one(
    predictor: &Predictor,
    input: &str,
    image: bool,
    beam: Option<BeamSearch>,
) -> Result<Result<Prediction, String>> {
    if input.trim().is_empty() {
        return Ok(Err(if image {
            "the input is blank; give comma-separated pixel values in [0, 1]".into()
        } else {
            "the input is blank; give some text".into()
        }));
    }
    let prediction = if image {
        match crate::parse_pixels(input) {
            Ok(pixels) => predictor.predict_image(&pixels),
            Err(reason) => return Ok(Err(reason)),
        }
    } else {
        predictor.predict_text(input, beam)
    };
    match prediction {
        Ok(p) => Ok(Ok(p)),
        Err(e @ AttnError::InvalidInput { .. }) => Ok(Err(e.to_string())),
        Err(e) => Err(e.into()),
    }
}

fn print_refusal(input: &str, reason: &str, json: bool) -> Result<()> {
    if json {
        println!(
            "{}",
            serde_json::to_string(&serde_json::json!({ "input": input, "error": reason }))?
        );
    } else {
        println!("{input}\terror: {reason}");
    }
    Ok(())
}

fn print(input: &str, p: &Prediction, json: bool) -> Result<()> {
    if json {
        println!(
            "{}",
            serde_json::to_string(&serde_json::json!({ "input": input, "prediction": p }))?
        );
        return Ok(());
    }
    match &p.output {
        Output::Class {
            label,
            probabilities,
        } => {
            let probs: Vec<String> = probabilities
                .iter()
                .take(5)
                .map(|(l, q)| format!("{l} {q:.3}"))
                .collect();
            println!("{input}\t{label}\t({})", probs.join(", "));
        }
        Output::Tags { tags } => println!("{input}\t{}", tags.join(" ")),
        Output::NextToken {
            token,
            probabilities,
        } => {
            let probs: Vec<String> = probabilities
                .iter()
                .take(5)
                .map(|(t, q)| format!("{t:?} {q:.3}"))
                .collect();
            println!("{input}\t{token:?}\t({})", probs.join(", "));
        }
        Output::Sequence { text, score, .. } => match score {
            Some(s) => println!("{input}\t{text}\t(score {s:.3})"),
            None => println!("{input}\t{text}"),
        },
    }
    Ok(())
}
