use attn_runtime::prelude::*;

attention_model! {
    /// The runtime has no `cifar-10` loader, so the declaration cannot name it: the macro
    /// checks `data` against the data sets the runtime provides (`attn_spec::DataSet`).
    #[name = "cifar", data = "cifar-10"]
    pub struct Cifar {
        arch: PatchAttention,
        task: ImageClassify { channels: 3, height: 32, width: 32, classes: 10 },
        d_model: 16,
        heads: 2,
        layers: 1,
        patch: 8,
    }
}

fn main() {}
