//! A sweep trains every grid point for every seed, records each run, aggregates them, and an
//! interrupted sweep resumes by skipping the runs it already recorded; a sweep run in shares
//! merges into the records of the same sweep run at once.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;

use attn_runtime::data::{builtin, PrepareOptions};
use attn_runtime::experiment::{
    aggregate, largest_allocation_bytes, live_heap_bytes, merge_records, peak_heap_bytes,
    read_records, reset_peak_heap, run_sweep, PeakAlloc, RunRecord, Shard, SweepObserver, SweepRun,
    RECORDS_FILE,
};
use attn_runtime::prelude::*;
use attn_runtime::train::TrainConfig;
use attn_runtime::zoo::Entry;

attention_model! {
    /// One head.
    #[name = "sweep-sorter-h1", data = "sort"]
    pub struct SorterH1 {
        arch: SelfAttention,
        task: Tag { vocab: 16, max_len: 12, tags: 16 },
        d_model: 16, heads: 1, layers: 1,
    }
}

attention_model! {
    /// Four heads.
    #[name = "sweep-sorter-h4", data = "sort"]
    pub struct SorterH4 {
        arch: SelfAttention,
        task: Tag { vocab: 16, max_len: 12, tags: 16 },
        d_model: 16, heads: 4, layers: 1,
    }
}

// Counts heap bytes so that runs record their peak memory.
#[global_allocator]
static ALLOC: PeakAlloc = PeakAlloc;

/// Held by the tests that reset the allocator's marks (a sweep resets them at each run's start),
/// so that one test's reset cannot land between another's allocation and its reading.
static HEAP_MARKS: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn heap_marks() -> std::sync::MutexGuard<'static, ()> {
    HEAP_MARKS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[test]
fn the_counting_allocator_sees_an_allocation_and_resets_its_peak() {
    let _marks = heap_marks();
    // other tests of this binary allocate concurrently, so only lower bounds are certain
    let before = live_heap_bytes().expect("PeakAlloc is installed");
    reset_peak_heap();
    let block = vec![1u8; 8 << 20];
    let during = live_heap_bytes().unwrap();
    assert!(during >= 8 << 20, "{during}");
    assert!(largest_allocation_bytes().unwrap() >= 8 << 20);
    drop(block);
    let peak = peak_heap_bytes().unwrap();
    assert!(
        peak >= before + (8 << 20) || peak >= during,
        "{before} {during} {peak}"
    );
    // after a reset the mark starts again from the bytes live now
    reset_peak_heap();
    let reset = peak_heap_bytes().unwrap();
    assert!(reset < peak, "{reset} {peak}");
}

#[derive(Default)]
struct Started(Vec<(String, u64)>);

impl SweepObserver for Started {
    fn on_run_start(&mut self, _index: usize, _total: usize, run: &SweepRun) {
        self.0.push((run.point["heads"].clone(), run.seed));
    }
}

fn config() -> TrainConfig {
    TrainConfig {
        epochs: 1,
        batch_size: 32,
        lr: 3e-3,
        data: PrepareOptions {
            max_train: Some(128),
            max_eval: Some(32),
            ..Default::default()
        },
        attention_reports: false,
        ..TrainConfig::default()
    }
}

/// The runs of a sweep over one and four heads, `seeds` each.
fn head_runs<'a>(
    h1: &'a Entry<SorterH1>,
    h4: &'a Entry<SorterH4>,
    seeds: u64,
) -> Vec<SweepRun<'a>> {
    let mut runs = Vec::new();
    for (heads, entry) in [("1", h1 as &dyn attn_runtime::zoo::ZooEntry), ("4", h4)] {
        for seed in 0..seeds {
            runs.push(SweepRun {
                point: BTreeMap::from([("heads".to_string(), heads.to_string())]),
                entry,
                config: config(),
                seed,
            });
        }
    }
    runs
}

#[test]
fn a_sweep_records_every_run_and_resumes_where_it_stopped() {
    let _marks = heap_marks();
    let dir = std::env::temp_dir().join(format!("attn-sweep-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let data = builtin("sort").unwrap();
    let (h1, h4) = (Entry::<SorterH1>::NEW, Entry::<SorterH4>::NEW);
    let runs = head_runs(&h1, &h4, 2);
    let stop = AtomicBool::new(false);
    let mut started = Started::default();
    let records = run_sweep(&runs, &data, &dir, &mut started, &stop).unwrap();
    assert_eq!(started.0.len(), 4);
    assert_eq!(records.len(), 4);
    for (r, run) in records.iter().zip(&runs) {
        assert_eq!((&r.point, r.seed), (&run.point, run.seed));
        assert!((0.0..=1.0).contains(&r.best_valid), "{r:?}");
        assert!(r.final_valid <= r.best_valid + 1e-12, "{r:?}");
        assert!(r.seconds > 0.0 && r.seconds_per_step > 0.0, "{r:?}");
        assert!(!r.stability.diverged);
        assert!(r.stability.grad_norm_spread >= 0.0);
        // one learning-curve entry per epoch, ending at the final metric
        assert_eq!(r.curve.len(), 1);
        assert_eq!(r.curve[0].epoch, 1);
        assert_eq!(r.curve[0].valid, r.final_valid);
        assert!(r.curve[0].train_loss > 0.0 && r.curve[0].valid_loss > 0.0);
        // the run's own peak: more than nothing, less than a gigabyte for this toy model
        let peak = r.peak_memory_bytes.expect("PeakAlloc is installed");
        assert!(peak > 0 && peak < 1 << 30, "{peak}");
    }
    // runs of a sweep draw no attention heatmaps when told not to
    let run_dirs: Vec<_> = std::fs::read_dir(dir.join("runs"))
        .unwrap()
        .flat_map(|model| std::fs::read_dir(model.unwrap().path()).unwrap())
        .map(|run| run.unwrap().path())
        .collect();
    assert_eq!(run_dirs.len(), 4);
    for run_dir in run_dirs {
        assert!(
            run_dir.join("summary.json").exists(),
            "{}",
            run_dir.display()
        );
        assert!(!run_dir.join("attention").exists(), "{}", run_dir.display());
    }
    // the same architecture has the same parameter count for each seed, more heads do not change
    // it (the projections are d_model × d_model either way), but the seeds change the outcome
    assert_eq!(records[0].params, records[1].params);
    assert_eq!(records[0].params, records[2].params);
    assert_ne!(records[0].stability, records[1].stability);
    let summary = aggregate(&records);
    assert_eq!(summary.len(), 2);
    assert_eq!(summary[0].runs, 2);
    let mean = (records[0].best_valid + records[1].best_valid) / 2.0;
    assert!((summary[0].best_valid.mean - mean).abs() < 1e-12);

    // a finished sweep trains nothing again
    let mut again = Started::default();
    let same = run_sweep(&runs, &data, &dir, &mut again, &stop).unwrap();
    assert!(again.0.is_empty());
    assert_eq!(same, records);

    // drop the last record, as if the sweep had stopped before it: only that run trains
    let text = std::fs::read_to_string(dir.join(RECORDS_FILE)).unwrap();
    let kept: Vec<&str> = text.lines().take(3).collect();
    std::fs::write(dir.join(RECORDS_FILE), kept.join("\n") + "\n").unwrap();
    assert_eq!(read_records(&dir).unwrap().len(), 3);
    let mut resumed = Started::default();
    let after = run_sweep(&runs, &data, &dir, &mut resumed, &stop).unwrap();
    assert_eq!(resumed.0, vec![("4".to_string(), 1)]);
    assert_eq!(after.len(), 4);

    // a corrupt records file is a clear error
    std::fs::write(dir.join(RECORDS_FILE), "{not json\n").unwrap();
    let err = run_sweep(&runs, &data, &dir, &mut Started::default(), &stop)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("records.jsonl:1") && err.contains("delete that line"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// What a run's record says about its training, leaving out what the clock and the allocator
/// measured (time, peak memory), which two runs of the same settings do not share.
fn outcome(r: &RunRecord) -> String {
    let curve: Vec<_> = r
        .curve
        .iter()
        .map(|c| (c.epoch, c.train_loss, c.valid_loss, c.valid))
        .collect();
    format!(
        "{:?} {} {} {} {} {} {:?} {:?}",
        r.point,
        r.seed,
        r.final_valid,
        r.best_valid,
        r.train_valid_gap,
        r.params,
        r.stability,
        curve
    )
}

#[test]
fn a_sweep_run_as_three_shares_merges_into_the_one_process_sweeps_records() {
    let _marks = heap_marks();
    let base = std::env::temp_dir().join(format!("attn-sweep-shards-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let data = builtin("sort").unwrap();
    let (h1, h4) = (Entry::<SorterH1>::NEW, Entry::<SorterH4>::NEW);
    let stop = AtomicBool::new(false);
    let whole = run_sweep(
        &head_runs(&h1, &h4, 3),
        &data,
        &base.join("whole"),
        &mut Started::default(),
        &stop,
    )
    .unwrap();
    assert_eq!(whole.len(), 6);

    // three tasks of a job array, each its share, into a directory they share
    let shared = base.join("shared");
    let mut ran = Vec::new();
    for index in 0..3 {
        let shard = Shard { index, count: 3 };
        let mine = shard.select(head_runs(&h1, &h4, 3));
        let mut started = Started::default();
        run_sweep(
            &mine,
            &data,
            &shared.join(shard.dir_name()),
            &mut started,
            &stop,
        )
        .unwrap();
        ran.push(started.0);
    }
    // every third run of the list, in its order: (heads, seed)
    let pair = |h: &str, s: u64| (h.to_string(), s);
    assert_eq!(ran[0], [pair("1", 0), pair("4", 0)]);
    assert_eq!(ran[1], [pair("1", 1), pair("4", 1)]);
    assert_eq!(ran[2], [pair("1", 2), pair("4", 2)]);

    let order: Vec<_> = head_runs(&h1, &h4, 3).iter().map(SweepRun::key).collect();
    let outcomes = |records: &[RunRecord]| records.iter().map(outcome).collect::<Vec<_>>();
    // merged from the share directories (as copied from three machines) ...
    let dirs: Vec<_> = (0..3)
        .map(|i| shared.join(Shard { index: i, count: 3 }.dir_name()))
        .collect();
    let merged = merge_records(&dirs, &order, Some(3)).unwrap();
    assert_eq!(outcomes(&merged), outcomes(&whole));
    // ... or read from the shared directory, where rerunning the whole sweep trains nothing
    let mut again = Started::default();
    let combined = run_sweep(&head_runs(&h1, &h4, 3), &data, &shared, &mut again, &stop).unwrap();
    assert!(again.0.is_empty(), "{:?}", again.0);
    assert_eq!(outcomes(&combined), outcomes(&whole));

    // a share missing is named, with the share that runs it
    let err = merge_records(&dirs[..2], &order, Some(3))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("2 of the sweep's 6 runs have no record")
            && err.contains("heads=1 seed 2 (share 2/3)")
            && err.contains("heads=4 seed 2 (share 2/3)"),
        "{err}"
    );
    // records of other settings are not this sweep's
    let fewer: Vec<_> = head_runs(&h1, &h4, 2).iter().map(SweepRun::key).collect();
    let err = merge_records(&dirs, &fewer, None).unwrap_err().to_string();
    assert!(
        err.contains("a record of `heads=1` seed 2 is not a run of this sweep"),
        "{err}"
    );
    std::fs::remove_dir_all(&base).ok();
}

attention_sweep! {
    /// How wide, with how many heads?
    #[name = "grid", data = "sort"]
    pub struct GridSweep {
        base: {
            arch: Transformer,
            task: Tag { vocab: 16, max_len: 12, tags: 16 },
            d_model: 16, heads: 2, ff: 32, layers: 1, activation: Relu,
        },
        grid: { d_model: [16, 32], heads: [1, 4], activation: [Relu, Gelu] },
        runtime: { dropout: [0.0, 0.2], lr: [0.001] },
        seeds: 3,
    }
}

#[test]
fn a_grid_expands_to_one_model_type_per_point() {
    // the types exist with the point's values, under names derived from the base
    assert_eq!(GridSweepDModel16Heads1ActivationRelu::META.d_model, 16);
    assert_eq!(GridSweepDModel32Heads4ActivationGelu::META.heads, 4);
    assert_eq!(GridSweepDModel32Heads4ActivationGelu::META.d_model, 32);
    // fields the grid does not touch come from the base
    assert_eq!(GridSweepDModel32Heads4ActivationGelu::META.layers, 1);
    let sweep = GridSweep::SWEEP;
    assert_eq!(sweep.name, "grid");
    assert_eq!(sweep.question, "How wide, with how many heads?");
    let names: Vec<&str> = sweep.points.iter().map(|p| p.entry.meta().name).collect();
    assert_eq!(
        names,
        [
            "grid-d-model16-heads1-activationrelu",
            "grid-d-model16-heads1-activationgelu",
            "grid-d-model16-heads4-activationrelu",
            "grid-d-model16-heads4-activationgelu",
            "grid-d-model32-heads1-activationrelu",
            "grid-d-model32-heads1-activationgelu",
            "grid-d-model32-heads4-activationrelu",
            "grid-d-model32-heads4-activationgelu",
        ]
    );
    assert_eq!(
        sweep.points[7].settings,
        &[("d_model", "32"), ("heads", "4"), ("activation", "Gelu")]
    );
    assert_eq!(sweep.points[7].entry.meta().d_model, 32);
    // 8 points × 2 dropouts × 1 lr × 3 seeds
    let runs = sweep.runs(|_| config()).unwrap();
    assert_eq!(runs.len(), 48);
    // point 0 with dropout 0 for seeds 0, 1, 2, then with dropout 0.2, then point 1
    let r = &runs[4];
    assert_eq!(r.point["dropout"], "0.2");
    assert_eq!(r.point["heads"], "1");
    assert_eq!(r.config.dropout, Some(0.2));
    assert_eq!(r.config.lr, 0.001);
    assert_eq!(r.seed, 1);
}

attention_sweep! {
    /// Every run-time setting at once.
    #[name = "every-runtime-setting", data = "sort"]
    pub struct EveryRuntimeSetting {
        base: {
            arch: Transformer,
            task: Tag { vocab: 16, max_len: 12, tags: 16 },
            d_model: 16, heads: 2, ff: 32, layers: 1,
        },
        grid: { heads: [1] },
        runtime: {
            dropout: [0.1], lr: [0.002], weight_decay: [0.01], label_smoothing: [0.05],
            teacher_forcing: [0.5],
        },
        seeds: 1,
    }
}

#[test]
fn the_macro_accepts_exactly_the_runtime_settings_the_runner_applies() {
    // the proc-macro keeps its own copy of the list; a setting it accepts that the runner does
    // not know (or the reverse) shows up here
    let sweep = EveryRuntimeSetting::SWEEP;
    let declared: Vec<&str> = sweep.runtime.iter().map(|(k, _)| *k).collect();
    let known: Vec<&str> = attn_runtime::experiment::RUNTIME_SETTINGS
        .iter()
        .map(|(k, _)| *k)
        .collect();
    assert_eq!(declared, known);
    let runs = sweep.runs(|_| config()).unwrap();
    assert_eq!(runs.len(), 1);
    let c = &runs[0].config;
    assert_eq!(c.dropout, Some(0.1));
    assert_eq!(c.lr, 0.002);
    assert_eq!(c.adam.weight_decay, 0.01);
    assert_eq!(c.label_smoothing, 0.05);
    assert_eq!(c.teacher_forcing, Some(0.5));
}
