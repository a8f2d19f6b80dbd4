//! The attn model zoo: one declared model per file and a registry by name.
//!
//! ```
//! let model = attn_models::find("sentiment-encoder").unwrap();
//! assert_eq!(model.meta().heads, 4);
//! assert!(attn_models::names().contains(&"digits-patches"));
//! ```
#![warn(missing_docs)]

mod bible_lm;
mod bible_transformer;
mod dates_gru_bahdanau;
mod dates_lstm_luong;
mod dates_transformer;
mod digits_patches;
mod digits_vit;
mod fashion_vit;
mod registry;
mod sentiment_dot_attention;
mod sentiment_encoder;
mod sentiment_rnn_attention;
mod sentiment_single_head;
mod sentiment_transformer;
mod sort_tagger;
mod sort_transformer;
pub mod sweeps;

pub use bible_lm::{BibleLm, BibleLmModel};
pub use bible_transformer::{BibleTransformer, BibleTransformerModel};
pub use dates_gru_bahdanau::{DatesGruBahdanau, DatesGruBahdanauModel};
pub use dates_lstm_luong::{DatesLstmLuong, DatesLstmLuongModel};
pub use dates_transformer::{DatesTransformer, DatesTransformerModel};
pub use digits_patches::{DigitsPatches, DigitsPatchesModel};
pub use digits_vit::{DigitsVit, DigitsVitModel};
pub use fashion_vit::{FashionVit, FashionVitModel};
pub use registry::{find, names, registry, MODELS};
pub use sentiment_dot_attention::{SentimentDotAttention, SentimentDotAttentionModel};
pub use sentiment_encoder::{SentimentEncoder, SentimentEncoderModel};
pub use sentiment_rnn_attention::{SentimentRnnAttention, SentimentRnnAttentionModel};
pub use sentiment_single_head::{SentimentSingleHead, SentimentSingleHeadModel};
pub use sentiment_transformer::{SentimentTransformer, SentimentTransformerModel};
pub use sort_tagger::{SortTagger, SortTaggerModel};
pub use sort_transformer::{SortTransformer, SortTransformerModel};
