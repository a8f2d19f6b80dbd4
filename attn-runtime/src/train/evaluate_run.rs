//! Evaluating a trained run on its test split: every metric suited to the task, written to
//! `eval.json`.

use serde::Serialize;

use super::evaluate::{rows_per_example_of, References};
use super::ngram_baseline::{ngram_baseline, NgramBaseline};
use super::test_predictions::{test_predictions, TestPrediction};
use crate::data::batches;
use crate::data::{prepare, Dataset, Examples};
use crate::error::AttnError;
use crate::infer::{BeamSearch, Hypothesis};
use crate::metrics::{classification_report, confusion_matrix, ClassificationReport};
use crate::model::TaskSpec;
use crate::run::{argmax, output_bleu, LoadedRun, Scores};

/// Scores of a sequence-to-sequence test split.
#[derive(Clone, Debug, Serialize)]
pub struct Seq2SeqReport {
    /// Corpus BLEU (sacreBLEU's definition; see `bleu_signature`).
    pub bleu: f64,
    /// sacreBLEU's signature of that score.
    pub bleu_signature: String,
    /// sacreBLEU's one-line summary.
    pub bleu_summary: String,
    /// Share of outputs entirely right.
    pub exact_match: f64,
    /// Share of target tokens right (position by position, of the outputs scored).
    pub token_accuracy: f64,
    /// How the outputs were decoded: `greedy`, or `beam 4, length penalty 0.6`.
    pub decoding: String,
    /// A few (source, reference, output) triples.
    pub samples: Vec<(String, String, String)>,
}

/// Scores of a language model's test split.
#[derive(Clone, Debug, Serialize)]
pub struct LanguageModelReport {
    /// `exp` of the mean cross-entropy per predicted token.
    pub perplexity: f64,
    /// Mean cross-entropy per predicted token (nats).
    pub loss: f64,
    /// Share of tokens whose likeliest prediction is right.
    pub token_accuracy: f64,
    /// Tokens predicted.
    pub tokens: usize,
    /// The n-gram model fitted on the same training tokens, scored on the same predictions.
    pub ngram_baseline: NgramBaseline,
}

/// `eval.json`.
#[derive(Clone, Debug, Serialize)]
pub struct EvalReport {
    /// The model.
    pub model: String,
    /// The data set.
    pub dataset: String,
    /// Test examples scored.
    pub examples: usize,
    /// Classification: accuracy, precision/recall/F1 per class and averaged.
    pub classification: Option<ClassificationReport>,
    /// Class names by id (classification).
    pub labels: Option<Vec<String>>,
    /// Confusion matrix, rows gold, columns predicted (classification).
    pub confusion: Option<Vec<Vec<usize>>>,
    /// Sequence-to-sequence scores.
    pub seq2seq: Option<Seq2SeqReport>,
    /// Token accuracy and exact match (tagging).
    pub tagging: Option<(f64, f64)>,
    /// Perplexity and token accuracy (language models).
    pub language_model: Option<LanguageModelReport>,
    /// Every test example's input, reference and prediction (empty for language models; not
    /// in `eval.json`: [`write_test_predictions`](super::write_test_predictions) writes them).
    #[serde(skip)]
    pub predictions: Vec<TestPrediction>,
}

fn metric(e: crate::metrics::MetricError) -> AttnError {
    AttnError::data("evaluation", e.to_string(), "check the test split")
}

/// Evaluates `run` on the test split of `dataset` (the split it was trained with) and writes
/// `eval.json` into the run directory. A sequence-to-sequence model's outputs are decoded
/// greedily, or with `beam` (as many test examples at once as make `batch_size` beams).
///
/// **PyTorch equivalent**: fairseq's `fairseq-generate --beam 4 --lenpen 0.6 --scoring
/// sacrebleu` on the test split.
///
/// # Errors
/// Data other than the run's (or its file changed since: [`LoadedRun::dataset`] loads the
/// right one), data that does not fit the run's vocabularies, a failing forward pass, or a
/// `beam` that [`BeamSearch::validate`] refuses or that is given for a model other than a
/// sequence-to-sequence one ([`AttnError::InvalidHyperParameter`]).
pub fn evaluate_run(
    run: &LoadedRun,
    dataset: &Dataset,
    batch_size: usize,
    beam: Option<BeamSearch>,
) -> Result<EvalReport, AttnError> {
    run.config.check_data(dataset)?;
    let meta = run.model.meta();
    if let Some(b) = &beam {
        if !matches!(meta.task, TaskSpec::Seq2Seq { .. }) {
            return Err(AttnError::InvalidHyperParameter {
                name: "beam_size (--beam)",
                value: b.beam_size.to_string(),
                requirement: "applies to sequence-to-sequence models only (the others have no output sequence to search): leave --beam out",
            });
        }
        b.validate()?;
    }
    let data = prepare(
        dataset,
        meta,
        &run.config.train.data,
        Some(run.vocabs.clone()),
    )?;
    let per = rows_per_example_of(&meta.task);
    let mut predicted: Vec<Vec<usize>> = Vec::new();
    let mut scores = Scores::default();
    match (&beam, meta.task) {
        // refused above for the other tasks
        (
            Some(b),
            TaskSpec::Seq2Seq {
                src_len, tgt_len, ..
            },
        ) => {
            // as many sources at once as make a batch of `batch_size` beams (the rows a
            // greedy batch has)
            let sources = (batch_size / b.beam_size).max(1);
            for chunk in data.test.chunks(sources) {
                let ids: Vec<&[usize]> = chunk.iter().map(|e| e.ids.as_slice()).collect();
                for hypotheses in b.search_batch(run.model.as_ref(), &ids, src_len, tgt_len)? {
                    predicted.push(best_padded(hypotheses, tgt_len));
                }
            }
        }
        _ => {
            for batch in batches(&data.test, meta, batch_size, None) {
                let out = run.model.forward(&batch, false)?;
                let labels = out.logits_shape[1];
                scores.add(&Scores::of(&out.logits, labels, &batch.targets, per, true));
                let rows: Vec<usize> = out.logits.chunks(labels).map(argmax).collect();
                predicted.extend(rows.chunks(per).map(<[usize]>::to_vec));
            }
        }
    }
    let gold: Vec<Vec<usize>> = data.test.iter().map(|e| e.target.clone()).collect();
    let mut report = EvalReport {
        model: meta.name.to_string(),
        dataset: dataset.name.clone(),
        examples: gold.len(),
        classification: None,
        labels: run.vocabs.labels.clone(),
        confusion: None,
        seq2seq: None,
        tagging: None,
        language_model: None,
        predictions: test_predictions(&data.test_raw, &predicted, &run.vocabs).unwrap_or_default(),
    };
    match meta.task {
        TaskSpec::Classify { .. } | TaskSpec::ImageClassify { .. } => {
            let g: Vec<usize> = gold.iter().map(|t| t[0]).collect();
            let p: Vec<usize> = predicted.iter().map(|t| t[0]).collect();
            report.classification = Some(classification_report(&g, &p).map_err(metric)?);
            let labels: Vec<usize> = (0..meta.task.num_labels()).collect();
            let cm = confusion_matrix(&g, &p, Some(&labels)).map_err(metric)?;
            report.confusion = Some(cm.counts.clone());
        }
        TaskSpec::Tag { .. } => {
            let (mut total, mut right, mut exact) = (0usize, 0usize, 0usize);
            for (g, p) in gold.iter().zip(&predicted) {
                let ok = g.iter().zip(p).filter(|(a, b)| a == b).count();
                total += g.len();
                right += ok;
                exact += usize::from(ok == g.len());
            }
            report.tagging = Some((
                right as f64 / total.max(1) as f64,
                exact as f64 / gold.len().max(1) as f64,
            ));
        }
        TaskSpec::Seq2Seq { .. } => {
            let mut s = seq2seq_report(run, &data.test_raw, &gold, &predicted)?;
            if let Some(b) = beam {
                s.decoding = format!("beam {}, length penalty {}", b.beam_size, b.length_penalty);
            }
            report.seq2seq = Some(s)
        }
        TaskSpec::LanguageModel { .. } => {
            report.language_model = Some(LanguageModelReport {
                perplexity: scores.perplexity(),
                loss: scores.loss(),
                token_accuracy: scores.accuracy(),
                tokens: scores.rows,
                ngram_baseline: ngram_baseline(&data.train, &data.valid, &data.test),
            })
        }
    }
    run.dir.write_json("eval.json", &report)?;
    Ok(report)
}

/// The best of a source's hypotheses (best first), padded to `tgt_len` as greedy outputs are.
fn best_padded(hypotheses: Vec<Hypothesis>, tgt_len: usize) -> Vec<usize> {
    let mut best = hypotheses
        .into_iter()
        .next()
        .map(|h| h.tokens)
        .unwrap_or_default();
    best.resize(tgt_len, crate::tokens::PAD);
    best
}

fn seq2seq_report(
    run: &LoadedRun,
    raw: &Examples,
    gold: &[Vec<usize>],
    predicted: &[Vec<usize>],
) -> Result<Seq2SeqReport, AttnError> {
    let (Examples::Pairs(pairs), Some(refs)) = (raw, References::of(raw, &run.vocabs)) else {
        return Err(AttnError::data(
            "evaluation",
            "a sequence-to-sequence test split holds pairs and the run a target vocabulary",
            "retrain the run",
        ));
    };
    let hyps: Vec<String> = predicted.iter().map(|p| refs.hypothesis(p)).collect();
    let refs: Vec<String> = pairs.iter().map(|(_, t)| t.clone()).collect();
    let bleu = output_bleu()
        .corpus_score(&hyps, std::slice::from_ref(&refs))
        .map_err(metric)?;
    let cut = |s: &[usize]| -> Vec<usize> {
        s.iter()
            .copied()
            .take_while(|&t| t != crate::tokens::EOS)
            .collect()
    };
    let exact = gold
        .iter()
        .zip(predicted)
        .filter(|(g, p)| cut(g) == cut(p))
        .count();
    let (mut total, mut right) = (0usize, 0usize);
    for (g, p) in gold.iter().zip(predicted) {
        total += g.len();
        right += g.iter().zip(p).filter(|(a, b)| a == b).count();
    }
    let samples = pairs
        .iter()
        .zip(&hyps)
        .take(5)
        .map(|((s, t), h)| (s.clone(), t.clone(), h.clone()))
        .collect();
    Ok(Seq2SeqReport {
        bleu: bleu.score,
        bleu_signature: bleu.signature.clone(),
        bleu_summary: bleu.to_string(),
        exact_match: exact as f64 / gold.len().max(1) as f64,
        token_accuracy: right as f64 / total.max(1) as f64,
        decoding: "greedy".to_string(),
        samples,
    })
}
