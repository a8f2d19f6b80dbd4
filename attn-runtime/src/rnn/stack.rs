//! Multi-layer, optionally bidirectional LSTM and GRU layers with PyTorch's parameter layout,
//! over right-padded batches of variable length.

use std::marker::PhantomData;

use dfdx::prelude::*;
use num_traits::Float;
use rand_distr::{uniform::SampleUniform, Uniform};

use super::cell::{CellState, DynState, GruCell, LstmCell, RecurrentCell};
use crate::error::{expect_dim, AttnError, DeviceResultExt};
use crate::kernels::cpu_op::{realized, Dyn2, Dyn3};
use crate::tape_holder::TapeHolder;

/// `L` recurrent layers of hidden size `H` over inputs of width `I`, each one or two directions;
/// `O` is the output width, `H` or `2H` when `BIDIR` (stated as a parameter because types cannot
/// compute it; a const assertion checks it). `G` is the cell's gate count (4 LSTM, 3 GRU).
///
/// Parameters carry PyTorch's names and contents: `weight_ih_l{k}[_reverse]` (`[G·H, I]` stored
/// as `[G, H, I]`), `weight_hh_l{k}[_reverse]`, `bias_ih_l{k}[_reverse]`, `bias_hh_l{k}[_reverse]`;
/// [`LoadPytorch::load_pytorch_state_dict`](crate::pytorch_names::LoadPytorch) reads a PyTorch
/// state dict directly. Initialisation is
/// PyTorch's: uniform in `±1/√H`.
///
/// # Shapes
/// input `[B, S, I]`, lengths `B` → output `[B, S, O]` (zero at padded positions), final states
/// `h_n`, `c_n`: `[L·dirs, B, H]` (each sequence's state at its last real step).
///
/// **PyTorch equivalent**: `nn.LSTM(I, H, L, batch_first=True, bidirectional=BIDIR)` (or `nn.GRU`)
/// on a `pack_padded_sequence`.
#[derive(Clone, Debug)]
pub struct RnnStack<
    Cell,
    const G: usize,
    const I: usize,
    const H: usize,
    const O: usize,
    const L: usize,
    const BIDIR: bool,
    E: Dtype,
    D: Storage<E>,
> {
    /// Input weights of layer 0, one per direction.
    pub weight_ih_first: Vec<Tensor<Rank3<G, H, I>, E, D>>,
    /// Input weights of layers 1.., `(layer − 1)·dirs + dir`.
    pub weight_ih_deeper: Vec<Tensor<Rank3<G, H, O>, E, D>>,
    /// Hidden weights, `layer·dirs + dir`.
    pub weight_hh: Vec<Tensor<Rank3<G, H, H>, E, D>>,
    /// Input biases, `layer·dirs + dir`.
    pub bias_ih: Vec<Tensor<Rank2<G, H>, E, D>>,
    /// Hidden biases, `layer·dirs + dir`.
    pub bias_hh: Vec<Tensor<Rank2<G, H>, E, D>>,
    cell: PhantomData<Cell>,
}

/// PyTorch's `nn.LSTM`.
pub type Lstm<
    const I: usize,
    const H: usize,
    const O: usize,
    const L: usize,
    const BIDIR: bool,
    E,
    D,
> = RnnStack<LstmCell, 4, I, H, O, L, BIDIR, E, D>;
/// PyTorch's `nn.GRU`.
pub type Gru<
    const I: usize,
    const H: usize,
    const O: usize,
    const L: usize,
    const BIDIR: bool,
    E,
    D,
> = RnnStack<GruCell, 3, I, H, O, L, BIDIR, E, D>;

/// The output of an [`RnnStack`]: the top layer's outputs (carrying the tape) and the final
/// states of every layer and direction (recorded on that same tape: move the tape onto them to
/// differentiate through them).
pub struct RnnOutput<B: Dim, S: Dim, const O: usize, const H: usize, E: Dtype, D: Storage<E>, T> {
    /// `[B, S, O]`.
    pub output: Tensor<(B, S, Const<O>), E, D, T>,
    /// Final hidden states, `layer·dirs + dir`, each `[B, H]`.
    pub h_n: Vec<Tensor<(B, Const<H>), E, D>>,
    /// Final cell states (LSTM), same layout.
    pub c_n: Vec<Tensor<(B, Const<H>), E, D>>,
}

impl<
        Cell,
        const G: usize,
        const I: usize,
        const H: usize,
        const O: usize,
        const L: usize,
        const BIDIR: bool,
        E: Dtype,
        D: Storage<E>,
    > RnnStack<Cell, G, I, H, O, L, BIDIR, E, D>
{
    /// Directions per layer.
    pub const DIRS: usize = if BIDIR { 2 } else { 1 };

    /// The compile-time shape rules: `O = H·dirs`, at least one layer.
    pub const SHAPES_AGREE: () = assert!(
        O == H * if BIDIR { 2 } else { 1 } && L >= 1 && H >= 1,
        "RnnStack: O must be H (or 2H when bidirectional), and L >= 1"
    );

    /// PyTorch's name of parameter `kind` for `layer` and `dir`.
    pub fn param_name(kind: &str, layer: usize, dir: usize) -> String {
        format!("{kind}_l{layer}{}", if dir == 1 { "_reverse" } else { "" })
    }
}

fn rnn_uniform<S: ConstShape, E: Dtype + Float + SampleUniform, D: Device<E>, const H: usize>(
    t: &mut Tensor<S, E, D>,
) -> Result<(), D::Err> {
    let k = E::ONE / E::from_usize(H).unwrap_or(E::ONE).sqrt();
    t.try_fill_with_distr(Uniform::new(-k, k))
}

impl<
        Cell,
        const G: usize,
        const I: usize,
        const H: usize,
        const O: usize,
        const L: usize,
        const BIDIR: bool,
        E,
        D,
    > TensorCollection<E, D> for RnnStack<Cell, G, I, H, O, L, BIDIR, E, D>
where
    E: Dtype + Float + SampleUniform,
    D: Device<E>,
{
    type To<E2: Dtype, D2: Device<E2>> = RnnStack<Cell, G, I, H, O, L, BIDIR, E2, D2>;

    fn iter_tensors<V: ModuleVisitor<Self, E, D>>(
        visitor: &mut V,
    ) -> Result<Option<Self::To<V::E2, V::D2>>, V::Err> {
        #[allow(clippy::let_unit_value)]
        let _ = Self::SHAPES_AGREE;
        let dirs = Self::DIRS;
        let name = |kind: &str, k: usize, offset: usize| {
            Self::param_name(kind, k / dirs + offset, k % dirs)
        };
        let first: Vec<String> = (0..dirs).map(|k| name("weight_ih", k, 0)).collect();
        let deeper: Vec<String> = (0..(L - 1) * dirs)
            .map(|k| name("weight_ih", k, 1))
            .collect();
        let hh: Vec<String> = (0..L * dirs).map(|k| name("weight_hh", k, 0)).collect();
        let bih: Vec<String> = (0..L * dirs).map(|k| name("bias_ih", k, 0)).collect();
        let bhh: Vec<String> = (0..L * dirs).map(|k| name("bias_hh", k, 0)).collect();
        // one field's tensors under their PyTorch names, each reset as PyTorch's RNNs are
        macro_rules! tensors {
            ($names:ident, $field:ident) => {
                $names
                    .iter()
                    .enumerate()
                    .map(|(k, n)| {
                        Self::tensor(
                            n,
                            move |s| &s.$field[k],
                            move |s| &mut s.$field[k],
                            TensorOptions::reset_with(rnn_uniform::<_, _, _, H>),
                        )
                    })
                    .collect::<Vec<_>>()
            };
        }
        visitor.visit_fields(
            (
                tensors!(first, weight_ih_first),
                tensors!(deeper, weight_ih_deeper),
                tensors!(hh, weight_hh),
                tensors!(bih, bias_ih),
                tensors!(bhh, bias_hh),
            ),
            |(weight_ih_first, weight_ih_deeper, weight_hh, bias_ih, bias_hh)| RnnStack {
                weight_ih_first,
                weight_ih_deeper,
                weight_hh,
                bias_ih,
                bias_hh,
                cell: PhantomData,
            },
        )
    }
}

impl<
        Cell,
        const G: usize,
        const I: usize,
        const H: usize,
        const O: usize,
        const L: usize,
        const BIDIR: bool,
        E,
        D,
    > RnnStack<Cell, G, I, H, O, L, BIDIR, E, D>
where
    Cell: RecurrentCell,
    E: Dtype,
    D: Device<E>,
{
    /// Runs every layer over `x`; `lengths` are the real lengths of right-padded sequences
    /// (`None`: all full). Padding never reaches the states or the outputs.
    ///
    /// # Errors
    /// [`AttnError::InvalidInput`] when lengths do not fit the batch (count, 0, or longer than S).
    pub fn try_forward<B: Dim, S: Dim, T: Tape<E, D> + 'static>(
        &self,
        x: Tensor<(B, S, Const<I>), E, D, T>,
        lengths: Option<&[usize]>,
    ) -> Result<RnnOutput<B, S, O, H, E, D, T>, AttnError> {
        let forward = cell_kernels::<Cell, E, D, T>()?.0;
        let (output, h_n, c_n) =
            forward(&self.erased()?, realized::<Dyn3, _, _, _, _>(x)?, lengths)?;
        let typed = |states: Vec<Tensor<Dyn2, E, D>>| {
            states
                .into_iter()
                .map(realized)
                .collect::<Result<Vec<_>, AttnError>>()
        };
        Ok(RnnOutput {
            output: realized(output)?,
            h_n: typed(h_n)?,
            c_n: typed(c_n)?,
        })
    }

    /// The parameters on run-time shapes (the same tensors: gradients reach them).
    fn erased(&self) -> Result<DynRnn<E, D>, AttnError> {
        fn all<S, Dst: Shape<Concrete = S::Concrete>, E: Dtype, D: Device<E>>(
            ts: &[Tensor<S, E, D>],
        ) -> Result<Vec<Tensor<Dst, E, D>>, AttnError>
        where
            S: Shape + RealizeShapeTo<Dst>,
        {
            ts.iter().map(|t| realized(t.clone())).collect()
        }
        Ok(DynRnn {
            weight_ih_first: all(&self.weight_ih_first)?,
            weight_ih_deeper: all(&self.weight_ih_deeper)?,
            weight_hh: all(&self.weight_hh)?,
            bias_ih: all(&self.bias_ih)?,
            bias_hh: all(&self.bias_hh)?,
            layers: L,
            dirs: Self::DIRS,
            hidden: H,
        })
    }

    /// One step of the first layer's forward direction (how a decoder runs its cell).
    ///
    /// # Shapes
    /// `x: [B, I]`, state `[B, H]` → state `[B, H]`.
    pub fn try_step<B: Dim, T: Tape<E, D> + 'static>(
        &self,
        tape: &mut TapeHolder<T>,
        x: &Tensor<(B, Const<I>), E, D>,
        state: &CellState<B, H, E, D>,
    ) -> Result<CellState<B, H, E, D>, AttnError> {
        let rnn = self.erased()?;
        let x = realized::<Dyn2, _, _, _, _>(x.clone())?;
        let step = cell_kernels::<Cell, E, D, T>()?.1;
        CellState::typed(step(&rnn, tape, &x, &state.erased()?)?)
    }
}

/// An [`RnnStack`]'s parameters on run-time shapes, what the layers compute with (once per
/// cell and tape type, whatever the models' sizes).
struct DynRnn<E: Dtype, D: Storage<E>> {
    /// `[G, H, I]` per direction.
    weight_ih_first: Vec<Tensor<Dyn3, E, D>>,
    /// `[G, H, O]`, `(layer − 1)·dirs + dir`.
    weight_ih_deeper: Vec<Tensor<Dyn3, E, D>>,
    /// `[G, H, H]`, `layer·dirs + dir`.
    weight_hh: Vec<Tensor<Dyn3, E, D>>,
    /// `[G, H]`, `layer·dirs + dir`.
    bias_ih: Vec<Tensor<Dyn2, E, D>>,
    /// `[G, H]`, `layer·dirs + dir`.
    bias_hh: Vec<Tensor<Dyn2, E, D>>,
    layers: usize,
    dirs: usize,
    hidden: usize,
}

/// The final `h` and `c` of every layer and direction, `[B, H]` each.
type States<E, D> = Vec<Tensor<Dyn2, E, D>>;

/// [`forward_dyn`] of one cell.
type ForwardFn<E, D, T> =
    fn(
        &DynRnn<E, D>,
        Tensor<Dyn3, E, D, T>,
        Option<&[usize]>,
    ) -> Result<(Tensor<Dyn3, E, D, T>, States<E, D>, States<E, D>), AttnError>;

/// [`step_dyn`] of one cell.
type StepFn<E, D, T> = fn(
    &DynRnn<E, D>,
    &mut TapeHolder<T>,
    &Tensor<Dyn2, E, D>,
    &DynState<E, D>,
) -> Result<DynState<E, D>, AttnError>;

kernel_tables! {
    /// This module's kernels for the LSTM and the GRU, compiled once in attn-runtime (see
    /// `kernel_tables!`).
    struct RnnKernels {
        lstm: (ForwardFn<E, D, T>, StepFn<E, D, T>)
            = (forward_dyn::<LstmCell, E, D, T>, step_dyn::<LstmCell, E, D, T>),
        gru: (ForwardFn<E, D, T>, StepFn<E, D, T>)
            = (forward_dyn::<GruCell, E, D, T>, step_dyn::<GruCell, E, D, T>),
    }
}

/// The compiled forward pass and step of `Cell`, one of attn's cells.
///
/// # Errors
/// [`AttnError::InvalidInput`] for a cell other than [`LstmCell`] and [`GruCell`].
fn cell_kernels<Cell: RecurrentCell, E: Dtype, D: Device<E>, T: Tape<E, D> + 'static>(
) -> Result<(ForwardFn<E, D, T>, StepFn<E, D, T>), AttnError> {
    let table = kernels::<E, D, T>()?;
    let cell = std::any::TypeId::of::<Cell>();
    if cell == std::any::TypeId::of::<LstmCell>() {
        Ok(table.lstm)
    } else if cell == std::any::TypeId::of::<GruCell>() {
        Ok(table.gru)
    } else {
        Err(AttnError::InvalidInput {
            reason: format!("RnnStack runs LstmCell and GruCell, not {}", Cell::NAME),
            fix: "use rnn::Lstm or rnn::Gru".into(),
        })
    }
}

/// Every layer over `x: [B, S, I]`: the top layer's `[B, S, O]` and the final `h` and `c`.
fn forward_dyn<Cell: RecurrentCell, E: Dtype, D: Device<E>, T: Tape<E, D> + 'static>(
    rnn: &DynRnn<E, D>,
    x: Tensor<Dyn3, E, D, T>,
    lengths: Option<&[usize]>,
) -> Result<(Tensor<Dyn3, E, D, T>, States<E, D>, States<E, D>), AttnError> {
    let (b, s, _) = *x.shape();
    let masks = step_masks::<E, D>(x.device(), b, s, rnn.hidden, lengths)?;
    let (mut tape, x) = TapeHolder::split(x);
    let (mut h_n, mut c_n) = (Vec::new(), Vec::new());
    let mut layer_out = layer_dyn::<Cell, E, D, T>(
        rnn,
        &mut tape,
        &x,
        0,
        &rnn.weight_ih_first,
        &masks,
        &mut h_n,
        &mut c_n,
    )?;
    for layer in 1..rnn.layers {
        let dirs = rnn.dirs;
        let w = &rnn.weight_ih_deeper[(layer - 1) * dirs..layer * dirs];
        layer_out = layer_dyn::<Cell, E, D, T>(
            rnn, &mut tape, &layer_out, layer, w, &masks, &mut h_n, &mut c_n,
        )?;
    }
    Ok((tape.finish(layer_out), h_n, c_n))
}

/// One layer, both directions; returns `[B, S, O]`.
#[allow(clippy::too_many_arguments)]
fn layer_dyn<Cell: RecurrentCell, E: Dtype, D: Device<E>, T: Tape<E, D> + 'static>(
    rnn: &DynRnn<E, D>,
    tape: &mut TapeHolder<T>,
    x: &Tensor<Dyn3, E, D>,
    layer: usize,
    weight_ih: &[Tensor<Dyn3, E, D>],
    masks: &Option<Vec<StepMask<E, D>>>,
    h_n: &mut Vec<Tensor<Dyn2, E, D>>,
    c_n: &mut Vec<Tensor<Dyn2, E, D>>,
) -> Result<Tensor<Dyn3, E, D>, AttnError> {
    let (b, s, width) = *x.shape();
    let h = rnn.hidden;
    let mut directions = Vec::new();
    for (dir, w_ih) in weight_ih.iter().enumerate() {
        let k = layer * rnn.dirs + dir;
        let (w_hh, b_ih, b_hh) = (&rnn.weight_hh[k], &rnn.bias_ih[k], &rnn.bias_hh[k]);
        let gh_width = w_ih.shape().0 * h;
        // the input projection of every step at once: [B·S, IN] · [IN, G·H]
        let gi_all = tape.run(x, |x| {
            let flat = x.try_reshape_like(&(b * s, width)).dev()?;
            project_input::<Cell, E, D, T>(flat, w_ih, b_ih, b_hh)?
                .try_reshape_like(&(b, s, gh_width))
                .dev()
        })?;
        let zeros = x.device().try_zeros_like(&(b, h)).dev()?;
        let mut state = DynState {
            h: zeros.clone(),
            c: Cell::HAS_CELL_STATE.then(|| zeros.clone()),
        };
        let mut outputs: Vec<Option<Tensor<Dyn2, E, D>>> = vec![None; s];
        let order: Vec<usize> = if dir == 0 {
            (0..s).collect()
        } else {
            (0..s).rev().collect()
        };
        for t in order {
            let gi = tape.run(&gi_all, |g| {
                g.try_slice((.., t..t + 1, ..))
                    .dev()?
                    .try_reshape_like(&(b, gh_width))
                    .dev()
            })?;
            let gh = tape.run(&state.h, |h| project_hidden::<Cell, E, D, T>(h, w_hh, b_hh))?;
            let next = Cell::step::<E, D, T>(tape, &gi, &gh, &state)?;
            let (next, out) = match masks {
                None => (next.clone(), next.h),
                Some(masks) => masks[t].apply(tape, next, &state)?,
            };
            state = next;
            outputs[t] = Some(out);
        }
        let outputs: Vec<_> = outputs.into_iter().flatten().collect();
        let stacked: Tensor<Dyn3, E, D> = tape.stack(&outputs)?; // [S, B, H]
        let out = tape.run(&stacked, |x| {
            x.try_permute::<_, Axes3<1, 0, 2>>()
                .dev()?
                .try_reshape_like(&(b, s, h))
                .dev()
        })?;
        directions.push(out);
        h_n.push(state.h);
        if let Some(c) = state.c {
            c_n.push(c);
        }
    }
    let mut dirs = directions.into_iter();
    let forward = dirs
        .next()
        .ok_or_else(|| AttnError::device("an RNN layer needs a direction"))?;
    match dirs.next() {
        None => Ok(forward),
        Some(backward) => tape.run(&forward, |f| {
            let r = backward.retaped::<T>();
            (f, r).try_concat_along(Axis::<2>).dev()
        }),
    }
}

/// One step of the first layer's forward direction: `x: [B, I]`, state `[B, H]` → state.
fn step_dyn<Cell: RecurrentCell, E: Dtype, D: Device<E>, T: Tape<E, D> + 'static>(
    rnn: &DynRnn<E, D>,
    tape: &mut TapeHolder<T>,
    x: &Tensor<Dyn2, E, D>,
    state: &DynState<E, D>,
) -> Result<DynState<E, D>, AttnError> {
    let (w_ih, w_hh, b_ih, b_hh) = (
        &rnn.weight_ih_first[0],
        &rnn.weight_hh[0],
        &rnn.bias_ih[0],
        &rnn.bias_hh[0],
    );
    let gi = tape.run(x, |x| project_input::<Cell, E, D, T>(x, w_ih, b_ih, b_hh))?;
    let gh = tape.run(&state.h, |h| project_hidden::<Cell, E, D, T>(h, w_hh, b_hh))?;
    Cell::step::<E, D, T>(tape, &gi, &gh, state)
}

/// `x·W_ihᵀ + b_ih` (plus `b_hh` when the cell folds it): `[N, IN] → [N, G·H]`.
fn project_input<Cell: RecurrentCell, E: Dtype, D: Device<E>, T: Tape<E, D> + 'static>(
    x: Tensor<Dyn2, E, D, T>,
    w_ih: &Tensor<Dyn3, E, D>,
    b_ih: &Tensor<Dyn2, E, D>,
    b_hh: &Tensor<Dyn2, E, D>,
) -> Result<Tensor<Dyn2, E, D, T>, AttnError> {
    let (g, h, width) = *w_ih.shape();
    let w = w_ih
        .retaped::<T>()
        .try_reshape_like(&(g * h, width))
        .dev()?;
    let y = x
        .try_matmul(w.try_permute::<_, Axes2<1, 0>>().dev()?)
        .dev()?;
    let y = add_gate_bias(y, b_ih)?;
    if Cell::FOLD_HIDDEN_BIAS {
        add_gate_bias(y, b_hh)
    } else {
        Ok(y)
    }
}

/// `h·W_hhᵀ` (plus `b_hh` when the cell does not fold it): `[B, H] → [B, G·H]`.
fn project_hidden<Cell: RecurrentCell, E: Dtype, D: Device<E>, T: Tape<E, D> + 'static>(
    h: Tensor<Dyn2, E, D, T>,
    w_hh: &Tensor<Dyn3, E, D>,
    b_hh: &Tensor<Dyn2, E, D>,
) -> Result<Tensor<Dyn2, E, D, T>, AttnError> {
    let (g, hidden, width) = *w_hh.shape();
    let w = w_hh
        .retaped::<T>()
        .try_reshape_like(&(g * hidden, width))
        .dev()?;
    let y = h
        .try_matmul(w.try_permute::<_, Axes2<1, 0>>().dev()?)
        .dev()?;
    if Cell::FOLD_HIDDEN_BIAS {
        Ok(y)
    } else {
        add_gate_bias(y, b_hh)
    }
}

/// `y + bias` with the `[G, H]` bias flattened and broadcast over the rows of `y: [N, G·H]`.
fn add_gate_bias<E: Dtype, D: Device<E>, T: Tape<E, D> + 'static>(
    y: Tensor<Dyn2, E, D, T>,
    bias: &Tensor<Dyn2, E, D>,
) -> Result<Tensor<Dyn2, E, D, T>, AttnError> {
    let shape = *y.shape();
    let (g, h) = *bias.shape();
    let bias = bias.retaped::<T>().try_reshape_like(&(g * h,)).dev()?;
    y.try_add(bias.try_broadcast_like::<_, Axis<0>>(&shape).dev()?)
        .dev()
}

/// Which sequences are still running at one step: `[B, H]` of 1 (running) or 0 (finished), and
/// its complement.
#[derive(Clone, Debug)]
pub(crate) struct StepMask<E: Dtype, D: Storage<E>> {
    keep_new: Tensor<Dyn2, E, D>,
    keep_old: Tensor<Dyn2, E, D>,
}

impl<E: Dtype, D: Device<E>> StepMask<E, D> {
    /// New state where running, old state where finished; the output is the new hidden state
    /// where running and zero where finished (PyTorch's packed-sequence outputs).
    fn apply<T: Tape<E, D> + 'static>(
        &self,
        tape: &mut TapeHolder<T>,
        next: DynState<E, D>,
        old: &DynState<E, D>,
    ) -> Result<(DynState<E, D>, Tensor<Dyn2, E, D>), AttnError> {
        let out = tape.run(&next.h, |h| h.try_mul(self.keep_new.clone()).dev())?;
        let blend =
            |tape: &mut TapeHolder<T>, new: &Tensor<Dyn2, E, D>, old: &Tensor<Dyn2, E, D>| {
                let kept = tape.run(old, |o| o.try_mul(self.keep_old.clone()).dev())?;
                tape.run(new, |n| {
                    n.try_mul(self.keep_new.clone()).dev()?.try_add(kept).dev()
                })
            };
        let h = blend(tape, &next.h, &old.h)?;
        let c = match (&next.c, &old.c) {
            (Some(new), Some(old)) => Some(blend(tape, new, old)?),
            (c, _) => c.clone(),
        };
        Ok((DynState { h, c }, out))
    }
}

/// Per-step masks for right-padded sequences of `[B, H]` states, `None` when every sequence is
/// full.
fn step_masks<E: Dtype, D: Device<E>>(
    dev: &D,
    b: usize,
    s: usize,
    h: usize,
    lengths: Option<&[usize]>,
) -> Result<Option<Vec<StepMask<E, D>>>, AttnError> {
    let Some(lengths) = lengths else {
        return Ok(None);
    };
    expect_dim("rnn.lengths", b, lengths.len()).map_err(|_| AttnError::InvalidInput {
        reason: format!("{} lengths for a batch of {}", lengths.len(), b),
        fix: "pass one length per sequence".into(),
    })?;
    if let Some((i, &len)) = lengths.iter().enumerate().find(|(_, &l)| l == 0 || l > s) {
        return Err(AttnError::InvalidInput {
            reason: format!("sequence {i} has length {len}; lengths must be in 1..={s}"),
            fix: "drop empty sequences; pad every sequence to the longest".into(),
        });
    }
    if lengths.iter().all(|&l| l == s) {
        return Ok(None);
    }
    let (one, zero) = (E::ONE, E::default());
    (0..s)
        .map(|t| {
            let running: Vec<bool> = lengths.iter().map(|&l| t < l).collect();
            let new: Vec<E> = running
                .iter()
                .flat_map(|&r| std::iter::repeat_n(if r { one } else { zero }, h))
                .collect();
            let old: Vec<E> = running
                .iter()
                .flat_map(|&r| std::iter::repeat_n(if r { zero } else { one }, h))
                .collect();
            Ok(StepMask {
                keep_new: dev.try_tensor_from_vec(new, (b, h)).dev()?,
                keep_old: dev.try_tensor_from_vec(old, (b, h)).dev()?,
            })
        })
        .collect::<Result<Vec<_>, AttnError>>()
        .map(Some)
}
