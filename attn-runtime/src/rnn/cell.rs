//! One time step of an LSTM or GRU cell, in PyTorch's gate order.

use dfdx::prelude::*;

use crate::error::{AttnError, DeviceResultExt};
use crate::kernels::cpu_op::{realized, Dyn2};
use crate::tape_holder::TapeHolder;

/// The recurrent state between steps: `h` and, for an LSTM, `c` (`[B, H]` each).
#[derive(Clone, Debug)]
pub struct CellState<B: Dim, const H: usize, E: Dtype, D: Storage<E>> {
    /// Hidden state.
    pub h: Tensor<(B, Const<H>), E, D>,
    /// Cell state (LSTM only).
    pub c: Option<Tensor<(B, Const<H>), E, D>>,
}

impl<B: Dim, const H: usize, E: Dtype, D: Device<E>> CellState<B, H, E, D> {
    /// The same state on run-time shapes (no copy).
    pub(crate) fn erased(&self) -> Result<DynState<E, D>, AttnError> {
        Ok(DynState {
            h: realized(self.h.clone())?,
            c: self.c.clone().map(realized).transpose()?,
        })
    }

    /// A state on run-time shapes, typed again (no copy).
    pub(crate) fn typed(state: DynState<E, D>) -> Result<Self, AttnError> {
        Ok(CellState {
            h: realized(state.h)?,
            c: state.c.map(realized).transpose()?,
        })
    }
}

/// A [`CellState`] on run-time shapes, `[B, H]` each: what the cells compute on (once per tape
/// type, whatever the models' sizes).
#[derive(Clone, Debug)]
pub struct DynState<E: Dtype, D: Storage<E>> {
    /// Hidden state.
    pub h: Tensor<(usize, usize), E, D>,
    /// Cell state (LSTM only).
    pub c: Option<Tensor<(usize, usize), E, D>>,
}

/// An LSTM or GRU cell: how many gates it has and how one step updates the state.
pub trait RecurrentCell: Clone + std::fmt::Debug + Default + 'static {
    /// Gates per step (LSTM 4: i, f, g, o; GRU 3: r, z, n).
    const GATES: usize;
    /// Whether the cell carries a cell state `c` beside `h`.
    const HAS_CELL_STATE: bool;
    /// Whether the hidden bias can be folded into the input projection (LSTM yes; GRU no, its
    /// `n` gate multiplies the hidden projection, bias included, by `r`).
    const FOLD_HIDDEN_BIAS: bool;
    /// The cell's name (`"LSTM"`, `"GRU"`).
    const NAME: &'static str;

    /// One step. `gi` is the input projection `x·W_ihᵀ + b_ih` (plus `b_hh` when folded), and
    /// `gh` the hidden projection `h·W_hhᵀ` (plus `b_hh` when not folded), both `[B, GATES·H]`;
    /// the state is `[B, H]`.
    fn step<E: Dtype, D: Device<E>, T: Tape<E, D> + 'static>(
        tape: &mut TapeHolder<T>,
        gi: &Tensor<Dyn2, E, D>,
        gh: &Tensor<Dyn2, E, D>,
        state: &DynState<E, D>,
    ) -> Result<DynState<E, D>, AttnError>;
}

/// Gate `k` of a `[B, GATES·H]` projection, as `[B, H]`.
fn gate<E: Dtype, D: Device<E>, T: Tape<E, D> + 'static>(
    tape: &mut TapeHolder<T>,
    x: &Tensor<Dyn2, E, D>,
    k: usize,
    h: usize,
) -> Result<Tensor<Dyn2, E, D>, AttnError> {
    let b = x.shape().0;
    tape.run(x, |x| {
        x.try_slice((.., k * h..(k + 1) * h))
            .dev()?
            .try_reshape_like(&(b, h))
            .dev()
    })
}

/// Long short-term memory: `i, f, o = σ(..)`, `g = tanh(..)`, `c' = f·c + i·g`, `h' = o·tanh(c')`.
///
/// **PyTorch equivalent**: `nn.LSTM` (gate order i, f, g, o).
#[derive(Clone, Copy, Debug, Default)]
pub struct LstmCell;

impl RecurrentCell for LstmCell {
    const GATES: usize = 4;
    const HAS_CELL_STATE: bool = true;
    const FOLD_HIDDEN_BIAS: bool = true;
    const NAME: &'static str = "LSTM";

    fn step<E: Dtype, D: Device<E>, T: Tape<E, D> + 'static>(
        tape: &mut TapeHolder<T>,
        gi: &Tensor<Dyn2, E, D>,
        gh: &Tensor<Dyn2, E, D>,
        state: &DynState<E, D>,
    ) -> Result<DynState<E, D>, AttnError> {
        let h = state.h.shape().1;
        let gates = tape.run(gi, |g| g.try_add(gh.clone()).dev())?;
        let i = gate(tape, &gates, 0, h)?;
        let f = gate(tape, &gates, 1, h)?;
        let g = gate(tape, &gates, 2, h)?;
        let o = gate(tape, &gates, 3, h)?;
        let i = tape.run(&i, |x| x.try_sigmoid().dev())?;
        let f = tape.run(&f, |x| x.try_sigmoid().dev())?;
        let g = tape.run(&g, |x| x.try_tanh().dev())?;
        let o = tape.run(&o, |x| x.try_sigmoid().dev())?;
        let ig = tape.run(&i, |i| i.try_mul(g).dev())?;
        let c = match &state.c {
            Some(c) => tape.run(&f, |f| f.try_mul(c.clone()).dev()?.try_add(ig).dev())?,
            None => ig,
        };
        let h = tape.run(&c, |c| c.try_tanh().dev()?.try_mul(o).dev())?;
        Ok(DynState { h, c: Some(c) })
    }
}

/// Gated recurrent unit: `r, z = σ(..)`, `n = tanh(x_n + r·h_n)`, `h' = (1 − z)·n + z·h`.
///
/// **PyTorch equivalent**: `nn.GRU` (gate order r, z, n).
#[derive(Clone, Copy, Debug, Default)]
pub struct GruCell;

impl RecurrentCell for GruCell {
    const GATES: usize = 3;
    const HAS_CELL_STATE: bool = false;
    const FOLD_HIDDEN_BIAS: bool = false;
    const NAME: &'static str = "GRU";

    fn step<E: Dtype, D: Device<E>, T: Tape<E, D> + 'static>(
        tape: &mut TapeHolder<T>,
        gi: &Tensor<Dyn2, E, D>,
        gh: &Tensor<Dyn2, E, D>,
        state: &DynState<E, D>,
    ) -> Result<DynState<E, D>, AttnError> {
        let hidden = state.h.shape().1;
        let (gi_r, gi_z, gi_n) = (
            gate(tape, gi, 0, hidden)?,
            gate(tape, gi, 1, hidden)?,
            gate(tape, gi, 2, hidden)?,
        );
        let (gh_r, gh_z, gh_n) = (
            gate(tape, gh, 0, hidden)?,
            gate(tape, gh, 1, hidden)?,
            gate(tape, gh, 2, hidden)?,
        );
        let r = tape.run(&gi_r, |x| x.try_add(gh_r).dev()?.try_sigmoid().dev())?;
        let z = tape.run(&gi_z, |x| x.try_add(gh_z).dev()?.try_sigmoid().dev())?;
        let n = tape.run(&r, |r| {
            r.try_mul(gh_n).dev()?.try_add(gi_n).dev()?.try_tanh().dev()
        })?;
        // h' = n + z·(h − n)
        let h = tape.run(&state.h, |h| {
            h.try_sub(n.clone())
                .dev()?
                .try_mul(z)
                .dev()?
                .try_add(n.clone())
                .dev()
        })?;
        Ok(DynState { h, c: None })
    }
}
