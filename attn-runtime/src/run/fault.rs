//! A test hook that makes a run die or fail at a chosen point of an epoch's checkpoint commit,
//! so the fault tests can show that every point leaves a run `--resume` continues exactly.
//!
//! Set `ATTN_FAULT=<action>:<point>@<epoch>` in a training process's environment, e.g.
//! `ATTN_FAULT=abort:commit@2` (the process aborts, like `kill -9`, just before epoch 2's
//! checkpoint is renamed into place) or `ATTN_FAULT=fail:optimizer@1` (writing epoch 1's
//! optimizer state fails with an I/O error, like a full disk or a failing `fsync`). Unset, it
//! costs one environment lookup per run.

use std::sync::OnceLock;

use crate::error::AttnError;

/// Where in an epoch's checkpoint commit a fault strikes, in the order the commit passes them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultPoint {
    /// Before anything of the epoch is written.
    Begin,
    /// After the parameters are written into the uncommitted checkpoint.
    Params,
    /// After the optimizer state is written.
    Optimizer,
    /// After `state.json` is written.
    State,
    /// After the epoch reports (`metrics.jsonl`) are written: the set is complete but not
    /// committed.
    History,
    /// After the rename that commits the checkpoint.
    Commit,
    /// After `model.safetensors` points at the best checkpoint.
    Best,
    /// After `metrics.csv`/`metrics.jsonl` are rewritten.
    Metrics,
    /// After older checkpoints are removed.
    Prune,
}

impl FaultPoint {
    /// Every point, in commit order.
    pub const ALL: [FaultPoint; 9] = [
        FaultPoint::Begin,
        FaultPoint::Params,
        FaultPoint::Optimizer,
        FaultPoint::State,
        FaultPoint::History,
        FaultPoint::Commit,
        FaultPoint::Best,
        FaultPoint::Metrics,
        FaultPoint::Prune,
    ];

    /// The point's name in `ATTN_FAULT`.
    pub fn name(self) -> &'static str {
        match self {
            FaultPoint::Begin => "begin",
            FaultPoint::Params => "params",
            FaultPoint::Optimizer => "optimizer",
            FaultPoint::State => "state",
            FaultPoint::History => "history",
            FaultPoint::Commit => "commit",
            FaultPoint::Best => "best",
            FaultPoint::Metrics => "metrics",
            FaultPoint::Prune => "prune",
        }
    }
}

/// What a fault does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultAction {
    /// The process aborts on the spot: no destructor, no cleanup (as `kill -9`).
    Abort,
    /// The write fails with an I/O error (as a full disk or a failing `fsync`).
    Fail,
}

/// One injected fault: `action` at `point` of epoch `epoch`'s commit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fault {
    /// What happens.
    pub action: FaultAction,
    /// Where.
    pub point: FaultPoint,
    /// In which epoch's commit (1-based).
    pub epoch: usize,
}

impl Fault {
    /// The `ATTN_FAULT` value of this fault.
    pub fn env_value(&self) -> String {
        let action = match self.action {
            FaultAction::Abort => "abort",
            FaultAction::Fail => "fail",
        };
        format!("{action}:{}@{}", self.point.name(), self.epoch)
    }

    /// Parses an `ATTN_FAULT` value; `None` when it is not one.
    pub fn parse(value: &str) -> Option<Fault> {
        let (action, rest) = value.split_once(':')?;
        let (point, epoch) = rest.split_once('@')?;
        let action = match action {
            "abort" => FaultAction::Abort,
            "fail" => FaultAction::Fail,
            _ => return None,
        };
        let point = FaultPoint::ALL.into_iter().find(|p| p.name() == point)?;
        Some(Fault {
            action,
            point,
            epoch: epoch.parse().ok()?,
        })
    }
}

fn configured() -> Option<Fault> {
    static FAULT: OnceLock<Option<Fault>> = OnceLock::new();
    *FAULT.get_or_init(|| {
        std::env::var("ATTN_FAULT")
            .ok()
            .as_deref()
            .and_then(Fault::parse)
    })
}

/// Passes `point` of epoch `epoch`'s commit: aborts the process or returns an I/O error when
/// `ATTN_FAULT` asks for it there, and does nothing otherwise.
///
/// # Errors
/// [`AttnError::Io`] for an injected [`FaultAction::Fail`].
pub(crate) fn at(point: FaultPoint, epoch: usize, path: &std::path::Path) -> Result<(), AttnError> {
    match configured() {
        Some(f) if f.point == point && f.epoch == epoch => match f.action {
            FaultAction::Abort => std::process::abort(),
            FaultAction::Fail => Err(AttnError::Io {
                path: path.display().to_string(),
                source: std::io::Error::other(format!(
                    "injected fault (ATTN_FAULT={})",
                    f.env_value()
                )),
            }),
        },
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip() {
        for point in FaultPoint::ALL {
            for action in [FaultAction::Abort, FaultAction::Fail] {
                let f = Fault {
                    action,
                    point,
                    epoch: 3,
                };
                assert_eq!(Fault::parse(&f.env_value()), Some(f));
            }
        }
        assert_eq!(Fault::parse("abort:nowhere@1"), None);
        assert_eq!(Fault::parse("abort:commit"), None);
    }
}
