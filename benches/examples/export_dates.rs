//! Writes the built-in `dates` data set, split exactly as `train dates-transformer` splits it,
//! for the PyTorch twin of the default training recipe (issue 18, item 6: time to accuracy).
//!
//! ```sh
//! cargo build --release -p attn-benches --example export_dates
//! target/release/examples/export_dates /tmp/dates-export
//! /tmp/venv-torch/bin/python tools/train_dates_torch.py --data /tmp/dates-export
//! ```
//!
//! What it does is what `bin/src/train.rs` does before its first epoch: the model's default data
//! set (`builtin("dates")`, `attn-runtime/src/data/builtin.rs`: 20,000 pairs drawn by
//! `generate_dates` from `DATA_SEED`), the recommended settings
//! (`attn-runtime/src/train/recommended.rs`), and `prepare` (`attn-runtime/src/data/prepare.rs`:
//! the seeded 80/10/10 split of `Dataset::split`, `attn-runtime/src/data/examples.rs`, and the
//! character vocabularies built from the training split, `attn-runtime/src/data/vocab.rs`). Into
//! the directory it is given it writes:
//!
//! - `train.tsv`, `valid.tsv`, `test.tsv`: one pair per line, `source<TAB>target`, the raw
//!   strings, in the split's order (the order `train` encodes and validates them in);
//! - `src_vocab.json`, `tgt_vocab.json`: each vocabulary's tokens as a JSON array, index = token
//!   id (`<pad>`, `<bos>`, `<eos>`, `<unk>` first, then by descending training frequency);
//! - `recipe.json`: the recommended training settings and the model's declared sizes, so the
//!   twin reads the recipe instead of copying it.
//!
//! Before writing, it re-encodes the raw training pairs with the vocabularies and checks them
//! against what `prepare` encoded (source ids; target ids then EOS), so the files are the data
//! `train` trains on. The split does not depend on the training seed (`SPLIT_SEED` is fixed).

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, ensure, Context, Result};
use attn_runtime::data::{builtin, prepare, Encoded, Examples, Vocab, Vocabs};
use attn_runtime::model::{ModelMeta, TaskSpec};
use attn_runtime::tokens::EOS;
use attn_runtime::train::{recommended, TrainConfig};
use serde_json::json;

const USAGE: &str = "usage: export_dates <output directory>";
const MODEL: &str = "dates-transformer";

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = match args.as_slice() {
        [flag] if flag == "-h" || flag == "--help" => {
            println!("{USAGE}");
            return Ok(());
        }
        [dir] if !dir.starts_with('-') => PathBuf::from(dir),
        _ => bail!("{USAGE}"),
    };

    // what `train dates-transformer` does before its first epoch (bin/src/train.rs, then
    // attn_runtime::train::train): the model's default data set, its recommended settings, prepare
    let entry = attn_models::find(MODEL).with_context(|| format!("looking up `{MODEL}`"))?;
    let meta = entry.meta();
    let data_name = meta
        .data
        .map(|d| d.name().to_string())
        .ok_or_else(|| anyhow!("`{MODEL}` has no default data set"))?;
    let dataset =
        builtin(&data_name).with_context(|| format!("loading the `{data_name}` data set"))?;
    let cfg = recommended(meta, &data_name);
    let prepared = prepare(&dataset, meta, &cfg.data, None)
        .with_context(|| format!("preparing `{data_name}` for `{MODEL}`"))?;

    // the raw training pairs: `prepare` keeps only their encodings, so split again (the same
    // fixed-seed shuffle) and cap as it does
    let mut train = dataset.split().train;
    if let Some(n) = cfg.data.max_train {
        let n = n.min(train.len());
        train = train.select(&(0..n).collect::<Vec<_>>());
    }
    let train = pairs(&train, "training")?;
    let valid = pairs(&prepared.valid_raw, "validation")?;
    let test = pairs(&prepared.test_raw, "test")?;
    let vocabs = &prepared.vocabs;
    let src = vocabs
        .src
        .as_ref()
        .context("prepare built no source vocabulary")?;
    let tgt = vocabs
        .tgt
        .as_ref()
        .context("prepare built no target vocabulary")?;

    // the files must be what `train` trains on: re-encode and compare with prepare's encodings
    for (raw, encoded, which) in [
        (&train, &prepared.train, "training"),
        (&valid, &prepared.valid, "validation"),
        (&test, &prepared.test, "test"),
    ] {
        check_encoding(raw, encoded, src, tgt, vocabs, which)?;
    }

    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    for (name, part) in [
        ("train.tsv", &train),
        ("valid.tsv", &valid),
        ("test.tsv", &test),
    ] {
        write(&dir.join(name), &tsv(part, name)?)?;
    }
    write(
        &dir.join("src_vocab.json"),
        &serde_json::to_string_pretty(src.tokens())?,
    )?;
    write(
        &dir.join("tgt_vocab.json"),
        &serde_json::to_string_pretty(tgt.tokens())?,
    )?;
    let sizes = [train.len(), valid.len(), test.len()];
    let recipe = recipe(meta, &cfg, &data_name, sizes)?;
    write(
        &dir.join("recipe.json"),
        &serde_json::to_string_pretty(&recipe)?,
    )?;
    println!(
        "{data_name} for {MODEL}: {} / {} / {} train / valid / test pairs, vocabularies of {} \
         source and {} target tokens, written to {}",
        train.len(),
        valid.len(),
        test.len(),
        src.len(),
        tgt.len(),
        dir.display()
    );
    Ok(())
}

/// The sequence pairs of a split.
fn pairs(part: &Examples, which: &str) -> Result<Vec<(String, String)>> {
    match part {
        Examples::Pairs(p) => Ok(p.clone()),
        other => bail!(
            "the {which} split holds {}, not sequence pairs",
            other.kind()
        ),
    }
}

/// Checks that encoding `pairs` with the vocabularies gives `encoded` (source ids; target ids
/// then EOS), as `prepare` encoded them.
fn check_encoding(
    pairs: &[(String, String)],
    encoded: &[Encoded],
    src: &Vocab,
    tgt: &Vocab,
    vocabs: &Vocabs,
    which: &str,
) -> Result<()> {
    ensure!(
        pairs.len() == encoded.len(),
        "the {which} split has {} raw pairs but {} encoded examples",
        pairs.len(),
        encoded.len()
    );
    for (i, ((source, target), e)) in pairs.iter().zip(encoded).enumerate() {
        let ids = src.encode(&vocabs.src_tokenizer.tokenize(source));
        let mut t = tgt.encode(&vocabs.tgt_tokenizer.tokenize(target));
        t.push(EOS);
        ensure!(
            ids == e.ids && t == e.target,
            "{which} example {} ({source:?} -> {target:?}) encodes differently from what \
             prepare made",
            i + 1
        );
    }
    Ok(())
}

/// `source<TAB>target` lines; a tab or line break inside a string would break the format.
fn tsv(pairs: &[(String, String)], name: &str) -> Result<String> {
    let mut out = String::new();
    for (i, (source, target)) in pairs.iter().enumerate() {
        ensure!(
            ![source, target]
                .iter()
                .any(|s| s.contains(['\t', '\n', '\r'])),
            "{name}: pair {} ({source:?}, {target:?}) holds a tab or a line break",
            i + 1
        );
        out.push_str(&format!("{source}\t{target}\n"));
    }
    Ok(out)
}

fn write(path: &Path, text: &str) -> Result<()> {
    fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

/// The recommended settings and the declared sizes the twin needs.
fn recipe(
    meta: &ModelMeta,
    cfg: &TrainConfig,
    data_name: &str,
    examples: [usize; 3],
) -> Result<serde_json::Value> {
    let TaskSpec::Seq2Seq {
        src_vocab,
        tgt_vocab,
        src_len,
        tgt_len,
    } = meta.task
    else {
        bail!("`{}` is not a sequence-to-sequence model", meta.name);
    };
    let batches = examples[0].div_ceil(cfg.batch_size.max(1));
    Ok(json!({
        "model": meta.name,
        "data": data_name,
        "seed": cfg.seed,
        "epochs": cfg.epochs,
        "batch_size": cfg.batch_size,
        "lr": cfg.lr,
        "warmup": cfg.warmup,
        "decay": format!("{:?}", cfg.decay),
        "beta1": cfg.adam.beta1,
        "beta2": cfg.adam.beta2,
        "eps": cfg.adam.eps,
        "weight_decay": cfg.adam.weight_decay,
        "decoupled_weight_decay": cfg.adam.decoupled,
        "clip_norm": cfg.clip_norm,
        "label_smoothing": cfg.label_smoothing,
        "dropout": cfg.dropout.unwrap_or(meta.dropout),
        "teacher_forcing": cfg.teacher_forcing.unwrap_or(1.0),
        "patience": cfg.patience,
        "selection": format!("{:?}", cfg.selection),
        "bucket": cfg.bucket,
        "max_train": cfg.data.max_train,
        "max_eval": cfg.data.max_eval,
        "examples_train": examples[0],
        "examples_valid": examples[1],
        "examples_test": examples[2],
        "batches_per_epoch": batches,
        "total_steps": batches * cfg.epochs,
        "d_model": meta.d_model,
        "heads": meta.heads,
        "ff": meta.ff,
        "encoder_layers": meta.layers,
        "decoder_layers": meta.decoder_layers,
        "activation": format!("{:?}", meta.activation),
        "norm": format!("{:?}", meta.norm),
        "positional": format!("{:?}", meta.positional),
        "src_vocab": src_vocab,
        "tgt_vocab": tgt_vocab,
        "src_len": src_len,
        "tgt_len": tgt_len,
    }))
}
