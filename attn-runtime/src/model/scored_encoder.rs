//! How a single-head encoder scores queries against keys: the built-in (scaled) dot product
//! through the multi-head attention op (its fused kernel), or a score function of the user's
//! (`scoring: MyScore` in a declaration) through the attention seam.

use std::marker::PhantomData;

use dfdx::prelude::*;

use super::{LayerAttention, SingleHeadEncoder};
use crate::attention::{try_attend, AttentionOptions, MultiHeadAttention};
use crate::error::{AttnError, DeviceResultExt};

/// A query/key score function of a single-head model, for a declaration's
/// `scoring: YourType` (any name that is not a built-in's, `Dot` or `Scaled`, nor a typo of
/// one). It maps the projected queries and keys to raw scores; the attention seam
/// ([`try_attend`]) then masks them, takes the softmax and weights the values, so masks,
/// dropout and weight capture work as for the built-ins.
///
/// # Shapes
/// queries `[B, Sq, Dk]`, keys `[B, Sk, Dk]` → scores `[B, Sq, Sk]`.
///
/// # Example
///
/// ```
/// use attn_runtime::prelude::*;
/// use attn_runtime::model::ScoreFn;
///
/// /// `q·kᵀ / d`: dot products scaled by the width rather than its square root.
/// #[derive(Clone, Copy, Debug, Default)]
/// pub struct DotOverWidth;
///
/// impl ScoreFn for DotOverWidth {
///     const NAME: &'static str = "DotOverWidth";
///
///     fn try_score<B: Dim, Sq: Dim, Sk: Dim, E: Dtype, D: Device<E>, T: Tape<E, D> + 'static>(
///         q: Tensor<(B, Sq, usize), E, D, T>,
///         k: Tensor<(B, Sk, usize), E, D, T>,
///     ) -> Result<Tensor<(B, Sq, Sk), E, D, T>, AttnError> {
///         let inverse_width = E::from_f64(1.0 / q.shape().2 as f64).unwrap_or_default();
///         let kt = k.try_permute::<_, Axes3<0, 2, 1>>().map_err(AttnError::device)?;
///         q.try_matmul(kt)
///             .and_then(|s| s.try_mul(inverse_width))
///             .map_err(AttnError::device)
///     }
/// }
///
/// attention_model! {
///     /// One head scored by `DotOverWidth`.
///     pub struct Scored {
///         arch: SingleHead,
///         task: Classify { vocab: 10, max_len: 4, classes: 2 },
///         d_model: 8,
///         scoring: DotOverWidth,
///     }
/// }
///
/// assert_eq!(<Scored as DeclaredModel>::SCORING_NAME, "DotOverWidth");
/// let dev: Cpu = Default::default();
/// let model = dev.build_module::<Scored, f32>();
/// let ids: Tensor<(usize, Const<4>), usize, _> = dev.tensor_from_vec(vec![1; 8], (2, Const));
/// let _: Tensor<(usize, Const<2>), f32, _> = model.forward(ids);
/// ```
pub trait ScoreFn: Clone + Copy + std::fmt::Debug + Default + 'static {
    /// The declaration's name for it (its type name, by convention).
    const NAME: &'static str;

    /// The raw scores of every query against every key.
    fn try_score<B: Dim, Sq: Dim, Sk: Dim, E: Dtype, D: Device<E>, T: Tape<E, D> + 'static>(
        q: Tensor<(B, Sq, usize), E, D, T>,
        k: Tensor<(B, Sk, usize), E, D, T>,
    ) -> Result<Tensor<(B, Sq, Sk), E, D, T>, AttnError>;
}

/// How [`SingleHeadEncoder`] turns its projections into attention: [`BuiltInScores`] or
/// [`Scored`]`<YourScoreFn>`.
pub trait HeadScoring: Clone + Copy + std::fmt::Debug + Default + 'static {
    /// Attends `x` to itself through `attention`'s projections; when `opts.need_weights`, pushes
    /// the `[B, 1, S, S]` weights as `{path}.attention`.
    ///
    /// # Errors
    /// Masks that do not fit, and device errors.
    fn try_attend_head<
        const M: usize,
        B: Dim,
        S: Dim,
        E: Dtype,
        D: Device<E>,
        T: Tape<E, D> + 'static,
    >(
        attention: &MultiHeadAttention<M, 1, M, M, E, D>,
        x: Tensor<(B, S, Const<M>), E, D, T>,
        opts: &AttentionOptions,
        path: &str,
        weights: &mut Vec<LayerAttention<E, D>>,
    ) -> Result<Tensor<(B, S, Const<M>), E, D, T>, AttnError>;
}

/// The declared `Dot`/`Scaled` scores (the scale comes with the options): multi-head attention's
/// own self-attention, fused kernel included.
#[derive(Clone, Copy, Debug, Default)]
pub struct BuiltInScores;

impl HeadScoring for BuiltInScores {
    fn try_attend_head<
        const M: usize,
        B: Dim,
        S: Dim,
        E: Dtype,
        D: Device<E>,
        T: Tape<E, D> + 'static,
    >(
        attention: &MultiHeadAttention<M, 1, M, M, E, D>,
        x: Tensor<(B, S, Const<M>), E, D, T>,
        opts: &AttentionOptions,
        path: &str,
        weights: &mut Vec<LayerAttention<E, D>>,
    ) -> Result<Tensor<(B, S, Const<M>), E, D, T>, AttnError> {
        let out = attention.try_self_attend(x, opts)?;
        if let Some(w) = out.weights {
            weights.push(LayerAttention::capture(format!("{path}.attention"), w)?);
        }
        Ok(out.context)
    }
}

/// The scores of the user's `Sc` in place of the dot product, through the attention seam
/// ([`try_attend`]): masks, dropout and weight capture as for the built-ins.
#[derive(Clone, Copy, Debug, Default)]
pub struct Scored<Sc>(PhantomData<Sc>);

impl<Sc: ScoreFn> HeadScoring for Scored<Sc> {
    fn try_attend_head<
        const M: usize,
        B: Dim,
        S: Dim,
        E: Dtype,
        D: Device<E>,
        T: Tape<E, D> + 'static,
    >(
        attention: &MultiHeadAttention<M, 1, M, M, E, D>,
        x: Tensor<(B, S, Const<M>), E, D, T>,
        opts: &AttentionOptions,
        path: &str,
        weights: &mut Vec<LayerAttention<E, D>>,
    ) -> Result<Tensor<(B, S, Const<M>), E, D, T>, AttnError> {
        let (b, s, _) = *x.shape();
        // the dfdx idiom: the tape goes with the query; keys and values join it when projected
        let (x, tape) = x.split_tape();
        let q = attention.try_project_query(x.clone().put_tape(tape))?;
        let (k, v) =
            attention.try_project_key_value::<B, S, T, NoneTape, NoneTape>(x.clone(), x)?;
        let q = q.try_reshape_like(&(b, s, M)).dev()?;
        let k = k.try_reshape_like(&(b, s, M)).dev()?;
        let scores = Sc::try_score(q, k)?
            .try_reshape_like(&(b, Const::<1>, s, s))
            .dev()?;
        let out = try_attend(scores, v, opts)?;
        let context = out.context.try_reshape_like(&(b, s, Const::<M>)).dev()?;
        if let Some(w) = out.weights {
            weights.push(LayerAttention::capture(format!("{path}.attention"), w)?);
        }
        attention.out_proj.try_forward_3d(context)
    }
}

/// [`SingleHeadEncoder`] with the scores of `Sc` in place of the (scaled) dot product; the same
/// parameters, under the same names.
///
/// # Shapes
/// `[B, S, M] -> [B, S, M]`, weights `[B, 1, S, S]`.
pub type ScoredSingleHeadEncoder<const M: usize, Sc, E, D> = SingleHeadEncoder<M, E, D, Scored<Sc>>;
