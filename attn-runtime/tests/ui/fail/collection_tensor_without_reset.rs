use attn_runtime::dfdx::nn::modules;
use attn_runtime::prelude::*;

// a tensor field must say how it is reset
#[derive(Clone, Debug, TensorCollection)]
struct Scaled<const M: usize, E: Dtype, D: Storage<E>> {
    norm: modules::LayerNorm1D<M, E, D>,
    scale: Tensor<Rank1<M>, E, D>,
}

fn main() {}
