//! Per-call attention settings: mask, scale, dropout and whether to return the weights.

use super::mask::AttentionMask;
use super::rotary::Rotary;

/// How the scores `q · kᵀ` are scaled before the softmax.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum Scale {
    /// `1 / sqrt(d_k)`, as in "Attention Is All You Need" (PyTorch's default).
    #[default]
    InverseSqrtHeadDim,
    /// No scaling: plain dot-product attention.
    Unscaled,
    /// A fixed factor (PyTorch's `scale=`).
    Factor(f64),
}

impl Scale {
    /// The factor for a head dimension of `head_dim`.
    pub fn factor(self, head_dim: usize) -> f64 {
        match self {
            Scale::InverseSqrtHeadDim => 1.0 / (head_dim as f64).sqrt(),
            Scale::Unscaled => 1.0,
            Scale::Factor(f) => f,
        }
    }
}

/// Which implementation computes scaled dot-product attention.
///
/// Both compute the same function; they differ in speed, memory and what they can return.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AttentionKernel {
    /// The fused kernel where it applies (`f32` on the `Cpu`, weights not requested, head dims
    /// of at least 1), the composite one everywhere else.
    #[default]
    Auto,
    /// dfdx's composite ops (matmul, softmax, mask multiply): materialises the `[Sq, Sk]`
    /// weights; the reference, and the path for weight capture and CUDA.
    Composite,
    /// The fused CPU kernel ([`crate::attention::fused`]); an error where it does not apply
    /// (another device or dtype, or weights requested).
    Fused,
}

/// Settings of one attention call.
///
/// The default is evaluation mode: no mask, `1/sqrt(d_k)` scaling, no dropout, weights returned.
///
/// ```
/// use attn_runtime::attention::{AttentionMask, AttentionOptions};
/// let opts = AttentionOptions::default()
///     .mask(AttentionMask::none().causal())
///     .train(0.1)
///     .skip_weights();
/// assert_eq!(opts.effective_dropout(), 0.1);
/// assert!(!opts.need_weights);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct AttentionOptions {
    /// Which keys each query may see.
    pub mask: AttentionMask,
    /// Score scaling.
    pub scale: Scale,
    /// Dropout probability on the attention weights (PyTorch's `dropout_p`), in `[0, 1)`.
    pub dropout: f64,
    /// Dropout is applied only when this is set (PyTorch's `module.train()`).
    pub training: bool,
    /// Whether to return the weights; when `false` callers promise not to read them and the
    /// implementation may avoid materialising them.
    pub need_weights: bool,
    /// Rotary position embedding of queries and keys (multi-head attention only).
    pub rotary: Option<Rotary>,
    /// Which implementation computes the scaled dot-product attention.
    pub kernel: AttentionKernel,
}

impl Default for AttentionOptions {
    fn default() -> Self {
        AttentionOptions {
            mask: AttentionMask::none(),
            scale: Scale::default(),
            dropout: 0.0,
            training: false,
            need_weights: true,
            rotary: None,
            kernel: AttentionKernel::Auto,
        }
    }
}

impl AttentionOptions {
    /// Sets the mask.
    pub fn mask(mut self, mask: AttentionMask) -> Self {
        self.mask = mask;
        self
    }

    /// Sets the score scaling.
    pub fn scale(mut self, scale: Scale) -> Self {
        self.scale = scale;
        self
    }

    /// Training mode with attention-weight dropout `p`.
    pub fn train(mut self, p: f64) -> Self {
        self.training = true;
        self.dropout = p;
        self
    }

    /// Evaluation mode: no dropout whatever `dropout` says.
    pub fn eval(mut self) -> Self {
        self.training = false;
        self
    }

    /// Do not return the attention weights.
    pub fn skip_weights(mut self) -> Self {
        self.need_weights = false;
        self
    }

    /// Chooses the attention implementation (default [`AttentionKernel::Auto`]).
    pub fn kernel(mut self, kernel: AttentionKernel) -> Self {
        self.kernel = kernel;
        self
    }

    /// The dropout probability that applies now: `dropout` in training mode, else 0.
    pub fn effective_dropout(&self) -> f64 {
        if self.training {
            self.dropout
        } else {
            0.0
        }
    }
}
