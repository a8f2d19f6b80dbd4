//! The `attention_model!` declaration macro of attn, `attention_sweep!`, and
//! `#[derive(TensorCollection)]` for hand-built modules. Use them through `attn_runtime`, which
//! re-exports them with their documentation and the items their expansions name.
//!
//! `attention_model!`'s pipeline: [`parse`] (syntax tree with spans) → [`validate`] (one
//! function per rule, all errors reported at once) → [`codegen`] (dfdx modules with
//! const-generic shapes).

use proc_macro::TokenStream;

mod codegen;
mod collection;
mod errors;
mod model;
mod parse;
mod suggest;
mod sweep;
mod validate;

/// Declares an attention model; see `attn_runtime::attention_model` for the grammar.
#[proc_macro]
pub fn attention_model(input: TokenStream) -> TokenStream {
    let decl = match syn::parse::<parse::Declaration>(input) {
        Ok(decl) => decl,
        Err(err) => return err.to_compile_error().into(),
    };
    match validate::validate(&decl) {
        Ok(model) => codegen::expand(&model).into(),
        Err(errors) => codegen::errors_with_stub(&decl, errors).into(),
    }
}

/// Declares a sweep over model hyper-parameters; see `attn_runtime::attention_sweep` for the
/// grammar.
#[proc_macro]
pub fn attention_sweep(input: TokenStream) -> TokenStream {
    match syn::parse::<sweep::SweepDeclaration>(input) {
        Ok(decl) => sweep::expand(&decl).into(),
        Err(err) => err.to_compile_error().into(),
    }
}

/// dfdx's `TensorCollection` for a struct of sub-modules and tensors; see
/// `attn_runtime::TensorCollection` for the attributes.
#[proc_macro_derive(TensorCollection, attributes(collection))]
pub fn derive_tensor_collection(input: TokenStream) -> TokenStream {
    match syn::parse::<syn::DeriveInput>(input) {
        Ok(input) => collection::derive(input).into(),
        Err(err) => err.to_compile_error().into(),
    }
}
