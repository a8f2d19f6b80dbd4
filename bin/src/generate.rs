//! `generate`: text from a trained language model, streamed as it comes.
//!
//! ```text
//! cargo run --release --bin generate -- runs/bible-lm/<timestamp> --prompt "In the beginning" --max-tokens 200
//! cargo run --release --bin generate -- runs/bible-lm/<timestamp> --prompt "And God said" --temperature 0.8 --top-p 0.9 --seed 7
//! ```

use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use attn_runtime::data::Vocab;
use attn_runtime::infer::{generate, Decoding, Generation, KvCache, Sampling};
use attn_runtime::registry::Registry;
use attn_runtime::train::{load_run, run_model_name};
use clap::Parser;

/// Generate text with a trained language model.
#[derive(Parser, Debug, Clone)]
#[command(version, about)]
pub struct Args {
    /// A run directory made by `train` with a language model.
    run: PathBuf,
    /// The text to continue; empty starts a new document (after the end-of-document token).
    #[arg(long, default_value = "")]
    prompt: String,
    /// The most tokens to generate.
    #[arg(long, default_value_t = 200)]
    max_tokens: usize,
    /// Sample instead of taking the likeliest token (implied by --temperature, --top-k and
    /// --top-p).
    #[arg(long)]
    sample: bool,
    /// Sampling temperature (> 0): below 1 sharpens the distribution, above 1 flattens it.
    #[arg(long)]
    temperature: Option<f64>,
    /// Sample among the k likeliest tokens only.
    #[arg(long)]
    top_k: Option<usize>,
    /// Sample among the likeliest tokens whose probability adds up to p (nucleus sampling).
    #[arg(long)]
    top_p: Option<f64>,
    /// The seed of the draws: the same seed gives the same text.
    #[arg(long)]
    seed: Option<u64>,
    /// The token that ends generation.
    #[arg(long, default_value = "<eos>", conflicts_with = "no_stop")]
    stop: String,
    /// Generate --max-tokens tokens, whatever they are.
    #[arg(long)]
    no_stop: bool,
    /// Recompute the whole window for every token instead of keeping the key/value cache.
    #[arg(long)]
    no_cache: bool,
}

/// What a generation produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Generated {
    /// The generated tokens' ids (the stop token included, when reached).
    pub ids: Vec<usize>,
    /// The generated text (the stop token left out).
    pub text: String,
}

/// The `generate` command over `registry`'s models, with the process's arguments: what a
/// binary's `main` calls. Exits with status 1 (and the error on standard error) when the command
/// fails.
pub fn main(registry: &Registry) {
    // the main thread drives the kernels: let it be a worker of their thread pool
    attn_runtime::threads::join_worker_pool();
    crate::exit_on_error(run(registry, Args::parse(), &mut std::io::stdout()));
}

/// Runs the command, writing the prompt and then each token to `out` as it is generated.
///
/// # Errors
/// A run that is not a language model's, sampling settings out of range or given without
/// sampling (`--seed` alone), a stop token the vocabulary lacks, and write errors.
pub fn run(registry: &Registry, args: Args, out: &mut dyn Write) -> Result<Generated> {
    registry.check()?;
    let sampled =
        args.sample || args.temperature.is_some() || args.top_k.is_some() || args.top_p.is_some();
    if args.seed.is_some() && !sampled {
        bail!(
            "--seed {} chooses the draws of sampling, but this generation is greedy: add --sample (or --temperature, --top-k, --top-p), or leave --seed out",
            args.seed.unwrap_or_default()
        );
    }
    let decoding = if sampled {
        let sampling = Sampling {
            temperature: args.temperature.unwrap_or(1.0),
            top_k: args.top_k,
            top_p: args.top_p,
            seed: args.seed.unwrap_or(0),
        };
        sampling.validate()?;
        Decoding::Sample(sampling)
    } else {
        Decoding::Greedy
    };
    let name = run_model_name(&args.run)?;
    let entry = registry.find(&name)?;
    let run = load_run(&args.run, entry)?;
    let vocab = run
        .vocabs
        .src
        .as_ref()
        .context("the run has no vocabulary (was it trained on text?)")?;
    let stop = if args.no_stop {
        None
    } else {
        Some(token_id(vocab, &args.stop)?)
    };
    let prompt_tokens = run.vocabs.src_tokens(&args.prompt);
    let unknown: Vec<&String> = prompt_tokens
        .iter()
        .filter(|t| vocab.id(t) == attn_runtime::tokens::UNK)
        .collect();
    if !unknown.is_empty() {
        eprintln!(
            "note: {} prompt token(s) are not in the run's vocabulary and read as <unk>: {unknown:?}",
            unknown.len()
        );
    }
    let prompt = vocab.encode(&prompt_tokens);
    let settings = Generation {
        max_tokens: args.max_tokens,
        decoding,
        stop,
        cache: if args.no_cache {
            KvCache::Off
        } else {
            KvCache::On
        },
    };
    write!(out, "{}", args.prompt)?;
    out.flush()?;
    let mut pieces: Vec<String> = Vec::new();
    let ids = generate(run.model.as_ref(), &prompt, &settings, |id| {
        if Some(id) == stop {
            return Ok(());
        }
        let token = vocab.token(id).unwrap_or("<unk>").to_string();
        let piece = run.vocabs.src_piece(&token);
        pieces.push(token);
        write!(out, "{piece}")
            .and_then(|()| out.flush())
            .map_err(|source| attn_runtime::AttnError::Io {
                path: "standard output".into(),
                source,
            })
    })?;
    writeln!(out)?;
    Ok(Generated {
        ids,
        text: run.vocabs.src_text(&pieces),
    })
}

/// The id of `token` in `vocab`.
fn token_id(vocab: &Vocab, token: &str) -> Result<usize> {
    match vocab.tokens().iter().position(|t| t == token) {
        Some(id) => Ok(id),
        None => bail!(
            "the stop token {token:?} is not in the run's vocabulary: pass one of its tokens (e.g. \"<eos>\", the end of a document) with --stop, or --no-stop"
        ),
    }
}
