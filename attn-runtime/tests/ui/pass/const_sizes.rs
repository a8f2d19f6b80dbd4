use attn_runtime::prelude::*;

/// The sizes of the models below, as `const` items: the macro cannot see their values, so the
/// compiler checks its rules (heads divide the width, patches tile the image, ..) instead.
const VOCAB: usize = 50;
const LEN: usize = 7;
const WIDTH: usize = 32;
const HEADS: usize = 4;
const LAYERS: usize = 2;

mod sizes {
    pub const IMAGE: usize = 8;
    pub const PATCH: usize = 4;
    pub const HIDDEN: usize = 6;
}

attention_model! {
    /// A self-attention classifier sized by constants.
    pub struct ConstClassifier {
        arch: SelfAttention,
        task: Classify { vocab: VOCAB, max_len: LEN, classes: 3 },
        d_model: WIDTH, heads: HEADS, layers: LAYERS,
        positional: Learned,
    }
}

attention_model! {
    /// A transformer translator whose encoder width is a constant.
    pub struct ConstTranslator {
        arch: Transformer,
        task: Seq2Seq { src_vocab: VOCAB, tgt_vocab: 16, src_len: LEN, tgt_len: 5 },
        d_model: 16, heads: HEADS, ff: 32, kdim: WIDTH,
        encoder_layers: LAYERS, decoder_layers: 1,
        activation: Geglu, positional: Learned,
    }
}

attention_model! {
    /// A patch model: the image and the patch are constants.
    pub struct ConstPatches {
        arch: PatchAttention,
        task: ImageClassify { channels: 1, height: sizes::IMAGE, width: sizes::IMAGE, classes: 10 },
        patch: sizes::PATCH,
        d_model: WIDTH, heads: 2, layers: 1,
    }
}

attention_model! {
    /// A bidirectional GRU with Bahdanau attention and a constant hidden size.
    pub struct ConstRnn {
        arch: Recurrent,
        task: Seq2Seq { src_vocab: VOCAB, tgt_vocab: 16, src_len: LEN, tgt_len: 5 },
        d_model: 8, cell: Gru, hidden: crate::sizes::HIDDEN, bidirectional: true,
        attention: Additive,
    }
}

fn main() {
    let dev: Cpu = Default::default();
    let ids: Tensor<(usize, Const<LEN>), usize, _> = dev.tensor_from_vec(vec![1; 2 * LEN], (2, Const));
    let model = dev.build_module::<ConstClassifier, f32>();
    let out = model.try_forward_with(ids.clone(), &ForwardOptions::eval().with_weights()).unwrap();
    let _: Tensor<(usize, Const<3>), f32, _> = out.logits;
    assert_eq!(*out.attention[1].weights.shape(), (2, HEADS, LEN, LEN));
    assert_eq!(ConstClassifier::META.d_model, WIDTH);
    assert_eq!(
        ConstClassifier::META.task,
        attn_runtime::model::TaskSpec::Classify { vocab: VOCAB, max_len: LEN, classes: 3 }
    );

    let model = dev.build_module::<ConstTranslator, f32>();
    let out = model
        .try_forward_with(Seq2SeqInput::source(ids.clone()), &ForwardOptions::eval().with_weights())
        .unwrap();
    let _: Tensor<(usize, Const<5>, Const<16>), f32, _> = out.logits;
    assert_eq!(out.attention.len(), LAYERS + 2);

    let model = dev.build_module::<ConstPatches, f32>();
    let images: Tensor<Rank4<2, 1, 8, 8>, f32, _> = dev.sample_uniform();
    let logits: Tensor<Rank2<2, 10>, f32, _> = model.forward(images);
    assert_eq!(logits.shape().1.size(), 10);
    assert_eq!(ConstPatches::META.patch, Some(sizes::PATCH));

    let model = dev.build_module::<ConstRnn, f32>();
    let logits: Tensor<(usize, Const<5>, Const<16>), f32, _> = model.forward(Seq2SeqInput::source(ids));
    assert_eq!(logits.shape().0, 2);
    assert_eq!(ConstRnn::META.hidden, Some(sizes::HIDDEN));
}
