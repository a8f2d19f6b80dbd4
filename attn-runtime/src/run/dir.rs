//! A run's directory: `runs/<model>/<timestamp>/` with its configuration, vocabulary, metrics and
//! checkpoints, every file written atomically (a temporary file, then a rename), so an
//! interrupted run never leaves a half-written file.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::checkpoints::{history_lines, HISTORY};
use super::data_file::{record_data, DataFile};
use super::{Scores, SelectionKey, TrainConfig};
use crate::data::Vocabs;
use crate::error::AttnError;
use crate::model::ModelMeta;
use crate::state_dict::StateDict;

/// The best checkpoint (what evaluation and prediction load).
pub const BEST: &str = "model.safetensors";
/// The last checkpoint (what `--resume` continues from).
pub const LAST: &str = "last.safetensors";
/// The model when a run was stopped mid-epoch (Ctrl-C).
pub const INTERRUPTED: &str = "interrupted.safetensors";
/// The inputs' learnt subwords (`--tokenizer bpe`) as a Hugging Face `tokenizer.json`.
pub const SRC_TOKENIZER: &str = "tokenizer.json";
/// A sequence-to-sequence run's target subwords, likewise.
pub const TGT_TOKENIZER: &str = "tgt_tokenizer.json";
/// The optimizer state of the last checkpoint.
pub const OPTIMIZER: &str = "optimizer.safetensors";

/// `config.json`: what was trained, on what, how.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunConfig {
    /// The model's registry name.
    pub model: String,
    /// The declaration, as data.
    pub meta: serde_json::Value,
    /// The data set (built-in name or file path, as given).
    pub dataset: String,
    /// The data file's absolute path, size and SHA-256, when the data set is a file (absent in
    /// runs recorded before it was).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_file: Option<DataFile>,
    /// Training settings.
    pub train: TrainConfig,
    /// attn's version.
    pub attn_version: String,
}

/// `state.json`: where the run is.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RunState {
    /// Epochs completed.
    pub epochs_done: usize,
    /// Optimizer steps taken.
    pub steps: u64,
    /// Epoch of the best validation score (1-based; 0 = none yet).
    pub best_epoch: usize,
    /// The best validation key under the run's [`Selection`](super::Selection) (by default
    /// exact match, then accuracy, then −loss).
    pub best_score: Option<SelectionKey>,
    /// Epochs since the best one.
    pub epochs_without_improvement: usize,
    /// Seconds of training so far.
    pub seconds: f64,
}

/// One epoch's line of `metrics.csv` / `metrics.jsonl`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochReport {
    /// 1-based epoch.
    pub epoch: usize,
    /// Training loss (mean over the epoch's rows).
    pub train_loss: f64,
    /// Training accuracy (token accuracy for sequence models) of up to 256 training examples
    /// scored in evaluation mode after the epoch, teacher-forced for sequence models: a sample,
    /// not the running accuracy of the epoch's batches.
    pub train_acc: f64,
    /// Validation loss (teacher-forced for sequence-to-sequence).
    pub valid_loss: f64,
    /// Validation accuracy (token accuracy, greedy decoding, for sequence-to-sequence).
    pub valid_acc: f64,
    /// Validation exact match (the whole sequence right; accuracy for classifiers).
    pub valid_exact: f64,
    /// Validation BLEU of the detokenised greedy outputs (sequence-to-sequence).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_bleu: Option<f64>,
    /// Validation macro-averaged F1 (classifiers and taggers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_macro_f1: Option<f64>,
    /// Validation perplexity (language models).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_perplexity: Option<f64>,
    /// Learning rate at the epoch's end.
    pub lr: f64,
    /// Seconds the epoch took.
    pub seconds: f64,
    /// Training examples per second.
    pub examples_per_second: f64,
}

impl EpochReport {
    /// The CSV header of `metrics.csv`.
    pub const CSV_HEADER: &'static str = "epoch,train_loss,train_acc,valid_loss,valid_acc,valid_exact,valid_bleu,valid_macro_f1,valid_perplexity,lr,seconds,examples_per_second";

    /// The CSV line (an empty field for a score the task has not).
    pub fn csv(&self) -> String {
        let optional = |v: Option<f64>| v.map(|v| format!("{v:.6}")).unwrap_or_default();
        format!(
            "{},{:.6},{:.6},{:.6},{:.6},{:.6},{},{},{},{:.3e},{:.3},{:.1}",
            self.epoch,
            self.train_loss,
            self.train_acc,
            self.valid_loss,
            self.valid_acc,
            self.valid_exact,
            optional(self.valid_bleu),
            optional(self.valid_macro_f1),
            optional(self.valid_perplexity),
            self.lr,
            self.seconds,
            self.examples_per_second
        )
    }
}

/// `summary.json`: the end of a run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunSummary {
    /// Why the run ended.
    pub stopped: String,
    /// Epochs completed.
    pub epochs: usize,
    /// Best epoch.
    pub best_epoch: usize,
    /// Test-split scores of the best checkpoint.
    pub test: Scores,
    /// Test accuracy.
    pub test_accuracy: f64,
    /// Test exact match.
    pub test_exact_match: f64,
    /// Test BLEU of the detokenised greedy outputs (sequence-to-sequence).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_bleu: Option<f64>,
    /// Test macro-averaged F1 (classifiers and taggers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_macro_f1: Option<f64>,
    /// Test perplexity (language models).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_perplexity: Option<f64>,
    /// Seconds of training.
    pub seconds: f64,
}

/// A run directory.
#[derive(Clone, Debug)]
pub struct RunDir {
    /// Its path.
    pub path: PathBuf,
}

/// Writes `bytes` to `path` through a temporary file in the same directory (named at random by
/// `tempfile`, removed if anything fails), flushed to disk, then renamed over `path`, and the
/// directory flushed so the rename itself survives a crash.
///
/// # Errors
/// [`AttnError::Io`] naming the file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), AttnError> {
    let io = |source| AttnError::Io {
        path: path.display().to_string(),
        source,
    };
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty());
    let mut tmp = tempfile::Builder::new()
        .prefix(".attn-write")
        .tempfile_in(parent.unwrap_or(Path::new(".")))
        .map_err(io)?;
    tmp.write_all(bytes).map_err(io)?;
    tmp.as_file().sync_all().map_err(io)?;
    tmp.persist(path).map_err(|e| io(e.error))?;
    // the rename itself reaches the disk with its directory's entries
    match parent {
        Some(parent) => super::checkpoints::sync_dir(parent),
        None => Ok(()),
    }
}

impl RunDir {
    /// Creates `out/<model>/<timestamp>/` (`<timestamp>-2`, `-3`, … when taken), failing early
    /// when it cannot be written. The directory is claimed exclusively: two runs started in the
    /// same second, in one process or several, never share one.
    ///
    /// # Errors
    /// [`AttnError::Io`] naming the directory, with the reason (permissions, a file in the way).
    pub fn create(out: &Path, model: &str) -> Result<RunDir, AttnError> {
        let parent = out.join(model);
        let io = |path: &Path, source| AttnError::Io {
            path: path.display().to_string(),
            source,
        };
        std::fs::create_dir_all(&parent).map_err(|e| io(&parent, e))?;
        let stamp = timestamp();
        let mut n = 1;
        let path = loop {
            let path = if n == 1 {
                parent.join(&stamp)
            } else {
                parent.join(format!("{stamp}-{n}"))
            };
            // `create_dir` fails when the name exists: whoever creates it owns it
            match std::fs::create_dir(&path) {
                Ok(()) => break path,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => n += 1,
                Err(e) => return Err(io(&path, e)),
            }
        };
        let dir = RunDir { path };
        dir.write(".writable", b"")?;
        let _ = std::fs::remove_file(dir.path.join(".writable"));
        Ok(dir)
    }

    /// An existing run directory (for `--resume`, `eval`, `predict`).
    ///
    /// # Errors
    /// [`AttnError::Data`] when it has no `config.json`.
    pub fn open(path: &Path) -> Result<RunDir, AttnError> {
        if !path.join("config.json").is_file() {
            return Err(AttnError::data(
                path.display().to_string(),
                "not a run directory (no config.json)",
                "pass a directory that `train` made, e.g. runs/dates-transformer/<timestamp>",
            ));
        }
        Ok(RunDir {
            path: path.to_path_buf(),
        })
    }

    /// Writes a file of the run atomically.
    pub fn write(&self, name: &str, bytes: &[u8]) -> Result<(), AttnError> {
        write_atomic(&self.path.join(name), bytes)
    }

    /// Reads a file of the run.
    pub fn read(&self, name: &str) -> Result<Vec<u8>, AttnError> {
        let path = self.path.join(name);
        std::fs::read(&path).map_err(|source| AttnError::Io {
            path: path.display().to_string(),
            source,
        })
    }

    /// Writes a JSON file.
    pub fn write_json<T: Serialize>(&self, name: &str, value: &T) -> Result<(), AttnError> {
        let text = serde_json::to_string_pretty(value)
            .map_err(|e| AttnError::data(name, e.to_string(), "report this bug"))?;
        self.write(name, text.as_bytes())
    }

    /// Reads a JSON file.
    pub fn read_json<T: for<'de> Deserialize<'de>>(&self, name: &str) -> Result<T, AttnError> {
        let bytes = self.read(name)?;
        serde_json::from_slice(&bytes).map_err(|e| {
            AttnError::data(
                self.path.join(name).display().to_string(),
                format!("malformed ({e})"),
                "restore the file or start a new run",
            )
        })
    }

    /// Writes a state dict.
    pub fn write_state_dict(&self, name: &str, sd: &StateDict) -> Result<(), AttnError> {
        self.write(name, &sd.to_bytes()?)
    }

    /// Reads a state dict.
    pub fn read_state_dict(&self, name: &str) -> Result<StateDict, AttnError> {
        StateDict::read(self.path.join(name))
    }

    /// Rewrites `metrics.csv` and `metrics.jsonl` with every epoch so far.
    pub fn write_metrics(&self, history: &[EpochReport]) -> Result<(), AttnError> {
        let mut csv = String::from(EpochReport::CSV_HEADER);
        csv.push('\n');
        for r in history {
            csv.push_str(&r.csv());
            csv.push('\n');
        }
        self.write("metrics.csv", csv.as_bytes())?;
        self.write(HISTORY, history_lines(history).as_bytes())
    }

    /// Writes `config.json` and `vocab.json`.
    pub fn write_setup(
        &self,
        meta: &ModelMeta,
        dataset: &str,
        cfg: &TrainConfig,
        vocabs: &Vocabs,
    ) -> Result<(), AttnError> {
        let config = RunConfig {
            model: meta.name.to_string(),
            meta: serde_json::to_value(meta).unwrap_or_default(),
            dataset: dataset.to_string(),
            data_file: record_data(dataset)?,
            train: cfg.clone(),
            attn_version: env!("CARGO_PKG_VERSION").to_string(),
        };
        self.write_json("config.json", &config)?;
        self.write_json("vocab.json", vocabs)?;
        // the learnt subwords as Hugging Face files too, for other tools (the run itself reads
        // them from vocab.json)
        for (file, subwords) in [
            (SRC_TOKENIZER, &vocabs.src_subwords),
            (TGT_TOKENIZER, &vocabs.tgt_subwords),
        ] {
            if let Some(sw) = subwords {
                write_atomic(&self.path.join(file), sw.to_json()?.as_bytes())?;
            }
        }
        Ok(())
    }
}

/// UTC `YYYYMMDD-HHMMSS`.
fn timestamp() -> String {
    // RFC 3339 (`2026-12-02T13:11:10Z`) from humantime, its separators dropped
    let rfc3339 = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    rfc3339
        .trim_end_matches('Z')
        .replace(['-', ':'], "")
        .replace('T', "-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_timestamp_is_the_utc_time_now_as_yyyymmdd_hhmmss() {
        let before = std::time::SystemTime::now();
        let stamp = timestamp();
        let (date, time) = stamp.split_once('-').unwrap();
        assert!(date.len() == 8 && time.len() == 6, "{stamp}");
        assert!(
            date.chars().chain(time.chars()).all(|c| c.is_ascii_digit()),
            "{stamp}"
        );
        let rfc3339 = format!(
            "{}-{}-{}T{}:{}:{}Z",
            &date[..4],
            &date[4..6],
            &date[6..],
            &time[..2],
            &time[2..4],
            &time[4..]
        );
        let at = humantime::parse_rfc3339(&rfc3339).unwrap();
        let apart = before.duration_since(at).unwrap_or_default();
        assert!(apart.as_secs() <= 1, "{stamp} is not now");
    }

    #[test]
    fn an_atomic_write_replaces_the_file_and_leaves_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        write_atomic(&path, b"first").unwrap();
        write_atomic(&path, b"second").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["config.json"]);
    }

    #[test]
    fn a_failed_atomic_write_names_the_file_and_leaves_the_old_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.json");
        write_atomic(&path, b"kept").unwrap();
        // a directory in the way of the rename: the write fails, the temporary file goes
        let blocked = dir.path().join("blocked");
        std::fs::create_dir(&blocked).unwrap();
        std::fs::write(blocked.join("inside"), b"x").unwrap();
        let err = write_atomic(&blocked, b"new").unwrap_err();
        assert!(
            matches!(&err, AttnError::Io { path, .. } if path.ends_with("blocked")),
            "{err}"
        );
        assert_eq!(std::fs::read(&path).unwrap(), b"kept");
        let mut names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["blocked", "metrics.json"]);
    }
}
