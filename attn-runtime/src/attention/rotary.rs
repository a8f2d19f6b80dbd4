//! Rotary position embedding (Su et al. 2021): rotate query and key dims by position-dependent
//! angles, so that their dot product depends on the relative position only.

use dfdx::prelude::*;

use crate::error::{AttnError, DeviceResultExt};
use crate::kernels::cpu_op::{realized, Dyn4};
use crate::tape_holder::TapeHolder;

/// Rotary settings: the angle base and the position of the first query/key.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rotary {
    /// Frequencies are `base^(−2i/d)`; 10 000 in the paper.
    pub base: f64,
    /// Position of the first row (non-zero when decoding incrementally).
    pub offset: usize,
}

impl Default for Rotary {
    fn default() -> Self {
        Rotary {
            base: 10_000.0,
            offset: 0,
        }
    }
}

/// The `cos` and `sin` tables `[S, d]` (each angle repeated in both halves).
fn tables(positions: std::ops::Range<usize>, d: usize, base: f64) -> (Vec<f64>, Vec<f64>) {
    let half = d / 2;
    let (mut cos, mut sin) = (Vec::new(), Vec::new());
    for p in positions {
        for i in 0..d {
            let freq = base.powf(-2.0 * (i % half) as f64 / d as f64);
            let angle = p as f64 * freq;
            cos.push(angle.cos());
            sin.push(angle.sin());
        }
    }
    (cos, sin)
}

/// Rotates `x` by position: `x·cos + rotate_half(x)·sin`, with `rotate_half([a, b]) = [−b, a]`
/// over the two halves of the last axis (the GPT-NeoX / LLaMA layout).
///
/// # Shapes
/// `[B, H, S, d] → [B, H, S, d]`, `d` even.
///
/// **PyTorch equivalent**: `apply_rotary_pos_emb` of Hugging Face's LLaMA.
///
/// # Errors
/// [`AttnError::InvalidHyperParameter`] when the head dim is odd.
pub fn try_apply_rotary<B: Dim, H: Dim, S: Dim, E: Dtype, D: Device<E>, T: Tape<E, D> + 'static>(
    x: Tensor<(B, H, S, usize), E, D, T>,
    rotary: &Rotary,
) -> Result<Tensor<(B, H, S, usize), E, D, T>, AttnError> {
    realized((kernels::<E, D, T>()?.rotary)(
        realized::<Dyn4, _, _, _, _>(x)?,
        rotary,
    )?)
}

kernel_tables! {
    /// This module's kernel, compiled once in attn-runtime (see `kernel_tables!`).
    struct RotaryKernels {
        rotary: fn(Tensor<Dyn4, E, D, T>, &Rotary) -> Result<Tensor<Dyn4, E, D, T>, AttnError>
            = rotary_erased::<E, D, T>,
    }
}

/// [`try_apply_rotary`] on run-time shapes: compiled once per tape type.
pub(crate) fn rotary_erased<E: Dtype, D: Device<E>, T: Tape<E, D> + 'static>(
    x: Tensor<Dyn4, E, D, T>,
    rotary: &Rotary,
) -> Result<Tensor<Dyn4, E, D, T>, AttnError> {
    let shape = *x.shape();
    let (s, d) = (shape.2, shape.3);
    if d % 2 != 0 {
        return Err(AttnError::InvalidHyperParameter {
            name: "rotary head dim",
            value: d.to_string(),
            requirement: "must be even (rotary embedding rotates pairs of dims)",
        });
    }
    let (cos, sin) = tables(rotary.offset..rotary.offset + s, d, rotary.base);
    let dev = x.device().clone();
    let to_e = |v: Vec<f64>| {
        v.into_iter()
            .map(|f| E::from_f64(f).unwrap_or_default())
            .collect::<Vec<E>>()
    };
    let table = |v: Vec<f64>| -> Result<Tensor<Dyn4, E, D>, AttnError> {
        dev.try_tensor_from_vec(to_e(v), (shape.2, d))
            .dev()?
            .try_broadcast_like::<_, Axes2<0, 1>>(&shape)
            .dev()
    };
    let (cos, sin) = (table(cos)?, table(sin)?);
    let half = d / 2;
    let (mut tape, x) = TapeHolder::split(x);
    // dfdx 0.13's CPU slice backward assigns the slice's gradient into its input's gradient
    // instead of adding to it: slicing `x` itself let the halves overwrite the gradient of the
    // `x·cos` term (computed first in backward), which trained rotary models on half a gradient.
    // The halves are cut from a copy whose only consumers are the two disjoint slices, so the
    // order of the backward steps cannot matter.
    let copy = tape.run(&x, |x| x.try_mul(E::ONE).dev())?;
    let first = tape.run(&copy, |x| x.try_slice((.., .., .., ..half)).dev())?;
    let minus_second = tape.run(&copy, |x| {
        x.try_slice((.., .., .., half..)).dev()?.try_negate().dev()
    })?;
    let rotated = tape.run(&minus_second, |b| {
        let first = first.retaped::<T>();
        let joined = (b, first).try_concat_along(Axis::<3>).dev()?;
        joined.try_reshape_like(&shape).dev()?.try_mul(sin).dev()
    })?;
    let out = tape.run(&x, |x| x.try_mul(cos).dev()?.try_add(rotated).dev())?;
    Ok(tape.finish(out))
}
