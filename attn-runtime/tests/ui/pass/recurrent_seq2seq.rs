use attn_runtime::prelude::*;

attention_model! {
    /// A bidirectional GRU encoder-decoder with Bahdanau attention.
    pub struct Rnn {
        arch: Recurrent,
        task: Seq2Seq { src_vocab: 40, tgt_vocab: 16, src_len: 9, tgt_len: 5 },
        d_model: 8,
        cell: Gru,
        hidden: 12,
        bidirectional: true,
        attention: Additive,
    }
}

attention_model! {
    /// An LSTM encoder-decoder with Luong dot attention.
    pub struct RnnDot {
        arch: Recurrent,
        task: Seq2Seq { src_vocab: 40, tgt_vocab: 16, src_len: 9, tgt_len: 5 },
        d_model: 8,
        cell: Lstm,
        hidden: 12,
        layers: 2,
        attention: Dot,
    }
}

attention_model! {
    /// An attention-pooled LSTM classifier.
    pub struct RnnClassifier {
        arch: Recurrent,
        task: Classify { vocab: 40, max_len: 9, classes: 3 },
        d_model: 8,
        cell: Lstm,
        hidden: 6,
        attention: Additive,
    }
}

fn main() {
    let dev: Cpu = Default::default();
    let src: Tensor<(usize, Const<9>), usize, _> = dev.tensor_from_vec(vec![5; 18], (2, Const));
    let model = dev.build_module::<Rnn, f32>();
    let out = model
        .try_forward_with(Seq2SeqInput::source(src.clone()), &ForwardOptions::eval().with_weights())
        .unwrap();
    let _: Tensor<(usize, Const<5>, Const<16>), f32, _> = out.logits;
    assert_eq!(*out.attention[0].weights.shape(), (2, 1, 5, 9));
    let model = dev.build_module::<RnnDot, f32>();
    let out = model.try_forward_with(Seq2SeqInput::source(src.clone()), &ForwardOptions::eval()).unwrap();
    assert_eq!(out.tokens.len(), 2 * 5);
    let logits: Tensor<(usize, Const<5>, Const<16>), f32, _> = model.forward(Seq2SeqInput::source(src.clone()));
    assert_eq!(logits.shape().0, 2);
    let model = dev.build_module::<RnnClassifier, f32>();
    let out = model.try_forward_with(src, &ForwardOptions::eval().lengths(vec![9, 4])).unwrap();
    let _: Tensor<(usize, Const<3>), f32, _> = out.logits;
}
