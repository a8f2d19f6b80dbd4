//! `sweep` over the zoo's sweeps: see [`attn_cli::sweep`].

// Counts heap bytes so that each run of the sweep records its own peak memory.
#[global_allocator]
static ALLOC: attn_runtime::experiment::PeakAlloc = attn_runtime::experiment::PeakAlloc;

fn main() {
    attn_cli::sweep::main(&attn_models::registry());
}
