//! Multi-head attention with PyTorch's semantics: model dim, heads, key and value input dims.

use dfdx::prelude::*;
use num_traits::Float;
use rand_distr::uniform::SampleUniform;

use super::{core::realize_output, mha_core::DynMha, AttentionOptions, AttnOutput, Projection};
use crate::error::{expect_dim, AttnError};
use crate::kernels::cpu_op::{realized, Dyn3, Dyn4};

/// The output of [`MultiHeadAttention::try_attend`]: context `[B, Sq, M]`, weights
/// `[B, H, Sq, Sk]`.
pub type MhaOutput<B, Sq, Sk, const M: usize, const H: usize, E, D, T> =
    AttnOutput<(B, Sq, Const<M>), (B, Const<H>, Sq, Sk), E, D, T>;

/// Builders: `dev.build_module::<builder::MultiHeadAttention<M, H, K, V, BIAS>, f32>()`.
pub mod builder {
    /// Builder of [`super::MultiHeadAttention`]; `K` and `V` default to `M`, `BIAS` to `true`.
    #[derive(Clone, Copy, Debug, Default)]
    pub struct MultiHeadAttention<
        const M: usize,
        const H: usize,
        const K: usize = M,
        const V: usize = M,
        const BIAS: bool = true,
    >;

    impl<const M: usize, const H: usize, const K: usize, const V: usize, const BIAS: bool>
        MultiHeadAttention<M, H, K, V, BIAS>
    {
        /// Compile-time check that the heads split the model dim evenly.
        pub const HEADS_DIVIDE_MODEL_DIM: () = assert!(
            H > 0 && M.is_multiple_of(H),
            "MultiHeadAttention: the number of heads H must divide the model dim M"
        );
    }
}

/// Multi-head attention: project queries, keys and values to `M`, split into `H` heads of
/// `M / H`, attend per head through the scaled-dot-product seam, concatenate and project back.
///
/// `K` and `V` are the *input* widths of keys and values (PyTorch's `kdim`, `vdim`), so the
/// same module does self-attention (`K = V = M`) and cross-attention between sequences of
/// different widths and lengths. Parameters are named `q_proj`, `k_proj`, `v_proj`,
/// `out_proj` (each `weight`, and `bias` when `BIAS`); a PyTorch state dict (the fused
/// `in_proj_weight` where `K = V = M`, as PyTorch stores it) loads with
/// [`LoadPytorch::load_pytorch_state_dict`](crate::pytorch_names::LoadPytorch).
///
/// # Shapes
/// - query `[B, Sq, M]`, key `[B, Sk, K]`, value `[B, Sk, V]`
/// - returns `context: [B, Sq, M]` and `weights: [B, H, Sq, Sk]` (and their head average through
///   [`AttnOutput::mean_weights`])
///
/// **PyTorch equivalent**: `nn.MultiheadAttention(M, H, bias=BIAS, kdim=K, vdim=V,
/// batch_first=True)` called with `average_attn_weights=False`.
///
/// ```
/// use attn_runtime::prelude::*;
/// let dev: Cpu = Default::default();
/// // cross attention: 8-wide queries over 5 keys of width 6 and values of width 4
/// let mha = dev.build_module::<builder::MultiHeadAttention<8, 2, 6, 4>, f32>();
/// let q: Tensor<Rank3<3, 7, 8>, f32, _> = dev.sample_normal();
/// let k: Tensor<Rank3<3, 5, 6>, f32, _> = dev.sample_normal();
/// let v: Tensor<Rank3<3, 5, 4>, f32, _> = dev.sample_normal();
/// let out = mha.try_attend(q, k, v, &AttentionOptions::default()).unwrap();
/// let _: Tensor<Rank3<3, 7, 8>, f32, _> = out.context;
/// let _: Tensor<Rank4<3, 2, 7, 5>, f32, _> = out.weights.unwrap();
/// ```
///
/// A key of the wrong width is a type error:
/// ```compile_fail
/// use attn_runtime::prelude::*;
/// let dev: Cpu = Default::default();
/// let mha = dev.build_module::<builder::MultiHeadAttention<8, 2, 6, 4>, f32>();
/// let q: Tensor<Rank3<3, 7, 8>, f32, _> = dev.sample_normal();
/// let k: Tensor<Rank3<3, 5, 8>, f32, _> = dev.sample_normal(); // K is 6, not 8
/// let v: Tensor<Rank3<3, 5, 4>, f32, _> = dev.sample_normal();
/// let _ = mha.try_attend(q, k, v, &AttentionOptions::default());
/// ```
#[derive(Clone, Debug)]
pub struct MultiHeadAttention<
    const M: usize,
    const H: usize,
    const K: usize,
    const V: usize,
    E: Dtype,
    D: Storage<E>,
    const BIAS: bool = true,
> {
    /// Query projection `M -> M`.
    pub q_proj: Projection<M, M, E, D, BIAS>,
    /// Key projection `K -> M`.
    pub k_proj: Projection<K, M, E, D, BIAS>,
    /// Value projection `V -> M`.
    pub v_proj: Projection<V, M, E, D, BIAS>,
    /// Output projection `M -> M`.
    pub out_proj: Projection<M, M, E, D, BIAS>,
}

impl<const M: usize, const H: usize, const K: usize, const V: usize, const BIAS: bool, E, D>
    BuildOnDevice<D, E> for builder::MultiHeadAttention<M, H, K, V, BIAS>
where
    E: Dtype,
    D: Device<E>,
    MultiHeadAttention<M, H, K, V, E, D, BIAS>: BuildModule<D, E>,
{
    type Built = MultiHeadAttention<M, H, K, V, E, D, BIAS>;
    fn try_build_on_device(device: &D) -> Result<Self::Built, D::Err> {
        #[allow(clippy::let_unit_value)]
        let _ = Self::HEADS_DIVIDE_MODEL_DIM;
        Self::Built::try_build(device)
    }
}

macro_rules! mha_tensor_collection {
    ($bias:literal) => {
        impl<const M: usize, const H: usize, const K: usize, const V: usize, E, D>
            TensorCollection<E, D> for MultiHeadAttention<M, H, K, V, E, D, $bias>
        where
            E: Dtype + Float + SampleUniform,
            D: Device<E>,
        {
            type To<E2: Dtype, D2: Device<E2>> = MultiHeadAttention<M, H, K, V, E2, D2, $bias>;

            fn iter_tensors<Vi: ModuleVisitor<Self, E, D>>(
                visitor: &mut Vi,
            ) -> Result<Option<Self::To<Vi::E2, Vi::D2>>, Vi::Err> {
                visitor.visit_fields(
                    (
                        Self::module("q_proj", |s| &s.q_proj, |s| &mut s.q_proj),
                        Self::module("k_proj", |s| &s.k_proj, |s| &mut s.k_proj),
                        Self::module("v_proj", |s| &s.v_proj, |s| &mut s.v_proj),
                        Self::module("out_proj", |s| &s.out_proj, |s| &mut s.out_proj),
                    ),
                    |(q_proj, k_proj, v_proj, out_proj)| MultiHeadAttention {
                        q_proj,
                        k_proj,
                        v_proj,
                        out_proj,
                    },
                )
            }
        }
    };
}
mha_tensor_collection!(true);
mha_tensor_collection!(false);

impl<const M: usize, const H: usize, const K: usize, const V: usize, E, D, const BIAS: bool>
    MultiHeadAttention<M, H, K, V, E, D, BIAS>
where
    E: Dtype,
    D: Device<E>,
{
    /// Attends `query` over `key`/`value` with the given mask, dropout and weight capture.
    ///
    /// Gradients flow into all three inputs and every parameter; `key` and `value` may carry no
    /// tape (the dfdx idiom of threading one tape through the query) or their own.
    ///
    /// # Shapes
    /// query `[B, Sq, M]`, key `[B, Sk, K]`, value `[B, Sk, V]` → context `[B, Sq, M]`, weights
    /// `[B, H, Sq, Sk]`.
    ///
    /// # Errors
    /// [`AttnError::ShapeMismatch`] when batch sizes or key/value lengths disagree at run time;
    /// [`AttnError::InvalidMask`] when the mask does not fit.
    pub fn try_attend<B, Sq, Sk, Tq, Tk, Tv>(
        &self,
        query: Tensor<(B, Sq, Const<M>), E, D, Tq>,
        key: Tensor<(B, Sk, Const<K>), E, D, Tk>,
        value: Tensor<(B, Sk, Const<V>), E, D, Tv>,
        opts: &AttentionOptions,
    ) -> Result<MhaOutput<B, Sq, Sk, M, H, E, D, Tq>, AttnError>
    where
        B: Dim,
        Sq: Dim,
        Sk: Dim,
        Tq: Tape<E, D> + 'static + Merge<Tk> + Merge<Tv>,
        Tk: Tape<E, D> + 'static,
        Tv: Tape<E, D> + 'static,
    {
        let b = query.shape().0;
        let sk = key.shape().1;
        expect_dim(
            "multi_head_attention.key.batch",
            b.size(),
            key.shape().0.size(),
        )?;
        expect_dim(
            "multi_head_attention.value.batch",
            b.size(),
            value.shape().0.size(),
        )?;
        expect_dim(
            "multi_head_attention.value.seq_len",
            sk.size(),
            value.shape().1.size(),
        )?;
        let key = onto_tape::<_, _, _, Tq, _>(key);
        let value = onto_tape::<_, _, _, Tq, _>(value);
        let out = self.erased()?.try_attend(
            realized::<Dyn3, _, _, _, _>(query)?,
            realized::<Dyn3, _, _, _, _>(key)?,
            realized::<Dyn3, _, _, _, _>(value)?,
            opts,
        )?;
        realize_output(out)
    }

    /// The parameters on run-time shapes, what the typed methods compute with.
    pub(crate) fn erased(&self) -> Result<DynMha<E, D>, AttnError> {
        Ok(DynMha {
            q: self.q_proj.erased()?,
            k: self.k_proj.erased()?,
            v: self.v_proj.erased()?,
            out: self.out_proj.erased()?,
            heads: H,
        })
    }

    /// The query projection split into heads: `[B, Sq, M] → [B, H, Sq, M/H]`.
    pub fn try_project_query<B: Dim, Sq: Dim, T: Tape<E, D> + 'static>(
        &self,
        query: Tensor<(B, Sq, Const<M>), E, D, T>,
    ) -> Result<Tensor<(B, Const<H>, Sq, usize), E, D, T>, AttnError> {
        realized(
            self.erased()?
                .try_project_query(realized::<Dyn3, _, _, _, _>(query)?)?,
        )
    }

    /// The key and value projections split into heads, recorded on the tape `T`:
    /// `[B, Sk, K]`, `[B, Sk, V]` → `[B, H, Sk, M/H]` each.
    pub fn try_project_key_value<B: Dim, Sk: Dim, T, Tk, Tv>(
        &self,
        key: Tensor<(B, Sk, Const<K>), E, D, Tk>,
        value: Tensor<(B, Sk, Const<V>), E, D, Tv>,
    ) -> Result<
        (
            Tensor<(B, Const<H>, Sk, usize), E, D, T>,
            Tensor<(B, Const<H>, Sk, usize), E, D, T>,
        ),
        AttnError,
    >
    where
        T: Tape<E, D> + 'static + Merge<Tk> + Merge<Tv>,
        Tk: Tape<E, D> + 'static,
        Tv: Tape<E, D> + 'static,
    {
        let key = onto_tape::<_, _, _, T, _>(key);
        let value = onto_tape::<_, _, _, T, _>(value);
        let (k, v) = self.erased()?.try_project_key_value(
            realized::<Dyn3, _, _, _, _>(key)?,
            realized::<Dyn3, _, _, _, _>(value)?,
        )?;
        Ok((realized(k)?, realized(v)?))
    }

    /// Attention over already projected heads (rotary applied here when `opts.rotary`), then
    /// the heads merged and the output projection: `→ [B, Sq, M]`.
    pub fn try_attend_heads<B: Dim, Sq: Dim, Sk: Dim, T, Tk, Tv>(
        &self,
        q: Tensor<(B, Const<H>, Sq, usize), E, D, T>,
        k: Tensor<(B, Const<H>, Sk, usize), E, D, Tk>,
        v: Tensor<(B, Const<H>, Sk, usize), E, D, Tv>,
        opts: &AttentionOptions,
    ) -> Result<MhaOutput<B, Sq, Sk, M, H, E, D, T>, AttnError>
    where
        T: Tape<E, D> + 'static + Merge<Tk> + Merge<Tv>,
        Tk: Tape<E, D> + 'static,
        Tv: Tape<E, D> + 'static,
    {
        let k = onto_tape::<_, _, _, T, _>(k);
        let v = onto_tape::<_, _, _, T, _>(v);
        let out = self.erased()?.try_attend_heads(
            realized::<Dyn4, _, _, _, _>(q)?,
            realized::<Dyn4, _, _, _, _>(k)?,
            realized::<Dyn4, _, _, _, _>(v)?,
            opts,
        )?;
        realize_output(out)
    }

    /// Self-attention: `query = key = value = x` (needs `K = V = M`).
    ///
    /// # Shapes
    /// `x: [B, S, M]` → context `[B, S, M]`, weights `[B, H, S, S]`.
    pub fn try_self_attend<B, S, T>(
        &self,
        x: Tensor<(B, S, Const<M>), E, D, T>,
        opts: &AttentionOptions,
    ) -> Result<MhaOutput<B, S, S, M, H, E, D, T>, AttnError>
    where
        B: Dim,
        S: Dim,
        T: Tape<E, D> + 'static,
        Self: SelfAttendable<B, S, T, M, H, E, D>,
    {
        <Self as SelfAttendable<B, S, T, M, H, E, D>>::self_attend(self, x, opts)
    }
}

/// Self-attention is defined for modules whose key and value widths equal the model width.
pub trait SelfAttendable<B: Dim, S: Dim, T, const M: usize, const H: usize, E: Dtype, D: Storage<E>>
{
    /// See [`MultiHeadAttention::try_self_attend`].
    fn self_attend(
        &self,
        x: Tensor<(B, S, Const<M>), E, D, T>,
        opts: &AttentionOptions,
    ) -> Result<MhaOutput<B, S, S, M, H, E, D, T>, AttnError>;
}

impl<B, S, T, const M: usize, const H: usize, E, D, const BIAS: bool>
    SelfAttendable<B, S, T, M, H, E, D> for MultiHeadAttention<M, H, M, M, E, D, BIAS>
where
    B: Dim,
    S: Dim,
    T: Tape<E, D> + 'static,
    E: Dtype,
    D: Device<E>,
{
    fn self_attend(
        &self,
        x: Tensor<(B, S, Const<M>), E, D, T>,
        opts: &AttentionOptions,
    ) -> Result<MhaOutput<B, S, S, M, H, E, D, T>, AttnError> {
        let (x, tape) = x.split_tape();
        self.try_attend(x.clone().put_tape(tape), x.clone(), x, opts)
    }
}

/// dfdx's `Module` in evaluation mode, cross-attention form: `(query, key, value) -> context`.
impl<
        const M: usize,
        const H: usize,
        const K: usize,
        const V: usize,
        E,
        D,
        const BIAS: bool,
        B,
        Sq,
        Sk,
        Tq,
        Tk,
        Tv,
    >
    Module<(
        Tensor<(B, Sq, Const<M>), E, D, Tq>,
        Tensor<(B, Sk, Const<K>), E, D, Tk>,
        Tensor<(B, Sk, Const<V>), E, D, Tv>,
    )> for MultiHeadAttention<M, H, K, V, E, D, BIAS>
where
    E: Dtype,
    D: Device<E>,
    B: Dim,
    Sq: Dim,
    Sk: Dim,
    Tq: Tape<E, D> + 'static + Merge<Tk> + Merge<Tv>,
    Tk: Tape<E, D> + 'static,
    Tv: Tape<E, D> + 'static,
{
    type Output = Tensor<(B, Sq, Const<M>), E, D, Tq>;
    type Error = AttnError;

    fn try_forward(
        &self,
        (q, k, v): (
            Tensor<(B, Sq, Const<M>), E, D, Tq>,
            Tensor<(B, Sk, Const<K>), E, D, Tk>,
            Tensor<(B, Sk, Const<V>), E, D, Tv>,
        ),
    ) -> Result<Self::Output, AttnError> {
        let opts = AttentionOptions::default().skip_weights();
        Ok(self.try_attend(q, k, v, &opts)?.context)
    }
}

/// dfdx's `Module` in evaluation mode, self-attention form: `x -> context`.
impl<const M: usize, const H: usize, E, D, const BIAS: bool, B, S, T>
    Module<Tensor<(B, S, Const<M>), E, D, T>> for MultiHeadAttention<M, H, M, M, E, D, BIAS>
where
    E: Dtype,
    D: Device<E>,
    B: Dim,
    S: Dim,
    T: Tape<E, D> + 'static,
{
    type Output = Tensor<(B, S, Const<M>), E, D, T>;
    type Error = AttnError;

    fn try_forward(&self, x: Tensor<(B, S, Const<M>), E, D, T>) -> Result<Self::Output, AttnError> {
        let opts = AttentionOptions::default().skip_weights();
        Ok(self.try_self_attend(x, &opts)?.context)
    }
}

impl<
        const M: usize,
        const H: usize,
        const K: usize,
        const V: usize,
        E: Dtype,
        D: Device<E>,
        const BIAS: bool,
    > NonMutableModule for MultiHeadAttention<M, H, K, V, E, D, BIAS>
{
}

/// Moves a tensor onto a tape of type `T`, so ops on it are recorded even when it came without one.
pub(crate) fn onto_tape<
    S: Shape,
    E: Dtype,
    D: Storage<E>,
    T: Tape<E, D> + 'static + Merge<T2>,
    T2: Tape<E, D>,
>(
    x: Tensor<S, E, D, T2>,
) -> Tensor<S, E, D, T> {
    let (x, tape) = x.split_tape();
    x.put_tape(T::default().merge(tape))
}
