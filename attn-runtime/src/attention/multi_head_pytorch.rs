//! Loading [`MultiHeadAttention`] parameters from a PyTorch `nn.MultiheadAttention` state dict.

use dfdx::prelude::*;

use super::{MultiHeadAttention, Projection};
use crate::{error::AttnError, state_dict::StateDict};

impl<const M: usize, const H: usize, const K: usize, const V: usize, E, D, const BIAS: bool>
    MultiHeadAttention<M, H, K, V, E, D, BIAS>
where
    E: Dtype,
    D: Device<E>,
{
    /// Loads the parameters of a PyTorch `nn.MultiheadAttention(M, H, bias=BIAS, kdim=K, vdim=V)`
    /// from its state dict, every name prefixed by `prefix` (e.g. `"self_attn."`, or `""`).
    ///
    /// PyTorch stores the input projections fused as `in_proj_weight [3M, M]` (and
    /// `in_proj_bias [3M]`) when `K = V = M`, and as `q_proj_weight`, `k_proj_weight`,
    /// `v_proj_weight` otherwise; both layouts are read, the fused one split into query, key and
    /// value rows. The output projection is `out_proj.weight`/`out_proj.bias`.
    ///
    /// # Errors
    /// [`AttnError::StateDict`] naming the tensor when one is missing, has the wrong shape, or the
    /// state dict has biases and the module has none (or the reverse).
    pub fn load_pytorch_state_dict(
        &mut self,
        sd: &StateDict,
        prefix: &str,
    ) -> Result<(), AttnError> {
        let name = |n: &str| format!("{prefix}{n}");
        if sd.contains(&name("in_proj_weight")) {
            let w = name("in_proj_weight");
            sd.load_rows_into(&w, 0..M, &mut self.q_proj.weight)?;
            sd.load_rows_into(&w, M..2 * M, &mut self.k_proj.weight)?;
            sd.load_rows_into(&w, 2 * M..3 * M, &mut self.v_proj.weight)?;
        } else {
            sd.load_into(&name("q_proj_weight"), &mut self.q_proj.weight)?;
            sd.load_into(&name("k_proj_weight"), &mut self.k_proj.weight)?;
            sd.load_into(&name("v_proj_weight"), &mut self.v_proj.weight)?;
        }
        sd.load_into(&name("out_proj.weight"), &mut self.out_proj.weight)?;

        let has_bias = sd.contains(&name("in_proj_bias"));
        if has_bias != BIAS {
            return Err(AttnError::StateDict {
                reason: format!(
                    "the state dict {} biases (`{}`) but the module was built with BIAS = {BIAS}; \
                     build it with BIAS = {has_bias}",
                    if has_bias { "has" } else { "has no" },
                    name("in_proj_bias"),
                ),
            });
        }
        if BIAS {
            let b = name("in_proj_bias");
            load_bias_rows(sd, &b, 0..M, &mut self.q_proj)?;
            load_bias_rows(sd, &b, M..2 * M, &mut self.k_proj)?;
            load_bias_rows(sd, &b, 2 * M..3 * M, &mut self.v_proj)?;
            let out_bias = name("out_proj.bias");
            let rows = 0..M;
            load_bias_rows(sd, &out_bias, rows, &mut self.out_proj)?;
        }
        Ok(())
    }
}

fn load_bias_rows<const I: usize, const O: usize, E: Dtype, D: Device<E>, const BIAS: bool>(
    sd: &StateDict,
    name: &str,
    rows: std::ops::Range<usize>,
    proj: &mut Projection<I, O, E, D, BIAS>,
) -> Result<(), AttnError> {
    match proj.bias.as_mut() {
        Some(bias) => sd.load_rows_into(name, rows, bias),
        None => Err(AttnError::StateDict {
            reason: format!("`{name}` is given but the projection has no bias"),
        }),
    }
}
