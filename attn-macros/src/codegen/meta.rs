//! The `ModelMeta` literal of a declaration.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use crate::model::{Arch, Model, Task};

/// The first line of the doc comment, trimmed.
fn summary(m: &Model) -> String {
    crate::parse::first_doc_line(&m.docs)
}

fn opt_str(v: Option<&str>) -> TokenStream {
    match v {
        Some(s) => quote!(::core::option::Option::Some(#s)),
        None => quote!(::core::option::Option::None),
    }
}

fn opt_usize(v: Option<usize>) -> TokenStream {
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
    let data = opt_str(m.data.as_deref());
    let arch = format_ident!(
        "{}",
        match m.arch {
            Arch::SingleHead => "SingleHead",
            Arch::SelfAttention => "SelfAttention",
            Arch::PatchAttention => "PatchAttention",
            Arch::Recurrent => "Recurrent",
            Arch::Transformer => "Transformer",
        }
    );
    let task = match m.task {
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
    };
    let (d_model, heads, layers, decoder_layers) = (m.d_model, m.heads, m.layers, m.decoder_layers);
    let ff = opt_usize(m.ff);
    let (activation, norm, positional, scoring, pooling) =
        (m.activation, m.norm, m.positional, m.scoring, m.pooling);
    let dropout = m.dropout;
    let window = opt_usize(m.window);
    let causal = m.causal;
    let patch = opt_usize(m.patch);
    let cell = opt_str(m.cell);
    let hidden = opt_usize(m.hidden);
    let bidirectional = m.bidirectional;
    let rnn_attention = opt_str(m.rnn_attention);
    quote! {
        #p::ModelMeta {
            name: #name,
            type_name: #type_name,
            summary: #summary,
            data: #data,
            arch: #p::ArchKind::#arch,
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
