//! Subword tokenisation (byte-pair encoding) through Hugging Face's `tokenizers`, trained on a
//! run's training split and kept with its vocabulary.

use std::fmt;

use serde::{Deserialize, Serialize};
use tokenizers::decoders::DecoderWrapper;
use tokenizers::models::bpe::{BpeTrainer, BPE};
use tokenizers::models::TrainerWrapper;
use tokenizers::normalizers::unicode::NFKC;
use tokenizers::pre_tokenizers::metaspace::{Metaspace, PrependScheme};
use tokenizers::pre_tokenizers::punctuation::Punctuation;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::pre_tokenizers::PreTokenizerWrapper;
use tokenizers::{AddedToken, Decoder, SplitDelimiterBehavior, Tokenizer as HfTokenizer};

use crate::error::AttnError;

/// The token a character never seen in training becomes (attn's reserved `<unk>`).
const UNK: &str = "<unk>";

/// A byte-pair-encoding model: text is NFKC-normalised, split at spaces (each word marked with
/// `▁` at its start) and around punctuation, and each piece cut into the learnt subwords;
/// decoding joins the subwords and turns the marks back into spaces.
///
/// Serialised as the `tokenizer.json` of Hugging Face's `tokenizers` (what
/// `tokenizers.Tokenizer.from_str` reads in Python).
///
/// **PyTorch equivalent**: `tokenizers.Tokenizer(models.BPE(unk_token="<unk>"))` with
/// `pre_tokenizers.Sequence([Metaspace(), Punctuation()])`, trained by `trainers.BpeTrainer`.
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Subwords(HfTokenizer);

impl fmt::Debug for Subwords {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Subwords({} entries)", self.0.get_vocab_size(true))
    }
}

impl PartialEq for Subwords {
    fn eq(&self, other: &Self) -> bool {
        serde_json::to_value(self).ok() == serde_json::to_value(other).ok()
    }
}

fn marks() -> Metaspace {
    Metaspace::new(Subwords::WORD_START, PrependScheme::Always, true)
}

fn failed(what: &str, e: impl fmt::Display) -> AttnError {
    AttnError::InvalidInput {
        reason: format!("subword tokenisation: {what}: {e}"),
        fix: "check the text is valid UTF-8; report this if it is".into(),
    }
}

impl Subwords {
    /// Marks a token that starts a word (`▁`, SentencePiece's convention).
    pub const WORD_START: char = '\u{2581}';

    /// Learns up to `size` subwords (the alphabet and `<unk>` included) from `texts`, merging
    /// pairs seen at least twice.
    ///
    /// # Errors
    /// [`AttnError::InvalidInput`] when training fails.
    pub fn train<'a>(
        texts: impl Iterator<Item = &'a str> + Send,
        size: usize,
    ) -> Result<Subwords, AttnError> {
        let model = BPE::builder()
            .unk_token(UNK.into())
            .build()
            .map_err(|e| failed("the model", e))?;
        let mut tokenizer = HfTokenizer::new(model);
        tokenizer.with_normalizer(Some(NFKC));
        tokenizer.with_pre_tokenizer(Some(PreTokenizerWrapper::Sequence(Sequence::new(vec![
            PreTokenizerWrapper::Metaspace(marks()),
            PreTokenizerWrapper::Punctuation(Punctuation::new(SplitDelimiterBehavior::Isolated)),
        ]))));
        tokenizer.with_decoder(Some(DecoderWrapper::Metaspace(marks())));
        let mut trainer: TrainerWrapper = BpeTrainer::builder()
            .vocab_size(size)
            .min_frequency(2)
            .show_progress(false)
            .special_tokens(vec![AddedToken::from(UNK, true)])
            .build()
            .into();
        tokenizer
            .train(&mut trainer, texts)
            .map_err(|e| failed("training", e))?;
        Ok(Subwords(tokenizer))
    }

    /// The subwords of `text`.
    ///
    /// ```
    /// # use attn_runtime::data::Subwords;
    /// let text = "the cat sat on the mat. the cat sat.";
    /// let sw = Subwords::train([text; 4].into_iter(), 40).unwrap();
    /// let tokens = sw.tokenize("the cat sat.");
    /// assert_eq!(tokens.concat(), "▁the▁cat▁sat.");
    /// assert_eq!(sw.detokenize(&tokens), "the cat sat.");
    /// ```
    pub fn tokenize(&self, text: &str) -> Vec<String> {
        match self.0.encode(text, false) {
            Ok(encoding) => encoding.get_tokens().to_vec(),
            // the pipeline has no failing step for valid UTF-8 (a `&str`); stay total anyway
            Err(_) => vec![UNK.to_string()],
        }
    }

    /// Text from subwords: joined, word marks turned back into spaces.
    pub fn detokenize(&self, tokens: &[String]) -> String {
        let joined = || {
            tokens
                .concat()
                .replace(Subwords::WORD_START, " ")
                .trim_start()
                .to_string()
        };
        match self.0.get_decoder() {
            Some(decoder) => decoder.decode(tokens.to_vec()).unwrap_or_else(|_| joined()),
            None => joined(),
        }
    }

    /// The Hugging Face `tokenizer.json` text.
    ///
    /// # Errors
    /// [`AttnError::InvalidInput`] when serialising fails.
    pub fn to_json(&self) -> Result<String, AttnError> {
        self.0.to_string(true).map_err(|e| failed("saving", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: [&str; 3] = [
        "In the beginning, God created the heavens and the earth.",
        "The earth was formless and empty.",
        "God said, \"Let there be light,\" and there was light.",
    ];

    #[test]
    fn text_comes_back_from_its_subwords_and_unseen_characters_are_unknown() {
        let sw = Subwords::train(TEXT.iter().copied(), 60).unwrap();
        for line in TEXT {
            let tokens = sw.tokenize(line);
            assert!(tokens.len() < line.chars().count(), "{tokens:?}");
            assert_eq!(sw.detokenize(&tokens), line);
        }
        // merges learnt from frequent pairs: "the" is one piece at a word's start
        assert!(sw
            .tokenize("the earth")
            .contains(&"\u{2581}the".to_string()));
        // a character never seen in training is `<unk>`, which attn's vocabulary shares
        assert!(sw.tokenize("the zebra").contains(&UNK.to_string()));
    }

    #[test]
    fn the_model_serialises_as_a_hugging_face_tokenizer_and_back() {
        let sw = Subwords::train(TEXT.iter().copied(), 60).unwrap();
        let json = serde_json::to_string(&sw).unwrap();
        let back: Subwords = serde_json::from_str(&json).unwrap();
        assert_eq!(back, sw);
        assert_eq!(back.tokenize(TEXT[2]), sw.tokenize(TEXT[2]));
        let hf: serde_json::Value = serde_json::from_str(&sw.to_json().unwrap()).unwrap();
        assert_eq!(hf["model"]["type"], "BPE");
        assert_eq!(hf["model"]["unk_token"], UNK);
    }
}
