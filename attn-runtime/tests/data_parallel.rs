//! Data-parallel training with ranks as threads ([`LocalGroup`]): a step on shares of a batch
//! equals one process's step on the whole batch, rank 0 alone writes the run, and a run resumes
//! on another number of ranks. With the `mpi` feature, the same run over two MPI processes
//! (`mpirun -np 2`, in `.ci/run`).

mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use attn_runtime::data::{builtin, PrepareOptions};
use attn_runtime::distributed::{Collective, LocalGroup};
use attn_runtime::prelude::*;
use attn_runtime::run::RunDir;
use attn_runtime::train::{
    train, train_data_parallel, Quiet, Stop, TrainConfig, TrainOutcome, TrainRequest,
};
use attn_runtime::zoo::{Batch, Entry, StepReport, StepSettings, ZooEntry};

attention_model! {
    /// A tiny LSTM encoder-decoder with dot-product attention for the reverse task: targets of
    /// different lengths, so the ranks' shares hold different numbers of target rows.
    #[name = "tiny-rnn-reverser", data = "reverse"]
    pub struct TinyRnnReverser {
        arch: Recurrent, cell: Lstm, hidden: 16, attention: Dot,
        task: Seq2Seq { src_vocab: 16, tgt_vocab: 16, src_len: 10, tgt_len: 11 },
        d_model: 16,
    }
}

attention_model! {
    /// A tiny sequence-to-sequence transformer for the reverse task.
    #[name = "tiny-reverser", data = "reverse"]
    pub struct TinyReverser {
        arch: Transformer,
        task: Seq2Seq { src_vocab: 16, tgt_vocab: 16, src_len: 10, tgt_len: 11 },
        d_model: 16, heads: 2, ff: 32, encoder_layers: 1, decoder_layers: 1,
        norm: Pre,
    }
}

const ENTRY: Entry<TinyRnnReverser> = Entry::NEW;

/// The largest difference between two state dicts' values, name by name.
fn max_difference(a: &StateDict, b: &StateDict) -> f64 {
    max_difference_but(a, b, |_| false)
}

/// [`max_difference`] over the names `skip` does not pick.
fn max_difference_but(a: &StateDict, b: &StateDict, skip: impl Fn(&str) -> bool) -> f64 {
    let names: Vec<&str> = a.names().collect();
    assert_eq!(names, b.names().collect::<Vec<_>>());
    names
        .iter()
        .filter(|n| !skip(n))
        .map(|n| {
            let (x, y) = (a.get(n).unwrap(), b.get(n).unwrap());
            assert_eq!(x.values.len(), y.values.len(), "{n}");
            x.values
                .iter()
                .zip(&y.values)
                .map(|(p, q)| (p - q).abs())
                .fold(0.0, f64::max)
        })
        .fold(0.0, f64::max)
}

/// Runs `f` on `ranks` threads, one member of a [`LocalGroup`] each, and returns their results
/// in rank order.
fn on_ranks<T: Send>(ranks: usize, f: impl Fn(&LocalGroup) -> T + Sync) -> Vec<T> {
    std::thread::scope(|s| {
        let handles: Vec<_> = LocalGroup::new(ranks)
            .into_iter()
            .map(|member| {
                let f = &f;
                s.spawn(move || f(&member))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

/// A model's parameters after some steps, and the steps' reports.
type Trained = (StateDict, Vec<StepReport>);

/// `k` steps of one process on `batch` and of `ranks` ranks on its shares, from the same
/// initial parameters: every rank's parameters (rank 0's first) and reports, then the one
/// process's.
fn steps<M>(
    entry: &Entry<M>,
    batch: &Batch,
    settings: &StepSettings,
    ranks: usize,
    k: usize,
) -> (Vec<Trained>, Trained)
where
    Entry<M>: ZooEntry,
{
    let mut one = entry.instantiate(7).unwrap();
    let one_reports: Vec<_> = (0..k)
        .map(|_| one.train_step_with(batch, settings).unwrap())
        .collect();
    let shared = on_ranks(ranks, |member| {
        let mut model = entry.instantiate(7).unwrap();
        let share = batch.share(member.rank(), member.size());
        let reports: Vec<_> = (0..k)
            .map(|_| model.train_step_shared(&share, settings, member).unwrap())
            .collect();
        (model.params().unwrap(), reports)
    });
    (shared, (one.params().unwrap(), one_reports))
}

#[test]
fn steps_on_shares_equal_one_process_on_the_whole_batch() {
    // 13 examples: shares of 7 and 6, with different numbers of target rows
    let batch = Batch::random(ENTRY.meta(), 13, 3);
    let settings = StepSettings {
        // Adam's first step is lr·g/(|g| + eps): a gradient near eps that is a sum of terms
        // cancelling each other (its rounding differs with the sum's order) moves its
        // parameter by up to ~1e-4·lr more or less, so 1e-6 holds up to lr ≈ 1e-2
        lr: 3e-3,
        // below the gradient's norm: clipping must see the whole batch's norm
        clip_norm: Some(0.2),
        dropout: Some(0.0),
        ..StepSettings::default()
    };
    let (ranks, (expected, one_reports)) = steps(&ENTRY, &batch, &settings, 2, 5);
    assert!(
        one_reports.iter().all(|r| r.grad_norm > 0.2),
        "{one_reports:?}"
    );
    // every rank holds the same parameters, bit for bit
    assert_eq!(max_difference(&ranks[0].0, &ranks[1].0), 0.0);
    let difference = max_difference(&ranks[0].0, &expected);
    assert!(difference < 1e-6, "2 ranks vs 1 process: {difference:e}");
    for (rank, reports) in ranks.iter().map(|r| &r.1).enumerate() {
        for (r, o) in reports.iter().zip(&one_reports) {
            assert!(
                (r.loss - o.loss).abs() < 1e-6 * o.loss,
                "rank {rank}: {r:?} vs {o:?}"
            );
            assert!(
                (r.grad_norm - o.grad_norm).abs() < 1e-5 * o.grad_norm,
                "rank {rank}"
            );
        }
    }
}

#[test]
fn a_transformer_on_shares_equals_one_process_but_for_its_key_biases() {
    // The key projection's bias shifts every score of a query by the same amount, which the
    // softmax ignores: its gradient is zero but for rounding, and Adam scales rounding noise
    // (any sum order gives other noise) up to steps of about lr. In PyTorch as here; every
    // other parameter agrees within 1e-6.
    let entry = Entry::<TinyReverser>::NEW;
    let batch = Batch::random(entry.meta(), 13, 3);
    let settings = StepSettings {
        lr: 1e-2,
        clip_norm: Some(0.5),
        dropout: Some(0.0),
        ..StepSettings::default()
    };
    let (ranks, (expected, _)) = steps(&entry, &batch, &settings, 2, 3);
    assert_eq!(max_difference(&ranks[0].0, &ranks[1].0), 0.0);
    let keys = |n: &str| n.ends_with("k_proj.bias");
    let difference = max_difference_but(&ranks[0].0, &expected, keys);
    assert!(difference < 1e-6, "{difference:e}");
    let key_biases = max_difference(&ranks[0].0, &expected);
    assert!(key_biases < 3.0 * settings.lr, "{key_biases:e}");
}

#[test]
fn a_share_may_be_empty() {
    // one example over three ranks: two ranks have nothing but still take part
    let batch = Batch::random(ENTRY.meta(), 1, 9);
    let settings = StepSettings {
        dropout: Some(0.0),
        ..StepSettings::default()
    };
    let mut one = ENTRY.instantiate(2).unwrap();
    let loss = one.train_step_with(&batch, &settings).unwrap().loss;
    let ranks = on_ranks(3, |member| {
        let mut model = ENTRY.instantiate(2).unwrap();
        let share = batch.share(member.rank(), member.size());
        let report = model.train_step_shared(&share, &settings, member).unwrap();
        (report.loss, model.params().unwrap())
    });
    for (l, params) in &ranks {
        assert!((l - loss).abs() < 1e-6 * loss);
        assert!(max_difference(params, &one.params().unwrap()) < 1e-6);
    }
}

fn scratch(name: &str) -> PathBuf {
    common::scratch_dir("dp", name)
}

/// 100 training examples in batches of 24: four full batches and one of 4 (shares of 2).
fn config(epochs: usize) -> TrainConfig {
    TrainConfig {
        epochs,
        batch_size: 24,
        lr: 3e-3,
        seed: 5,
        dropout: Some(0.0),
        clip_norm: Some(1.0),
        data: PrepareOptions {
            max_train: Some(100),
            max_eval: Some(32),
            ..Default::default()
        },
        ..TrainConfig::default()
    }
}

fn request(config: TrainConfig, out: &Path, resume: Option<&Path>) -> TrainRequest<'static> {
    static DATA: std::sync::OnceLock<attn_runtime::data::Dataset> = std::sync::OnceLock::new();
    TrainRequest {
        entry: &ENTRY,
        dataset: DATA.get_or_init(|| builtin("reverse").unwrap()),
        config,
        out: out.to_path_buf(),
        resume: resume.map(Path::to_path_buf),
    }
}

fn one_process(epochs: usize, out: &Path, resume: Option<&Path>) -> TrainOutcome {
    train(
        request(config(epochs), out, resume),
        &mut Quiet,
        &AtomicBool::new(false),
    )
    .unwrap()
}

/// Rank 0's outcome after checking the others'.
fn ranks_of(ranks: usize, epochs: usize, out: &Path, resume: Option<&Path>) -> TrainOutcome {
    let mut outcomes = on_ranks(ranks, |member| {
        train_data_parallel(
            request(config(epochs), out, resume),
            member,
            &mut Quiet,
            &AtomicBool::new(false),
        )
        .unwrap()
    });
    let zero = outcomes.remove(0);
    for other in &outcomes {
        // the others know the run's directory, and leave its reports to rank 0
        assert_eq!(other.run_dir, zero.run_dir);
        assert_eq!(other.stopped, zero.stopped);
        assert!(other.history.is_empty() && other.best_epoch == 0);
        assert_eq!(other.test, Default::default());
    }
    zero
}

fn last_params(outcome: &TrainOutcome) -> StateDict {
    RunDir::open(&outcome.run_dir)
        .unwrap()
        .latest_checkpoint()
        .unwrap()
        .expect("a checkpoint")
        .params()
        .unwrap()
}

#[test]
fn two_ranks_train_the_run_one_process_trains_and_only_rank_0_writes() {
    let out = scratch("equal");
    let one = one_process(2, &out.join("one"), None);
    let two = ranks_of(2, 2, &out.join("two"), None);
    assert_eq!(two.stopped, Stop::Completed);
    assert_eq!(two.history.len(), 2);
    for (a, b) in one.history.iter().zip(&two.history) {
        assert!((a.train_loss - b.train_loss).abs() < 1e-6 * a.train_loss);
        assert!((a.valid_loss - b.valid_loss).abs() < 1e-5 * a.valid_loss);
    }
    assert!((one.test.accuracy() - two.test.accuracy()).abs() < 1e-9);
    let difference = max_difference(&last_params(&one), &last_params(&two));
    assert!(difference < 1e-6, "{difference:e}");
    // one run directory, rank 0's
    let runs: Vec<_> = std::fs::read_dir(out.join("two").join("tiny-rnn-reverser"))
        .unwrap()
        .collect();
    assert_eq!(runs.len(), 1);
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn a_run_resumes_on_another_number_of_ranks() {
    let out = scratch("resume");
    let whole = one_process(2, &out.join("whole"), None);
    // one epoch on two ranks, the second in one process
    let first = ranks_of(2, 1, &out.join("a"), None);
    let then_one = one_process(2, &out.join("a"), Some(&first.run_dir));
    // one epoch in one process, the second on three ranks
    let first = one_process(1, &out.join("b"), None);
    let then_three = ranks_of(3, 2, &out.join("b"), Some(&first.run_dir));
    for resumed in [&then_one, &then_three] {
        assert_eq!(resumed.history.len(), 2);
        let difference = max_difference(&last_params(&whole), &last_params(resumed));
        assert!(difference < 1e-6, "{difference:e}");
    }
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn when_rank_0_cannot_make_the_run_directory_every_rank_says_so() {
    let out = scratch("blocked");
    std::fs::create_dir_all(&out).unwrap();
    // a file where the runs' directory would go
    let blocker = out.join("a-file");
    std::fs::write(&blocker, b"").unwrap();
    let errors = on_ranks(2, |member| {
        train_data_parallel(
            request(config(1), &blocker.join("runs"), None),
            member,
            &mut Quiet,
            &AtomicBool::new(false),
        )
        .unwrap_err()
        .to_string()
    });
    assert!(errors[0].contains("a-file"), "{}", errors[0]);
    assert!(
        errors[1].contains("rank 0 could not make the run directory"),
        "{}",
        errors[1]
    );
    std::fs::remove_dir_all(&out).unwrap();
}

/// The same run over MPI: `mpirun -np 2` starts this test binary twice as the ranks.
#[cfg(feature = "mpi")]
mod mpi {
    use std::process::Command;

    use attn_runtime::distributed::Mpi;

    use super::*;

    /// Where the ranks put their run (set by the test that starts them).
    const OUT: &str = "ATTN_TEST_MPI_OUT";

    /// Starts `rank_test` of this binary as two processes under `mpirun`, and checks that they
    /// trained the run one process trains.
    fn two_processes_train_the_run_one_process_trains(rank_test: &str) {
        let out = scratch(rank_test);
        let one = one_process(2, &out.join("one"), None);
        let two = out.join("two");
        let exe = std::env::current_exe().unwrap();
        let ran = Command::new("mpirun")
            .args(["--oversubscribe", "-np", "2"])
            .arg(&exe)
            .args(["--ignored", "--exact", rank_test, "--nocapture"])
            .env(OUT, &two)
            // OpenMPI refuses root unless told (CI containers run as root), and its
            // shared-memory transport's single-copy mode needs ptrace rights containers lack
            .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
            .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
            .env("OMPI_MCA_btl_vader_single_copy_mechanism", "none")
            .output()
            .expect("mpirun (OpenMPI) on the PATH");
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&ran.stdout),
            String::from_utf8_lossy(&ran.stderr)
        );
        assert!(ran.status.success(), "mpirun failed:\n{said}");
        assert_eq!(said.matches("rank 0 of 2 done").count(), 1, "{said}");
        assert_eq!(said.matches("rank 1 of 2 done").count(), 1, "{said}");
        let runs: Vec<PathBuf> = std::fs::read_dir(two.join("tiny-rnn-reverser"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(runs.len(), 1, "one run directory, rank 0's: {runs:?}");
        let dir = RunDir::open(&runs[0]).unwrap();
        let params = dir.latest_checkpoint().unwrap().unwrap().params().unwrap();
        let difference = max_difference(&last_params(&one), &params);
        assert!(difference < 1e-6, "2 ranks vs 1 process: {difference:e}");
        std::fs::remove_dir_all(&out).unwrap();
    }

    /// Trains the test run as one rank of `ranks`, where the test above started it.
    fn train_as_rank(ranks: &dyn Collective) {
        let out = std::env::var_os(OUT).expect("started by the test");
        let outcome = train_data_parallel(
            request(config(2), Path::new(&out), None),
            ranks,
            &mut Quiet,
            &AtomicBool::new(false),
        )
        .unwrap();
        assert_eq!(outcome.stopped, Stop::Completed);
        println!("rank {} of {} done", ranks.rank(), ranks.size());
    }

    #[test]
    fn two_mpi_processes_train_the_run_one_process_trains() {
        two_processes_train_the_run_one_process_trains("mpi::rank");
    }

    /// One rank of the test above; run by `mpirun`, and passes at once elsewhere.
    #[test]
    #[ignore = "a rank of two_mpi_processes_train_the_run_one_process_trains, started by mpirun"]
    fn rank() {
        if std::env::var_os(OUT).is_some() {
            train_as_rank(&Mpi::start().unwrap());
        }
    }

    /// The same two processes each on its own GPU, their gradients summed by NCCL
    /// (`tools/gpu_check.sh` runs it where two GPUs exist).
    #[cfg(feature = "cuda")]
    #[test]
    #[ignore = "needs two NVIDIA GPUs: tools/gpu_check.sh runs it"]
    fn two_nccl_processes_train_the_run_one_process_trains() {
        two_processes_train_the_run_one_process_trains("mpi::nccl_rank");
    }

    /// One rank of the test above.
    #[cfg(feature = "cuda")]
    #[test]
    #[ignore = "a rank of two_nccl_processes_train_the_run_one_process_trains, started by mpirun"]
    fn nccl_rank() {
        if std::env::var_os(OUT).is_none() {
            return;
        }
        // each process sees its own GPU only, as device 0 (the one dfdx's models use)
        if let Ok(local) = std::env::var("OMPI_COMM_WORLD_LOCAL_RANK") {
            std::env::set_var("CUDA_VISIBLE_DEVICES", local);
        }
        let ranks = attn_runtime::distributed::Nccl::over(Box::new(Mpi::start().unwrap()), 0);
        train_as_rank(&ranks.unwrap());
    }
}
