//! Benchmarks live in `benches/`; this library holds what they share: the machine's measured
//! floating-point peak, against which the GEMM benchmark is judged.

pub mod peak;
