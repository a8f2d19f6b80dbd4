//! Code generation: a validated model becomes a builder type, a model type alias naming the
//! runtime's generic modules with the declared numbers, its metadata, and const backstops.
//!
//! Generated code names runtime items only through `::attn_runtime::__private`.

mod dim;
mod meta;

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::Ident;

use crate::model::{
    Activation, Arch, Cell, Model, Norm, Pooling, Positional, RnnAttention, Size, Task,
};
use crate::parse::Declaration;
use crate::validate::Errors;
use crate::validate::Num;
use dim::{ConstEstimate, Dim};

/// Expands a validated model.
pub fn expand(model: &Model) -> TokenStream {
    match model.arch {
        Arch::SingleHead
        | Arch::SelfAttention
        | Arch::PatchAttention
        | Arch::Recurrent
        | Arch::Transformer
        | Arch::Decoder => expand_attention_model(model),
    }
}

/// `compile_error!`s for every validation error, plus stand-in types so that the rest of the
/// crate does not fill with "cannot find type" errors.
pub fn errors_with_stub(decl: &Declaration, errors: Errors) -> TokenStream {
    let errors = errors
        .combined()
        .map(|e| e.to_compile_error())
        .unwrap_or_default();
    let stub = stub(&decl.docs, &decl.vis, &decl.ident);
    quote!(#errors #stub)
}

fn stub(docs: &[syn::Attribute], vis: &syn::Visibility, ident: &Ident) -> TokenStream {
    let model = model_ident(ident);
    quote! {
        #(#docs)*
        #[derive(Clone, Copy, Debug, Default)]
        #vis struct #ident;
        #[allow(dead_code)]
        #vis type #model<E, D> = ::core::marker::PhantomData<(E, D)>;
    }
}

fn model_ident(ident: &Ident) -> Ident {
    format_ident!("{}Model", ident)
}

/// A declared size as a const generic argument.
fn arg(s: &Size) -> TokenStream {
    Dim::of(s).arg()
}

fn expand_attention_model(m: &Model) -> TokenStream {
    let p = quote!(::attn_runtime::__private);
    let (ident, vis, docs) = (&m.ident, &m.vis, &m.docs);
    let model = model_ident(ident);
    let d = arg(&m.d_model);
    let h = arg(&m.heads);
    let n = arg(&m.layers);
    let pre = match m.norm {
        Norm::Pre => true,
        Norm::Post => false,
    };
    let encoder = match m.arch {
        Arch::SingleHead => match &m.scoring_type {
            Some(score) => quote!(#p::ScoredSingleHeadEncoder<#d, #score, E, D>),
            None => quote!(#p::SingleHeadEncoder<#d, E, D>),
        },
        Arch::Transformer | Arch::Decoder => {
            let ffn = feed_forward(m, Dim::of(&m.d_model));
            quote!(#p::TransformerEncoder<#d, #h, #ffn, #n, #pre, E, D>)
        }
        _ => quote!(#p::SelfAttentionEncoder<#d, #h, #n, E, D>),
    };
    let positions_of = |len: Dim, width: Dim| {
        let w = width.arg();
        match m.positional {
            Positional::Learned => {
                let len = len.arg();
                quote!(#p::LearnedPositions<#len, #w, E, D>)
            }
            // rotary positions rotate queries and keys inside attention, nothing is added
            Positional::None | Positional::Rotary => quote!(#p::NoPositions),
            Positional::Sinusoidal => quote!(#p::SinusoidalPositions),
        }
    };
    let positions = |len: &Size| positions_of(Dim::of(len), Dim::of(&m.d_model));
    let classifier_head = |c: &TokenStream| match m.pooling {
        Pooling::Cls => quote!(#p::ClsPoolClassifierHead<#d, #c, E, D>),
        Pooling::Mean => quote!(#p::MeanPoolClassifierHead<#d, #c, E, D>),
    };
    let (alias, input_doc) = match &m.task {
        Task::Classify {
            vocab,
            max_len,
            classes,
        } if m.arch == Arch::Recurrent => {
            let r = recurrent(m);
            let (v, l, c) = (arg(vocab), arg(max_len), arg(classes));
            let (cell, g, hd, o, bidir) = (&r.cell, &r.gates, &r.hidden, &r.out, &r.bidir);
            (
                quote!(#p::RnnClassifier<#cell, #g, #v, #l, #d, #hd, #o, #n, #bidir, #c, #ident, E, D>),
                format!("token ids `[B, {max_len}]` → logits `[B, {classes}]`"),
            )
        }
        Task::Classify {
            vocab,
            max_len,
            classes,
        } => {
            let (v, l, c) = (arg(vocab), arg(max_len), arg(classes));
            let pos = positions(max_len);
            let head = classifier_head(&c);
            (
                quote!(#p::TokenModel<#v, #l, #d, #encoder, #pos, #head, #ident, E, D>),
                format!("token ids `[B, {max_len}]` → logits `[B, {classes}]`"),
            )
        }
        Task::Tag {
            vocab,
            max_len,
            tags,
        } => {
            let (v, l, g) = (arg(vocab), arg(max_len), arg(tags));
            let pos = positions(max_len);
            (
                quote!(#p::TokenModel<#v, #l, #d, #encoder, #pos, #p::PerTokenHead<#d, #g, E, D>, #ident, E, D>),
                format!("token ids `[B, {max_len}]` → logits `[B, {max_len}, {tags}]`"),
            )
        }
        Task::ImageClassify {
            channels,
            height,
            width,
            classes,
        } => {
            let patch = m.patch.as_ref().map(Dim::of).unwrap_or(Dim::Lit(1));
            let np = Dim::of(height)
                .div(patch.clone())
                .mul(Dim::of(width).div(patch.clone()));
            let pd = Dim::of(channels).mul(patch.clone()).mul(patch.clone());
            // a class token (ViT's `[CLS]`) goes before the patches, and the head reads it
            let (prefix, seq) = match m.pooling {
                Pooling::Cls => (
                    quote!(#p::ClassToken<#d, E, D>),
                    np.clone().add(Dim::Lit(1)),
                ),
                Pooling::Mean => (quote!(#p::NoClassToken), np.clone()),
            };
            let pos = positions_of(seq.clone(), Dim::of(&m.d_model));
            let (ch, ih, iw, pp, npl, pdl, sl, c) = (
                arg(channels),
                arg(height),
                arg(width),
                patch.arg(),
                np.arg(),
                pd.arg(),
                seq.arg(),
                arg(classes),
            );
            let head = classifier_head(&c);
            (
                quote!(#p::PatchModel<#ch, #ih, #iw, #pp, #npl, #pdl, #sl, #d, #encoder, #pos, #prefix, #head, #ident, E, D>),
                format!("images `[B, {channels}, {height}, {width}]` → logits `[B, {classes}]` ({np} patches of {patch}×{patch})"),
            )
        }
        Task::LanguageModel { vocab, context } => {
            let (v, c) = (arg(vocab), arg(context));
            let pos = positions(context);
            let out = if m.tie_embeddings {
                quote!(#p::TiedOutput<#v, E, D>)
            } else {
                quote!(#p::UntiedOutput<#d, #v, E, D>)
            };
            (
                quote!(#p::CausalLm<#v, #c, #d, #encoder, #pos, #out, #ident, E, D>),
                format!("token ids `[B, {context}]` → next-token logits `[B, {context}, {vocab}]`"),
            )
        }
        Task::Seq2Seq {
            src_vocab,
            tgt_vocab,
            src_len,
            tgt_len,
        } if m.arch == Arch::Transformer => {
            let kd_width = Dim::of(m.kdim.as_ref().unwrap_or(&m.d_model));
            let (sv, tv, sl, tl, kd) = (
                arg(src_vocab),
                arg(tgt_vocab),
                arg(src_len),
                arg(tgt_len),
                kd_width.arg(),
            );
            let (ffn_enc, ffn_dec) = (
                feed_forward(m, kd_width.clone()),
                feed_forward(m, Dim::of(&m.d_model)),
            );
            let nd = arg(&m.decoder_layers);
            let (src_pos, tgt_pos) = (
                positions_of(Dim::of(src_len), kd_width),
                positions_of(Dim::of(tgt_len), Dim::of(&m.d_model)),
            );
            let out = if m.tie_embeddings {
                quote!(#p::TiedOutput<#tv, E, D>)
            } else {
                quote!(#p::UntiedOutput<#d, #tv, E, D>)
            };
            (
                quote!(#p::TransformerSeq2Seq<#sv, #tv, #sl, #tl, #kd, #d, #h, #ffn_enc, #ffn_dec, #n, #nd, #pre, #src_pos, #tgt_pos, #out, #ident, E, D>),
                format!("source ids `[B, {src_len}]` → logits `[B, {tgt_len}, {tgt_vocab}]`"),
            )
        }
        Task::Seq2Seq {
            src_vocab,
            tgt_vocab,
            src_len,
            tgt_len,
        } => {
            let r = recurrent(m);
            let (sv, tv, sl, tl) = (arg(src_vocab), arg(tgt_vocab), arg(src_len), arg(tgt_len));
            let (cell, g, hd, o, bidir) = (&r.cell, &r.gates, &r.hidden, &r.out, &r.bidir);
            let kind = m.rnn_attention.unwrap_or(RnnAttention::Additive);
            let attn = match (kind, &m.rnn_attention_type) {
                (RnnAttention::General, _) => quote!(#p::GeneralAttention<#hd, #o, E, D>),
                (RnnAttention::Dot, _) => quote!(#p::DotScoring),
                (RnnAttention::Additive, _) => {
                    quote!(#p::AdditiveAttention<#hd, #o, #hd, E, D>)
                }
                (RnnAttention::Custom, Some(score)) => quote!(#p::ScoredStates<#score>),
                (RnnAttention::Custom, None) => {
                    unreachable!("validation names the type of every `Custom` attention")
                }
            };
            let before_step = kind == RnnAttention::Additive;
            let di = Dim::of(&m.d_model)
                .add(if before_step {
                    r.out_width.clone()
                } else {
                    Dim::Lit(0)
                })
                .arg();
            let qo = r.out_width.clone().add(r.hidden_width.clone()).arg();
            (
                quote!(#p::RnnSeq2Seq<#cell, #g, #sv, #tv, #sl, #tl, #d, #hd, #o, #n, #bidir, #di, #qo, #attn, #ident, E, D>),
                format!("source ids `[B, {src_len}]` → logits `[B, {tgt_len}, {tgt_vocab}]`"),
            )
        }
    };
    let body = match (m.arch, m.cell, &m.hidden) {
        (Arch::Recurrent, Some(cell), Some(hidden)) => format!(
            "{layers} {cell} layer(s) of {hidden}{}, {} attention",
            if m.bidirectional {
                ", bidirectional"
            } else {
                ""
            },
            m.rnn_attention.unwrap_or(RnnAttention::Additive),
            layers = m.layers,
        ),
        _ => format!(
            "{} attention layer(s) of {} head(s), width {}",
            m.layers, m.heads, m.d_model
        ),
    };
    let model_doc = format!(
        "The built [`{ident}`] model (`dev.build_module::<{ident}, f32>()`): {input_doc}; {body}."
    );
    let builder_doc = format!(
        "Declared with `attention_model!` as `{}`. Build it with `dev.build_module::<{ident}, f32>()`; \
         its metadata is `<{ident} as DeclaredModel>::META`.",
        m.name
    );
    let meta = meta::meta(m);
    let backstops = backstops(m);
    let activation_name = m
        .activation_type
        .as_ref()
        .map(|ty| quote!(const ACTIVATION_NAME: &'static str = <#ty as #p::Activation>::NAME;));
    let scoring_name = m
        .scoring_type
        .as_ref()
        .or(m.rnn_attention_type.as_ref())
        .map(|ty| quote!(const SCORING_NAME: &'static str = <#ty as #p::ScoreFn>::NAME;));
    quote! {
        #(#docs)*
        #[doc = ""]
        #[doc = #builder_doc]
        #[derive(Clone, Copy, Debug, Default)]
        #vis struct #ident;

        #[doc = #model_doc]
        #vis type #model<E, D> = #alias;

        impl #p::DeclaredModel for #ident {
            const META: #p::ModelMeta = #meta;
            #activation_name
            #scoring_name
        }

        impl<E, D> #p::dfdx::nn::BuildOnDevice<D, E> for #ident
        where
            E: #p::dfdx::shapes::Dtype,
            D: #p::dfdx::tensor_ops::Device<E>,
            #model<E, D>: #p::dfdx::nn::BuildModule<D, E>,
        {
            type Built = #model<E, D>;
        }

        #backstops
    }
}

/// The feed-forward network of a transformer block of width `width`.
fn feed_forward(m: &Model, width: Dim) -> TokenStream {
    let p = quote!(::attn_runtime::__private);
    let ff = match &m.ff {
        Some(ff) => Dim::of(ff),
        None => Dim::Lit(4).mul(width.clone()),
    };
    let (w, f) = (width.arg(), ff.arg());
    let plain = |act: TokenStream| quote!(#p::FeedForward<#w, #f, #act, E, D>);
    match m.activation {
        Activation::Geglu => quote!(#p::GatedFeedForward<#w, #f, #p::Gelu, E, D>),
        Activation::Swiglu => quote!(#p::GatedFeedForward<#w, #f, #p::Silu, E, D>),
        Activation::Relu => plain(quote!(#p::Relu)),
        Activation::Gelu => plain(quote!(#p::Gelu)),
        Activation::GeluTanh => plain(quote!(#p::GeluTanh)),
        Activation::Silu => plain(quote!(#p::Silu)),
        Activation::Tanh => plain(quote!(#p::Tanh)),
        Activation::Sigmoid => plain(quote!(#p::Sigmoid)),
        Activation::LeakyRelu => plain(quote!(#p::LeakyRelu)),
        Activation::Custom => {
            let ty = &m.activation_type;
            plain(quote!(#ty))
        }
    }
}

/// The recurrent sizes of a declaration, as literals for the expansion.
struct Recurrent {
    cell: TokenStream,
    gates: TokenStream,
    hidden: TokenStream,
    out: TokenStream,
    bidir: TokenStream,
    hidden_width: Dim,
    out_width: Dim,
}

fn recurrent(m: &Model) -> Recurrent {
    let p = quote!(::attn_runtime::__private);
    let (cell, gates) = match m.cell {
        Some(Cell::Lstm) => (quote!(#p::LstmCell), 4),
        Some(Cell::Gru) | None => (quote!(#p::GruCell), 3),
    };
    let hidden_width = Dim::of(m.hidden.as_ref().unwrap_or(&m.d_model));
    let out_width = hidden_width
        .clone()
        .mul(Dim::Lit(if m.bidirectional { 2 } else { 1 }));
    let bidir = m.bidirectional;
    Recurrent {
        cell,
        gates: Dim::Lit(gates).arg(),
        hidden: hidden_width.arg(),
        out: out_width.arg(),
        bidir: quote!(#bidir),
        hidden_width,
        out_width,
    }
}

/// A `const` assertion for every numeric rule the macro checked, so the compiler re-checks what
/// the expansion relies on — and checks, in the macro's place, every rule whose operands include
/// a size given as a `const` item (`d_model: WIDTH`), whose value the macro cannot see.
fn backstops(m: &Model) -> TokenStream {
    let span = Span::call_site();
    let ident = &m.ident;
    // a message is a literal format string: no braces may reach it
    let say = |text: String| text.replace('{', "{{").replace('}', "}}");
    let (d, h, n) = (Dim::of(&m.d_model).arg(), arg(&m.heads), arg(&m.layers));
    let dropout = m.dropout;
    let heads_msg = say(format!(
        "`{ident}`: heads = {} must divide d_model = {} (each head gets d_model / heads dims)",
        m.heads, m.d_model
    ));
    let mut checks = vec![
        quote_spanned!(span=> ::core::assert!(#h > 0 && #d % #h == 0, #heads_msg);),
        quote_spanned!(span=> ::core::assert!(#n >= 1, "at least one layer");),
        quote_spanned!(span=> ::core::assert!(#dropout >= 0.0 && #dropout < 1.0, "dropout must be in [0, 1)");),
    ];
    if let (Some(patch), Task::ImageClassify { height, width, .. }) = (&m.patch, &m.task) {
        let (p, ih, iw) = (arg(patch), arg(height), arg(width));
        let msg = say(format!(
            "`{ident}`: patch = {patch} must divide the {height}x{width} image (patches tile it exactly)"
        ));
        checks.push(
            quote_spanned!(span=> ::core::assert!(#p > 0 && #ih % #p == 0 && #iw % #p == 0, #msg);),
        );
    }
    if let Some(w) = &m.window {
        let w = arg(w);
        checks.push(quote_spanned!(span=> ::core::assert!(#w >= 1, "window must be at least 1");));
    }
    checks.extend(const_size_checks(m));
    // The operands are literals, so clippy sees e.g. `32 % 1`: these checks are meant to be
    // constant, and a user's `cargo clippy` must not fail on them. One `const` item per check,
    // because evaluation stops at a block's first failure: every broken rule is reported.
    quote!(#(
        #[allow(clippy::modulo_one, clippy::assertions_on_constants, clippy::eq_op)]
        const _: () = { #checks };
    )*)
}

/// The rules the macro could not check because a size is a `const` item: each size is at least
/// 1 (2 classes), heads divide the encoder width, `vdim` repeats `kdim`, and the model stays under
/// the size limit (the same estimate as `validate::size`, evaluated by the compiler).
fn const_size_checks(m: &Model) -> Vec<TokenStream> {
    let ident = &m.ident;
    let say = |text: String| text.replace('{', "{{").replace('}', "}}");
    let sizes = m.sizes();
    if sizes.iter().all(|(_, s)| s.lit().is_some()) {
        return Vec::new();
    }
    let mut checks = Vec::new();
    for (key, size) in &sizes {
        if let Size::Const(path) = size {
            let least: usize = if matches!(*key, "classes" | "tags") {
                2
            } else {
                1
            };
            let msg = say(format!(
                "`{ident}`: `{key}` = {size} must be at least {least}"
            ));
            checks.push(quote!(::core::assert!(#path >= #least, #msg);));
        }
    }
    if let Some(kdim) = &m.kdim {
        let (h, k) = (arg(&m.heads), arg(kdim));
        let msg = say(format!(
            "`{ident}`: heads = {} must divide kdim = {kdim}, the encoder width",
            m.heads
        ));
        checks.push(quote!(::core::assert!(#h > 0 && #k % #h == 0, #msg);));
        if let Some(vdim) = &m.vdim {
            let v = arg(vdim);
            let msg = say(format!(
                "`{ident}`: vdim = {vdim} must equal kdim = {kdim} (the encoder output is both keys and values)"
            ));
            checks.push(quote!(::core::assert!(#k == #v, #msg);));
        }
    }
    let estimate = crate::validate::terms(m, const_sizes(m))
        .into_iter()
        .fold(ConstEstimate::n(0), |a, t| a.add(t.value))
        .0;
    let limit = crate::validate::MAX_PARAMETERS;
    let msg = say(format!(
        "`{ident}`: the model would have more than {:.0e} trainable parameters (4 GB of f32 \
         weights; training needs about 4x that): make its sizes smaller (the estimate is in the \
         `attention_model!` docs, \"Size limit\")",
        limit as f64
    ));
    checks.push(quote!(::core::assert!(#estimate <= #limit, #msg);));
    checks
}

/// The sizes of `m` as `const` `u128` expressions, for the size estimate.
fn const_sizes(m: &Model) -> crate::validate::Sizes<ConstEstimate> {
    let opt = |s: &Option<Size>| s.as_ref().map(ConstEstimate::of);
    crate::validate::Sizes {
        d_model: ConstEstimate::of(&m.d_model),
        layers: ConstEstimate::of(&m.layers),
        decoder_layers: ConstEstimate::of(&m.decoder_layers),
        ff: opt(&m.ff),
        hidden: opt(&m.hidden),
        kdim: opt(&m.kdim),
        patch: opt(&m.patch),
        task: m
            .task
            .map(|s| Some(ConstEstimate::of(s)))
            .expect("every size maps"),
    }
}
