use attn_runtime::prelude::*;

attention_model! {
    /// An encoder-decoder transformer with tied output weights.
    pub struct Translator {
        arch: Transformer,
        task: Seq2Seq { src_vocab: 40, tgt_vocab: 16, src_len: 9, tgt_len: 5 },
        d_model: 16, heads: 4, ff: 32,
        encoder_layers: 2, decoder_layers: 1,
        activation: Relu, norm: Pre, tie_embeddings: true,
    }
}

fn main() {
    let dev: Cpu = Default::default();
    let model = dev.build_module::<Translator, f32>();
    let src: Tensor<(usize, Const<9>), usize, _> = dev.tensor_from_vec(vec![5; 18], (2, Const));
    let out = model
        .try_forward_with(Seq2SeqInput::source(src.clone()), &ForwardOptions::eval().with_weights())
        .unwrap();
    let _: Tensor<(usize, Const<5>, Const<16>), f32, _> = out.logits;
    // 2 encoder self-attention maps, then self and cross for the decoder block
    assert_eq!(out.attention.len(), 4);
    assert_eq!(*out.attention[3].weights.shape(), (2, 4, 5, 9));
    // dfdx's Module / ModuleMut: evaluation decodes greedily, training is teacher-forced from
    // typed [B, TL] targets
    let greedy: Tensor<(usize, Const<5>, Const<16>), f32, _> =
        model.forward(Seq2SeqInput::source(src.clone()));
    let tgt: Tensor<(usize, Const<5>), usize, _> = dev.tensor_from_vec(vec![3; 10], (2, Const));
    let mut model = model;
    let forced: Tensor<(usize, Const<5>, Const<16>), f32, _> =
        model.forward_mut(Seq2SeqInput::new(src, tgt));
    assert_eq!(greedy.shape(), forced.shape());
}
