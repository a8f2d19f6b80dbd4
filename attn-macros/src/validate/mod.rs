//! Checking a parsed declaration: every rule is one function, every error is spanned on the
//! offending token, and all errors of a declaration are reported in one compile.

mod keys;
mod rules;
mod size;

pub use size::{terms, Num, Sizes, MAX_PARAMETERS};

use std::collections::BTreeMap;

use proc_macro2::Span;

pub use crate::errors::Errors;
use crate::model::{
    Activation, Arch, Cell, Model, Norm, Pooling, Positional, RnnAttention, Scoring, Size, Task,
    TaskKind,
};
use crate::parse::{Declaration, Field, Value};

/// The declaration's fields by key (first occurrence), after unknown and duplicate keys were
/// reported.
pub type Fields<'a> = BTreeMap<&'static str, &'a Field>;

/// Validates a declaration. On success the model is ready for code generation; otherwise every
/// error found is returned.
pub fn validate(decl: &Declaration) -> Result<Model, Errors> {
    let mut errs = Errors::default();
    let (name, data) = rules::settings(decl, &mut errs);
    let fields = rules::known_unique_keys(&decl.fields, &mut errs);

    let arch = match fields.get("arch") {
        Some(f) => rules::arch(f, &mut errs),
        None => {
            errs.push(
                decl.ident.span(),
                format!(
                    "missing `arch`: choose the architecture, e.g. `arch: SelfAttention` (one of \
                     {})",
                    Arch::NAMES.join(", ")
                ),
            );
            None
        }
    };
    let task = match fields.get("task") {
        Some(f) => rules::task(f, &mut errs),
        None => {
            errs.push(
                decl.ident.span(),
                format!(
                    "missing `task`: e.g. `task: Classify {{ vocab: 1000, max_len: 32, classes: 2 }}` \
                     (one of {})",
                    TaskKind::NAMES.join(", ")
                ),
            );
            None
        }
    };
    if !fields.contains_key("d_model") {
        errs.push(
            decl.ident.span(),
            "missing `d_model`: the model width, e.g. `d_model: 64`",
        );
    }
    if let Some(arch) = arch {
        rules::keys_apply_to_arch(arch, &fields, &mut errs);
        rules::required_keys(arch, task.as_ref(), &fields, decl.ident.span(), &mut errs);
        if let Some(task) = &task {
            rules::task_fits_arch(arch, task, &fields, &mut errs);
        }
    }

    // Values: each read once, range-checked, with a default where the grammar has one.
    let count = |key: &str, errs: &mut Errors| fields.get(key).and_then(|f| rules::count(f, errs));
    let d_model = count("d_model", &mut errs);
    let heads = count("heads", &mut errs);
    let layers = count("layers", &mut errs);
    let encoder_layers = count("encoder_layers", &mut errs);
    let decoder_layers = count("decoder_layers", &mut errs);
    let ff = count("ff", &mut errs);
    let window = count("window", &mut errs);
    let patch = count("patch", &mut errs);
    let hidden = count("hidden", &mut errs);
    let kdim = count("kdim", &mut errs);
    let vdim = count("vdim", &mut errs);
    let dropout = fields
        .get("dropout")
        .and_then(|f| rules::probability(f, &mut errs));
    let flag = |key: &str, errs: &mut Errors| fields.get(key).and_then(|f| rules::boolean(f, errs));
    let causal = flag("causal", &mut errs);
    let bidirectional = flag("bidirectional", &mut errs);
    let tie_embeddings = flag("tie_embeddings", &mut errs);
    let choice = |key: &'static str, errs: &mut Errors| -> Option<&'static str> {
        let spec = keys::spec(key)?;
        fields.get(key).and_then(|f| rules::choice(f, spec, errs))
    };
    // a key's options are its enum's `NAMES`, so a valid name always converts
    // a built-in's name, or a type of the user's (`Custom` in the metadata)
    let name_or_type = |key: &'static str, trait_path: &str, errs: &mut Errors| {
        let spec = keys::spec(key)?;
        fields
            .get(key)
            .and_then(|f| rules::name_or_user_type(f, spec, trait_path, errs))
    };
    let activation = name_or_type(
        "activation",
        "attn_runtime::transformer::Activation",
        &mut errs,
    );
    let scoring = name_or_type("scoring", "attn_runtime::model::ScoreFn", &mut errs);
    let norm = choice("norm", &mut errs).and_then(Norm::from_name);
    let positional = choice("positional", &mut errs).and_then(Positional::from_name);
    let pooling = choice("pooling", &mut errs).and_then(Pooling::from_name);
    let cell = choice("cell", &mut errs).and_then(Cell::from_name);
    let rnn_attention_decl = name_or_type("attention", "attn_runtime::model::ScoreFn", &mut errs);
    let rnn_attention = match &rnn_attention_decl {
        Some(Ok(name)) => RnnAttention::from_name(name),
        Some(Err(_)) => Some(RnnAttention::Custom),
        None => None,
    };

    if let (Some(arch), Some(d_model)) = (arch, d_model.as_ref()) {
        // The numeric rules need the numbers: a size given as a `const` is checked by the
        // compiler instead, through the expansion's `const` assertions.
        let lit = |s: &Option<Size>| s.as_ref().and_then(Size::lit);
        if let (Some(heads), Some(d_model), Some(f)) =
            (lit(&heads), d_model.lit(), fields.get("heads"))
        {
            rules::heads_divide(heads, d_model, f, &mut errs);
        }
        if let (Some(heads), Some(kdim)) = (lit(&heads), lit(&kdim)) {
            rules::heads_divide_kdim(heads, kdim, fields["kdim"], &mut errs);
        }
        if let (Some(p), Some(Some(Task::ImageClassify { height, width, .. }))) =
            (lit(&patch), task.as_ref().map(Task::literal))
        {
            rules::patch_divides_image(p, height, width, fields["patch"], &mut errs);
        }
        if let (Some(k), Some(v), Some(f)) = (lit(&kdim), lit(&vdim), fields.get("vdim")) {
            rules::vdim_equals_kdim(k, v, f, &mut errs);
        }
        if let Some(p) = positional {
            rules::positional_fits_arch(arch, p, fields["positional"], &mut errs);
        }
        if let (Some(kind), Some(f)) = (rnn_attention, fields.get("attention")) {
            rules::rnn_attention_fits(
                task.as_ref(),
                kind,
                bidirectional.unwrap_or(false),
                f,
                &mut errs,
            );
        }
        if let Some(p) = pooling {
            rules::pooling_fits(arch, task.as_ref(), p, fields["pooling"], &mut errs);
        }
    }

    if !errs.is_empty() {
        return Err(errs);
    }
    // Every `expect` below holds: a missing value was reported as an error above.
    let arch = arch.expect("arch validated");
    let task = task.expect("task validated");
    // patch models (vision transformers too) and GPT-style decoders learn their positions; a
    // decoder's blocks are pre-norm and its attention causal (it predicts each next token from
    // the ones before)
    let decoder = arch == Arch::Decoder;
    let image = matches!(task, Task::ImageClassify { .. });
    let default_positional = if image || arch == Arch::Decoder {
        Positional::Learned
    } else {
        Positional::Sinusoidal
    };
    let model = Model {
        docs: decl.docs.clone(),
        vis: decl.vis.clone(),
        ident: decl.ident.clone(),
        name: name.unwrap_or_else(|| rules::kebab_case(&decl.ident.to_string())),
        data,
        arch,
        task,
        d_model: d_model.expect("d_model validated"),
        heads: heads.unwrap_or(Size::Lit(1)),
        layers: layers.or(encoder_layers).unwrap_or(Size::Lit(1)),
        decoder_layers: decoder_layers.unwrap_or(Size::Lit(0)),
        ff,
        activation: match &activation {
            Some(Ok(name)) => Activation::from_name(name).unwrap_or(Activation::Relu),
            Some(Err(_)) => Activation::Custom,
            None => Activation::Relu,
        },
        activation_type: activation.and_then(Result::err),
        norm: norm.unwrap_or(if decoder { Norm::Pre } else { Norm::Post }),
        positional: positional.unwrap_or(default_positional),
        scoring: match &scoring {
            Some(Ok(name)) => Scoring::from_name(name).unwrap_or(Scoring::Scaled),
            Some(Err(_)) => Scoring::Custom,
            None => Scoring::Scaled,
        },
        scoring_type: scoring.and_then(Result::err),
        pooling: pooling.unwrap_or(Pooling::Mean),
        dropout: dropout.unwrap_or(0.0),
        window,
        causal: decoder || causal.unwrap_or(false),
        patch,
        cell,
        hidden,
        bidirectional: bidirectional.unwrap_or(false),
        rnn_attention,
        rnn_attention_type: rnn_attention_decl.and_then(Result::err),
        kdim: kdim.or(vdim.clone()),
        vdim,
        tie_embeddings: tie_embeddings.unwrap_or(false),
    };
    size::model_size_fits(&model, &fields, &mut errs);
    if !errs.is_empty() {
        return Err(errs);
    }
    Ok(model)
}

/// The span to blame for a field: its value.
pub(crate) fn value_span(f: &Field) -> Span {
    match &f.value {
        Value::Block { name, .. } => name.span(),
        v => v.span(),
    }
}

/// The span of a field's key.
pub(crate) fn key_span(f: &Field) -> Span {
    f.key.span()
}

#[cfg(test)]
mod tests;
