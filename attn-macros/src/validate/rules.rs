//! The validation rules, one function each, with the reason for the rule beside it.

use std::collections::BTreeMap;

use proc_macro2::Span;

use super::keys::{self, applies, arch_list, KeySpec, Kind, KEYS};
use super::{key_span, value_span, Errors, Fields};
use crate::model::{Arch, DataSet, Pooling, Positional, RnnAttention, Size, Task, TaskKind};
use crate::parse::{Declaration, Field, Value};
use crate::suggest::{closest, did_you_mean};

/// `#[name = ".."]` must be a registry-friendly kebab-case name (it is typed on the command line);
/// `#[data = ".."]` must name a built-in dataset (the model trains on it with no other argument).
pub fn settings(decl: &Declaration, errs: &mut Errors) -> (Option<String>, Option<DataSet>) {
    let (mut name, mut data) = (None, None);
    for s in &decl.settings {
        let value = s.value.value();
        match s.key.to_string().as_str() {
            "name" => {
                let ok = !value.is_empty()
                    && value.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                    && !value.starts_with('-')
                    && !value.ends_with('-');
                if ok {
                    name = Some(value);
                } else {
                    errs.push(
                        s.value.span(),
                        format!(
                            "invalid model name \"{value}\": use lowercase letters, digits and \
                             inner dashes, e.g. \"{}\"",
                            kebab_case(&decl.ident.to_string())
                        ),
                    );
                }
            }
            "data" => {
                if let Some(set) = DataSet::from_name(&value) {
                    data = Some(set);
                } else {
                    errs.push(
                        s.value.span(),
                        format!(
                            "unknown dataset \"{value}\"{}; the built-in datasets are: {}",
                            did_you_mean(&value, DataSet::NAMES.iter().copied()),
                            DataSet::NAMES.join(", ")
                        ),
                    );
                }
            }
            other => errs.push(
                s.key.span(),
                format!(
                    "unknown setting `{other}`{}; the declaration's attribute takes `name` and `data`",
                    did_you_mean(other, ["name", "data"])
                ),
            ),
        }
    }
    (name, data)
}

/// Unknown keys are typos more often than not: say which known key was meant. A key given twice
/// is ambiguous: report the second one.
pub fn known_unique_keys<'a>(fields: &'a [Field], errs: &mut Errors) -> Fields<'a> {
    let mut seen: BTreeMap<&'static str, &'a Field> = BTreeMap::new();
    for f in fields {
        let key = f.key.to_string();
        match keys::spec(&key) {
            None => errs.push(
                key_span(f),
                format!(
                    "unknown key `{key}`{}",
                    did_you_mean(&key, KEYS.iter().map(|k| k.name))
                ),
            ),
            Some(spec) => {
                if seen.contains_key(spec.name) {
                    errs.push(
                        key_span(f),
                        format!("duplicate key `{key}`: give each key once"),
                    );
                } else {
                    seen.insert(spec.name, f);
                }
            }
        }
    }
    seen
}

/// `arch:` names one of the architectures.
pub fn arch(f: &Field, errs: &mut Errors) -> Option<Arch> {
    let names = Arch::NAMES.iter().copied();
    match &f.value {
        Value::Name(id) => {
            let s = id.to_string();
            let found = Arch::from_name(&s);
            if found.is_none() {
                errs.push(
                    id.span(),
                    format!(
                        "unknown architecture `{s}`{}; valid: {}",
                        did_you_mean(&s, names.clone()),
                        names.collect::<Vec<_>>().join(", ")
                    ),
                );
            }
            found
        }
        v => {
            errs.push(
                value_span(f),
                format!(
                    "`arch` takes a name (one of {}), not {}",
                    names.collect::<Vec<_>>().join(", "),
                    v.kind()
                ),
            );
            None
        }
    }
}

/// `task:` is a block naming the task and giving each of its sizes once, all positive.
pub fn task(f: &Field, errs: &mut Errors) -> Option<Task<Size>> {
    let names = TaskKind::NAMES;
    let (name, block) = match &f.value {
        Value::Block { name, fields } => (name, fields),
        Value::Name(name) => {
            let example = TaskKind::from_name(&name.to_string())
                .map(|k| k.fields().join(": .., "))
                .unwrap_or_default();
            errs.push(
                name.span(),
                format!("`task: {name}` needs its sizes: `{name} {{ {example}: .. }}`"),
            );
            return None;
        }
        v => {
            errs.push(
                value_span(f),
                format!(
                    "`task` takes a block such as `Classify {{ .. }}`, not {}",
                    v.kind()
                ),
            );
            return None;
        }
    };
    let s = name.to_string();
    let Some(kind) = TaskKind::from_name(&s) else {
        errs.push(
            name.span(),
            format!(
                "unknown task `{s}`{}; valid: {}",
                did_you_mean(&s, names.iter().copied()),
                names.join(", ")
            ),
        );
        return None;
    };
    let wanted = kind.fields();
    let mut values: BTreeMap<&str, Size> = BTreeMap::new();
    for field in block {
        let key = field.key.to_string();
        match wanted.iter().find(|w| **w == key) {
            None => errs.push(
                field.key.span(),
                format!(
                    "`{s}` has no field `{key}`{}; its fields are: {}",
                    did_you_mean(&key, wanted.iter().copied()),
                    wanted.join(", ")
                ),
            ),
            Some(w) if values.contains_key(w) => errs.push(
                field.key.span(),
                format!("duplicate field `{key}` in `{s}`"),
            ),
            Some(w) => {
                if let Some(v) = count(field, errs) {
                    values.insert(w, v);
                }
            }
        }
    }
    let missing: Vec<&str> = wanted
        .iter()
        .copied()
        .filter(|w| !block.iter().any(|f| f.key == w))
        .collect();
    if !missing.is_empty() {
        errs.push(
            name.span(),
            format!(
                "`{s}` is missing {}",
                missing
                    .iter()
                    .map(|m| format!("`{m}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
        return None;
    }
    if values.len() != wanted.len() {
        return None; // a size was invalid and is already reported
    }
    let v = |k: &str| values[k].clone();
    let classes = values.get("classes").or(values.get("tags"));
    if let Some(classes) = classes.and_then(Size::lit) {
        if classes < 2 {
            let field = block
                .iter()
                .find(|f| f.key == "classes" || f.key == "tags")
                .map(value_span);
            errs.push(
                field.unwrap_or(name.span()),
                "a classifier needs at least 2 classes",
            );
            return None;
        }
    }
    Some(match kind {
        TaskKind::Classify => Task::Classify {
            vocab: v("vocab"),
            max_len: v("max_len"),
            classes: v("classes"),
        },
        TaskKind::Tag => Task::Tag {
            vocab: v("vocab"),
            max_len: v("max_len"),
            tags: v("tags"),
        },
        TaskKind::Seq2Seq => Task::Seq2Seq {
            src_vocab: v("src_vocab"),
            tgt_vocab: v("tgt_vocab"),
            src_len: v("src_len"),
            tgt_len: v("tgt_len"),
        },
        TaskKind::ImageClassify => Task::ImageClassify {
            channels: v("channels"),
            height: v("height"),
            width: v("width"),
            classes: v("classes"),
        },
        TaskKind::LanguageModel => Task::LanguageModel {
            vocab: v("vocab"),
            context: v("context"),
        },
    })
}

/// A key that the chosen architecture has no use for is a mistake (it would be silently
/// ignored): name the architectures it does apply to.
pub fn keys_apply_to_arch(arch: Arch, fields: &Fields, errs: &mut Errors) {
    for (name, f) in fields {
        let Some(spec) = keys::spec(name) else {
            continue;
        };
        if !applies(spec, arch) {
            errs.push(
                key_span(f),
                format!(
                    "`{name}` does not apply to a `{}` model; it applies to {}",
                    arch.name(),
                    arch_list(spec.archs)
                ),
            );
        }
    }
}

/// Keys an architecture cannot do without, reported on the model's name.
pub fn required_keys(
    arch: Arch,
    task: Option<&Task<Size>>,
    fields: &Fields,
    span: Span,
    errs: &mut Errors,
) {
    for spec in KEYS.iter().filter(|k| k.required_by.contains(&arch)) {
        if !fields.contains_key(spec.name) {
            errs.push(
                span,
                format!(
                    "missing `{}`: {} models need it, e.g. `{}`",
                    spec.name,
                    arch.name(),
                    example(spec)
                ),
            );
        }
    }
    if arch == Arch::Transformer {
        let seq2seq = matches!(task, Some(Task::Seq2Seq { .. }));
        let image = matches!(task, Some(Task::ImageClassify { .. }));
        if image && !fields.contains_key("patch") {
            errs.push(
                span,
                "missing `patch`: a vision transformer cuts the image into patches, e.g. `patch: 4`",
            );
        }
        if let (false, Some(f)) = (image, fields.get("patch")) {
            errs.push(
                key_span(f),
                "`patch` does not apply to this task; it applies to image transformers (`ImageClassify`)",
            );
        }
        let needed: &[&str] = if seq2seq {
            &["encoder_layers", "decoder_layers"]
        } else {
            &["layers"]
        };
        for key in needed {
            if !fields.contains_key(key) {
                errs.push(
                    span,
                    format!(
                        "missing `{key}`: a {} transformer needs it, e.g. `{key}: 2`",
                        if seq2seq {
                            "sequence-to-sequence"
                        } else {
                            "encoder-only"
                        }
                    ),
                );
            }
        }
        let not_for: &[&str] = if seq2seq {
            &["layers"]
        } else {
            &[
                "encoder_layers",
                "decoder_layers",
                "kdim",
                "vdim",
                "tie_embeddings",
            ]
        };
        for key in not_for {
            if let Some(f) = fields.get(key) {
                let hint = if seq2seq {
                    "use `encoder_layers` and `decoder_layers`"
                } else {
                    "it applies to `Seq2Seq` transformers"
                };
                errs.push(
                    key_span(f),
                    format!("`{key}` does not apply to this task; {hint}"),
                );
            }
        }
    }
}

fn example(spec: &KeySpec) -> String {
    match spec.kind {
        Kind::Name(c) => format!("{}: {}", spec.name, c.options[0]),
        Kind::Count => format!(
            "{}: {}",
            spec.name,
            if spec.name == "heads" { 4 } else { 2 }
        ),
        Kind::Bool => format!("{}: true", spec.name),
        Kind::Probability => format!("{}: 0.1", spec.name),
        Kind::Arch | Kind::Task => spec.name.to_string(),
    }
}

/// Each architecture serves some tasks (a patch model reads images, not tokens).
pub fn task_fits_arch(arch: Arch, task: &Task<Size>, fields: &Fields, errs: &mut Errors) {
    let kind = task.kind();
    if !arch.tasks().contains(&kind) {
        let valid: Vec<&str> = arch.tasks().iter().map(|t| t.name()).collect();
        errs.push(
            value_span(fields["task"]),
            format!(
                "a `{}` model cannot do `{}`; it does: {}",
                arch.name(),
                kind.name(),
                valid.join(", ")
            ),
        );
    }
}

/// Dims, counts and sizes are positive integers that fit a `usize`, or the path of a `const`
/// item (`d_model: WIDTH`), whose value the compiler checks instead (see `codegen::backstops`).
pub fn count(f: &Field, errs: &mut Errors) -> Option<Size> {
    let key = f.key.to_string();
    match &f.value {
        Value::Int(lit) => match lit.base10_parse::<usize>() {
            Ok(0) => {
                let what = if key.contains("layers") {
                    "at least 1 layer is needed"
                } else {
                    "it must be at least 1"
                };
                errs.push(lit.span(), format!("`{key}` is 0: {what}"));
                None
            }
            Ok(n) => Some(Size::Lit(n)),
            Err(_) => {
                errs.push(
                    lit.span(),
                    format!("`{key}` must be a positive integer that fits in usize"),
                );
                None
            }
        },
        v @ (Value::Name(_) | Value::Path(_)) => v.path().map(Size::Const),
        v => {
            errs.push(
                value_span(f),
                format!(
                    "`{key}` takes a positive integer or a `const` of type usize, not {}",
                    v.kind()
                ),
            );
            None
        }
    }
}

/// Dropout is a probability in [0, 1): at 1 nothing gets through (and the rescaling divides by
/// zero).
pub fn probability(f: &Field, errs: &mut Errors) -> Option<f64> {
    let key = f.key.to_string();
    let (value, span) = match &f.value {
        Value::Float(lit) => (lit.base10_parse::<f64>().ok(), lit.span()),
        Value::Int(lit) => (lit.base10_parse::<f64>().ok(), lit.span()),
        v => {
            errs.push(
                value_span(f),
                format!("`{key}` takes a number in [0, 1), not {}", v.kind()),
            );
            return None;
        }
    };
    match value {
        Some(p) if (0.0..1.0).contains(&p) => Some(p),
        _ => {
            errs.push(
                span,
                format!("`{key}` must be in [0, 1), e.g. `{key}: 0.1`"),
            );
            None
        }
    }
}

pub fn boolean(f: &Field, errs: &mut Errors) -> Option<bool> {
    match &f.value {
        Value::Bool(b) => Some(b.value),
        v => {
            errs.push(
                value_span(f),
                format!("`{}` takes `true` or `false`, not {}", f.key, v.kind()),
            );
            None
        }
    }
}

/// Names from a closed set, listing the valid ones on a miss.
pub fn choice(f: &Field, spec: &KeySpec, errs: &mut Errors) -> Option<&'static str> {
    let Kind::Name(c) = spec.kind else {
        return None;
    };
    match &f.value {
        Value::Name(id) => {
            let s = id.to_string();
            let found = c.options.iter().find(|o| **o == s).copied();
            if found.is_none() {
                errs.push(
                    id.span(),
                    format!(
                        "unknown {} `{s}`{}; valid: {}",
                        c.key,
                        did_you_mean(&s, c.options.iter().copied()),
                        c.options.join(", ")
                    ),
                );
            }
            found
        }
        v => {
            errs.push(
                value_span(f),
                format!(
                    "`{}` takes a name (one of {}), not {}",
                    c.key,
                    c.options.join(", "),
                    v.kind()
                ),
            );
            None
        }
    }
}

/// `activation:` and `scoring:` take a built-in name, or else a type of the user's implementing
/// the runtime's trait for them (`activation: SquaredRelu`, `scoring: scores::DotOverWidth`).
/// A single name one typo away from a built-in (`Gelo`) is far more likely a typo than a type, so
/// it stays an error, saying that a type of one's own must be named unlike the built-ins.
/// Returns the built-in's name, or the user's type.
pub fn name_or_user_type(
    f: &Field,
    spec: &KeySpec,
    trait_path: &str,
    errs: &mut Errors,
) -> Option<Result<&'static str, syn::Path>> {
    let Kind::Name(c) = spec.kind else {
        return None;
    };
    let built_in = c.options;
    match &f.value {
        Value::Name(id) => {
            let s = id.to_string();
            if let Some(name) = built_in.iter().find(|o| **o == s) {
                return Some(Ok(name));
            }
            if closest(&s, built_in.iter().copied()).is_some() {
                errs.push(
                    id.span(),
                    format!(
                        "unknown {} `{s}`{}; valid: {} (a type of your own must not be named \
                         like a built-in)",
                        c.key,
                        did_you_mean(&s, built_in.iter().copied()),
                        built_in.join(", ")
                    ),
                );
                return None;
            }
            Some(Err(id.clone().into()))
        }
        Value::Path(p) => Some(Err(p.clone())),
        v => {
            errs.push(
                value_span(f),
                format!(
                    "`{}` takes a name (one of {}) or a type implementing `{trait_path}`, not {}",
                    c.key,
                    built_in.join(", "),
                    v.kind()
                ),
            );
            None
        }
    }
}

/// Multi-head attention splits the model width into equal heads.
pub fn heads_divide(heads: usize, d_model: usize, heads_field: &Field, errs: &mut Errors) {
    if !d_model.is_multiple_of(heads) {
        let near: Vec<String> = (1..=d_model.min(64))
            .filter(|h| d_model.is_multiple_of(*h))
            .map(|h| h.to_string())
            .collect();
        errs.push(
            value_span(heads_field),
            format!(
                "{heads} heads do not divide d_model = {d_model}: each head gets d_model / heads \
                 dims; use one of {} or change d_model",
                near.join(", ")
            ),
        );
    }
}

/// A transformer encoder of width `kdim` splits it into the same heads as the decoder.
pub fn heads_divide_kdim(heads: usize, kdim: usize, f: &Field, errs: &mut Errors) {
    if !kdim.is_multiple_of(heads) {
        errs.push(
            value_span(f),
            format!("{heads} heads do not divide kdim = {kdim}, the encoder width"),
        );
    }
}

/// The encoder output serves as both keys and values of the cross-attention, so their widths
/// are the encoder width: `vdim` can only repeat `kdim`.
pub fn vdim_equals_kdim(kdim: usize, vdim: usize, f: &Field, errs: &mut Errors) {
    if kdim != vdim {
        errs.push(
            value_span(f),
            format!("vdim = {vdim} differs from kdim = {kdim}: the encoder output is both keys and values; give one width"),
        );
    }
}

/// Patches tile the image exactly: a remainder would be silently cropped.
pub fn patch_divides_image(
    patch: usize,
    height: usize,
    width: usize,
    f: &Field,
    errs: &mut Errors,
) {
    if !height.is_multiple_of(patch) || !width.is_multiple_of(patch) {
        errs.push(
            value_span(f),
            format!("patch {patch} does not divide the {height}x{width} image: patches must tile it exactly"),
        );
    }
}

/// Rotary positions rotate queries and keys inside attention; only transformer blocks do that.
pub fn positional_fits_arch(arch: Arch, positional: Positional, f: &Field, errs: &mut Errors) {
    if positional == Positional::Rotary && !matches!(arch, Arch::Transformer | Arch::Decoder) {
        errs.push(value_span(f), format!("`Rotary` positions apply inside transformer attention; a `{}` model takes Sinusoidal, Learned or None", arch.name()));
    }
    if positional == Positional::None && arch == Arch::PatchAttention {
        errs.push(
            value_span(f),
            "a patch model without positions cannot tell patches apart; use Learned or Sinusoidal",
        );
    }
}

/// Pooling turns a sequence into one vector, which only classification needs; a `Cls` token is a
/// transformer feature.
pub fn pooling_fits(
    arch: Arch,
    task: Option<&Task<Size>>,
    pooling: Pooling,
    f: &Field,
    errs: &mut Errors,
) {
    if let Some(task) = task {
        if !matches!(task, Task::Classify { .. } | Task::ImageClassify { .. }) {
            errs.push(
                key_span(f),
                "`pooling` applies to classification tasks only",
            );
            return;
        }
    }
    if pooling == Pooling::Cls && arch != Arch::Transformer {
        errs.push(
            value_span(f),
            format!(
                "`Cls` pooling needs a transformer; a `{}` model pools with Mean",
                arch.name()
            ),
        );
    }
}

/// An RNN classifier pools its outputs with additive attention (there is no decoder state to
/// query with); Luong's dot scoring compares decoder and encoder states, so their widths must
/// match, which a bidirectional encoder (twice as wide) breaks.
pub fn rnn_attention_fits(
    task: Option<&Task<Size>>,
    kind: RnnAttention,
    bidirectional: bool,
    f: &Field,
    errs: &mut Errors,
) {
    match task {
        Some(Task::Classify { .. }) if kind == RnnAttention::Custom => errs.push(
            value_span(f),
            "an RNN classifier pools with `Additive` attention; a score function of your own \
             attends in a sequence-to-sequence decoder (`task: Seq2Seq { .. }`)",
        ),
        Some(Task::Classify { .. }) if kind != RnnAttention::Additive => errs.push(
            value_span(f),
            format!("an RNN classifier pools with `Additive` attention, not `{kind}`"),
        ),
        Some(Task::Seq2Seq { .. }) if kind == RnnAttention::Dot && bidirectional => errs.push(
            value_span(f),
            "`Dot` scoring needs decoder and encoder states of one width; a bidirectional encoder is twice as wide: use `General` or `Additive`",
        ),
        _ => {}
    }
}

/// `DatesTransformer` → `dates-transformer`.
pub fn kebab_case(ident: &str) -> String {
    let mut out = String::new();
    for (i, c) in ident.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('-');
            }
            out.push(c.to_ascii_lowercase());
        } else if c == '_' {
            out.push('-');
        } else {
            out.push(c);
        }
    }
    out
}
