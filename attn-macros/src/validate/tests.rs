//! Unit tests of validation: each rule on a declaration parsed from a string, no compiler run.

use super::*;
use crate::model::{DataSet, Task};

fn check(src: &str) -> Result<Model, Vec<String>> {
    let decl: Declaration = syn::parse_str(src).expect("the test declaration parses");
    validate(&decl).map_err(|e| e.messages())
}

fn errors(src: &str) -> Vec<String> {
    match check(src) {
        Ok(_) => panic!("expected errors for {src}"),
        Err(e) => e,
    }
}

const GOOD: &str = r#"
    #[name = "enc", data = "sentiment"]
    pub struct Enc {
        arch: SelfAttention,
        task: Classify { vocab: 100, max_len: 16, classes: 2 },
        d_model: 32, heads: 4, layers: 2, dropout: 0.1,
    }"#;

#[test]
fn a_good_declaration_validates_with_defaults() {
    let m = check(GOOD).unwrap();
    assert_eq!(m.name, "enc");
    assert_eq!(m.data, Some(DataSet::Sentiment));
    assert_eq!(m.arch, Arch::SelfAttention);
    assert_eq!(
        m.task.literal(),
        Some(Task::Classify {
            vocab: 100,
            max_len: 16,
            classes: 2
        })
    );
    assert_eq!(
        (m.d_model.lit(), m.heads.lit(), m.layers.lit()),
        (Some(32), Some(4), Some(2))
    );
    assert_eq!(m.dropout, 0.1);
    assert_eq!(m.positional, Positional::Sinusoidal);
    assert_eq!(m.pooling, Pooling::Mean);
    assert!(!m.causal && m.window.is_none());
}

#[test]
fn the_name_defaults_to_kebab_case() {
    let m = check(
        "struct DatesSingleHead { arch: SingleHead, task: Tag { vocab: 10, max_len: 4, tags: 3 }, d_model: 8 }",
    )
    .unwrap();
    assert_eq!(m.name, "dates-single-head");
    assert_eq!(m.heads.lit(), Some(1));
    assert_eq!(m.scoring, Scoring::Scaled);
}

#[test]
fn heads_must_divide_d_model() {
    let e = errors(&GOOD.replace("heads: 4", "heads: 5"));
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0].contains("5 heads do not divide d_model = 32"), "{e:?}");
}

#[test]
fn patch_must_divide_the_image() {
    let e = errors(
        "struct P { arch: PatchAttention, task: ImageClassify { channels: 1, height: 8, width: 8, classes: 10 }, \
         d_model: 16, heads: 2, layers: 1, patch: 3 }",
    );
    assert!(
        e[0].contains("patch 3 does not divide the 8x8 image"),
        "{e:?}"
    );
}

#[test]
fn dropout_must_be_below_one() {
    let e = errors(&GOOD.replace("dropout: 0.1", "dropout: 1.0"));
    assert!(e[0].contains("must be in [0, 1)"), "{e:?}");
    let e = errors(&GOOD.replace("dropout: 0.1", "dropout: Heavy"));
    assert!(
        e[0].contains("takes a number in [0, 1), not a name"),
        "{e:?}"
    );
}

#[test]
fn layers_must_be_at_least_one() {
    let e = errors(&GOOD.replace("layers: 2", "layers: 0"));
    assert!(
        e[0].contains("`layers` is 0: at least 1 layer is needed"),
        "{e:?}"
    );
}

#[test]
fn unknown_keys_get_a_suggestion() {
    let e = errors(&GOOD.replace("heads: 4", "head: 4"));
    assert!(
        e.iter()
            .any(|m| m.contains("unknown key `head` (did you mean `heads`?)")),
        "{e:?}"
    );
    // and the missing `heads` is reported too, in the same run
    assert!(e.iter().any(|m| m.contains("missing `heads`")), "{e:?}");
}

#[test]
fn duplicate_keys_are_reported() {
    let e = errors(&GOOD.replace("layers: 2", "layers: 2, layers: 3"));
    assert_eq!(
        e,
        vec!["duplicate key `layers`: give each key once".to_string()]
    );
}

#[test]
fn unknown_names_list_the_valid_ones() {
    let e = errors(&GOOD.replace("arch: SelfAttention", "arch: SelfAtention"));
    assert!(
        e[0].contains("unknown architecture `SelfAtention` (did you mean `SelfAttention`?)"),
        "{e:?}"
    );
    let e = errors(&GOOD.replace("dropout: 0.1", "positional: Sinus"));
    assert!(
        e[0].contains("valid: Sinusoidal, Learned, Rotary, None"),
        "{e:?}"
    );
    let e = errors(&GOOD.replace("Classify {", "Clasify {"));
    assert!(
        e[0].contains("unknown task `Clasify` (did you mean `Classify`?)"),
        "{e:?}"
    );
}

#[test]
fn options_that_do_not_apply_are_errors() {
    let e = errors(&GOOD.replace("dropout: 0.1", "patch: 2"));
    assert!(
        e[0].contains(
            "`patch` does not apply to a `SelfAttention` model; it applies to `PatchAttention`"
        ),
        "{e:?}"
    );
    let e = errors(&GOOD.replace("dropout: 0.1", "cell: Gru"));
    assert!(e[0].contains("it applies to `Recurrent`"), "{e:?}");
}

#[test]
fn missing_required_keys_are_named() {
    let e = errors("struct X { task: Classify { vocab: 1, max_len: 1, classes: 2 } }");
    assert!(e.iter().any(|m| m.starts_with("missing `arch`")), "{e:?}");
    assert!(
        e.iter().any(|m| m.starts_with("missing `d_model`")),
        "{e:?}"
    );
    let e = errors(&GOOD.replace("layers: 2,", ""));
    assert!(
        e[0].contains("missing `layers`: SelfAttention models need it"),
        "{e:?}"
    );
}

#[test]
fn all_errors_of_a_declaration_come_together() {
    let e = errors(
        "struct X { arch: SelfAttention, task: Classify { vocab: 10, max_len: 4, classes: 1 }, \
         d_model: 10, heads: 3, layers: 0, dropout: 2.0, colour: 3 }",
    );
    assert_eq!(e.len(), 5, "{e:?}");
}

#[test]
fn tasks_must_fit_the_architecture() {
    let e = errors(&GOOD.replace(
        "Classify { vocab: 100, max_len: 16, classes: 2 }",
        "Seq2Seq { src_vocab: 5, tgt_vocab: 5, src_len: 4, tgt_len: 4 }",
    ));
    assert!(
        e[0].contains("a `SelfAttention` model cannot do `Seq2Seq`; it does: Classify, Tag"),
        "{e:?}"
    );
}

#[test]
fn task_blocks_check_their_fields() {
    let e = errors(&GOOD.replace("classes: 2", "clases: 2"));
    assert!(
        e.iter()
            .any(|m| m.contains("`Classify` has no field `clases` (did you mean `classes`?)")),
        "{e:?}"
    );
    assert!(
        e.iter()
            .any(|m| m.contains("`Classify` is missing `classes`")),
        "{e:?}"
    );
}

#[test]
fn transformer_layers_depend_on_the_task() {
    let base = "struct T { arch: Transformer, task: Seq2Seq { src_vocab: 5, tgt_vocab: 5, src_len: 4, tgt_len: 4 }, \
                d_model: 8, heads: 2, ff: 16, LAYERS }";
    assert!(check(&base.replace("LAYERS", "encoder_layers: 1, decoder_layers: 1")).is_ok());
    let e = errors(&base.replace("LAYERS", "layers: 2"));
    assert!(
        e.iter().any(|m| m.contains("missing `encoder_layers`")),
        "{e:?}"
    );
    assert!(
        e.iter()
            .any(|m| m.contains("`layers` does not apply to this task")),
        "{e:?}"
    );
}

#[test]
fn settings_are_checked() {
    let e = errors(&GOOD.replace("\"sentiment\"", "\"sentimnet\""));
    assert!(
        e[0].contains("unknown dataset \"sentimnet\" (did you mean `sentiment`?)"),
        "{e:?}"
    );
    let e = errors(&GOOD.replace("name = \"enc\"", "name = \"Enc Model\""));
    assert!(e[0].contains("invalid model name"), "{e:?}");
    let e = errors(&GOOD.replace("name = \"enc\"", "nmae = \"enc\""));
    assert!(
        e[0].contains("unknown setting `nmae` (did you mean `name`?)"),
        "{e:?}"
    );
}

#[test]
fn rotary_and_cls_need_a_transformer() {
    let e = errors(&GOOD.replace("dropout: 0.1", "positional: Rotary, pooling: Cls"));
    assert_eq!(e.len(), 2, "{e:?}");
}

#[test]
fn pooling_is_for_classification_only() {
    let e = errors(
        "struct T { arch: SingleHead, task: Tag { vocab: 5, max_len: 4, tags: 3 }, d_model: 8, pooling: Mean }",
    );
    assert!(
        e[0].contains("`pooling` applies to classification tasks only"),
        "{e:?}"
    );
}

#[test]
fn a_model_too_large_to_allocate_is_refused_on_its_largest_size() {
    let e = errors(&GOOD.replace("d_model: 32", "d_model: 1_000_000"));
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].contains("about 8.0e12 trainable parameters")
            && e[0].contains("above the limit of 1e9")
            && e[0].contains("make `d_model` smaller"),
        "{e:?}"
    );
    let e = errors(&GOOD.replace("vocab: 100", "vocab: 100_000_000"));
    assert!(e[0].contains("make `vocab` smaller"), "{e:?}");
    // sizes near usize::MAX saturate instead of overflowing
    let e = errors(&GOOD.replace("d_model: 32", "d_model: 18446744073709551612"));
    assert!(e[0].contains("trainable parameters"), "{e:?}");
    // a large but sane model passes
    assert!(check(&GOOD.replace("d_model: 32", "d_model: 4096")).is_ok());
}

#[test]
fn sizes_may_be_consts_whose_rules_the_compiler_checks() {
    let m = check(
        "struct C { arch: SelfAttention, task: Classify { vocab: VOCAB, max_len: 16, classes: 2 }, \
         d_model: sizes::WIDTH, heads: 5, layers: LAYERS }",
    )
    .unwrap();
    // heads 5 and the unseen width: no error here, a `const` assertion in the expansion
    assert_eq!(m.d_model.to_string(), "sizes::WIDTH");
    assert_eq!(m.layers.to_string(), "LAYERS");
    assert_eq!(m.heads.lit(), Some(5));
    let expansion = crate::codegen::expand(&m).to_string();
    assert!(
        expansion.contains("heads = 5 must divide d_model = sizes::WIDTH"),
        "{expansion}"
    );
    assert!(
        expansion.contains("`vocab` = VOCAB must be at least 1"),
        "{expansion}"
    );
    assert!(expansion.contains("trainable parameters"), "{expansion}");
    // literal sizes keep their spanned errors beside a const
    let e = errors(
        "struct C { arch: SelfAttention, task: Classify { vocab: VOCAB, max_len: 0, classes: 1 }, \
                    d_model: WIDTH, heads: 2, layers: 1 }",
    );
    assert!(e.iter().any(|m| m.contains("`max_len` is 0")), "{e:?}");
    // a block is no size
    let e = errors(&GOOD.replace("d_model: 32", "d_model: Wide { x: 1 }"));
    assert!(
        e[0].contains("takes a positive integer or a `const`"),
        "{e:?}"
    );
}

#[test]
fn an_activation_that_is_no_built_in_is_a_type_of_the_users() {
    let base = "struct T { arch: Transformer, task: Tag { vocab: 5, max_len: 4, tags: 3 }, \
                d_model: 8, heads: 2, ff: 16, layers: 1, activation: ACT }";
    let m = check(&base.replace("ACT", "Gelu")).unwrap();
    assert_eq!(
        (m.activation, m.activation_type.is_none()),
        (Activation::Gelu, true)
    );
    for ty in ["SquaredRelu", "acts::Swish", "Custom"] {
        let m = check(&base.replace("ACT", ty)).unwrap();
        assert_eq!(m.activation, Activation::Custom);
        let path = m.activation_type.expect("a user type");
        assert_eq!(quote::quote!(#path).to_string().replace(' ', ""), ty);
    }
    // a near miss of a built-in stays a typo
    let e = errors(&base.replace("ACT", "Gelo"));
    assert!(
        e[0].contains("unknown activation `Gelo` (did you mean `Gelu`?)")
            && e[0].contains("a type of your own must not be named like a built-in"),
        "{e:?}"
    );
    // and the user's type expands into the feed-forward network, its name into the metadata
    let m = check(&base.replace("ACT", "SquaredRelu")).unwrap();
    let expansion = crate::codegen::expand(&m).to_string();
    assert!(
        expansion.contains("FeedForward < 8 , 16 , SquaredRelu"),
        "{expansion}"
    );
    assert!(expansion.contains("ACTIVATION_NAME"), "{expansion}");
}

#[test]
fn a_scoring_that_is_no_built_in_is_a_type_of_the_users() {
    let base = "struct S { arch: SingleHead, task: Tag { vocab: 5, max_len: 4, tags: 3 }, \
                d_model: 8, scoring: SCORE }";
    let m = check(&base.replace("SCORE", "Dot")).unwrap();
    assert_eq!((m.scoring, m.scoring_type.is_none()), (Scoring::Dot, true));
    let m = check(&base.replace("SCORE", "scores::Cosine")).unwrap();
    assert_eq!(m.scoring, Scoring::Custom);
    let expansion = crate::codegen::expand(&m).to_string();
    assert!(
        expansion.contains("ScoredSingleHeadEncoder < 8 , scores :: Cosine"),
        "{expansion}"
    );
    assert!(expansion.contains("SCORING_NAME"), "{expansion}");
    let e = errors(&base.replace("SCORE", "Scaeld"));
    assert!(
        e[0].contains("unknown scoring `Scaeld` (did you mean `Scaled`?)")
            && e[0].contains("must not be named like a built-in"),
        "{e:?}"
    );
    // scoring applies to single-head models only, user type or not
    let e = errors(&GOOD.replace("dropout: 0.1", "scoring: Cosine"));
    assert!(e[0].contains("`scoring` does not apply"), "{e:?}");
}

#[test]
fn every_key_is_in_the_documented_grammar_table() {
    let docs = include_str!("../../../attn-runtime/src/declaration_docs.rs");
    let key_cells: Vec<&str> = docs
        .lines()
        .map(str::trim_start)
        .filter(|l| l.starts_with("/// | `"))
        .filter_map(|row| row.split('|').nth(1))
        .collect();
    for key in super::keys::KEYS {
        let cell = format!("`{}`", key.name);
        assert!(
            key_cells.iter().any(|c| c.contains(&cell)),
            "{cell} is missing from the grammar table in attn-runtime/src/declaration_docs.rs"
        );
    }
}

#[test]
fn a_recurrent_attention_that_is_no_built_in_is_a_score_function_of_the_users() {
    let base = "struct S { arch: Recurrent, cell: Lstm, hidden: 12, attention: ATTN, \
                task: TASK, d_model: 8 }";
    let seq2seq = base.replace(
        "TASK",
        "Seq2Seq { src_vocab: 10, tgt_vocab: 9, src_len: 6, tgt_len: 4 }",
    );
    let m = check(&seq2seq.replace("ATTN", "General")).unwrap();
    assert_eq!(
        (m.rnn_attention, m.rnn_attention_type.is_none()),
        (Some(RnnAttention::General), true)
    );
    let m = check(&seq2seq.replace("ATTN", "scores::Cosine")).unwrap();
    assert_eq!(m.rnn_attention, Some(RnnAttention::Custom));
    let expansion = crate::codegen::expand(&m).to_string();
    assert!(
        expansion.contains("ScoredStates < scores :: Cosine >"),
        "{expansion}"
    );
    assert!(expansion.contains("SCORING_NAME"), "{expansion}");
    // a typo of a built-in stays an error
    let e = errors(&seq2seq.replace("ATTN", "Addtive"));
    assert!(
        e[0].contains("unknown attention `Addtive` (did you mean `Additive`?)"),
        "{e:?}"
    );
    // a classifier pools with Additive attention only
    let classify = base.replace("TASK", "Classify { vocab: 10, max_len: 6, classes: 2 }");
    let e = errors(&classify.replace("ATTN", "Cosine"));
    assert!(
        e[0].contains("a score function of your own attends in a sequence-to-sequence decoder"),
        "{e:?}"
    );
}

const GPT: &str = r#"
    #[name = "gpt", data = "bible-en"]
    pub struct Gpt {
        arch: Decoder,
        task: LanguageModel { vocab: 96, context: 64 },
        d_model: 32, heads: 4, layers: 2, ff: 64,
    }"#;

#[test]
fn a_decoder_is_causal_pre_norm_with_learned_positions_by_default() {
    let m = check(GPT).unwrap();
    assert_eq!(m.arch, Arch::Decoder);
    assert_eq!(m.data, Some(DataSet::BibleEn));
    assert_eq!(
        m.task.literal(),
        Some(Task::LanguageModel {
            vocab: 96,
            context: 64
        })
    );
    assert!(m.causal);
    assert_eq!(m.norm, Norm::Pre);
    assert_eq!(m.positional, Positional::Learned);
    assert!(!m.tie_embeddings);
    let m = check(&GPT.replace("ff: 64,", "ff: 64, positional: Rotary, norm: Post, tie_embeddings: true, window: 8, activation: Swiglu,")).unwrap();
    assert_eq!(
        (m.positional, m.norm, m.tie_embeddings, m.activation),
        (Positional::Rotary, Norm::Post, true, Activation::Swiglu)
    );
}

#[test]
fn a_decoder_models_language_and_takes_only_its_keys() {
    let e = errors(&GPT.replace("ff: 64,", ""));
    assert!(
        e[0].contains("missing `ff`: Decoder models need it"),
        "{e:?}"
    );
    let e = errors(&GPT.replace("heads: 4, layers: 2,", ""));
    assert!(e.iter().any(|m| m.contains("missing `heads`")), "{e:?}");
    assert!(e.iter().any(|m| m.contains("missing `layers`")), "{e:?}");
    for (key, applies) in [
        (
            "causal: true",
            "`causal` does not apply to a `Decoder` model",
        ),
        (
            "pooling: Mean",
            "`pooling` does not apply to a `Decoder` model",
        ),
        (
            "decoder_layers: 2",
            "`decoder_layers` does not apply to a `Decoder` model",
        ),
        ("kdim: 32", "`kdim` does not apply to a `Decoder` model"),
    ] {
        let e = errors(&GPT.replace("ff: 64,", &format!("ff: 64, {key},")));
        assert!(e[0].contains(applies), "{key}: {e:?}");
    }
    // a language model needs a decoder, and a decoder models language
    let e = errors(&GPT.replace("arch: Decoder", "arch: Transformer"));
    assert!(
        e.iter()
            .any(|m| m.contains("a `Transformer` model cannot do `LanguageModel`")),
        "{e:?}"
    );
    let e = errors(&GPT.replace(
        "LanguageModel { vocab: 96, context: 64 }",
        "Classify { vocab: 96, max_len: 64, classes: 2 }",
    ));
    assert!(
        e[0].contains("a `Decoder` model cannot do `Classify`; it does: LanguageModel"),
        "{e:?}"
    );
    let e = errors(&GPT.replace("context: 64", "context: 0"));
    assert!(e[0].contains("`context` is 0"), "{e:?}");
    let e = errors(&GPT.replace("context: 64", "ctx: 64"));
    assert!(e[0].contains("has no field `ctx`"), "{e:?}");
}

#[test]
fn a_decoder_too_large_is_refused_on_its_vocabulary() {
    let e = errors(&GPT.replace("vocab: 96", "vocab: 100000000"));
    assert!(e[0].contains("about 6.4e9"), "embedding and output: {e:?}");
    assert!(e[0].contains("make `vocab` smaller"), "{e:?}");
    // tied, the output layer is the embedding: half the parameters
    let tied = GPT
        .replace("vocab: 96", "vocab: 100000000")
        .replace("ff: 64,", "ff: 64, tie_embeddings: true,");
    let e = errors(&tied);
    assert!(e[0].contains("about 3.2e9"), "{e:?}");
    assert!(
        e[0].contains("the token embedding (vocab·d_model)"),
        "{e:?}"
    );
}

const VIT: &str = r#"
    #[name = "vit", data = "fashion-mnist"]
    pub struct Vit {
        arch: Transformer,
        task: ImageClassify { channels: 1, height: 28, width: 28, classes: 10 },
        patch: 7, d_model: 32, heads: 4, layers: 2, ff: 64,
        norm: Pre, pooling: Cls,
    }"#;

#[test]
fn a_vision_transformer_reads_patches_with_learned_positions() {
    let m = check(VIT).unwrap();
    assert_eq!(m.arch, Arch::Transformer);
    assert_eq!(m.patch.as_ref().and_then(Size::lit), Some(7));
    assert_eq!(m.pooling, Pooling::Cls);
    assert_eq!(m.positional, Positional::Learned);
    assert!(!m.causal);
    let m = check(&VIT.replace("pooling: Cls,", "pooling: Mean, positional: Sinusoidal,")).unwrap();
    assert_eq!(
        (m.pooling, m.positional),
        (Pooling::Mean, Positional::Sinusoidal)
    );
}

#[test]
fn a_vision_transformer_needs_a_patch_that_tiles_the_image() {
    let e = errors(&VIT.replace("patch: 7,", ""));
    assert!(
        e[0].contains("missing `patch`: a vision transformer"),
        "{e:?}"
    );
    let e = errors(&VIT.replace("patch: 7,", "patch: 5,"));
    assert!(
        e[0].contains("patch 5 does not divide the 28x28 image"),
        "{e:?}"
    );
    let e = errors(&VIT.replace("layers: 2,", "encoder_layers: 2,"));
    assert!(e.iter().any(|m| m.contains("missing `layers`")), "{e:?}");
    // a token transformer has no patches
    let tokens = r#"struct T { arch: Transformer, task: Classify { vocab: 10, max_len: 4, classes: 2 },
        d_model: 8, heads: 2, layers: 1, ff: 16, patch: 2 }"#;
    let e = errors(tokens);
    assert!(
        e[0].contains("`patch` does not apply to this task"),
        "{e:?}"
    );
}
