//! `my-attn train my-reverser`, `my-attn eval runs/my-reverser/<timestamp>`, `my-attn predict ...`,
//! `my-attn attend ...`: attn's commands over this crate's models.

fn main() {
    attn_cli::main(&my_attn_models::registry());
}
