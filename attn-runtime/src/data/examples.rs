//! Raw examples of each task kind, before tokenisation, and seeded train/valid/test splits.

use rand::{rngs::StdRng, seq::SliceRandom, SeedableRng};

use super::Tokenizer;

/// Examples of one task kind.
#[derive(Clone, Debug, PartialEq)]
pub enum Examples {
    /// `(text, label)` for classification.
    Labelled(Vec<(String, String)>),
    /// `(tokens, tags)` for tagging, one tag per token.
    Tagged(Vec<(Vec<String>, Vec<String>)>),
    /// `(source, target)` for sequence-to-sequence.
    Pairs(Vec<(String, String)>),
    /// Images `[channels, height, width]` with values in `[0, 1]`, and class ids.
    Images {
        /// One flattened image per example.
        pixels: Vec<Vec<f32>>,
        /// One class per example.
        labels: Vec<usize>,
        /// `[channels, height, width]`.
        shape: [usize; 3],
    },
    /// Running text for language modelling, one document (a line, a verse) per example; the
    /// split keeps documents whole, and each part is read as one stream of tokens.
    Text(Vec<String>),
}

impl Examples {
    /// How many examples.
    pub fn len(&self) -> usize {
        match self {
            Examples::Labelled(v) => v.len(),
            Examples::Tagged(v) => v.len(),
            Examples::Pairs(v) => v.len(),
            Examples::Images { labels, .. } => labels.len(),
            Examples::Text(v) => v.len(),
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The task kind's name.
    pub fn kind(&self) -> &'static str {
        match self {
            Examples::Labelled(_) => "labelled text",
            Examples::Tagged(_) => "tagged tokens",
            Examples::Pairs(_) => "sequence pairs",
            Examples::Images { .. } => "images",
            Examples::Text(_) => "text",
        }
    }

    /// The examples at `indices`, in that order.
    pub fn select(&self, indices: &[usize]) -> Examples {
        match self {
            Examples::Labelled(v) => {
                Examples::Labelled(indices.iter().map(|&i| v[i].clone()).collect())
            }
            Examples::Tagged(v) => {
                Examples::Tagged(indices.iter().map(|&i| v[i].clone()).collect())
            }
            Examples::Pairs(v) => Examples::Pairs(indices.iter().map(|&i| v[i].clone()).collect()),
            Examples::Text(v) => Examples::Text(indices.iter().map(|&i| v[i].clone()).collect()),
            Examples::Images {
                pixels,
                labels,
                shape,
            } => Examples::Images {
                pixels: indices.iter().map(|&i| pixels[i].clone()).collect(),
                labels: indices.iter().map(|&i| labels[i]).collect(),
                shape: *shape,
            },
        }
    }
}

/// A named data set: its examples and how to tokenise them.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    /// The data set's name (a built-in name or a file path).
    pub name: String,
    /// The examples.
    pub examples: Examples,
    /// Tokeniser of inputs (and of classification texts).
    pub src_tokenizer: Tokenizer,
    /// Tokeniser of sequence-to-sequence targets.
    pub tgt_tokenizer: Tokenizer,
    /// Tokens seen fewer times than this in the training split map to UNK.
    pub min_count: usize,
    /// How the examples divide into training, validation and test.
    pub split: Split,
}

/// How a data set divides into training, validation and test examples.
///
/// **PyTorch equivalent**: `torch.utils.data.random_split(ds, [0.8, 0.1, 0.1], generator)` for
/// [`Seeded`](Split::Seeded); for [`Published`](Split::Published), torchvision's
/// `FashionMNIST(train=False)` as the test set and a random split of `train=True`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Split {
    /// A seeded 80/10/10 shuffle of all the examples (the default).
    #[default]
    Seeded,
    /// The last `test` examples are the data set's published test split, kept whole and in
    /// order; `valid` examples of a seeded shuffle of the others validate, the rest train.
    Published {
        /// Examples of the published test split, at the end.
        test: usize,
        /// Validation examples drawn from the others.
        valid: usize,
    },
}

/// Train, validation and test parts of a data set.
#[derive(Clone, Debug, PartialEq)]
pub struct Splits {
    /// Training examples.
    pub train: Examples,
    /// Validation examples (early stopping, model selection).
    pub valid: Examples,
    /// Test examples (reported once, at the end).
    pub test: Examples,
}

/// The seed of the train/valid/test split: fixed, so that every run of every model on a data set
/// is tested on the same examples whatever its training seed.
pub const SPLIT_SEED: u64 = 0x5EED_0A77;

impl Dataset {
    /// The split its [`Split`] says: a seeded 80/10/10 one (at least one example in each part
    /// when there are three), or the published test split and a seeded validation split of the
    /// rest.
    pub fn split(&self) -> Splits {
        let n = self.examples.len();
        if let Split::Published { test, valid } = self.split {
            let first_test = n.saturating_sub(test);
            let mut order: Vec<usize> = (0..first_test).collect();
            order.shuffle(&mut StdRng::seed_from_u64(SPLIT_SEED));
            let (valid, train) = order.split_at(valid.min(order.len()));
            let test: Vec<usize> = (first_test..n).collect();
            return Splits {
                train: self.examples.select(train),
                valid: self.examples.select(valid),
                test: self.examples.select(&test),
            };
        }
        let mut order: Vec<usize> = (0..n).collect();
        order.shuffle(&mut StdRng::seed_from_u64(SPLIT_SEED));
        let held = if n >= 3 { (n / 10).max(1) } else { 0 };
        let (test, rest) = order.split_at(held);
        let (valid, train) = rest.split_at(held.min(rest.len()));
        Splits {
            train: self.examples.select(train),
            valid: self.examples.select(valid),
            test: self.examples.select(test),
        }
    }
}
