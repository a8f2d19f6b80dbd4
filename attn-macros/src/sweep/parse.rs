//! Parsing an `attention_sweep!` declaration.
//!
//! ```text
//! attention_sweep! {
//!     /// How many heads does sentiment classification need?
//!     #[name = "heads", data = "sentiment"]
//!     pub struct HeadsSweep {
//!         base: { arch: SelfAttention, task: Classify { .. }, d_model: 64, heads: 4 },
//!         grid: { heads: [1, 2, 4, 8] },
//!         runtime: { dropout: [0.0, 0.1] },
//!         seeds: 3,
//!     }
//! }
//! ```

use syn::{
    braced, bracketed,
    parse::{Parse, ParseStream},
    punctuated::Punctuated,
    Attribute, Ident, LitInt, Token, Visibility,
};

use crate::parse::{Field, Header, Setting, Value};

/// One swept setting and its values.
pub struct Axis {
    pub key: Ident,
    pub values: Vec<Value>,
}

impl Parse for Axis {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let key: Ident = input.parse()?;
        input.parse::<Token![:]>()?;
        let content;
        bracketed!(content in input);
        let values = Punctuated::<Value, Token![,]>::parse_terminated(&content)?;
        if values.is_empty() {
            return Err(syn::Error::new(
                key.span(),
                format!("`{key}` sweeps no value: list at least one, e.g. `{key}: [1, 2]`"),
            ));
        }
        Ok(Axis {
            key,
            values: values.into_iter().collect(),
        })
    }
}

/// The whole sweep.
pub struct SweepDeclaration {
    pub docs: Vec<Attribute>,
    pub settings: Vec<Setting>,
    pub vis: Visibility,
    pub ident: Ident,
    pub base: Vec<Field>,
    pub grid: Vec<Axis>,
    pub runtime: Vec<Axis>,
    pub seeds: Option<LitInt>,
}

impl Parse for SweepDeclaration {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let Header {
            docs,
            settings,
            vis,
            ident,
        } = input.parse()?;
        let body;
        braced!(body in input);
        let (mut base, mut grid, mut runtime, mut seeds) = (None, Vec::new(), Vec::new(), None);
        while !body.is_empty() {
            let key: Ident = body.parse()?;
            body.parse::<Token![:]>()?;
            match key.to_string().as_str() {
                "base" => {
                    let content;
                    braced!(content in body);
                    base = Some(Punctuated::<Field, Token![,]>::parse_terminated(&content)?);
                }
                "grid" | "runtime" => {
                    let content;
                    braced!(content in body);
                    let axes = Punctuated::<Axis, Token![,]>::parse_terminated(&content)?;
                    if key == "grid" {
                        grid.extend(axes);
                    } else {
                        runtime.extend(axes);
                    }
                }
                "seeds" => seeds = Some(body.parse::<LitInt>()?),
                other => {
                    return Err(syn::Error::new(
                        key.span(),
                        format!(
                            "unknown part `{other}` of a sweep; it takes `base: {{ .. }}`, \
                             `grid: {{ .. }}`, `runtime: {{ .. }}` and `seeds: N`"
                        ),
                    ))
                }
            }
            if !body.is_empty() {
                body.parse::<Token![,]>()?;
            }
        }
        let base = base.ok_or_else(|| {
            syn::Error::new(
                ident.span(),
                "missing `base: { .. }`: the model every grid point starts from, declared as in \
                 `attention_model!`",
            )
        })?;
        Ok(SweepDeclaration {
            docs,
            settings,
            vis,
            ident,
            base: base.into_iter().collect(),
            grid,
            runtime,
            seeds,
        })
    }
}
