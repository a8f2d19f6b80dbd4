//! Data: built-in data sets (generated and vendored, no downloads), loaders for the user's own
//! files, tokenisation, vocabularies, splits and padded batches.

mod augment;
mod builtin;
pub mod dates;
mod examples;
mod files;
mod prepare;
mod subwords;
pub mod synthetic;
mod tokenize;
mod vocab;

pub use augment::ImageAugment;
pub use builtin::{builtin, load_builtin, BUILTIN, DATA_SEED, GENERATED_EXAMPLES};
pub use examples::{Dataset, Examples, Split, Splits, SPLIT_SEED};
pub use files::{load_file, records, Record, MAX_PIXEL};
pub use prepare::{
    batches, bucketed_batches, language_model_windows, prepare, split_for, Encoded, PrepareOptions,
    Prepared, Vocabs, MIN_VOCAB,
};
pub use subwords::Subwords;
pub use tokenize::Tokenizer;
pub use vocab::Vocab;
