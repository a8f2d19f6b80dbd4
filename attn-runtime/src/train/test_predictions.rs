//! Every test example's input, reference and prediction, for `eval --predictions FILE`: what
//! users score with their own tools (sacrebleu on the third column, scikit-learn on labels).

use std::io::Write;
use std::path::Path;

use serde::Serialize;

use super::evaluate::References;
use crate::data::{Examples, Vocabs};
use crate::error::AttnError;

/// One test example: its input as text, its reference and the model's prediction.
///
/// Sequence-to-sequence: source, reference target, greedy output (detokenised); classifiers:
/// text (or an image's pixels, comma-separated), gold label, predicted label; taggers: tokens,
/// gold tags and predicted tags, space-separated.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TestPrediction {
    /// The example's input.
    pub input: String,
    /// What the data says it should be.
    pub reference: String,
    /// What the model said.
    pub prediction: String,
}

/// The test predictions of `raw` (the test split before encoding) from `predicted` (each
/// example's predicted ids, in the split's order, as many rows as the task predicts), decoded
/// with `vocabs`; `None` for splits with no single output per example (a language model's).
pub(crate) fn test_predictions(
    raw: &Examples,
    predicted: &[Vec<usize>],
    vocabs: &Vocabs,
) -> Option<Vec<TestPrediction>> {
    let label = |id: usize| {
        vocabs
            .labels
            .as_ref()
            .and_then(|l| l.get(id))
            .map_or_else(|| id.to_string(), String::clone)
    };
    let row = |input: String, reference: String, prediction: String| TestPrediction {
        input,
        reference,
        prediction,
    };
    let rows = match raw {
        Examples::Labelled(v) => v
            .iter()
            .zip(predicted)
            .map(|((text, gold), p)| row(text.clone(), gold.clone(), label(p[0])))
            .collect(),
        Examples::Images { pixels, labels, .. } => pixels
            .iter()
            .zip(labels)
            .zip(predicted)
            .map(|((px, &gold), p)| {
                let input: Vec<String> = px.iter().map(f32::to_string).collect();
                row(input.join(","), label(gold), label(p[0]))
            })
            .collect(),
        Examples::Tagged(v) => {
            let tags = vocabs.tgt.as_ref()?;
            v.iter()
                .zip(predicted)
                .map(|((tokens, gold), p)| {
                    let p = &p[..gold.len().min(p.len())];
                    row(tokens.join(" "), gold.join(" "), tags.decode(p).join(" "))
                })
                .collect()
        }
        Examples::Pairs(v) => {
            // the outputs as BLEU scored them
            let refs = References::of(raw, vocabs)?;
            v.iter()
                .zip(predicted)
                .map(|((source, target), p)| {
                    row(source.clone(), target.clone(), refs.hypothesis(p))
                })
                .collect()
        }
        Examples::Text(_) => return None,
    };
    Some(rows)
}

/// Writes `rows` to `path`: JSON lines (`.jsonl`, `{"input", "reference", "prediction"}`) or
/// tab-separated columns under a header (`.tsv`), through a temporary file and a rename.
///
/// # Errors
/// [`AttnError::Data`] for another extension, or a `.tsv` value holding a tab or a line break
/// (naming the example; JSON lines hold any text); [`AttnError::Io`] when writing fails.
pub fn write_test_predictions(path: &Path, rows: &[TestPrediction]) -> Result<(), AttnError> {
    let file = path.display().to_string();
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    let mut out = Vec::new();
    let io = |source| AttnError::Io {
        path: file.clone(),
        source,
    };
    match ext {
        "jsonl" => {
            for r in rows {
                serde_json::to_writer(&mut out, r)
                    .map_err(|e| AttnError::data(&file, e.to_string(), "report this bug"))?;
                out.push(b'\n');
            }
        }
        "tsv" => {
            writeln!(out, "input\treference\tprediction").map_err(io)?;
            for (i, r) in rows.iter().enumerate() {
                let fields = [&r.input, &r.reference, &r.prediction];
                if fields.iter().any(|f| f.contains(['\t', '\n', '\r'])) {
                    return Err(AttnError::data(
                        &file,
                        format!("test example {} holds a tab or a line break", i + 1),
                        "write the predictions as JSON lines (a `.jsonl` file) instead",
                    ));
                }
                writeln!(out, "{}\t{}\t{}", r.input, r.reference, r.prediction).map_err(io)?;
            }
        }
        _ => {
            return Err(AttnError::data(
                &file,
                format!("predictions cannot be written as `.{ext}`"),
                "name a .jsonl or .tsv file",
            ))
        }
    }
    crate::run::write_atomic(path, &out)
}
