//! The attention heatmaps of a few validation examples, drawn when a run ends.

use super::Reporter;
use crate::data::{Examples, Prepared};
use crate::error::AttnError;
use crate::infer::{Prediction, Predictor};
use crate::run::{LoadedRun, RunConfig, RunDir};
use crate::zoo::ZooModel;

/// Heatmaps of the first three validation examples, under `attention/example-<k>/`; a failure is
/// reported as a note, never fails the run.
pub(super) fn write_example_reports(
    model: Box<dyn ZooModel>,
    run: &RunDir,
    data: &Prepared,
    reporter: &mut Reporter<'_>,
) {
    let Ok(config) = run.read_json::<RunConfig>("config.json") else {
        return;
    };
    let model_name = config.model.clone();
    let predictor = Predictor::new(LoadedRun {
        dir: run.clone(),
        config,
        vocabs: data.vocabs.clone(),
        model,
    });
    let inputs: Vec<Result<(String, Prediction), AttnError>> = match &data.valid_raw {
        Examples::Labelled(v) => v
            .iter()
            .take(3)
            .map(|(t, _)| Ok((t.clone(), predictor.predict_text(t, None)?)))
            .collect(),
        Examples::Pairs(v) => v
            .iter()
            .take(3)
            .map(|(s, _)| Ok((s.clone(), predictor.predict_text(s, None)?)))
            .collect(),
        Examples::Tagged(v) => v
            .iter()
            .take(3)
            .map(|(tokens, _)| {
                let text = tokens.join(" ");
                Ok((text.clone(), predictor.predict_text(&text, None)?))
            })
            .collect(),
        Examples::Text(v) => v
            .iter()
            .take(3)
            .map(|text| {
                // the start of the text, as much as the model reads at once
                let mut tokens = data.vocabs.src_tokens(text);
                if let crate::model::TaskSpec::LanguageModel { context, .. } =
                    predictor.run().model.meta().task
                {
                    tokens.truncate(context);
                }
                let text = data.vocabs.src_text(&tokens);
                Ok((text.clone(), predictor.predict_text(&text, None)?))
            })
            .collect(),
        Examples::Images { pixels, .. } => pixels
            .iter()
            .take(3)
            .map(|p| Ok(("image".to_string(), predictor.predict_image(p)?)))
            .collect(),
    };
    for (k, item) in inputs.into_iter().enumerate() {
        let written = item.and_then(|(input, p)| {
            crate::viz::write_report(
                &p,
                &model_name,
                &input,
                &run.path
                    .join("attention")
                    .join(format!("example-{}", k + 1)),
            )
        });
        if let Err(e) = written {
            reporter.note(&format!(
                "could not draw the attention of validation example {}: {e}",
                k + 1
            ));
        }
    }
}
