//! # attn-runtime
//!
//! The crate users of attn depend on: attention layers on [dfdx] tensors whose feature widths are
//! compile-time constants, so a wrong tensor is a type error, plus (as they land) recurrent and
//! transformer layers, training, data, metrics and visualisation.
//!
//! Errors that shapes cannot rule out come back as [`AttnError`].
#![warn(missing_docs)]

// `::attn_runtime::…` paths, which derive(TensorCollection) writes, resolve inside this crate too
extern crate self as attn_runtime;

/// Declares a module's kernel table: a struct of function pointers over the dtype `E`, device
/// `D` and tape `T` (each field `name: fn-pointer type = the function at E, D, T`), its tables
/// for the supported triples (f32 and f64 on the `Cpu`, f32 on `Cuda`; either tape) as statics —
/// so attn-runtime compiles those functions, once — and `fn kernels::<E, D, T>()`, which picks
/// one at run time. Layers generic over `E, D, T` call their shape-erased cores through it: a
/// crate instantiating them compiles a table lookup, not the cores. (Defined before the modules,
/// so that every module sees it.)
macro_rules! kernel_tables {
    (
        $(#[$doc:meta])*
        struct $table:ident {
            $($field:ident: $ty:ty = $kernel:expr),+ $(,)?
        }
    ) => {
        $(#[$doc])*
        struct $table<E: Dtype, D: Device<E>, T: Tape<E, D> + 'static> {
            $($field: $ty,)+
        }

        impl<E: Dtype, D: Device<E>, T: Tape<E, D> + 'static> $table<E, D, T> {
            const COMPILED: Self = $table {
                $($field: $kernel,)+
            };
        }

        static CPU_NONE: $table<f32, ::dfdx::tensor::Cpu, ::dfdx::tensor::NoneTape> =
            $table::<f32, ::dfdx::tensor::Cpu, ::dfdx::tensor::NoneTape>::COMPILED;
        static CPU_OWNED: $table<
            f32,
            ::dfdx::tensor::Cpu,
            ::dfdx::tensor::OwnedTape<f32, ::dfdx::tensor::Cpu>,
        > = $table::<f32, ::dfdx::tensor::Cpu, ::dfdx::tensor::OwnedTape<f32, ::dfdx::tensor::Cpu>>::COMPILED;
        static CPU_F64_NONE: $table<f64, ::dfdx::tensor::Cpu, ::dfdx::tensor::NoneTape> =
            $table::<f64, ::dfdx::tensor::Cpu, ::dfdx::tensor::NoneTape>::COMPILED;
        static CPU_F64_OWNED: $table<
            f64,
            ::dfdx::tensor::Cpu,
            ::dfdx::tensor::OwnedTape<f64, ::dfdx::tensor::Cpu>,
        > = $table::<f64, ::dfdx::tensor::Cpu, ::dfdx::tensor::OwnedTape<f64, ::dfdx::tensor::Cpu>>::COMPILED;
        #[cfg(feature = "cuda")]
        static CUDA_NONE: $table<f32, ::dfdx::tensor::Cuda, ::dfdx::tensor::NoneTape> =
            $table::<f32, ::dfdx::tensor::Cuda, ::dfdx::tensor::NoneTape>::COMPILED;
        #[cfg(feature = "cuda")]
        static CUDA_OWNED: $table<
            f32,
            ::dfdx::tensor::Cuda,
            ::dfdx::tensor::OwnedTape<f32, ::dfdx::tensor::Cuda>,
        > = $table::<f32, ::dfdx::tensor::Cuda, ::dfdx::tensor::OwnedTape<f32, ::dfdx::tensor::Cuda>>::COMPILED;

        /// This module's kernels for `E`, `D`, `T` (compiled in attn-runtime).
        fn kernels<E: Dtype, D: Device<E>, T: Tape<E, D> + 'static>(
        ) -> Result<&'static $table<E, D, T>, crate::AttnError> {
            #[cfg(not(feature = "cuda"))]
            let tables: [&'static (dyn ::std::any::Any + Send + Sync); 4] =
                [&CPU_NONE, &CPU_OWNED, &CPU_F64_NONE, &CPU_F64_OWNED];
            #[cfg(feature = "cuda")]
            let tables: [&'static (dyn ::std::any::Any + Send + Sync); 6] = [
                &CPU_NONE,
                &CPU_OWNED,
                &CPU_F64_NONE,
                &CPU_F64_OWNED,
                &CUDA_NONE,
                &CUDA_OWNED,
            ];
            crate::kernels::cpu_op::pick(&tables)
        }
    };
}

pub mod attention;
pub mod data;
pub mod distributed;
pub use attn_gemm as gemm;
pub use kernels::elementwise;
pub use kernels::tuning;
mod error;
pub mod experiment;
pub mod infer;
mod kernels;
pub mod loss;
pub mod metrics;
pub mod model;
pub mod optim;
pub mod param;
pub mod pytorch_names;
pub mod registry;
pub mod rnn;
pub mod run;
pub mod state_dict;
pub mod suggest;
pub mod tape_holder;
pub mod threads;
pub mod tokens;
pub mod train;
pub mod transformer;
pub mod viz;
pub mod zoo;

/// The declaration vocabulary (architectures, tasks, activations, norms, positions, scorings,
/// poolings, cells, recurrent attention kinds, built-in data sets) as enums: the types of
/// [`ModelMeta`](model::ModelMeta)'s options.
pub use attn_spec as spec;
pub use dfdx;
pub use error::AttnError;

mod declaration_docs;
pub use declaration_docs::attention_model;

mod sweep_docs;
pub use sweep_docs::attention_sweep;

mod collection_docs;
pub use collection_docs::TensorCollection;

/// What `attention_model!` expansions name by absolute path; not a public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::attention::{AdditiveAttention, GeneralAttention};
    pub use crate::experiment::{SweepDecl, SweepPoint};
    pub use crate::model::*;
    pub use crate::rnn::{GruCell, LstmCell};
    pub use crate::transformer::{
        Activation, FeedForward, GatedFeedForward, Gelu, GeluTanh, LeakyRelu, Relu, Sigmoid, Silu,
        Tanh, TiedOutput, TransformerEncoder, UntiedOutput,
    };
    pub use crate::zoo::Entry;
    pub use attn_spec;
    pub use dfdx;
    pub use num_traits::Float;
    pub use rand_distr::uniform::SampleUniform;
}

/// The device tests and examples run on: CPU by default, CUDA with the `cuda` feature.
#[cfg(not(feature = "cuda"))]
pub type DefaultDevice = dfdx::tensor::Cpu;
/// The device tests and examples run on: CPU by default, CUDA with the `cuda` feature.
#[cfg(feature = "cuda")]
pub type DefaultDevice = dfdx::tensor::Cuda;

/// Everything a model file needs: dfdx's prelude and attn's layers (attn's names win where both
/// have one, e.g. `MultiHeadAttention`).
pub mod prelude {
    pub use crate::attention::{
        builder, dot_attention, try_attend, try_dot_product_attention,
        try_scaled_dot_product_attention, AdditiveAttention, AdditiveAttentionBuilder,
        AttentionKernel, AttentionMask, AttentionOptions, AttnOutput, BoolMask, GeneralAttention,
        GeneralAttentionBuilder, MhaOutput, MultiHeadAttention, Projection, ProjectionBuilder,
        Scale, ScoredOutput, SdpaOutput, SelfAttendable, StepOutput,
    };
    pub use crate::model::{
        AttnModel, DeclaredModel, ForwardOptions, LayerAttention, Mode, ModelMeta, ModelOutput,
        Seq2SeqInput,
    };
    pub use crate::{
        attention_model, attention_sweep, pytorch_names::LoadPytorch, state_dict::StateDict,
        AttnError, DefaultDevice, TensorCollection,
    };
    pub use dfdx::prelude::*;
}
