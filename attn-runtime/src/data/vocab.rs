//! Vocabularies: token ↔ id, with PAD, BOS, EOS and UNK reserved.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::tokens::{BOS, EOS, PAD, RESERVED, UNK};

/// A vocabulary built from training tokens: reserved ids first (`<pad>`, `<bos>`, `<eos>`,
/// `<unk>`), then tokens by descending frequency (ties alphabetical, so the order is
/// deterministic).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vocab {
    tokens: Vec<String>,
    #[serde(skip)]
    index: HashMap<String, usize>,
}

impl Vocab {
    /// Builds from token sequences, keeping tokens seen at least `min_count` times, at most
    /// `max_size` entries in all (reserved ones included) when given.
    pub fn build<'a>(
        sequences: impl IntoIterator<Item = &'a [String]>,
        min_count: usize,
        max_size: Option<usize>,
    ) -> Vocab {
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for seq in sequences {
            for t in seq {
                *counts.entry(t.as_str()).or_default() += 1;
            }
        }
        let mut ranked: Vec<(&str, usize)> = counts
            .into_iter()
            .filter(|&(_, c)| c >= min_count.max(1))
            .collect();
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let mut tokens: Vec<String> = ["<pad>", "<bos>", "<eos>", "<unk>"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let room = max_size.map_or(usize::MAX, |m| m.saturating_sub(RESERVED));
        tokens.extend(ranked.into_iter().take(room).map(|(t, _)| t.to_string()));
        Self::from_tokens(tokens)
    }

    /// A vocabulary of exactly these tokens, in this order (the first four are the reserved ones).
    pub fn from_tokens(tokens: Vec<String>) -> Vocab {
        let index = tokens
            .iter()
            .enumerate()
            .map(|(i, t)| (t.clone(), i))
            .collect();
        Vocab { tokens, index }
    }

    /// Entries, reserved ones included.
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    /// Whether only the reserved entries exist.
    pub fn is_empty(&self) -> bool {
        self.tokens.len() <= RESERVED
    }

    /// The id of `token`, UNK when unknown.
    pub fn id(&self, token: &str) -> usize {
        self.index.get(token).copied().unwrap_or(UNK)
    }

    /// Ids of tokens.
    pub fn encode(&self, tokens: &[String]) -> Vec<usize> {
        tokens.iter().map(|t| self.id(t)).collect()
    }

    /// Tokens of ids, stopping at EOS and skipping PAD and BOS.
    pub fn decode(&self, ids: &[usize]) -> Vec<String> {
        ids.iter()
            .take_while(|&&i| i != EOS)
            .filter(|&&i| i != PAD && i != BOS)
            .map(|&i| {
                self.tokens
                    .get(i)
                    .cloned()
                    .unwrap_or_else(|| "<unk>".into())
            })
            .collect()
    }

    /// The token of `id`.
    pub fn token(&self, id: usize) -> Option<&str> {
        self.tokens.get(id).map(String::as_str)
    }

    /// All tokens in id order.
    pub fn tokens(&self) -> &[String] {
        &self.tokens
    }

    /// Restores the lookup index after deserialising.
    pub fn reindexed(self) -> Vocab {
        Self::from_tokens(self.tokens)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seqs(texts: &[&str]) -> Vec<Vec<String>> {
        texts
            .iter()
            .map(|t| t.split(' ').map(String::from).collect())
            .collect()
    }

    #[test]
    fn reserved_first_then_by_frequency() {
        let data = seqs(&["b a a", "c a b"]);
        let v = Vocab::build(data.iter().map(Vec::as_slice), 1, None);
        assert_eq!(
            v.tokens(),
            ["<pad>", "<bos>", "<eos>", "<unk>", "a", "b", "c"]
        );
        assert_eq!(v.encode(&["c".into(), "zzz".into()]), vec![6, UNK]);
        assert_eq!(v.decode(&[BOS, 4, 5, EOS, 6]), ["a", "b"]);
    }

    #[test]
    fn min_count_and_max_size_cap_it() {
        let data = seqs(&["b a a", "c a b"]);
        assert_eq!(
            Vocab::build(data.iter().map(Vec::as_slice), 2, None).len(),
            6
        );
        assert_eq!(
            Vocab::build(data.iter().map(Vec::as_slice), 1, Some(5)).len(),
            5
        );
    }

    #[test]
    fn survives_json() {
        let v = Vocab::build(seqs(&["x y"]).iter().map(Vec::as_slice), 1, None);
        let back: Vocab = serde_json::from_str::<Vocab>(&serde_json::to_string(&v).unwrap())
            .unwrap()
            .reindexed();
        assert_eq!(back, v);
        assert_eq!(back.id("y"), v.id("y"));
    }
}
