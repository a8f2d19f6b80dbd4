//! One share of a sweep's runs, for sweeps spread over the tasks of a job array (Slurm arrays,
//! Kubernetes indexed Jobs), and the merge of the shares' records into the whole sweep's.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use super::runner::{read_records, record_key, RunKey};
use super::RunRecord;
use crate::error::AttnError;

/// Share `index` of `count` (0-based, as `SLURM_ARRAY_TASK_ID` with `--array=0-(n-1)` and
/// Kubernetes' `JOB_COMPLETION_INDEX` count): the runs at positions `index`, `index + count`,
/// `index + 2·count`, … of the sweep's run list, whose order is fixed by its declaration.
///
/// Written `i/n` on the command line (`sweep sweep-heads --shard 2/3`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// This share, `0..count`.
    pub index: usize,
    /// How many shares the sweep is cut into.
    pub count: usize,
}

impl Shard {
    /// The whole sweep, in one share.
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// Whether run number `position` of the run list is this share's.
    pub fn takes(&self, position: usize) -> bool {
        position % self.count == self.index
    }

    /// This share's runs, in their order.
    pub fn select<T>(&self, runs: Vec<T>) -> Vec<T> {
        runs.into_iter()
            .enumerate()
            .filter(|(i, _)| self.takes(*i))
            .map(|(_, r)| r)
            .collect()
    }

    /// The directory of this share's records and runs inside the sweep's directory
    /// (`shard-2-of-3`), so that shares on a shared file system never write the same file.
    pub fn dir_name(&self) -> String {
        format!("{SHARD_PREFIX}{}-of-{}", self.index, self.count)
    }
}

/// How the shares' directories begin.
pub const SHARD_PREFIX: &str = "shard-";

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// Why `--shard` was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ShardError {
    /// Not two numbers around a slash.
    #[error("`{0}` is not a share: write i/n, e.g. 0/3 for the first of three")]
    Syntax(String),
    /// `n` is zero.
    #[error("`{0}`: a sweep cannot be cut into 0 shares; n is 1 or more")]
    NoShares(String),
    /// `i` is not below `n`.
    #[error("`{0}`: shares are numbered from 0 to n - 1 (Slurm: --array=0-{1}, $SLURM_ARRAY_TASK_ID; Kubernetes: $JOB_COMPLETION_INDEX)")]
    OutOfRange(String, usize),
}

impl FromStr for Shard {
    type Err = ShardError;

    fn from_str(s: &str) -> Result<Shard, ShardError> {
        let (i, n) = s
            .split_once('/')
            .ok_or_else(|| ShardError::Syntax(s.into()))?;
        let number = |t: &str| {
            t.trim()
                .parse::<usize>()
                .map_err(|_| ShardError::Syntax(s.into()))
        };
        let (index, count) = (number(i)?, number(n)?);
        if count == 0 {
            return Err(ShardError::NoShares(s.into()));
        }
        if index >= count {
            return Err(ShardError::OutOfRange(s.into(), count - 1));
        }
        Ok(Shard { index, count })
    }
}

/// The share directories (`shard-i-of-n`) directly inside `dir`.
pub fn shard_dirs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.is_dir()
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(SHARD_PREFIX))
        })
        .collect();
    dirs.sort();
    dirs
}

/// The records of a whole sweep gathered from `dirs` — sweep directories (their records and
/// those of their `shard-i-of-n` subdirectories) or share directories, from one machine or
/// copied from several — in the order of the run list `order`. A run recorded twice (a share
/// run again) counts once, its first record.
///
/// # Errors
/// [`AttnError::Data`] when a record is of a run the sweep does not have (another sweep's, or
/// other settings), or when runs of the list have no record (naming them and the share that
/// runs each), or as [`read_records`].
pub fn merge_records(
    dirs: &[PathBuf],
    order: &[RunKey],
    shards: Option<usize>,
) -> Result<Vec<RunRecord>, AttnError> {
    let mut found: Vec<RunRecord> = Vec::new();
    let mut seen = BTreeSet::new();
    for dir in dirs {
        for record in read_records(dir)? {
            let key = record_key(&record);
            if !order.contains(&key) {
                return Err(AttnError::data(
                    dir.display().to_string(),
                    format!(
                        "a record of `{}` seed {} is not a run of this sweep",
                        key.0, key.1
                    ),
                    "merge the records of this sweep only, with the same --seeds and settings",
                ));
            }
            if seen.insert(key) {
                found.push(record);
            }
        }
    }
    let missing: Vec<String> = order
        .iter()
        .enumerate()
        .filter(|(_, k)| !seen.contains(*k))
        .map(|(i, (label, seed))| match shards {
            Some(n) => format!("{label} seed {seed} (share {}/{n})", i % n),
            None => format!("{label} seed {seed}"),
        })
        .collect();
    if !missing.is_empty() {
        return Err(AttnError::data(
            dirs.iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            format!(
                "{} of the sweep's {} runs have no record: {}",
                missing.len(),
                order.len(),
                missing.join("; ")
            ),
            "run the missing shares (or the sweep) first, or add their directories",
        ));
    }
    found.sort_by_key(|r| {
        let key = record_key(r);
        order.iter().position(|k| *k == key)
    });
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_parse_and_partition_the_run_list() {
        assert_eq!("2/3".parse(), Ok(Shard { index: 2, count: 3 }));
        assert_eq!(" 0 / 1 ".parse(), Ok(Shard::WHOLE));
        assert_eq!(
            "3/3".parse::<Shard>(),
            Err(ShardError::OutOfRange("3/3".into(), 2))
        );
        assert_eq!(
            "1/0".parse::<Shard>(),
            Err(ShardError::NoShares("1/0".into()))
        );
        assert_eq!("2".parse::<Shard>(), Err(ShardError::Syntax("2".into())));
        let err = "5/4".parse::<Shard>().unwrap_err().to_string();
        assert!(
            err.contains("--array=0-3") && err.contains("JOB_COMPLETION_INDEX"),
            "{err}"
        );
        let shares: Vec<Vec<usize>> = (0..3)
            .map(|i| Shard { index: i, count: 3 }.select((0..8).collect()))
            .collect();
        assert_eq!(shares, [vec![0, 3, 6], vec![1, 4, 7], vec![2, 5]]);
        assert_eq!(Shard { index: 1, count: 4 }.dir_name(), "shard-1-of-4");
        assert_eq!(Shard { index: 1, count: 4 }.to_string(), "1/4");
    }
}
