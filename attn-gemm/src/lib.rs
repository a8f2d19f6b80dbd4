//! attn's `f32` matrix product: its own AVX-512 and AVX2 register tiles, blocked for the CPU's
//! caches at run time, with the rows split into whole-tile bands so each product gives the same
//! bits on any number of threads; products the tiles do not take run on the `gemm` crate.
//!
//! Two users: attn's CPU kernels (`attn_runtime`'s projections call [`matmul_into`] on
//! slices), and dfdx's own matmuls, which `shims/gemm` routes here in place of the gemm 0.15
//! that dfdx 0.13 asks for, so that every `f32` product of a model runs on the same tiles.
//!
//! ```
//! use attn_gemm::{matmul_into, MatRef, Start};
//!
//! let x = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]; // 2 × 3
//! let w = [1.0, 0.0, 1.0, 0.0, 1.0, 0.0]; // 2 × 3, used as Wᵀ
//! let mut y = [0.0; 4];
//! let (xm, wm) = (MatRef::row_major(&x, 2, 3), MatRef::row_major(&w, 2, 3));
//! matmul_into(&mut y, Start::Zeros, xm, wm.t());
//! assert_eq!(y, [4.0, 2.0, 10.0, 5.0]);
//! ```
#![warn(missing_docs)]

mod blocked;
mod buffer;
mod cache;
mod config;
mod error;
mod isa;
mod mat;
mod micro;
mod pack;
mod product;
mod start;

pub use buffer::{release_thread_buffer, with_thread_buffer, ThreadBuffer};
pub use config::{choice, spec_items, ProductConfig, ENV_VAR, GEMM_KC_CHOICES};
pub use error::SpecError;
pub use isa::Isa;
#[cfg(target_arch = "x86_64")]
pub use isa::{has_avx2_fma, has_avx512};
pub use mat::MatRef;
#[cfg(target_arch = "x86_64")]
pub use pack::transpose8;
pub use product::{matmul_into, matmul_into_with, release_buffers};
pub use start::Start;
