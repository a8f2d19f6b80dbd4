//! A batch of examples in a form every declared model can take, whatever its const sizes.

use rand::{rngs::StdRng, Rng, SeedableRng};

use crate::loss::IGNORE;
use crate::model::{ModelMeta, TaskSpec};
use crate::tokens::{EOS, PAD};

/// The inputs of a batch.
#[derive(Clone, Debug, PartialEq)]
pub enum Inputs {
    /// Right-padded token ids, `[batch, max_len]` row-major, and each sequence's length.
    Tokens {
        /// `[batch, max_len]`.
        ids: Vec<usize>,
        /// Unpadded lengths, one per sequence.
        lengths: Vec<usize>,
    },
    /// Images `[batch, channels, height, width]`, row-major, values in `[0, 1]`.
    Images {
        /// Pixel values.
        pixels: Vec<f32>,
    },
}

/// Inputs and per-row targets: one class per sequence or image for classifiers, one tag per
/// position for taggers ([`IGNORE`] on padding).
#[derive(Clone, Debug, PartialEq)]
pub struct Batch {
    /// Number of examples.
    pub size: usize,
    /// The inputs.
    pub inputs: Inputs,
    /// One target per output row.
    pub targets: Vec<usize>,
}

impl Batch {
    /// A batch of random inputs and targets of the shapes `meta`'s task declares, from `seed`:
    /// what smoke tests and benchmarks feed a model they know nothing else about.
    pub fn random(meta: &ModelMeta, size: usize, seed: u64) -> Batch {
        let mut rng = StdRng::seed_from_u64(seed);
        match meta.task {
            TaskSpec::Classify {
                vocab,
                max_len,
                classes,
            }
            | TaskSpec::Tag {
                vocab,
                max_len,
                tags: classes,
            } => {
                let mut ids = vec![0; size * max_len];
                let mut lengths = Vec::with_capacity(size);
                let tagging = matches!(meta.task, TaskSpec::Tag { .. });
                let mut targets = Vec::new();
                for b in 0..size {
                    let len = rng.gen_range(1..=max_len);
                    lengths.push(len);
                    for t in 0..len {
                        ids[b * max_len + t] = rng.gen_range(0..vocab);
                    }
                    if tagging {
                        targets.extend((0..max_len).map(|t| {
                            if t < len {
                                rng.gen_range(0..classes)
                            } else {
                                IGNORE
                            }
                        }));
                    } else {
                        targets.push(rng.gen_range(0..classes));
                    }
                }
                Batch {
                    size,
                    inputs: Inputs::Tokens { ids, lengths },
                    targets,
                }
            }
            TaskSpec::LanguageModel { vocab, context } => {
                let ids: Vec<usize> = (0..size * context)
                    .map(|_| rng.gen_range(0..vocab))
                    .collect();
                let targets = (0..size * context)
                    .map(|_| rng.gen_range(0..vocab))
                    .collect();
                Batch {
                    size,
                    inputs: Inputs::Tokens {
                        ids,
                        lengths: vec![context; size],
                    },
                    targets,
                }
            }
            TaskSpec::ImageClassify {
                channels,
                height,
                width,
                classes,
            } => {
                let pixels = (0..size * channels * height * width)
                    .map(|_| rng.gen::<f32>())
                    .collect();
                let targets = (0..size).map(|_| rng.gen_range(0..classes)).collect();
                Batch {
                    size,
                    inputs: Inputs::Images { pixels },
                    targets,
                }
            }
            TaskSpec::Seq2Seq {
                src_vocab,
                src_len,
                tgt_vocab,
                tgt_len,
            } => {
                let mut ids = vec![PAD; size * src_len];
                let mut lengths = Vec::with_capacity(size);
                let mut targets = vec![IGNORE; size * tgt_len];
                for b in 0..size {
                    let len = rng.gen_range(1..=src_len);
                    lengths.push(len);
                    for t in 0..len {
                        ids[b * src_len + t] = rng.gen_range(0..src_vocab);
                    }
                    let out_len = rng.gen_range(1..=tgt_len);
                    for t in 0..out_len {
                        targets[b * tgt_len + t] = if t + 1 == out_len {
                            EOS
                        } else {
                            rng.gen_range(0..tgt_vocab)
                        };
                    }
                }
                Batch {
                    size,
                    inputs: Inputs::Tokens { ids, lengths },
                    targets,
                }
            }
        }
    }
}
