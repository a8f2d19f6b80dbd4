//! Golden tests of the LSTM and GRU layers against PyTorch (`tools/gen_rnn_fixtures.py`):
//! outputs, final states and the gradients of the input and every parameter, one layer and two
//! bidirectional layers, padded and full-length batches, within 1e-5 in f32.

mod common;

use attn_runtime::prelude::*;
use attn_runtime::rnn::{CellState, GruCell, LstmCell, RecurrentCell, RnnStack};
use attn_runtime::tape_holder::TapeHolder;
use common::*;

const I: usize = 5;
const H: usize = 4;

fn check<Cell: RecurrentCell, const G: usize, const O: usize, const L: usize, const BIDIR: bool>(
    name: &str,
) where
    RnnStack<Cell, G, I, H, O, L, BIDIR, f32, TestDevice>: BuildModule<TestDevice, f32>,
{
    let dev = TestDevice::default();
    let fx = Fixture::load("rnn", name);
    let (b, s) = (fx.usize("b"), fx.usize("s"));
    let mut rnn = RnnStack::<Cell, G, I, H, O, L, BIDIR, f32, TestDevice>::build(&dev);
    rnn.load_pytorch_state_dict(&fx.sd, "param.").unwrap();

    let x = tensor(&dev, &fx, "x", (b, s, Const::<I>));
    let up_out = tensor(&dev, &fx, "up_output", (b, s, Const::<O>));
    let up_h = fx.values("up_h");
    let lengths = fx.lengths();
    let out = rnn
        .try_forward(x.leaky_trace(), lengths.as_deref())
        .unwrap();

    let h_n: Vec<f32> = out.h_n.iter().flat_map(|h| h.as_vec()).collect();
    fx.assert_close("expected.output", &out.output.as_vec());
    fx.assert_close("expected.h_n", &h_n);
    let up_c = if Cell::HAS_CELL_STATE {
        let c_n: Vec<f32> = out.c_n.iter().flat_map(|c| c.as_vec()).collect();
        fx.assert_close("expected.c_n", &c_n);
        fx.values("up_c")
    } else {
        assert!(out.c_n.is_empty());
        Vec::new()
    };

    // loss = sum(output * up_output) + sum(h_n * up_h) [+ sum(c_n * up_c)]
    let (mut tape, output) = TapeHolder::split(out.output);
    let mut loss = tape
        .run(&output, |o| {
            o.try_mul(up_out)
                .map_err(AttnError::device)?
                .try_sum()
                .map_err(AttnError::device)
        })
        .unwrap();
    let finals = out
        .h_n
        .iter()
        .map(|h| (h, &up_h))
        .chain(out.c_n.iter().map(|c| (c, &up_c)));
    for (k, (state, up)) in finals.enumerate() {
        let k = k % out.h_n.len();
        let up = dev.tensor_from_vec(up[k * b * H..(k + 1) * b * H].to_vec(), (b, Const::<H>));
        let prev = loss.clone();
        loss = tape
            .run(state, |st| {
                st.try_mul(up)
                    .map_err(AttnError::device)?
                    .try_sum()
                    .map_err(AttnError::device)?
                    .try_add(prev)
                    .map_err(AttnError::device)
            })
            .unwrap();
    }
    let grads = tape.finish(loss).backward();
    fx.assert_close("grad.x", &grads.get(&x).as_vec());
    let dirs = if BIDIR { 2 } else { 1 };
    let suffix = |d: usize| if d == 1 { "_reverse" } else { "" };
    for d in 0..dirs {
        fx.assert_close(
            &format!("grad.weight_ih_l0{}", suffix(d)),
            &grads.get(&rnn.weight_ih_first[d]).as_vec(),
        );
    }
    for (k, w) in rnn.weight_ih_deeper.iter().enumerate() {
        fx.assert_close(
            &format!("grad.weight_ih_l{}{}", k / dirs + 1, suffix(k % dirs)),
            &grads.get(w).as_vec(),
        );
    }
    for k in 0..L * dirs {
        let (layer, d) = (k / dirs, suffix(k % dirs));
        fx.assert_close(
            &format!("grad.weight_hh_l{layer}{d}"),
            &grads.get(&rnn.weight_hh[k]).as_vec(),
        );
        fx.assert_close(
            &format!("grad.bias_ih_l{layer}{d}"),
            &grads.get(&rnn.bias_ih[k]).as_vec(),
        );
        fx.assert_close(
            &format!("grad.bias_hh_l{layer}{d}"),
            &grads.get(&rnn.bias_hh[k]).as_vec(),
        );
    }
}

#[test]
fn lstm_one_layer_padded_matches_pytorch() {
    check::<LstmCell, 4, 4, 1, false>("lstm_one_layer_padded");
}

#[test]
fn lstm_full_length_matches_pytorch() {
    check::<LstmCell, 4, 4, 1, false>("lstm_full_length");
}

#[test]
fn lstm_bidirectional_two_layers_padded_matches_pytorch() {
    check::<LstmCell, 4, 8, 2, true>("lstm_bidirectional_two_layers_padded");
}

#[test]
fn gru_one_layer_padded_matches_pytorch() {
    check::<GruCell, 3, 4, 1, false>("gru_one_layer_padded");
}

#[test]
fn gru_full_length_matches_pytorch() {
    check::<GruCell, 3, 4, 1, false>("gru_full_length");
}

#[test]
fn gru_bidirectional_two_layers_padded_matches_pytorch() {
    check::<GruCell, 3, 8, 2, true>("gru_bidirectional_two_layers_padded");
}

/// One cell step from a non-zero state, as a decoder runs it.
fn check_cell<Cell: RecurrentCell, const G: usize>(name: &str)
where
    RnnStack<Cell, G, I, H, H, 1, false, f32, TestDevice>: BuildModule<TestDevice, f32>,
{
    let dev = TestDevice::default();
    let fx = Fixture::load("rnn", name);
    let b = fx.usize("b");
    let mut rnn = RnnStack::<Cell, G, I, H, H, 1, false, f32, TestDevice>::build(&dev);
    rnn.load_pytorch_state_dict(&fx.sd, "param.").unwrap();
    let x = tensor(&dev, &fx, "x", (b, Const::<I>));
    let h0 = tensor(&dev, &fx, "h0", (b, Const::<H>));
    let c0 = Cell::HAS_CELL_STATE.then(|| tensor(&dev, &fx, "c0", (b, Const::<H>)));
    let up_h = tensor(&dev, &fx, "up_h", (b, Const::<H>));

    let (mut tape, x_recorded) = TapeHolder::split(x.leaky_trace());
    let state = CellState {
        h: h0.clone(),
        c: c0.clone(),
    };
    let next = rnn.try_step(&mut tape, &x_recorded, &state).unwrap();
    fx.assert_close("expected.h", &next.h.as_vec());
    let mut loss = tape
        .run(&next.h, |h| {
            h.try_mul(up_h)
                .map_err(AttnError::device)?
                .try_sum()
                .map_err(AttnError::device)
        })
        .unwrap();
    if let Some(c) = &next.c {
        fx.assert_close("expected.c", &c.as_vec());
        let up_c = tensor(&dev, &fx, "up_c", (b, Const::<H>));
        let prev = loss.clone();
        loss = tape
            .run(c, |c| {
                c.try_mul(up_c)
                    .map_err(AttnError::device)?
                    .try_sum()
                    .map_err(AttnError::device)?
                    .try_add(prev)
                    .map_err(AttnError::device)
            })
            .unwrap();
    }
    let grads = tape.finish(loss).backward();
    fx.assert_close("grad.x", &grads.get(&x).as_vec());
    fx.assert_close("grad.h0", &grads.get(&h0).as_vec());
    if let Some(c0) = &c0 {
        fx.assert_close("grad.c0", &grads.get(c0).as_vec());
    }
    fx.assert_close(
        "grad.weight_ih_l0",
        &grads.get(&rnn.weight_ih_first[0]).as_vec(),
    );
    fx.assert_close("grad.weight_hh_l0", &grads.get(&rnn.weight_hh[0]).as_vec());
    fx.assert_close("grad.bias_ih_l0", &grads.get(&rnn.bias_ih[0]).as_vec());
    fx.assert_close("grad.bias_hh_l0", &grads.get(&rnn.bias_hh[0]).as_vec());
}

#[test]
fn lstm_cell_step_from_a_given_state_matches_pytorch() {
    check_cell::<LstmCell, 4>("lstm_cell_step");
}

#[test]
fn gru_cell_step_from_a_given_state_matches_pytorch() {
    check_cell::<GruCell, 3>("gru_cell_step");
}
