//! `sweep`: trains every grid point of a declared sweep for several seeds and writes a report
//! (records.jsonl, summary.csv, summary.md and plots of the metric against each swept value).
//!
//! ```text
//! cargo run --release --bin sweep -- --list
//! cargo run --release --bin sweep -- sweep-heads --epochs 3
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::Ordering;

use anyhow::{bail, Context, Result};
use attn_models::sweeps::{find_sweep, SWEEPS};
use attn_runtime::data::builtin;
use attn_runtime::experiment::{
    aggregate, markdown_table, run_sweep, PointSummary, RunRecord, SweepObserver, SweepRun,
};
use attn_runtime::train::{recommended, write_atomic};
use attn_runtime::viz::{render_chart_png, render_chart_svg, Chart, Series};
use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};

/// Train every grid point of a declared sweep and report on it.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
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
}

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
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
            format!("best valid {:.4}", record.best_valid)
        };
        self.0.println(format!(
            "{:<40} seed {}  {status}  {:.1} s",
            record.point_label(),
            record.seed,
            record.seconds
        ));
    }
}

fn run() -> Result<()> {
    let args = Args::parse();
    if args.list {
        for s in SWEEPS {
            println!("{:<18} {} point(s)  {}", s.name, s.points.len(), s.question);
        }
        return Ok(());
    }
    let Some(name) = args.sweep.as_deref() else {
        bail!("name a sweep (see `sweep --list`), e.g. `sweep sweep-heads`");
    };
    let Some(decl) = find_sweep(name) else {
        let names: Vec<&str> = SWEEPS.iter().map(|s| s.name).collect();
        bail!(
            "unknown sweep `{name}`{}; the declared sweeps are: {}",
            attn_runtime::suggest::closest(name, names.iter().copied())
                .map(|c| format!(" (did you mean `{c}`?)"))
                .unwrap_or_default(),
            names.join(", ")
        );
    };
    if args.seeds == Some(0) || args.epochs == Some(0) {
        bail!("--seeds and --epochs must be at least 1");
    }
    let first = decl.points.first().context("the sweep has no grid point")?;
    let data_name = first
        .entry
        .meta()
        .data
        .context("the sweep's models name no data set")?;
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
    let dir = args.out.join(decl.name);

    let stop =
        attn_cli::stop_on_ctrl_c("stopping after this batch (rerun the same command to resume)")?;

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
    let records = run_sweep(&runs, &dataset, &dir, &mut Progress(bar.clone()), &stop)?;
    bar.finish_and_clear();
    if stop.load(Ordering::SeqCst) {
        println!(
            "interrupted after {} of {} runs; rerun the same command to resume",
            records.len(),
            runs.len()
        );
        return Ok(());
    }
    let summary = aggregate(&records);
    write_report(&dir, decl.question, &records, &summary)?;
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
    dir: &std::path::Path,
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
    let mut md = format!("# {question}\n\n{}\n", markdown_table(summary));
    for key in &keys {
        let Some(chart) = metric_chart(key, summary) else {
            continue;
        };
        let file = format!("valid-vs-{key}");
        write_atomic(
            &dir.join(format!("{file}.png")),
            &render_chart_png(&chart).context("drawing a chart")?,
        )?;
        write_atomic(
            &dir.join(format!("{file}.svg")),
            render_chart_svg(&chart)
                .context("drawing a chart")?
                .as_bytes(),
        )?;
        md.push_str(&format!("\n![{}]({file}.png)\n", chart.title));
        let Some(time) = time_chart(key, summary) else {
            continue;
        };
        write_atomic(
            &dir.join(format!("time-vs-{key}.png")),
            &render_chart_png(&time).context("drawing a chart")?,
        )?;
        md.push_str(&format!("\n![{}](time-vs-{key}.png)\n", time.title));
    }
    write_atomic(&dir.join("summary.md"), md.as_bytes())?;
    Ok(())
}

/// Best validation metric and train − validation gap (mean ± std over seeds) against a numeric
/// swept setting, one series per value of the other settings.
fn metric_chart(key: &str, summary: &[PointSummary]) -> Option<Chart> {
    let series = series_by(key, summary, |s| {
        [
            ("valid", s.best_valid.mean, s.best_valid.std),
            ("gap", s.train_valid_gap.mean, s.train_valid_gap.std),
        ]
    })?;
    Some(Chart {
        title: format!("validation metric vs {key}"),
        x_label: key.to_string(),
        y_label: "best valid; train - valid gap (mean ± std)".into(),
        series,
        log_x: false,
    })
}

/// Seconds per training step against a numeric swept setting.
fn time_chart(key: &str, summary: &[PointSummary]) -> Option<Chart> {
    let series = series_by(key, summary, |s| {
        [("s/step", s.seconds_per_step.mean, s.seconds_per_step.std)]
    })?;
    Some(Chart {
        title: format!("training time per step vs {key}"),
        x_label: key.to_string(),
        y_label: "seconds per step".into(),
        series,
        log_x: false,
    })
}

fn series_by<const N: usize>(
    key: &str,
    summary: &[PointSummary],
    values: impl Fn(&PointSummary) -> [(&'static str, f64, f64); N],
) -> Option<Vec<Series>> {
    // numeric settings only; categorical ones (activation) are in the table
    let mut groups: BTreeMap<(String, usize), Vec<(f64, f64, f64)>> = BTreeMap::new();
    for s in summary {
        let x: f64 = s.point.get(key)?.parse().ok()?;
        let rest: Vec<String> = s
            .point
            .iter()
            .filter(|(k, _)| k.as_str() != key)
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        for (i, (_, mean, std)) in values(s).into_iter().enumerate() {
            groups
                .entry((rest.join(" "), i))
                .or_default()
                .push((x, mean, std));
        }
    }
    let names: Vec<&str> = summary
        .first()
        .map(|s| values(s).iter().map(|(n, _, _)| *n).collect())
        .unwrap_or_default();
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
    Some(series)
}
