use attn_runtime::prelude::*;

attention_model! {
    /// `Regress` is not a task.
    pub struct Bad {
        arch: SelfAttention,
        task: Regress { vocab: 100, max_len: 8 },
        d_model: 16,
        heads: 2,
        layers: 1,
    }
}

fn main() {}
