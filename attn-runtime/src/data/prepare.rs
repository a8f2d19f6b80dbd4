//! Turning a data set into what a declared model eats: vocabularies built from the training
//! split, ids checked against the declared sizes, and padded batches.

use rand::{rngs::StdRng, seq::SliceRandom, SeedableRng};
use serde::{Deserialize, Serialize};

use super::{Dataset, Examples, Splits, Subwords, Tokenizer, Vocab};
use crate::error::AttnError;
use crate::loss::IGNORE;
use crate::model::{ModelMeta, TaskSpec};
use crate::spec::Pooling;
use crate::tokens::{BOS, EOS, PAD, RESERVED};
use crate::zoo::{Batch, Inputs};

/// Options of [`prepare`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PrepareOptions {
    /// Cut sequences longer than the model's maximum instead of failing.
    pub truncate: bool,
    /// Cap each vocabulary at this many entries (least frequent tokens become UNK); at least
    /// [`MIN_VOCAB`].
    pub max_vocab: Option<usize>,
    /// Use at most this many training examples (quick runs); at least 1.
    pub max_train: Option<usize>,
    /// Use at most this many validation and test examples each (quick runs); at least 1.
    #[serde(default)]
    pub max_eval: Option<usize>,
}

/// The smallest vocabulary cap: the reserved tokens (`<pad>`, `<bos>`, `<eos>`, `<unk>`) and one
/// real token. Below it every word of every input would be `<unk>`.
pub const MIN_VOCAB: usize = RESERVED + 1;

impl PrepareOptions {
    /// Checks the caps.
    ///
    /// # Errors
    /// [`AttnError::InvalidHyperParameter`] for a `max_vocab` below [`MIN_VOCAB`], or a
    /// `max_train` or `max_eval` of 0 (an empty split trains or measures nothing).
    pub fn validate(&self) -> Result<(), AttnError> {
        // the requirement below is a literal: keep it in step with the reserved ids
        const _: () = assert!(MIN_VOCAB == 5);
        if let Some(n) = self.max_vocab.filter(|&n| n < MIN_VOCAB) {
            return Err(AttnError::InvalidHyperParameter {
                name: "max_vocab (--max-vocab)",
                value: n.to_string(),
                requirement: "must be at least 5: the 4 reserved tokens (<pad>, <bos>, <eos>, <unk>) and one real token, or every word becomes <unk>",
            });
        }
        for (name, value) in [
            ("max_train (--max-train)", self.max_train),
            ("max_eval (--max-eval)", self.max_eval),
        ] {
            if value == Some(0) {
                return Err(AttnError::InvalidHyperParameter {
                    name,
                    value: "0".into(),
                    requirement: "must be at least 1 (or unset, for the whole split): an empty split trains or measures nothing",
                });
            }
        }
        Ok(())
    }
}

/// The vocabularies and label names a run trains with; saved with it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Vocabs {
    /// Input tokens.
    pub src: Option<Vocab>,
    /// Target tokens (sequence-to-sequence) or tags (tagging).
    pub tgt: Option<Vocab>,
    /// Class names, by class id (classification).
    pub labels: Option<Vec<String>>,
    /// Tokeniser of inputs.
    pub src_tokenizer: Tokenizer,
    /// Tokeniser of targets.
    pub tgt_tokenizer: Tokenizer,
    /// The subword model of the inputs, learnt from the training split (`Tokenizer::Bpe`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src_subwords: Option<Subwords>,
    /// The subword model of the targets (`Tokenizer::Bpe`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tgt_subwords: Option<Subwords>,
}

/// `text` as tokens: through the learnt subwords where there are some, else by `tokenizer`.
fn tokens_of(tokenizer: Tokenizer, subwords: Option<&Subwords>, text: &str) -> Vec<String> {
    match subwords {
        Some(sw) => sw.tokenize(text),
        None => tokenizer.tokenize(text),
    }
}

/// Text from `tokens`, as [`tokens_of`] made them.
fn text_of(tokenizer: Tokenizer, subwords: Option<&Subwords>, tokens: &[String]) -> String {
    match subwords {
        Some(sw) => sw.detokenize(tokens),
        None => tokenizer.detokenize(tokens),
    }
}

impl Vocabs {
    /// An input text's tokens, as the run reads its inputs.
    pub fn src_tokens(&self, text: &str) -> Vec<String> {
        tokens_of(self.src_tokenizer, self.src_subwords.as_ref(), text)
    }

    /// A target text's tokens.
    pub fn tgt_tokens(&self, text: &str) -> Vec<String> {
        tokens_of(self.tgt_tokenizer, self.tgt_subwords.as_ref(), text)
    }

    /// Input tokens joined back into text.
    pub fn src_text(&self, tokens: &[String]) -> String {
        text_of(self.src_tokenizer, self.src_subwords.as_ref(), tokens)
    }

    /// The text an input token adds when it follows others, for printing tokens as they are
    /// generated: a character as it is, a word after a space, a subword with its word mark
    /// turned into a space.
    pub fn src_piece(&self, token: &str) -> String {
        match self.src_tokenizer {
            Tokenizer::Char => token.to_string(),
            Tokenizer::Word | Tokenizer::Whitespace => format!(" {token}"),
            Tokenizer::Bpe => token.replace(Subwords::WORD_START, " "),
        }
    }

    /// Target tokens joined back into text (what BLEU scores).
    pub fn tgt_text(&self, tokens: &[String]) -> String {
        text_of(self.tgt_tokenizer, self.tgt_subwords.as_ref(), tokens)
    }

    /// Restores the lookup indexes after deserialising.
    pub fn reindexed(self) -> Vocabs {
        Vocabs {
            src: self.src.map(Vocab::reindexed),
            tgt: self.tgt.map(Vocab::reindexed),
            ..self
        }
    }
}

/// One example as ids: unpadded input ids (or pixels) and its targets (a class; a tag per
/// token; target ids then EOS).
#[derive(Clone, Debug, PartialEq)]
pub struct Encoded {
    /// Input ids.
    pub ids: Vec<usize>,
    /// Pixels, for images.
    pub pixels: Vec<f32>,
    /// Targets.
    pub target: Vec<usize>,
}

/// A data set ready for a model.
#[derive(Clone, Debug, PartialEq)]
pub struct Prepared {
    /// Training examples.
    pub train: Vec<Encoded>,
    /// Validation examples.
    pub valid: Vec<Encoded>,
    /// Test examples.
    pub test: Vec<Encoded>,
    /// The validation examples as they were before encoding (inputs of the heatmaps drawn after
    /// training).
    pub valid_raw: Examples,
    /// The test examples as they were before encoding (references for BLEU, labels by name).
    pub test_raw: Examples,
    /// Vocabularies and labels.
    pub vocabs: Vocabs,
}

/// Splits `dataset`, builds vocabularies from its training split, and encodes every part for a
/// model of metadata `meta` (reusing `vocabs` when resuming).
///
/// # Errors
/// [`AttnError::InvalidHyperParameter`] for options [`PrepareOptions::validate`] refuses;
/// [`AttnError::Data`] when the data set's kind does not fit the task, a split is empty (fewer
/// than 3 examples), a vocabulary or the label set is larger than the model declares, or a
/// sequence is longer than the declared maximum (unless `opts.truncate`).
pub fn prepare(
    dataset: &Dataset,
    meta: &ModelMeta,
    opts: &PrepareOptions,
    vocabs: Option<Vocabs>,
) -> Result<Prepared, AttnError> {
    let Splits {
        train,
        valid: valid_raw,
        test: test_raw,
    } = split_for(dataset, meta, opts)?;
    let vocabs = match vocabs {
        Some(v) => v,
        None => build_vocabs(dataset, &train, meta, opts.max_vocab)?,
    };
    check_sizes(&vocabs, meta, &dataset.name, opts.max_vocab)?;
    let encode = |part: &Examples, which: &str| {
        encode_all(
            part,
            &vocabs,
            meta,
            opts.truncate,
            &format!("{} ({which})", dataset.name),
        )
    };
    let (train, valid, test) = (
        encode(&train, "train")?,
        encode(&valid_raw, "valid")?,
        encode(&test_raw, "test")?,
    );
    // text too short to hold a next token leaves a language model's split without examples
    if let Some(which) = first_empty([train.len(), valid.len(), test.len()]) {
        return Err(AttnError::data(
            &dataset.name,
            format!("the {which} split has no token to predict (its text is empty)"),
            "give the data set more text (a few thousand tokens to learn anything)",
        ));
    }
    Ok(Prepared {
        train,
        valid,
        test,
        valid_raw,
        test_raw,
        vocabs,
    })
}

/// The first of the training, validation and test splits whose `sizes` is 0, by name.
fn first_empty(sizes: [usize; 3]) -> Option<&'static str> {
    ["training", "validation", "test"]
        .into_iter()
        .zip(sizes)
        .find_map(|(which, n)| (n == 0).then_some(which))
}

/// The examples a model of `meta` trains, validates and is tested on, before encoding: the
/// data set's split ([`Dataset::split`]) of its examples as the task reads them, with
/// `opts.max_train` and `opts.max_eval` applied. What [`prepare`] encodes, and what `eval
/// --split-out` writes.
///
/// # Errors
/// [`AttnError::InvalidHyperParameter`] for options [`PrepareOptions::validate`] refuses;
/// [`AttnError::Data`] when the data set's kind does not fit the task, or a split is empty
/// (fewer than 3 examples).
pub fn split_for(
    dataset: &Dataset,
    meta: &ModelMeta,
    opts: &PrepareOptions,
) -> Result<Splits, AttnError> {
    opts.validate()?;
    let examples = adapt(&dataset.examples, &meta.task, &dataset.name)?;
    let total = examples.len();
    let splits = Dataset {
        examples,
        ..dataset.clone()
    }
    .split();
    let mut train = splits.train;
    if let Some(n) = opts.max_train {
        let n = n.min(train.len());
        train = train.select(&(0..n).collect::<Vec<_>>());
    }
    let cap = |part: Examples| match opts.max_eval {
        Some(n) if n < part.len() => part.select(&(0..n).collect::<Vec<_>>()),
        _ => part,
    };
    let (valid, test) = (cap(splits.valid), cap(splits.test));
    // the caps are at least 1 (validated above): an empty part is a data set too small to split
    if let Some(which) = first_empty([train.len(), valid.len(), test.len()]) {
        return Err(AttnError::data(
            &dataset.name,
            format!(
                "the {which} split is empty: the data set has {total} example{}, and a split needs at least 3 (one each for training, validation and test; 10% each are held out)",
                if total == 1 { "" } else { "s" }
            ),
            "give the data set more examples (a few hundred to learn anything)",
        ));
    }
    Ok(Splits { train, valid, test })
}

/// Sequence pairs of equal lengths (copy, reverse, sort) also serve as tagging data.
fn adapt(examples: &Examples, task: &TaskSpec, name: &str) -> Result<Examples, AttnError> {
    let fits = matches!(
        (examples, task),
        (Examples::Labelled(_), TaskSpec::Classify { .. })
            | (Examples::Tagged(_), TaskSpec::Tag { .. })
            | (Examples::Pairs(_), TaskSpec::Seq2Seq { .. })
            | (Examples::Images { .. }, TaskSpec::ImageClassify { .. })
            | (Examples::Text(_), TaskSpec::LanguageModel { .. })
    );
    if fits {
        return Ok(examples.clone());
    }
    if let (Examples::Pairs(pairs), TaskSpec::Tag { .. }) = (examples, task) {
        let tagged: Vec<(Vec<String>, Vec<String>)> = pairs
            .iter()
            .map(|(s, t)| {
                (
                    s.split_whitespace().map(String::from).collect(),
                    t.split_whitespace().map(String::from).collect(),
                )
            })
            .collect();
        if tagged
            .iter()
            .all(|(s, t): &(Vec<String>, Vec<String>)| s.len() == t.len())
        {
            return Ok(Examples::Tagged(tagged));
        }
    }
    Err(AttnError::data(
        name,
        format!("{} cannot train a {} model", examples.kind(), task.name()),
        "pick a data set of the model's task, or a model of the data set's",
    ))
}

/// The declared vocabulary sizes of the inputs and the targets.
fn declared_vocabs(task: &TaskSpec) -> (Option<usize>, Option<usize>) {
    match *task {
        TaskSpec::Classify { vocab, .. }
        | TaskSpec::Tag { vocab, .. }
        | TaskSpec::LanguageModel { vocab, .. } => (Some(vocab), None),
        TaskSpec::Seq2Seq {
            src_vocab,
            tgt_vocab,
            ..
        } => (Some(src_vocab), Some(tgt_vocab)),
        TaskSpec::ImageClassify { .. } => (None, None),
    }
}

/// Subwords learnt from `texts` when `tokenizer` is [`Tokenizer::Bpe`]: as many as the declared
/// vocabulary (or `--max-vocab`) holds beside attn's reserved tokens.
fn learn_subwords<'a>(
    tokenizer: Tokenizer,
    texts: impl Iterator<Item = &'a str> + Send,
    declared: Option<usize>,
    max_vocab: Option<usize>,
) -> Result<Option<Subwords>, AttnError> {
    if tokenizer != Tokenizer::Bpe {
        return Ok(None);
    }
    let cap = match (declared, max_vocab) {
        (Some(d), Some(m)) => d.min(m),
        (d, m) => d.or(m).unwrap_or(4096),
    };
    // `<unk>` is both BPE's and ours
    Subwords::train(texts, cap.saturating_sub(RESERVED - 1).max(1)).map(Some)
}

fn build_vocabs(
    dataset: &Dataset,
    train: &Examples,
    meta: &ModelMeta,
    max_vocab: Option<usize>,
) -> Result<Vocabs, AttnError> {
    if matches!(train, Examples::Tagged(_)) && dataset.src_tokenizer == Tokenizer::Bpe {
        return Err(AttnError::data(
            &dataset.name,
            "subwords do not apply to tagged data: its text comes as tokens, one per tag",
            "read it with its own tokens (leave --tokenizer out)",
        ));
    }
    let (src_declared, tgt_declared) = declared_vocabs(&meta.task);
    let (src_texts, tgt_texts): (Vec<&str>, Vec<&str>) = match train {
        Examples::Labelled(v) => (v.iter().map(|(x, _)| x.as_str()).collect(), Vec::new()),
        Examples::Pairs(v) => v.iter().map(|(x, y)| (x.as_str(), y.as_str())).unzip(),
        Examples::Text(v) => (v.iter().map(String::as_str).collect(), Vec::new()),
        Examples::Tagged(_) | Examples::Images { .. } => (Vec::new(), Vec::new()),
    };
    let src_subwords = learn_subwords(
        dataset.src_tokenizer,
        src_texts.iter().copied(),
        src_declared,
        max_vocab,
    )?;
    let tgt_subwords = learn_subwords(
        dataset.tgt_tokenizer,
        tgt_texts.iter().copied(),
        tgt_declared,
        max_vocab,
    )?;
    let src_tok = |text: &str| tokens_of(dataset.src_tokenizer, src_subwords.as_ref(), text);
    let tgt_tok = |text: &str| tokens_of(dataset.tgt_tokenizer, tgt_subwords.as_ref(), text);
    let vocab_of = |seqs: &[Vec<String>], min_count: usize, cap: Option<usize>| {
        Vocab::build(seqs.iter().map(Vec::as_slice), min_count, cap)
    };
    let (src, tgt, labels) = match train {
        Examples::Labelled(v) => {
            let seqs: Vec<Vec<String>> = src_texts.iter().map(|x| src_tok(x)).collect();
            let mut labels: Vec<String> = v.iter().map(|(_, l)| l.clone()).collect();
            labels.sort();
            labels.dedup();
            (
                Some(vocab_of(&seqs, dataset.min_count, max_vocab)),
                None,
                Some(labels),
            )
        }
        Examples::Tagged(v) => (
            Some(Vocab::build(
                v.iter().map(|(x, _)| x.as_slice()),
                dataset.min_count,
                max_vocab,
            )),
            Some(Vocab::build(v.iter().map(|(_, t)| t.as_slice()), 1, None)),
            None,
        ),
        Examples::Pairs(_) => {
            let src: Vec<Vec<String>> = src_texts.iter().map(|x| src_tok(x)).collect();
            let tgt: Vec<Vec<String>> = tgt_texts.iter().map(|y| tgt_tok(y)).collect();
            (
                Some(vocab_of(&src, dataset.min_count, max_vocab)),
                Some(vocab_of(&tgt, dataset.min_count, max_vocab)),
                None,
            )
        }
        Examples::Text(_) => {
            let seqs: Vec<Vec<String>> = src_texts.iter().map(|x| src_tok(x)).collect();
            (
                Some(vocab_of(&seqs, dataset.min_count, max_vocab)),
                None,
                None,
            )
        }
        Examples::Images { .. } => (None, None, None),
    };
    Ok(Vocabs {
        src,
        tgt,
        labels,
        src_tokenizer: dataset.src_tokenizer,
        tgt_tokenizer: dataset.tgt_tokenizer,
        src_subwords,
        tgt_subwords,
    })
}

fn check_sizes(
    vocabs: &Vocabs,
    meta: &ModelMeta,
    name: &str,
    max_vocab: Option<usize>,
) -> Result<(), AttnError> {
    // `tokens`: how the overflowing side was read, and the flag that chooses it (none for tags)
    let too_big =
        |what: &str, got: usize, declared: usize, key: &str, tokens: Option<(Tokenizer, &str)>| {
            let mut fixes = Vec::new();
            if let Some((tokenizer, flag)) = tokens.filter(|(t, _)| *t != Tokenizer::Char) {
                fixes.push(format!(
                    "read it with another tokeniser: `{flag} char` (one token per character, as \
                 many entries as the text has distinct characters: numerals, codes, short \
                 strings) or `{flag} bpe` (subwords learnt from the training split, as many as \
                 {key}: {declared} holds: words of a real language) instead of {}",
                    tokenizer.name()
                ));
            }
            if max_vocab.is_none() {
                fixes.push(format!(
                "pass --max-vocab {declared} to keep the most frequent tokens (the others become \
                 UNK, which can hide most of a text)"
            ));
            }
            fixes.push(format!("declare {key}: {got} or more"));
            AttnError::data(
                name,
                format!(
                    "the {what} has {got} entries but `{}` declares {key}: {declared}",
                    meta.name
                ),
                fixes.join("; or "),
            )
        };
    let (src_tokens, tgt_tokens) = (
        Some((vocabs.src_tokenizer, "--tokenizer")),
        Some((vocabs.tgt_tokenizer, "--tgt-tokenizer")),
    );
    match meta.task {
        TaskSpec::Classify { vocab, classes, .. } => {
            let got = vocabs.src.as_ref().map_or(0, Vocab::len);
            if got > vocab {
                return Err(too_big("vocabulary", got, vocab, "vocab", src_tokens));
            }
            let labels = vocabs.labels.as_ref().map_or(0, Vec::len);
            if labels > classes {
                return Err(AttnError::data(
                    name,
                    format!(
                        "the data has {labels} labels but `{}` declares classes: {classes}",
                        meta.name
                    ),
                    format!("declare classes: {labels}"),
                ));
            }
        }
        TaskSpec::Tag { vocab, tags, .. } => {
            let got = vocabs.src.as_ref().map_or(0, Vocab::len);
            if got > vocab {
                return Err(too_big("vocabulary", got, vocab, "vocab", src_tokens));
            }
            let got = vocabs.tgt.as_ref().map_or(0, Vocab::len);
            if got > tags {
                return Err(too_big(
                    "tag set (4 reserved ids included)",
                    got,
                    tags,
                    "tags",
                    None,
                ));
            }
        }
        TaskSpec::Seq2Seq {
            src_vocab,
            tgt_vocab,
            ..
        } => {
            let got = vocabs.src.as_ref().map_or(0, Vocab::len);
            if got > src_vocab {
                return Err(too_big(
                    "source vocabulary",
                    got,
                    src_vocab,
                    "src_vocab",
                    Some((vocabs.src_tokenizer, "--src-tokenizer")),
                ));
            }
            let got = vocabs.tgt.as_ref().map_or(0, Vocab::len);
            if got > tgt_vocab {
                return Err(too_big(
                    "target vocabulary",
                    got,
                    tgt_vocab,
                    "tgt_vocab",
                    tgt_tokens,
                ));
            }
        }
        TaskSpec::LanguageModel { vocab, .. } => {
            let got = vocabs.src.as_ref().map_or(0, Vocab::len);
            if got > vocab {
                return Err(too_big("vocabulary", got, vocab, "vocab", src_tokens));
            }
        }
        TaskSpec::ImageClassify { .. } => {}
    }
    Ok(())
}

fn fit_length(
    mut ids: Vec<usize>,
    max: usize,
    truncate: bool,
    location: impl Fn() -> String,
    what: &str,
) -> Result<Vec<usize>, AttnError> {
    if ids.len() > max {
        if !truncate {
            return Err(AttnError::data(
                location(),
                format!(
                    "the {what} has {} tokens, longer than the model's maximum of {max}",
                    ids.len()
                ),
                "pass --truncate to cut long sequences, or declare a larger maximum length",
            ));
        }
        ids.truncate(max);
    }
    Ok(ids)
}

fn encode_all(
    part: &Examples,
    vocabs: &Vocabs,
    meta: &ModelMeta,
    truncate: bool,
    name: &str,
) -> Result<Vec<Encoded>, AttnError> {
    let at = |i: usize| move || format!("{name}, example {}", i + 1);
    let src = vocabs.src.as_ref();
    let ids_of = |text: &str| src.map_or_else(Vec::new, |v| v.encode(&vocabs.src_tokens(text)));
    let mut out = Vec::with_capacity(part.len());
    match (part, meta.task) {
        (Examples::Labelled(v), TaskSpec::Classify { max_len, .. }) => {
            let labels = vocabs.labels.clone().unwrap_or_default();
            let cls = meta.pooling == Pooling::Cls;
            for (i, (text, label)) in v.iter().enumerate() {
                let mut ids = ids_of(text);
                if cls {
                    ids.insert(0, BOS);
                }
                if ids.is_empty() {
                    ids.push(crate::tokens::UNK);
                }
                let ids = fit_length(ids, max_len, truncate, at(i), "text")?;
                let class = labels.iter().position(|l| l == label).ok_or_else(|| {
                    AttnError::data(
                        at(i)(),
                        format!("label `{label}` was not seen in training"),
                        "every label must occur in the training split",
                    )
                })?;
                out.push(Encoded {
                    ids,
                    pixels: Vec::new(),
                    target: vec![class],
                });
            }
        }
        (Examples::Tagged(v), TaskSpec::Tag { max_len, .. }) => {
            let tags = vocabs.tgt.as_ref();
            for (i, (tokens, tagged)) in v.iter().enumerate() {
                let ids = fit_length(
                    src.map_or_else(Vec::new, |s| s.encode(tokens)),
                    max_len,
                    truncate,
                    at(i),
                    "sentence",
                )?;
                let mut target = tags.map_or_else(Vec::new, |t| t.encode(tagged));
                target.truncate(ids.len());
                out.push(Encoded {
                    ids,
                    pixels: Vec::new(),
                    target,
                });
            }
        }
        (
            Examples::Pairs(v),
            TaskSpec::Seq2Seq {
                src_len, tgt_len, ..
            },
        ) => {
            let tgt = vocabs.tgt.as_ref();
            for (i, (source, target)) in v.iter().enumerate() {
                let ids = fit_length(ids_of(source), src_len, truncate, at(i), "source")?;
                let ids = if ids.is_empty() {
                    vec![crate::tokens::UNK]
                } else {
                    ids
                };
                let t = tgt.map_or_else(Vec::new, |t| t.encode(&vocabs.tgt_tokens(target)));
                let mut t = fit_length(
                    t,
                    tgt_len.saturating_sub(1),
                    truncate,
                    at(i),
                    "target (plus EOS)",
                )?;
                t.push(EOS);
                out.push(Encoded {
                    ids,
                    pixels: Vec::new(),
                    target: t,
                });
            }
        }
        (
            Examples::Images {
                pixels,
                labels,
                shape,
            },
            TaskSpec::ImageClassify {
                channels,
                height,
                width,
                classes,
            },
        ) => {
            if *shape != [channels, height, width] {
                return Err(AttnError::data(
                    name,
                    format!(
                        "images are {shape:?} but `{}` declares [{channels}, {height}, {width}]",
                        meta.name
                    ),
                    "declare the images' channels, height and width",
                ));
            }
            for (i, (p, &l)) in pixels.iter().zip(labels).enumerate() {
                if l >= classes {
                    return Err(AttnError::data(
                        at(i)(),
                        format!("class {l} is not below {classes}"),
                        "declare more classes",
                    ));
                }
                out.push(Encoded {
                    ids: Vec::new(),
                    pixels: p.clone(),
                    target: vec![l],
                });
            }
        }
        (Examples::Text(v), TaskSpec::LanguageModel { context, .. }) => {
            let stream: Vec<usize> = v
                .iter()
                .flat_map(|text| {
                    let mut ids = ids_of(text);
                    ids.push(EOS);
                    ids
                })
                .collect();
            out.extend(language_model_windows(&stream, context));
        }
        (examples, task) => {
            return Err(AttnError::data(
                name,
                format!("{} cannot train a {} model", examples.kind(), task.name()),
                "pick matching data",
            ))
        }
    }
    Ok(out)
}

/// The examples a language model learns from a stream of token ids: windows of `context`
/// inputs, each target the next id (`target[t] = stream[start + t + 1]`), the windows following
/// each other without overlap so that every id but the first is predicted once. The last window
/// may be shorter (padded in its batch). Documents are separated by EOS in the stream, so the
/// model learns where one ends.
///
/// **PyTorch equivalent**: the `get_batch` of nanoGPT or the `batchify`/`get_batch` of
/// PyTorch's word-language-model example, with non-overlapping windows (stride = `context`).
pub fn language_model_windows(stream: &[usize], context: usize) -> Vec<Encoded> {
    let context = context.max(1);
    let predicted = stream.len().saturating_sub(1);
    (0..predicted)
        .step_by(context)
        .map(|start| {
            let end = (start + context).min(predicted);
            Encoded {
                ids: stream[start..end].to_vec(),
                pixels: Vec::new(),
                target: stream[start + 1..end + 1].to_vec(),
            }
        })
        .collect()
}

/// Pads `examples` into batches of `batch_size` (the last may be smaller), in a seeded shuffled
/// order when `order_seed` is given.
pub fn batches(
    examples: &[Encoded],
    meta: &ModelMeta,
    batch_size: usize,
    order_seed: Option<u64>,
) -> Vec<Batch> {
    bucketed_batches(examples, meta, batch_size, order_seed, false)
}

/// [`batches`] with optional length bucketing: the shuffled examples are sorted by length
/// within windows of 50 batches, so each batch holds sequences of similar lengths (less padding
/// per batch), and the batches are shuffled again. Models declared with fixed maximum lengths
/// compute on padded tensors either way; bucketing changes which examples share a batch.
pub fn bucketed_batches(
    examples: &[Encoded],
    meta: &ModelMeta,
    batch_size: usize,
    order_seed: Option<u64>,
    bucket: bool,
) -> Vec<Batch> {
    let size = batch_size.max(1);
    let mut order: Vec<usize> = (0..examples.len()).collect();
    let mut rng = order_seed.map(StdRng::seed_from_u64);
    if let Some(rng) = rng.as_mut() {
        order.shuffle(rng);
    }
    let mut groups: Vec<Vec<usize>> = Vec::new();
    if bucket {
        for window in order.chunks(size * 50) {
            let mut window = window.to_vec();
            window.sort_by_key(|&i| examples[i].ids.len().max(examples[i].target.len()));
            groups.extend(window.chunks(size).map(<[usize]>::to_vec));
        }
        if let Some(rng) = rng.as_mut() {
            groups.shuffle(rng);
        }
    } else {
        groups = order.chunks(size).map(<[usize]>::to_vec).collect();
    }
    groups
        .iter()
        .map(|g| make_batch(g.iter().map(|&i| &examples[i]), meta))
        .collect()
}

fn make_batch<'a>(items: impl Iterator<Item = &'a Encoded>, meta: &ModelMeta) -> Batch {
    let items: Vec<&Encoded> = items.collect();
    let size = items.len();
    let padded = |len: usize| -> (Vec<usize>, Vec<usize>) {
        let mut ids = vec![PAD; size * len];
        let mut lengths = Vec::with_capacity(size);
        for (b, e) in items.iter().enumerate() {
            ids[b * len..b * len + e.ids.len()].copy_from_slice(&e.ids);
            lengths.push(e.ids.len().max(1));
        }
        (ids, lengths)
    };
    let targets_padded = |len: usize| -> Vec<usize> {
        let mut t = vec![IGNORE; size * len];
        for (b, e) in items.iter().enumerate() {
            t[b * len..b * len + e.target.len()].copy_from_slice(&e.target);
        }
        t
    };
    match meta.task {
        TaskSpec::Classify { max_len, .. } => {
            let (ids, lengths) = padded(max_len);
            Batch {
                size,
                inputs: Inputs::Tokens { ids, lengths },
                targets: items.iter().map(|e| e.target[0]).collect(),
            }
        }
        TaskSpec::Tag { max_len, .. }
        | TaskSpec::LanguageModel {
            context: max_len, ..
        } => {
            let (ids, lengths) = padded(max_len);
            Batch {
                size,
                inputs: Inputs::Tokens { ids, lengths },
                targets: targets_padded(max_len),
            }
        }
        TaskSpec::Seq2Seq {
            src_len, tgt_len, ..
        } => {
            let (ids, lengths) = padded(src_len);
            Batch {
                size,
                inputs: Inputs::Tokens { ids, lengths },
                targets: targets_padded(tgt_len),
            }
        }
        TaskSpec::ImageClassify { .. } => Batch {
            size,
            inputs: Inputs::Images {
                pixels: items
                    .iter()
                    .flat_map(|e| e.pixels.iter().copied())
                    .collect(),
            },
            targets: items.iter().map(|e| e.target[0]).collect(),
        },
    }
}
