//! `generate` over the zoo: see [`attn_cli::generate`].

fn main() {
    attn_cli::generate::main(&attn_models::registry());
}
