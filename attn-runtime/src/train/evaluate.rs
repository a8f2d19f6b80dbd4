//! Scoring a model on encoded examples: what validation, the end-of-run test and sweeps use.

use crate::data::{batches, Encoded};
use crate::error::AttnError;
use crate::model::{ModelMeta, TaskSpec};
use crate::run::Scores;
use crate::zoo::ZooModel;

/// Rows of logits per example.
pub fn rows_per_example(meta: &ModelMeta) -> usize {
    rows_per_example_of(&meta.task)
}

/// Rows of logits per example of a task.
pub(crate) fn rows_per_example_of(task: &TaskSpec) -> usize {
    match *task {
        TaskSpec::Classify { .. } | TaskSpec::ImageClassify { .. } => 1,
        TaskSpec::Tag { max_len, .. } => max_len,
        TaskSpec::Seq2Seq { tgt_len, .. } => tgt_len,
    }
}

/// Scores `model` on `examples`: accuracy and exact match of its evaluation output (greedy
/// decoding for sequence-to-sequence), and the loss (teacher-forced for sequence-to-sequence).
pub fn evaluate(
    model: &dyn ZooModel,
    examples: &[Encoded],
    batch_size: usize,
) -> Result<Scores, AttnError> {
    let meta = model.meta();
    let per = rows_per_example(meta);
    let seq2seq = matches!(meta.task, TaskSpec::Seq2Seq { .. });
    let mut total = Scores::default();
    for batch in batches(examples, meta, batch_size, None) {
        let out = model.forward(&batch, false)?;
        let mut s = Scores::of(
            &out.logits,
            out.logits_shape[1],
            &batch.targets,
            per,
            !seq2seq,
        );
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
