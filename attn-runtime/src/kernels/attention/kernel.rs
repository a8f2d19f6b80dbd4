//! The fused scaled-dot-product attention kernel on `f32` slices: a tiled forward pass with an
//! online softmax, and a FlashAttention-2 style backward pass that recomputes the weights tile by
//! tile from the stored log-sum-exp. Neither ever holds an `Sq × Sk` matrix.
//!
//! Work is split over rayon's pool: the forward over (batch, head, block of queries), the backward
//! over (batch, head). On x86-64 CPUs with AVX2 and FMA (detected at run time) the same code is
//! compiled a second time with those features enabled.

use std::cell::RefCell;

use attn_gemm::with_thread_buffer;
use rayon::prelude::*;

use super::dropout::RowDropout;
use super::head_layout::{HeadLayout, HeadRows, Heads, ProblemRows};
use super::kv_rows::KvRows;
use super::pack::{pack_transposed, packed_len};
use super::params::{expect_len, AttnDims, FusedParams};
use super::tile::{gemm, Strided};
use crate::error::AttnError;
use crate::kernels::cpu_op::for_each_maybe_parallel;
use crate::kernels::simd::{self, simd_dispatch, Arith};
#[cfg(target_arch = "x86_64")]
use crate::kernels::tuning::KernelConfig;

/// Keys per block (columns of a tile).
pub const BLOCK_K: usize = 64;

thread_local! {
    /// Each thread's packed keys of the (batch, head) its forward pass works on.
    static PACKED_KEYS: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
    /// Each thread's scratch of one block of queries in the forward pass, or of one (batch,
    /// head) in the backward pass (its packed keys and values among it).
    static TASK: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// Gives back the kernel's per-thread buffers on this thread and the current rayon pool's
/// threads (see [`attn_gemm::release_thread_buffer`]).
pub(crate) fn release_buffers() {
    attn_gemm::release_thread_buffer(&PACKED_KEYS);
    attn_gemm::release_thread_buffer(&TASK);
}

/// Scratch memory of the kernel, in `f32` values, besides its inputs and outputs.
///
/// The forward pass packs the keys of each (batch, head) transposed per key block (at most all of
/// them at once: the size of `k`, rounded up to whole blocks) and each running task holds one
/// tile, one block of scaled queries and one output block; the backward pass holds,
/// per running task (one per thread), the packed keys and values of one (batch, head), the row
/// terms `rowsum(dO ∘ O)`, a block of scaled queries and three tiles. Nothing grows with `Sq · Sk`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scratch {
    /// Peak scratch of [`forward`] with `threads` worker threads.
    pub forward: usize,
    /// Peak scratch of [`backward`] with `threads` worker threads.
    pub backward: usize,
}

impl Scratch {
    /// The scratch of a call of the given sizes on `threads` threads, with the configuration
    /// the kernels use ([`KernelConfig::current`], or the detected one where that fails).
    pub fn of(dims: &AttnDims, threads: usize) -> Self {
        let config = KernelConfig::current().unwrap_or_else(|_| KernelConfig::detected());
        Scratch::with(&config, dims, threads)
    }

    /// The scratch of a call of the given sizes on `threads` threads with `config`.
    pub fn with(config: &KernelConfig, dims: &AttnDims, threads: usize) -> Self {
        let packed_k = packed_len(dims.k_len, dims.head_dim);
        let packed_v = packed_len(dims.k_len, dims.value_dim);
        let block_q = block_q(config, dims);
        Scratch {
            forward: dims.problems() * packed_k + threads * forward_block_scratch(dims, block_q),
            backward: threads
                * (packed_k + packed_v + dims.q_len + backward_tiles_scratch(dims, block_q)),
        }
    }
}

/// Query rows per tile under `config` for heads of these sizes.
fn block_q(config: &KernelConfig, dims: &AttnDims) -> usize {
    config.block_q(dims.head_dim, dims.value_dim, BLOCK_K)
}

fn forward_block_scratch(dims: &AttnDims, block_q: usize) -> usize {
    // scaled queries, score tile, output accumulator, running max, the tile's new max and row
    // sum, running sum, dropout factors
    block_q * dims.head_dim + block_q * BLOCK_K + block_q * dims.value_dim + 4 * block_q + BLOCK_K
}

fn backward_tiles_scratch(dims: &AttnDims, block_q: usize) -> usize {
    // scaled queries, weights, their gradient, and the dropout factors
    block_q * dims.head_dim + 3 * block_q * BLOCK_K
}

/// Forward pass: `out = softmax(scale · q · kᵀ + mask) · v` per (batch, head), with dropout on
/// the weights when `params.dropout` is set, and the log-sum-exp of every score row in `lse`
/// (`+inf` for a query that sees no key: its output row is zero).
///
/// # Shapes
/// `q: [B, H, Sq, Dk]`, `k: [B, H, Sk, Dk]`, `v: [B, H, Sk, Dv]` → `out: [B, H, Sq, Dv]`,
/// `lse: [B, H, Sq]`, contiguous row-major.
///
/// **PyTorch equivalent**: `F.scaled_dot_product_attention(q, k, v, attn_mask, dropout_p,
/// is_causal, scale)` (its fused CPU kernel also returns the log-sum-exp internally).
///
/// # Errors
/// [`AttnError::ShapeMismatch`] when a slice or the mask does not fit `params.dims`,
/// [`AttnError::InvalidMask`] / [`AttnError::InvalidHyperParameter`] for a window of 0 or a
/// dropout outside `[0, 1)`, [`AttnError::InvalidInput`] for zero-width heads.
pub fn forward(
    params: &FusedParams<'_>,
    q: &[f32],
    k: &[f32],
    v: &[f32],
    out: &mut [f32],
    lse: &mut [f32],
) -> Result<(), AttnError> {
    let config = KernelConfig::current()?;
    forward_with(&config, params, HeadLayout::Split, q, k, v, out, lse)
}

/// [`forward`] with `config` instead of the process's [`KernelConfig::current`], reading `q`,
/// `k` and `v` in place laid out as `layout` (`out` and `lse` as [`forward`]'s).
///
/// # Errors
/// As [`forward`].
#[allow(clippy::too_many_arguments)]
pub(crate) fn forward_with(
    config: &KernelConfig,
    params: &FusedParams<'_>,
    layout: HeadLayout,
    q: &[f32],
    k: &[f32],
    v: &[f32],
    out: &mut [f32],
    lse: &mut [f32],
) -> Result<(), AttnError> {
    let d = params.dims;
    let (_, nk, nv, _, _) = d.lens();
    expect_len("k", nk, k.len())?;
    expect_len("v", nv, v.len())?;
    if nothing_to_attend(params, q, out, lse)? {
        return Ok(());
    }
    let [q_rows, k_rows, v_rows, _] = HeadRows::of(&d);
    let [q, k, v] = Heads::all(layout, [(q, q_rows), (k, k_rows), (v, v_rows)]);
    let (dk, dv, sq, sk) = (d.head_dim, d.value_dim, d.q_len, d.k_len);
    out.par_chunks_mut(sq * dv)
        .zip(lse.par_chunks_mut(sq))
        .enumerate()
        .for_each(|(bh, (o, l))| {
            with_thread_buffer(&PACKED_KEYS, packed_len(sk, dk), |kt| {
                pack_transposed(config.isa(), k.problem(bh), sk, kt);
                let (q, v) = (q.problem(bh), v.problem(bh));
                forward_problem(config, params, bh, q, kt, v, o, l);
            });
        });
    Ok(())
}

/// [`forward`] over the keys and values in `kv` (its `k_len` rows of every (batch, head)), which
/// keeps them in the layout the kernel reads: nothing is copied or packed per call, so a call
/// costs the arithmetic of its queries over the keys and no more. What incremental decoding
/// with a key/value cache calls for each new position.
///
/// # Shapes
/// `q: [B, H, Sq, Dk]` → `out: [B, H, Sq, Dv]`, `lse: [B, H, Sq]`, with `params.dims` giving
/// `kv`'s batch, heads, widths and length as `k_len`.
///
/// # Errors
/// As [`forward`], and [`AttnError::ShapeMismatch`] when `kv` does not match `params.dims`.
pub fn forward_cached(
    params: &FusedParams<'_>,
    q: &[f32],
    kv: &KvRows,
    out: &mut [f32],
    lse: &mut [f32],
) -> Result<(), AttnError> {
    let config = KernelConfig::current()?;
    let d = params.dims;
    kv.expect_dims(&d)?;
    if nothing_to_attend(params, q, out, lse)? {
        return Ok(());
    }
    let (dk, dv, sq) = (d.head_dim, d.value_dim, d.q_len);
    let [q] = Heads::all(HeadLayout::Split, [(q, HeadRows::of(&d)[0])]);
    let problems = out.par_chunks_mut(sq * dv).zip(lse.par_chunks_mut(sq));
    for_each_maybe_parallel(
        d.problems() * sq * d.k_len * (dk + dv),
        problems,
        |bh, (o, l)| {
            let v = ProblemRows {
                values: kv.values(bh),
                stride: dv,
                width: dv,
            };
            forward_problem(
                &config,
                params,
                bh,
                q.problem(bh),
                kv.packed_keys(bh),
                v,
                o,
                l,
            );
        },
    );
    Ok(())
}

/// Checks a forward call's parameters and the sizes of `q`, `out` and `lse`, and settles the
/// calls with no query (`true`, nothing to do) or no key (`true`, zero outputs and `+inf`
/// log-sum-exps); `false` when the kernel has work.
fn nothing_to_attend(
    params: &FusedParams<'_>,
    q: &[f32],
    out: &mut [f32],
    lse: &mut [f32],
) -> Result<bool, AttnError> {
    params.check()?;
    let (nq, _, _, no, nl) = params.dims.lens();
    expect_len("q", nq, q.len())?;
    expect_len("out", no, out.len())?;
    expect_len("lse", nl, lse.len())?;
    if nl == 0 {
        return Ok(true);
    }
    if params.dims.k_len == 0 {
        out.fill(0.0);
        lse.fill(f32::INFINITY);
        return Ok(true);
    }
    Ok(false)
}

/// The forward pass of one (batch, head): `q: [Sq, Dk]` over keys packed by
/// [`pack_transposed`] and values `[Sk, Dv]` (both read in place), into `o: [Sq, Dv]` and
/// `l: [Sq]`, in parallel over blocks of queries.
#[allow(clippy::too_many_arguments)]
fn forward_problem(
    config: &KernelConfig,
    params: &FusedParams<'_>,
    bh: usize,
    q: ProblemRows<'_>,
    kt: &[f32],
    v: ProblemRows<'_>,
    o: &mut [f32],
    l: &mut [f32],
) {
    let dv = params.dims.value_dim;
    let block_q = block_q(config, &params.dims);
    o.par_chunks_mut(block_q * dv)
        .zip(l.par_chunks_mut(block_q))
        .enumerate()
        .for_each(|(qb, (o, l))| {
            let block = QueryBlock::new(params, bh, qb * block_q, l.len());
            let scratch = forward_block_scratch(&params.dims, block.rows);
            with_thread_buffer(&TASK, scratch, |scratch| {
                dispatch_forward(config.isa(), params, &block, q, kt, v, o, l, scratch)
            });
        });
}

/// Backward pass: given `dout = ∂L/∂out`, **writes** `∂L/∂q`, `∂L/∂k`, `∂L/∂v` into `dq`, `dk`,
/// `dv` (whatever they held; each head's task zeroes its part before it adds block by block,
/// so the zero-fill runs in parallel, on the thread that then reads it), recomputing the weights tile by tile from `q`, `k` and the forward's `lse` (and the same
/// dropout decisions from the same seed), with `D = rowsum(dout ∘ out)`.
///
/// # Shapes
/// As [`forward`]; `dout`, `out`: `[B, H, Sq, Dv]`, `dq: [B, H, Sq, Dk]`, `dk: [B, H, Sk, Dk]`,
/// `dv: [B, H, Sk, Dv]`.
///
/// **PyTorch equivalent**: the backward of `F.scaled_dot_product_attention`.
///
/// # Errors
/// As [`forward`].
#[allow(clippy::too_many_arguments)]
pub fn backward(
    params: &FusedParams<'_>,
    q: &[f32],
    k: &[f32],
    v: &[f32],
    out: &[f32],
    lse: &[f32],
    dout: &[f32],
    dq: &mut [f32],
    dk: &mut [f32],
    dv: &mut [f32],
) -> Result<(), AttnError> {
    let config = KernelConfig::current()?;
    let layout = HeadLayout::Split;
    backward_with(&config, params, layout, q, k, v, out, lse, dout, dq, dk, dv)
}

/// [`backward`] with `config` instead of the process's [`KernelConfig::current`], reading `q`,
/// `k`, `v`, `out` and `dout` in place laid out as `layout` (`lse`, `dq`, `dk` and `dv` as
/// [`backward`]'s).
///
/// # Errors
/// As [`backward`].
#[allow(clippy::too_many_arguments)]
pub(crate) fn backward_with(
    config: &KernelConfig,
    params: &FusedParams<'_>,
    layout: HeadLayout,
    q: &[f32],
    k: &[f32],
    v: &[f32],
    out: &[f32],
    lse: &[f32],
    dout: &[f32],
    dq: &mut [f32],
    dk: &mut [f32],
    dv: &mut [f32],
) -> Result<(), AttnError> {
    params.check()?;
    let d = params.dims;
    let (nq, nk, nv, no, nl) = d.lens();
    for (what, want, got) in [
        ("q", nq, q.len()),
        ("k", nk, k.len()),
        ("v", nv, v.len()),
        ("out", no, out.len()),
        ("lse", nl, lse.len()),
        ("dout", no, dout.len()),
        ("dq", nq, dq.len()),
        ("dk", nk, dk.len()),
        ("dv", nv, dv.len()),
    ] {
        expect_len(what, want, got)?;
    }
    if nl == 0 || d.k_len == 0 {
        // no query or no key: every gradient is zero
        for g in [dq, dk, dv] {
            g.fill(0.0);
        }
        return Ok(());
    }
    let [q_rows, k_rows, v_rows, o_rows] = HeadRows::of(&d);
    let inputs = [
        (q, q_rows),
        (k, k_rows),
        (v, v_rows),
        (out, o_rows),
        (dout, o_rows),
    ];
    let [q, k, v, out, dout] = Heads::all(layout, inputs);
    let (hd, vd, sq, sk) = (d.head_dim, d.value_dim, d.q_len, d.k_len);
    dq.par_chunks_mut(sq * hd)
        .zip(dk.par_chunks_mut(sk * hd))
        .zip(dv.par_chunks_mut(sk * vd))
        .enumerate()
        .for_each(|(bh, ((dq, dk), dv))| {
            for g in [&mut *dq, &mut *dk, &mut *dv] {
                g.fill(0.0);
            }
            let block_q = block_q(config, &d);
            let (packed_k, packed_v) = (packed_len(sk, hd), packed_len(sk, vd));
            let scratch = packed_k + packed_v + sq + backward_tiles_scratch(&d, block_q);
            with_thread_buffer(&TASK, scratch, |scratch| {
                let (kt, rest) = scratch.split_at_mut(packed_k);
                let (vt, rest) = rest.split_at_mut(packed_v);
                let k = k.problem(bh);
                pack_transposed(config.isa(), k, sk, kt);
                pack_transposed(config.isa(), v.problem(bh), sk, vt);
                let head = Head {
                    bh,
                    q: q.problem(bh),
                    k,
                    kt,
                    vt,
                    out: out.problem(bh),
                    lse: &lse[bh * sq..][..sq],
                    dout: dout.problem(bh),
                };
                dispatch_backward(config.isa(), block_q, params, &head, dq, dk, dv, rest)
            });
        });
    Ok(())
}

/// One block of query rows and the keys they may see.
struct QueryBlock {
    b: usize,
    bh: usize,
    i0: usize,
    rows: usize,
    /// Visible key range of each row before the boolean mask.
    ranges: Vec<(usize, usize)>,
}

impl QueryBlock {
    fn new(params: &FusedParams<'_>, bh: usize, i0: usize, rows: usize) -> Self {
        let b = bh / params.dims.heads.max(1);
        let ranges = (0..rows)
            .map(|r| params.mask.key_range(b, i0 + r, params.dims.k_len))
            .collect();
        QueryBlock {
            b,
            bh,
            i0,
            rows,
            ranges,
        }
    }

    /// The key blocks that may hold a visible key: only those between the first row's first
    /// visible key and the last row's last (ranges only grow with the row), so causal and local
    /// attention skip the rest.
    fn key_blocks(&self) -> std::ops::Range<usize> {
        let lo = self.ranges[0].0;
        let hi = self.ranges[self.rows - 1].1;
        if lo >= hi {
            0..0
        } else {
            lo / BLOCK_K..hi.div_ceil(BLOCK_K)
        }
    }

    /// How the tile of keys `j0..j0 + n` is masked: not at all (every row sees every key of
    /// it), partly, or entirely (skipped).
    fn tile(&self, params: &FusedParams<'_>, j0: usize, n: usize) -> TileMask {
        let j1 = j0 + n;
        if params.mask.allowed.is_none()
            && j0 >= self.ranges[self.rows - 1].0
            && j1 <= self.ranges[0].1
        {
            return TileMask::Dense;
        }
        let d = &params.dims;
        let any = self.ranges.iter().enumerate().any(|(r, &(lo, hi))| {
            let (a, z) = (lo.max(j0), hi.min(j1));
            a < z
                && params
                    .mask
                    .allowed_row(self.b, self.i0 + r, d.q_len, d.k_len)
                    .is_none_or(|row| row[a..z].iter().any(|&x| x))
        });
        if any {
            TileMask::Partial
        } else {
            TileMask::Empty
        }
    }

    /// Sets the scores of masked keys in row `r` of a tile starting at key `j0` to `-inf`.
    fn mask_row(&self, params: &FusedParams<'_>, r: usize, j0: usize, row: &mut [f32]) {
        let (lo, hi) = self.ranges[r];
        let d = &params.dims;
        let allowed = params
            .mask
            .allowed_row(self.b, self.i0 + r, d.q_len, d.k_len);
        for (jj, s) in row.iter_mut().enumerate() {
            let j = j0 + jj;
            let ok = j >= lo && j < hi && allowed.is_none_or(|a| a[j]);
            if !ok {
                *s = f32::NEG_INFINITY;
            }
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum TileMask {
    Dense,
    Partial,
    Empty,
}

/// The inputs of one (batch, head) problem in the backward pass.
struct Head<'a> {
    bh: usize,
    q: ProblemRows<'a>,
    k: ProblemRows<'a>,
    /// The keys and the values packed by [`pack_transposed`].
    kt: &'a [f32],
    vt: &'a [f32],
    out: ProblemRows<'a>,
    lse: &'a [f32],
    dout: ProblemRows<'a>,
}

simd_dispatch!(
    /// [`forward_block`] on the instruction set asked for.
    fn dispatch_forward => forward_block(
        params: &FusedParams<'_>,
        block: &QueryBlock,
        q: ProblemRows<'_>,
        kt: &[f32],
        v: ProblemRows<'_>,
        out: &mut [f32],
        lse: &mut [f32],
        scratch: &mut [f32],
    )
);

simd_dispatch!(
    /// [`backward_head`] on the instruction set asked for.
    fn dispatch_backward => backward_head(
        block_q: usize,
        params: &FusedParams<'_>,
        head: &Head<'_>,
        dq: &mut [f32],
        dk: &mut [f32],
        dv: &mut [f32],
        scratch: &mut [f32],
    )
);

/// The forward pass of one block of query rows: online softmax over the key blocks, in
/// `scratch` ([`forward_block_scratch`] values for the block's rows, whatever they held).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn forward_block<A: Arith>(
    params: &FusedParams<'_>,
    block: &QueryBlock,
    q: ProblemRows<'_>,
    kt: &[f32],
    v: ProblemRows<'_>,
    out: &mut [f32],
    lse: &mut [f32],
    scratch: &mut [f32],
) {
    let d = &params.dims;
    let (dk, dv, sk, rows) = (d.head_dim, d.value_dim, d.k_len, block.rows);
    let (q_scaled, rest) = scratch.split_at_mut(rows * dk);
    let (s, rest) = rest.split_at_mut(rows * BLOCK_K);
    let (acc, rest) = rest.split_at_mut(rows * dv);
    let (max, rest) = rest.split_at_mut(rows);
    let (max_new, rest) = rest.split_at_mut(rows);
    let (tile_sum, rest) = rest.split_at_mut(rows);
    let (sum, keep) = rest.split_at_mut(rows);
    // the queries scaled once per block, so no tile needs a scaling pass over its scores
    for (r, x) in q_scaled.chunks_exact_mut(dk).enumerate() {
        for (x, &y) in x.iter_mut().zip(q.row(block.i0 + r)) {
            *x = y * params.scale;
        }
    }
    let q = &q_scaled[..];
    acc.fill(0.0);
    max.fill(f32::NEG_INFINITY);
    sum.fill(0.0);
    for t in block.key_blocks() {
        let j0 = t * BLOCK_K;
        let n = BLOCK_K.min(sk - j0);
        let tile = block.tile(params, j0, n);
        if tile == TileMask::Empty {
            continue;
        }
        let q_rows = Strided {
            data: q,
            rs: dk,
            cs: 1,
        };
        let kt = &kt[t * BLOCK_K * dk..][..BLOCK_K * dk];
        gemm::<A>(rows, n, dk, q_rows, kt, BLOCK_K, s, BLOCK_K, false);
        // the online softmax in passes over all rows (masks and maxima, exponentials, running
        // terms), not row by row: each row's chain (its maximum, then its exponentials, then
        // their sum) is long and the rows are independent, so whole passes let the CPU
        // overlap rows
        for ((r, row), m_new) in s.chunks_exact_mut(BLOCK_K).enumerate().zip(&mut *max_new) {
            let row = &mut row[..n];
            if tile == TileMask::Partial {
                block.mask_row(params, r, j0, row);
            }
            *m_new = max[r].max(simd::row_max(row));
        }
        for ((row, &m_new), row_sum) in s
            .chunks_exact_mut(BLOCK_K)
            .zip(&*max_new)
            .zip(&mut *tile_sum)
        {
            let row = &mut row[..n];
            if m_new == f32::NEG_INFINITY {
                row.fill(0.0);
            } else {
                *row_sum = simd::exp_shifted_sum::<A>(row, m_new);
            }
        }
        for (r, row) in s.chunks_exact_mut(BLOCK_K).enumerate() {
            let m_new = max_new[r];
            if m_new == f32::NEG_INFINITY {
                continue;
            }
            if max[r] != f32::NEG_INFINITY && max[r] != m_new {
                let alpha = simd::exp::<A>(max[r] - m_new);
                sum[r] *= alpha;
                simd::scale(&mut acc[r * dv..][..dv], alpha);
            }
            sum[r] += tile_sum[r];
            max[r] = m_new;
            if let Some(drop) = &params.dropout {
                let rd = RowDropout::new(drop, block.bh, block.i0 + r);
                rd.factors(j0, &mut keep[..n]);
                for (p, f) in row[..n].iter_mut().zip(&keep[..n]) {
                    *p *= f;
                }
            }
        }
        let weights = Strided {
            data: s,
            rs: BLOCK_K,
            cs: 1,
        };
        gemm::<A>(
            rows,
            dv,
            n,
            weights,
            v.rows_from(j0),
            v.stride,
            acc,
            dv,
            true,
        );
    }
    for r in 0..rows {
        let o = &mut out[r * dv..][..dv];
        if sum[r] > 0.0 {
            let inv = 1.0 / sum[r];
            for (o, a) in o.iter_mut().zip(&acc[r * dv..][..dv]) {
                *o = a * inv;
            }
            lse[r] = max[r] + sum[r].ln();
        } else {
            o.fill(0.0);
            lse[r] = f32::INFINITY;
        }
    }
}

/// The backward pass of one (batch, head): for every query block and visible key block,
/// `P = exp(S - lse)`, `dV += P̃ᵀ·dO`, `dP̃ = dO·Vᵀ`, `dS = P ∘ (dP̃ ∘ Z − D)`, `dQ += scale·dS·K`,
/// `dK += scale·dSᵀ·Q`, where `P̃ = P ∘ Z` and `Z` holds the dropout factors (all 1 without).
/// In `scratch` (the row terms and [`backward_tiles_scratch`] values, whatever they held).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn backward_head<A: Arith>(
    block_q: usize,
    params: &FusedParams<'_>,
    head: &Head<'_>,
    dq: &mut [f32],
    dk: &mut [f32],
    dv: &mut [f32],
    scratch: &mut [f32],
) {
    let d = &params.dims;
    let (hd, vd, sq, sk) = (d.head_dim, d.value_dim, d.q_len, d.k_len);
    let (row_terms, rest) = scratch.split_at_mut(sq);
    let (q_scaled, rest) = rest.split_at_mut(block_q * hd);
    let (p, rest) = rest.split_at_mut(block_q * BLOCK_K);
    let (dp, keep) = rest.split_at_mut(block_q * BLOCK_K);
    // a loop, not an iterator closure: closures do not inherit the caller's target features
    for (i, t) in row_terms.iter_mut().enumerate() {
        *t = simd::dot::<A>(head.dout.row(i), head.out.row(i));
    }
    for i0 in (0..sq).step_by(block_q) {
        let rows = block_q.min(sq - i0);
        let block = QueryBlock::new(params, head.bh, i0, rows);
        for (r, x) in q_scaled[..rows * hd].chunks_exact_mut(hd).enumerate() {
            x.copy_from_slice(head.q.row(i0 + r));
        }
        simd::scale(&mut q_scaled[..rows * hd], params.scale);
        let (dout, ld_dout) = (head.dout.rows_from(i0), head.dout.stride);
        let dq = &mut dq[i0 * hd..][..rows * hd];
        for t in block.key_blocks() {
            let j0 = t * BLOCK_K;
            let n = BLOCK_K.min(sk - j0);
            let tile = block.tile(params, j0, n);
            if tile == TileMask::Empty {
                continue;
            }
            let q_rows = Strided {
                data: q_scaled,
                rs: hd,
                cs: 1,
            };
            let kt = &head.kt[t * BLOCK_K * hd..][..BLOCK_K * hd];
            gemm::<A>(rows, n, hd, q_rows, kt, BLOCK_K, p, BLOCK_K, false);
            for r in 0..rows {
                let row = &mut p[r * BLOCK_K..][..n];
                let lse = head.lse[i0 + r];
                if lse == f32::INFINITY {
                    row.fill(0.0);
                    continue;
                }
                if tile == TileMask::Partial {
                    block.mask_row(params, r, j0, row);
                }
                for x in row.iter_mut() {
                    *x = simd::exp::<A>(*x - lse);
                }
            }
            // dP̃ = dO · Vᵀ over this tile
            let dout_rows = Strided {
                data: dout,
                rs: ld_dout,
                cs: 1,
            };
            let vt = &head.vt[t * BLOCK_K * vd..][..BLOCK_K * vd];
            gemm::<A>(rows, n, vd, dout_rows, vt, BLOCK_K, dp, BLOCK_K, false);
            if let Some(drop) = &params.dropout {
                for r in 0..rows {
                    let rd = RowDropout::new(drop, head.bh, i0 + r);
                    rd.factors(j0, &mut keep[r * BLOCK_K..][..n]);
                }
                // dS = P ∘ (dP̃ ∘ Z − D) into the dP̃ tile, and the dropped weights P ∘ Z into
                // the factor tile, for dV += (P ∘ Z)ᵀ · dO
                for r in 0..rows {
                    let (pr, kr) = (&p[r * BLOCK_K..][..n], &mut keep[r * BLOCK_K..][..n]);
                    let dpr = &mut dp[r * BLOCK_K..][..n];
                    let dr = row_terms[i0 + r];
                    for ((k, dpx), &px) in kr.iter_mut().zip(dpr.iter_mut()).zip(pr) {
                        *dpx = px * (*dpx * *k - dr) * params.scale;
                        *k *= px;
                    }
                }
                let dropped_t = Strided {
                    data: keep,
                    rs: 1,
                    cs: BLOCK_K,
                };
                gemm::<A>(
                    n,
                    vd,
                    rows,
                    dropped_t,
                    dout,
                    ld_dout,
                    &mut dv[j0 * vd..],
                    vd,
                    true,
                );
            } else {
                let p_t = Strided {
                    data: p,
                    rs: 1,
                    cs: BLOCK_K,
                };
                gemm::<A>(
                    n,
                    vd,
                    rows,
                    p_t,
                    dout,
                    ld_dout,
                    &mut dv[j0 * vd..],
                    vd,
                    true,
                );
                for r in 0..rows {
                    let pr = &p[r * BLOCK_K..][..n];
                    let dpr = &mut dp[r * BLOCK_K..][..n];
                    let dr = row_terms[i0 + r];
                    for (dpx, &px) in dpr.iter_mut().zip(pr) {
                        *dpx = px * (*dpx - dr) * params.scale;
                    }
                }
            }
            // dQ += dS · K and dK += dSᵀ · Q (dS already holds the scale)
            let ds = Strided {
                data: dp,
                rs: BLOCK_K,
                cs: 1,
            };
            let (k, ldk) = (head.k.rows_from(j0), head.k.stride);
            gemm::<A>(rows, hd, n, ds, k, ldk, dq, hd, true);
            let ds_t = Strided {
                data: dp,
                rs: 1,
                cs: BLOCK_K,
            };
            let (q, ldq) = (head.q.rows_from(i0), head.q.stride);
            gemm::<A>(n, hd, rows, ds_t, q, ldq, &mut dk[j0 * hd..], hd, true);
        }
    }
}
