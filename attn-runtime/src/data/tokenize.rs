//! Character- and word-level tokenisation.

use serde::{Deserialize, Serialize};

/// How text becomes tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Tokenizer {
    /// Every character is a token (dates, synthetic tasks).
    Char,
    /// Lower-cased words, with punctuation split off as tokens of their own.
    Word,
    /// Whitespace-separated tokens, as they are (pre-tokenised text).
    Whitespace,
    /// Subwords by byte-pair encoding, learnt from the training split (see
    /// [`Subwords`](super::Subwords)); the run's vocabularies keep the learnt model, and text
    /// goes through [`Vocabs::src_tokens`](super::Vocabs::src_tokens) and its kin. Alone, before
    /// anything is learnt, it splits at whitespace, as [`Whitespace`](Self::Whitespace).
    Bpe,
}

impl Tokenizer {
    /// The tokens of `text`.
    ///
    /// ```
    /// use attn_runtime::data::Tokenizer;
    /// assert_eq!(Tokenizer::Word.tokenize("Great phone, works!"), ["great", "phone", ",", "works", "!"]);
    /// assert_eq!(Tokenizer::Char.tokenize("3/4"), ["3", "/", "4"]);
    /// ```
    pub fn tokenize(&self, text: &str) -> Vec<String> {
        match self {
            Tokenizer::Char => text.chars().map(String::from).collect(),
            Tokenizer::Whitespace | Tokenizer::Bpe => {
                text.split_whitespace().map(String::from).collect()
            }
            Tokenizer::Word => {
                let mut tokens = Vec::new();
                let mut word = String::new();
                for c in text.chars().flat_map(char::to_lowercase) {
                    if c.is_alphanumeric() || c == '\'' {
                        word.push(c);
                    } else {
                        if !word.is_empty() {
                            tokens.push(std::mem::take(&mut word));
                        }
                        if !c.is_whitespace() {
                            tokens.push(c.to_string());
                        }
                    }
                }
                if !word.is_empty() {
                    tokens.push(word);
                }
                tokens
            }
        }
    }

    /// Its name on the command line (`--tokenizer char`).
    pub fn name(&self) -> &'static str {
        match self {
            Tokenizer::Char => "char",
            Tokenizer::Word => "word",
            Tokenizer::Whitespace => "whitespace",
            Tokenizer::Bpe => "bpe",
        }
    }

    /// Joins tokens back into text.
    pub fn detokenize(&self, tokens: &[String]) -> String {
        match self {
            Tokenizer::Char => tokens.concat(),
            Tokenizer::Word | Tokenizer::Whitespace | Tokenizer::Bpe => tokens.join(" "),
        }
    }
}
