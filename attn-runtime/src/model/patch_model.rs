//! Attention over image patches: a small vision transformer without feed-forward blocks.

use std::marker::PhantomData;

use dfdx::prelude::*;
use num_traits::Float;
use rand_distr::uniform::SampleUniform;

use super::{
    image_input, impl_attn_model, Batch, BatchInput, DeclaredModel, ForwardOptions, ModelMeta,
    ModelOutput, PositionalEncoding, SequenceEncoder, TaskHead,
};
use crate::attention::Projection;
use crate::error::{AttnError, DeviceResultExt};

/// Classifies `CH × IH × IW` images by cutting them into `P × P` patches (`NP` of them, each
/// flattened to `PD = CH·P·P` values), projecting each to width `M`, adding positions, encoding
/// with self-attention and applying the head. Declared models name this type with the patch
/// arithmetic done; `S` is the declaration.
///
/// Parameters: `patch_embed.weight [M, PD]`, `patch_embed.bias [M]`, `positional.*`,
/// `encoder.*`, `head.*`.
///
/// # Shapes
/// images `[B, CH, IH, IW]` → logits `[B, C]`; attention `[B, H, NP, NP]` per layer.
///
/// **PyTorch equivalent**: a ViT whose patch embedding is `nn.Conv2d(CH, M, P, stride=P)`.
#[derive(Clone, Debug)]
pub struct PatchModel<
    const CH: usize,
    const IH: usize,
    const IW: usize,
    const P: usize,
    const NP: usize,
    const PD: usize,
    const M: usize,
    Enc,
    Pos,
    Head,
    S,
    E: Dtype,
    D: Storage<E>,
> {
    /// Flattened patch → model width.
    pub patch_embed: Projection<PD, M, E, D, true>,
    /// Positional encoding over patches (row-major order).
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
        const M: usize,
        Enc,
        Pos,
        Head,
        S,
        E,
        D,
    > PatchModel<CH, IH, IW, P, NP, PD, M, Enc, Pos, Head, S, E, D>
where
    E: Dtype,
    D: Storage<E>,
{
    /// The patch arithmetic the declaration's macro did, checked again by the compiler.
    pub const PATCHES_TILE_THE_IMAGE: () = assert!(
        P > 0 && IH % P == 0 && IW % P == 0 && NP == (IH / P) * (IW / P) && PD == CH * P * P,
        "PatchModel: P must divide the image, NP = (IH/P)(IW/P) and PD = CH·P·P"
    );
}

impl<
        const CH: usize,
        const IH: usize,
        const IW: usize,
        const P: usize,
        const NP: usize,
        const PD: usize,
        const M: usize,
        Enc,
        Pos,
        Head,
        S,
        E,
        D,
    > TensorCollection<E, D> for PatchModel<CH, IH, IW, P, NP, PD, M, Enc, Pos, Head, S, E, D>
where
    E: Dtype + Float + SampleUniform,
    D: Device<E>,
    Enc: TensorCollection<E, D>,
    Pos: TensorCollection<E, D>,
    Head: TensorCollection<E, D>,
{
    type To<E2: Dtype, D2: Device<E2>> = PatchModel<
        CH,
        IH,
        IW,
        P,
        NP,
        PD,
        M,
        Enc::To<E2, D2>,
        Pos::To<E2, D2>,
        Head::To<E2, D2>,
        S,
        E2,
        D2,
    >;

    fn iter_tensors<Vi: ModuleVisitor<Self, E, D>>(
        visitor: &mut Vi,
    ) -> Result<Option<Self::To<Vi::E2, Vi::D2>>, Vi::Err> {
        #[allow(clippy::let_unit_value)]
        let _ = Self::PATCHES_TILE_THE_IMAGE;
        visitor.visit_fields(
            (
                Self::module("patch_embed", |s| &s.patch_embed, |s| &mut s.patch_embed),
                Self::module("positional", |s| &s.positional, |s| &mut s.positional),
                Self::module("encoder", |s| &s.encoder, |s| &mut s.encoder),
                Self::module("head", |s| &s.head, |s| &mut s.head),
            ),
            |(patch_embed, positional, encoder, head)| PatchModel {
                patch_embed,
                positional,
                encoder,
                head,
                spec: PhantomData,
            },
        )
    }
}

impl_attn_model! {
    impl[
        const CH: usize,
        const IH: usize,
        const IW: usize,
        const P: usize,
        const NP: usize,
        const PD: usize,
        const M: usize,
        Enc,
        Pos,
        Head,
        S,
        E,
        D
    ]
    for PatchModel<CH, IH, IW, P, NP, PD, M, Enc, Pos, Head, S, E, D>
    where [
        E: Dtype,
        D: Device<E>,
        Enc: SequenceEncoder<M, E, D>,
        Pos: PositionalEncoding<M, E, D>,
        Head: TaskHead<NP, M, E, D>,
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
        /// `[B, CH, IH, IW]` → logits; attention `[B, H, NP, NP]` per layer when requested.
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
            let x = self.patch_embed.try_forward_3d(patches)?;
            let x = self.positional.try_add_positions(x)?;
            let mut attn = S::META.attention_options(None);
            attn.need_weights = opts.need_weights;
            attn.training = opts.training();
            attn.dropout = opts.effective_dropout(S::META.dropout);
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
