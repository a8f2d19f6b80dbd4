//! Code generation: a validated model becomes a builder type, a model type alias naming the
//! runtime's generic modules with the declared numbers, its metadata, and const backstops.
//!
//! Generated code names runtime items only through `::attn_runtime::__private`.

mod meta;

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::Ident;

use crate::model::{Activation, Arch, Cell, Model, Norm, Pooling, Positional, RnnAttention, Task};
use crate::parse::Declaration;
use crate::validate::Errors;

/// Expands a validated model.
pub fn expand(model: &Model) -> TokenStream {
    match model.arch {
        Arch::SingleHead
        | Arch::SelfAttention
        | Arch::PatchAttention
        | Arch::Recurrent
        | Arch::Transformer => expand_attention_model(model),
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

fn lit(n: usize) -> TokenStream {
    let l = proc_macro2::Literal::usize_unsuffixed(n);
    quote!(#l)
}

fn expand_attention_model(m: &Model) -> TokenStream {
    let p = quote!(::attn_runtime::__private);
    let (ident, vis, docs) = (&m.ident, &m.vis, &m.docs);
    let model = model_ident(ident);
    let d = lit(m.d_model);
    let h = lit(m.heads);
    let n = lit(m.layers);
    let pre = match m.norm {
        Norm::Pre => true,
        Norm::Post => false,
    };
    let encoder = match m.arch {
        Arch::SingleHead => quote!(#p::SingleHeadEncoder<#d, E, D>),
        Arch::Transformer => {
            let ffn = feed_forward(m, m.d_model);
            quote!(#p::TransformerEncoder<#d, #h, #ffn, #n, #pre, E, D>)
        }
        _ => quote!(#p::SelfAttentionEncoder<#d, #h, #n, E, D>),
    };
    let positions_of = |len: usize, width: usize| {
        let w = lit(width);
        match m.positional {
            Positional::Learned => {
                let len = lit(len);
                quote!(#p::LearnedPositions<#len, #w, E, D>)
            }
            // rotary positions rotate queries and keys inside attention, nothing is added
            Positional::None | Positional::Rotary => quote!(#p::NoPositions),
            Positional::Sinusoidal => quote!(#p::SinusoidalPositions),
        }
    };
    let positions = |len: usize| positions_of(len, m.d_model);
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
            let (v, l, c) = (lit(*vocab), lit(*max_len), lit(*classes));
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
            let (v, l, c) = (lit(*vocab), lit(*max_len), lit(*classes));
            let pos = positions(*max_len);
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
            let (v, l, g) = (lit(*vocab), lit(*max_len), lit(*tags));
            let pos = positions(*max_len);
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
            let patch = m.patch.unwrap_or(1);
            let np = (height / patch) * (width / patch);
            let pd = channels * patch * patch;
            let pos = positions(np);
            let (ch, ih, iw, pp, npl, pdl, c) = (
                lit(*channels),
                lit(*height),
                lit(*width),
                lit(patch),
                lit(np),
                lit(pd),
                lit(*classes),
            );
            (
                quote!(#p::PatchModel<#ch, #ih, #iw, #pp, #npl, #pdl, #d, #encoder, #pos, #p::MeanPoolClassifierHead<#d, #c, E, D>, #ident, E, D>),
                format!("images `[B, {channels}, {height}, {width}]` → logits `[B, {classes}]` ({np} patches of {patch}×{patch})"),
            )
        }
        Task::Seq2Seq {
            src_vocab,
            tgt_vocab,
            src_len,
            tgt_len,
        } if m.arch == Arch::Transformer => {
            let kd_width = m.kdim.unwrap_or(m.d_model);
            let (sv, tv, sl, tl, kd) = (
                lit(*src_vocab),
                lit(*tgt_vocab),
                lit(*src_len),
                lit(*tgt_len),
                lit(kd_width),
            );
            let (ffn_enc, ffn_dec) = (feed_forward(m, kd_width), feed_forward(m, m.d_model));
            let nd = lit(m.decoder_layers);
            let (src_pos, tgt_pos) = (
                positions_of(*src_len, kd_width),
                positions_of(*tgt_len, m.d_model),
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
            let (sv, tv, sl, tl) = (
                lit(*src_vocab),
                lit(*tgt_vocab),
                lit(*src_len),
                lit(*tgt_len),
            );
            let (cell, g, hd, o, bidir) = (&r.cell, &r.gates, &r.hidden, &r.out, &r.bidir);
            let kind = m.rnn_attention.unwrap_or(RnnAttention::Additive);
            let attn = match kind {
                RnnAttention::General => quote!(#p::GeneralAttention<#hd, #o, E, D>),
                RnnAttention::Dot => quote!(#p::DotScoring),
                RnnAttention::Additive => quote!(#p::AdditiveAttention<#hd, #o, #hd, E, D>),
            };
            let before_step = kind == RnnAttention::Additive;
            let di = lit(m.d_model + if before_step { r.out_width } else { 0 });
            let qo = lit(r.out_width + r.hidden_width);
            (
                quote!(#p::RnnSeq2Seq<#cell, #g, #sv, #tv, #sl, #tl, #d, #hd, #o, #n, #bidir, #di, #qo, #attn, #ident, E, D>),
                format!("source ids `[B, {src_len}]` → logits `[B, {tgt_len}, {tgt_vocab}]`"),
            )
        }
    };
    let body = match (m.arch, m.cell, m.hidden) {
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
fn feed_forward(m: &Model, width: usize) -> TokenStream {
    let p = quote!(::attn_runtime::__private);
    let (w, f) = (lit(width), lit(m.ff.unwrap_or(4 * width)));
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
    }
}

/// The recurrent sizes of a declaration, as literals for the expansion.
struct Recurrent {
    cell: TokenStream,
    gates: TokenStream,
    hidden: TokenStream,
    out: TokenStream,
    bidir: TokenStream,
    hidden_width: usize,
    out_width: usize,
}

fn recurrent(m: &Model) -> Recurrent {
    let p = quote!(::attn_runtime::__private);
    let (cell, gates) = match m.cell {
        Some(Cell::Lstm) => (quote!(#p::LstmCell), 4),
        Some(Cell::Gru) | None => (quote!(#p::GruCell), 3),
    };
    let hidden_width = m.hidden.unwrap_or(m.d_model);
    let out_width = hidden_width * if m.bidirectional { 2 } else { 1 };
    let bidir = m.bidirectional;
    Recurrent {
        cell,
        gates: lit(gates),
        hidden: lit(hidden_width),
        out: lit(out_width),
        bidir: quote!(#bidir),
        hidden_width,
        out_width,
    }
}

/// A `const` assertion for every numeric rule the macro checked, so the compiler re-checks what
/// the expansion relies on.
fn backstops(m: &Model) -> TokenStream {
    let span = Span::call_site();
    let d = lit(m.d_model);
    let h = lit(m.heads);
    let n = lit(m.layers);
    let dropout = m.dropout;
    let mut checks = vec![
        quote_spanned!(span=> ::core::assert!(#h > 0 && #d % #h == 0, "heads must divide d_model");),
        quote_spanned!(span=> ::core::assert!(#n >= 1, "at least one layer");),
        quote_spanned!(span=> ::core::assert!(#dropout >= 0.0 && #dropout < 1.0, "dropout must be in [0, 1)");),
    ];
    if let (Some(patch), Task::ImageClassify { height, width, .. }) = (m.patch, &m.task) {
        let (p, ih, iw) = (lit(patch), lit(*height), lit(*width));
        checks.push(quote_spanned!(span=> ::core::assert!(#ih % #p == 0 && #iw % #p == 0, "patch must divide the image");));
    }
    if let Some(w) = m.window {
        let w = lit(w);
        checks.push(quote_spanned!(span=> ::core::assert!(#w >= 1, "window must be at least 1");));
    }
    // The operands are literals, so clippy sees e.g. `32 % 1`: these checks are meant to be
    // constant, and a user's `cargo clippy` must not fail on them.
    quote!(
        #[allow(clippy::modulo_one, clippy::assertions_on_constants, clippy::eq_op)]
        const _: () = { #(#checks)* };
    )
}
