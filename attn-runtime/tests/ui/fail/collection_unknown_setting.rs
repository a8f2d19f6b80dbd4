use attn_runtime::dfdx::nn::modules;
use attn_runtime::prelude::*;

// `marker` names type parameters of the struct, and settings are spelled as documented
#[derive(Clone, Debug, TensorCollection)]
#[collection(marker(Cell))]
struct Wrapped<Inner, E: Dtype, D: Storage<E>> {
    #[collection(rename = "other")]
    inner: Inner,
    norm: modules::LayerNorm1D<4, E, D>,
}

fn main() {}
