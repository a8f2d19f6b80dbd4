//! A score function of the user's own: `scoring: PlainDot` (single head) and `attention:
//! PlainDot` (a recurrent decoder) name a type of this file implementing
//! `attn_runtime::model::ScoreFn`. With `q·kᵀ` it must be the built-in `Dot` of each, parameter
//! for parameter, and gradients must flow through it.

use attn_runtime::model::ScoreFn;
use attn_runtime::prelude::*;
use attn_runtime::spec::{RnnAttention, Scoring};

/// `q·kᵀ`, the built-in `Dot`, written as a user would.
#[derive(Clone, Copy, Debug, Default)]
pub struct PlainDot;

impl ScoreFn for PlainDot {
    const NAME: &'static str = "PlainDot";

    fn try_score<B: Dim, Sq: Dim, Sk: Dim, E: Dtype, D: Device<E>, T: Tape<E, D>>(
        q: Tensor<(B, Sq, usize), E, D, T>,
        k: Tensor<(B, Sk, usize), E, D, T>,
    ) -> Result<Tensor<(B, Sq, Sk), E, D, T>, AttnError> {
        let kt = k
            .try_permute::<_, Axes3<0, 2, 1>>()
            .map_err(AttnError::device)?;
        q.try_matmul(kt).map_err(AttnError::device)
    }
}

attention_model! {
    /// One head scored by the user's `PlainDot`.
    pub struct UserScored {
        arch: SingleHead,
        task: Classify { vocab: 12, max_len: 5, classes: 3 },
        d_model: 8,
        scoring: PlainDot,
    }
}

attention_model! {
    /// The same model scored by the built-in `Dot`.
    pub struct BuiltInDot {
        arch: SingleHead,
        task: Classify { vocab: 12, max_len: 5, classes: 3 },
        d_model: 8,
        scoring: Dot,
    }
}

#[test]
fn the_users_score_function_is_in_the_metadata() {
    assert_eq!(UserScored::META.scoring, Scoring::Custom);
    assert_eq!(<UserScored as DeclaredModel>::SCORING_NAME, "PlainDot");
    assert_eq!(<BuiltInDot as DeclaredModel>::SCORING_NAME, "Dot");
}

#[test]
fn a_user_dot_product_equals_the_built_in_one() {
    let user = Cpu::seed_from_u64(3).build_module::<UserScored, f32>();
    let built_in = Cpu::seed_from_u64(3).build_module::<BuiltInDot, f32>();
    let dev: Cpu = Default::default();
    let ids: Tensor<(usize, Const<5>), usize, _> =
        dev.tensor_from_vec(vec![1, 4, 7, 2, 0, 3, 3, 9, 11, 5], (2, Const));
    let opts = ForwardOptions::eval().with_weights().lengths(vec![5, 3]);
    let a = user.try_forward_with(ids.clone(), &opts).unwrap();
    let b = built_in.try_forward_with(ids, &opts).unwrap();
    let (la, lb) = (a.logits.as_vec(), b.logits.as_vec());
    assert!(
        la.iter().zip(&lb).all(|(x, y)| (x - y).abs() < 1e-5),
        "{la:?} vs {lb:?}"
    );
    let (wa, wb) = (
        a.attention[0].weights.as_vec(),
        b.attention[0].weights.as_vec(),
    );
    assert!(wa.iter().zip(&wb).all(|(x, y)| (x - y).abs() < 1e-5));
    // the second sequence's padded keys get no weight
    assert!(wa[25 + 3..25 + 5].iter().all(|w| *w == 0.0), "{wa:?}");
}

#[test]
fn gradients_reach_the_query_projection_through_the_users_scores() {
    let dev = Cpu::seed_from_u64(0);
    let mut model = dev.build_module::<UserScored, f32>();
    let ids: Tensor<(usize, Const<5>), usize, _> =
        dev.tensor_from_vec(vec![1, 4, 7, 2, 0], (1, Const));
    let grads = model.alloc_grads();
    let logits = model.forward_mut(ids.traced(grads));
    let grads = logits.square().sum().backward();
    let g = grads.get(&model.encoder.attention.q_proj.weight).as_vec();
    assert!(g.iter().any(|x| *x != 0.0));
}

attention_model! {
    /// An LSTM encoder-decoder whose decoder attends with the user's `PlainDot`.
    pub struct UserScoredRnn {
        arch: Recurrent, cell: Lstm, hidden: 12, attention: PlainDot,
        task: Seq2Seq { src_vocab: 10, tgt_vocab: 9, src_len: 6, tgt_len: 4 },
        d_model: 8,
    }
}

attention_model! {
    /// The same model with Luong's built-in `Dot`.
    pub struct DotRnn {
        arch: Recurrent, cell: Lstm, hidden: 12, attention: Dot,
        task: Seq2Seq { src_vocab: 10, tgt_vocab: 9, src_len: 6, tgt_len: 4 },
        d_model: 8,
    }
}

#[test]
fn a_recurrent_decoder_names_the_users_score_function() {
    assert_eq!(
        UserScoredRnn::META.rnn_attention,
        Some(RnnAttention::Custom)
    );
    assert_eq!(<UserScoredRnn as DeclaredModel>::SCORING_NAME, "PlainDot");
    assert_eq!(DotRnn::META.rnn_attention, Some(RnnAttention::Dot));
}

#[test]
fn a_user_dot_product_in_a_recurrent_decoder_equals_luongs_dot() {
    let user = Cpu::seed_from_u64(5).build_module::<UserScoredRnn, f32>();
    let built_in = Cpu::seed_from_u64(5).build_module::<DotRnn, f32>();
    let dev: Cpu = Default::default();
    let src = || {
        let ids: Tensor<(usize, Const<6>), usize, _> =
            dev.tensor_from_vec(vec![4, 5, 6, 7, 8, 9, 3, 5, 7, 0, 0, 0], (2, Const));
        ids
    };
    let opts = ForwardOptions::eval().with_weights().lengths(vec![6, 3]);
    let a = user
        .try_forward_with(Seq2SeqInput::source(src()), &opts)
        .unwrap();
    let b = built_in
        .try_forward_with(Seq2SeqInput::source(src()), &opts)
        .unwrap();
    let (la, lb) = (a.logits.as_vec(), b.logits.as_vec());
    assert_eq!(la.len(), 2 * 4 * 9);
    assert!(
        la.iter().zip(&lb).all(|(x, y)| (x - y).abs() < 1e-5),
        "{la:?} vs {lb:?}"
    );
    assert_eq!(a.tokens, b.tokens);
    let (wa, wb) = (
        a.attention[0].weights.as_vec(),
        b.attention[0].weights.as_vec(),
    );
    assert!(wa.iter().zip(&wb).all(|(x, y)| (x - y).abs() < 1e-5));
    // [B, 1, TL, SL]: the second sequence's padded source positions get no weight
    let second = &wa[4 * 6..];
    for step in second.chunks(6) {
        assert!(step[3..].iter().all(|w| *w == 0.0), "{step:?}");
        assert!((step.iter().sum::<f32>() - 1.0).abs() < 1e-5, "{step:?}");
    }
}

#[test]
fn a_recurrent_decoder_trains_through_the_users_scores() {
    let dev = Cpu::seed_from_u64(1);
    let user = dev.build_module::<UserScoredRnn, f32>();
    let built_in = Cpu::seed_from_u64(1).build_module::<DotRnn, f32>();
    let src: Tensor<(usize, Const<6>), usize, _> =
        dev.tensor_from_vec(vec![4, 5, 6, 7, 8, 9], (1, Const));
    let targets: Tensor<(usize, Const<4>), usize, _> =
        dev.tensor_from_vec(vec![5, 6, 7, 2], (1, Const));
    let opts = ForwardOptions::train();
    // the same loss, and the same gradient at the source embedding (reached through the
    // encoder states the attention weighs)
    macro_rules! loss_and_grad {
        ($model:expr) => {{
            let grads = $model.alloc_grads();
            let out = $model
                .try_forward_with(
                    Seq2SeqInput::new(src.clone().traced(grads), targets.clone()),
                    &opts,
                )
                .unwrap();
            let loss = out.logits.square().mean();
            let value = loss.array();
            let grads = loss.backward();
            (value, grads.get(&$model.src_embedding.weight).as_vec())
        }};
    }
    let (loss_a, ga) = loss_and_grad!(user);
    let (loss_b, gb) = loss_and_grad!(built_in);
    assert!((loss_a - loss_b).abs() < 1e-6, "{loss_a} vs {loss_b}");
    assert!(ga.iter().any(|g| *g != 0.0));
    assert!(ga.iter().zip(&gb).all(|(x, y)| (x - y).abs() < 1e-6));
}
