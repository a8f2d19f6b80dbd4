//! Generating tokens with a language model: a prompt in, one token at a time out, greedy or
//! sampled, with or without the key/value cache.

use super::{Decoding, Sampler};
use crate::error::AttnError;
use crate::loss::IGNORE;
use crate::model::TaskSpec;
use crate::tokens::{BOS, EOS, PAD};
use crate::zoo::{Batch, Inputs, ZooModel};

/// Whether generation keeps each block's keys and values between steps.
///
/// **PyTorch equivalent**: `use_cache=True` / `False` of Hugging Face's `generate`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum KvCache {
    /// Keep them: each new token costs one row of attention per block (the default).
    #[default]
    On,
    /// Recompute the whole window for every token (what the cache must equal; for checks and
    /// benchmarks).
    Off,
}

/// What [`generate`] does: how many tokens, how each is chosen, where to stop.
///
/// **PyTorch equivalent**: Hugging Face's `GenerationConfig(max_new_tokens, do_sample,
/// temperature, top_k, top_p, eos_token_id, use_cache)` with a seeded generator.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Generation {
    /// The most tokens to generate.
    pub max_tokens: usize,
    /// Greedy, or sampling with its temperature, top-k, top-p and seed.
    pub decoding: Decoding,
    /// A token that ends generation (it is returned too); `None` generates `max_tokens`.
    pub stop: Option<usize>,
    /// With or without the key/value cache.
    pub cache: KvCache,
}

impl Default for Generation {
    fn default() -> Self {
        Generation {
            max_tokens: 100,
            decoding: Decoding::Greedy,
            stop: Some(EOS),
            cache: KvCache::On,
        }
    }
}

/// Generates up to `settings.max_tokens` tokens after `prompt` (token ids of the model's
/// vocabulary; an empty prompt starts a new document, after an EOS), calling `on_token` with
/// each as it is chosen (to stream it), and returns them.
///
/// The model reads at most its context: once prompt and output fill it, the cached path starts
/// again from the last half of the context (one prefill per half context of new tokens), the
/// uncached one slides its window by a token. Both give the same tokens and logits while the
/// text fits the context. PAD and BOS, which no training target holds, are never drawn.
///
/// # Shapes
/// `prompt`: `n` ids → up to `max_tokens` ids.
///
/// # Errors
/// [`AttnError::InvalidInput`] for a model that is not a language model, ids outside its
/// vocabulary; settings the [`Sampler`] refuses; a NaN in the logits; errors of `on_token`.
pub fn generate(
    model: &dyn ZooModel,
    prompt: &[usize],
    settings: &Generation,
    mut on_token: impl FnMut(usize) -> Result<(), AttnError>,
) -> Result<Vec<usize>, AttnError> {
    let meta = model.meta();
    let TaskSpec::LanguageModel { vocab, context } = meta.task else {
        return Err(AttnError::InvalidInput {
            reason: format!(
                "`{}` is a {} model; only language models generate",
                meta.name,
                meta.task.name()
            ),
            fix: "use a model declared with `arch: Decoder` and `task: LanguageModel`".into(),
        });
    };
    if let Some(&id) = prompt.iter().find(|&&id| id >= vocab) {
        return Err(AttnError::InvalidInput {
            reason: format!("prompt token id {id} is outside the vocabulary of {vocab}"),
            fix: "encode the prompt with the run's vocabulary".into(),
        });
    }
    let mut sampler = Sampler::new(settings.decoding)?;
    let mut text: Vec<usize> = if prompt.is_empty() {
        vec![EOS]
    } else {
        prompt.to_vec()
    };
    let mut out = Vec::new();
    if settings.max_tokens == 0 {
        return Ok(out);
    }
    let window = |text: &[usize], keep: usize| text[text.len().saturating_sub(keep)..].to_vec();
    let mut step = Stepper::new(model, settings.cache, context)?;
    let mut logits = step.first(&window(&text, context))?;
    loop {
        for banned in [PAD, BOS] {
            if let Some(l) = logits.get_mut(banned) {
                *l = f32::NEG_INFINITY;
            }
        }
        let next = sampler.next(&logits)?;
        text.push(next);
        out.push(next);
        on_token(next)?;
        if settings.stop == Some(next) || out.len() == settings.max_tokens {
            return Ok(out);
        }
        logits = step.next(&text)?;
    }
}

/// The two ways of getting the next token's logits.
enum Stepper<'a> {
    Cached {
        session: Box<dyn crate::model::TokenStepper<f32> + 'a>,
        context: usize,
    },
    Uncached {
        model: &'a dyn ZooModel,
        context: usize,
    },
}

impl<'a> Stepper<'a> {
    fn new(model: &'a dyn ZooModel, cache: KvCache, context: usize) -> Result<Self, AttnError> {
        Ok(match cache {
            KvCache::On => Stepper::Cached {
                session: model.generator().ok_or_else(|| AttnError::InvalidInput {
                    reason: format!("`{}` has no key/value cache", model.meta().name),
                    fix: "generate without the cache".into(),
                })?,
                context,
            },
            KvCache::Off => Stepper::Uncached { model, context },
        })
    }

    /// The logits after `window` (at most the context).
    fn first(&mut self, window: &[usize]) -> Result<Vec<f32>, AttnError> {
        match self {
            Stepper::Cached { session, .. } => session.try_feed(window),
            Stepper::Uncached { model, context } => last_logits(*model, window, *context),
        }
    }

    /// The logits after `text`, whose last token is new.
    fn next(&mut self, text: &[usize]) -> Result<Vec<f32>, AttnError> {
        match self {
            Stepper::Cached { session, context } => {
                if session.len() < *context {
                    session.try_feed(&text[text.len() - 1..])
                } else {
                    // the context is full: start again from its last half
                    session.reset();
                    let keep = (*context / 2).max(1);
                    session.try_feed(&text[text.len() - keep..])
                }
            }
            Stepper::Uncached { model, context } => {
                let start = text.len().saturating_sub(*context);
                last_logits(*model, &text[start..], *context)
            }
        }
    }
}

/// The logits of the token after `window` (`n ≤ context` ids) from a full forward pass.
pub(crate) fn last_logits(
    model: &dyn ZooModel,
    window: &[usize],
    context: usize,
) -> Result<Vec<f32>, AttnError> {
    let n = window.len();
    let mut ids = window.to_vec();
    ids.resize(context, PAD);
    let batch = Batch {
        size: 1,
        inputs: Inputs::Tokens {
            ids,
            lengths: vec![n],
        },
        targets: vec![IGNORE; context],
    };
    let out = model.forward(&batch, false)?;
    let labels = out.logits_shape[1];
    Ok(out.logits[(n - 1) * labels..n * labels].to_vec())
}
