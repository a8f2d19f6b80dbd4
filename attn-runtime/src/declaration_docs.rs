//! The documentation of `attention_model!`, attached to its re-export.

/// Declares an attention model whose shapes the compiler checks.
///
/// ```
/// use attn_runtime::prelude::*;
///
/// attention_model! {
///     /// Classifies short reviews as positive or negative.
///     #[name = "tiny-sentiment", data = "sentiment"]
///     pub struct TinySentiment {
///         arch: SelfAttention,
///         task: Classify { vocab: 100, max_len: 8, classes: 2 },
///         d_model: 16, heads: 2, layers: 1,
///         dropout: 0.1,
///     }
/// }
///
/// let dev: Cpu = Default::default();
/// let model = dev.build_module::<TinySentiment, f32>();
/// let ids: Tensor<(usize, Const<8>), usize, _> = dev.tensor_from_vec(vec![3; 16], (2, Const));
/// let logits: Tensor<(usize, Const<2>), f32, _> = model.forward(ids);
/// assert_eq!(TinySentiment::META.name, "tiny-sentiment");
/// ```
///
/// # Grammar
///
/// A doc comment, an optional `#[name = "registry-name", data = "dataset"]` (the name defaults to
/// the kebab-case type name; `data` is the default dataset), then `pub struct Name { key: value, .. }`:
///
/// | key | value | applies to |
/// |---|---|---|
/// | `arch` | `SingleHead`, `SelfAttention`, `PatchAttention`, `Recurrent`, `Transformer`, `Decoder` (decoder-only, GPT-style) | all (required) |
/// | `task` | `Classify { vocab, max_len, classes }`, `Tag { vocab, max_len, tags }`, `Seq2Seq { src_vocab, tgt_vocab, src_len, tgt_len }`, `ImageClassify { channels, height, width, classes }`, `LanguageModel { vocab, context }` (Decoder) | all (required) |
/// | `d_model` | model width | all (required) |
/// | `dropout` | in `[0, 1)`, default 0 | all |
/// | `heads` | divides `d_model` | SelfAttention, PatchAttention, Transformer, Decoder (required) |
/// | `layers` | ≥ 1 | SelfAttention, PatchAttention, Decoder (required), Transformer encoders, Recurrent |
/// | `encoder_layers`, `decoder_layers` | ≥ 1 | Seq2Seq transformers (required) |
/// | `ff`, `activation`, `norm` | width; `Relu` `Gelu` `GeluTanh` `Silu` `Tanh` `Sigmoid` `LeakyRelu` `Geglu` `Swiglu`, or a type of yours implementing [`Activation`](crate::transformer::Activation) (named unlike these); `Pre` `Post` (default `Post`; `Pre` for Decoder) | Transformer, Decoder (`ff` required) |
/// | `kdim`, `vdim` | encoder width (the decoder's cross-attention key and value width, default `d_model`; `vdim` can only repeat `kdim`) | Seq2Seq transformers |
/// | `tie_embeddings` | `true`: the output layer reuses the (target) embedding | Seq2Seq transformers, Decoder |
/// | `positional` | `Sinusoidal` (default), `Learned` (default for images and Decoder), `Rotary` (Transformer, Decoder), `None` | all but Recurrent |
/// | `scoring` | `Dot` or `Scaled` (default), or a type of yours implementing [`ScoreFn`](crate::model::ScoreFn) (named unlike these) | SingleHead |
/// | `pooling` | `Mean` (default), `Cls` (transformers: the first token, or a learned class token before an image's patches) | classifiers |
/// | `window`, `causal` | local attention window ≥ 1; `true`/`false` (a Decoder is always causal) | token encoders; `window` also Decoder |
/// | `patch` | divides the image | PatchAttention, image Transformers (required) |
/// | `cell`, `hidden`, `bidirectional`, `attention` | `Lstm`/`Gru`; width; bool; `Additive`/`General`/`Dot`, or (sequence-to-sequence) a type of yours implementing [`ScoreFn`](crate::model::ScoreFn), in Luong's place | Recurrent |
///
/// **Positions and large vocabularies.** Token embeddings start as dfdx's do, at U(±1/√vocab),
/// with no √d_model scale (unlike the Transformer paper; PyTorch's `nn.Embedding` starts at
/// N(0, 1)). With a vocabulary of thousands, `Sinusoidal` positions then dwarf the tokens at the
/// start — rows of norm √(d_model/2) against √(d_model/(3·vocab)), 8 against 0.1 for 4,096
/// tokens of width 128 — and training is slow: declare
/// `positional: Learned` (or `Rotary`) there, as `bible-transformer` does (its validation loss
/// after one epoch: 5.18 with learnt positions, 6.02 with sinusoids).
///
/// Every size — `d_model`, `heads`, `layers`, `encoder_layers`, `decoder_layers`, `ff`, `window`,
/// `patch`, `hidden`, `kdim`, `vdim` and the task's sizes — is an integer literal or the path of a
/// `const` item of type `usize` (`d_model: WIDTH`, `patch: sizes::PATCH`). The macro cannot see a
/// const's value, so the rules that need it (at least 1, 2 classes, heads divide `d_model` and
/// `kdim`, the patch tiles the image, `vdim` = `kdim`, the size limit) become `const` assertions
/// in the expansion: breaking one is still a compile error, reported by the compiler (E0080) with
/// the rule as its message, on the macro call rather than on the token:
///
/// ```compile_fail,E0080
/// use attn_runtime::prelude::*;
/// const WIDTH: usize = 30;
/// attention_model! {
///     /// 4 heads cannot split a width of 30.
///     pub struct Uneven {
///         arch: SelfAttention,
///         task: Classify { vocab: 100, max_len: 8, classes: 2 },
///         d_model: WIDTH, heads: 4, layers: 1,
///     }
/// }
/// ```
///
/// Every mistake is a compile error on the offending token, all of a declaration's mistakes at
/// once: unknown or duplicate keys (with a "did you mean"), unknown names (listing the valid ones),
/// heads that do not divide `d_model`, a patch that does not divide the image, dropout outside
/// `[0, 1)`, zero layers, keys that do not apply to the architecture, missing keys.
///
/// # Size limit
///
/// A declaration may have at most 1e9 trainable parameters (4 GB of `f32` weights; training
/// holds about 4× that for gradients and Adam's moments). The macro estimates the count from the
/// declared sizes — embeddings `vocab·d_model`, attention `4·d_model²` per layer, feed-forward
/// `2·d_model·ff` per layer (`3·` for `Geglu`/`Swiglu`), recurrent gates, output layers and
/// learned positions, leaving out biases and norms (within a factor of about 1.5) — and a model
/// above the limit is a compile error on its largest size (e.g. `d_model: 1_000_000`), with the
/// estimate, instead of an allocation failure at run time. This check runs once the rest of the
/// declaration is valid.
///
/// # What it expands to
/// - `Name`: the builder (`dev.build_module::<Name, f32>()`), implementing
///   [`DeclaredModel`](crate::model::DeclaredModel) with the declaration as data in `Name::META`;
/// - `NameModel<E, D>`: the built dfdx module ([`TokenModel`](crate::model::TokenModel) or
///   [`PatchModel`](crate::model::PatchModel) with the declared sizes), with `Module` (evaluation),
///   `ModuleMut` (training, with dropout) and `try_forward_with` (padding lengths and every
///   layer's attention weights).
///
/// Image models expand into a [`PatchModel`](crate::model::PatchModel): self-attention layers for
/// `PatchAttention`, pre-norm or post-norm blocks with feed-forward networks for `Transformer`
/// (a vision transformer; `pooling: Cls` puts a learned [`ClassToken`](crate::model::ClassToken)
/// before the patches and classifies from it).
///
/// Recurrent models expand into [`RnnSeq2Seq`](crate::model::RnnSeq2Seq) (Bahdanau with
/// `attention: Additive`, Luong with `General`, `Dot` or a score function of yours through
/// [`ScoredStates`](crate::model::ScoredStates)) or
/// [`RnnClassifier`](crate::model::RnnClassifier) (attention pooling). Transformers expand into a
/// [`TokenModel`](crate::model::TokenModel) over a
/// [`TransformerEncoder`](crate::transformer::TransformerEncoder) (classifiers and taggers) or a
/// [`TransformerSeq2Seq`](crate::model::TransformerSeq2Seq) (`kdim` sets the encoder width,
/// `tie_embeddings` ties the output layer to the target embedding). A `Decoder` expands into a
/// [`CausalLm`](crate::model::CausalLm): pre-norm blocks of causal self-attention and a
/// feed-forward network over token embeddings and positions, a final norm, and an output over the
/// vocabulary (tied to the embedding with `tie_embeddings: true`), trained on next-token
/// prediction and generating with a key/value cache ([`generate`](crate::infer::generate)):
///
/// ```
/// use attn_runtime::prelude::*;
///
/// attention_model! {
///     /// A character-level GPT.
///     #[name = "tiny-gpt", data = "bible-en"]
///     pub struct TinyGpt {
///         arch: Decoder,
///         task: LanguageModel { vocab: 96, context: 32 },
///         d_model: 32, heads: 4, layers: 2, ff: 64,
///         positional: Rotary, tie_embeddings: true,
///     }
/// }
/// assert!(TinyGpt::META.causal);
/// ```
///
/// Feeding a tensor of the wrong length, or reading logits of the wrong class count, does not
/// compile:
///
/// ```compile_fail
/// use attn_runtime::prelude::*;
/// attention_model! {
///     /// A model of 8-token inputs and 2 classes.
///     pub struct Tiny {
///         arch: SelfAttention,
///         task: Classify { vocab: 100, max_len: 8, classes: 2 },
///         d_model: 16, heads: 2, layers: 1,
///     }
/// }
/// let dev: Cpu = Default::default();
/// let model = dev.build_module::<Tiny, f32>();
/// let ids: Tensor<(usize, Const<9>), usize, _> = dev.tensor_from_vec(vec![3; 18], (2, Const));
/// let _ = model.forward(ids); // 9 tokens, not 8
/// ```
///
/// ```compile_fail
/// use attn_runtime::prelude::*;
/// attention_model! {
///     /// A model of 8-token inputs and 2 classes.
///     pub struct Tiny {
///         arch: SelfAttention,
///         task: Classify { vocab: 100, max_len: 8, classes: 2 },
///         d_model: 16, heads: 2, layers: 1,
///     }
/// }
/// let dev: Cpu = Default::default();
/// let model = dev.build_module::<Tiny, f32>();
/// let ids: Tensor<(usize, Const<8>), usize, _> = dev.tensor_from_vec(vec![3; 16], (2, Const));
/// let _: Tensor<(usize, Const<3>), f32, _> = model.forward(ids); // 2 classes, not 3
/// ```
///
/// ```compile_fail
/// use attn_runtime::prelude::*;
/// attention_model! {
///     /// 8×8 grey images in 2×2 patches.
///     pub struct TinyPatches {
///         arch: PatchAttention,
///         task: ImageClassify { channels: 1, height: 8, width: 8, classes: 10 },
///         d_model: 16, heads: 2, layers: 1, patch: 2,
///     }
/// }
/// let dev: Cpu = Default::default();
/// let model = dev.build_module::<TinyPatches, f32>();
/// let images: Tensor<(usize, Const<3>, Const<8>, Const<8>), f32, _> = dev.zeros_like(&(2, Const, Const, Const));
/// let _ = model.forward(images); // 3 channels, not 1
/// ```
pub use attn_macros::attention_model;
