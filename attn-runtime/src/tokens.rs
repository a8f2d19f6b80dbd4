//! Reserved token ids shared by every vocabulary attn builds.

/// Padding.
pub const PAD: usize = 0;
/// Beginning of sequence: the decoder's first input.
pub const BOS: usize = 1;
/// End of sequence.
pub const EOS: usize = 2;
/// Unknown token.
pub const UNK: usize = 3;
/// How many ids are reserved (real tokens start here).
pub const RESERVED: usize = 4;
