//! Loading transformer blocks and stacks from PyTorch state dicts.

use dfdx::nn::modules::LayerNorm1D;
use dfdx::prelude::*;

use super::{DecoderBlock, EncoderBlock, FeedForward, TransformerDecoder, TransformerEncoder};
use crate::error::AttnError;
use crate::state_dict::StateDict;

/// PyTorch's `LayerNorm` names its parameters `weight` and `bias`; dfdx's `gamma` and `beta`.
fn load_norm<const M: usize, E: Dtype, D: Device<E>>(
    sd: &StateDict,
    prefix: &str,
    norm: &mut LayerNorm1D<M, E, D>,
) -> Result<(), AttnError> {
    sd.load_into(&format!("{prefix}weight"), &mut norm.gamma)?;
    sd.load_into(&format!("{prefix}bias"), &mut norm.beta)
}

fn load_ffn<const M: usize, const F: usize, A, E: Dtype, D: Device<E>>(
    sd: &StateDict,
    prefix: &str,
    ffn: &mut FeedForward<M, F, A, E, D>,
) -> Result<(), AttnError> {
    sd.load_into(&format!("{prefix}linear1.weight"), &mut ffn.linear1.weight)?;
    sd.load_into(&format!("{prefix}linear2.weight"), &mut ffn.linear2.weight)?;
    if let Some(b) = ffn.linear1.bias.as_mut() {
        sd.load_into(&format!("{prefix}linear1.bias"), b)?;
    }
    if let Some(b) = ffn.linear2.bias.as_mut() {
        sd.load_into(&format!("{prefix}linear2.bias"), b)?;
    }
    Ok(())
}

impl<
        const M: usize,
        const H: usize,
        const F: usize,
        A,
        const PRE: bool,
        E: Dtype,
        D: Device<E>,
    > EncoderBlock<M, H, FeedForward<M, F, A, E, D>, PRE, E, D>
{
    /// Loads a PyTorch `nn.TransformerEncoderLayer` state dict (names prefixed by `prefix`).
    ///
    /// # Errors
    /// [`AttnError::StateDict`] naming a missing or misshapen tensor.
    pub fn load_pytorch_state_dict(
        &mut self,
        sd: &StateDict,
        prefix: &str,
    ) -> Result<(), AttnError> {
        self.self_attn
            .load_pytorch_state_dict(sd, &format!("{prefix}self_attn."))?;
        load_ffn(sd, prefix, &mut self.ffn)?;
        load_norm(sd, &format!("{prefix}norm1."), &mut self.norm1)?;
        load_norm(sd, &format!("{prefix}norm2."), &mut self.norm2)
    }
}

impl<
        const M: usize,
        const H: usize,
        const F: usize,
        A,
        const PRE: bool,
        E: Dtype,
        D: Device<E>,
    > DecoderBlock<M, H, M, FeedForward<M, F, A, E, D>, PRE, E, D>
{
    /// Loads a PyTorch `nn.TransformerDecoderLayer` state dict (names prefixed by `prefix`).
    ///
    /// # Errors
    /// [`AttnError::StateDict`] naming a missing or misshapen tensor.
    pub fn load_pytorch_state_dict(
        &mut self,
        sd: &StateDict,
        prefix: &str,
    ) -> Result<(), AttnError> {
        self.self_attn
            .load_pytorch_state_dict(sd, &format!("{prefix}self_attn."))?;
        self.cross_attn
            .load_pytorch_state_dict(sd, &format!("{prefix}multihead_attn."))?;
        load_ffn(sd, prefix, &mut self.ffn)?;
        load_norm(sd, &format!("{prefix}norm1."), &mut self.norm1)?;
        load_norm(sd, &format!("{prefix}norm2."), &mut self.norm2)?;
        load_norm(sd, &format!("{prefix}norm3."), &mut self.norm3)
    }
}

impl<
        const M: usize,
        const H: usize,
        const F: usize,
        A,
        const N: usize,
        const PRE: bool,
        E: Dtype,
        D: Device<E>,
    > TransformerEncoder<M, H, FeedForward<M, F, A, E, D>, N, PRE, E, D>
{
    /// Loads a PyTorch `nn.TransformerEncoder` state dict (`layers.{i}.…`, `norm.…`).
    ///
    /// # Errors
    /// [`AttnError::StateDict`] naming a missing or misshapen tensor.
    pub fn load_pytorch_state_dict(
        &mut self,
        sd: &StateDict,
        prefix: &str,
    ) -> Result<(), AttnError> {
        for (i, block) in self.layers.modules.iter_mut().enumerate() {
            block.load_pytorch_state_dict(sd, &format!("{prefix}layers.{i}."))?;
        }
        match self.norm.as_mut() {
            Some(norm) => load_norm(sd, &format!("{prefix}norm."), norm),
            None => Ok(()),
        }
    }
}

impl<
        const M: usize,
        const H: usize,
        const F: usize,
        A,
        const N: usize,
        const PRE: bool,
        E: Dtype,
        D: Device<E>,
    > TransformerDecoder<M, H, M, FeedForward<M, F, A, E, D>, N, PRE, E, D>
{
    /// Loads a PyTorch `nn.TransformerDecoder` state dict (`layers.{i}.…`, `norm.…`).
    ///
    /// # Errors
    /// [`AttnError::StateDict`] naming a missing or misshapen tensor.
    pub fn load_pytorch_state_dict(
        &mut self,
        sd: &StateDict,
        prefix: &str,
    ) -> Result<(), AttnError> {
        for (i, block) in self.layers.modules.iter_mut().enumerate() {
            block.load_pytorch_state_dict(sd, &format!("{prefix}layers.{i}."))?;
        }
        match self.norm.as_mut() {
            Some(norm) => load_norm(sd, &format!("{prefix}norm."), norm),
            None => Ok(()),
        }
    }
}
