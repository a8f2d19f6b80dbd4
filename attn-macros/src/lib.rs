//! Procedural macros of attn. Users reach them through `attn_runtime`.
