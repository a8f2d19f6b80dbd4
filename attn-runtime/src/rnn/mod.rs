//! Recurrent layers (dfdx 0.13 has none): LSTM and GRU cells and multi-layer, bidirectional
//! stacks with PyTorch's gate order and parameter names, over variable-length batches.

mod cell;
mod stack;

pub use cell::{CellState, DynState, GruCell, LstmCell, RecurrentCell};
pub use stack::{Gru, Lstm, RnnOutput, RnnStack};
