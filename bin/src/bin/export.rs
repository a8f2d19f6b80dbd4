//! `export` over the zoo: see [`attn_cli::export`].

fn main() {
    attn_cli::export::main(&attn_models::registry());
}
