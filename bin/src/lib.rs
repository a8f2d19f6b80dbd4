//! attn's commands as a library: `train`, `eval`, `predict`, `generate`, `attend` and `sweep` over any
//! [`Registry`] of models, so a crate of your own gets the very same commands, flags, run
//! directories and reports for its models with a `main` of three lines:
//!
//! ```no_run
//! use attn_runtime::registry::Registry;
//! # use attn_runtime::prelude::*;
//! # attention_model! {
//! #     /// A tiny classifier of my own.
//! #     #[name = "my-classifier", data = "sentiment"]
//! #     pub struct MyClassifier {
//! #         arch: SelfAttention,
//! #         task: Classify { vocab: 128, max_len: 16, classes: 2 },
//! #         d_model: 16, heads: 2, layers: 1,
//! #         positional: Sinusoidal,
//! #     }
//! # }
//!
//! fn main() {
//!     // `my-tool train my-classifier`, `my-tool eval runs/my-classifier/<timestamp>`, ...
//!     attn_cli::main(&Registry::new().model(&attn_runtime::zoo::Entry::<MyClassifier>::NEW));
//! }
//! ```
//!
//! One binary per command works as well (`attn_cli::train::main(&registry)`), which is how our
//! own `train`, `eval`, `predict`, `generate`, `attend` and `sweep` binaries run over the zoo
//! (`attn_models::registry()`). Each command's `run(&registry, args)` is the same command
//! without the process around it: it returns what it made (the training outcome, the
//! evaluation report, the predictions, the attention report's files) instead of exiting.
#![warn(missing_docs)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};

use anyhow::{Context, Result};
pub use attn_runtime::registry::Registry;
pub use clap::Parser;
use clap::Subcommand;

pub mod attend;
mod decoding;
pub mod eval;
pub mod export;
pub mod generate;
pub mod predict;
mod resume;
pub mod sweep;
pub mod train;

/// Installs the Ctrl-C handler of a long-running command: the first Ctrl-C (or SIGTERM, as a
/// service manager or `kill` sends, or SIGHUP) sets the returned flag (the command stops after
/// the current batch, saving what it has) and prints `message`; a second one exits at once with
/// status 130.
///
/// The handler is installed once per process; a later command (a library caller running
/// `train` twice) gets the same flag, cleared, and its own message.
///
/// # Errors
/// When the handler cannot be installed.
pub fn stop_on_ctrl_c(message: &'static str) -> Result<&'static AtomicBool> {
    static STOP: AtomicBool = AtomicBool::new(false);
    static MESSAGE: Mutex<&str> = Mutex::new("");
    static INSTALLED: Mutex<bool> = Mutex::new(false);
    *MESSAGE.lock().unwrap_or_else(PoisonError::into_inner) = message;
    STOP.store(false, Ordering::SeqCst);
    let mut installed = INSTALLED.lock().unwrap_or_else(PoisonError::into_inner);
    if !*installed {
        ctrlc::set_handler(|| {
            if STOP.swap(true, Ordering::SeqCst) {
                std::process::exit(130);
            }
            eprintln!(
                "\n{}",
                MESSAGE.lock().unwrap_or_else(PoisonError::into_inner)
            );
        })
        .context("cannot install the Ctrl-C handler")?;
        *installed = true;
    }
    Ok(&STOP)
}

/// The value of a command that succeeded; on failure, prints the error (with its causes) to
/// standard error and exits with status 1.
pub fn exit_on_error<T>(result: Result<T>) -> T {
    match result {
        Ok(value) => value,
        Err(e) => {
            eprintln!("error: {}", message(&e));
            std::process::exit(1);
        }
    }
}

/// `e` and its causes joined by `: `, leaving out a cause the message already ends with (an
/// error whose own text quotes its source, such as an I/O error naming the file and the OS
/// reason, would otherwise print the reason twice).
pub fn message(e: &anyhow::Error) -> String {
    let mut text = e.to_string();
    for cause in e.chain().skip(1) {
        let cause = cause.to_string();
        if !text.ends_with(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}

/// The pixels of an image given as text (`predict`, `attend`): comma-separated numbers, or
/// why not, naming the first value that is not one. Their range is the predictor's to check.
pub(crate) fn parse_pixels(input: &str) -> std::result::Result<Vec<f32>, String> {
    input
        .split(',')
        .enumerate()
        .map(|(k, v)| {
            v.trim().parse::<f32>().map_err(|_| {
                format!(
                    "pixel {} (`{}`) is not a number; an image model takes comma-separated pixel values in [0, 1]",
                    k + 1,
                    v.trim()
                )
            })
        })
        .collect()
}

/// Every command as a subcommand of one binary.
#[derive(Parser, Debug, Clone)]
#[command(
    version,
    about = "Train, evaluate, predict with, look into and sweep attention models."
)]
pub struct Cli {
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// One of the commands, with its arguments.
#[derive(Subcommand, Debug, Clone)]
pub enum Command {
    /// Train a model on its default data set (or your file) and write a run directory.
    Train(train::Args),
    /// Evaluate a trained run on its test split, or score files (BLEU, F1).
    Eval(eval::Args),
    /// Predict with a trained run.
    Predict(predict::Args),
    /// Generate text with a trained language model.
    Generate(generate::Args),
    /// Draw a trained model's attention for one input.
    Attend(attend::Args),
    /// Train every grid point of a declared sweep and report on it.
    Sweep(sweep::Args),
    /// Export a trained run's parameters for PyTorch.
    Export(export::Args),
}

/// Runs one command over `registry`'s models, as [`main`] does after parsing.
///
/// # Errors
/// The command's error.
pub fn run(registry: &Registry, cli: Cli) -> Result<()> {
    match cli.command {
        Command::Train(args) => train::run(registry, args).map(drop),
        Command::Eval(args) => eval::run(registry, args).map(drop),
        Command::Predict(args) => predict::run(registry, args).map(drop),
        Command::Generate(args) => generate::run(registry, args, &mut std::io::stdout()).map(drop),
        Command::Attend(args) => attend::run(registry, args).map(drop),
        Command::Sweep(args) => sweep::run(registry, args),
        Command::Export(args) => export::run(registry, args).map(drop),
    }
}

/// The whole tool over `registry`'s models: `<bin> train <model>`, `<bin> eval <run>`,
/// `<bin> predict <run> <input>...`, `<bin> generate <run> --prompt <text>`,
/// `<bin> attend <run> <input>`, `<bin> sweep <name>`,
/// `<bin> export <run> --format pytorch`, with
/// the flags of our binaries of the same names. Exits with status 1 when the command fails
/// (130 when a training was interrupted).
pub fn main(registry: &Registry) {
    // the main thread drives the kernels: let it be a worker of their thread pool
    attn_runtime::threads::join_worker_pool();
    match Cli::parse().command {
        Command::Train(args) => train::exit(exit_on_error(train::run(registry, args))),
        command => exit_on_error(run(registry, Cli { command })),
    }
}
