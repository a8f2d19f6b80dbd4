//! `demo`: prints the attention weights of a randomly initialised multi-head self-attention layer
//! over the words of a sentence, so you can see what masks and heads do before training anything.
//!
//! ```text
//! cargo run --release --bin demo -- "the cat sat on the mat" --heads 2 --causal
//! ```

use anyhow::{bail, Context, Result};
use attn_runtime::prelude::*;
use clap::Parser;

/// Print the attention weights of a multi-head self-attention layer over a sentence.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// The sentence; each whitespace-separated word is one token.
    #[arg(default_value = "the cat sat on the mat")]
    text: String,
    /// Number of heads: 1, 2 or 4 (the model dim is 16).
    #[arg(long, default_value_t = 2)]
    heads: usize,
    /// Each token sees only itself and earlier tokens.
    #[arg(long)]
    causal: bool,
    /// Local attention: each token sees tokens at most this far away.
    #[arg(long)]
    window: Option<usize>,
    /// Seed of the random embeddings and parameters.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

const MODEL_DIM: usize = 16;

fn main() -> Result<()> {
    let args = Args::parse();
    let tokens: Vec<&str> = args.text.split_whitespace().collect();
    if tokens.is_empty() {
        bail!("the sentence is empty: pass at least one word");
    }
    let mut mask = AttentionMask::none();
    if args.causal {
        mask = mask.causal();
    }
    if let Some(w) = args.window {
        mask = mask.window(w);
    }
    let opts = AttentionOptions::default().mask(mask);
    let weights = match args.heads {
        1 => attend::<1>(&tokens, &opts, args.seed)?,
        2 => attend::<2>(&tokens, &opts, args.seed)?,
        4 => attend::<4>(&tokens, &opts, args.seed)?,
        h => bail!("--heads {h} is not supported: use 1, 2 or 4 (they must divide the model dim {MODEL_DIM})"),
    };
    for (head, matrix) in weights.iter().enumerate() {
        println!("head {head} (rows: queries, columns: keys; each row sums to 1)");
        print_matrix(&tokens, matrix);
        println!();
    }
    Ok(())
}

/// Embeds each distinct word as a seeded random vector and self-attends; returns `[H][S][S]`.
fn attend<const H: usize>(
    tokens: &[&str],
    opts: &AttentionOptions,
    seed: u64,
) -> Result<Vec<Vec<Vec<f32>>>> {
    let dev = Cpu::seed_from_u64(seed);
    let mha = dev.build_module::<builder::MultiHeadAttention<MODEL_DIM, H>, f32>();
    let mut vocab: Vec<&str> = Vec::new();
    let ids: Vec<usize> = tokens
        .iter()
        .map(|t| match vocab.iter().position(|v| v == t) {
            Some(i) => i,
            None => {
                vocab.push(t);
                vocab.len() - 1
            }
        })
        .collect();
    let table: Tensor<(usize, Const<MODEL_DIM>), f32, _> =
        dev.sample_normal_like(&(vocab.len(), Const));
    let table = table.as_vec();
    let embedded: Vec<f32> = ids
        .iter()
        .flat_map(|&i| table[i * MODEL_DIM..(i + 1) * MODEL_DIM].to_vec())
        .collect();
    let s = tokens.len();
    let x = dev.tensor_from_vec(embedded, (1usize, s, Const::<MODEL_DIM>));
    let out = mha
        .try_self_attend(x, opts)
        .context("self-attention failed")?;
    let w = out.weights.context("weights were requested")?.as_vec();
    Ok((0..H)
        .map(|h| {
            (0..s)
                .map(|i| w[(h * s + i) * s..(h * s + i + 1) * s].to_vec())
                .collect()
        })
        .collect())
}

fn print_matrix(tokens: &[&str], matrix: &[Vec<f32>]) {
    let width = tokens
        .iter()
        .map(|t| t.chars().count())
        .max()
        .unwrap_or(1)
        .max(5);
    print!("{:>width$} ", "");
    for t in tokens {
        print!("{t:>width$} ");
    }
    println!();
    for (t, row) in tokens.iter().zip(matrix) {
        print!("{t:>width$} ");
        for w in row {
            print!("{:>width$.3} ", w);
        }
        println!();
    }
}
