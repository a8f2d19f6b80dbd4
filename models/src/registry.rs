//! The registry: every zoo model and sweep by name.

use attn_runtime::registry::Registry;
use attn_runtime::zoo::{Entry, ZooEntry};
use attn_runtime::AttnError;

use crate::{
    BibleLm, BibleTransformer, DatesGruBahdanau, DatesLstmLuong, DatesTransformer, DigitsPatches,
    DigitsVit, FashionVit, SentimentDotAttention, SentimentEncoder, SentimentRnnAttention,
    SentimentSingleHead, SentimentTransformer, SortTagger, SortTransformer,
};

/// Every zoo model, in the order `--list` shows them. A new model file adds one line here.
pub static MODELS: &[&dyn ZooEntry] = &[
    &Entry::<SentimentDotAttention>::NEW,
    &Entry::<SentimentSingleHead>::NEW,
    &Entry::<SentimentEncoder>::NEW,
    &Entry::<SortTagger>::NEW,
    &Entry::<DigitsPatches>::NEW,
    &Entry::<DigitsVit>::NEW,
    &Entry::<FashionVit>::NEW,
    &Entry::<SentimentRnnAttention>::NEW,
    &Entry::<DatesGruBahdanau>::NEW,
    &Entry::<DatesLstmLuong>::NEW,
    &Entry::<SentimentTransformer>::NEW,
    &Entry::<SortTransformer>::NEW,
    &Entry::<DatesTransformer>::NEW,
    &Entry::<BibleTransformer>::NEW,
    &Entry::<BibleLm>::NEW,
];

/// The zoo's models and sweeps as one [`Registry`], what our `train`, `eval`, `predict`,
/// `attend` and `sweep` binaries run over. Merge it with your own models to have both:
/// `attn_models::registry().merge(my_registry)`.
pub fn registry() -> Registry {
    Registry::new().models(MODELS).sweeps(crate::sweeps::SWEEPS)
}

/// All registered names.
pub fn names() -> Vec<&'static str> {
    registry().names()
}

/// Looks a model up by name.
///
/// # Errors
/// [`AttnError::UnknownModel`], listing the available names and the nearest one.
pub fn find(name: &str) -> Result<&'static dyn ZooEntry, AttnError> {
    registry().find(name)
}
