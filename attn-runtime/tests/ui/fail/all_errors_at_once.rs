use attn_runtime::prelude::*;

attention_model! {
    /// Four mistakes, four errors in one compile; the stub type keeps `Bad` usable below.
    pub struct Bad {
        arch: SelfAttention,
        task: Classify { vocab: 100, max_len: 8, classes: 2 },
        d_model: 10,
        heads: 4,
        layers: 0,
        dropout: 1.0,
        colour: Blue,
    }
}

fn main() {
    let _ = Bad;
}
