//! Running the grid points of a sweep for several seeds, recording each run, and resuming an
//! interrupted sweep where it stopped.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use super::{peak_heap_bytes, reset_peak_heap, CurvePoint, RunRecord, Stability, SweepMetric};
use crate::data::Dataset;
use crate::error::AttnError;
use crate::train::{
    train, write_atomic, EpochReport, RunInfo, Stop, TrainConfig, TrainObserver, TrainRequest,
};
use crate::zoo::{StepReport, ZooEntry};

/// File of a sweep directory holding one [`RunRecord`] per JSON line.
pub const RECORDS_FILE: &str = "records.jsonl";

/// One training run of a sweep.
pub struct SweepRun<'a> {
    /// The swept settings of its grid point by name.
    pub point: BTreeMap<String, String>,
    /// The model of this grid point.
    pub entry: &'a dyn ZooEntry,
    /// The training settings of this grid point (its `seed` is replaced by [`SweepRun::seed`]).
    pub config: TrainConfig,
    /// The seed.
    pub seed: u64,
}

/// What a sweep reports while it goes; every method has a do-nothing default.
pub trait SweepObserver {
    /// Run `index` of `total` starts (runs already recorded are skipped without a call).
    fn on_run_start(&mut self, _index: usize, _total: usize, _run: &SweepRun) {}
    /// A run finished and was recorded.
    fn on_run_done(&mut self, _record: &RunRecord) {}
}

/// A sweep observer that says nothing.
pub struct QuietSweep;
impl SweepObserver for QuietSweep {}

/// Collects what a record needs from a training run.
#[derive(Default)]
struct Collector {
    losses: Vec<f64>,
    grad_norms: Vec<f64>,
    history: Vec<EpochReport>,
    params: usize,
}

impl TrainObserver for Collector {
    fn on_start(&mut self, info: &RunInfo) {
        self.params = info.params;
    }
    fn on_step(&mut self, report: &StepReport) {
        self.losses.push(f64::from(report.loss));
        self.grad_norms.push(report.grad_norm);
    }
    fn on_epoch(&mut self, report: &EpochReport) {
        self.history.push(report.clone());
    }
}

/// What tells the runs of a sweep apart: the grid point's label and the seed.
pub type RunKey = (String, u64);

fn key(point: &BTreeMap<String, String>, seed: u64) -> RunKey {
    (super::record::label(point), seed)
}

/// The key of a recorded run.
pub fn record_key(record: &RunRecord) -> RunKey {
    key(&record.point, record.seed)
}

impl SweepRun<'_> {
    /// The key of this run.
    pub fn key(&self) -> RunKey {
        key(&self.point, self.seed)
    }
}

/// The records already in `dir`: its [`RECORDS_FILE`] and those of the shares run into its
/// `shard-i-of-n` subdirectories (see [`Shard`](super::Shard)), each run once (none when there
/// are none).
///
/// # Errors
/// [`AttnError::Data`] when a line is not a record (the fix: delete the line or the file).
pub fn read_records(dir: &Path) -> Result<Vec<RunRecord>, AttnError> {
    let mut records = read_records_file(dir)?;
    let mut seen: std::collections::BTreeSet<RunKey> = records.iter().map(record_key).collect();
    for share in super::shard::shard_dirs(dir) {
        for record in read_records_file(&share)? {
            if seen.insert(record_key(&record)) {
                records.push(record);
            }
        }
    }
    Ok(records)
}

/// The records of `dir`'s own [`RECORDS_FILE`].
fn read_records_file(dir: &Path) -> Result<Vec<RunRecord>, AttnError> {
    let path = dir.join(RECORDS_FILE);
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(Vec::new());
    };
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| {
                AttnError::data(
                    format!("{}:{}", path.display(), i + 1),
                    format!("not a sweep record: {e}"),
                    "delete that line (its run is trained again) or the file",
                )
            })
        })
        .collect()
}

/// Trains every run of a sweep on `dataset`, each into its own run directory under
/// `dir/runs/`, and records each in `dir/records.jsonl` as it finishes. Runs already recorded
/// there (same grid point and seed) are skipped, so an interrupted sweep resumes where it
/// stopped. A run that diverges is recorded (`stability.diverged`, NaN metrics), not fatal.
/// Returns every record, old and new, in the order of `runs`.
///
/// # Errors
/// An unreadable records file, an unwritable `dir`, or a run's error other than divergence
/// (bad data, impossible settings) — a fault of the sweep, not an outcome of it.
pub fn run_sweep(
    runs: &[SweepRun],
    dataset: &Dataset,
    dir: &Path,
    observer: &mut dyn SweepObserver,
    stop: &AtomicBool,
) -> Result<Vec<RunRecord>, AttnError> {
    std::fs::create_dir_all(dir).map_err(|source| AttnError::Io {
        path: dir.display().to_string(),
        source,
    })?;
    let mut records = read_records(dir)?;
    for (index, run) in runs.iter().enumerate() {
        if stop.load(std::sync::atomic::Ordering::SeqCst) {
            break;
        }
        let done = records
            .iter()
            .any(|r| key(&r.point, r.seed) == key(&run.point, run.seed));
        if done {
            continue;
        }
        observer.on_run_start(index, runs.len(), run);
        let record = train_one(run, dataset, &dir.join("runs"), stop)?;
        let Some(record) = record else { break }; // interrupted: not recorded, runs again
        records.push(record);
        let lines: String = records
            .iter()
            .map(|r| serde_json::to_string(r).unwrap_or_default() + "\n")
            .collect();
        write_atomic(&dir.join(RECORDS_FILE), lines.as_bytes())?;
        observer.on_run_done(records.last().expect("just pushed"));
    }
    let order = |r: &RunRecord| {
        runs.iter()
            .position(|x| key(&x.point, x.seed) == key(&r.point, r.seed))
            .unwrap_or(usize::MAX)
    };
    records.sort_by_key(order);
    Ok(records)
}

/// One run, or `None` when it was interrupted.
fn train_one(
    run: &SweepRun,
    dataset: &Dataset,
    out: &Path,
    stop: &AtomicBool,
) -> Result<Option<RunRecord>, AttnError> {
    let mut collector = Collector::default();
    reset_peak_heap();
    let request = TrainRequest {
        entry: run.entry,
        dataset,
        config: TrainConfig {
            seed: run.seed,
            ..run.config.clone()
        },
        out: PathBuf::from(out),
        resume: None,
    };
    let outcome = train(request, &mut collector, stop);
    let peak_memory_bytes = peak_heap_bytes();
    let params = collector.params;
    let stability_of = |c: &Collector| Stability::of(&c.losses, &c.grad_norms);
    let kind = SweepMetric::for_task(&run.entry.meta().task);
    let metric = |e: &EpochReport| kind.of(e);
    let curve_of = |history: &[EpochReport]| -> Vec<CurvePoint> {
        history
            .iter()
            .map(|e| CurvePoint {
                epoch: e.epoch,
                train_loss: e.train_loss,
                valid_loss: e.valid_loss,
                valid: metric(e),
            })
            .collect()
    };
    match outcome {
        Ok(o) if o.stopped == Stop::Interrupted => Ok(None),
        Ok(o) => {
            let best = o
                .history
                .iter()
                .find(|e| e.epoch == o.best_epoch)
                .or(o.history.last());
            let steps = collector.losses.len().max(1);
            Ok(Some(RunRecord {
                point: run.point.clone(),
                seed: run.seed,
                metric: Some(kind),
                final_valid: o.history.last().map_or(f64::NAN, metric),
                best_valid: kind.best(o.history.iter().map(metric)),
                train_valid_gap: best.map_or(f64::NAN, |e| kind.gap(e)),
                seconds: o.seconds,
                seconds_per_step: o.seconds / steps as f64,
                params,
                peak_memory_bytes,
                stability: stability_of(&collector),
                curve: curve_of(&o.history),
            }))
        }
        Err(AttnError::Diverged { .. }) => {
            let mut stability = stability_of(&collector);
            stability.diverged = true;
            let seconds: f64 = collector.history.iter().map(|e| e.seconds).sum();
            Ok(Some(RunRecord {
                point: run.point.clone(),
                seed: run.seed,
                metric: Some(kind),
                final_valid: f64::NAN,
                best_valid: kind.best(collector.history.iter().map(metric)),
                train_valid_gap: f64::NAN,
                seconds,
                seconds_per_step: seconds / collector.losses.len().max(1) as f64,
                params,
                peak_memory_bytes,
                stability,
                curve: curve_of(&collector.history),
            }))
        }
        Err(e) => Err(e),
    }
}
