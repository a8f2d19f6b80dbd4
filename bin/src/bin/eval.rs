//! `eval` over the zoo: see [`attn_cli::eval`].

fn main() {
    attn_cli::eval::main(&attn_models::registry());
}
