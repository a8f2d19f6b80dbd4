use attn_runtime::prelude::*;

attention_model! {
    /// Self-attention over the 4×4 patches of 12×8 RGB images.
    #[name = "ui-patches", data = "digits"]
    pub struct Patches {
        arch: PatchAttention,
        task: ImageClassify { channels: 3, height: 12, width: 8, classes: 5 },
        patch: 4,
        d_model: 24,
        heads: 3,
        layers: 2,
    }
}

fn main() {
    let dev: Cpu = Default::default();
    let model = dev.build_module::<Patches, f32>();
    let images: Tensor<Rank4<2, 3, 12, 8>, f32, _> = dev.sample_uniform();
    let out = model.try_forward_with(images, &ForwardOptions::eval().with_weights()).unwrap();
    let _: Tensor<Rank2<2, 5>, f32, _> = out.logits;
    // (12 / 4) × (8 / 4) = 6 patches
    assert_eq!(*out.attention[1].weights.shape(), (2, 3, 6, 6));
}
