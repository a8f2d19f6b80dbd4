//! Sizes as the expansion writes them: a literal the macro computed, or a `const` expression over
//! the user's `const` items that the compiler evaluates (`{ WIDTH * 4 }`).

use std::fmt;

use proc_macro2::{Literal, TokenStream};
use quote::{quote, ToTokens};

use crate::model::Size;
use crate::validate::Num;

/// A `usize` size in the expansion.
#[derive(Clone, Debug)]
pub enum Dim {
    Lit(usize),
    /// A `usize` expression of `const` items.
    Expr(TokenStream),
}

impl Dim {
    pub fn of(s: &Size) -> Dim {
        match s {
            Size::Lit(n) => Dim::Lit(*n),
            Size::Const(p) => Dim::Expr(quote!(#p)),
        }
    }

    /// As a const generic argument: `64`, or `{ WIDTH * 4 }`.
    pub fn arg(&self) -> TokenStream {
        match self {
            Dim::Lit(n) => Literal::usize_unsuffixed(*n).into_token_stream(),
            Dim::Expr(e) => quote!({ #e }),
        }
    }

    /// As an operand of a larger expression.
    fn operand(&self) -> TokenStream {
        match self {
            Dim::Lit(n) => Literal::usize_unsuffixed(*n).into_token_stream(),
            Dim::Expr(e) => quote!((#e)),
        }
    }

    fn op(
        self,
        o: Dim,
        lit: impl Fn(usize, usize) -> usize,
        expr: impl Fn(TokenStream, TokenStream) -> TokenStream,
    ) -> Dim {
        match (&self, &o) {
            (Dim::Lit(a), Dim::Lit(b)) => Dim::Lit(lit(*a, *b)),
            _ => Dim::Expr(expr(self.operand(), o.operand())),
        }
    }

    pub fn add(self, o: Dim) -> Dim {
        self.op(o, usize::saturating_add, |a, b| quote!(#a + #b))
    }

    pub fn mul(self, o: Dim) -> Dim {
        self.op(o, usize::saturating_mul, |a, b| quote!(#a * #b))
    }

    pub fn div(self, o: Dim) -> Dim {
        self.op(
            o,
            |a, b| a.checked_div(b).unwrap_or(0),
            |a, b| quote!(#a / #b),
        )
    }
}

impl fmt::Display for Dim {
    /// For the generated docs: `64`, or the expression as written, `WIDTH * 4`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dim::Lit(n) => write!(f, "{n}"),
            Dim::Expr(e) => f.write_str(&e.to_string().replace(" :: ", "::")),
        }
    }
}

/// The size estimate as a `const` `u128` expression (saturating, so it cannot overflow), for the
/// backstop of a declaration whose sizes the macro cannot see.
#[derive(Clone)]
pub struct ConstEstimate(pub TokenStream);

impl ConstEstimate {
    pub fn of(s: &Size) -> ConstEstimate {
        match s {
            Size::Lit(n) => ConstEstimate::n(*n as u128),
            Size::Const(p) => ConstEstimate(quote!((#p as u128))),
        }
    }
}

impl Num for ConstEstimate {
    fn n(v: u128) -> Self {
        ConstEstimate(Literal::u128_suffixed(v).into_token_stream())
    }
    fn add(self, o: Self) -> Self {
        let (a, b) = (self.0, o.0);
        ConstEstimate(quote!(u128::saturating_add(#a, #b)))
    }
    fn mul(self, o: Self) -> Self {
        let (a, b) = (self.0, o.0);
        ConstEstimate(quote!(u128::saturating_mul(#a, #b)))
    }
    fn div(self, o: Self) -> Self {
        let (a, b) = (self.0, o.0);
        ConstEstimate(quote!(match #b { 0 => 0, b => #a / b }))
    }
}
