//! `#[derive(TensorCollection)]`: dfdx's `TensorCollection` written from a struct's fields.
//! The rules users read (fields, `tensor = ..`, `marker(..)`, `bound(..)`) are documented once,
//! on the re-export `attn_runtime::TensorCollection`; here: parse the attributes, classify the
//! fields, find the dtype and device, work out which type parameters move, emit the impl.

use proc_macro2::TokenTree;

use crate::errors::Errors;
use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::{
    parenthesized, parse::Parse, spanned::Spanned, Data, DeriveInput, Error, Expr, Fields,
    GenericParam, Ident, Result, Token, Type, TypeParamBound, WherePredicate,
};

/// How many fields one tuple of `visit_fields` takes (dfdx implements `ModuleFields` for tuples
/// of up to six); more are grouped in nested tuples.
const TUPLE_MAX: usize = 6;

/// What the struct's `#[collection(..)]` says.
#[derive(Default)]
struct Container {
    bounds: Vec<WherePredicate>,
    markers: Vec<Ident>,
}

/// How a field takes part in the walk.
enum Role {
    /// A sub-module, visited under the field's name.
    Module,
    /// A tensor, reset by the given `TensorOptions`.
    Tensor(Expr),
    /// A `PhantomData`: not visited, rebuilt empty.
    Phantom,
}

struct Field {
    ident: Ident,
    ty: Type,
    role: Role,
}

/// The derive's output, or its errors as `compile_error!`s on the offending tokens.
pub fn derive(input: DeriveInput) -> TokenStream {
    expand(&input).unwrap_or_else(Error::into_compile_error)
}

fn expand(input: &DeriveInput) -> Result<TokenStream> {
    // every mistake at once, each on its own tokens
    let mut errors = Errors::default();
    let container = container(input).unwrap_or_else(|e| {
        errors.add(e);
        Container::default()
    });
    let fields = fields(input).unwrap_or_else(|e| {
        errors.add(e);
        Vec::new()
    });
    let params = dtype_and_device(input);
    for marker in &container.markers {
        if !input.generics.type_params().any(|p| p.ident == *marker) {
            errors.push(
                marker.span(),
                format!("`{marker}` is not a type parameter of this struct: `marker(..)` names the type parameters that stay as they are when the collection moves"),
            );
        }
    }
    if let Err(e) = &params {
        errors.add(e.clone());
    }
    if let Some(errors) = errors.combined() {
        return Err(errors);
    }
    let (e, d) = params?;
    let modules: Vec<&Field> = fields
        .iter()
        .filter(|f| matches!(f.role, Role::Module))
        .collect();
    // type parameters that are sub-module types (they move with the collection)
    let moved: Vec<&Ident> = input
        .generics
        .type_params()
        .map(|p| &p.ident)
        .filter(|p| **p != e && **p != d && !container.markers.contains(p))
        .filter(|p| modules.iter().any(|f| mentions(&f.ty, p)))
        .collect();

    let p = quote!(::attn_runtime::__private);
    let tc = quote!(#p::dfdx::nn::tensor_collection::TensorCollection);
    let visitor_trait = quote!(#p::dfdx::nn::tensor_collection::ModuleVisitor);
    let name = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let mut predicates: Vec<TokenStream> = where_clause
        .map(|w| w.predicates.iter().map(|p| quote!(#p)).collect())
        .unwrap_or_default();
    predicates.push(quote!(#e: #p::dfdx::prelude::Dtype + #p::Float + #p::SampleUniform));
    predicates.push(quote!(#d: #p::dfdx::prelude::Device<#e>));
    for m in &moved {
        predicates.push(quote_spanned!(m.span()=> #m: #tc<#e, #d>));
    }
    predicates.extend(container.bounds.iter().map(|b| quote!(#b)));

    let (e2, d2) = (format_ident!("__E2"), format_ident!("__D2"));
    let to_args = input.generics.params.iter().map(|param| match param {
        GenericParam::Type(t) if t.ident == e => quote!(#e2),
        GenericParam::Type(t) if t.ident == d => quote!(#d2),
        GenericParam::Type(t) if moved.contains(&&t.ident) => {
            let t = &t.ident;
            quote!(<#t as #tc<#e, #d>>::To<#e2, #d2>)
        }
        GenericParam::Type(t) => {
            let t = &t.ident;
            quote!(#t)
        }
        GenericParam::Const(c) => {
            let c = &c.ident;
            quote!(#c)
        }
        GenericParam::Lifetime(l) => {
            let l = &l.lifetime;
            quote!(#l)
        }
    });

    let visited: Vec<&Field> = fields
        .iter()
        .filter(|f| !matches!(f.role, Role::Phantom))
        .collect();
    let items: Vec<TokenStream> = visited
        .iter()
        .map(|f| {
            let ident = &f.ident;
            let key = ident.to_string();
            let key = key.strip_prefix("r#").unwrap_or(&key);
            match &f.role {
                Role::Tensor(options) => quote_spanned!(ident.span()=>
                    <Self as #tc<#e, #d>>::tensor(#key, |s| &s.#ident, |s| &mut s.#ident, #options)
                ),
                _ => quote_spanned!(ident.span()=>
                    <Self as #tc<#e, #d>>::module(#key, |s| &s.#ident, |s| &mut s.#ident)
                ),
            }
        })
        .collect();
    let bindings: Vec<TokenStream> = visited
        .iter()
        .map(|f| {
            let ident = &f.ident;
            quote!(#ident)
        })
        .collect();
    let phantoms = fields
        .iter()
        .filter(|f| matches!(f.role, Role::Phantom))
        .map(|f| {
            let ident = &f.ident;
            quote!(#ident: ::core::marker::PhantomData)
        });
    let field_list = grouped(items);
    let pattern = grouped(bindings.clone());

    Ok(quote! {
        impl #impl_generics #tc<#e, #d> for #name #ty_generics
        where
            #(#predicates,)*
        {
            type To<#e2: #p::dfdx::prelude::Dtype, #d2: #p::dfdx::prelude::Device<#e2>> =
                #name<#(#to_args),*>;

            fn iter_tensors<__V: #visitor_trait<Self, #e, #d>>(
                visitor: &mut __V,
            ) -> ::core::result::Result<
                ::core::option::Option<Self::To<__V::E2, __V::D2>>,
                __V::Err,
            > {
                <__V as #visitor_trait<Self, #e, #d>>::visit_fields(
                    visitor,
                    #field_list,
                    |#pattern| #name { #(#bindings,)* #(#phantoms,)* },
                )
            }
        }
    })
}

/// One item as itself, several as a tuple, more than [`TUPLE_MAX`] as a tuple of tuples (the
/// same grouping for the fields and for the pattern that takes them apart).
fn grouped(items: Vec<TokenStream>) -> TokenStream {
    match items.len() {
        1 => items.into_iter().next().expect("one item"),
        n if n <= TUPLE_MAX => quote!((#(#items,)*)),
        _ => {
            let chunks: Vec<TokenStream> = items
                .chunks(TUPLE_MAX)
                .map(|chunk| grouped(chunk.to_vec()))
                .collect();
            grouped(chunks)
        }
    }
}

fn container(input: &DeriveInput) -> Result<Container> {
    let mut container = Container::default();
    for attr in input
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("collection"))
    {
        attr.parse_nested_meta(|meta| {
            let content;
            if meta.path.is_ident("bound") {
                parenthesized!(content in meta.input);
                let bounds = content.parse_terminated(WherePredicate::parse, Token![,])?;
                container.bounds.extend(bounds);
                Ok(())
            } else if meta.path.is_ident("marker") {
                parenthesized!(content in meta.input);
                let markers = content.parse_terminated(Ident::parse, Token![,])?;
                container.markers.extend(markers);
                Ok(())
            } else {
                Err(meta.error(
                    "unknown `collection` setting on a struct: write `bound(<where-predicates>)` or `marker(<type parameters>)`",
                ))
            }
        })?;
    }
    Ok(container)
}

fn fields(input: &DeriveInput) -> Result<Vec<Field>> {
    let Data::Struct(data) = &input.data else {
        return Err(Error::new(
            input.ident.span(),
            "derive(TensorCollection) takes a struct with named fields (its sub-modules and tensors)",
        ));
    };
    let Fields::Named(named) = &data.fields else {
        return Err(Error::new(
            data.fields.span(),
            "derive(TensorCollection) needs named fields: the names are the parameters' names; a module without tensors implements `ZeroSizedModule` instead",
        ));
    };
    let (fields, errors): (Vec<_>, Vec<_>) = named
        .named
        .iter()
        .map(|f| {
            let ident = f.ident.clone().expect("a named field");
            let mut role = if last_segment_is(&f.ty, "PhantomData") {
                Role::Phantom
            } else {
                Role::Module
            };
            for attr in f.attrs.iter().filter(|a| a.path().is_ident("collection")) {
                attr.parse_nested_meta(|meta| {
                    if meta.path.is_ident("tensor") {
                        role = Role::Tensor(meta.value()?.parse()?);
                        Ok(())
                    } else {
                        Err(meta.error(
                            "unknown `collection` setting on a field: write `tensor = <TensorOptions>` (e.g. `TensorOptions::reset_to_zeros()`)",
                        ))
                    }
                })?;
            }
            if matches!(role, Role::Module) && last_segment_is(&f.ty, "Tensor") {
                return Err(Error::new(
                    f.ty.span(),
                    format!(
                        "the tensor `{ident}` needs to say how it is reset: add `#[collection(tensor = TensorOptions::reset_to_zeros())]`, or `TensorOptions::reset_with(f)` with an initialiser"
                    ),
                ));
            }
            Ok(Field {
                ident,
                ty: f.ty.clone(),
                role,
            })
        })
        .partition(Result::is_ok);
    let mut all = Errors::default();
    errors
        .into_iter()
        .filter_map(Result::err)
        .for_each(|e| all.add(e));
    match all.combined() {
        None => Ok(fields.into_iter().flatten().collect()),
        Some(e) => Err(e),
    }
}

/// The struct's dtype and device parameters: `D` bound by `Storage<E>` or `Device<E>`.
fn dtype_and_device(input: &DeriveInput) -> Result<(Ident, Ident)> {
    for param in input.generics.type_params() {
        for bound in &param.bounds {
            let TypeParamBound::Trait(t) = bound else {
                continue;
            };
            let Some(last) = t.path.segments.last() else {
                continue;
            };
            if last.ident != "Storage" && last.ident != "Device" {
                continue;
            }
            if let syn::PathArguments::AngleBracketed(args) = &last.arguments {
                if let Some(syn::GenericArgument::Type(Type::Path(e))) = args.args.first() {
                    if let Some(e) = e.path.get_ident() {
                        return Ok((e.clone(), param.ident.clone()));
                    }
                }
            }
        }
    }
    Err(Error::new(
        Span::call_site(),
        "derive(TensorCollection) needs the struct's dtype and device as type parameters, the device bound by `Storage<E>` (e.g. `struct Model<E: Dtype, D: Storage<E>>`), so the collection can move to another dtype and device",
    ))
}

fn last_segment_is(ty: &Type, name: &str) -> bool {
    matches!(ty, Type::Path(p) if p.path.segments.last().is_some_and(|s| s.ident == name))
}

/// Whether `ty` names the type parameter `param` anywhere (in its tokens).
fn mentions(ty: &Type, param: &Ident) -> bool {
    fn scan(tokens: TokenStream, param: &Ident) -> bool {
        tokens.into_iter().any(|t| match t {
            TokenTree::Ident(i) => i == *param,
            TokenTree::Group(g) => scan(g.stream(), param),
            _ => false,
        })
    }
    scan(quote!(#ty), param)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand_str(src: &str) -> std::result::Result<String, String> {
        let input: DeriveInput = syn::parse_str(src).expect("a struct");
        expand(&input)
            .map(|t| t.to_string())
            .map_err(|e| e.into_compile_error().to_string())
    }

    #[test]
    fn sub_module_parameters_move_and_markers_stay() {
        let out = expand_str(
            "struct M<Cell, Enc, S, const N: usize, E: Dtype, D: Storage<E>> {
                enc: Enc, rnn: Stack<Cell, N, E, D>, spec: PhantomData<S> }",
        )
        .unwrap();
        // Cell occurs in a sub-module's type, so without `marker` it moves too
        assert!(out.contains("< Cell as"), "{out}");
        assert!(out.contains("< Enc as"), "{out}");
        assert!(!out.contains("< S as"), "{out}");
        let out = expand_str(
            "#[collection(marker(Cell))]
            struct M<Cell, Enc, S, const N: usize, E: Dtype, D: Storage<E>> {
                enc: Enc, rnn: Stack<Cell, N, E, D>, spec: PhantomData<S> }",
        )
        .unwrap();
        assert!(!out.contains("< Cell as"), "{out}");
        assert!(
            out.contains("spec : :: core :: marker :: PhantomData"),
            "{out}"
        );
    }

    #[test]
    fn many_fields_are_grouped_in_tuples_of_six() {
        let fields: Vec<String> = (0..8).map(|i| format!("f{i}: L<E, D>")).collect();
        let src = format!(
            "struct M<E: Dtype, D: Storage<E>> {{ {} }}",
            fields.join(", ")
        );
        let out = expand_str(&src).unwrap();
        assert!(
            out.contains("| ((f0 , f1 , f2 , f3 , f4 , f5 ,) , (f6 , f7 ,) ,) |"),
            "{out}"
        );
    }

    #[test]
    fn mistakes_say_what_to_write() {
        let err = expand_str("struct M<E: Dtype, D: Storage<E>> { w: Tensor<Rank1<3>, E, D> }")
            .unwrap_err();
        assert!(
            err.contains("#[collection(tensor = TensorOptions::reset_to_zeros())]"),
            "{err}"
        );
        let err = expand_str("struct M<E, D> { a: L<E, D> }").unwrap_err();
        assert!(err.contains("`Storage<E>`"), "{err}");
        let err = expand_str("struct M<E: Dtype, D: Storage<E>>(L<E, D>);").unwrap_err();
        assert!(err.contains("named fields"), "{err}");
        let err =
            expand_str("#[collection(marker(Q))] struct M<E: Dtype, D: Storage<E>> { a: L<E, D> }")
                .unwrap_err();
        assert!(err.contains("`Q` is not a type parameter"), "{err}");
        let err =
            expand_str("#[collection(rename)] struct M<E: Dtype, D: Storage<E>> { a: L<E, D> }")
                .unwrap_err();
        assert!(err.contains("`bound(<where-predicates>)`"), "{err}");
        // all at once
        let err = expand_str(
            "#[collection(marker(Q))] struct M<E: Dtype, D: Storage<E>> {
                a: Tensor<Rank1<3>, E, D>, #[collection(tensr = x)] b: L<E, D> }",
        )
        .unwrap_err();
        assert_eq!(err.matches("compile_error").count(), 3, "{err}");
    }
}
