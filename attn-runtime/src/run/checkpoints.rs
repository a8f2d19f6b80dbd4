//! A run's checkpoints, each epoch's files committed as one set.
//!
//! An epoch's parameters, optimizer state, `state.json` and epoch reports are written into a
//! fresh hidden folder, flushed to disk, and made visible by one rename to
//! `checkpoints/epoch-NNNN/`: a crash, a full disk or a failed write at any point leaves either
//! the whole new checkpoint or none of it, and the previous one intact. Resume reads the newest
//! committed checkpoint only. `model.safetensors` (the best parameters, what users and
//! `eval`/`predict` load) is then pointed at the best checkpoint's parameters, and checkpoints
//! that are neither the newest nor the best are removed.
//!
//! **PyTorch equivalent**: Hugging Face `Trainer`'s `checkpoint-N/` folders (model, optimizer,
//! `trainer_state.json`), which it also writes under a temporary name and renames into place.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::fault::{self, FaultPoint};
use super::{EpochReport, RunDir, RunState, BEST, INTERRUPTED, LAST, OPTIMIZER};
use crate::error::AttnError;
use crate::state_dict::StateDict;

/// The folder of a run's committed checkpoints.
pub const CHECKPOINTS: &str = "checkpoints";
/// A checkpoint's state file.
pub const STATE: &str = "state.json";
/// A checkpoint's epoch reports (every epoch up to its own), one JSON object per line.
pub const HISTORY: &str = "metrics.jsonl";

fn io(path: &Path) -> impl Fn(std::io::Error) -> AttnError + '_ {
    move |source| AttnError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Flushes a directory's entries (a rename into it) to disk; a no-op where directories cannot
/// be opened as files (Windows).
pub(crate) fn sync_dir(dir: &Path) -> Result<(), AttnError> {
    #[cfg(unix)]
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io(dir))?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Writes `bytes` to a new file and flushes it to disk.
fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), AttnError> {
    (|| {
        let mut f = File::create(path)?;
        f.write_all(bytes)?;
        f.sync_all()
    })()
    .map_err(io(path))
}

/// One committed checkpoint: the folder holding an epoch's parameters ([`LAST`]), optimizer
/// state ([`OPTIMIZER`]), [`STATE`] and [`HISTORY`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// Epochs completed when it was written.
    pub epoch: usize,
    /// Its folder (the run directory itself for runs written before checkpoints had folders).
    pub path: PathBuf,
}

impl Checkpoint {
    /// The folder name of epoch `epoch`'s checkpoint.
    pub fn folder_name(epoch: usize) -> String {
        format!("epoch-{epoch:04}")
    }

    /// The file of its parameters.
    pub fn params_path(&self) -> PathBuf {
        self.path.join(LAST)
    }

    /// Its parameters.
    ///
    /// # Errors
    /// A missing or malformed file.
    pub fn params(&self) -> Result<StateDict, AttnError> {
        StateDict::read(self.params_path())
    }

    /// Its optimizer state.
    ///
    /// # Errors
    /// A missing or malformed file.
    pub fn optimizer(&self) -> Result<StateDict, AttnError> {
        StateDict::read(self.path.join(OPTIMIZER))
    }

    /// Its `state.json`, checked against the epoch it was committed as.
    ///
    /// # Errors
    /// A missing or malformed file, or a state of another epoch.
    pub fn state(&self) -> Result<RunState, AttnError> {
        let path = self.path.join(STATE);
        let bytes = std::fs::read(&path).map_err(io(&path))?;
        let state: RunState = serde_json::from_slice(&bytes).map_err(|e| {
            AttnError::data(
                path.display().to_string(),
                format!("malformed ({e})"),
                "restore the file or start a new run",
            )
        })?;
        if state.epochs_done != self.epoch {
            return Err(AttnError::data(
                path.display().to_string(),
                format!(
                    "says {} epochs done in the checkpoint of epoch {}",
                    state.epochs_done, self.epoch
                ),
                "restore the checkpoint or start a new run",
            ));
        }
        Ok(state)
    }

    /// Its epoch reports, one per completed epoch.
    ///
    /// # Errors
    /// A missing or malformed file, or a report missing.
    pub fn history(&self) -> Result<Vec<EpochReport>, AttnError> {
        let path = self.path.join(HISTORY);
        let bytes = std::fs::read(&path).map_err(io(&path))?;
        let history = String::from_utf8_lossy(&bytes)
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                serde_json::from_str(l).map_err(|e| {
                    AttnError::data(
                        path.display().to_string(),
                        format!("malformed ({e})"),
                        "restore the file or start a new run",
                    )
                })
            })
            .collect::<Result<Vec<EpochReport>, _>>()?;
        if history.len() != self.epoch {
            return Err(AttnError::data(
                path.display().to_string(),
                format!(
                    "holds {} epoch reports in the checkpoint of epoch {}",
                    history.len(),
                    self.epoch
                ),
                "restore the checkpoint or start a new run",
            ));
        }
        Ok(history)
    }
}

/// What an epoch commits.
pub struct EpochFiles<'a> {
    /// The parameters after the epoch.
    pub params: &'a StateDict,
    /// The optimizer state after the epoch.
    pub optimizer: &'a StateDict,
    /// Where the run is.
    pub state: &'a RunState,
    /// Every epoch's report, this one's last.
    pub history: &'a [EpochReport],
}

/// The JSON lines of `history`.
pub(crate) fn history_lines(history: &[EpochReport]) -> String {
    let mut jsonl = String::new();
    for r in history {
        jsonl.push_str(&serde_json::to_string(r).unwrap_or_default());
        jsonl.push('\n');
    }
    jsonl
}

impl RunDir {
    fn checkpoints_dir(&self) -> PathBuf {
        self.path.join(CHECKPOINTS)
    }

    /// The committed checkpoints, oldest first. A run written before checkpoints had folders
    /// has one, the run directory itself, when it holds a `state.json`.
    ///
    /// # Errors
    /// An unreadable checkpoints folder, or a malformed legacy `state.json`.
    pub fn checkpoints(&self) -> Result<Vec<Checkpoint>, AttnError> {
        let dir = self.checkpoints_dir();
        let mut found = Vec::new();
        if dir.is_dir() {
            for entry in std::fs::read_dir(&dir).map_err(io(&dir))? {
                let entry = entry.map_err(io(&dir))?;
                let name = entry.file_name();
                let epoch = name
                    .to_str()
                    .and_then(|n| n.strip_prefix("epoch-"))
                    .and_then(|n| n.parse::<usize>().ok());
                if let Some(epoch) = epoch.filter(|_| entry.path().is_dir()) {
                    found.push(Checkpoint {
                        epoch,
                        path: entry.path(),
                    });
                }
            }
        }
        if found.is_empty() && self.path.join(STATE).is_file() {
            let legacy = Checkpoint {
                epoch: 0,
                path: self.path.clone(),
            };
            let state = serde_json::from_slice::<RunState>(&self.read(STATE)?).map_err(|e| {
                AttnError::data(
                    self.path.join(STATE).display().to_string(),
                    format!("malformed ({e})"),
                    "restore the file or start a new run",
                )
            })?;
            found.push(Checkpoint {
                epoch: state.epochs_done,
                ..legacy
            });
        }
        found.sort_by_key(|c| c.epoch);
        Ok(found)
    }

    /// The newest committed checkpoint; `None` before the first epoch is committed.
    ///
    /// # Errors
    /// As [`checkpoints`](Self::checkpoints).
    pub fn latest_checkpoint(&self) -> Result<Option<Checkpoint>, AttnError> {
        Ok(self.checkpoints()?.pop())
    }

    /// The committed checkpoint of epoch `epoch`.
    ///
    /// # Errors
    /// [`AttnError::Data`] when it is not there.
    pub fn checkpoint(&self, epoch: usize) -> Result<Checkpoint, AttnError> {
        self.checkpoints()?
            .into_iter()
            .find(|c| c.epoch == epoch)
            .ok_or_else(|| {
                AttnError::data(
                    self.path.display().to_string(),
                    format!("no checkpoint of epoch {epoch}"),
                    "restore the run's checkpoints folder or start a new run",
                )
            })
    }

    /// The parameters `eval` and `predict` load: the best epoch's, as the newest checkpoint
    /// names it, or `model.safetensors` for runs written before checkpoints had folders.
    ///
    /// # Errors
    /// [`AttnError::Data`] when no epoch has completed, or a checkpoint is malformed.
    pub fn best_params_path(&self) -> Result<PathBuf, AttnError> {
        let Some(latest) = self.latest_checkpoint()? else {
            return Err(AttnError::data(
                self.path.display().to_string(),
                format!("no checkpoint ({BEST}): the run has not completed an epoch"),
                "train it for at least one epoch (train <model> --resume <dir>), or pick another run",
            ));
        };
        if latest.path == self.path {
            return Ok(self.path.join(BEST));
        }
        let best = latest.state()?.best_epoch;
        Ok(self.checkpoint(best)?.params_path())
    }

    /// Commits an epoch's files as one checkpoint: written and flushed into a hidden folder,
    /// then renamed to `checkpoints/epoch-NNNN`, the rename flushed.
    ///
    /// # Errors
    /// [`AttnError::Io`] naming the file that could not be written; the run's committed
    /// checkpoints are unchanged then.
    pub fn commit_checkpoint(&self, files: &EpochFiles<'_>) -> Result<Checkpoint, AttnError> {
        let epoch = files.state.epochs_done;
        let dir = self.checkpoints_dir();
        fault::at(FaultPoint::Begin, epoch, &dir)?;
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let name = Checkpoint::folder_name(epoch);
        // a folder named at random beside the checkpoints, removed (when dropped) unless renamed
        let tmp_dir = tempfile::Builder::new()
            .prefix(&format!(".{name}."))
            .tempdir_in(&dir)
            .map_err(io(&dir))?;
        let tmp = tmp_dir.path();
        let written = (|| {
            write_synced(&tmp.join(LAST), &files.params.to_bytes()?)?;
            fault::at(FaultPoint::Params, epoch, &tmp.join(LAST))?;
            write_synced(&tmp.join(OPTIMIZER), &files.optimizer.to_bytes()?)?;
            fault::at(FaultPoint::Optimizer, epoch, &tmp.join(OPTIMIZER))?;
            let state = serde_json::to_string_pretty(files.state)
                .map_err(|e| AttnError::data(STATE, e.to_string(), "report this bug"))?;
            write_synced(&tmp.join(STATE), state.as_bytes())?;
            fault::at(FaultPoint::State, epoch, &tmp.join(STATE))?;
            write_synced(&tmp.join(HISTORY), history_lines(files.history).as_bytes())?;
            fault::at(FaultPoint::History, epoch, &tmp.join(HISTORY))?;
            sync_dir(tmp)
        })();
        written?;
        let path = dir.join(&name);
        std::fs::rename(tmp, &path).map_err(io(&path))?;
        // renamed: nothing is left at the temporary path for the drop to remove
        let _ = tmp_dir.keep();
        sync_dir(&dir)?;
        fault::at(FaultPoint::Commit, epoch, &path)?;
        Ok(Checkpoint { epoch, path })
    }

    /// Points `model.safetensors` at `best`'s parameters (a hard link, or a copy where links
    /// are not supported), replacing it atomically.
    ///
    /// # Errors
    /// [`AttnError::Io`] naming the file.
    pub fn link_best(&self, best: &Checkpoint) -> Result<(), AttnError> {
        let target = self.path.join(BEST);
        let tmp = target.with_extension(format!("tmp{}", std::process::id()));
        let _ = std::fs::remove_file(&tmp);
        let linked = std::fs::hard_link(best.params_path(), &tmp)
            .or_else(|_| std::fs::copy(best.params_path(), &tmp).map(|_| ()))
            .and_then(|()| std::fs::rename(&tmp, &target));
        // a rename onto another link of the same file does nothing and leaves `tmp` (POSIX)
        let _ = std::fs::remove_file(&tmp);
        linked.map_err(io(&target))?;
        sync_dir(&self.path)?;
        fault::at(FaultPoint::Best, best.epoch, &target)
    }

    /// Removes every committed checkpoint but those of the epochs in `keep`, and the model a
    /// stopped run saved mid-epoch (a later epoch has superseded it).
    ///
    /// # Errors
    /// [`AttnError::Io`] naming what could not be removed.
    pub fn prune_checkpoints(&self, keep: &[usize]) -> Result<(), AttnError> {
        for c in self.checkpoints()? {
            if !keep.contains(&c.epoch) && c.path != self.path {
                std::fs::remove_dir_all(&c.path).map_err(io(&c.path))?;
            }
        }
        let interrupted = self.path.join(INTERRUPTED);
        if interrupted.exists() {
            std::fs::remove_file(&interrupted).map_err(io(&interrupted))?;
        }
        Ok(())
    }

    /// Removes what a crashed process left half-done: uncommitted checkpoint folders and the
    /// temporary files of atomic writes (`*.tmp<pid>`).
    pub fn clean_leftovers(&self) {
        let is_tmp = |name: &str| {
            name.rsplit_once(".tmp")
                .is_some_and(|(_, pid)| !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()))
        };
        for dir in [self.path.clone(), self.checkpoints_dir()] {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if !is_tmp(&name) {
                    continue;
                }
                let path = entry.path();
                let _ = if path.is_dir() {
                    std::fs::remove_dir_all(&path)
                } else {
                    std::fs::remove_file(&path)
                };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> RunDir {
        let path =
            std::env::temp_dir().join(format!("attn-checkpoints-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        RunDir { path }
    }

    fn report(epoch: usize) -> EpochReport {
        EpochReport {
            epoch,
            train_loss: 1.0 / epoch as f64,
            train_acc: 0.5,
            valid_loss: 1.0,
            valid_acc: 0.5,
            valid_exact: 0.25,
            valid_bleu: None,
            valid_perplexity: None,
            valid_macro_f1: None,
            lr: 1e-3,
            seconds: 1.0,
            examples_per_second: 10.0,
        }
    }

    fn commit(run: &RunDir, epoch: usize, best_epoch: usize) -> Checkpoint {
        let mut params = StateDict::default();
        params.insert("w", vec![2], vec![epoch as f64, 0.5], false);
        params.set_metadata("epoch", epoch.to_string());
        let state = RunState {
            epochs_done: epoch,
            best_epoch,
            ..RunState::default()
        };
        let history: Vec<EpochReport> = (1..=epoch).map(report).collect();
        run.commit_checkpoint(&EpochFiles {
            params: &params,
            optimizer: &params,
            state: &state,
            history: &history,
        })
        .unwrap()
    }

    #[test]
    fn committed_checkpoints_read_back_and_prune_to_the_kept_ones() {
        let run = scratch("commit");
        assert_eq!(run.latest_checkpoint().unwrap(), None);
        assert!(matches!(
            run.best_params_path(),
            Err(AttnError::Data { .. })
        ));
        for epoch in 1..=3 {
            commit(&run, epoch, 2);
        }
        let latest = run.latest_checkpoint().unwrap().unwrap();
        assert_eq!(latest.epoch, 3);
        assert_eq!(latest.state().unwrap().best_epoch, 2);
        assert_eq!(
            latest.history().unwrap(),
            (1..=3).map(report).collect::<Vec<_>>()
        );
        let best = run.best_params_path().unwrap();
        assert_eq!(best, run.checkpoint(2).unwrap().params_path());
        run.link_best(&run.checkpoint(2).unwrap()).unwrap();
        let linked = StateDict::read(run.path.join(BEST)).unwrap();
        assert_eq!(linked.metadata()["epoch"], "2");
        std::fs::write(run.path.join(INTERRUPTED), b"x").unwrap();
        run.prune_checkpoints(&[3, 2]).unwrap();
        let left: Vec<usize> = run.checkpoints().unwrap().iter().map(|c| c.epoch).collect();
        assert_eq!(left, [2, 3]);
        assert!(!run.path.join(INTERRUPTED).exists());
        // the link survives the pruning of its checkpoint
        run.prune_checkpoints(&[3]).unwrap();
        let linked = StateDict::read(run.path.join(BEST)).unwrap();
        assert_eq!(linked.metadata()["epoch"], "2");
        std::fs::remove_dir_all(&run.path).ok();
    }

    #[test]
    fn a_checkpoint_that_contradicts_its_epoch_is_refused() {
        let run = scratch("contradicts");
        let c = commit(&run, 2, 1);
        std::fs::write(c.path.join(HISTORY), history_lines(&[report(1)])).unwrap();
        assert!(matches!(c.history(), Err(AttnError::Data { .. })));
        let moved = Checkpoint {
            epoch: 3,
            path: c.path.clone(),
        };
        assert!(matches!(moved.state(), Err(AttnError::Data { .. })));
        std::fs::remove_dir_all(&run.path).ok();
    }

    #[test]
    fn leftovers_of_a_crash_are_removed_and_committed_files_kept() {
        let run = scratch("leftovers");
        commit(&run, 1, 1);
        let half = run.checkpoints_dir().join(".epoch-0002.tmp4242");
        std::fs::create_dir_all(&half).unwrap();
        std::fs::write(half.join(LAST), b"half").unwrap();
        std::fs::write(run.path.join("model.tmp4242"), b"half").unwrap();
        std::fs::write(run.path.join("notes.tmp.txt"), b"mine").unwrap();
        run.clean_leftovers();
        assert!(!half.exists());
        assert!(!run.path.join("model.tmp4242").exists());
        assert!(run.path.join("notes.tmp.txt").exists());
        assert_eq!(run.latest_checkpoint().unwrap().unwrap().epoch, 1);
        std::fs::remove_dir_all(&run.path).ok();
    }

    #[test]
    fn a_run_written_before_checkpoint_folders_is_its_own_checkpoint() {
        let run = scratch("legacy");
        let state = RunState {
            epochs_done: 4,
            best_epoch: 3,
            ..RunState::default()
        };
        run.write_json(STATE, &state).unwrap();
        let latest = run.latest_checkpoint().unwrap().unwrap();
        assert_eq!((latest.epoch, &latest.path), (4, &run.path));
        assert_eq!(run.best_params_path().unwrap(), run.path.join(BEST));
        std::fs::remove_dir_all(&run.path).ok();
    }
}
