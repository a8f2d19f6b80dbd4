//! `predict` over the zoo: see [`attn_cli::predict`].

fn main() {
    attn_cli::predict::main(&attn_models::registry());
}
