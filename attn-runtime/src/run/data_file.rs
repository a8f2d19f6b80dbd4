//! The data a run was trained on, recorded so that resuming and evaluating use the very same
//! examples: a built-in data set by name, or a file by absolute path, size and SHA-256 (a file
//! that changed since is refused, never silently scored as another test split).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::RunConfig;
use crate::data::{builtin, load_file, Dataset, Tokenizer};
use crate::error::AttnError;
use crate::model::TaskSpec;

/// A data file as a run saw it.
///
/// **PyTorch equivalent**: what a dataset card's checksum or DVC's `.dvc` file records.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataFile {
    /// Its absolute path.
    pub path: PathBuf,
    /// Its size in bytes.
    pub bytes: u64,
    /// The SHA-256 of its content, in hex.
    pub sha256: String,
}

fn read(path: &Path) -> Result<Vec<u8>, AttnError> {
    std::fs::read(path).map_err(|source| AttnError::Io {
        path: path.display().to_string(),
        source,
    })
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl DataFile {
    /// The file at `path` as it is now.
    ///
    /// # Errors
    /// [`AttnError::Io`] when it cannot be read.
    pub fn of(path: &Path) -> Result<DataFile, AttnError> {
        let path = path.canonicalize().map_err(|source| AttnError::Io {
            path: path.display().to_string(),
            source,
        })?;
        let content = read(&path)?;
        Ok(DataFile {
            bytes: content.len() as u64,
            sha256: sha256(&content),
            path,
        })
    }

    /// Checks that the file still holds what the run saw.
    ///
    /// # Errors
    /// [`AttnError::Io`] when it is gone; [`AttnError::Data`] naming both hashes when its
    /// content changed.
    pub fn check(&self) -> Result<(), AttnError> {
        let now = DataFile::of(&self.path)?;
        if now.sha256 != self.sha256 {
            return Err(AttnError::data(
                self.path.display().to_string(),
                format!(
                    "changed since the run was trained on it ({} bytes, SHA-256 {}; now {} bytes, \
                     SHA-256 {}): its splits would not be the run's",
                    self.bytes, self.sha256, now.bytes, now.sha256
                ),
                "restore the file the run was trained on, or train a new run on the new file",
            ));
        }
        Ok(())
    }
}

/// The record of a data set a run is about to train on: the file's [`DataFile`] when `name` is
/// a file, `None` for a built-in data set.
///
/// # Errors
/// [`AttnError::Io`] when the file cannot be read.
pub fn record_data(name: &str) -> Result<Option<DataFile>, AttnError> {
    let path = Path::new(name);
    if path.is_file() {
        DataFile::of(path).map(Some)
    } else {
        Ok(None)
    }
}

impl RunConfig {
    /// Where the run's data is: the recorded file's absolute path, or the built-in name.
    pub fn data_name(&self) -> String {
        match &self.data_file {
            Some(f) => f.path.display().to_string(),
            None => self.dataset.clone(),
        }
    }

    /// Checks that `dataset` is the data this run was trained on: the same file, unchanged, or
    /// the same built-in data set.
    ///
    /// # Errors
    /// [`AttnError::Data`] naming both when they differ or the file changed.
    pub fn check_data(&self, dataset: &Dataset) -> Result<(), AttnError> {
        let same = match &self.data_file {
            Some(file) => Path::new(&dataset.name).canonicalize().ok().as_ref() == Some(&file.path),
            None => self.dataset == dataset.name,
        };
        if !same {
            return Err(AttnError::data(
                dataset.name.clone(),
                format!("the run was trained on {}, not on this", self.data_name()),
                "continue it on its own data (leave --data out), or train a new run on this one",
            ));
        }
        self.data_file.as_ref().map_or(Ok(()), DataFile::check)
    }

    /// Loads the data the run was trained on, checked to be unchanged, for a model of `task`.
    ///
    /// # Errors
    /// [`AttnError::Data`] when the recorded file changed or a built-in name is unknown;
    /// [`AttnError::Io`] when the file is gone.
    pub fn load_data(&self, task: &TaskSpec, tokenizer: Tokenizer) -> Result<Dataset, AttnError> {
        if let Some(file) = &self.data_file {
            file.check()?;
            return load_file(&file.path, task, tokenizer);
        }
        // runs recorded before data files were: a path relative to where training ran
        let path = Path::new(&self.dataset);
        if path.is_file() {
            return load_file(path, task, tokenizer);
        }
        builtin(&self.dataset).map_err(|e| {
            if path.extension().is_some() || self.dataset.contains(std::path::MAIN_SEPARATOR) {
                AttnError::data(
                    self.dataset.clone(),
                    "the run's data file is not found (the run recorded it relative to where it \
                     was trained)",
                    "run the command from the directory the run was trained in",
                )
            } else {
                e
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_file_is_refused_naming_both_hashes() {
        let dir = std::env::temp_dir().join(format!("attn-data-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("d.tsv");
        std::fs::write(&path, "pos\tgood film\n").unwrap();
        let file = DataFile::of(&path).unwrap();
        assert!(file.path.is_absolute());
        assert_eq!(file.bytes, 14);
        // sha256sum of "pos\tgood film\n"
        assert_eq!(file.sha256, sha256(b"pos\tgood film\n"));
        assert!(file.check().is_ok());
        std::fs::write(&path, "neg\tgood film\n").unwrap();
        let err = file.check().unwrap_err().to_string();
        assert!(
            err.contains(&file.sha256) && err.contains("changed since"),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn sha256_of_a_known_string() {
        // FIPS 180-2, appendix B.1
        assert_eq!(
            sha256(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
