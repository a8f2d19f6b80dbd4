//! Positional encodings added to token (or patch) embeddings.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use dfdx::prelude::*;

use crate::error::{AttnError, DeviceResultExt};
use crate::kernels::cpu_op::{realized, Dyn2, Dyn3};
use crate::TensorCollection;

/// Adds position information to `[B, S, M]` embeddings.
pub trait PositionalEncoding<const M: usize, E: Dtype, D: Device<E>> {
    /// Returns `x + positions[..S]`.
    ///
    /// # Shapes
    /// `[B, S, M] -> [B, S, M]`
    fn try_add_positions<B: Dim, S: Dim, T: Tape<E, D> + 'static>(
        &self,
        x: Tensor<(B, S, Const<M>), E, D, T>,
    ) -> Result<Tensor<(B, S, Const<M>), E, D, T>, AttnError>;

    /// Returns `x + positions[offset..offset + S]`: new rows placed after `offset` earlier
    /// ones, as incremental decoding feeds them (each encoding sees the positions it would in
    /// the full pass).
    ///
    /// # Shapes
    /// `[B, S, M] -> [B, S, M]`
    ///
    /// **PyTorch equivalent**: `x + pe[offset:offset + S]`, as Hugging Face decoders add
    /// `position_ids` past the cached length.
    fn try_add_positions_at(
        &self,
        x: Tensor<(usize, usize, Const<M>), E, D>,
        offset: usize,
    ) -> Result<Tensor<(usize, usize, Const<M>), E, D>, AttnError> {
        let (b, s, _) = *x.shape();
        let zeros: Tensor<(usize, usize, Const<M>), E, D> = x
            .device()
            .try_zeros_like(&(b, offset + s, Const::<M>))
            .dev()?;
        let rows = self
            .try_add_positions(zeros)?
            .try_slice((.., offset..offset + s, ..))
            .dev()?
            .try_reshape_like(&(b, s, Const::<M>))
            .dev()?;
        x.try_add(rows).dev()
    }
}

/// The fixed sinusoids of "Attention Is All You Need": `PE[p, 2i] = sin(p / 10000^(2i/M))`,
/// `PE[p, 2i+1] = cos(p / 10000^(2i/M))`. No parameters.
///
/// **PyTorch equivalent**: the `PositionalEncoding` module of PyTorch's transformer tutorial.
#[derive(Clone, Copy, Debug, Default)]
pub struct SinusoidalPositions;

impl ZeroSizedModule for SinusoidalPositions {}

/// The sinusoid table `[positions, width]`, row-major.
pub fn sinusoid_table(positions: usize, width: usize) -> Vec<f64> {
    let mut table = Vec::with_capacity(positions * width);
    for p in 0..positions {
        for i in 0..width {
            let exponent = (2 * (i / 2)) as f64 / width as f64;
            let angle = p as f64 / 10000f64.powf(exponent);
            table.push(if i % 2 == 0 { angle.sin() } else { angle.cos() });
        }
    }
    table
}

/// The longest sinusoid table made so far for each width: a shorter table is its first rows,
/// so a forward pass reads it instead of computing the sines and cosines of every position
/// again (a decoding step, one position, read them all).
static SINUSOIDS: Mutex<BTreeMap<usize, Arc<[f64]>>> = Mutex::new(BTreeMap::new());

/// [`sinusoid_table`] of at least `positions` rows for `width` (its first `positions · width`
/// values are that table's), from [`SINUSOIDS`].
fn cached_sinusoids(positions: usize, width: usize) -> Arc<[f64]> {
    // a panic elsewhere while the lock was held left a complete table or none
    let mut tables = SINUSOIDS.lock().unwrap_or_else(PoisonError::into_inner);
    match tables.get(&width) {
        Some(table) if table.len() >= positions * width => table.clone(),
        _ => {
            let table: Arc<[f64]> = sinusoid_table(positions, width).into();
            tables.insert(width, table.clone());
            table
        }
    }
}

impl<const M: usize, E: Dtype, D: Device<E>> PositionalEncoding<M, E, D> for SinusoidalPositions {
    fn try_add_positions<B: Dim, S: Dim, T: Tape<E, D> + 'static>(
        &self,
        x: Tensor<(B, S, Const<M>), E, D, T>,
    ) -> Result<Tensor<(B, S, Const<M>), E, D, T>, AttnError> {
        realized((kernels::<E, D, T>()?.sinusoids)(
            realized::<Dyn3, _, _, _, _>(x)?,
            0,
        )?)
    }

    /// The table's rows `offset..offset + S`, read from the cache: no pass over the earlier
    /// positions.
    fn try_add_positions_at(
        &self,
        x: Tensor<(usize, usize, Const<M>), E, D>,
        offset: usize,
    ) -> Result<Tensor<(usize, usize, Const<M>), E, D>, AttnError> {
        realized((kernels::<E, D, NoneTape>()?.sinusoids)(
            realized::<Dyn3, _, _, _, _>(x)?,
            offset,
        )?)
    }
}

/// No positional information (the encoder sees a bag of tokens).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoPositions;

impl ZeroSizedModule for NoPositions {}

impl<const M: usize, E: Dtype, D: Device<E>> PositionalEncoding<M, E, D> for NoPositions {
    fn try_add_positions<B: Dim, S: Dim, T: Tape<E, D> + 'static>(
        &self,
        x: Tensor<(B, S, Const<M>), E, D, T>,
    ) -> Result<Tensor<(B, S, Const<M>), E, D, T>, AttnError> {
        Ok(x)
    }
}

/// A learned embedding per position, `weight: [L, M]`, initialised from N(0, 0.02²).
///
/// **PyTorch equivalent**: `nn.Parameter(torch.randn(L, M) * 0.02)` added to the embeddings.
#[derive(Clone, Debug, TensorCollection)]
pub struct LearnedPositions<const L: usize, const M: usize, E: Dtype, D: Storage<E>> {
    /// `[L, M]`
    #[collection(tensor = TensorOptions::reset_with(|t| crate::param::fill_normal(t, 0.02)))]
    pub weight: Tensor<Rank2<L, M>, E, D>,
}

impl<const L: usize, const M: usize, E: Dtype, D: Device<E>> LearnedPositions<L, M, E, D> {
    /// `x + weight[offset + p]` at every position `p` of `x`, once the `end` positions it
    /// reaches are checked against `L`.
    fn try_add_rows<T: Tape<E, D> + 'static>(
        &self,
        x: Tensor<Dyn3, E, D, T>,
        offset: usize,
    ) -> Result<Tensor<Dyn3, E, D, T>, AttnError> {
        let end = offset + x.shape().1;
        if end > L {
            return Err(AttnError::InvalidInput {
                reason: format!(
                    "a sequence of {end} positions is longer than the {L} learned positions"
                ),
                fix: format!("truncate inputs to {L} positions or declare a larger max_len"),
            });
        }
        let weight = realized::<Dyn2, _, _, _, _>(self.weight.clone())?;
        (kernels::<E, D, T>()?.rows)(x, &weight, offset)
    }
}

impl<const L: usize, const M: usize, E: Dtype, D: Device<E>> PositionalEncoding<M, E, D>
    for LearnedPositions<L, M, E, D>
{
    fn try_add_positions<B: Dim, S: Dim, T: Tape<E, D> + 'static>(
        &self,
        x: Tensor<(B, S, Const<M>), E, D, T>,
    ) -> Result<Tensor<(B, S, Const<M>), E, D, T>, AttnError> {
        realized(self.try_add_rows(realized::<Dyn3, _, _, _, _>(x)?, 0)?)
    }

    /// The weight's rows `offset..offset + S`: no pass over the earlier positions.
    fn try_add_positions_at(
        &self,
        x: Tensor<(usize, usize, Const<M>), E, D>,
        offset: usize,
    ) -> Result<Tensor<(usize, usize, Const<M>), E, D>, AttnError> {
        realized(self.try_add_rows(realized::<Dyn3, _, _, _, _>(x)?, offset)?)
    }
}

kernel_tables! {
    /// This module's kernels, compiled once in attn-runtime (see `kernel_tables!`).
    struct PositionKernels {
        sinusoids: fn(Tensor<Dyn3, E, D, T>, usize) -> Result<Tensor<Dyn3, E, D, T>, AttnError>
            = add_sinusoids::<E, D, T>,
        rows: fn(
            Tensor<Dyn3, E, D, T>,
            &Tensor<Dyn2, E, D>,
            usize,
        ) -> Result<Tensor<Dyn3, E, D, T>, AttnError>
            = add_rows::<E, D, T>,
    }
}

/// `x + table[offset + p]` at every position `p` of `x: [B, S, M]`, the sinusoids read from
/// the cache.
fn add_sinusoids<E: Dtype, D: Device<E>, T: Tape<E, D> + 'static>(
    x: Tensor<Dyn3, E, D, T>,
    offset: usize,
) -> Result<Tensor<Dyn3, E, D, T>, AttnError> {
    let (_, s, m) = *x.shape();
    let values = cached_sinusoids(offset + s, m)[offset * m..(offset + s) * m]
        .iter()
        .map(|&v| E::from_f64(v).unwrap_or_default())
        .collect();
    let table = x.device().try_tensor_from_vec(values, (s, m)).dev()?;
    add_table(x, table)
}

/// `x + weight[offset + p]` at every position `p` of `x: [B, S, M]` (`weight: [L, M]`,
/// `L ≥ offset + S`), recorded into `weight`'s gradient.
fn add_rows<E: Dtype, D: Device<E>, T: Tape<E, D> + 'static>(
    x: Tensor<Dyn3, E, D, T>,
    weight: &Tensor<Dyn2, E, D>,
    offset: usize,
) -> Result<Tensor<Dyn3, E, D, T>, AttnError> {
    let s = x.shape().1;
    let rows = weight
        .retaped::<T>()
        .try_slice((offset..offset + s, ..))
        .dev()?;
    add_table(x, rows)
}

/// `x + table`, the `[S, M]` table broadcast over the batch.
fn add_table<E: Dtype, D: Device<E>, T, Tt: Tape<E, D> + 'static>(
    x: Tensor<Dyn3, E, D, T>,
    table: Tensor<Dyn2, E, D, Tt>,
) -> Result<Tensor<Dyn3, E, D, T>, AttnError>
where
    T: Tape<E, D> + 'static + Merge<Tt>,
{
    let shape = *x.shape();
    x.try_add(table.try_broadcast_like::<_, Axis<0>>(&shape).dev()?)
        .dev()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cache hands out the table's values whatever was asked before: longer after shorter,
    /// shorter after longer, and another width beside.
    #[test]
    fn cached_sinusoids_are_the_tables_values_in_any_order_of_requests() {
        for (positions, width) in [(10, 8), (4, 8), (20, 8), (3, 6), (0, 6), (25, 6), (7, 8)] {
            let want = sinusoid_table(positions, width);
            let got = cached_sinusoids(positions, width);
            assert!(got.len() >= want.len(), "{positions} x {width}");
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(
                bits(&got[..want.len()]),
                bits(&want),
                "{positions} x {width}"
            );
        }
    }

    /// Rows added after `offset` earlier ones get the positions they get in the full pass, bit
    /// for bit, for the sinusoids and for learned positions; past the learned ones, an error.
    #[test]
    fn positions_at_an_offset_are_the_full_pass_rows() {
        let dev: Cpu = Cpu::seed_from_u64(3);
        positions_at_an_offset(&SinusoidalPositions, &dev);
        let learned: LearnedPositions<8, 6, f32, Cpu> = crate::param::try_build(&dev).unwrap();
        positions_at_an_offset(&learned, &dev);
        let x: Tensor<(usize, usize, Const<6>), f32, _> = dev.sample_normal_like(&(2, 3, Const));
        match learned.try_add_positions_at(x, 6) {
            Err(AttnError::InvalidInput { reason, .. }) => {
                assert!(reason.contains("9 positions"), "{reason}")
            }
            other => panic!(
                "expected an error past 8 positions, got {:?}",
                other.map(|_| ())
            ),
        }
    }

    fn positions_at_an_offset(p: &impl PositionalEncoding<6, f32, Cpu>, dev: &Cpu) {
        let (b, s, offset) = (2, 3, 5);
        let x: Tensor<(usize, usize, Const<6>), f32, _> = dev.sample_normal_like(&(b, s, Const));
        let got = p.try_add_positions_at(x.clone(), offset).unwrap().as_vec();
        // the full pass over `offset` zero rows, then `x`
        let xs = x.as_vec();
        let mut full = vec![0.0f32; b * (offset + s) * 6];
        for (i, row) in xs.chunks_exact(s * 6).enumerate() {
            full[(i * (offset + s) + offset) * 6..][..s * 6].copy_from_slice(row);
        }
        let full = dev.tensor_from_vec(full, (b, offset + s, Const::<6>));
        let full = p.try_add_positions(full).unwrap().as_vec();
        let want: Vec<f32> = full
            .chunks_exact((offset + s) * 6)
            .flat_map(|batch| batch[offset * 6..].to_vec())
            .collect();
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&got), bits(&want));
    }
}
