//! The settings of a training run.

use serde::{Deserialize, Serialize};

use super::{BeamSearch, Selection};
use crate::data::{ImageAugment, PrepareOptions};
use crate::error::AttnError;
use crate::model::TaskSpec;
use crate::optim::{AdamConfig, Decay};
use crate::zoo::StepSettings;

/// Everything that shapes a training run besides the model and the data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Passes over the training split.
    pub epochs: usize,
    /// Examples per step.
    pub batch_size: usize,
    /// Peak learning rate.
    pub lr: f64,
    /// Linear warm-up steps.
    pub warmup: u64,
    /// Decay after warm-up.
    pub decay: Decay,
    /// Adam's settings (the learning rate above overrides `adam.lr`).
    pub adam: AdamConfig,
    /// Clip gradients to this global L2 norm.
    pub clip_norm: Option<f64>,
    /// Label smoothing of the loss.
    pub label_smoothing: f64,
    /// Stop after this many epochs without a better validation score.
    pub patience: Option<usize>,
    /// Seed of parameters, dropout, shuffling and teacher forcing.
    pub seed: u64,
    /// Dropout instead of the declared one.
    pub dropout: Option<f64>,
    /// Teacher-forcing ratio of sequence-to-sequence models (default 1).
    pub teacher_forcing: Option<f64>,
    /// Data preparation.
    pub data: PrepareOptions,
    /// Group training examples of similar lengths into batches.
    #[serde(default)]
    pub bucket: bool,
    /// Draw the attention heatmaps of three validation examples when training ends (under the
    /// run's `attention/`); sweeps turn this off to save time.
    #[serde(default = "yes")]
    pub attention_reports: bool,
    /// The validation score that chooses the best checkpoint and that `patience` waits on
    /// (runs saved before this setting existed load with the default, which they chose by).
    #[serde(default)]
    pub selection: Selection,
    /// Random flips and shifts of the training images (image classifiers only; none by
    /// default, and in runs saved before the setting existed).
    #[serde(default)]
    pub augment: ImageAugment,
    /// How `eval` and `predict` decode this run's outputs unless told otherwise (`--beam`,
    /// `--greedy`): beam search with these settings, or greedy decoding when `None` (the
    /// default, and what runs saved before the setting existed load with). Sequence-to-sequence
    /// models only; training's own validation and test scores always decode greedily.
    #[serde(default)]
    pub beam: Option<BeamSearch>,
}

fn yes() -> bool {
    true
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            epochs: 10,
            batch_size: 32,
            lr: 1e-3,
            warmup: 0,
            decay: Decay::Constant,
            adam: AdamConfig::default(),
            clip_norm: Some(1.0),
            label_smoothing: 0.0,
            patience: None,
            seed: 0,
            dropout: None,
            teacher_forcing: None,
            data: PrepareOptions::default(),
            bucket: false,
            attention_reports: true,
            selection: Selection::ExactMatch,
            augment: ImageAugment::default(),
            beam: None,
        }
    }
}

impl TrainConfig {
    /// Rejects settings no run can use.
    ///
    /// # Errors
    /// [`AttnError::InvalidHyperParameter`] naming the setting and its valid range.
    pub fn validate(&self) -> Result<(), AttnError> {
        let bad = |name: &'static str, value: String, requirement: &'static str| {
            Err(AttnError::InvalidHyperParameter {
                name,
                value,
                requirement,
            })
        };
        if self.epochs == 0 {
            return bad("epochs", "0".into(), "must be at least 1");
        }
        if self.batch_size == 0 {
            return bad("batch_size", "0".into(), "must be at least 1");
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return bad("lr", self.lr.to_string(), "must be a positive number");
        }
        if !(0.0..1.0).contains(&self.label_smoothing) {
            return bad(
                "label_smoothing",
                self.label_smoothing.to_string(),
                "must be in [0, 1)",
            );
        }
        if let Some(p) = self.dropout {
            if !(0.0..1.0).contains(&p) {
                return bad("dropout", p.to_string(), "must be in [0, 1)");
            }
        }
        if let Some(r) = self.teacher_forcing {
            if !(0.0..=1.0).contains(&r) {
                return bad("teacher_forcing", r.to_string(), "must be in [0, 1]");
            }
        }
        if let Some(c) = self.clip_norm {
            if !(c.is_finite() && c > 0.0) {
                return bad("clip_norm", c.to_string(), "must be a positive number");
            }
        }
        if self.adam.weight_decay < 0.0 || !self.adam.weight_decay.is_finite() {
            return bad(
                "weight_decay",
                self.adam.weight_decay.to_string(),
                "must be >= 0",
            );
        }
        if self.patience == Some(0) {
            return bad("patience", "0".into(), "must be at least 1 (or unset)");
        }
        if let Some(beam) = &self.beam {
            beam.validate()?;
        }
        Ok(())
    }
    /// The settings of one training step at rate `lr`, its random choices seeded by `seed`:
    /// this configuration's clipping, label smoothing, dropout and teacher forcing (what the
    /// trainer and the learning-rate range test both step with).
    pub fn step_settings(&self, lr: f64, seed: u64) -> StepSettings {
        StepSettings {
            lr,
            clip_norm: self.clip_norm,
            label_smoothing: self.label_smoothing,
            dropout: self.dropout,
            teacher_forcing: self.teacher_forcing,
            seed,
        }
    }

    /// Rejects settings the model's task cannot use: a selection rule without its score
    /// ([`Selection::check`]), a default beam search for a model without output sequences, or
    /// image augmentation for a model that reads no images, or one
    /// that shifts an image by its whole size.
    ///
    /// # Errors
    /// [`AttnError::InvalidHyperParameter`] naming the setting and what the task allows.
    pub fn check_for(&self, task: &TaskSpec) -> Result<(), AttnError> {
        self.selection.check(task)?;
        if let (Some(beam), false) = (&self.beam, matches!(task, TaskSpec::Seq2Seq { .. })) {
            return Err(AttnError::InvalidHyperParameter {
                name: "beam",
                value: format!(
                    "beam {}, length penalty {}",
                    beam.beam_size, beam.length_penalty
                ),
                requirement: "beam search decodes sequence-to-sequence models only; leave it unset",
            });
        }
        if self.augment.is_none() {
            return Ok(());
        }
        let refuse = |requirement| {
            Err(AttnError::InvalidHyperParameter {
                name: "augment (--horizontal-flip, --max-shift)",
                value: format!(
                    "horizontal flip {}, max shift {}",
                    self.augment.horizontal_flip, self.augment.max_shift
                ),
                requirement,
            })
        };
        match *task {
            TaskSpec::ImageClassify { height, width, .. } => {
                if self.augment.max_shift >= height.min(width) {
                    return refuse("the shift must be smaller than the image");
                }
                Ok(())
            }
            _ => refuse("image augmentation applies to image classifiers only; leave it unset"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small text classifier's task: no images, no output sequences.
    fn text_task() -> TaskSpec {
        TaskSpec::Classify {
            vocab: 8,
            max_len: 4,
            classes: 2,
        }
    }

    #[test]
    fn augmentation_is_for_image_classifiers_and_smaller_than_the_image() {
        let augment = |horizontal_flip, max_shift| TrainConfig {
            augment: ImageAugment {
                horizontal_flip,
                max_shift,
            },
            ..TrainConfig::default()
        };
        let image = TaskSpec::ImageClassify {
            channels: 1,
            height: 28,
            width: 28,
            classes: 10,
        };
        let text = text_task();
        assert!(augment(true, 2).check_for(&image).is_ok());
        assert!(augment(false, 27).check_for(&image).is_ok());
        assert!(TrainConfig::default().check_for(&text).is_ok());
        for (cfg, task) in [(augment(true, 0), &text), (augment(false, 28), &image)] {
            let err = cfg.check_for(task).unwrap_err();
            assert!(
                matches!(
                    err,
                    AttnError::InvalidHyperParameter { name, .. } if name.starts_with("augment")
                ),
                "{err}"
            );
        }
        // the selection rule is checked there too
        let lm = TaskSpec::LanguageModel {
            vocab: 8,
            context: 4,
        };
        assert!(TrainConfig::default().check_for(&lm).is_err());
    }

    #[test]
    fn a_default_beam_is_for_sequence_to_sequence_models_and_checked() {
        let beam = |beam_size, length_penalty| TrainConfig {
            beam: Some(BeamSearch {
                beam_size,
                length_penalty,
            }),
            ..TrainConfig::default()
        };
        let seq2seq = TaskSpec::Seq2Seq {
            src_vocab: 8,
            tgt_vocab: 8,
            src_len: 4,
            tgt_len: 4,
        };
        let text = text_task();
        assert!(beam(4, 0.6).validate().is_ok());
        assert!(beam(4, 0.6).check_for(&seq2seq).is_ok());
        let err = beam(4, 0.6).check_for(&text).unwrap_err();
        assert!(
            matches!(err, AttnError::InvalidHyperParameter { name: "beam", .. }),
            "{err}"
        );
        for bad in [beam(0, 0.6), beam(4, f64::NAN), beam(4, -1.0)] {
            let err = bad.validate().unwrap_err();
            assert!(
                matches!(err, AttnError::InvalidHyperParameter { name, .. } if name.starts_with("beam_size") || name.starts_with("length_penalty")),
                "{err}"
            );
        }
    }

    #[test]
    fn settings_saved_before_augmentation_existed_load_without_it() {
        let mut json = serde_json::to_value(TrainConfig::default()).unwrap();
        json.as_object_mut().unwrap().remove("augment");
        let cfg: TrainConfig = serde_json::from_value(json).unwrap();
        assert!(cfg.augment.is_none());
        // nor a default beam: they decode greedily, as before
        let mut json = serde_json::to_value(TrainConfig::default()).unwrap();
        json.as_object_mut().unwrap().remove("beam");
        let cfg: TrainConfig = serde_json::from_value(json).unwrap();
        assert_eq!(cfg.beam, None);
    }
}
