use attn_runtime::prelude::*;

attention_model! {
    /// The runtime has no `fashion-mnist` loader, so the declaration cannot name it: the macro
    /// checks `data` against the data sets the runtime provides (`attn_spec::DataSet`).
    #[name = "fashion", data = "fashion-mnist"]
    pub struct Fashion {
        arch: PatchAttention,
        task: ImageClassify { channels: 1, height: 28, width: 28, classes: 10 },
        d_model: 16,
        heads: 2,
        layers: 1,
        patch: 7,
    }
}

fn main() {}
