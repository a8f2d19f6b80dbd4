//! Attention over image patches: a vision transformer (patch embedding, an optional class token,
//! positions, self-attention or transformer blocks, a classifier).

use std::marker::PhantomData;

use dfdx::prelude::*;

use super::{
    image_input, impl_attn_model, Batch, BatchInput, DeclaredModel, ForwardOptions, ModelMeta,
    ModelOutput, PatchPrefix, PositionalEncoding, SequenceEncoder, TaskHead,
};
use crate::attention::Projection;
use crate::error::{AttnError, DeviceResultExt};
use crate::TensorCollection;

/// Classifies `CH × IH × IW` images by cutting them into `P × P` patches (`NP` of them, each
/// flattened to `PD = CH·P·P` values), projecting each to width `M`, putting the prefix `Cls`
/// before them ([`NoClassToken`](super::NoClassToken), or ViT's learned
/// [`ClassToken`](super::ClassToken)) to make a sequence of `L` positions, adding positions,
/// encoding (self-attention layers, or transformer blocks with feed-forward networks) and
/// applying the head (mean pooling, or the class token's output). Declared models name this type
/// with the patch arithmetic done; `S` is the declaration.
///
/// Parameters: `patch_embed.weight [M, PD]`, `patch_embed.bias [M]`, `class_token.*`,
/// `positional.*`, `encoder.*`, `head.*`.
///
/// # Shapes
/// images `[B, CH, IH, IW]` → logits `[B, C]`; attention `[B, H, L, L]` per layer (position 0
/// is the class token when there is one, then the patches in row-major order).
///
/// **PyTorch equivalent**: a ViT (`torchvision.models.VisionTransformer`, timm's `vit_*`) whose
/// patch embedding is `nn.Conv2d(CH, M, P, stride=P)`, with `cls_token`, `pos_embed` and
/// pre-norm encoder blocks.
#[derive(Clone, Debug, TensorCollection)]
pub struct PatchModel<
    const CH: usize,
    const IH: usize,
    const IW: usize,
    const P: usize,
    const NP: usize,
    const PD: usize,
    const L: usize,
    const M: usize,
    Enc,
    Pos,
    Cls,
    Head,
    S,
    E: Dtype,
    D: Storage<E>,
> {
    /// Flattened patch → model width.
    pub patch_embed: Projection<PD, M, E, D, true>,
    /// What goes before the patches.
    pub class_token: Cls,
    /// Positional encoding over the sequence (the class token, then patches in row-major
    /// order).
    pub positional: Pos,
    /// The attention encoder.
    pub encoder: Enc,
    /// The task head.
    pub head: Head,
    spec: PhantomData<S>,
}

impl<
        const CH: usize,
        const IH: usize,
        const IW: usize,
        const P: usize,
        const NP: usize,
        const PD: usize,
        const L: usize,
        const M: usize,
        Enc,
        Pos,
        Cls,
        Head,
        S,
        E,
        D,
    > PatchModel<CH, IH, IW, P, NP, PD, L, M, Enc, Pos, Cls, Head, S, E, D>
where
    E: Dtype,
    D: Storage<E>,
{
    /// The patch arithmetic the declaration's macro did, checked again by the compiler (`L` is
    /// checked against the prefix's length when the model runs).
    pub const PATCHES_TILE_THE_IMAGE: () = assert!(
        P > 0
            && IH.is_multiple_of(P)
            && IW.is_multiple_of(P)
            && NP == (IH / P) * (IW / P)
            && PD == CH * P * P
            && (L == NP || L == NP + 1),
        "PatchModel: P must divide the image, NP = (IH/P)(IW/P), PD = CH·P·P and L = NP (+ 1 for a class token)"
    );
}

impl_attn_model! {
    impl[
        const CH: usize,
        const IH: usize,
        const IW: usize,
        const P: usize,
        const NP: usize,
        const PD: usize,
        const L: usize,
        const M: usize,
        Enc,
        Pos,
        Cls,
        Head,
        S,
        E,
        D
    ]
    for PatchModel<CH, IH, IW, P, NP, PD, L, M, Enc, Pos, Cls, Head, S, E, D>
    where [
        E: Dtype,
        D: Device<E>,
        Enc: SequenceEncoder<M, E, D>,
        Pos: PositionalEncoding<M, E, D>,
        Cls: PatchPrefix<NP, L, M, E, D>,
        Head: TaskHead<L, M, E, D>,
        S: DeclaredModel,
        Self: TensorCollection<E, D>,
    ]
    input Tensor<(B, Const<CH>, Const<IH>, Const<IW>), E, D, T>
    {
        type Logits<B: Dim> = Head::Logits<B>;

        fn meta(&self) -> &'static ModelMeta {
            &S::META
        }

        /// Runs the model on a batch of images.
        ///
        /// # Shapes
        /// `[B, CH, IH, IW]` → logits; attention `[B, H, L, L]` per layer when requested.
        fn try_forward_with<B: Dim, T: Tape<E, D> + 'static>(
            &self,
            images: Tensor<(B, Const<CH>, Const<IH>, Const<IW>), E, D, T>,
            opts: &ForwardOptions,
        ) -> Result<ModelOutput<Head::Logits<B>, E, D, T>, AttnError> {
            let b = images.shape().0;
            let patches = images
                .try_reshape_like(&(b.size(), CH, IH / P, P, IW / P, P))
                .dev()?
                .try_permute::<_, Axes6<0, 2, 4, 1, 3, 5>>()
                .dev()?
                .try_reshape_like(&(b, Const::<NP>, Const::<PD>))
                .dev()?;
            if L != NP + Cls::LEN {
                return Err(AttnError::InvalidHyperParameter {
                    name: "PatchModel sequence length L",
                    value: L.to_string(),
                    requirement: "must be the patches plus the prefix's positions (NP + 1 with a class token, NP without)",
                });
            }
            let x = self.patch_embed.try_forward_3d(patches)?;
            let x = self.class_token.try_prefix(x)?;
            let x = self.positional.try_add_positions(x)?;
            let attn = S::META.forward_attention_options(None, opts);
            let mut attention = Vec::new();
            let x = self
                .encoder
                .try_encode(x, &attn, "encoder", &mut attention)?;
            let logits = self.head.try_head(x, None)?;
            Ok(ModelOutput::new(logits, attention))
        }

        fn try_input<T: Tape<E, D> + 'static>(
            &self,
            batch: &Batch,
            tape: T,
        ) -> Result<BatchInput<Self::Input<usize, T>>, AttnError> {
            image_input::<CH, IH, IW, E, D, T>(batch, self.patch_embed.weight.device(), &S::META, tape)
        }
    }
}
