//! Multi-head attention on run-time shapes: what every `MultiHeadAttention<M, H, K, V>` runs
//! after checking its typed inputs, so the projections, head split, attention and merge are
//! compiled once per tape type rather than once per model's sizes.

use dfdx::prelude::*;

use super::{
    fused,
    projection::DynLinear,
    rotary::rotary_erased,
    scaled_dot_product::{sdpa_erased, use_fused},
    AttentionOptions, AttnOutput,
};
use crate::error::{AttnError, DeviceResultExt};
use crate::kernels::cpu_op::{Dyn3, Dyn4};

/// A multi-head attention's parameters on run-time shapes, and its head count.
pub(crate) struct DynMha<E: Dtype, D: Storage<E>> {
    pub(crate) q: DynLinear<E, D>,
    pub(crate) k: DynLinear<E, D>,
    pub(crate) v: DynLinear<E, D>,
    pub(crate) out: DynLinear<E, D>,
    pub(crate) heads: usize,
}

impl<E: Dtype, D: Device<E>> DynMha<E, D> {
    /// Projects, splits into heads, attends, merges and projects back.
    ///
    /// # Shapes
    /// `query: [B, Sq, M]`, `key`, `value: [B, Sk, ·]` → context `[B, Sq, M]`, weights
    /// `[B, H, Sq, Sk]`.
    pub(crate) fn try_attend<T: Tape<E, D> + 'static>(
        &self,
        query: Tensor<Dyn3, E, D, T>,
        key: Tensor<Dyn3, E, D, T>,
        value: Tensor<Dyn3, E, D, T>,
        opts: &AttentionOptions,
    ) -> Result<AttnOutput<Dyn3, Dyn4, E, D, T>, AttnError> {
        (kernels::<E, D, T>()?.attend)(self, query, key, value, opts)
    }

    /// Self-attention: `x` is the query, key and value (key and value join the query's tape,
    /// as dfdx threads one tape through the query).
    pub(crate) fn try_self_attend<T: Tape<E, D> + 'static>(
        &self,
        x: Tensor<Dyn3, E, D, T>,
        opts: &AttentionOptions,
    ) -> Result<AttnOutput<Dyn3, Dyn4, E, D, T>, AttnError> {
        let (x, tape) = x.split_tape();
        self.try_attend(
            x.clone().put_tape(tape),
            x.clone().put_tape(T::default()),
            x.put_tape(T::default()),
            opts,
        )
    }

    /// `[B, Sq, M] → [B, H, Sq, M/H]`.
    pub(crate) fn try_project_query<T: Tape<E, D> + 'static>(
        &self,
        query: Tensor<Dyn3, E, D, T>,
    ) -> Result<Tensor<Dyn4, E, D, T>, AttnError> {
        (kernels::<E, D, T>()?.project_query)(self, query)
    }

    /// `[B, Sk, K]`, `[B, Sk, V]` → `[B, H, Sk, M/H]` each.
    pub(crate) fn try_project_key_value<T: Tape<E, D> + 'static>(
        &self,
        key: Tensor<Dyn3, E, D, T>,
        value: Tensor<Dyn3, E, D, T>,
    ) -> Result<(Tensor<Dyn4, E, D, T>, Tensor<Dyn4, E, D, T>), AttnError> {
        (kernels::<E, D, T>()?.project_key_value)(self, key, value)
    }

    /// Attention over projected heads, merged and projected back: `→ [B, Sq, M]`.
    pub(crate) fn try_attend_heads<T: Tape<E, D> + 'static>(
        &self,
        q: Tensor<Dyn4, E, D, T>,
        k: Tensor<Dyn4, E, D, T>,
        v: Tensor<Dyn4, E, D, T>,
        opts: &AttentionOptions,
    ) -> Result<AttnOutput<Dyn3, Dyn4, E, D, T>, AttnError> {
        (kernels::<E, D, T>()?.attend_heads)(self, q, k, v, opts)
    }

    /// Projects, splits into heads, attends, merges and projects back.
    ///
    /// # Shapes
    /// `query: [B, Sq, M]`, `key`, `value: [B, Sk, ·]` → context `[B, Sq, M]`, weights
    /// `[B, H, Sq, Sk]`.
    fn attend_impl<T: Tape<E, D> + 'static>(
        &self,
        query: Tensor<Dyn3, E, D, T>,
        key: Tensor<Dyn3, E, D, T>,
        value: Tensor<Dyn3, E, D, T>,
        opts: &AttentionOptions,
    ) -> Result<AttnOutput<Dyn3, Dyn4, E, D, T>, AttnError> {
        let m = self.q.weight.shape().0;
        let head_dim = m / self.heads;
        if opts.rotary.is_none() && use_fused::<E, D>(opts, head_dim, head_dim)? {
            // Heads split and merged inside the fused op, without copies of their own.
            let q = self.q.try_forward_3d(query)?;
            let k = self.k.try_forward_3d(key)?;
            let v = self.v.try_forward_3d(value)?;
            let context = fused::try_fused_merged_heads(q, k, v, self.heads, opts)?;
            return Ok(AttnOutput {
                context: self.out.try_forward_3d(context)?,
                weights: None,
            });
        }
        let q = self.try_project_query(query)?;
        let (k, v) = self.try_project_key_value(key, value)?;
        self.try_attend_heads(q, k, v, opts)
    }

    /// `[B, Sq, M] → [B, H, Sq, M/H]`.
    fn project_query_impl<T: Tape<E, D> + 'static>(
        &self,
        query: Tensor<Dyn3, E, D, T>,
    ) -> Result<Tensor<Dyn4, E, D, T>, AttnError> {
        split_heads(self.q.try_forward_3d(query)?, self.heads)
    }

    /// `[B, Sk, K]`, `[B, Sk, V]` → `[B, H, Sk, M/H]` each.
    fn project_key_value_impl<T: Tape<E, D> + 'static>(
        &self,
        key: Tensor<Dyn3, E, D, T>,
        value: Tensor<Dyn3, E, D, T>,
    ) -> Result<(Tensor<Dyn4, E, D, T>, Tensor<Dyn4, E, D, T>), AttnError> {
        Ok((
            split_heads(self.k.try_forward_3d(key)?, self.heads)?,
            split_heads(self.v.try_forward_3d(value)?, self.heads)?,
        ))
    }

    /// Attention over projected heads (rotary applied here when `opts.rotary`), the heads
    /// merged and the output projection: `→ [B, Sq, M]`.
    fn attend_heads_impl<T: Tape<E, D> + 'static>(
        &self,
        q: Tensor<Dyn4, E, D, T>,
        k: Tensor<Dyn4, E, D, T>,
        v: Tensor<Dyn4, E, D, T>,
        opts: &AttentionOptions,
    ) -> Result<AttnOutput<Dyn3, Dyn4, E, D, T>, AttnError> {
        let (b, h, sq, _) = *q.shape();
        let (q, k) = match &opts.rotary {
            Some(r) => (rotary_erased(q, r)?, rotary_erased(k, r)?),
            None => (q, k),
        };
        let out = sdpa_erased(q, k, v, opts)?;
        let value_dim = out.context.shape().3;
        let context = out
            .context
            .try_permute::<_, Axes4<0, 2, 1, 3>>()
            .dev()?
            .try_reshape_like(&(b, sq, h * value_dim))
            .dev()?;
        Ok(AttnOutput {
            context: self.out.try_forward_3d(context)?,
            weights: out.weights,
        })
    }
}

kernel_tables! {
    /// [`DynMha`]'s kernels, compiled once in attn-runtime (see `kernel_tables!`).
    struct MhaKernels {
        attend: fn(
            &DynMha<E, D>,
            Tensor<Dyn3, E, D, T>,
            Tensor<Dyn3, E, D, T>,
            Tensor<Dyn3, E, D, T>,
            &AttentionOptions,
        ) -> Result<AttnOutput<Dyn3, Dyn4, E, D, T>, AttnError>
            = DynMha::<E, D>::attend_impl::<T>,
        project_query: fn(
            &DynMha<E, D>,
            Tensor<Dyn3, E, D, T>,
        ) -> Result<Tensor<Dyn4, E, D, T>, AttnError>
            = DynMha::<E, D>::project_query_impl::<T>,
        project_key_value: fn(
            &DynMha<E, D>,
            Tensor<Dyn3, E, D, T>,
            Tensor<Dyn3, E, D, T>,
        ) -> Result<(Tensor<Dyn4, E, D, T>, Tensor<Dyn4, E, D, T>), AttnError>
            = DynMha::<E, D>::project_key_value_impl::<T>,
        attend_heads: fn(
            &DynMha<E, D>,
            Tensor<Dyn4, E, D, T>,
            Tensor<Dyn4, E, D, T>,
            Tensor<Dyn4, E, D, T>,
            &AttentionOptions,
        ) -> Result<AttnOutput<Dyn3, Dyn4, E, D, T>, AttnError>
            = DynMha::<E, D>::attend_heads_impl::<T>,
    }
}

/// `[B, S, M] -> [B, H, S, M / H]`.
fn split_heads<E: Dtype, D: Device<E>, T: Tape<E, D> + 'static>(
    x: Tensor<Dyn3, E, D, T>,
    heads: usize,
) -> Result<Tensor<Dyn4, E, D, T>, AttnError> {
    let (b, s, m) = *x.shape();
    x.try_reshape_like(&(b, s, heads, m / heads))
        .dev()?
        .try_permute::<_, Axes4<0, 2, 1, 3>>()
        .dev()
}
