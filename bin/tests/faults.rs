//! Fault tests: a `train` process killed (as `kill -9`) or failing (as a full disk) at every
//! point of an epoch's checkpoint commit, or stopped by SIGTERM, leaves a run directory that
//! `--resume` continues to exactly the uninterrupted run: the same weights, metrics and test
//! scores.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use attn_runtime::run::fault::{Fault, FaultAction, FaultPoint};
use attn_runtime::state_dict::StateDict;

/// A short run of the sort tagger: three epochs of 64 examples.
const ARGS: [&str; 11] = [
    "sort-tagger",
    "--epochs",
    "3",
    "--max-train",
    "64",
    "--max-eval",
    "16",
    "--batch-size",
    "16",
    "--seed",
    "2",
];

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("attn-faults-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn train(args: &[&str], out: &Path, fault: Option<Fault>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_train"));
    cmd.args(args).arg("--out").arg(out).arg("--quiet");
    match fault {
        Some(f) => cmd.env("ATTN_FAULT", f.env_value()),
        None => cmd.env_remove("ATTN_FAULT"),
    };
    cmd.output().expect("the train binary runs")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The one run directory under `out`.
fn run_dir(out: &Path) -> PathBuf {
    let runs: Vec<PathBuf> = std::fs::read_dir(out.join("sort-tagger"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(runs.len(), 1, "{runs:?}");
    runs[0].clone()
}

/// What must not depend on how the run got there: the best and last weights, the optimizer
/// state, every epoch's metrics but its timings, and the test scores.
fn outcome(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    for name in [
        "model.safetensors",
        "checkpoints/epoch-0003/last.safetensors",
        "checkpoints/epoch-0003/optimizer.safetensors",
    ] {
        // the content, not the bytes: safetensors writes its metadata in hash-map order
        let sd = StateDict::read(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut content = format!("{:?}\n", sd.metadata());
        for tensor in sd.names() {
            content.push_str(&format!("{tensor} {:?}\n", sd.get(tensor).unwrap()));
        }
        files.push((name.to_string(), content.into_bytes()));
    }
    let jsonl = std::fs::read_to_string(dir.join("metrics.jsonl")).unwrap();
    let mut metrics = String::new();
    for line in jsonl.lines() {
        let mut row: serde_json::Value = serde_json::from_str(line).unwrap();
        let row = row.as_object_mut().unwrap();
        row.remove("seconds");
        row.remove("examples_per_second");
        metrics.push_str(&serde_json::to_string(row).unwrap());
        metrics.push('\n');
    }
    files.push(("metrics".into(), metrics.into_bytes()));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    let scores = format!("{} {}", summary["best_epoch"], summary["test"]);
    files.push(("summary".into(), scores.into_bytes()));
    files
}

fn resume(dir: &Path, out: &Path) -> Output {
    let dir = dir.display().to_string();
    train(
        &["sort-tagger", "--resume", &dir, "--epochs", "3"],
        out,
        None,
    )
}

fn assert_no_leftovers(dir: &Path) {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            assert!(!name.contains(".tmp"), "left behind: {}", p.display());
            if p.is_dir() {
                stack.push(p);
            }
        }
    }
}

#[test]
fn a_run_killed_or_failing_at_every_point_of_a_commit_resumes_to_the_uninterrupted_run() {
    let whole_out = scratch("whole");
    let o = train(&ARGS, &whole_out, None);
    assert!(o.status.success(), "{}", text(&o));
    let whole = outcome(&run_dir(&whole_out));

    let mut cases = Vec::new();
    for point in FaultPoint::ALL {
        cases.push(Fault {
            action: FaultAction::Abort,
            point,
            epoch: 2,
        });
    }
    for point in [FaultPoint::Begin, FaultPoint::History, FaultPoint::Commit] {
        cases.push(Fault {
            action: FaultAction::Abort,
            point,
            epoch: 1,
        });
    }
    for point in [
        FaultPoint::Params,
        FaultPoint::History,
        FaultPoint::Best,
        FaultPoint::Metrics,
    ] {
        cases.push(Fault {
            action: FaultAction::Fail,
            point,
            epoch: 2,
        });
    }
    for fault in cases {
        let what = fault.env_value();
        let out = scratch(&what.replace([':', '@'], "-"));
        let o = train(&ARGS, &out, Some(fault));
        assert!(!o.status.success(), "{what}: the fault did not strike");
        if fault.action == FaultAction::Fail {
            let message = text(&o);
            assert!(
                message.contains("injected fault") && !message.contains("panicked"),
                "{what}: {message}"
            );
        }
        let dir = run_dir(&out);
        let r = resume(&dir, &out);
        assert!(r.status.success(), "{what}: resume failed: {}", text(&r));
        assert_no_leftovers(&dir);
        let resumed = outcome(&dir);
        for ((name, want), (_, got)) in whole.iter().zip(&resumed) {
            assert!(
                want == got,
                "{what}: {name} differs from the uninterrupted run"
            );
        }
        std::fs::remove_dir_all(&out).ok();
    }
    std::fs::remove_dir_all(&whole_out).ok();
}

#[cfg(unix)]
#[test]
fn sigterm_stops_a_run_as_ctrl_c_does_and_it_resumes_to_the_uninterrupted_run() {
    let args = [
        "sort-tagger",
        "--epochs",
        "2",
        "--max-train",
        "2000",
        "--seed",
        "4",
    ];
    let whole_out = scratch("term-whole");
    let o = train(&args, &whole_out, None);
    assert!(o.status.success(), "{}", text(&o));
    let whole_dir = run_dir(&whole_out);

    let out = scratch("term");
    let child = Command::new(env!("CARGO_BIN_EXE_train"))
        .args(args)
        .arg("--out")
        .arg(&out)
        .arg("--quiet")
        .env_remove("ATTN_FAULT")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // config.json is written once the handler is installed and the data prepared
    let started = std::time::Instant::now();
    let config = loop {
        let found = std::fs::read_dir(out.join("sort-tagger"))
            .ok()
            .and_then(|mut d| d.next())
            .map(|e| e.unwrap().path().join("config.json"));
        match found {
            Some(c) if c.is_file() => break c,
            _ if started.elapsed().as_secs() > 120 => panic!("the run did not start"),
            _ => std::thread::sleep(std::time::Duration::from_millis(5)),
        }
    };
    // SAFETY: sends a signal to our own child process, whose pid we hold
    let sent = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    assert_eq!(sent, 0);
    let o = child.wait_with_output().unwrap();
    let all = text(&o);
    // stopped and saved, with the status of an interrupted command (not killed by the signal)
    assert_eq!(o.status.code(), Some(130), "{all}");
    assert!(
        all.contains("stopped: the model as it was is saved"),
        "{all}"
    );
    let dir = config.parent().unwrap().to_path_buf();
    assert!(dir.join("interrupted.safetensors").is_file(), "{all}");
    let d = dir.display().to_string();
    let r = train(
        &["sort-tagger", "--resume", &d, "--epochs", "2"],
        &out,
        None,
    );
    assert!(r.status.success(), "{}", text(&r));
    let metrics = |d: &Path| {
        let jsonl = std::fs::read_to_string(d.join("metrics.jsonl")).unwrap();
        jsonl
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                (v["train_loss"].clone(), v["valid_loss"].clone())
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(metrics(&dir), metrics(&whole_dir));
    std::fs::remove_dir_all(&out).ok();
    std::fs::remove_dir_all(&whole_out).ok();
}

#[test]
fn an_io_error_names_the_file_and_gives_the_reason_once() {
    let out = scratch("io-once");
    std::fs::create_dir_all(&out).unwrap();
    // a file where the run directory's parent should go
    std::fs::write(out.join("sort-tagger"), b"in the way").unwrap();
    let o = train(&ARGS, &out, None);
    let all = text(&o);
    assert!(!o.status.success(), "{all}");
    assert!(all.contains("sort-tagger"), "{all}");
    assert_eq!(all.matches("(os error").count(), 1, "{all}");
    std::fs::remove_dir_all(&out).ok();
}

#[test]
fn two_trainings_started_at_once_keep_their_own_run_directories() {
    let out = scratch("concurrent");
    let spawn = |seed: &str| {
        let mut args = ARGS.to_vec();
        args[10] = seed;
        Command::new(env!("CARGO_BIN_EXE_train"))
            .args(&args)
            .arg("--out")
            .arg(&out)
            .arg("--quiet")
            .env_remove("ATTN_FAULT")
            .output()
            .unwrap()
    };
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| spawn("5"));
        let b = s.spawn(|| spawn("6"));
        (a.join().unwrap(), b.join().unwrap())
    });
    assert!(
        a.status.success() && b.status.success(),
        "{}{}",
        text(&a),
        text(&b)
    );
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(out.join("sort-tagger"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    dirs.sort();
    assert_eq!(dirs.len(), 2, "{dirs:?}");
    let seeds: Vec<String> = dirs
        .iter()
        .map(|d| {
            let c: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(d.join("config.json")).unwrap())
                    .unwrap();
            assert_eq!(
                std::fs::read_to_string(d.join("metrics.jsonl"))
                    .unwrap()
                    .lines()
                    .count(),
                3
            );
            c["train"]["seed"].to_string()
        })
        .collect();
    let mut sorted = seeds.clone();
    sorted.sort();
    assert_eq!(sorted, ["5", "6"], "each run kept its own files");
    std::fs::remove_dir_all(&out).ok();
}
