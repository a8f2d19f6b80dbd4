//! `export`: writes a trained run's parameters for another framework.
//!
//! ```text
//! cargo run --release --bin export -- runs/dates-transformer/<timestamp> --format pytorch
//! python3 -c "import attn_torch; m = attn_torch.load('runs/.../model.pytorch.safetensors')"  # tools/
//! ```

use std::path::PathBuf;

use anyhow::{Context, Result};
use attn_runtime::registry::Registry;
use attn_runtime::run::{export_pytorch, write_atomic};
use attn_runtime::train::{load_run, run_model_name};
use clap::{Parser, ValueEnum};

/// What `export` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A safetensors file under PyTorch's parameter names (`nn.MultiheadAttention`,
    /// `nn.TransformerEncoderLayer`, `nn.LSTM`, ...), which `tools/attn_torch.py` loads into a
    /// rebuilt PyTorch model.
    Pytorch,
}

/// Export a trained run's parameters for another framework.
#[derive(Parser, Debug, Clone)]
#[command(version, about)]
pub struct Args {
    /// A run directory made by `train` (its best checkpoint is exported).
    run: PathBuf,
    /// The target framework.
    #[arg(long, value_enum)]
    format: Format,
    /// Where to write (default: <run>/model.pytorch.safetensors).
    #[arg(long)]
    out: Option<PathBuf>,
}

/// The `export` command over `registry`'s models, with the process's arguments: what a binary's
/// `main` calls. Exits with status 1 (and the error on standard error) when the command fails.
pub fn main(registry: &Registry) {
    crate::exit_on_error(run(registry, Args::parse()).map(drop));
}

/// Runs the command: what [`main`] does after parsing the arguments. Returns the file written.
///
/// # Errors
/// Whatever stops the command (not a run directory, a model not in `registry`, a model whose
/// parameters have no PyTorch names, an unwritable output), with a message that says what to fix.
pub fn run(registry: &Registry, args: Args) -> Result<PathBuf> {
    registry.check()?;
    let name = run_model_name(&args.run)?;
    let loaded = load_run(&args.run, registry.find(&name)?)?;
    let (sd, file) = match args.format {
        Format::Pytorch => (export_pytorch(&loaded)?, "model.pytorch.safetensors"),
    };
    let out = args.out.unwrap_or_else(|| args.run.join(file));
    write_atomic(&out, &sd.to_bytes()?)
        .with_context(|| format!("cannot write the export to {}", out.display()))?;
    println!(
        "{name}: {} tensors written to {}\nin PyTorch: sys.path.insert(0, \"tools\"); import attn_torch; model = attn_torch.load(\"{}\")",
        sd.names().count(),
        out.display(),
        out.display()
    );
    Ok(out)
}
