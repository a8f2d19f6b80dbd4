//! `train` over the zoo: see [`attn_cli::train`].

fn main() {
    attn_cli::train::main(&attn_models::registry());
}
