//! What a patch model puts before its patches: nothing, or a learned class token (ViT's
//! `[CLS]`) whose output the classifier reads.

use dfdx::prelude::*;

use crate::error::{AttnError, DeviceResultExt};
use crate::kernels::cpu_op::{realized, Dyn3};
use crate::TensorCollection;

/// Turns `NP` embedded patches `[B, NP, M]` into the encoder's sequence `[B, L, M]`.
pub trait PatchPrefix<const NP: usize, const L: usize, const M: usize, E: Dtype, D: Device<E>> {
    /// Positions it puts before the patches (`L = NP + LEN`).
    const LEN: usize;

    /// The sequence the encoder reads.
    ///
    /// # Shapes
    /// `[B, NP, M] → [B, L, M]`
    fn try_prefix<B: Dim, T: Tape<E, D> + 'static>(
        &self,
        patches: Tensor<(B, Const<NP>, Const<M>), E, D, T>,
    ) -> Result<Tensor<(B, Const<L>, Const<M>), E, D, T>, AttnError>;
}

/// The patches alone (`L = NP`): the classifier pools them.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoClassToken;

impl ZeroSizedModule for NoClassToken {}

impl<const NP: usize, const L: usize, const M: usize, E: Dtype, D: Device<E>>
    PatchPrefix<NP, L, M, E, D> for NoClassToken
{
    const LEN: usize = 0;

    fn try_prefix<B: Dim, T: Tape<E, D> + 'static>(
        &self,
        patches: Tensor<(B, Const<NP>, Const<M>), E, D, T>,
    ) -> Result<Tensor<(B, Const<L>, Const<M>), E, D, T>, AttnError> {
        realized(patches)
    }
}

/// A learned token `[M]` put before the patches (`L = NP + 1`), initialised from N(0, 0.02²);
/// the encoder gathers the image into it and the classifier reads position 0.
///
/// Parameters: `token [M]`.
///
/// # Shapes
/// `[B, NP, M] → [B, NP + 1, M]`
///
/// **PyTorch equivalent**: ViT's `cls_token` (`nn.Parameter(torch.zeros(1, 1, M))`),
/// `torch.cat([cls_token.expand(B, -1, -1), x], dim=1)`.
#[derive(Clone, Debug, TensorCollection)]
pub struct ClassToken<const M: usize, E: Dtype, D: Storage<E>> {
    /// `[M]`.
    #[collection(tensor = TensorOptions::reset_with(|t| crate::param::fill_normal(t, 0.02)))]
    pub token: Tensor<Rank1<M>, E, D>,
}

impl<const NP: usize, const L: usize, const M: usize, E: Dtype, D: Device<E>>
    PatchPrefix<NP, L, M, E, D> for ClassToken<M, E, D>
{
    const LEN: usize = 1;

    fn try_prefix<B: Dim, T: Tape<E, D> + 'static>(
        &self,
        patches: Tensor<(B, Const<NP>, Const<M>), E, D, T>,
    ) -> Result<Tensor<(B, Const<L>, Const<M>), E, D, T>, AttnError> {
        let b = patches.shape().0.size();
        let patches = realized::<Dyn3, _, _, _, _>(patches)?;
        let token = self
            .token
            .retaped::<T>()
            .try_broadcast_like::<_, Axes2<0, 1>>(&(b, 1usize, Const::<M>))
            .dev()?;
        let token = realized::<Dyn3, _, _, _, _>(token)?;
        let joined = (token, patches).try_concat_along(Axis::<1>).dev()?;
        realized(joined)
    }
}
