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
//! [`KernelConfig::gemm_kc`]); `spin_us` is how long, in microseconds, idle workers keep looking
//! for work before they sleep (see [`crate::threads::keep_workers_awake`]; 0 lets them sleep at
//! once, as rayon does by itself). Every configuration gives the same function (tests check each
//! attention configuration this machine can run against dfdx's composite attention, values and
//! gradients, and every product configuration against the textbook product); only the speed
//! differs.

use std::fmt;
use std::sync::OnceLock;
use std::time::Duration;

use crate::error::AttnError;

/// The environment variable that overrides the detected configuration.
pub const ENV_VAR: &str = "ATTN_KERNEL";

/// The query-block heights a configuration may fix: multiples of the tiles' four-row register
/// block.
pub const BLOCK_Q_CHOICES: [usize; 4] = [8, 16, 32, 64];

/// The inner steps per packed block of a matrix product a configuration may fix.
pub const GEMM_KC_CHOICES: [usize; 5] = [64, 128, 256, 384, 512];

/// The instruction set the attention tiles are compiled for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isa {
    /// AVX-512 F/VL with AVX2 and FMA: 4 × 32 attention register blocks, 8 × 32 product tiles.
    Avx512,
    /// AVX2 with FMA: 4 × 16 attention register blocks, 6 × 16 product tiles.
    Avx2,
    /// Plain arithmetic, any CPU; matrix products on the `gemm` crate's own dispatch.
    Portable,
}

impl Isa {
    /// Every instruction set, best first.
    pub const ALL: [Isa; 3] = [Isa::Avx512, Isa::Avx2, Isa::Portable];

    /// Whether this CPU can run it.
    pub fn available(self) -> bool {
        match self {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => super::simd::has_avx512(),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => super::simd::has_avx2_fma(),
            #[cfg(not(target_arch = "x86_64"))]
            Isa::Avx512 | Isa::Avx2 => false,
            Isa::Portable => true,
        }
    }

    /// The best this CPU has.
    pub fn best() -> Isa {
        Isa::ALL
            .into_iter()
            .find(|isa| isa.available())
            .unwrap_or(Isa::Portable)
    }

    /// How many columns its matrix-product tiles are wide (`None`: products run on the `gemm`
    /// crate, which blocks them itself).
    pub fn product_tile_cols(self) -> Option<usize> {
        match self {
            Isa::Avx512 => Some(32),
            Isa::Avx2 => Some(16),
            Isa::Portable => None,
        }
    }

    /// How many rows its matrix-product tiles for a packed `A` (a weight gradient's `dyᵀ`)
    /// are high (`None`: such products run on the `gemm` crate).
    pub fn packed_a_tile_rows(self) -> Option<usize> {
        match self {
            Isa::Avx2 => Some(6),
            Isa::Avx512 | Isa::Portable => None,
        }
    }

    /// Its name in [`ENV_VAR`].
    pub fn name(self) -> &'static str {
        match self {
            Isa::Avx512 => "avx512",
            Isa::Avx2 => "avx2",
            Isa::Portable => "portable",
        }
    }
}

/// How the attention kernel runs on this CPU (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KernelConfig {
    /// The instruction set of the tiles.
    pub isa: Isa,
    /// Query rows per tile: fixed, or `None` to follow the tile's working set.
    pub fixed_block_q: Option<usize>,
    /// Inner steps per packed block of a matrix product: fixed, or `None` to follow the
    /// level-1 cache.
    pub fixed_gemm_kc: Option<usize>,
    /// The level-1 data cache a tile's working set should fit, in bytes.
    pub l1_bytes: usize,
    /// The level-2 cache a matrix product's packed block of `B` should stay in, in bytes.
    pub l2_bytes: usize,
    /// How long the pool's idle workers keep looking for work before they sleep.
    pub spin: Duration,
}

/// Assumed where cpuid does not say (32 KiB, the smallest of current x86 cores).
const DEFAULT_L1_BYTES: usize = 32 * 1024;

/// Assumed where cpuid does not say (512 KiB, the smallest of current x86 server cores).
const DEFAULT_L2_BYTES: usize = 512 * 1024;

/// Idle workers look for work this long before they sleep: longer than the serial stretches
/// between a training step's parallel passes (tens to hundreds of microseconds), short enough
/// that a pause in the program frees the cores at once to a person's eye.
pub const DEFAULT_SPIN: Duration = Duration::from_millis(5);

impl KernelConfig {
    /// What this CPU supports best: its best instruction set, query blocks sized to its level-1
    /// data cache.
    pub fn detected() -> KernelConfig {
        KernelConfig {
            isa: Isa::best(),
            fixed_block_q: None,
            fixed_gemm_kc: None,
            l1_bytes: cache_bytes(1).unwrap_or(DEFAULT_L1_BYTES),
            l2_bytes: cache_bytes(2).unwrap_or(DEFAULT_L2_BYTES),
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
                     (isa: avx512, avx2 or portable, one this CPU has; block_q: one of \
                     {BLOCK_Q_CHOICES:?}; gemm_kc: one of {GEMM_KC_CHOICES:?}; spin_us: \
                     microseconds, 0 or more)"
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
            fix: "write `isa=<avx512|avx2|portable>`, `block_q=<8|16|32|64>`, \
                  `gemm_kc=<64|128|256|384|512>` and/or `spin_us=<microseconds>`, separated by \
                  commas"
                .into(),
        };
        let choice = |key: &str, value: &str, choices: &[usize]| {
            value
                .trim()
                .parse()
                .ok()
                .filter(|v| choices.contains(v))
                .ok_or_else(|| invalid(format!("{key} `{value}` is not one of {choices:?}")))
        };
        let mut config = KernelConfig::detected();
        for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (key, value) = item
                .split_once('=')
                .ok_or_else(|| invalid(format!("`{item}` is not key=value")))?;
            match key.trim() {
                "isa" => {
                    let isa = Isa::ALL
                        .into_iter()
                        .find(|isa| isa.name() == value.trim())
                        .ok_or_else(|| invalid(format!("unknown isa `{value}`")))?;
                    if !isa.available() {
                        return Err(invalid(format!("this CPU has no {}", isa.name())));
                    }
                    config.isa = isa;
                }
                "block_q" => {
                    config.fixed_block_q = Some(choice("block_q", value, &BLOCK_Q_CHOICES)?);
                }
                "gemm_kc" => {
                    config.fixed_gemm_kc = Some(choice("gemm_kc", value, &GEMM_KC_CHOICES)?);
                }
                "spin_us" => {
                    let us = value.trim().parse().map_err(|_| {
                        invalid(format!(
                            "spin_us `{value}` is not a whole number of microseconds"
                        ))
                    })?;
                    config.spin = Duration::from_micros(us);
                }
                other => return Err(invalid(format!("unknown key `{other}`"))),
            }
        }
        Ok(config)
    }

    /// Every configuration this CPU can run that the selector or [`ENV_VAR`] can choose: each
    /// available instruction set with each fixed block height and with the cache-sized one.
    pub fn candidates() -> Vec<KernelConfig> {
        Self::per_isa(&BLOCK_Q_CHOICES, |config, rows| config.fixed_block_q = rows)
    }

    /// The detected configuration for each instruction set this CPU has, with `set` applied to
    /// each of `choices` and to `None` (the cache-sized choice) in turn.
    fn per_isa(
        choices: &[usize],
        set: impl Fn(&mut KernelConfig, Option<usize>),
    ) -> Vec<KernelConfig> {
        let detected = KernelConfig::detected();
        let settings = choices.iter().copied().map(Some).chain([None]);
        let set = &set;
        Isa::ALL
            .into_iter()
            .filter(|isa| isa.available())
            .flat_map(|isa| {
                settings.clone().map(move |setting| {
                    let mut config = KernelConfig { isa, ..detected };
                    set(&mut config, setting);
                    config
                })
            })
            .collect()
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
            .find(|&rows| bytes(rows) <= self.l1_bytes)
            .unwrap_or(BLOCK_Q_CHOICES[0])
    }

    /// Every matrix-product configuration this CPU can run that the selector or [`ENV_VAR`] can
    /// choose: each available instruction set with each fixed product block and with the
    /// cache-sized one.
    pub fn gemm_candidates() -> Vec<KernelConfig> {
        Self::per_isa(&GEMM_KC_CHOICES, |config, steps| {
            config.fixed_gemm_kc = steps
        })
    }

    /// Inner steps per packed block of a matrix product whose tiles are `tile_cols` wide: the
    /// fixed number, or the largest of [`GEMM_KC_CHOICES`] whose packed panel (`kc ·
    /// tile_cols` values, which a tile reads over and over while it walks the rows) fits the
    /// level-1 data cache beside `packed_rows` rows of a packed `A` (a weight gradient's tile,
    /// also re-read for every panel; 0 where `A` is read in place) — 256 for AVX-512's 32
    /// columns in 32 KiB, 384 in 48 KiB; for AVX2's 16 columns 512, or 256 beside a packed tile
    /// of 6 rows.
    pub fn gemm_kc(&self, tile_cols: usize, packed_rows: usize) -> usize {
        if let Some(steps) = self.fixed_gemm_kc {
            return steps;
        }
        GEMM_KC_CHOICES
            .into_iter()
            .rev()
            .find(|&steps| 4 * steps * (tile_cols + packed_rows) <= self.l1_bytes)
            .unwrap_or(GEMM_KC_CHOICES[0])
    }

    /// Columns of `B` per packed block of a matrix product with `kc` inner steps and tiles
    /// `tile_cols` wide: as many whole panels as fill half the level-2 cache (at least one), so
    /// that the block stays there while `A`'s rows stream past it.
    pub fn gemm_block_cols(&self, kc: usize, tile_cols: usize) -> usize {
        (self.l2_bytes / 2 / (4 * kc * tile_cols)).max(1) * tile_cols
    }

    /// Rows of `A` per packed chunk of a product whose `A` must be packed (a weight gradient's
    /// `dyᵀ`), with `kc` inner steps and tiles `tile_rows` high: as many whole tiles as fill a
    /// quarter of the level-2 cache (at least one), beside the half that `B`'s block takes.
    pub fn gemm_block_rows(&self, kc: usize, tile_rows: usize) -> usize {
        (self.l2_bytes / 4 / (4 * kc * tile_rows)).max(1) * tile_rows
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
        write!(f, "isa={} ", self.isa.name())?;
        match self.fixed_block_q {
            Some(rows) => write!(f, "block_q={rows}"),
            None => write!(
                f,
                "block_q=auto (tiles sized to a {} KiB L1d, {} KiB L2)",
                self.l1_bytes / 1024,
                self.l2_bytes / 1024
            ),
        }?;
        match self.fixed_gemm_kc {
            Some(steps) => write!(f, " gemm_kc={steps}"),
            None => match self.isa.product_tile_cols() {
                Some(cols) => {
                    write!(f, " gemm_kc=auto ({}", self.gemm_kc(cols, 0))?;
                    if let Some(rows) = self.isa.packed_a_tile_rows() {
                        write!(f, "; {} for a transposed A", self.gemm_kc(cols, rows))?;
                    }
                    write!(f, ")")
                }
                None => write!(f, " gemm_kc=auto (the gemm crate's blocking)"),
            },
        }?;
        write!(f, " spin_us={}", self.spin.as_micros())
    }
}

/// The size of this CPU's first core's level-`level` data (or unified) cache, from cpuid
/// (Intel's deterministic cache parameters, which recent AMD cores report too, else AMD's cache
/// leaves); `None` where cpuid does not say.
fn cache_bytes(level: u8) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    {
        use raw_cpuid::CacheType;
        let cpuid = raw_cpuid::CpuId::new();
        let from_leaf_4 = cpuid.get_cache_parameters().and_then(|mut caches| {
            caches
                .find(|c| {
                    c.level() == level
                        && matches!(c.cache_type(), CacheType::Data | CacheType::Unified)
                })
                .map(|c| {
                    c.associativity()
                        * c.physical_line_partitions()
                        * c.coherency_line_size()
                        * c.sets()
                })
        });
        let from_amd = || match level {
            1 => cpuid
                .get_l1_cache_and_tlb_info()
                .map(|l1| l1.dcache_size() as usize * 1024),
            2 => cpuid
                .get_l2_l3_cache_and_tlb_info()
                .map(|l2| l2.l2cache_size() as usize * 1024),
            _ => None,
        };
        from_leaf_4.or_else(from_amd).filter(|&b| b > 0)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = level;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_and_bad_ones_say_what_is_wrong() {
        let c = KernelConfig::parse("isa=portable, block_q=16").unwrap();
        assert_eq!((c.isa, c.fixed_block_q), (Isa::Portable, Some(16)));
        assert_eq!(
            c.to_string(),
            "isa=portable block_q=16 gemm_kc=auto (the gemm crate's blocking) spin_us=5000"
        );
        let c = KernelConfig::parse("gemm_kc=128").unwrap();
        assert_eq!(c.fixed_gemm_kc, Some(128));
        assert!(c.to_string().contains(" gemm_kc=128 "));
        let c = KernelConfig::parse("spin_us=250").unwrap();
        assert_eq!(c.spin, Duration::from_micros(250));
        let c = KernelConfig::parse("").unwrap();
        assert_eq!(c, KernelConfig::detected());
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
    }

    #[test]
    fn auto_blocks_fit_the_cache_and_fixed_ones_are_kept() {
        let auto = |l1_bytes| KernelConfig {
            isa: Isa::Portable,
            fixed_block_q: None,
            fixed_gemm_kc: None,
            l1_bytes,
            l2_bytes: 1024 * 1024,
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
        // product panels: 256 · 32 · 4 B = 32 KiB; AVX2's 16-wide panels take the largest choice
        assert_eq!(auto(32 * 1024).gemm_kc(32, 0), 256);
        assert_eq!(auto(48 * 1024).gemm_kc(32, 0), 384);
        assert_eq!(auto(32 * 1024).gemm_kc(16, 0), 512);
        // beside a packed tile of 6 rows: (16 + 6) · 4 B per step, 256 steps = 22 KiB
        assert_eq!(auto(32 * 1024).gemm_kc(16, 6), 256);
        // and the log line says both
        let avx2 = KernelConfig {
            isa: Isa::Avx2,
            ..auto(32 * 1024)
        };
        let line = avx2.to_string();
        assert!(
            line.contains(" gemm_kc=auto (512; 256 for a transposed A) "),
            "{line}"
        );
        let avx512 = KernelConfig {
            isa: Isa::Avx512,
            ..auto(32 * 1024)
        };
        let line = avx512.to_string();
        assert!(line.contains(" gemm_kc=auto (256) "), "{line}");
        assert_eq!(auto(1024).gemm_kc(32, 0), 64);
        let fixed_kc = KernelConfig {
            fixed_gemm_kc: Some(128),
            ..auto(48 * 1024)
        };
        assert_eq!(fixed_kc.gemm_kc(32, 8), 128);
        // B blocks of half the 1 MiB L2: 256 · 512 · 4 B; never less than one panel
        assert_eq!(auto(32 * 1024).gemm_block_cols(256, 32), 512);
        assert_eq!(auto(32 * 1024).gemm_block_cols(4096, 32), 32);
        // packed A chunks of a quarter of it: 256 KiB / (512 · 4 B) = 128 rows → 126 in 6s
        assert_eq!(auto(32 * 1024).gemm_block_rows(512, 6), 126);
        assert_eq!(auto(32 * 1024).gemm_block_rows(1 << 20, 8), 8);
        let gemm = KernelConfig::gemm_candidates();
        assert!(gemm.iter().all(|c| c.isa.available()));
        assert_eq!(gemm.len() % (GEMM_KC_CHOICES.len() + 1), 0);
        // every candidate runs here, and the best instruction set comes first
        let all = KernelConfig::candidates();
        assert!(all.iter().all(|c| c.isa.available()));
        assert_eq!(all[0].isa, Isa::best());
        assert_eq!(all.len() % (BLOCK_Q_CHOICES.len() + 1), 0);
        let detected = KernelConfig::detected();
        assert!(detected.l1_bytes >= 16 * 1024 && detected.l2_bytes >= 128 * 1024);
    }
}
