//! The declaration vocabulary of attn, once: every closed set of names an `attention_model!`
//! declaration can use (architectures, tasks, activations, norms, positions, scorings, poolings,
//! cells, recurrent attention kinds, built-in data sets) as an enum.
//!
//! The macro validates declarations against these enums and the runtime's `ModelMeta` holds
//! them, so a name the macro accepts is a value the runtime has by construction: adding a
//! variant here is a compile error in every exhaustive `match` on it until each side handles it.
//!
//! Each enum has `ALL` (every value, in documentation order), `NAMES` (their spellings, same
//! order), `name` (the spelling in declarations, e.g. `"Gelu"`, `"bible-en-es"`) and `from_name`
//! (exact spelling). `Display` writes the name; with the `serde` feature, values serialize as
//! their names too. This crate has no dependencies (serde only behind its feature), so the
//! proc-macro crate can use it freely.

#![warn(missing_docs)]
#![no_std]

/// Declares one vocabulary enum: its variants with their declaration spellings, and the
/// `ALL`/`NAMES`/`name`/`from_name` items, `Display` and (feature `serde`) serde impls.
macro_rules! vocabulary {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $spelling:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// Every value, in the order the documentation lists them.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// Every value's name as written in declarations, in the order of `ALL`.
            pub const NAMES: &'static [&'static str] = &[$($spelling),+];

            /// The name as written in declarations.
            pub const fn name(self) -> &'static str {
                match self {
                    $(Self::$variant => $spelling,)+
                }
            }

            /// The value whose declaration name is `name` (exact spelling), if any.
            pub fn from_name(name: &str) -> Option<Self> {
                match name {
                    $($spelling => Some(Self::$variant),)+
                    _ => None,
                }
            }
        }

        impl core::fmt::Display for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str(self.name())
            }
        }

        #[cfg(feature = "serde")]
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.name())
            }
        }

        #[cfg(feature = "serde")]
        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct Visitor;
                impl serde::de::Visitor<'_> for Visitor {
                    type Value = $name;
                    fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                        f.write_str(concat!("the name of a ", stringify!($name)))
                    }
                    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<$name, E> {
                        $name::from_name(v)
                            .ok_or_else(|| E::unknown_variant(v, $name::NAMES))
                    }
                }
                deserializer.deserialize_str(Visitor)
            }
        }
    };
}

/// Every name but the last: the built-in names of a vocabulary whose last variant, `Custom`,
/// stands for a type of the user's.
const fn all_but_last(names: &'static [&'static str]) -> &'static [&'static str] {
    match names.split_last() {
        Some((_, rest)) => rest,
        None => &[],
    }
}

mod activation;
mod arch;
mod cell;
mod data_set;
mod norm;
mod pooling;
mod positional;
mod rnn_attention;
mod scoring;
mod task;

pub use activation::Activation;
pub use arch::Arch;
pub use cell::Cell;
pub use data_set::DataSet;
pub use norm::Norm;
pub use pooling::Pooling;
pub use positional::Positional;
pub use rnn_attention::RnnAttention;
pub use scoring::Scoring;
pub use task::TaskKind;

#[cfg(test)]
mod tests;
