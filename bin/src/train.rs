//! `train`: trains a zoo model on its default data set (or your file) and writes a run directory.
//!
//! ```text
//! cargo run --release --bin train -- dates-transformer
//! cargo run --release --bin train -- --list
//! cargo run --release --bin train -- sentiment-encoder --data reviews.tsv --epochs 5
//! cargo run --release --bin train -- dates-transformer --resume runs/dates-transformer/20261130-101500
//! ```

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use attn_runtime::data::{builtin, load_file, Dataset, PrepareOptions, Tokenizer};
use attn_runtime::distributed::{Collective, SingleProcess, Timed};
use attn_runtime::model::TaskSpec;
use attn_runtime::optim::Decay;
use attn_runtime::registry::Registry;
use attn_runtime::train::{
    find_lr, recommended, train_data_parallel, valley, EpochReport, LrRange, LrRangeTest, Quiet,
    RunConfig, RunInfo, Selection, Stop, TrainConfig, TrainObserver, TrainOutcome, TrainRequest,
};

use crate::resume::Recorded;
use clap::{Parser, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};

/// Train an attention model from the zoo.
#[derive(Parser, Debug, Clone)]
#[command(version, about)]
pub struct Args {
    /// The model's registry name (see --list).
    model: Option<String>,
    /// List the zoo's models and exit.
    #[arg(long)]
    list: bool,
    /// Epochs (default: suited to the data set).
    #[arg(long)]
    epochs: Option<usize>,
    /// Examples per step.
    #[arg(long)]
    batch_size: Option<usize>,
    /// Peak learning rate.
    #[arg(long)]
    lr: Option<f64>,
    /// Linear warm-up steps.
    #[arg(long)]
    warmup: Option<u64>,
    /// Learning-rate decay after warm-up.
    #[arg(long, value_enum)]
    decay: Option<DecayArg>,
    /// AdamW weight decay (decoupled).
    #[arg(long)]
    weight_decay: Option<f64>,
    /// Clip gradients to this global norm (default 1).
    #[arg(long)]
    clip: Option<f64>,
    /// Do not clip gradients.
    #[arg(long, conflicts_with = "clip")]
    no_clip: bool,
    /// Label smoothing of the loss.
    #[arg(long)]
    label_smoothing: Option<f64>,
    /// Stop after this many epochs without a better validation score.
    #[arg(long)]
    patience: Option<usize>,
    /// Which validation score chooses the best checkpoint (and what --patience waits on).
    #[arg(long, value_enum)]
    select: Option<SelectArg>,
    /// Seed of parameters, dropout and shuffling (default 0; a resumed run keeps its own).
    #[arg(long)]
    seed: Option<u64>,
    /// Dropout instead of the declared one.
    #[arg(long)]
    dropout: Option<f64>,
    /// Teacher-forcing ratio of sequence-to-sequence models.
    #[arg(long)]
    teacher_forcing: Option<f64>,
    /// Device: cpu, or cuda when built with the `cuda` feature.
    #[arg(long, value_enum, default_value_t = DeviceArg::Cpu)]
    device: DeviceArg,
    /// Train on this file (.tsv, .csv or .jsonl) instead of the model's default data set, or on
    /// another built-in data set by name.
    #[arg(long)]
    data: Option<String>,
    /// Tokeniser of the text (default: word for --data files, a built-in data set's own; a
    /// resumed run keeps its own).
    #[arg(long, value_enum)]
    tokenizer: Option<TokenizerArg>,
    /// Tokeniser of a sequence-to-sequence model's sources, over --tokenizer (e.g. numerals by
    /// character, words by word).
    #[arg(long, value_enum)]
    src_tokenizer: Option<TokenizerArg>,
    /// Tokeniser of a sequence-to-sequence model's targets, over --tokenizer.
    #[arg(long, value_enum)]
    tgt_tokenizer: Option<TokenizerArg>,
    /// Cut sequences longer than the model's maximum instead of failing.
    #[arg(long)]
    truncate: bool,
    /// Keep at most this many vocabulary entries (others become UNK).
    #[arg(long)]
    max_vocab: Option<usize>,
    /// Batch training examples of similar lengths together.
    #[arg(long)]
    bucket: bool,
    /// Mirror each training image left to right with probability ½ (image classifiers).
    #[arg(long)]
    horizontal_flip: bool,
    /// Move each training image by up to this many pixels across and down, at random (image
    /// classifiers; the border fills with black).
    #[arg(long, value_name = "PIXELS")]
    max_shift: Option<usize>,
    /// Use at most this many training examples.
    #[arg(long)]
    max_train: Option<usize>,
    /// Use at most this many validation and test examples each.
    #[arg(long)]
    max_eval: Option<usize>,
    /// Where run directories go.
    #[arg(long, default_value = "runs")]
    out: PathBuf,
    /// Continue this run directory (with --epochs to extend it).
    #[arg(long)]
    resume: Option<PathBuf>,
    /// Instead of training, run a learning-rate range test (100 steps, the rate growing from
    /// 1e-7 to 1) and suggest a rate for --lr: where the smoothed loss falls fastest. Writes
    /// nothing.
    #[arg(long)]
    find_lr: bool,
    /// No progress bar (logs and CI).
    #[arg(long)]
    quiet: bool,
    /// Data-parallel training over the ranks `mpirun -np N` starts (a binary built with
    /// `--features mpi`). --batch-size stays the batch of a whole step: each rank takes its
    /// share, and the run trains (and resumes, on any number of ranks) as one process would.
    #[arg(long, value_enum, default_value_t = DistributedArg::None)]
    distributed: DistributedArg,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum DistributedArg {
    /// One process.
    None,
    /// The ranks of an `mpirun`, over MPI.
    Mpi,
}

/// The ranks a run trains on, their exchanges timed.
fn ranks(distributed: DistributedArg) -> Result<Timed> {
    match distributed {
        DistributedArg::None => Ok(Timed::new(Box::new(SingleProcess))),
        #[cfg(feature = "mpi")]
        DistributedArg::Mpi => Ok(Timed::new(Box::new(
            attn_runtime::distributed::Mpi::start()?
        ))),
        #[cfg(not(feature = "mpi"))]
        DistributedArg::Mpi => bail!(
            "this binary was built without MPI: build it with `--features mpi` (which needs an \
             MPI library and libclang, e.g. Debian's libopenmpi-dev and libclang-dev) and start \
             it with `mpirun -np N`"
        ),
    }
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum DecayArg {
    Constant,
    Linear,
    Cosine,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum SelectArg {
    /// Exact match, then accuracy, then the lowest loss (the default, but for language models).
    ExactMatch,
    /// Accuracy (token accuracy for sequence models), then exact match, then the lowest loss.
    Accuracy,
    /// The lowest validation loss, then exact match, then accuracy.
    Loss,
    /// BLEU of the greedy outputs, then exact match, then the lowest loss (sequence-to-sequence).
    Bleu,
    /// Macro-averaged F1, then accuracy, then the lowest loss (classifiers and taggers).
    MacroF1,
    /// The lowest perplexity, then token accuracy (language models; their default).
    Perplexity,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum DeviceArg {
    Cpu,
    Cuda,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum TokenizerArg {
    /// One token per character.
    Char,
    /// Lower-cased words, punctuation split off.
    Word,
    /// Whitespace-separated tokens, as they are.
    Whitespace,
    /// Subwords by byte-pair encoding (Hugging Face `tokenizers`), learnt from the training
    /// split, as many as the declared vocabulary (or --max-vocab) holds.
    Bpe,
}

impl From<TokenizerArg> for Tokenizer {
    fn from(arg: TokenizerArg) -> Tokenizer {
        match arg {
            TokenizerArg::Char => Tokenizer::Char,
            TokenizerArg::Word => Tokenizer::Word,
            TokenizerArg::Whitespace => Tokenizer::Whitespace,
            TokenizerArg::Bpe => Tokenizer::Bpe,
        }
    }
}

/// The source and target tokenisers: `--src-tokenizer`/`--tgt-tokenizer` over `--tokenizer`,
/// over a resumed run's own, over the data set's. Refuses the flags where they mean nothing: a
/// source or target tokeniser for a model that is not sequence-to-sequence, any tokeniser for
/// an image model.
fn tokenizers(
    args: &Args,
    task: &TaskSpec,
    recorded: Option<&Recorded>,
    dataset: &Dataset,
) -> Result<(Tokenizer, Tokenizer)> {
    // (flag, value, whether it applies to one-sided text)
    let given = [
        ("--tokenizer", args.tokenizer, true),
        ("--src-tokenizer", args.src_tokenizer, false),
        ("--tgt-tokenizer", args.tgt_tokenizer, false),
    ];
    for (flag, arg, one_sided) in given {
        let applies = match task {
            TaskSpec::ImageClassify { .. } => false,
            TaskSpec::Seq2Seq { .. } => true,
            _ => one_sided,
        };
        if arg.is_some() && !applies {
            bail!(
                "{flag} does not apply to a {} model{}",
                task.name(),
                if matches!(task, TaskSpec::ImageClassify { .. }) {
                    ": it reads pixels, not text; leave it out"
                } else {
                    ": its text has one side; use --tokenizer"
                }
            );
        }
    }
    let bpe = given
        .iter()
        .find(|(_, arg, _)| matches!(arg, Some(TokenizerArg::Bpe)));
    if let (Some((flag, ..)), TaskSpec::Tag { .. }) = (bpe, task) {
        bail!(
            "{flag} bpe does not apply to a tagging model: its text comes as tokens, one per tag; \
             leave it out"
        );
    }
    let both = args.tokenizer.map(Tokenizer::from);
    let src = args.src_tokenizer.map(Tokenizer::from).or(both);
    let tgt = args.tgt_tokenizer.map(Tokenizer::from).or(both);
    Ok(match recorded {
        Some(r) => (
            src.unwrap_or(r.src_tokenizer),
            tgt.unwrap_or(r.tgt_tokenizer),
        ),
        None => (
            src.unwrap_or(dataset.src_tokenizer),
            tgt.unwrap_or(dataset.tgt_tokenizer),
        ),
    })
}

/// The range test's steps (every tenth, and the suggested one) and its suggestion.
fn print_lr_range(range: &LrRange) {
    println!(
        "{:>5} {:>10} {:>10} {:>10}",
        "step", "lr", "loss", "smoothed"
    );
    let suggested = range.suggestion;
    for (i, p) in range.points.iter().enumerate() {
        // the step of the lowest smoothed loss: the suggestion is a tenth of its rate
        let lowest = Some(p.lr / 10.0) == suggested;
        if i % 10 == 0 || i + 1 == range.points.len() || lowest {
            let mark = if lowest {
                "  <- lowest smoothed loss"
            } else {
                ""
            };
            println!(
                "{:>5} {:>10.2e} {:>10.4} {:>10.4}{mark}",
                i + 1,
                p.lr,
                p.loss,
                p.smoothed
            );
        }
    }
    if range.diverged {
        println!(
            "the loss diverged at lr {:.2e}: the test stopped there",
            range.points.last().map_or(f64::NAN, |p| p.lr)
        );
    }
    match suggested {
        Some(lr) => println!(
            "suggested learning rate: {lr:.2e}, a tenth of the rate at the lowest smoothed loss \
             (train with --lr {lr:.1e}; fastai's valley rule says {})",
            valley(&range.points, LrRangeTest::default().steps)
                .map_or("nothing".into(), |v| format!("{v:.1e}"))
        ),
        None => println!(
            "no suggestion: the loss diverged after {} steps, too few to find its lowest point; \
             try a smaller --batch-size or check the data",
            range.points.len()
        ),
    }
}

/// The `train` command over `registry`'s models, with the process's arguments: what a binary's
/// `main` calls. Exits with status 1 (and the error on standard error) when the command fails.
pub fn main(registry: &Registry) {
    // the main thread drives the kernels: let it be a worker of their thread pool
    attn_runtime::threads::join_worker_pool();
    exit(crate::exit_on_error(run(registry, Args::parse())));
}

/// Sets the settings the command line gives over `config` (the recommended settings of a new
/// run, or a resumed run's own).
fn apply_flags(config: &mut TrainConfig, args: &Args) {
    if let Some(v) = args.seed {
        config.seed = v;
    }
    if let Some(v) = args.epochs {
        config.epochs = v;
    }
    if let Some(v) = args.batch_size {
        config.batch_size = v;
    }
    if let Some(v) = args.lr {
        config.lr = v;
    }
    if let Some(v) = args.warmup {
        config.warmup = v;
    }
    if let Some(d) = args.decay {
        config.decay = match d {
            DecayArg::Constant => Decay::Constant,
            DecayArg::Linear => Decay::Linear,
            DecayArg::Cosine => Decay::Cosine,
        };
    }
    if let Some(v) = args.weight_decay {
        config.adam.weight_decay = v;
    }
    if let Some(v) = args.clip {
        config.clip_norm = Some(v);
    }
    if args.no_clip {
        config.clip_norm = None;
    }
    if let Some(v) = args.label_smoothing {
        config.label_smoothing = v;
    }
    if args.patience.is_some() {
        config.patience = args.patience;
    }
    if let Some(select) = args.select {
        config.selection = match select {
            SelectArg::ExactMatch => Selection::ExactMatch,
            SelectArg::Accuracy => Selection::Accuracy,
            SelectArg::Loss => Selection::Loss,
            SelectArg::Bleu => Selection::Bleu,
            SelectArg::MacroF1 => Selection::MacroF1,
            SelectArg::Perplexity => Selection::Perplexity,
        };
    }
    if args.dropout.is_some() {
        config.dropout = args.dropout;
    }
    if args.teacher_forcing.is_some() {
        config.teacher_forcing = args.teacher_forcing;
    }
    config.bucket |= args.bucket;
    config.augment.horizontal_flip |= args.horizontal_flip;
    if let Some(v) = args.max_shift {
        config.augment.max_shift = v;
    }
    config.data = PrepareOptions {
        truncate: config.data.truncate || args.truncate,
        max_vocab: args.max_vocab.or(config.data.max_vocab),
        max_train: args.max_train.or(config.data.max_train),
        max_eval: args.max_eval.or(config.data.max_eval),
    };
}

/// Exits with status 130 when the training was interrupted (Ctrl-C), as a shell expects.
pub(crate) fn exit(outcome: Option<TrainOutcome>) {
    if matches!(
        outcome,
        Some(TrainOutcome {
            stopped: Stop::Interrupted,
            ..
        })
    ) {
        std::process::exit(130);
    }
}

/// Runs the command: what [`main`] does after parsing the arguments. Returns the outcome of
/// the training (the run directory, the test scores), or `None` for `--list`.
///
/// # Errors
/// Whatever stops the command (unknown model, bad data or run directory, ...), with a message
/// that says what to fix.
pub fn run(registry: &Registry, args: Args) -> Result<Option<TrainOutcome>> {
    registry.check()?;
    if args.list {
        println!(
            "{:<26} {:<15} {:<14} {:<12} summary",
            "model", "architecture", "task", "data"
        );
        for entry in registry.entries() {
            let m = entry.meta();
            println!(
                "{:<26} {:<15} {:<14} {:<12} {}",
                m.name,
                format!("{:?}", m.arch),
                m.task.name(),
                m.data.map_or("-", |d| d.name()),
                m.summary
            );
        }
        return Ok(None);
    }
    check_device(args.device)?;
    let ranks = ranks(args.distributed)?;
    // the attention kernel's configuration for this CPU (or ATTN_KERNEL's): refused before any
    // work when the override is wrong, shown in the run's header
    let kernels = attn_runtime::tuning::KernelConfig::current()?;
    // resuming, the run is the source of truth: its model, data and settings continue
    let recorded = args.resume.as_deref().map(Recorded::read).transpose()?;
    let name = args
        .model
        .clone()
        .or(recorded.as_ref().map(|r| r.config.model.clone()));
    let Some(name) = name.as_deref() else {
        bail!("name a model to train (see `train --list`), e.g. `train dates-transformer`");
    };
    let entry = registry.find(name)?;
    let meta = entry.meta();
    let data_name = args
        .data
        .clone()
        .or(recorded.as_ref().map(|r| r.config.data_name()))
        .or(meta.data.map(|d| d.name().to_string()))
        .with_context(|| format!("`{name}` has no default data set: pass --data"))?;
    let path = PathBuf::from(&data_name);
    let mut dataset = if path.is_file() {
        load_file(&path, &meta.task, Tokenizer::Word)?
    } else {
        builtin(&data_name)?
    };
    let tokenizers = tokenizers(&args, &meta.task, recorded.as_ref(), &dataset)?;
    (dataset.src_tokenizer, dataset.tgt_tokenizer) = tokenizers;

    let mut config = match &recorded {
        Some(r) => r.config.train.clone(),
        None => recommended(meta, &data_name),
    };
    apply_flags(&mut config, &args);
    if let Some(r) = &recorded {
        r.refuse_contradictions(&config, tokenizers)?;
    }
    if args.find_lr {
        if ranks.size() > 1 {
            bail!(
                "--find-lr runs its short range test in one process: start it without mpirun \
                 (and without --distributed)"
            );
        }
        if args.resume.is_some() {
            bail!(
                "--find-lr looks for a rate to start a run with; a resumed run keeps its own: \
                 leave out --resume (or --find-lr)"
            );
        }
        print_lr_range(&find_lr(entry, &dataset, &config, &LrRangeTest::default())?);
        return Ok(None);
    }

    let stop = crate::stop_on_ctrl_c("stopping after this batch (Ctrl-C again to quit at once)")?;

    let mut console = Console {
        bar: None,
        quiet: args.quiet,
        header_shown: false,
        kernels: kernels_line(&kernels),
        ranks: ranks.size(),
    };
    // rank 0 speaks for the run
    let observer: &mut dyn TrainObserver = if ranks.is_writer() {
        &mut console
    } else {
        &mut Quiet
    };
    let request = TrainRequest {
        entry,
        dataset: &dataset,
        config,
        out: args.out.clone(),
        resume: args.resume.clone(),
    };
    let outcome = train_data_parallel(request, &ranks, observer, stop)?;
    if let Some(bar) = console.bar.take() {
        bar.finish_and_clear();
    }
    if !ranks.is_writer() {
        return Ok(Some(outcome));
    }
    if ranks.size() > 1 {
        println!(
            "data-parallel over {} ranks: {} exchanges took {:.2} s of rank 0's {:.1} s ({:.1}%, waiting for the other ranks included)",
            ranks.size(),
            ranks.calls(),
            ranks.seconds(),
            outcome.seconds,
            100.0 * ranks.seconds() / outcome.seconds.max(1e-9)
        );
    }
    match &outcome.stopped {
        Stop::Interrupted => {
            println!(
                "stopped early; run directory: {}",
                outcome.run_dir.display()
            );
        }
        stopped => {
            let seq = matches!(
                meta.task,
                attn_runtime::model::TaskSpec::Seq2Seq { .. }
                    | attn_runtime::model::TaskSpec::Tag { .. }
            );
            let lm = matches!(
                meta.task,
                attn_runtime::model::TaskSpec::LanguageModel { .. }
            );
            // the run's own decoding, as `eval` and `predict` will use it
            let beam = std::fs::read_to_string(outcome.run_dir.join("config.json"))
                .ok()
                .and_then(|t| serde_json::from_str::<RunConfig>(&t).ok())
                .and_then(|c| c.train.beam);
            let own = match (outcome.test.bleu(), outcome.test.macro_f1()) {
                (Some(bleu), _) => match beam {
                    Some(b) => format!(
                        ", BLEU {bleu:.2} (greedy; `eval` decodes this run with {} beams, length penalty {})",
                        b.beam_size, b.length_penalty
                    ),
                    None => format!(", BLEU {bleu:.2}"),
                },
                (None, Some(f1)) => format!(", macro F1 {f1:.4}"),
                (None, None) if lm => format!(", perplexity {:.3}", outcome.test.perplexity()),
                (None, None) => String::new(),
            };
            println!(
                "{}: best epoch {}, test {} {:.2}%{}{own} ({:.1} s of training)",
                if *stopped == Stop::EarlyStopped {
                    "early stopped"
                } else {
                    "done"
                },
                outcome.best_epoch,
                if seq || lm {
                    "token accuracy"
                } else {
                    "accuracy"
                },
                100.0 * outcome.test.accuracy(),
                if seq {
                    format!(", exact match {:.2}%", 100.0 * outcome.test.exact_match())
                } else {
                    String::new()
                },
                outcome.seconds
            );
            println!("run directory: {}", outcome.run_dir.display());
        }
    }
    Ok(Some(outcome))
}

/// The header's line about the kernels: the CPU kernels' configuration (`ATTN_KERNEL`'s keys),
/// or, in a CUDA build, that dfdx's CUDA kernels run and that configuration does not apply.
fn kernels_line(kernels: &attn_runtime::tuning::KernelConfig) -> String {
    if cfg!(feature = "cuda") {
        "kernels: dfdx's CUDA kernels (--device cuda; the CPU kernels' settings do not apply)"
            .into()
    } else {
        kernels.describe()
    }
}

#[cfg(feature = "cuda")]
fn check_device(device: DeviceArg) -> Result<()> {
    if device == DeviceArg::Cpu {
        bail!("this binary was built with the `cuda` feature and runs on CUDA: pass --device cuda, or rebuild without --features cuda for the CPU");
    }
    Ok(())
}

#[cfg(not(feature = "cuda"))]
fn check_device(device: DeviceArg) -> Result<()> {
    if device == DeviceArg::Cuda {
        bail!("this binary was built without CUDA: rebuild with `cargo run --release --features cuda --bin train -- ...` on a machine with the CUDA toolkit");
    }
    Ok(())
}

/// Progress bar per epoch and one fixed-width line per epoch.
struct Console {
    bar: Option<ProgressBar>,
    quiet: bool,
    header_shown: bool,
    /// The attention kernel's configuration, one line for the header.
    kernels: String,
    /// How many data-parallel ranks train the run.
    ranks: usize,
}

impl Console {
    fn print(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.println(line),
            None => println!("{line}"),
        }
    }
}

impl TrainObserver for Console {
    fn on_start(&mut self, info: &RunInfo) {
        println!(
            "{} parameters; {} / {} / {} train / valid / test examples; {} batches per epoch; run directory {}",
            info.params, info.examples[0], info.examples[1], info.examples[2], info.batches_per_epoch, info.run_dir.display()
        );
        println!("{}", self.kernels);
        if self.ranks > 1 {
            println!(
                "data-parallel over {} ranks: each takes its share of every batch, gradients summed before each step",
                self.ranks
            );
        }
        if info.first_epoch > 1 {
            println!("resuming at epoch {} of {}", info.first_epoch, info.epochs);
        }
    }

    fn on_batch(&mut self, epoch: usize, done: usize, total: usize, loss: f32) {
        if self.quiet {
            return;
        }
        let bar = self.bar.get_or_insert_with(|| {
            let bar = ProgressBar::new(total as u64);
            bar.set_style(
                ProgressStyle::with_template(
                    "{prefix} [{bar:30}] {pos}/{len} {msg} {elapsed_precise}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar
        });
        bar.set_prefix(format!("epoch {epoch}"));
        bar.set_length(total as u64);
        bar.set_position(done as u64);
        bar.set_message(format!("loss {loss:.4}"));
    }

    fn on_epoch(&mut self, r: &EpochReport) {
        // the task's own score: BLEU for sequence-to-sequence, perplexity for language models,
        // macro F1 for the others
        let (extra_name, extra) = match (r.valid_bleu, r.valid_macro_f1, r.valid_perplexity) {
            (Some(bleu), _, _) => ("valid_bleu", format!("{bleu:>10.2}")),
            (None, Some(f1), _) => ("valid_f1", format!("{f1:>10.4}")),
            (None, None, Some(ppl)) => ("valid_ppl", format!("{ppl:>10.3}")),
            (None, None, None) => ("", String::new()),
        };
        if !self.header_shown {
            // what the columns measure, where it is not what their names suggest
            self.print(
                "train_acc: 256 training examples scored in evaluation mode after the epoch \
                 (teacher-forced for sequence models), not the running accuracy of the epoch's \
                 batches; valid_*: the whole validation split (sequence-to-sequence: greedy \
                 decoding, valid_loss teacher-forced)",
            );
            self.print(&format!(
                "{:>5} {:>10} {:>9} {:>10} {:>9} {:>11} {:>10} {:>9} {:>8} {:>8}",
                "epoch",
                "train_loss",
                "train_acc",
                "valid_loss",
                "valid_acc",
                "valid_exact",
                extra_name,
                "lr",
                "time",
                "ex/s"
            ));
            self.header_shown = true;
        }
        self.print(&format!(
            "{:>5} {:>10.4} {:>9.4} {:>10.4} {:>9.4} {:>11.4} {:>10} {:>9.2e} {:>7.1}s {:>8.0}",
            r.epoch,
            r.train_loss,
            r.train_acc,
            r.valid_loss,
            r.valid_acc,
            r.valid_exact,
            extra,
            r.lr,
            r.seconds,
            r.examples_per_second
        ));
        if let Some(bar) = &self.bar {
            bar.reset();
        }
    }

    fn on_note(&mut self, note: &str) {
        self.print(note);
    }
}
