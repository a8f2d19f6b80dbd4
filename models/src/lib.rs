//! The attn model zoo.
