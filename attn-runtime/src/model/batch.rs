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

    /// Rank `rank`'s share of this batch among `ranks` data-parallel ranks: a contiguous run
    /// of its examples, the shares' sizes differing by one at most (the first ones larger),
    /// possibly empty when the batch has fewer examples than there are ranks. The shares
    /// together are the batch, in order.
    ///
    /// # Shapes
    /// `size` examples of the batch's per-example layout → `⌈size/ranks⌉` or `⌊size/ranks⌋`.
    ///
    /// **PyTorch equivalent**: `DistributedSampler` (which strides rather than splits).
    pub fn share(&self, rank: usize, ranks: usize) -> Batch {
        let ranks = ranks.max(1);
        let (base, extra) = (self.size / ranks, self.size % ranks);
        let start = rank * base + rank.min(extra);
        let len = if rank < ranks {
            base + usize::from(rank < extra)
        } else {
            0
        };
        let rows = |v_len: usize| v_len.checked_div(self.size).unwrap_or(0);
        let cut = |per: usize| start * per..(start + len) * per;
        let inputs = match &self.inputs {
            Inputs::Tokens { ids, lengths } => Inputs::Tokens {
                ids: ids[cut(rows(ids.len()))].to_vec(),
                lengths: lengths[cut(1)].to_vec(),
            },
            Inputs::Images { pixels } => Inputs::Images {
                pixels: pixels[cut(rows(pixels.len()))].to_vec(),
            },
        };
        Batch {
            size: len,
            inputs,
            targets: self.targets[cut(rows(self.targets.len()))].to_vec(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tagged(size: usize, len: usize) -> Batch {
        Batch {
            size,
            inputs: Inputs::Tokens {
                ids: (0..size * len).collect(),
                lengths: (1..=size).collect(),
            },
            targets: (100..100 + size * len).collect(),
        }
    }

    #[test]
    fn shares_are_contiguous_nearly_equal_and_add_up_to_the_batch() {
        let batch = tagged(5, 3);
        for (ranks, sizes) in [
            (1, vec![5]),
            (2, vec![3, 2]),
            (3, vec![2, 2, 1]),
            (7, vec![1, 1, 1, 1, 1, 0, 0]),
        ] {
            let shares: Vec<Batch> = (0..ranks).map(|r| batch.share(r, ranks)).collect();
            assert_eq!(shares.iter().map(|s| s.size).collect::<Vec<_>>(), sizes);
            let (mut ids, mut lengths, mut targets) = (Vec::new(), Vec::new(), Vec::new());
            for s in &shares {
                let Inputs::Tokens { ids: i, lengths: l } = &s.inputs else {
                    unreachable!()
                };
                assert_eq!(
                    (i.len(), l.len(), s.targets.len()),
                    (3 * s.size, s.size, 3 * s.size)
                );
                ids.extend_from_slice(i);
                lengths.extend_from_slice(l);
                targets.extend_from_slice(&s.targets);
            }
            let whole = Batch {
                size: 5,
                inputs: Inputs::Tokens { ids, lengths },
                targets,
            };
            assert_eq!(whole, batch, "{ranks} ranks");
        }
        // rank 1 of 2 of an image batch: the last two images' pixels
        let images = Batch {
            size: 3,
            inputs: Inputs::Images {
                pixels: (0..12).map(|p| p as f32).collect(),
            },
            targets: vec![7, 8, 9],
        };
        let share = images.share(1, 2);
        assert_eq!(share.size, 1);
        assert_eq!(share.targets, vec![9]);
        assert_eq!(
            share.inputs,
            Inputs::Images {
                pixels: vec![8.0, 9.0, 10.0, 11.0]
            }
        );
    }
}
