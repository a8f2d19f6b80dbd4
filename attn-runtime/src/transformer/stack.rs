//! Stacks of encoder and decoder blocks, with the final layer norm that pre-norm stacks need.

use dfdx::nn::modules::{LayerNorm1D, Repeated};
use dfdx::prelude::*;

use crate::transformer::NormExt;
use num_traits::Float;
use rand_distr::uniform::SampleUniform;

use super::{DecoderBlock, EncoderBlock, FeedForwardNet};
use crate::attention::AttentionOptions;
use crate::attention::LayerAttention;
use crate::error::AttnError;
use crate::kernels::cpu_op::{realized, Dyn3};

/// `N` encoder blocks (`layers.0` …), then a final `norm` when pre-norm (a pre-norm stack's
/// output is otherwise un-normalised).
///
/// # Shapes
/// `[B, S, M] → [B, S, M]`.
///
/// **PyTorch equivalent**: `nn.TransformerEncoder(layer, N, norm=LayerNorm(M) if PRE else None)`.
#[derive(Clone, Debug)]
pub struct TransformerEncoder<
    const M: usize,
    const H: usize,
    Ffn,
    const N: usize,
    const PRE: bool,
    E: Dtype,
    D: Storage<E>,
> {
    /// The blocks.
    pub layers: Repeated<EncoderBlock<M, H, Ffn, PRE, E, D>, N>,
    /// The final norm, present exactly when `PRE`.
    pub norm: Option<LayerNorm1D<M, E, D>>,
}

/// `N` decoder blocks over a memory of width `K`, then a final `norm` when pre-norm.
///
/// # Shapes
/// target `[B, T, M]`, memory `[B, S, K]` → `[B, T, M]`.
///
/// **PyTorch equivalent**: `nn.TransformerDecoder(layer, N, norm=LayerNorm(M) if PRE else None)`.
#[derive(Clone, Debug)]
pub struct TransformerDecoder<
    const M: usize,
    const H: usize,
    const K: usize,
    Ffn,
    const N: usize,
    const PRE: bool,
    E: Dtype,
    D: Storage<E>,
> {
    /// The blocks.
    pub layers: Repeated<DecoderBlock<M, H, K, Ffn, PRE, E, D>, N>,
    /// The final norm, present exactly when `PRE`.
    pub norm: Option<LayerNorm1D<M, E, D>>,
}

macro_rules! stack_collection {
    ($stack:ident < $($c:ident),* >) => {
        impl<$(const $c: usize,)* Ffn, const N: usize, const PRE: bool, E, D> TensorCollection<E, D>
            for $stack<$($c,)* Ffn, N, PRE, E, D>
        where
            E: Dtype + Float + SampleUniform,
            D: Device<E>,
            Ffn: TensorCollection<E, D>,
        {
            type To<E2: Dtype, D2: Device<E2>> = $stack<$($c,)* Ffn::To<E2, D2>, N, PRE, E2, D2>;

            fn iter_tensors<V: ModuleVisitor<Self, E, D>>(
                visitor: &mut V,
            ) -> Result<Option<Self::To<V::E2, V::D2>>, V::Err> {
                if PRE {
                    visitor.visit_fields(
                        (
                            Self::module("layers", |s| &s.layers, |s| &mut s.layers),
                            Self::module(
                                "norm",
                                |s| s.norm.as_ref().expect("a pre-norm stack has a final norm"),
                                |s| s.norm.as_mut().expect("a pre-norm stack has a final norm"),
                            ),
                        ),
                        |(layers, norm)| $stack { layers, norm: Some(norm) },
                    )
                } else {
                    visitor.visit_fields(
                        Self::module("layers", |s| &s.layers, |s| &mut s.layers),
                        |layers| $stack { layers, norm: None },
                    )
                }
            }
        }
    };
}
stack_collection!(TransformerEncoder<M, H>);
stack_collection!(TransformerDecoder<M, H, K>);

impl<const M: usize, const H: usize, Ffn, const N: usize, const PRE: bool, E, D>
    TransformerEncoder<M, H, Ffn, N, PRE, E, D>
where
    E: Dtype,
    D: Device<E>,
    Ffn: FeedForwardNet<M, E, D>,
{
    /// Runs the blocks, then the final norm; when `opts.need_weights`, pushes each block's
    /// self-attention weights, named `{path}.layers.{i}.self_attn`.
    ///
    /// # Errors
    /// Masks that do not fit the batch, and device errors.
    pub fn try_encode<B: Dim, S: Dim, T: Tape<E, D> + 'static>(
        &self,
        x: Tensor<(B, S, Const<M>), E, D, T>,
        opts: &AttentionOptions,
        path: &str,
        weights: &mut Vec<LayerAttention<E, D>>,
    ) -> Result<Tensor<(B, S, Const<M>), E, D, T>, AttnError> {
        let mut x = realized::<Dyn3, _, _, _, _>(x)?;
        for (i, block) in self.layers.modules.iter().enumerate() {
            x = block.try_block_dyn(x, opts, format!("{path}.layers.{i}.self_attn"), weights)?;
        }
        realized(match &self.norm {
            Some(norm) => norm.try_norm_dyn(x)?,
            None => x,
        })
    }
}

impl<
        const M: usize,
        const H: usize,
        const K: usize,
        Ffn,
        const N: usize,
        const PRE: bool,
        E,
        D,
    > TransformerDecoder<M, H, K, Ffn, N, PRE, E, D>
where
    E: Dtype,
    D: Device<E>,
    Ffn: FeedForwardNet<M, E, D>,
{
    /// Runs every block over `x` and `memory`; see [`DecoderBlock::try_block`].
    pub fn try_decode<B: Dim, Tq: Dim, Sk: Dim, T: Tape<E, D> + 'static>(
        &self,
        x: Tensor<(B, Tq, Const<M>), E, D, T>,
        memory: &Tensor<(B, Sk, Const<K>), E, D>,
        self_opts: &AttentionOptions,
        cross_opts: &AttentionOptions,
        weights: &mut Vec<LayerAttention<E, D>>,
    ) -> Result<Tensor<(B, Tq, Const<M>), E, D, T>, AttnError> {
        let mut x = realized::<Dyn3, _, _, _, _>(x)?;
        let memory = realized::<Dyn3, _, _, _, _>(memory.clone())?;
        for (i, block) in self.layers.modules.iter().enumerate() {
            x = block.try_block_dyn(
                x,
                &memory,
                self_opts,
                cross_opts,
                &format!("decoder.layers.{i}"),
                weights,
            )?;
        }
        realized(match &self.norm {
            Some(norm) => norm.try_norm_dyn(x)?,
            None => x,
        })
    }
}

impl<
        const M: usize,
        const H: usize,
        const K: usize,
        Ffn,
        const N: usize,
        const PRE: bool,
        E,
        D,
    > TransformerDecoder<M, H, K, Ffn, N, PRE, E, D>
where
    E: Dtype,
    D: Device<E>,
    Ffn: FeedForwardNet<M, E, D>,
{
    /// One cache per block for decoding against `memory` `[B, S, K]`.
    pub fn try_new_caches(
        &self,
        memory: &Tensor<(usize, usize, Const<K>), E, D>,
    ) -> Result<Vec<super::BlockCache<H, E, D>>, AttnError> {
        self.layers
            .modules
            .iter()
            .map(|block| block.try_new_cache(memory))
            .collect()
    }

    /// Every block on new target positions, extending `caches` (evaluation mode); equals the
    /// full causal pass at those positions.
    pub fn try_step(
        &self,
        x: Tensor<(usize, usize, Const<M>), E, D>,
        caches: &mut [super::BlockCache<H, E, D>],
        self_opts: &AttentionOptions,
        cross_opts: &AttentionOptions,
    ) -> Result<Tensor<(usize, usize, Const<M>), E, D>, AttnError> {
        let mut x = x;
        for (block, cache) in self.layers.modules.iter().zip(caches.iter_mut()) {
            x = block.try_step(x, cache, self_opts, cross_opts)?;
        }
        match &self.norm {
            Some(norm) => norm.try_norm_3d(x),
            None => Ok(x),
        }
    }
}
