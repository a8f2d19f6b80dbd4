//! The kernels' configuration, chosen for the CPU at run time: which instruction set the
//! attention tiles and the matrix products run on, how many query rows an attention tile holds,
//! how many inner steps a matrix product packs at a time, and how long the thread pool's
//! workers stay awake between parallel passes. One binary is built for every x86-64
//! CPU; the choice is made on first use from the CPU's features and level-1 data cache (cpuid),
//! shown by [`KernelConfig::describe`] (`train --verbose` prints it), and overridable for
//! benchmarks and tests with the environment variable [`ENV_VAR`]:
//!
//! ```text
//! ATTN_KERNEL=isa=avx2,block_q=32,gemm_kc=128,spin_us=0
//! ```
//!
//! `isa` is `avx512`, `avx2` or `portable` (the CPU must have it; `portable` runs the matrix
//! products on the `gemm` crate's own kernels); `block_q` is one of [`BLOCK_Q_CHOICES`]
//! (otherwise it follows the tile's working set, see [`KernelConfig::block_q`]); `gemm_kc` is
//! one of [`GEMM_KC_CHOICES`] (otherwise it follows the level-1 cache, see
//! [`ProductConfig::kc`]); `spin_us` is how long, in microseconds, idle workers keep looking
//! for work before they sleep (see [`crate::threads::keep_workers_awake`]; 0 lets them sleep at
//! once, as rayon does by itself). `isa` and `gemm_kc` are parsed by the `attn-gemm` crate's
//! [`ProductConfig`], which dfdx's matmuls read too (through `shims/gemm`), so the two read one
//! spec alike. Every configuration gives the same function (tests check each attention
//! configuration this machine can run against dfdx's composite attention, values and
//! gradients, and every product configuration against the textbook product); only the speed
//! differs.

use std::fmt;
use std::sync::OnceLock;
use std::time::Duration;

pub use attn_gemm::{Isa, ProductConfig, ENV_VAR, GEMM_KC_CHOICES};

use crate::error::AttnError;

/// The query-block heights a configuration may fix: multiples of the tiles' four-row register
/// block.
pub const BLOCK_Q_CHOICES: [usize; 4] = [8, 16, 32, 64];

/// The keys [`ENV_VAR`] takes and their values, for the fix of an error about it.
fn settings() -> String {
    let isas: Vec<&str> = Isa::ALL.iter().map(|isa| isa.name()).collect();
    format!(
        "isa: one of {} that this CPU has; block_q: one of {BLOCK_Q_CHOICES:?}; gemm_kc: one of \
         {GEMM_KC_CHOICES:?}; spin_us: microseconds, 0 or more",
        isas.join(", ")
    )
}

/// How attn's kernels run on this CPU (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KernelConfig {
    /// The instruction set of every kernel's tiles, the matrix products' blocks, and the
    /// caches both are sized to.
    pub product: ProductConfig,
    /// Query rows per tile: fixed, or `None` to follow the tile's working set.
    pub fixed_block_q: Option<usize>,
    /// How long the pool's idle workers keep looking for work before they sleep.
    pub spin: Duration,
}

/// Idle workers look for work this long before they sleep: longer than the serial stretches
/// between a training step's parallel passes (tens to hundreds of microseconds), short enough
/// that a pause in the program frees the cores at once to a person's eye.
pub const DEFAULT_SPIN: Duration = Duration::from_millis(5);

impl KernelConfig {
    /// What this CPU supports best: its best instruction set, query blocks and product blocks
    /// sized to its caches.
    pub fn detected() -> KernelConfig {
        KernelConfig {
            product: ProductConfig::detected(),
            fixed_block_q: None,
            spin: DEFAULT_SPIN,
        }
    }

    /// The configuration the kernels use: [`detected`](Self::detected), or [`ENV_VAR`]'s when it
    /// is set; decided once per process.
    ///
    /// # Errors
    /// [`AttnError::InvalidInput`] when [`ENV_VAR`] does not parse, or names an instruction set
    /// this CPU lacks.
    pub fn current() -> Result<KernelConfig, AttnError> {
        static CURRENT: OnceLock<Result<KernelConfig, String>> = OnceLock::new();
        CURRENT
            .get_or_init(|| match std::env::var(ENV_VAR) {
                // the parse error's reason alone: the fix below says more than its own
                Ok(spec) => KernelConfig::parse(&spec).map_err(|e| match e {
                    AttnError::InvalidInput { reason, .. } => reason,
                    other => other.to_string(),
                }),
                Err(_) => Ok(KernelConfig::detected()),
            })
            .clone()
            .map_err(|reason| AttnError::InvalidInput {
                reason,
                fix: format!(
                    "unset {ENV_VAR}, or set it to e.g. `isa=avx2,block_q=32,gemm_kc=128,spin_us=0` \
                     ({})",
                    settings()
                ),
            })
    }

    /// The detected configuration with the settings of `spec` (`key=value` pairs separated by
    /// commas; keys `isa`, `block_q`, `gemm_kc` and `spin_us`).
    ///
    /// # Errors
    /// [`AttnError::InvalidInput`] for an unknown key or value, a block height outside
    /// [`BLOCK_Q_CHOICES`], a product block outside [`GEMM_KC_CHOICES`], or an instruction set
    /// this CPU lacks.
    pub fn parse(spec: &str) -> Result<KernelConfig, AttnError> {
        let invalid = |reason: String| AttnError::InvalidInput {
            reason: format!("{ENV_VAR}={spec:?}: {reason}"),
            fix: format!(
                "write `key=value` items separated by commas: {}",
                settings()
            ),
        };
        let mut config = KernelConfig {
            product: ProductConfig::from_spec(spec).map_err(|e| invalid(e.to_string()))?,
            ..KernelConfig::detected()
        };
        for item in attn_gemm::spec_items(spec) {
            let (key, value) = item.map_err(|e| invalid(e.to_string()))?;
            match key {
                "block_q" => {
                    let rows = attn_gemm::choice("block_q", value, &BLOCK_Q_CHOICES)
                        .map_err(|e| invalid(e.to_string()))?;
                    config.fixed_block_q = Some(rows);
                }
                "spin_us" => {
                    let us = value.parse().map_err(|_| {
                        invalid(format!(
                            "spin_us `{value}` is not a whole number of microseconds"
                        ))
                    })?;
                    config.spin = Duration::from_micros(us);
                }
                key if ProductConfig::KEYS.contains(&key) => {}
                other => return Err(invalid(format!("unknown key `{other}`"))),
            }
        }
        Ok(config)
    }

    /// Every configuration this CPU can run that the selector or [`ENV_VAR`] can choose: each
    /// available instruction set with each fixed block height and with the cache-sized one.
    pub fn candidates() -> Vec<KernelConfig> {
        let detected = KernelConfig::detected();
        let heights = BLOCK_Q_CHOICES.into_iter().map(Some).chain([None]);
        ProductConfig::per_isa()
            .into_iter()
            .flat_map(|product| {
                heights.clone().map(move |fixed_block_q| KernelConfig {
                    product,
                    fixed_block_q,
                    ..detected
                })
            })
            .collect()
    }

    /// The instruction set of the tiles.
    pub fn isa(&self) -> Isa {
        self.product.isa
    }

    /// Query rows per tile for heads of `head_dim` keys and `value_dim` values: the fixed
    /// height, or the tallest of [`BLOCK_Q_CHOICES`] whose working set fits the level-1 data
    /// cache in each of a tile's two products (the smallest choice when none does): the scores
    /// read the block of queries and the key block and write the score tile; the mixing reads
    /// the tile and the value block into the output accumulator. The key block is not read
    /// again once the scores are made, nor the value block before, so only one of them counts.
    pub fn block_q(&self, head_dim: usize, value_dim: usize, block_k: usize) -> usize {
        if let Some(rows) = self.fixed_block_q {
            return rows;
        }
        let bytes = |rows: usize| {
            let scores = rows * head_dim + block_k * head_dim + rows * block_k;
            let mixing = rows * block_k + block_k * value_dim + rows * value_dim;
            4 * scores.max(mixing)
        };
        BLOCK_Q_CHOICES
            .into_iter()
            .rev()
            .find(|&rows| bytes(rows) <= self.product.l1_bytes)
            .unwrap_or(BLOCK_Q_CHOICES[0])
    }

    /// One line for logs: the instruction set, the block rule and the cache it follows, and where
    /// the choice came from.
    pub fn describe(&self) -> String {
        let source = if std::env::var_os(ENV_VAR).is_some() {
            format!("set by {ENV_VAR}")
        } else {
            format!("detected; {ENV_VAR} overrides")
        };
        format!("kernels: {self} ({source})")
    }
}

impl fmt::Display for KernelConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "isa={} ", self.product.isa.name())?;
        match self.fixed_block_q {
            Some(rows) => write!(f, "block_q={rows}"),
            None => write!(
                f,
                "block_q=auto (tiles sized to a {} KiB L1d, {} KiB L2)",
                self.product.l1_bytes / 1024,
                self.product.l2_bytes / 1024
            ),
        }?;
        let spin = self.spin.as_micros();
        write!(f, " {} spin_us={spin}", self.product.kc_setting())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_and_bad_ones_say_what_is_wrong() {
        let c = KernelConfig::parse("isa=portable, block_q=16").unwrap();
        assert_eq!((c.isa(), c.fixed_block_q), (Isa::Portable, Some(16)));
        assert_eq!(
            c.to_string(),
            "isa=portable block_q=16 gemm_kc=auto (the gemm crate's blocking) spin_us=5000"
        );
        let c = KernelConfig::parse("gemm_kc=128").unwrap();
        assert_eq!(c.product.fixed_kc, Some(128));
        assert!(c.to_string().contains(" gemm_kc=128 "));
        let c = KernelConfig::parse("spin_us=250").unwrap();
        assert_eq!(c.spin, Duration::from_micros(250));
        let c = KernelConfig::parse("").unwrap();
        assert_eq!(c, KernelConfig::detected());
        // the product's keys are the product's own parse: dfdx's matmuls read the same
        let spec = "block_q=32,isa=portable,gemm_kc=256,spin_us=0";
        let c = KernelConfig::parse(spec).unwrap();
        assert_eq!(c.product, ProductConfig::from_spec(spec).unwrap());
        assert_eq!(c.product.fixed_kc, Some(256));
        for (spec, says) in [
            ("isa=sse", "unknown isa"),
            ("block_q=12", "not one of"),
            ("gemm_kc=100", "not one of"),
            ("blocks=8", "unknown key"),
            ("avx2", "not key=value"),
            ("spin_us=-1", "whole number of microseconds"),
        ] {
            let err = KernelConfig::parse(spec).unwrap_err();
            assert!(
                matches!(&err, AttnError::InvalidInput { reason, .. } if reason.contains(says)),
                "{spec}: {err}"
            );
        }
        if !Isa::Avx512.available() {
            assert!(KernelConfig::parse("isa=avx512").is_err());
        }
        // the fix names every value each key takes
        let Err(AttnError::InvalidInput { fix, .. }) = KernelConfig::parse("block_q=12") else {
            panic!("block_q=12 is refused");
        };
        for isa in Isa::ALL {
            assert!(fix.contains(isa.name()), "{fix}");
        }
        assert!(fix.contains("block_q: one of [8, 16, 32, 64]"), "{fix}");
        assert!(
            fix.contains("gemm_kc: one of [64, 128, 256, 384, 512]"),
            "{fix}"
        );
        assert!(fix.contains("spin_us"), "{fix}");
    }

    #[test]
    fn auto_blocks_fit_the_cache_and_fixed_ones_are_kept() {
        let auto = |l1_bytes| KernelConfig {
            product: ProductConfig {
                isa: Isa::Portable,
                fixed_kc: None,
                l1_bytes,
                l2_bytes: 1024 * 1024,
            },
            fixed_block_q: None,
            spin: DEFAULT_SPIN,
        };
        // 64 rows of 32-wide heads: (64·32 + 64·32 + 64·64) · 4 = 32 KiB in either product
        assert_eq!(auto(32 * 1024).block_q(32, 32, 64), 64);
        assert_eq!(auto(32 * 1024 - 4).block_q(32, 32, 64), 32);
        // the larger of the two products decides: 32-wide keys but 64-wide values
        assert_eq!(auto(32 * 1024).block_q(32, 64, 64), 32);
        assert_eq!(auto(32 * 1024).block_q(64, 32, 64), 32);
        // 128-wide heads: the key block alone is 32 KiB; 16 rows add 16 KiB
        assert_eq!(auto(48 * 1024).block_q(128, 128, 64), 16);
        assert_eq!(auto(32 * 1024).block_q(128, 128, 64), 8);
        assert_eq!(auto(1024).block_q(64, 64, 64), 8);
        let fixed = KernelConfig {
            fixed_block_q: Some(16),
            ..auto(1024)
        };
        assert_eq!(fixed.block_q(32, 32, 64), 16);
        // the log line names the caches the blocks follow
        assert_eq!(
            auto(32 * 1024).to_string(),
            "isa=portable block_q=auto (tiles sized to a 32 KiB L1d, 1024 KiB L2) \
             gemm_kc=auto (the gemm crate's blocking) spin_us=5000"
        );
        // every candidate runs here, and the best instruction set comes first
        let all = KernelConfig::candidates();
        assert!(all.iter().all(|c| c.isa().available()));
        assert_eq!(all[0].isa(), Isa::best());
        assert_eq!(all.len() % (BLOCK_Q_CHOICES.len() + 1), 0);
    }
}
