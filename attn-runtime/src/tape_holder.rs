//! Threading one gradient tape through a computation that reuses its intermediate values.
//!
//! dfdx records an operation only when an operand carries the tape, and a tensor that carries
//! an `OwnedTape` cannot be cloned. Recurrent cells reuse values (the previous state feeds the
//! hidden projection and the state update; the gates are sliced several times). The pattern here:
//! every intermediate is kept tape-less, and each step borrows the tape — put it on a clone of
//! its input, run the ops (recorded), take it back off. Gradients still reach every use, because
//! backward ops address tensors by id, and ids survive cloning and tape moves.

use dfdx::prelude::*;

use crate::error::{AttnError, DeviceResultExt};

/// Holds the tape between recorded steps (see the module docs).
pub struct TapeHolder<T> {
    tape: Option<T>,
}

/// A holder with no tape yet: the first step starts `T`'s default tape (for evaluation,
/// `NoneTape`, which records nothing).
impl<T> Default for TapeHolder<T> {
    fn default() -> Self {
        TapeHolder { tape: None }
    }
}

impl<T> TapeHolder<T> {
    /// Takes the tape off `x`, returning the holder and `x` without it.
    pub fn split<S: Shape, E: Dtype, D: Storage<E>>(
        x: Tensor<S, E, D, T>,
    ) -> (Self, Tensor<S, E, D>)
    where
        T: Tape<E, D> + 'static,
    {
        let (x, tape) = x.split_tape();
        (TapeHolder { tape: Some(tape) }, x)
    }

    /// Runs `f` on `x` with the tape on, and takes the tape back from the result. `x` may be of
    /// another dtype than the result (token ids into an embedding).
    pub fn run<S: Shape, S2: Shape, E1: Unit, E: Dtype, D: Storage<E> + Storage<E1>>(
        &mut self,
        x: &Tensor<S, E1, D>,
        f: impl FnOnce(Tensor<S, E1, D, T>) -> Result<Tensor<S2, E, D, T>, AttnError>,
    ) -> Result<Tensor<S2, E, D>, AttnError>
    where
        T: Tape<E, D> + 'static,
    {
        let tape = self.tape.take().unwrap_or_default();
        let (out, tape) = f(x.clone().put_tape(tape))?.split_tape();
        self.tape = Some(tape);
        Ok(out)
    }

    /// Like [`run`](Self::run) for a step that also returns something untaped beside its result
    /// (an attention step returns its weights).
    pub fn run_with<S: Shape, S2: Shape, E: Dtype, D: Storage<E>, R>(
        &mut self,
        x: &Tensor<S, E, D>,
        f: impl FnOnce(Tensor<S, E, D, T>) -> Result<(Tensor<S2, E, D, T>, R), AttnError>,
    ) -> Result<(Tensor<S2, E, D>, R), AttnError>
    where
        T: Tape<E, D> + 'static,
    {
        let tape = self.tape.take().unwrap_or_default();
        let (out, extra) = f(x.clone().put_tape(tape))?;
        let (out, tape) = out.split_tape();
        self.tape = Some(tape);
        Ok((out, extra))
    }

    /// Puts the tape back on `x` for the caller to continue with.
    pub fn finish<S: Shape, E: Dtype, D: Storage<E>>(
        mut self,
        x: Tensor<S, E, D>,
    ) -> Tensor<S, E, D, T>
    where
        T: Tape<E, D> + 'static,
    {
        x.put_tape(self.tape.take().unwrap_or_default())
    }

    /// Stacks recorded tensors of one shape along a new first axis, recording the stack.
    pub fn stack<S: Shape, Out: Shape, E: Dtype, D: Device<E>>(
        &mut self,
        items: &[Tensor<S, E, D>],
    ) -> Result<Tensor<Out, E, D>, AttnError>
    where
        T: Tape<E, D> + 'static,
        Vec<Tensor<S, E, D, T>>: TryStack<Stacked = Tensor<Out, E, D, T>, Err = D::Err>,
    {
        let mut tape = self.tape.take();
        let taped: Vec<Tensor<S, E, D, T>> = items
            .iter()
            .map(|x| x.clone().put_tape(tape.take().unwrap_or_default()))
            .collect();
        let (out, tape) = taped.try_stack().dev()?.split_tape();
        self.tape = Some(tape);
        Ok(out)
    }
}
