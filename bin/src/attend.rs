//! `attend`: draws what a trained model attends to for an input: a heatmap per head and layer,
//! the source–target alignment, rollout and head statistics, with an `index.html` of them all.
//!
//! ```text
//! cargo run --release --bin attend -- runs/dates-transformer/<timestamp> "3rd of March 2021"
//! ```

use std::path::PathBuf;

use anyhow::Result;
use attn_runtime::infer::{Output, Predictor};
use attn_runtime::model::TaskSpec;
use attn_runtime::registry::Registry;
use attn_runtime::train::{load_run, run_model_name};
use attn_runtime::viz::{write_report, ReportFiles};
use clap::Parser;

/// Draw a trained model's attention for one input.
#[derive(Parser, Debug, Clone)]
#[command(version, about)]
pub struct Args {
    /// A run directory made by `train`.
    run: PathBuf,
    /// The input text (or, for image models, comma-separated pixel values in [0, 1]).
    input: String,
    /// Where to write (default: <run>/attention/<input>).
    #[arg(long)]
    out: Option<PathBuf>,
}

/// The `attend` command over `registry`'s models, with the process's arguments: what a binary's
/// `main` calls. Exits with status 1 (and the error on standard error) when the command fails.
pub fn main(registry: &Registry) {
    // the main thread drives the kernels: let it be a worker of their thread pool
    attn_runtime::threads::join_worker_pool();
    crate::exit_on_error(run(registry, Args::parse()));
}

fn slug(text: &str) -> String {
    let s: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .take(40)
        .collect();
    let s = s.trim_matches('-').to_string();
    if s.is_empty() {
        "input".into()
    } else {
        s
    }
}

/// Runs the command: what [`main`] does after parsing the arguments. Returns the report's
/// files and head statistics.
///
/// # Errors
/// Whatever stops the command (unknown model, bad data or run directory, ...), with a message
/// that says what to fix.
pub fn run(registry: &Registry, args: Args) -> Result<ReportFiles> {
    registry.check()?;
    let name = run_model_name(&args.run)?;
    let entry = registry.find(&name)?;
    let predictor = Predictor::new(load_run(&args.run, entry)?);
    let prediction = if matches!(entry.meta().task, TaskSpec::ImageClassify { .. }) {
        let pixels = crate::parse_pixels(&args.input).map_err(anyhow::Error::msg)?;
        predictor.predict_image(&pixels)?
    } else {
        predictor.predict_text(&args.input, None)?
    };
    let dir = args
        .out
        .unwrap_or_else(|| args.run.join("attention").join(slug(&args.input)));
    let report = write_report(&prediction, &name, &args.input, &dir)?;
    println!("{name}: {}\n", describe(&prediction.output));
    println!("{}", report.table);
    println!("open {}", dir.join("index.html").display());
    Ok(report)
}

/// The prediction in one line.
fn describe(output: &Output) -> String {
    match output {
        Output::Class {
            label,
            probabilities,
        } => {
            let p = probabilities.first().map_or(0.0, |(_, p)| *p);
            format!("{label} (p = {p:.3})")
        }
        Output::Tags { tags } => tags.join(" "),
        Output::NextToken {
            token,
            probabilities,
        } => {
            let p = probabilities.first().map_or(0.0, |(_, p)| *p);
            format!("next token {token:?} (p = {p:.3})")
        }
        Output::Sequence { text, .. } => text.clone(),
    }
}
