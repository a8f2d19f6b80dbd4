//! Mean ± standard deviation over seeds, per grid point, as a CSV and a markdown table.

use std::collections::BTreeMap;

use serde::Serialize;

use super::record::label;
use super::{CurvePoint, RunRecord, SweepMetric};

/// The mean and sample standard deviation of the finite values of one measurement.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct MeanStd {
    /// The mean (NaN when no value is finite).
    pub mean: f64,
    /// The sample standard deviation, `n - 1` in the denominator as pandas' `std()`; 0 for a
    /// single value, NaN for none.
    pub std: f64,
    /// How many finite values there were.
    pub n: usize,
}

impl MeanStd {
    /// Of the finite `values`; non-finite ones (a diverged run's) are left out.
    pub fn of(values: impl IntoIterator<Item = f64>) -> Self {
        let v: Vec<f64> = values.into_iter().filter(|x| x.is_finite()).collect();
        let n = v.len();
        if n == 0 {
            return MeanStd {
                mean: f64::NAN,
                std: f64::NAN,
                n,
            };
        }
        let mean = v.iter().sum::<f64>() / n as f64;
        let std = if n == 1 {
            0.0
        } else {
            (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
        };
        MeanStd { mean, std, n }
    }

    /// `mean ± std` with `decimals` decimals, `—` when nothing was finite.
    pub fn display(&self, decimals: usize) -> String {
        if self.n == 0 {
            "—".into()
        } else {
            format!("{:.*} ± {:.*}", decimals, self.mean, decimals, self.std)
        }
    }
}

/// One grid point's runs over all its seeds.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PointSummary {
    /// The swept settings.
    pub point: BTreeMap<String, String>,
    /// Runs (seeds) of this point.
    pub runs: usize,
    /// Runs whose loss became non-finite.
    pub diverged: usize,
    /// Trainable parameters (the same for every seed).
    pub params: usize,
    /// Which validation metric the runs recorded (`None` for records older than the field).
    pub metric: Option<SweepMetric>,
    /// Final validation metric.
    pub final_valid: MeanStd,
    /// Best validation metric.
    pub best_valid: MeanStd,
    /// Train − validation metric.
    pub train_valid_gap: MeanStd,
    /// Seconds of training.
    pub seconds: MeanStd,
    /// Seconds per step.
    pub seconds_per_step: MeanStd,
    /// Loss spikes per run.
    pub loss_spikes: MeanStd,
    /// Gradient-norm spread.
    pub grad_norm_spread: MeanStd,
    /// The largest peak memory of its runs, in bytes, when known.
    pub peak_memory_bytes: Option<u64>,
    /// The learning curve over seeds: entry `i` summarises epoch `i + 1` of the runs that
    /// reached it.
    pub curve: Vec<CurveSummary>,
}

/// One epoch of a grid point's learning curve, mean ± std over its seeds.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct CurveSummary {
    /// 1-based epoch.
    pub epoch: usize,
    /// Training loss.
    pub train_loss: MeanStd,
    /// Validation loss.
    pub valid_loss: MeanStd,
    /// Validation metric.
    pub valid: MeanStd,
}

/// Epoch by epoch over `runs`' curves (a run that stopped early counts only where it has
/// values).
fn mean_curve(runs: &[&RunRecord]) -> Vec<CurveSummary> {
    let epochs = runs.iter().map(|r| r.curve.len()).max().unwrap_or(0);
    (0..epochs)
        .map(|i| {
            let at = |f: fn(&CurvePoint) -> f64| {
                MeanStd::of(runs.iter().filter_map(|r| r.curve.get(i)).map(f))
            };
            CurveSummary {
                epoch: i + 1,
                train_loss: at(|c| c.train_loss),
                valid_loss: at(|c| c.valid_loss),
                valid: at(|c| c.valid),
            }
        })
        .collect()
}

/// Groups `records` by grid point, in the order points first appear, and summarises each over
/// its seeds.
///
/// **PyTorch equivalent**: `df.groupby(point, sort=False).agg(["mean", "std"])` in pandas.
pub fn aggregate(records: &[RunRecord]) -> Vec<PointSummary> {
    let mut order: Vec<&BTreeMap<String, String>> = Vec::new();
    for r in records {
        if !order.contains(&&r.point) {
            order.push(&r.point);
        }
    }
    order
        .into_iter()
        .map(|point| {
            let runs: Vec<&RunRecord> = records.iter().filter(|r| &r.point == point).collect();
            let of = |f: fn(&RunRecord) -> f64| MeanStd::of(runs.iter().map(|r| f(r)));
            PointSummary {
                point: point.clone(),
                runs: runs.len(),
                diverged: runs.iter().filter(|r| r.stability.diverged).count(),
                params: runs[0].params,
                metric: runs[0].metric,
                final_valid: of(|r| r.final_valid),
                best_valid: of(|r| r.best_valid),
                train_valid_gap: of(|r| r.train_valid_gap),
                seconds: of(|r| r.seconds),
                seconds_per_step: of(|r| r.seconds_per_step),
                loss_spikes: of(|r| r.stability.loss_spikes as f64),
                grad_norm_spread: of(|r| r.stability.grad_norm_spread),
                peak_memory_bytes: runs.iter().filter_map(|r| r.peak_memory_bytes).max(),
                curve: mean_curve(&runs),
            }
        })
        .collect()
}

const COLUMNS: [&str; 7] = [
    "final_valid",
    "best_valid",
    "train_valid_gap",
    "seconds",
    "seconds_per_step",
    "loss_spikes",
    "grad_norm_spread",
];

fn measurements(s: &PointSummary) -> [MeanStd; 7] {
    [
        s.final_valid,
        s.best_valid,
        s.train_valid_gap,
        s.seconds,
        s.seconds_per_step,
        s.loss_spikes,
        s.grad_norm_spread,
    ]
}

impl PointSummary {
    /// The CSV header for summaries of points with these setting names.
    pub fn csv_header(settings: &[String]) -> String {
        let mut cols: Vec<String> = settings.to_vec();
        cols.extend(
            ["runs", "diverged", "params", "peak_memory_bytes", "metric"].map(String::from),
        );
        for c in COLUMNS {
            cols.push(format!("{c}_mean"));
            cols.push(format!("{c}_std"));
        }
        cols.join(",")
    }

    /// One CSV row in the order of [`PointSummary::csv_header`] (full precision, empty for
    /// unknown values).
    pub fn csv_row(&self, settings: &[String]) -> String {
        let mut cells: Vec<String> = settings
            .iter()
            .map(|k| self.point.get(k).cloned().unwrap_or_default())
            .collect();
        cells.push(self.runs.to_string());
        cells.push(self.diverged.to_string());
        cells.push(self.params.to_string());
        cells.push(
            self.peak_memory_bytes
                .map_or(String::new(), |b| b.to_string()),
        );
        cells.push(self.metric.map_or("", SweepMetric::name).to_string());
        for m in measurements(self) {
            let num = |x: f64| {
                if x.is_finite() {
                    x.to_string()
                } else {
                    String::new()
                }
            };
            cells.push(num(m.mean));
            cells.push(num(m.std));
        }
        cells.join(",")
    }
}

/// A markdown table of `summaries`: the grid point, runs, divergences, parameters, then
/// `mean ± std` of the validation metric (named in the header), the gap and the training time.
pub fn markdown_table(summaries: &[PointSummary]) -> String {
    let metric = summaries.first().and_then(|s| s.metric);
    let name = metric.map_or("valid", SweepMetric::name);
    let gap = match metric {
        Some(m) if !m.higher_is_better() => "valid − train",
        _ => "train − valid",
    };
    let mut out = format!(
        "| point | runs | diverged | params | final {name} | best {name} | {gap} | seconds | s/step |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for s in summaries {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            label(&s.point),
            s.runs,
            s.diverged,
            s.params,
            s.final_valid.display(4),
            s.best_valid.display(4),
            s.train_valid_gap.display(4),
            s.seconds.display(1),
            s.seconds_per_step.display(4),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::Stability;

    fn record(heads: &str, seed: u64, valid: f64, seconds: f64, diverged: bool) -> RunRecord {
        RunRecord {
            point: BTreeMap::from([("heads".to_string(), heads.to_string())]),
            seed,
            metric: Some(SweepMetric::Accuracy),
            final_valid: valid,
            best_valid: valid + 0.01,
            train_valid_gap: 0.1,
            seconds,
            seconds_per_step: seconds / 100.0,
            params: if heads == "1" { 1000 } else { 2000 },
            peak_memory_bytes: Some(seed * 10),
            stability: Stability {
                loss_spikes: seed as usize,
                diverged,
                grad_norm_spread: 0.5,
            },
            // epoch e: train loss 1/e, valid loss seed + e, metric `valid` at the last epoch
            curve: (1..=2 + seed as usize)
                .map(|e| CurvePoint {
                    epoch: e,
                    train_loss: 1.0 / e as f64,
                    valid_loss: seed as f64 + e as f64,
                    valid,
                })
                .collect(),
        }
    }

    #[test]
    fn mean_and_sample_std_by_hand() {
        // 0.80, 0.90, 0.85: mean 0.85, deviations ±0.05 and 0, sum of squares 0.005,
        // / (3 - 1) = 0.0025, sqrt = 0.05
        let m = MeanStd::of([0.80, 0.90, 0.85]);
        assert!((m.mean - 0.85).abs() < 1e-12);
        assert!((m.std - 0.05).abs() < 1e-12);
        assert_eq!(m.n, 3);
        assert_eq!(MeanStd::of([2.0]).std, 0.0);
        assert!(MeanStd::of([f64::NAN]).mean.is_nan());
        assert_eq!(MeanStd::of([1.0, f64::NAN, 3.0]).mean, 2.0);
        assert_eq!(MeanStd::of([0.85, 0.85]).display(2), "0.85 ± 0.00");
    }

    #[test]
    fn records_group_by_point_in_first_seen_order() {
        let records = vec![
            record("4", 1, 0.80, 10.0, false),
            record("1", 1, 0.70, 5.0, false),
            record("4", 2, 0.90, 12.0, false),
            record("4", 3, f64::NAN, 11.0, true),
        ];
        let s = aggregate(&records);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].point["heads"], "4");
        assert_eq!(s[0].runs, 3);
        assert_eq!(s[0].diverged, 1);
        assert_eq!(s[0].params, 2000);
        // the diverged run's NaN is left out of the validation mean: (0.8 + 0.9) / 2
        assert!((s[0].final_valid.mean - 0.85).abs() < 1e-12);
        assert_eq!(s[0].final_valid.n, 2);
        // but its time counts: (10 + 12 + 11) / 3 = 11, sample std 1
        assert!((s[0].seconds.mean - 11.0).abs() < 1e-12);
        assert!((s[0].seconds.std - 1.0).abs() < 1e-12);
        // spikes 1, 2, 3: mean 2
        assert!((s[0].loss_spikes.mean - 2.0).abs() < 1e-12);
        assert_eq!(s[0].peak_memory_bytes, Some(30));
        assert_eq!(s[1].point["heads"], "1");
        assert_eq!(s[1].runs, 1);

        let settings = vec!["heads".to_string()];
        let header = PointSummary::csv_header(&settings);
        assert!(header.starts_with(
            "heads,runs,diverged,params,peak_memory_bytes,metric,final_valid_mean,final_valid_std,"
        ));
        let row = s[0].csv_row(&settings);
        assert!(row.starts_with("4,3,1,2000,30,accuracy,0.85"), "{row}");
        assert_eq!(row.split(',').count(), header.split(',').count());
        let md = markdown_table(&s);
        assert!(
            md.contains("| heads=4 | 3 | 1 | 2000 | 0.8500 ± 0.0707 |"),
            "{md}"
        );
        assert!(md.starts_with("| point | runs | diverged | params | final accuracy |"));
        assert_eq!(md.lines().count(), 4);
    }

    #[test]
    fn learning_curves_average_seeds_epoch_by_epoch() {
        // seeds 1, 2, 3 ran 3, 4 and 5 epochs
        let records = vec![
            record("4", 1, 0.80, 10.0, false),
            record("4", 2, 0.90, 12.0, false),
            record("4", 3, 0.70, 11.0, false),
        ];
        let curve = &aggregate(&records)[0].curve;
        assert_eq!(curve.len(), 5);
        assert_eq!(curve[0].epoch, 1);
        // epoch 1: valid losses 2, 3, 4 -> mean 3, sample std 1; train loss 1 for all
        assert!((curve[0].valid_loss.mean - 3.0).abs() < 1e-12);
        assert!((curve[0].valid_loss.std - 1.0).abs() < 1e-12);
        assert_eq!(curve[0].train_loss.mean, 1.0);
        assert_eq!(curve[0].valid.n, 3);
        // epoch 4: seeds 2 and 3 only: valid losses 6, 7 -> 6.5; metrics 0.9, 0.7 -> 0.8
        assert_eq!(curve[3].valid_loss.n, 2);
        assert!((curve[3].valid_loss.mean - 6.5).abs() < 1e-12);
        assert!((curve[3].valid.mean - 0.8).abs() < 1e-12);
        // epoch 5: seed 3 alone, std 0
        assert_eq!(curve[4].valid_loss.n, 1);
        assert_eq!(curve[4].valid_loss.mean, 8.0);
        assert_eq!(curve[4].train_loss.mean, 0.2);
        assert_eq!(curve[4].valid.std, 0.0);
    }
}
