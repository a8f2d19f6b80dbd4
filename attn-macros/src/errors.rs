//! The mistakes found in a macro's input, collected and reported together, each spanned on its
//! own tokens (what `attention_model!`, `attention_sweep!` and `derive(TensorCollection)` report).

use std::collections::BTreeSet;
use std::fmt::Display;

use proc_macro2::Span;

/// Every error found so far, in the order found.
#[derive(Default)]
pub struct Errors {
    /// Span and message of each error kept, for [`Errors::add_unique`].
    seen: BTreeSet<String>,
    errors: Vec<syn::Error>,
}

impl Errors {
    /// An error on `span`.
    pub fn push(&mut self, span: Span, message: impl Display) {
        self.add(syn::Error::new(span, message));
    }

    /// Each error of `e` (a combined `syn::Error` holds several).
    pub fn add(&mut self, e: syn::Error) {
        for one in e {
            self.seen.insert(key(&one));
            self.errors.push(one);
        }
    }

    /// Each error of `e` not already kept on the same span with the same message (a sweep's
    /// grid points share their declaration's mistakes).
    pub fn add_unique(&mut self, e: syn::Error) {
        for one in e {
            if self.seen.insert(key(&one)) {
                self.errors.push(one);
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// All errors as one `syn::Error` (each keeps its own span); `None` when there are none.
    pub fn combined(self) -> Option<syn::Error> {
        self.errors.into_iter().reduce(|mut a, b| {
            a.combine(b);
            a
        })
    }

    #[cfg(test)]
    pub fn messages(&self) -> Vec<String> {
        self.errors.iter().map(|e| e.to_string()).collect()
    }
}

fn key(e: &syn::Error) -> String {
    format!("{:?} {e}", e.span())
}
