//! `task:` — the task kinds (their sizes live in the runtime's `TaskSpec`).

vocabulary! {
    /// The kind of task a declaration is for, by the name of its `task:` block.
    pub enum TaskKind {
        /// One label per token sequence.
        Classify = "Classify",
        /// One label per token.
        Tag = "Tag",
        /// A token sequence to a token sequence.
        Seq2Seq = "Seq2Seq",
        /// One label per image.
        ImageClassify = "ImageClassify",
        /// The next token at every position of a window of text.
        LanguageModel = "LanguageModel",
    }
}

impl TaskKind {
    /// The sizes its block takes, in the order they are documented.
    pub const fn fields(self) -> &'static [&'static str] {
        match self {
            TaskKind::Classify => &["vocab", "max_len", "classes"],
            TaskKind::Tag => &["vocab", "max_len", "tags"],
            TaskKind::Seq2Seq => &["src_vocab", "tgt_vocab", "src_len", "tgt_len"],
            TaskKind::ImageClassify => &["channels", "height", "width", "classes"],
            TaskKind::LanguageModel => &["vocab", "context"],
        }
    }
}
