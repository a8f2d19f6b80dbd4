//! Reading a sweep's `summary.csv` back into [`PointSummary`]s, so that its charts can be drawn
//! again without the run records (which hold the learning curves the CSV does not).

use std::collections::BTreeMap;

use super::{MeanStd, PointSummary, SweepMetric};
use crate::error::AttnError;

/// The settings (the columns before `runs`) and the summaries of a `summary.csv` as
/// [`PointSummary::csv_row`] writes it, or as older sweeps wrote it (no `metric` column).
/// Curves come back empty; an empty cell is an unknown value (NaN, or `None`); each measurement's
/// `n` is the point's runs that did not diverge.
///
/// # Errors
/// [`AttnError::Data`] naming the line for a file that is not such a CSV.
pub fn read_summary_csv(
    text: &str,
    source: &str,
) -> Result<(Vec<String>, Vec<PointSummary>), AttnError> {
    let bad = |line: usize, reason: String| {
        AttnError::data(
            format!("{source}:{line}"),
            reason,
            "give the summary.csv a sweep wrote",
        )
    };
    let mut reader = csv::ReaderBuilder::new().from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| bad(1, e.to_string()))?
        .iter()
        .map(String::from)
        .collect();
    let Some(runs_at) = header.iter().position(|h| h == "runs") else {
        return Err(bad(1, "no `runs` column".into()));
    };
    let settings = header[..runs_at].to_vec();
    let mut out = Vec::new();
    for (i, row) in reader.records().enumerate() {
        let line = i + 2;
        let row = row.map_err(|e| bad(line, e.to_string()))?;
        let cell = |name: &str| -> Option<&str> {
            let at = header.iter().position(|h| h == name)?;
            row.get(at).filter(|c| !c.is_empty())
        };
        let count = |name: &str| -> Result<usize, AttnError> {
            let c = cell(name).ok_or_else(|| bad(line, format!("no `{name}`")))?;
            c.parse()
                .map_err(|_| bad(line, format!("`{name}` is `{c}`, not a count")))
        };
        let number = |name: &str| -> Result<f64, AttnError> {
            cell(name).map_or(Ok(f64::NAN), |c| {
                c.parse()
                    .map_err(|_| bad(line, format!("`{name}` is `{c}`, not a number")))
            })
        };
        let (runs, diverged) = (count("runs")?, count("diverged")?);
        let measure = |name: &str| -> Result<MeanStd, AttnError> {
            let mean = number(&format!("{name}_mean"))?;
            Ok(MeanStd {
                mean,
                std: number(&format!("{name}_std"))?,
                n: if mean.is_finite() {
                    runs - diverged.min(runs)
                } else {
                    0
                },
            })
        };
        let metric = match cell("metric") {
            None => None,
            Some(name) => Some(
                [
                    SweepMetric::ExactMatch,
                    SweepMetric::Accuracy,
                    SweepMetric::Perplexity,
                ]
                .into_iter()
                .find(|m| m.name() == name)
                .ok_or_else(|| bad(line, format!("unknown metric `{name}`")))?,
            ),
        };
        let point: BTreeMap<String, String> = settings
            .iter()
            .enumerate()
            .map(|(k, name)| (name.clone(), row.get(k).unwrap_or("").to_string()))
            .collect();
        out.push(PointSummary {
            point,
            runs,
            diverged,
            params: count("params")?,
            metric,
            final_valid: measure("final_valid")?,
            best_valid: measure("best_valid")?,
            train_valid_gap: measure("train_valid_gap")?,
            seconds: measure("seconds")?,
            seconds_per_step: measure("seconds_per_step")?,
            loss_spikes: measure("loss_spikes")?,
            grad_norm_spread: measure("grad_norm_spread")?,
            peak_memory_bytes: match cell("peak_memory_bytes") {
                None => None,
                Some(_) => Some(count("peak_memory_bytes")? as u64),
            },
            curve: Vec::new(),
        });
    }
    Ok((settings, out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(heads: &str, best: f64, diverged: usize) -> PointSummary {
        let m = |mean: f64| MeanStd {
            mean,
            std: mean / 10.0,
            n: 3 - diverged,
        };
        PointSummary {
            point: [("heads".to_string(), heads.to_string())].into(),
            runs: 3,
            diverged,
            params: 9648,
            metric: Some(SweepMetric::Accuracy),
            final_valid: m(best - 0.01),
            best_valid: m(best),
            train_valid_gap: m(0.005),
            seconds: m(0.4),
            seconds_per_step: m(0.0017),
            loss_spikes: m(0.0),
            grad_norm_spread: m(0.6),
            peak_memory_bytes: Some(23_608_422),
            curve: Vec::new(),
        }
    }

    #[test]
    fn what_csv_row_writes_reads_back() {
        let keys = vec!["heads".to_string()];
        let points = [summary("1", 0.7505, 0), summary("8", 0.7731, 1)];
        let mut csv = PointSummary::csv_header(&keys) + "\n";
        for p in &points {
            csv.push_str(&(p.csv_row(&keys) + "\n"));
        }
        let (settings, back) = read_summary_csv(&csv, "summary.csv").unwrap();
        assert_eq!(settings, keys);
        assert_eq!(back, points);
    }

    #[test]
    fn older_files_without_a_metric_column_read_and_bad_ones_are_errors() {
        let old = "layers,lr,runs,diverged,params,peak_memory_bytes,final_valid_mean,\
                   final_valid_std,best_valid_mean,best_valid_std,train_valid_gap_mean,\
                   train_valid_gap_std,seconds_mean,seconds_std,seconds_per_step_mean,\
                   seconds_per_step_std,loss_spikes_mean,loss_spikes_std,\
                   grad_norm_spread_mean,grad_norm_spread_std\n\
                   1,0.001,3,0,9584,23608422,0.55,0.03,0.56,0.03,0.005,0.01,0.37,0.02,\
                   0.0019,0.0001,0,0,0.6,0.1\n";
        let (settings, back) = read_summary_csv(old, "summary.csv").unwrap();
        assert_eq!(settings, ["layers", "lr"]);
        assert_eq!(back[0].point["lr"], "0.001");
        assert_eq!(back[0].metric, None);
        assert_eq!(back[0].best_valid.mean, 0.56);
        assert_eq!(back[0].seconds_per_step.n, 3);
        let err = read_summary_csv("a,b\n1,2\n", "x.csv").unwrap_err();
        assert!(err.to_string().contains("runs"), "{err}");
        let err = read_summary_csv(&old.replace("9584", "many"), "x.csv").unwrap_err();
        assert!(err.to_string().contains("x.csv:2"), "{err}");
    }
}
