//! `attend` over the zoo: see [`attn_cli::attend`].

fn main() {
    attn_cli::attend::main(&attn_models::registry());
}
