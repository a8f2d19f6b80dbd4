//! The registry: every zoo model by name.

use attn_runtime::zoo::{Entry, ZooEntry};

use crate::{
    error::ModelsError, BibleTransformer, DatesGruBahdanau, DatesLstmLuong, DatesTransformer,
    DigitsPatches, SentimentDotAttention, SentimentEncoder, SentimentRnnAttention,
    SentimentSingleHead, SentimentTransformer, SortTagger, SortTransformer,
};

/// Every zoo model, in the order `--list` shows them. A new model file adds one line here.
pub static MODELS: &[&dyn ZooEntry] = &[
    &Entry::<SentimentDotAttention>::NEW,
    &Entry::<SentimentSingleHead>::NEW,
    &Entry::<SentimentEncoder>::NEW,
    &Entry::<SortTagger>::NEW,
    &Entry::<DigitsPatches>::NEW,
    &Entry::<SentimentRnnAttention>::NEW,
    &Entry::<DatesGruBahdanau>::NEW,
    &Entry::<DatesLstmLuong>::NEW,
    &Entry::<SentimentTransformer>::NEW,
    &Entry::<SortTransformer>::NEW,
    &Entry::<DatesTransformer>::NEW,
    &Entry::<BibleTransformer>::NEW,
];

/// All registered names.
pub fn names() -> Vec<&'static str> {
    MODELS.iter().map(|m| m.meta().name).collect()
}

/// Looks a model up by name.
///
/// # Errors
/// [`ModelsError::UnknownModel`], listing the available names and the nearest one.
pub fn find(name: &str) -> Result<&'static dyn ZooEntry, ModelsError> {
    MODELS
        .iter()
        .copied()
        .find(|m| m.meta().name == name)
        .ok_or_else(|| ModelsError::UnknownModel {
            name: name.to_string(),
            available: names(),
            nearest: attn_runtime::suggest::closest(name, names()),
        })
}
