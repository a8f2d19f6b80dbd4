//! Checking a sweep and expanding it: one `attention_model!` expansion per compile-time grid
//! point (validated like any declaration, so an invalid grid value is an error on that value),
//! and the sweep as data (`<Sweep>::SWEEP`).

use std::collections::BTreeSet;

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::{Ident, LitStr};

use super::parse::{Axis, SweepDeclaration};
use crate::errors::Errors;
use crate::parse::{Declaration, Field, Setting, Value};
use crate::suggest::did_you_mean;

/// The runtime settings a sweep may vary and their allowed ranges (mirrors
/// `attn_runtime::experiment::RUNTIME_SETTINGS`).
const RUNTIME: &[(&str, &str)] = &[
    ("dropout", "in [0, 1)"),
    ("lr", "positive"),
    ("weight_decay", "at least 0"),
    ("label_smoothing", "in [0, 1)"),
    ("teacher_forcing", "in [0, 1]"),
];

fn runtime_ok(key: &str, v: f64) -> bool {
    match key {
        "dropout" | "label_smoothing" => (0.0..1.0).contains(&v),
        "lr" => v > 0.0,
        "weight_decay" => v >= 0.0,
        _ => (0.0..=1.0).contains(&v),
    }
}

/// How a value reads in a generated name: digits, a name, `0p1` for `0.1`.
fn value_text(v: &Value) -> String {
    match v {
        Value::Int(i) => i.base10_digits().to_string(),
        Value::Float(f) => f.base10_digits().replace('.', "p"),
        Value::Bool(b) => b.value.to_string(),
        Value::Name(n) => n.to_string(),
        Value::Path(p) => p
            .segments
            .last()
            .map(|s| s.ident.to_string())
            .unwrap_or_default(),
        Value::Block { name, .. } => name.to_string(),
    }
}

/// How a value reads in a report: as written.
fn value_label(v: &Value) -> String {
    match v {
        Value::Float(f) => f.base10_digits().to_string(),
        other => value_text(other),
    }
}

fn camel(key: &str) -> String {
    key.split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Int(i) => i.base10_parse().ok(),
        Value::Float(f) => f.base10_parse().ok(),
        _ => None,
    }
}

/// Every combination of one value per axis, the last axis varying fastest.
fn product(axes: &[Axis]) -> Vec<Vec<usize>> {
    let mut out = vec![Vec::new()];
    for axis in axes {
        out = out
            .into_iter()
            .flat_map(|p| {
                (0..axis.values.len()).map(move |i| {
                    let mut p = p.clone();
                    p.push(i);
                    p
                })
            })
            .collect();
    }
    out
}

fn check_axes(decl: &SweepDeclaration, errs: &mut Errors) {
    let mut keys = BTreeSet::new();
    for axis in decl.grid.iter().chain(&decl.runtime) {
        if !keys.insert(axis.key.to_string()) {
            errs.push(axis.key.span(), format!("`{}` is swept twice", axis.key));
        }
    }
    for axis in &decl.grid {
        match axis.key.to_string().as_str() {
            "arch" | "task" => errs.push(
                axis.key.span(),
                format!(
                    "a grid varies hyper-parameters, not `{}`: declare one sweep per model family",
                    axis.key
                ),
            ),
            k if RUNTIME.iter().any(|(r, _)| *r == k) => errs.push(
                axis.key.span(),
                format!(
                    "`{k}` is a run-time setting: sweep it under `runtime: {{ {k}: [..] }}`, \
                     which needs no new model type"
                ),
            ),
            _ => {}
        }
    }
    for axis in &decl.runtime {
        let key = axis.key.to_string();
        let Some((_, range)) = RUNTIME.iter().find(|(r, _)| *r == key) else {
            errs.push(
                axis.key.span(),
                format!(
                    "`{key}` cannot be swept at run time{}; run-time axes are {} (architecture \
                     settings go under `grid`)",
                    did_you_mean(&key, RUNTIME.iter().map(|(k, _)| *k)),
                    RUNTIME
                        .iter()
                        .map(|(k, _)| *k)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
            continue;
        };
        for v in &axis.values {
            match number(v) {
                Some(x) if runtime_ok(&key, x) => {}
                Some(x) => errs.push(v.span(), format!("`{key}` must be {range}, got {x}")),
                None => errs.push(v.span(), format!("`{key}` takes numbers, got {}", v.kind())),
            }
        }
    }
}

/// The declaration of one grid point: the base with the point's values in place.
fn point_declaration(
    decl: &SweepDeclaration,
    name: &LitStr,
    point: &[usize],
) -> (Declaration, Vec<(String, String)>) {
    let mut fields: Vec<Field> = decl.base.clone();
    let (mut ident, mut suffix, mut settings) = (decl.ident.to_string(), String::new(), Vec::new());
    for (axis, &i) in decl.grid.iter().zip(point) {
        let value = axis.values[i].clone();
        let text = value_text(&value);
        ident.push_str(&camel(&axis.key.to_string()));
        ident.push_str(&camel(&text));
        suffix.push_str(&format!(
            "-{}{}",
            axis.key.to_string().replace('_', "-"),
            text.to_ascii_lowercase()
        ));
        settings.push((axis.key.to_string(), value_label(&axis.values[i])));
        match fields.iter_mut().find(|f| f.key == axis.key) {
            Some(f) => f.value = value,
            None => fields.push(Field {
                key: axis.key.clone(),
                value,
            }),
        }
    }
    if decl.grid.is_empty() {
        // one point, the base itself: its type must not take the sweep type's name
        ident.push_str("Base");
        suffix.push_str("-base");
    }
    let mut point_settings: Vec<Setting> = decl
        .settings
        .iter()
        .filter(|s| s.key != "name")
        .cloned()
        .collect();
    point_settings.insert(
        0,
        Setting {
            key: Ident::new("name", name.span()),
            value: LitStr::new(&format!("{}{suffix}", name.value()), name.span()),
        },
    );
    let mut docs = decl.docs.clone();
    let line = format!(
        " Grid point of the `{}` sweep: {}.",
        name.value(),
        if settings.is_empty() {
            "the base model".to_string()
        } else {
            settings
                .iter()
                .map(|(k, v)| format!("{k} = {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        }
    );
    docs.push(syn::parse_quote!(#[doc = #line]));
    (
        Declaration {
            docs,
            settings: point_settings,
            vis: decl.vis.clone(),
            ident: Ident::new(&ident, decl.ident.span()),
            fields,
        },
        settings,
    )
}

/// Expands a parsed sweep.
pub fn expand(decl: &SweepDeclaration) -> TokenStream {
    let mut errs = Errors::default();
    let name = decl
        .settings
        .iter()
        .find(|s| s.key == "name")
        .map(|s| s.value.clone());
    if name.is_none() {
        errs.push(
            decl.ident.span(),
            "missing `#[name = \"..\"]`: the sweep's name, which `cargo run --bin sweep -- <name>` \
             takes and every grid point's model name starts with",
        );
    }
    let seeds = match &decl.seeds {
        None => 1u64,
        Some(lit) => match lit.base10_parse::<u64>() {
            Ok(n) if n >= 1 => n,
            _ => {
                errs.push(lit.span(), "`seeds` must be at least 1");
                1
            }
        },
    };
    check_axes(decl, &mut errs);
    let mut models = Vec::new();
    let mut points = Vec::new();
    if let Some(name) = &name {
        for point in product(&decl.grid) {
            let (d, settings) = point_declaration(decl, name, &point);
            match crate::validate::validate(&d) {
                Ok(model) => {
                    models.push(crate::codegen::expand(&model));
                    let ident = &d.ident;
                    let (keys, values): (Vec<String>, Vec<String>) = settings.into_iter().unzip();
                    points.push(quote! {
                        ::attn_runtime::__private::SweepPoint {
                            settings: &[#((#keys, #values)),*],
                            entry: &::attn_runtime::__private::Entry::<#ident>::NEW,
                        }
                    });
                }
                Err(e) => {
                    if let Some(e) = e.combined() {
                        // each grid point repeats its declaration's mistakes: report them once
                        errs.add_unique(e);
                    }
                }
            }
        }
    }
    let (docs, vis, ident) = (&decl.docs, &decl.vis, &decl.ident);
    if let Some(errors) = errs.combined() {
        let errors = errors.to_compile_error();
        return quote! {
            #errors
            #(#docs)*
            #[derive(Clone, Copy, Debug, Default)]
            #vis struct #ident;
        };
    }
    let name = name.expect("checked above").value();
    let question = crate::parse::first_doc_line(&decl.docs);
    let runtime = decl.runtime.iter().map(|a| {
        let key = a.key.to_string();
        let values = a.values.iter().filter_map(number);
        quote!((#key, &[#(#values),*]))
    });
    let sweep = format_ident!("SWEEP");
    quote! {
        #(#models)*
        #(#docs)*
        #[derive(Clone, Copy, Debug, Default)]
        #vis struct #ident;
        impl #ident {
            /// The sweep as data: its grid points' models, run-time values and seeds.
            pub const #sweep: ::attn_runtime::__private::SweepDecl =
                ::attn_runtime::__private::SweepDecl {
                    name: #name,
                    question: #question,
                    points: &[#(#points),*],
                    runtime: &[#(#runtime),*],
                    seeds: #seeds,
                };
        }
    }
}
