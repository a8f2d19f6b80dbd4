//! Running a trained model on new data: raw text (or an image) in, the prediction and every
//! attention map out, with the tokens the maps refer to.

use serde::Serialize;

use super::BeamSearch;
use crate::error::AttnError;
use crate::loss::IGNORE;
use crate::model::TaskSpec;
use crate::run::LoadedRun;
use crate::spec::Pooling;
use crate::tokens::{BOS, EOS};
use crate::zoo::{Batch, ForwardSummary, Inputs};

/// One attention map of a prediction: the layer, `[B = 1, H, Sq, Sk]`, and the weights.
#[derive(Clone, Debug, Serialize)]
pub struct AttentionMap {
    /// The layer's parameter path.
    pub layer: String,
    /// `[1, H, Sq, Sk]`.
    pub shape: [usize; 4],
    /// Row-major weights.
    pub weights: Vec<f32>,
}

/// What the model predicted.
#[derive(Clone, Debug, Serialize)]
pub enum Output {
    /// A class and the probability of every class.
    Class {
        /// The predicted class's name.
        label: String,
        /// `(class, probability)` for every class, most likely first.
        probabilities: Vec<(String, f64)>,
    },
    /// A tag per input token.
    Tags {
        /// The tags.
        tags: Vec<String>,
    },
    /// A language model's next token after the text, and the likeliest ones.
    NextToken {
        /// The likeliest next token.
        token: String,
        /// `(token, probability)` of the ten likeliest, most likely first.
        probabilities: Vec<(String, f64)>,
    },
    /// An output sequence.
    Sequence {
        /// The output text.
        text: String,
        /// Its tokens (EOS excluded).
        tokens: Vec<String>,
        /// Beam search's length-penalised log-probability, when used.
        score: Option<f64>,
    },
}

/// A prediction with the attention that produced it.
#[derive(Clone, Debug, Serialize)]
pub struct Prediction {
    /// The input tokens (keys of encoder self-attention and cross-attention maps).
    pub input_tokens: Vec<String>,
    /// The output tokens of a sequence-to-sequence model (queries of its decoder maps).
    pub output_tokens: Vec<String>,
    /// The prediction.
    pub output: Output,
    /// Every attention layer's map.
    pub attention: Vec<AttentionMap>,
    /// For image models, the patches' `[rows, columns]`: the input tokens are the patches in
    /// row-major order (after `<cls>`, the class token, when the model has one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patch_grid: Option<[usize; 2]>,
}

/// Predicts with a trained run.
///
/// **PyTorch equivalent**: `model.eval()` and a forward pass under `torch.no_grad()`, with the
/// tokenizer and vocabulary of the run.
pub struct Predictor {
    run: LoadedRun,
}

impl Predictor {
    /// A predictor over a loaded run.
    pub fn new(run: LoadedRun) -> Self {
        Predictor { run }
    }

    /// The loaded run.
    pub fn run(&self) -> &LoadedRun {
        &self.run
    }

    /// Predicts for one text; sequence-to-sequence models decode greedily, or with `beam`.
    ///
    /// # Errors
    /// [`AttnError::InvalidInput`] for an image model, an empty text, or a text longer than the
    /// model takes (the fix says so); forward-pass errors.
    pub fn predict_text(
        &self,
        text: &str,
        beam: Option<BeamSearch>,
    ) -> Result<Prediction, AttnError> {
        let meta = self.run.model.meta();
        let vocabs = &self.run.vocabs;
        let src = vocabs.src.as_ref().ok_or_else(|| AttnError::InvalidInput {
            reason: format!("`{}` reads images, not text", meta.name),
            fix: "pass an image (64 pixel values for digits) instead".into(),
        })?;
        let mut tokens = vocabs.src_tokens(text);
        let (max_len, targets_per) = match meta.task {
            TaskSpec::Classify { max_len, .. } => (max_len, 1),
            TaskSpec::Tag { max_len, .. } => (max_len, max_len),
            TaskSpec::Seq2Seq {
                src_len, tgt_len, ..
            } => (src_len, tgt_len),
            TaskSpec::LanguageModel { context, .. } => (context, context),
            TaskSpec::ImageClassify { .. } => (0, 1),
        };
        if meta.pooling == Pooling::Cls && matches!(meta.task, TaskSpec::Classify { .. }) {
            tokens.insert(0, "<bos>".into());
        }
        if tokens.is_empty() {
            return Err(AttnError::InvalidInput {
                reason: "the text has no token".into(),
                fix: "pass some text".into(),
            });
        }
        // a run trained with `--truncate` cuts a long text here as its training and evaluation
        // cut their examples (the first `max_len` tokens, the class token included); a language
        // model's windows are never cut
        let truncates = self.run.config.train.data.truncate
            && !matches!(meta.task, TaskSpec::LanguageModel { .. });
        if tokens.len() > max_len && truncates {
            tokens.truncate(max_len);
        }
        if tokens.len() > max_len {
            return Err(AttnError::InvalidInput {
                reason: format!(
                    "the text has {} tokens, `{}` takes at most {max_len}",
                    tokens.len(),
                    meta.name
                ),
                fix: "shorten the text".into(),
            });
        }
        let mut ids = src.encode(&tokens);
        if meta.pooling == Pooling::Cls && matches!(meta.task, TaskSpec::Classify { .. }) {
            ids[0] = BOS;
        }
        let mut padded = ids.clone();
        padded.resize(max_len, 0);
        let mut targets = vec![0; targets_per];
        if let TaskSpec::Tag { .. } | TaskSpec::LanguageModel { .. } = meta.task {
            targets[ids.len()..].fill(IGNORE);
        }
        let batch = Batch {
            size: 1,
            inputs: Inputs::Tokens {
                ids: padded,
                lengths: vec![ids.len()],
            },
            targets,
        };
        match (meta.task, beam) {
            (
                TaskSpec::Seq2Seq {
                    src_len, tgt_len, ..
                },
                Some(beam),
            ) => {
                let best = beam.search(self.run.model.as_ref(), &ids, src_len, tgt_len)?;
                let best = best
                    .into_iter()
                    .next()
                    .ok_or_else(|| AttnError::device("beam search found nothing"))?;
                let mut fed = best.tokens.clone();
                fed.resize(tgt_len, IGNORE);
                let batch = Batch {
                    targets: fed,
                    ..batch
                };
                let out = self.run.model.forward_teacher_forced(&batch, true)?;
                self.sequence(tokens, &best.tokens, Some(best.score), out)
            }
            (TaskSpec::Seq2Seq { .. }, None) => {
                let out = self.run.model.forward(&batch, true)?;
                let greedy = argmax_rows(&out.logits, out.logits_shape[1]);
                self.sequence(tokens, &greedy, None, out)
            }
            (TaskSpec::LanguageModel { .. }, _) => {
                let out = self.run.model.forward(&batch, true)?;
                let labels = out.logits_shape[1];
                let last = &out.logits[(ids.len() - 1) * labels..ids.len() * labels];
                let mut ranked: Vec<(usize, f64)> =
                    super::softmax(last).into_iter().enumerate().collect();
                ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
                let probabilities: Vec<(String, f64)> = ranked
                    .into_iter()
                    .take(10)
                    .map(|(id, p)| (src.token(id).unwrap_or("?").to_string(), p))
                    .collect();
                Ok(Prediction {
                    input_tokens: tokens,
                    output_tokens: Vec::new(),
                    output: Output::NextToken {
                        token: probabilities[0].0.clone(),
                        probabilities,
                    },
                    attention: maps(&out),
                    patch_grid: None,
                })
            }
            (TaskSpec::Tag { .. }, _) => {
                let out = self.run.model.forward(&batch, true)?;
                let tags = argmax_rows(&out.logits, out.logits_shape[1]);
                let names = vocabs.tgt.as_ref();
                let tags = tags
                    .iter()
                    .take(ids.len())
                    .map(|&t| names.and_then(|v| v.token(t)).unwrap_or("?").to_string())
                    .collect();
                Ok(Prediction {
                    input_tokens: tokens,
                    output_tokens: Vec::new(),
                    output: Output::Tags { tags },
                    attention: maps(&out),
                    patch_grid: None,
                })
            }
            _ => {
                let out = self.run.model.forward(&batch, true)?;
                Ok(Prediction {
                    input_tokens: tokens,
                    output_tokens: Vec::new(),
                    output: self.class(&out),
                    attention: maps(&out),
                    patch_grid: None,
                })
            }
        }
    }

    /// Predicts the class of one image (`channels·height·width` values in `[0, 1]`, the range
    /// training scaled its images into).
    ///
    /// # Errors
    /// [`AttnError::InvalidInput`] for a text model, a wrong pixel count, or a pixel that is NaN,
    /// infinite or outside `[0, 1]` (naming the first such pixel).
    pub fn predict_image(&self, pixels: &[f32]) -> Result<Prediction, AttnError> {
        let meta = self.run.model.meta();
        let TaskSpec::ImageClassify {
            channels,
            height,
            width,
            ..
        } = meta.task
        else {
            return Err(AttnError::InvalidInput {
                reason: format!("`{}` reads text, not images", meta.name),
                fix: "pass text".into(),
            });
        };
        if pixels.len() != channels * height * width {
            return Err(AttnError::InvalidInput {
                reason: format!(
                    "{} pixel values for a {channels}x{height}x{width} image",
                    pixels.len()
                ),
                fix: format!("pass {} values", channels * height * width),
            });
        }
        if let Some((k, v)) = pixels
            .iter()
            .enumerate()
            .find(|(_, v)| !(0.0..=1.0).contains(*v))
        {
            return Err(AttnError::InvalidInput {
                reason: if v.is_finite() {
                    format!("pixel {} is {v:?}, outside [0, 1]", k + 1)
                } else {
                    format!("pixel {} is {v:?}, not a finite number", k + 1)
                },
                fix: "pass finite values in [0, 1], scaled as in training (divide 0-255 or 0-16 intensities by their maximum)".into(),
            });
        }
        let batch = Batch {
            size: 1,
            inputs: Inputs::Images {
                pixels: pixels.to_vec(),
            },
            targets: vec![0],
        };
        let out = self.run.model.forward(&batch, true)?;
        let p = meta.patch.unwrap_or(1).max(1);
        let grid = [height / p, width / p];
        let class_token = meta.pooling == Pooling::Cls;
        let tokens = class_token
            .then(|| "<cls>".to_string())
            .into_iter()
            .chain((0..grid[0] * grid[1]).map(|i| format!("patch {i}")))
            .collect();
        Ok(Prediction {
            input_tokens: tokens,
            output_tokens: Vec::new(),
            output: self.class(&out),
            attention: maps(&out),
            patch_grid: Some(grid),
        })
    }

    fn class(&self, out: &ForwardSummary) -> Output {
        let logits = &out.logits[..out.logits_shape[1]];
        let max = logits.iter().fold(f32::MIN, |m, &v| m.max(v));
        let exps: Vec<f64> = logits.iter().map(|&v| ((v - max) as f64).exp()).collect();
        let total: f64 = exps.iter().sum();
        let name = |i: usize| {
            self.run
                .vocabs
                .labels
                .as_ref()
                .and_then(|l| l.get(i).cloned())
                .unwrap_or_else(|| i.to_string())
        };
        let mut probabilities: Vec<(String, f64)> = exps
            .iter()
            .enumerate()
            .map(|(i, e)| (name(i), e / total))
            .collect();
        let n_labels = self
            .run
            .vocabs
            .labels
            .as_ref()
            .map_or(probabilities.len(), Vec::len);
        probabilities.truncate(n_labels.max(1));
        probabilities.sort_by(|a, b| b.1.total_cmp(&a.1));
        Output::Class {
            label: probabilities[0].0.clone(),
            probabilities,
        }
    }

    fn sequence(
        &self,
        input_tokens: Vec<String>,
        ids: &[usize],
        score: Option<f64>,
        out: ForwardSummary,
    ) -> Result<Prediction, AttnError> {
        let vocab = self
            .run
            .vocabs
            .tgt
            .as_ref()
            .ok_or_else(|| AttnError::device("no target vocabulary"))?;
        let cut: Vec<usize> = ids.iter().copied().take_while(|&t| t != EOS).collect();
        let tokens = vocab.decode(&cut);
        let text = self.run.vocabs.tgt_text(&tokens);
        let mut output_tokens = tokens.clone();
        if ids.contains(&EOS) {
            output_tokens.push("<eos>".into());
        }
        Ok(Prediction {
            input_tokens,
            output_tokens,
            output: Output::Sequence {
                text,
                tokens,
                score,
            },
            attention: maps(&out),
            patch_grid: None,
        })
    }
}

fn argmax_rows(values: &[f32], width: usize) -> Vec<usize> {
    values
        .chunks(width)
        .map(|r| {
            r.iter()
                .enumerate()
                .fold((0, f32::MIN), |m, (i, &v)| if v > m.1 { (i, v) } else { m })
                .0
        })
        .collect()
}

fn maps(out: &ForwardSummary) -> Vec<AttentionMap> {
    out.attention
        .iter()
        .zip(&out.weights)
        .map(|((layer, shape), weights)| AttentionMap {
            layer: layer.clone(),
            shape: *shape,
            weights: weights.clone(),
        })
        .collect()
}
