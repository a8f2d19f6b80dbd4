//! Scoring a model on encoded examples: what validation, the end-of-run test and sweeps use.

use crate::data::{batches, Encoded, Examples, Vocabs};
use crate::error::AttnError;
use crate::model::{ModelMeta, TaskSpec};
use crate::run::{argmax, output_bleu, Scores};
use crate::zoo::ZooModel;

/// The reference texts of a sequence-to-sequence split and the vocabulary that turns output ids
/// back into text: what an evaluation needs to score BLEU.
///
/// **PyTorch equivalent**: what fairseq's `--eval-bleu` keeps to score detokenised validation
/// outputs with sacreBLEU (the target dictionary and the raw references).
#[derive(Clone, Copy, Debug)]
pub struct References<'a> {
    pairs: &'a [(String, String)],
    vocabs: &'a Vocabs,
}

impl<'a> References<'a> {
    /// The targets of `raw` (a split before encoding, in the order of its encoded examples),
    /// decoded with `vocabs`; `None` unless `raw` holds pairs and `vocabs` a target vocabulary.
    pub fn of(raw: &'a Examples, vocabs: &'a Vocabs) -> Option<Self> {
        match raw {
            Examples::Pairs(pairs) if vocabs.tgt.is_some() => Some(References { pairs, vocabs }),
            _ => None,
        }
    }

    /// The text of output ids: tokens up to EOS, joined as the target tokeniser joins them.
    pub fn hypothesis(&self, ids: &[usize]) -> String {
        let tokens = self.vocabs.tgt.as_ref().map(|v| v.decode(ids));
        self.vocabs.tgt_text(&tokens.unwrap_or_default())
    }

    /// The reference text of example `i`.
    pub fn reference(&self, i: usize) -> Option<&'a str> {
        self.pairs.get(i).map(|(_, t)| t.as_str())
    }
}

/// Rows of logits per example.
pub fn rows_per_example(meta: &ModelMeta) -> usize {
    rows_per_example_of(&meta.task)
}

/// Rows of logits per example of a task.
pub(crate) fn rows_per_example_of(task: &TaskSpec) -> usize {
    match *task {
        TaskSpec::Classify { .. } | TaskSpec::ImageClassify { .. } => 1,
        TaskSpec::Tag { max_len, .. } => max_len,
        TaskSpec::LanguageModel { context, .. } => context,
        TaskSpec::Seq2Seq { tgt_len, .. } => tgt_len,
    }
}

/// Scores `model` on `examples`: accuracy and exact match of its evaluation output (greedy
/// decoding for sequence-to-sequence), the loss (teacher-forced for sequence-to-sequence), and
/// per-class counts for classifiers and taggers (see [`Scores::macro_f1`]).
pub fn evaluate(
    model: &dyn ZooModel,
    examples: &[Encoded],
    batch_size: usize,
) -> Result<Scores, AttnError> {
    evaluate_against(model, examples, None, batch_size)
}

/// [`evaluate`], and for a sequence-to-sequence model given `references` (of `examples`, in
/// order) the BLEU statistics of its detokenised greedy outputs (see [`Scores::bleu`]).
///
/// # Errors
/// A failing forward pass, or references that do not cover `examples`.
pub fn evaluate_against(
    model: &dyn ZooModel,
    examples: &[Encoded],
    references: Option<&References<'_>>,
    batch_size: usize,
) -> Result<Scores, AttnError> {
    let meta = model.meta();
    let per = rows_per_example(meta);
    let seq2seq = matches!(meta.task, TaskSpec::Seq2Seq { .. });
    // per-class counts over a vocabulary score no language model: it is judged by perplexity
    let counts_classes = matches!(
        meta.task,
        TaskSpec::Classify { .. } | TaskSpec::Tag { .. } | TaskSpec::ImageClassify { .. }
    );
    if let Some(r) = references.filter(|r| r.pairs.len() != examples.len()) {
        return Err(AttnError::data(
            "evaluation",
            format!(
                "{} references for {} examples",
                r.pairs.len(),
                examples.len()
            ),
            "pass the references of the split being evaluated",
        ));
    }
    let mut total = Scores::default();
    let mut first = 0;
    for batch in batches(examples, meta, batch_size, None) {
        let out = model.forward(&batch, false)?;
        let labels = out.logits_shape[1];
        let mut s = Scores::of(&out.logits, labels, &batch.targets, per, !seq2seq);
        if counts_classes {
            s = s.with_classes(&out.logits, labels, &batch.targets, meta.task.num_labels());
        }
        if let (true, Some(refs)) = (seq2seq, references) {
            let mut stats = crate::metrics::BleuStats::default();
            let bleu = output_bleu();
            for (i, rows) in out.logits.chunks(labels * per).enumerate() {
                let ids: Vec<usize> = rows.chunks(labels).map(argmax).collect();
                let reference = refs.reference(first + i).unwrap_or_default();
                stats += bleu
                    .segment_stats(&refs.hypothesis(&ids), &[reference])
                    .map_err(|e| AttnError::data("evaluation", e.to_string(), "report this bug"))?;
            }
            s.bleu = Some(stats);
        }
        first += batch.targets.len() / per;
        if seq2seq {
            let forced = model.forward_teacher_forced(&batch, false)?;
            s.loss_sum = Scores::of(
                &forced.logits,
                forced.logits_shape[1],
                &batch.targets,
                per,
                true,
            )
            .loss_sum;
        }
        total.add(&s);
    }
    Ok(total)
}

/// Scores with teacher forcing (for sequence-to-sequence models the accuracy of the next token
/// given the true prefix: the training accuracy).
pub fn evaluate_teacher_forced(
    model: &dyn ZooModel,
    examples: &[Encoded],
    batch_size: usize,
) -> Result<Scores, AttnError> {
    let per = rows_per_example(model.meta());
    let mut total = Scores::default();
    for batch in batches(examples, model.meta(), batch_size, None) {
        let out = model.forward_teacher_forced(&batch, false)?;
        total.add(&Scores::of(
            &out.logits,
            out.logits_shape[1],
            &batch.targets,
            per,
            true,
        ));
    }
    Ok(total)
}
