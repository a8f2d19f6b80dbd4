//! The `ModelMeta` literal of a declaration.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use crate::model::{
    Activation, Arch, Cell, DataSet, Model, Norm, Pooling, Positional, RnnAttention, Scoring, Size,
    Task,
};

/// The first line of the doc comment, trimmed.
fn summary(m: &Model) -> String {
    crate::parse::first_doc_line(&m.docs)
}

/// An `attn_spec` enum, by its name in generated paths.
trait SpecEnum: std::fmt::Debug {
    const TYPE: &'static str;
}

macro_rules! spec_enums {
    ($($t:ident),+) => {$(
        impl SpecEnum for $t {
            const TYPE: &'static str = stringify!($t);
        }
    )+};
}
spec_enums!(
    Activation,
    Arch,
    Cell,
    DataSet,
    Norm,
    Pooling,
    Positional,
    RnnAttention,
    Scoring
);

/// The path of an `attn_spec` value through the runtime, e.g.
/// `::attn_runtime::__private::attn_spec::Activation::Gelu` (a derived `Debug` writes a unit
/// variant's name).
fn spec<T: SpecEnum>(value: T) -> TokenStream {
    let ty = format_ident!("{}", T::TYPE);
    let variant = format_ident!("{value:?}");
    quote!(::attn_runtime::__private::attn_spec::#ty::#variant)
}

fn opt_spec<T: SpecEnum>(v: Option<T>) -> TokenStream {
    match v {
        Some(v) => {
            let v = spec(v);
            quote!(::core::option::Option::Some(#v))
        }
        None => quote!(::core::option::Option::None),
    }
}

fn opt_size(v: &Option<Size>) -> TokenStream {
    match v {
        Some(n) => quote!(::core::option::Option::Some(#n)),
        None => quote!(::core::option::Option::None),
    }
}

pub fn meta(m: &Model) -> TokenStream {
    let p = quote!(::attn_runtime::__private);
    let name = &m.name;
    let type_name = m.ident.to_string();
    let summary = summary(m);
    let data = opt_spec(m.data);
    let arch = spec(m.arch);
    let task = match &m.task {
        Task::Classify {
            vocab,
            max_len,
            classes,
        } => quote!(#p::TaskSpec::Classify { vocab: #vocab, max_len: #max_len, classes: #classes }),
        Task::Tag {
            vocab,
            max_len,
            tags,
        } => quote!(#p::TaskSpec::Tag { vocab: #vocab, max_len: #max_len, tags: #tags }),
        Task::Seq2Seq {
            src_vocab,
            tgt_vocab,
            src_len,
            tgt_len,
        } => {
            quote!(#p::TaskSpec::Seq2Seq { src_vocab: #src_vocab, tgt_vocab: #tgt_vocab, src_len: #src_len, tgt_len: #tgt_len })
        }
        Task::ImageClassify {
            channels,
            height,
            width,
            classes,
        } => {
            quote!(#p::TaskSpec::ImageClassify { channels: #channels, height: #height, width: #width, classes: #classes })
        }
        Task::LanguageModel { vocab, context } => {
            quote!(#p::TaskSpec::LanguageModel { vocab: #vocab, context: #context })
        }
    };
    let (d_model, heads, layers, decoder_layers) =
        (&m.d_model, &m.heads, &m.layers, &m.decoder_layers);
    let ff = opt_size(&m.ff);
    let (activation, norm, positional, scoring, pooling) = (
        spec(m.activation),
        spec(m.norm),
        spec(m.positional),
        spec(m.scoring),
        spec(m.pooling),
    );
    let dropout = m.dropout;
    let window = opt_size(&m.window);
    let causal = m.causal;
    let patch = opt_size(&m.patch);
    let cell = opt_spec(m.cell);
    let hidden = opt_size(&m.hidden);
    let bidirectional = m.bidirectional;
    let rnn_attention = opt_spec(m.rnn_attention);
    quote! {
        #p::ModelMeta {
            name: #name,
            type_name: #type_name,
            summary: #summary,
            data: #data,
            arch: #arch,
            task: #task,
            d_model: #d_model,
            heads: #heads,
            layers: #layers,
            decoder_layers: #decoder_layers,
            ff: #ff,
            activation: #activation,
            norm: #norm,
            positional: #positional,
            scoring: #scoring,
            pooling: #pooling,
            dropout: #dropout,
            window: #window,
            causal: #causal,
            patch: #patch,
            cell: #cell,
            hidden: #hidden,
            bidirectional: #bidirectional,
            rnn_attention: #rnn_attention,
        }
    }
}
