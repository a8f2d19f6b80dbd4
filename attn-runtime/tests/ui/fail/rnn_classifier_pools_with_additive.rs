use attn_runtime::prelude::*;

attention_model! {
    /// A classifier has no decoder state to query with.
    pub struct Bad {
        arch: Recurrent,
        task: Classify { vocab: 40, max_len: 9, classes: 3 },
        d_model: 8,
        cell: Gru,
        hidden: 6,
        attention: General,
    }
}

fn main() {}
