//! Size sanity: an estimate of a declared model's trainable parameters from the numbers the
//! macro sees, and the rule that rejects a model too large to allocate.
//!
//! The estimate counts the weight matrices that dominate (embeddings, attention projections,
//! feed-forward networks, recurrent gates, output layers, learned positions) and leaves out
//! biases and norms, which are a vanishing fraction at the sizes where the limit matters. It is
//! within a factor of about 1.5 of the true count; the limit is an order-of-magnitude guard,
//! not a budget.

use proc_macro2::Span;

use super::{value_span, Errors, Fields};
use crate::model::{Activation, Arch, Cell, Model, Positional, Size, Task};
use crate::parse::Value;

/// The most trainable parameters a declaration may have: 1e9 parameters are 4 GB of `f32`
/// weights, and training holds about 4× that (weights, gradients, Adam's two moments).
pub const MAX_PARAMETERS: u128 = 1_000_000_000;

/// Arithmetic the estimate is written in, so that one formula serves the literal sizes the macro
/// checks (`u128`, saturating, so no declaration overflows it) and any other evaluator.
pub trait Num: Clone {
    fn n(v: u128) -> Self;
    fn add(self, o: Self) -> Self;
    fn mul(self, o: Self) -> Self;
    fn div(self, o: Self) -> Self;
}

impl Num for u128 {
    fn n(v: u128) -> Self {
        v
    }
    fn add(self, o: Self) -> Self {
        self.saturating_add(o)
    }
    fn mul(self, o: Self) -> Self {
        self.saturating_mul(o)
    }
    fn div(self, o: Self) -> Self {
        self.checked_div(o).unwrap_or(0)
    }
}

/// One part of the estimate: what it is, the keys whose sizes it grows with, and its count.
pub struct Term<N> {
    pub what: &'static str,
    pub keys: &'static [&'static str],
    pub value: N,
}

/// The sizes the estimate reads, each as a `N`.
pub struct Sizes<N> {
    pub d_model: N,
    pub layers: N,
    pub decoder_layers: N,
    pub ff: Option<N>,
    pub hidden: Option<N>,
    pub kdim: Option<N>,
    pub patch: Option<N>,
    pub task: Task<N>,
}

/// The estimate's parts for `m`, whose sizes are `s`.
pub fn terms<N: Num>(m: &Model, s: Sizes<N>) -> Vec<Term<N>> {
    let n = N::n;
    let d = s.d_model.clone();
    let mut out = Vec::new();
    let mut term = |what, keys, value| out.push(Term { what, keys, value });
    let learned = m.positional == Positional::Learned;
    match m.arch {
        Arch::SingleHead => term(
            "the attention projections (4·d_model²)",
            &["d_model"],
            n(4).mul(d.clone()).mul(d.clone()),
        ),
        Arch::SelfAttention | Arch::PatchAttention => term(
            "the attention projections (layers·4·d_model²)",
            &["d_model", "layers"],
            s.layers.clone().mul(n(4)).mul(d.clone()).mul(d.clone()),
        ),
        Arch::Decoder => {
            let g = n(
                if matches!(m.activation, Activation::Geglu | Activation::Swiglu) {
                    3
                } else {
                    2
                },
            );
            let ff = s.ff.clone().unwrap_or(n(4).mul(d.clone()));
            term(
                "the decoder blocks (layers·(4·d_model² + 2·d_model·ff), 3·d_model·ff when gated)",
                &["d_model", "ff", "layers"],
                s.layers.clone().mul(
                    n(4).mul(d.clone())
                        .mul(d.clone())
                        .add(g.mul(d.clone()).mul(ff)),
                ),
            );
        }
        Arch::Transformer => {
            let g = n(
                if matches!(m.activation, Activation::Geglu | Activation::Swiglu) {
                    3
                } else {
                    2
                },
            );
            let kd = s.kdim.clone().unwrap_or(d.clone());
            let ff = |w: N| s.ff.clone().unwrap_or(n(4).mul(w));
            let layer = |w: N| {
                n(4).mul(w.clone())
                    .mul(w.clone())
                    .add(g.clone().mul(w.clone()).mul(ff(w)))
            };
            term(
                "the encoder layers (layers·(4·width² + 2·width·ff), 3·width·ff when gated)",
                &["d_model", "kdim", "ff", "layers", "encoder_layers"],
                s.layers.clone().mul(layer(kd.clone())),
            );
            let cross = n(2)
                .mul(d.clone())
                .mul(d.clone())
                .add(n(2).mul(d.clone()).mul(kd));
            term(
                "the decoder layers (decoder_layers·(6·d_model² + 2·d_model·kdim + 2·d_model·ff))",
                &["d_model", "ff", "decoder_layers"],
                s.decoder_layers.clone().mul(layer(d.clone()).add(cross)),
            );
        }
        Arch::Recurrent => {
            let gates = n(if m.cell == Some(Cell::Lstm) { 4 } else { 3 });
            let hid = s.hidden.clone().unwrap_or(d.clone());
            let dirs = n(if m.bidirectional { 2 } else { 1 });
            let out_w = hid.clone().mul(dirs.clone());
            term(
                "the recurrent encoder (layers·gates·hidden·(d_model + 2·hidden)·directions)",
                &["hidden", "d_model", "layers"],
                s.layers
                    .clone()
                    .mul(gates.clone())
                    .mul(hid.clone())
                    .mul(d.clone().add(out_w.clone()).add(hid.clone()))
                    .mul(dirs),
            );
            if let Task::Seq2Seq { tgt_vocab, .. } = &s.task {
                let step = gates
                    .mul(hid.clone())
                    .mul(d.clone().add(out_w.clone()).add(hid.clone()));
                let attention = n(2).mul(hid.clone()).mul(out_w.clone());
                term(
                    "the recurrent decoder (gates·hidden·(d_model + 3·hidden) + attention)",
                    &["hidden", "d_model"],
                    step.add(attention),
                );
                term(
                    "the output layer ((hidden + encoder width)·tgt_vocab)",
                    &["tgt_vocab", "hidden"],
                    hid.add(out_w).mul(tgt_vocab.clone()),
                );
            }
        }
    }
    let kd = s.kdim.clone().unwrap_or(d.clone());
    match &s.task {
        Task::Classify {
            vocab,
            max_len,
            classes,
        }
        | Task::Tag {
            vocab,
            max_len,
            tags: classes,
        } => {
            term(
                "the token embedding (vocab·d_model)",
                &["vocab", "d_model"],
                vocab.clone().mul(d.clone()),
            );
            if learned {
                term(
                    "the learned positions (max_len·d_model)",
                    &["max_len", "d_model"],
                    max_len.clone().mul(d.clone()),
                );
            }
            let width = match m.arch {
                Arch::Recurrent => s
                    .hidden
                    .clone()
                    .unwrap_or(d.clone())
                    .mul(n(if m.bidirectional { 2 } else { 1 })),
                _ => d.clone(),
            };
            term(
                "the output layer (width·classes)",
                &["classes", "tags", "d_model", "hidden"],
                width.mul(classes.clone()),
            );
        }
        Task::Seq2Seq {
            src_vocab,
            tgt_vocab,
            src_len,
            tgt_len,
        } => {
            term(
                "the source embedding (src_vocab·encoder width)",
                &["src_vocab", "d_model", "kdim"],
                src_vocab.clone().mul(kd.clone()),
            );
            term(
                "the target embedding (tgt_vocab·d_model)",
                &["tgt_vocab", "d_model"],
                tgt_vocab.clone().mul(d.clone()),
            );
            if m.arch == Arch::Transformer && !m.tie_embeddings {
                term(
                    "the output layer (d_model·tgt_vocab)",
                    &["tgt_vocab", "d_model"],
                    tgt_vocab.clone().mul(d.clone()),
                );
            }
            if learned {
                term(
                    "the learned positions ((src_len + tgt_len)·width)",
                    &["src_len", "tgt_len", "d_model"],
                    src_len.clone().mul(kd).add(tgt_len.clone().mul(d.clone())),
                );
            }
        }
        Task::ImageClassify {
            channels,
            height,
            width,
            classes,
        } => {
            let p = s.patch.clone().unwrap_or(n(1));
            term(
                "the patch embedding (channels·patch²·d_model)",
                &["channels", "patch", "d_model"],
                channels
                    .clone()
                    .mul(p.clone())
                    .mul(p.clone())
                    .mul(d.clone()),
            );
            if learned {
                let cls = n(u128::from(m.pooling == crate::model::Pooling::Cls));
                let patches = height
                    .clone()
                    .div(p.clone())
                    .mul(width.clone().div(p))
                    .add(cls);
                term(
                    "the learned positions ((patches + class token)·d_model)",
                    &["height", "width", "d_model"],
                    patches.mul(d.clone()),
                );
            }
            term(
                "the output layer (d_model·classes)",
                &["classes", "d_model"],
                d.mul(classes.clone()),
            );
        }
        Task::LanguageModel { vocab, context } => {
            term(
                "the token embedding (vocab·d_model)",
                &["vocab", "d_model"],
                vocab.clone().mul(d.clone()),
            );
            if learned {
                term(
                    "the learned positions (context·d_model)",
                    &["context", "d_model"],
                    context.clone().mul(d.clone()),
                );
            }
            if !m.tie_embeddings {
                term(
                    "the output layer (d_model·vocab)",
                    &["vocab", "d_model"],
                    d.mul(vocab.clone()),
                );
            }
        }
    }
    out
}

/// The sizes of `m` as `u128`s, if every one is a literal.
fn literal_sizes(m: &Model) -> Option<Sizes<u128>> {
    let v = |s: &Size| s.lit().map(|n| n as u128);
    let opt = |s: &Option<Size>| match s {
        Some(s) => v(s).map(Some),
        None => Some(None),
    };
    Some(Sizes {
        d_model: v(&m.d_model)?,
        layers: v(&m.layers)?,
        decoder_layers: v(&m.decoder_layers)?,
        ff: opt(&m.ff)?,
        hidden: opt(&m.hidden)?,
        kdim: opt(&m.kdim)?,
        patch: opt(&m.patch)?,
        task: m.task.map(v)?,
    })
}

/// The declared size of `key` and the span of its value: a top-level key or a task size.
fn declared(fields: &Fields, key: &str) -> Option<(u128, Span)> {
    let lit = |v: &Value| match v {
        Value::Int(i) => i.base10_parse::<u128>().ok().map(|n| (n, i.span())),
        _ => None,
    };
    if let Some(f) = fields.get(key) {
        return lit(&f.value);
    }
    match &fields.get("task")?.value {
        Value::Block { fields: block, .. } => block
            .iter()
            .find(|f| f.key == key)
            .and_then(|f| lit(&f.value)),
        _ => None,
    }
}

/// A model too large to allocate compiles but aborts at run time ("memory allocation of
/// 4000000000000 bytes failed"), after the user has waited for the build: refuse it here, on the
/// largest size of the largest part of the estimate, with the estimate, the limit and the fix.
/// (With a size given as a `const`, the expansion asserts the same estimate at compile time.)
pub fn model_size_fits(m: &Model, fields: &Fields, errs: &mut Errors) {
    let Some(sizes) = literal_sizes(m) else {
        return;
    };
    let terms = terms(m, sizes);
    let total = terms.iter().fold(0u128, |a, t| a.add(t.value));
    if total <= MAX_PARAMETERS {
        return;
    }
    let Some(largest) = terms.iter().max_by_key(|t| t.value) else {
        return;
    };
    let blamed = largest
        .keys
        .iter()
        .filter_map(|k| declared(fields, k).map(|(v, span)| (v, span, *k)))
        .max_by_key(|(v, _, _)| *v);
    let (span, key) = match blamed {
        Some((_, span, key)) => (span, key),
        None => match fields.get("d_model") {
            Some(f) => (value_span(f), "d_model"),
            None => return,
        },
    };
    errs.push(
        span,
        format!(
            "this model would have about {total:.1e} trainable parameters, most of them in {}, \
             above the limit of {MAX_PARAMETERS:.0e} (4 GB of f32 weights; training needs about \
             4× that for gradients and Adam): make `{key}` smaller",
            largest.what,
            total = total as f64,
            MAX_PARAMETERS = MAX_PARAMETERS as f64,
        ),
    );
}
