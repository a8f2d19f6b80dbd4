/// Declares a sweep: a base model, a compile-time grid over its hyper-parameters (one model type
/// per grid point), run-time values and a number of seeds.
///
/// ```text
/// attention_sweep! {
///     /// First doc line: the question the sweep asks.
///     #[name = "<sweep-name>", data = "<dataset>"]
///     pub struct <SweepType> {
///         base: { <fields of attention_model!> },
///         grid: { <key>: [<value>, ..], .. },      // heads, d_model, ff, layers, activation, ..
///         runtime: { <key>: [<number>, ..], .. },  // dropout, lr, weight_decay, label_smoothing, teacher_forcing
///         seeds: <N>,                              // default 1
///     }
/// }
/// ```
///
/// Every grid point is declared as `attention_model!` would declare it, named after the base
/// type and the point (`HeadsSweepHeads2`, registry name `heads-heads2`) and checked the same
/// way: an invalid point is a compile error on the grid value that makes it invalid. The sweep
/// type's `SWEEP` constant ([`experiment::SweepDecl`](crate::experiment::SweepDecl)) lists the
/// points' models, the run-time values and the seeds; `SweepDecl::runs` turns it into the runs
/// [`experiment::run_sweep`](crate::experiment::run_sweep) trains.
///
/// **PyTorch equivalent**: a loop over configurations building `nn.Module`s, with none of the
/// checks before it runs.
///
/// ```
/// use attn_runtime::prelude::*;
/// attention_sweep! {
///     /// Does a tagger need more than one head?
///     #[name = "tiny-heads", data = "sort"]
///     pub struct TinyHeads {
///         base: {
///             arch: SelfAttention,
///             task: Tag { vocab: 16, max_len: 12, tags: 16 },
///             d_model: 16, heads: 1, layers: 1,
///         },
///         grid: { heads: [1, 2] },
///         runtime: { dropout: [0.0, 0.1] },
///         seeds: 2,
///     }
/// }
/// assert_eq!(TinyHeads::SWEEP.points.len(), 2);
/// assert_eq!(TinyHeads::SWEEP.points[1].entry.meta().name, "tiny-heads-heads2");
/// assert_eq!(TinyHeadsHeads2::META.heads, 2);
/// ```
///
/// ```compile_fail
/// use attn_runtime::prelude::*;
/// attention_sweep! {
///     #[name = "bad-heads", data = "sort"]
///     pub struct BadHeads {
///         base: {
///             arch: SelfAttention,
///             task: Tag { vocab: 16, max_len: 12, tags: 16 },
///             d_model: 16, heads: 1, layers: 1,
///         },
///         grid: { heads: [2, 3] }, // 3 does not divide d_model = 16
///     }
/// }
/// ```
pub use attn_macros::attention_sweep;
