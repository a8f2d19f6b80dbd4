//! `sweep`: trains every grid point of a declared sweep for several seeds and writes a report
//! (records.jsonl, summary.csv, summary.md and plots of the metric against each swept value).
//!
//! ```text
//! cargo run --release --bin sweep -- --list
//! cargo run --release --bin sweep -- sweep-heads --epochs 3
//! cargo run --release --bin sweep -- sweep-heads --shard 0/4   # one task of a job array
//! cargo run --release --bin sweep -- sweep-heads --merge copies/shard-*   # their records
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use anyhow::{bail, Context, Result};
use attn_runtime::data::builtin;
use attn_runtime::experiment::{
    aggregate, markdown_table, merge_records, read_records, read_summary_csv, run_sweep,
    CurveSummary, MeanStd, PointSummary, RunRecord, Shard, SweepDecl, SweepMetric, SweepObserver,
    SweepRun, RECORDS_FILE,
};
use attn_runtime::registry::Registry;
use attn_runtime::train::{recommended, write_atomic};
use attn_runtime::viz::{render_chart_png, render_chart_svg, Chart, Series, VizError};
use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};

/// Train every grid point of a declared sweep and report on it.
#[derive(Parser, Debug, Clone)]
#[command(version, about)]
pub struct Args {
    /// The sweep's name (see --list).
    sweep: Option<String>,
    /// List the declared sweeps and exit.
    #[arg(long)]
    list: bool,
    /// Epochs per run (default: the data set's recommended number).
    #[arg(long)]
    epochs: Option<usize>,
    /// Use at most this many training examples per run.
    #[arg(long)]
    max_train: Option<usize>,
    /// Seeds per setting instead of the declared number.
    #[arg(long)]
    seeds: Option<u64>,
    /// Where sweeps go; this one goes to <out>/<sweep-name> (rerun to resume).
    #[arg(long, default_value = "sweeps")]
    out: PathBuf,
    /// Also draw each run's attention heatmaps at the end of its training (off by default:
    /// sweeps compare numbers, and drawing takes time).
    #[arg(long)]
    heatmaps: bool,
    /// Train nothing: draw the charts of <out>/<sweep-name> again, from its records.jsonl, or
    /// where that is missing from its summary.csv (which has no learning curves, so those
    /// charts are left out). summary.csv and summary.md are left as they are.
    #[arg(long, conflicts_with_all = ["shard", "merge"])]
    replot: bool,
    /// Train only share i of n of the runs (0-based: every n-th run of the sweep's fixed run
    /// list, from the i-th), into <out>/<sweep-name>/shard-i-of-n: one task of a job array
    /// (Slurm: $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT; Kubernetes:
    /// $JOB_COMPLETION_INDEX/<completions>). The report is written once all shares are done, by
    /// this command without --shard over the same --out, or by --merge.
    #[arg(long, value_name = "i/n", conflicts_with = "merge")]
    shard: Option<Shard>,
    /// Train nothing: gather the records of these sweep or share directories (copied from the
    /// machines that ran the shares) into <out>/<sweep-name> and write the report.
    #[arg(long, value_name = "DIR", num_args = 1..)]
    merge: Vec<PathBuf>,
}

/// The `sweep` command over `registry`'s models, with the process's arguments: what a binary's
/// `main` calls. Exits with status 1 (and the error on standard error) when the command fails.
pub fn main(registry: &Registry) {
    // the main thread drives the kernels: let it be a worker of their thread pool
    attn_runtime::threads::join_worker_pool();
    crate::exit_on_error(run(registry, Args::parse()));
}

struct Progress(ProgressBar);

impl SweepObserver for Progress {
    fn on_run_start(&mut self, index: usize, _total: usize, run: &SweepRun) {
        self.0.set_position(index as u64);
        let point: Vec<String> = run.point.iter().map(|(k, v)| format!("{k}={v}")).collect();
        self.0
            .set_message(format!("{} seed {}", point.join(" "), run.seed));
    }
    fn on_run_done(&mut self, record: &RunRecord) {
        self.0.inc(1);
        let status = if record.stability.diverged {
            "diverged".to_string()
        } else {
            let metric = record.metric.map_or("valid", SweepMetric::name);
            format!("best {metric} {:.4}", record.best_valid)
        };
        self.0.println(format!(
            "{:<40} seed {}  {status}  {:.1} s",
            record.point_label(),
            record.seed,
            record.seconds
        ));
    }
}

/// Runs the command: what [`main`] does after parsing the arguments.
///
/// # Errors
/// Whatever stops the command (unknown model, bad data or run directory, ...), with a message
/// that says what to fix.
pub fn run(registry: &Registry, args: Args) -> Result<()> {
    registry.check()?;
    if args.list {
        for s in registry.sweep_decls() {
            println!("{:<18} {} point(s)  {}", s.name, s.points.len(), s.question);
        }
        return Ok(());
    }
    let Some(name) = args.sweep.as_deref() else {
        bail!("name a sweep (see `sweep --list`), e.g. `sweep sweep-heads`");
    };
    let decl = registry.find_sweep(name)?;
    if args.replot {
        return replot(&args.out.join(decl.name), decl);
    }
    if args.seeds == Some(0) || args.epochs == Some(0) {
        bail!("--seeds and --epochs must be at least 1");
    }
    let first = decl.points.first().context("the sweep has no grid point")?;
    let data_name = first
        .entry
        .meta()
        .data
        .context("the sweep's models name no data set")?;
    let data_name = data_name.name();
    let dataset = builtin(data_name)?;
    let seeds = args.seeds.unwrap_or(decl.seeds);
    let mut runs = decl.runs(|entry| {
        let mut config = recommended(entry.meta(), data_name);
        if let Some(e) = args.epochs {
            config.epochs = e;
        }
        if args.max_train.is_some() {
            config.data.max_train = args.max_train;
        }
        config.attention_reports = args.heatmaps;
        config
    })?;
    runs.retain(|r| r.seed < seeds);
    if seeds > decl.seeds {
        let extra: Vec<SweepRun> = runs
            .iter()
            .filter(|r| r.seed == 0)
            .flat_map(|r| {
                (decl.seeds..seeds).map(move |seed| SweepRun {
                    point: r.point.clone(),
                    entry: r.entry,
                    config: r.config.clone(),
                    seed,
                })
            })
            .collect();
        runs.extend(extra);
    }
    let mut dir = args.out.join(decl.name);
    if !args.merge.is_empty() {
        let order: Vec<_> = runs.iter().map(SweepRun::key).collect();
        let records = merge_records(&args.merge, &order, None)?;
        let lines: String = records
            .iter()
            .map(|r| serde_json::to_string(r).map(|l| l + "\n"))
            .collect::<Result<_, _>>()?;
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        write_atomic(&dir.join(RECORDS_FILE), lines.as_bytes())?;
        println!(
            "{}: {} records merged from {} director{} into {}",
            decl.name,
            records.len(),
            args.merge.len(),
            if args.merge.len() == 1 { "y" } else { "ies" },
            dir.display()
        );
        return report(&dir, decl.question, &records);
    }
    if let Some(shard) = args.shard {
        runs = shard.select(runs);
        dir = dir.join(shard.dir_name());
    }

    let stop =
        crate::stop_on_ctrl_c("stopping after this batch (rerun the same command to resume)")?;

    println!(
        "{}: {} run(s) ({} grid point(s), {} seed(s)) on {data_name}, into {}",
        decl.name,
        runs.len(),
        decl.points.len(),
        seeds,
        dir.display()
    );
    let bar = ProgressBar::new(runs.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("[{elapsed_precise}] {bar:30} {pos}/{len} runs  {msg}")
            .expect("valid template"),
    );
    let records = run_sweep(&runs, &dataset, &dir, &mut Progress(bar.clone()), stop)?;
    bar.finish_and_clear();
    if stop.load(Ordering::SeqCst) {
        println!(
            "interrupted after {} of {} runs; rerun the same command to resume",
            records.len(),
            runs.len()
        );
        return Ok(());
    }
    if let Some(shard) = args.shard {
        println!(
            "share {shard}: {} run(s) recorded in {}; once every share is done, `sweep {}` \
             over the same --out (or `--merge` with the shares' directories) writes the report",
            records.len(),
            dir.display(),
            decl.name
        );
        return Ok(());
    }
    report(&dir, decl.question, &records)
}

/// The summary and charts of `records` into `dir`, and the table on standard output.
fn report(dir: &Path, question: &str, records: &[RunRecord]) -> Result<()> {
    let summary = aggregate(records);
    write_report(dir, question, records, &summary)?;
    println!("{}", markdown_table(&summary));
    println!("report: {}", dir.join("summary.md").display());
    Ok(())
}

/// The swept settings, in the order the first record lists them.
fn settings(records: &[RunRecord]) -> Vec<String> {
    records
        .first()
        .map(|r| r.point.keys().cloned().collect())
        .unwrap_or_default()
}

fn write_report(
    dir: &Path,
    question: &str,
    records: &[RunRecord],
    summary: &[PointSummary],
) -> Result<()> {
    let keys = settings(records);
    let mut csv = PointSummary::csv_header(&keys) + "\n";
    for s in summary {
        csv.push_str(&(s.csv_row(&keys) + "\n"));
    }
    write_atomic(&dir.join("summary.csv"), csv.as_bytes())?;
    let md = format!("# {question}\n\n{}\n", markdown_table(summary));
    let md = md + &write_charts(dir, &keys, summary)?;
    write_atomic(&dir.join("summary.md"), md.as_bytes())?;
    Ok(())
}

/// Draws the charts of `summary` against each of `keys` into `dir`, and returns the markdown
/// that shows them.
fn write_charts(dir: &Path, keys: &[String], summary: &[PointSummary]) -> Result<String> {
    let mut md = String::new();
    for key in keys {
        let charts = [
            (format!("valid-vs-{key}"), metric_chart(key, summary)),
            (format!("time-vs-{key}"), time_chart(key, summary)),
            (
                format!("curves-by-{key}"),
                curve_chart(key, summary, Curves::Metric),
            ),
            (
                format!("loss-curves-by-{key}"),
                curve_chart(key, summary, Curves::Loss),
            ),
        ];
        for (file, chart) in charts {
            if matches!(chart.validate(), Err(VizError::Empty { .. })) {
                continue; // nothing finite to draw (every run diverged, or no curves recorded)
            }
            write_chart(dir, &file, &chart)?;
            md.push_str(&format!("\n![{}]({file}.png)\n", chart.title));
        }
    }
    Ok(md)
}

/// `sweep --replot`: the charts of the sweep in `dir` drawn again without training.
fn replot(dir: &Path, decl: &SweepDecl) -> Result<()> {
    let records = read_records(dir)?;
    let (keys, mut summary) = if records.is_empty() {
        let path = dir.join("summary.csv");
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "{} has neither records.jsonl nor summary.csv to draw from",
                dir.display()
            )
        })?;
        read_summary_csv(&text, &path.display().to_string())?
    } else {
        (settings(&records), aggregate(&records))
    };
    // files older than the metric column: the metric is the sweep's models' own
    let metric = decl
        .points
        .first()
        .map(|p| SweepMetric::for_task(&p.entry.meta().task));
    for s in summary.iter_mut().filter(|s| s.metric.is_none()) {
        s.metric = metric;
    }
    write_charts(dir, &keys, &summary)?;
    println!("charts redrawn in {}", dir.display());
    Ok(())
}

/// `<file>.png` and `<file>.svg` of `chart` in `dir`.
fn write_chart(dir: &Path, file: &str, chart: &Chart) -> Result<()> {
    write_atomic(
        &dir.join(format!("{file}.png")),
        &render_chart_png(chart).with_context(|| format!("drawing {file}"))?,
    )?;
    write_atomic(
        &dir.join(format!("{file}.svg")),
        render_chart_svg(chart)
            .with_context(|| format!("drawing {file}"))?
            .as_bytes(),
    )?;
    Ok(())
}

/// The name of the validation metric `summary`'s runs recorded.
fn metric_name(summary: &[PointSummary]) -> &'static str {
    summary
        .first()
        .and_then(|s| s.metric)
        .map_or("validation metric", SweepMetric::name)
}

/// Best validation metric and the overfitting gap (mean ± std over seeds) against a swept
/// setting, one series per value of the other settings.
fn metric_chart(key: &str, summary: &[PointSummary]) -> Chart {
    let (series, x_categories) = series_by(key, summary, |s| {
        [("valid", s.best_valid), ("gap", s.train_valid_gap)]
    });
    let name = metric_name(summary);
    Chart {
        title: format!("validation {name} vs {key}"),
        x_label: key.to_string(),
        y_label: format!("best valid {name}; overfitting gap (mean ± std)"),
        series,
        log_x: false,
        x_categories,
    }
}

/// Seconds per training step against a swept setting.
fn time_chart(key: &str, summary: &[PointSummary]) -> Chart {
    let (series, x_categories) = series_by(key, summary, |s| [("s/step", s.seconds_per_step)]);
    Chart {
        title: format!("training time per step vs {key}"),
        x_label: key.to_string(),
        y_label: "seconds per step (mean ± std)".into(),
        series,
        log_x: false,
        x_categories,
    }
}

/// What a learning-curve chart draws per epoch.
#[derive(Clone, Copy)]
enum Curves {
    /// The validation metric.
    Metric,
    /// The training and validation losses.
    Loss,
}

/// Learning curves overlaid, one per grid point labelled by its `key` value: the validation
/// metric or the training and validation losses per epoch, mean ± std over seeds.
fn curve_chart(key: &str, summary: &[PointSummary], what: Curves) -> Chart {
    let mut series = Vec::new();
    for s in summary {
        let label = point_label(key, s);
        let line = |name: &str, f: fn(&CurveSummary) -> MeanStd| Series {
            label: name.to_string(),
            points: s
                .curve
                .iter()
                .map(|c| (c.epoch as f64, f(c).mean))
                .collect(),
            error: Some(s.curve.iter().map(|c| f(c).std).collect()),
        };
        match what {
            Curves::Metric => series.push(line(&label, |c| c.valid)),
            Curves::Loss => {
                series.push(line(&format!("{label} train"), |c| c.train_loss));
                series.push(line(&format!("{label} valid"), |c| c.valid_loss));
            }
        }
    }
    let (title, y_label) = match what {
        Curves::Metric => (
            format!("learning curves by {key}"),
            format!("validation {} (mean ± std)", metric_name(summary)),
        ),
        Curves::Loss => (format!("loss curves by {key}"), "loss (mean ± std)".into()),
    };
    Chart {
        title,
        x_label: "epoch".into(),
        y_label,
        series,
        log_x: false,
        x_categories: Vec::new(),
    }
}

/// `key=value` first, then the point's other settings.
fn point_label(key: &str, s: &PointSummary) -> String {
    let mut parts = vec![format!("{key}={}", s.point.get(key).map_or("?", |v| v))];
    parts.extend(
        s.point
            .iter()
            .filter(|(k, _)| k.as_str() != key)
            .map(|(k, v)| format!("{k}={v}")),
    );
    parts.join(" ")
}

/// One series per measurement and per combination of the other settings, against `key`: its
/// numeric value, or, when a value is not a number (an activation), its position among the
/// values in the order the sweep declares them (returned as the axis' categories).
fn series_by<const N: usize>(
    key: &str,
    summary: &[PointSummary],
    values: impl Fn(&PointSummary) -> [(&'static str, MeanStd); N],
) -> (Vec<Series>, Vec<String>) {
    let mut categories: Vec<String> = Vec::new();
    for s in summary {
        if let Some(v) = s.point.get(key) {
            if !categories.contains(v) {
                categories.push(v.clone());
            }
        }
    }
    let numeric = categories.iter().all(|v| v.parse::<f64>().is_ok());
    let mut groups: BTreeMap<(String, usize), Vec<(f64, f64, f64)>> = BTreeMap::new();
    let mut names = [""; N];
    for s in summary {
        let Some(value) = s.point.get(key) else {
            continue;
        };
        let x = if numeric {
            value.parse().unwrap_or(f64::NAN)
        } else {
            categories.iter().position(|c| c == value).unwrap_or(0) as f64
        };
        let rest: Vec<String> = s
            .point
            .iter()
            .filter(|(k, _)| k.as_str() != key)
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        for (i, (name, m)) in values(s).into_iter().enumerate() {
            names[i] = name;
            groups
                .entry((rest.join(" "), i))
                .or_default()
                .push((x, m.mean, m.std));
        }
    }
    let series = groups
        .into_iter()
        .map(|((rest, i), mut points)| {
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
            let label = if rest.is_empty() {
                names[i].to_string()
            } else {
                format!("{} ({rest})", names[i])
            };
            Series {
                label,
                points: points.iter().map(|p| (p.0, p.1)).collect(),
                error: Some(points.iter().map(|p| p.2).collect()),
            }
        })
        .collect();
    (series, if numeric { Vec::new() } else { categories })
}
