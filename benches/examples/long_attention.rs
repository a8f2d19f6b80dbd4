//! Long-sequence self-attention, forward+backward, one size per process (issue 10).
//!
//! ```sh
//! cargo build --release -p attn-benches --example long_attention
//! target/release/examples/long_attention --seq 4096 --kind causal --kernel fused --reps 3
//! ```
//!
//! Builds `q`, `k`, `v` of shape `[1, 8, S, 64]` (f32, `Cpu`, allocation cache on), runs
//! `try_scaled_dot_product_attention(q.leaky_trace(), k, v)` with the weights skipped, `sum()` and
//! the backward pass (into `q`, `k` and `v`) once to warm up and then `--reps` times, and prints
//! one JSON line: the median time and the process's peak resident set (`VmHWM` of
//! `/proc/self/status`). Running one size per process makes that peak this size's peak.
//!
//! `--kind` is `full` (no mask), `causal` or `window:<w>` (query `i` sees keys `|i - j| <= w`).
//! Threads: rayon's, so `RAYON_NUM_THREADS`. The driver is `tools/bench_long_attention.py`; the
//! PyTorch twin `tools/bench_long_attention_torch.py`.

use std::hint::black_box;
use std::process::exit;
use std::time::Instant;

use attn_runtime::prelude::*;

const USAGE: &str = "usage: long_attention --seq S [--kind full|causal|window:<w>] \
                     [--kernel fused|composite] [--reps N]";

const BATCH: usize = 1;
const HEADS: usize = 8;
const HEAD_DIM: usize = 64;

type T4 = Tensor<(usize, usize, usize, usize), f32, Cpu>;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Full,
    Causal,
    Window(usize),
}

impl Kind {
    fn parse(s: &str) -> Result<Self, String> {
        match s {
            "full" => Ok(Kind::Full),
            "causal" => Ok(Kind::Causal),
            _ => match s.strip_prefix("window:").map(str::parse::<usize>) {
                Some(Ok(w)) if w >= 1 => Ok(Kind::Window(w)),
                _ => Err(format!(
                    "bad --kind {s:?}: use full, causal or window:<w> (w >= 1)"
                )),
            },
        }
    }

    fn label(self) -> String {
        match self {
            Kind::Full => "full".into(),
            Kind::Causal => "causal".into(),
            Kind::Window(w) => format!("window:{w}"),
        }
    }

    fn mask(self) -> AttentionMask {
        match self {
            Kind::Full => AttentionMask::none(),
            Kind::Causal => AttentionMask::none().causal(),
            Kind::Window(w) => AttentionMask::none().window(w),
        }
    }
}

struct Args {
    seq: usize,
    kind: Kind,
    kernel: AttentionKernel,
    reps: usize,
}

fn parse_args(mut it: impl Iterator<Item = String>) -> Result<Args, String> {
    let (mut seq, mut kind, mut kernel, mut reps) = (None, Kind::Full, AttentionKernel::Fused, 3);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--seq" => {
                let v = value()?;
                seq = Some(
                    v.parse::<usize>()
                        .ok()
                        .filter(|&s| s > 0)
                        .ok_or_else(|| format!("bad --seq {v:?}"))?,
                );
            }
            "--kind" => kind = Kind::parse(&value()?)?,
            "--kernel" => {
                kernel = match value()?.as_str() {
                    "fused" => AttentionKernel::Fused,
                    "composite" => AttentionKernel::Composite,
                    other => return Err(format!("bad --kernel {other:?}: use fused or composite")),
                }
            }
            "--reps" => {
                let v = value()?;
                reps = v
                    .parse::<usize>()
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or_else(|| format!("bad --reps {v:?}"))?;
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                exit(0);
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let seq = seq.ok_or("--seq is required")?;
    Ok(Args {
        seq,
        kind,
        kernel,
        reps,
    })
}

/// A field of `/proc/self/status` in MiB (the kernel reports kB).
fn proc_status_mb(field: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kb: f64 = line[field.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

fn json_mb(v: Option<f64>) -> String {
    v.map_or_else(|| "null".into(), |mb| format!("{mb:.1}"))
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    }
}

fn main() {
    let args = parse_args(std::env::args().skip(1)).unwrap_or_else(|e| {
        eprintln!("{e}\n{USAGE}");
        exit(2)
    });
    let base_rss = proc_status_mb("VmRSS:");
    let dev = Cpu::seed_from_u64(0);
    dev.enable_cache();
    let shape = (BATCH, HEADS, args.seq, HEAD_DIM);
    let q: T4 = dev.sample_normal_like(&shape);
    let k: T4 = dev.sample_normal_like(&shape);
    let v: T4 = dev.sample_normal_like(&shape);
    let opts = AttentionOptions::default()
        .skip_weights()
        .kernel(args.kernel)
        .mask(args.kind.mask());

    let step = || -> f64 {
        let start = Instant::now();
        let out = try_scaled_dot_product_attention(q.leaky_trace(), k.clone(), v.clone(), &opts)
            .unwrap_or_else(|e| {
                eprintln!("attention failed: {e}");
                exit(1)
            });
        let grads = out.context.sum().backward();
        black_box(&grads);
        drop(grads);
        start.elapsed().as_secs_f64() * 1e3
    };
    step(); // warm-up: fills the allocation cache, faults the pages in
    let times: Vec<f64> = (0..args.reps).map(|_| step()).collect();

    let name = match args.kernel {
        AttentionKernel::Composite => "attn-composite",
        _ => "attn-fused",
    };
    let threads = rayon::current_num_threads();
    println!(
        "{{\"impl\":\"{name}\", \"seq\":{}, \"kind\":\"{}\", \"ms_fwd_bwd\":{:.3}, \
         \"peak_rss_mb\":{}, \"base_rss_mb\":{}, \"reps\":{}, \"threads\":{threads}, \
         \"ms_all\":[{}]}}",
        args.seq,
        args.kind.label(),
        median(times.clone()),
        json_mb(proc_status_mb("VmHWM:")),
        json_mb(base_rss),
        args.reps,
        times
            .iter()
            .map(|t| format!("{t:.3}"))
            .collect::<Vec<_>>()
            .join(", "),
    );
}
