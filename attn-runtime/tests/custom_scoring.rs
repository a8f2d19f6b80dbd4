//! A single-head score function of the user's own: `scoring: PlainDot` names a type of this
//! file implementing `attn_runtime::model::ScoreFn`. With `q·kᵀ` it must be the built-in
//! `scoring: Dot`, parameter for parameter, and its gradients must reach the query projection.

use attn_runtime::model::ScoreFn;
use attn_runtime::prelude::*;
use attn_runtime::spec::Scoring;

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
