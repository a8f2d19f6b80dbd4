//! Parsing an `attention_model!` declaration into a syntax tree that keeps every token's span.
//!
//! ```text
//! attention_model! {
//!     /// docs
//!     #[name = "sentiment-encoder", data = "sentiment"]
//!     pub struct SentimentEncoder {
//!         arch: SelfAttention,
//!         task: Classify { vocab: 2000, max_len: 32, classes: 2 },
//!         d_model: 64, heads: 4, layers: 2,
//!         dropout: 0.1,
//!     }
//! }
//! ```
//!
//! Only the shape of the syntax is checked here; what the keys and values mean is `validate`'s job.

use proc_macro2::Span;
use syn::{
    braced, bracketed,
    parse::{Parse, ParseStream},
    punctuated::Punctuated,
    AttrStyle, Attribute, Ident, LitBool, LitFloat, LitInt, LitStr, Token, Visibility,
};

/// The whole declaration.
pub struct Declaration {
    /// `///` doc comments (kept for the generated types).
    pub docs: Vec<Attribute>,
    /// `#[name = ".."]` and `#[data = ".."]` (and anything else, which validate rejects).
    pub settings: Vec<Setting>,
    pub vis: Visibility,
    pub ident: Ident,
    pub fields: Vec<Field>,
}

/// One `key = "value"` inside the declaration's `#[...]` attribute.
#[derive(Clone)]
pub struct Setting {
    pub key: Ident,
    pub value: LitStr,
}

impl Parse for Setting {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let key: Ident = input.parse()?;
        input.parse::<Token![=]>()?;
        let value: LitStr = input.parse().map_err(|e| {
            syn::Error::new(
                e.span(),
                format!("`{key}` takes a string, e.g. `{key} = \"...\"`"),
            )
        })?;
        Ok(Setting { key, value })
    }
}

/// One `key: value` pair.
#[derive(Clone)]
pub struct Field {
    pub key: Ident,
    pub value: Value,
}

/// A value: a number, a bool, a name, a path (`sizes::WIDTH`, `crate::MyActivation`), or a
/// name with its own `{ key: value, .. }` block.
#[derive(Clone)]
pub enum Value {
    Int(LitInt),
    Float(LitFloat),
    Bool(LitBool),
    Name(Ident),
    /// A path of more than one segment (a single identifier is a `Name`).
    Path(syn::Path),
    Block {
        name: Ident,
        fields: Vec<Field>,
    },
}

impl Value {
    pub fn span(&self) -> Span {
        match self {
            Value::Int(v) => v.span(),
            Value::Float(v) => v.span(),
            Value::Bool(v) => v.span(),
            Value::Name(v) => v.span(),
            Value::Path(p) => syn::spanned::Spanned::span(p),
            Value::Block { name, .. } => name.span(),
        }
    }

    /// The value as a path, if it is a name or a path: a `const` item for a size, a type for an
    /// activation.
    pub fn path(&self) -> Option<syn::Path> {
        match self {
            Value::Name(id) => Some(id.clone().into()),
            Value::Path(p) => Some(p.clone()),
            _ => None,
        }
    }

    /// What kind of value this is, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Int(_) => "an integer",
            Value::Float(_) => "a decimal number",
            Value::Bool(_) => "a bool",
            Value::Name(_) => "a name",
            Value::Path(_) => "a path",
            Value::Block { .. } => "a `Name { .. }` block",
        }
    }
}

impl Parse for Declaration {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let Header {
            docs,
            settings,
            vis,
            ident,
        } = input.parse()?;
        let content;
        braced!(content in input);
        let fields = parse_fields(&content)?;
        if !input.is_empty() {
            return Err(input
                .error("one `attention_model!` declares one model: nothing may follow its `}`"));
        }
        Ok(Declaration {
            docs,
            settings,
            vis,
            ident,
            fields,
        })
    }
}

/// The first non-empty line of the doc comments `docs`, trimmed (empty without one).
pub fn first_doc_line(docs: &[Attribute]) -> String {
    docs.iter()
        .filter_map(|attr| match &attr.meta {
            syn::Meta::NameValue(nv) => match &nv.value {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                }) => Some(s.value().trim().to_string()),
                _ => None,
            },
            _ => None,
        })
        .find(|line| !line.is_empty())
        .unwrap_or_default()
}

/// What `attention_model!` and `attention_sweep!` both start with: doc comments and
/// `#[key = value, ..]` settings in any order, then `pub struct Name`.
pub struct Header {
    /// The `///` doc comments, kept for the generated items.
    pub docs: Vec<Attribute>,
    /// The settings of every non-doc attribute, in order.
    pub settings: Vec<Setting>,
    /// The struct's visibility.
    pub vis: Visibility,
    /// The struct's name.
    pub ident: Ident,
}

impl Parse for Header {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let mut docs = Vec::new();
        let mut settings = Vec::new();
        while input.peek(Token![#]) {
            let pound_token: Token![#] = input.parse()?;
            let content;
            let bracket_token = bracketed!(content in input);
            if content.fork().parse::<Ident>().is_ok_and(|id| id == "doc") {
                docs.push(Attribute {
                    pound_token,
                    style: AttrStyle::Outer,
                    bracket_token,
                    meta: content.parse()?,
                });
            } else {
                let list = Punctuated::<Setting, Token![,]>::parse_terminated(&content)?;
                settings.extend(list);
            }
        }
        let vis: Visibility = input.parse()?;
        input.parse::<Token![struct]>()?;
        let ident: Ident = input.parse()?;
        Ok(Header {
            docs,
            settings,
            vis,
            ident,
        })
    }
}

fn parse_fields(input: ParseStream) -> syn::Result<Vec<Field>> {
    let fields = Punctuated::<Field, Token![,]>::parse_terminated(input)?;
    Ok(fields.into_iter().collect())
}

impl Parse for Field {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let key: Ident = input.parse()?;
        input.parse::<Token![:]>().map_err(|e| {
            syn::Error::new(
                e.span(),
                format!("expected `:` after `{key}` (fields are `key: value`)"),
            )
        })?;
        let value: Value = input.parse()?;
        Ok(Field { key, value })
    }
}

impl Parse for Value {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let lookahead = input.lookahead1();
        if lookahead.peek(LitInt) {
            Ok(Value::Int(input.parse()?))
        } else if lookahead.peek(LitFloat) {
            Ok(Value::Float(input.parse()?))
        } else if lookahead.peek(LitBool) {
            Ok(Value::Bool(input.parse()?))
        } else if input.peek(Token![::])
            || input.peek(Token![crate])
            || input.peek(Token![self])
            || input.peek(Token![super])
            || (input.peek(Ident) && input.peek2(Token![::]))
        {
            Ok(Value::Path(syn::Path::parse_mod_style(input)?))
        } else if lookahead.peek(Ident) {
            let name: Ident = input.parse()?;
            if input.peek(syn::token::Brace) {
                let content;
                braced!(content in input);
                let fields = parse_fields(&content)?;
                Ok(Value::Block { name, fields })
            } else {
                Ok(Value::Name(name))
            }
        } else {
            Err(lookahead.error())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(src: &str) -> syn::Result<Declaration> {
        syn::parse_str(src)
    }

    #[test]
    fn parses_a_full_declaration() {
        let d = parse(
            r#"
            /// Docs.
            #[name = "x", data = "sentiment"]
            pub struct X {
                arch: SelfAttention,
                task: Classify { vocab: 100, max_len: 8, classes: 2 },
                d_model: 16, dropout: 0.1, causal: true,
            }"#,
        )
        .unwrap();
        assert_eq!(d.docs.len(), 1);
        assert_eq!(d.settings.len(), 2);
        assert_eq!(d.settings[0].key, "name");
        assert_eq!(d.settings[1].value.value(), "sentiment");
        assert_eq!(d.ident, "X");
        let keys: Vec<String> = d.fields.iter().map(|f| f.key.to_string()).collect();
        assert_eq!(keys, ["arch", "task", "d_model", "dropout", "causal"]);
        match &d.fields[1].value {
            Value::Block { name, fields } => {
                assert_eq!(name, "Classify");
                assert_eq!(fields.len(), 3);
            }
            _ => panic!("task is a block"),
        }
        assert!(matches!(d.fields[3].value, Value::Float(_)));
        assert!(matches!(d.fields[4].value, Value::Bool(_)));
    }

    #[test]
    fn rejects_a_missing_colon_with_a_hint() {
        let err = parse("struct X { d_model 16 }").err().unwrap();
        assert!(
            err.to_string().contains("expected `:` after `d_model`"),
            "{err}"
        );
    }

    #[test]
    fn rejects_trailing_tokens() {
        let err = parse("struct X { } struct Y { }").err().unwrap();
        assert!(err.to_string().contains("declares one model"), "{err}");
    }

    #[test]
    fn parses_paths_as_values() {
        let d = parse("struct X { d_model: sizes::WIDTH, heads: HEADS, activation: crate::Act }")
            .unwrap();
        assert!(matches!(&d.fields[0].value, Value::Path(p) if p.segments.len() == 2));
        assert!(matches!(&d.fields[1].value, Value::Name(_)));
        assert!(matches!(&d.fields[2].value, Value::Path(p) if p.segments.len() == 2));
    }

    #[test]
    fn rejects_a_string_value() {
        assert!(parse(r#"struct X { arch: "SelfAttention" }"#).is_err());
    }
}
