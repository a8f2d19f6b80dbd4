//! Experiments: what one sweep run records, the stability signals of its training curve, and the
//! mean ± standard deviation over seeds that a sweep report tabulates.
//!
//! **PyTorch equivalent**: what people assemble by hand with pandas
//! (`df.groupby(point).agg(["mean", "std"])`) after a loop over configurations and seeds.

mod aggregate;
mod peak_memory;
mod record;
mod runner;
mod shard;
mod stability;
mod summary_csv;
mod sweep_decl;
mod sweep_metric;

pub use aggregate::{aggregate, markdown_table, CurveSummary, MeanStd, PointSummary};
pub use peak_memory::{
    largest_allocation_bytes, live_heap_bytes, peak_heap_bytes, reset_peak_heap, PeakAlloc,
};
pub use record::{CurvePoint, RunRecord};
pub use runner::{
    read_records, record_key, run_sweep, QuietSweep, RunKey, SweepObserver, SweepRun, RECORDS_FILE,
};
pub use shard::{merge_records, shard_dirs, Shard, ShardError, SHARD_PREFIX};
pub use stability::{grad_norm_spread, loss_spikes, Stability, SPIKE_FACTOR, SPIKE_WINDOW};
pub use summary_csv::read_summary_csv;
pub use sweep_decl::{SweepDecl, SweepPoint, RUNTIME_SETTINGS};
pub use sweep_metric::SweepMetric;
