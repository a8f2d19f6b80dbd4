use attn_runtime::prelude::*;

attention_model! {
    /// 3-pixel patches do not tile an 8×8 image.
    pub struct Bad {
        arch: PatchAttention,
        task: ImageClassify { channels: 1, height: 8, width: 8, classes: 10 },
        patch: 3,
        d_model: 16,
        heads: 2,
        layers: 1,
    }
}

fn main() {}
