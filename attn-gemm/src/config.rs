//! How a matrix product is blocked on this CPU: the instruction set of its tiles and the size of
//! its packed blocks, chosen on first use from the CPU's features and caches (cpuid) and
//! overridable with the keys `isa` and `gemm_kc` of the environment variable [`ENV_VAR`], which
//! attn's other kernels read too (their keys are theirs; see `attn_runtime::tuning`).

use std::fmt;
use std::sync::OnceLock;

use crate::cache::cache_bytes;
use crate::error::SpecError;
use crate::isa::Isa;

/// The environment variable that overrides the detected configuration of attn's kernels:
/// comma-separated `key=value` pairs, e.g. `ATTN_KERNEL=isa=avx2,gemm_kc=128`.
pub const ENV_VAR: &str = "ATTN_KERNEL";

/// The inner steps per packed block of a matrix product a configuration may fix.
pub const GEMM_KC_CHOICES: [usize; 5] = [64, 128, 256, 384, 512];

/// Assumed where cpuid does not say (32 KiB, the smallest of current x86 cores).
const DEFAULT_L1_BYTES: usize = 32 * 1024;

/// Assumed where cpuid does not say (512 KiB, the smallest of current x86 server cores).
const DEFAULT_L2_BYTES: usize = 512 * 1024;

/// How matrix products run on this CPU (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProductConfig {
    /// The instruction set of the tiles ([`Isa::Portable`]: the `gemm` crate's own kernels).
    pub isa: Isa,
    /// Inner steps per packed block: fixed, or `None` to follow the level-1 cache.
    pub fixed_kc: Option<usize>,
    /// The level-1 data cache a tile's working set should fit, in bytes.
    pub l1_bytes: usize,
    /// The level-2 cache a packed block of `B` should stay in, in bytes.
    pub l2_bytes: usize,
}

impl ProductConfig {
    /// The keys of [`ENV_VAR`] this configuration reads.
    pub const KEYS: [&'static str; 2] = ["isa", "gemm_kc"];

    /// What this CPU supports best: its best instruction set, blocks sized to its caches.
    pub fn detected() -> ProductConfig {
        ProductConfig {
            isa: Isa::best(),
            fixed_kc: None,
            l1_bytes: cache_bytes(1).unwrap_or(DEFAULT_L1_BYTES),
            l2_bytes: cache_bytes(2).unwrap_or(DEFAULT_L2_BYTES),
        }
    }

    /// The configuration products use: [`ENV_VAR`]'s keys over the
    /// [`detected`](Self::detected) one, or the detected one where they do not parse (attn's
    /// kernels report that error: `attn_runtime::tuning::KernelConfig::current`); decided once
    /// per process.
    pub fn current() -> ProductConfig {
        static CURRENT: OnceLock<ProductConfig> = OnceLock::new();
        *CURRENT.get_or_init(|| {
            std::env::var(ENV_VAR)
                .ok()
                .and_then(|spec| ProductConfig::from_spec(&spec).ok())
                .unwrap_or_else(ProductConfig::detected)
        })
    }

    /// The detected configuration with the settings of `spec`'s keys [`Self::KEYS`] (other keys
    /// are left to the kernels that own them; items that are not `key=value` are errors).
    ///
    /// # Errors
    /// [`SpecError`] for an item that is not `key=value`, an unknown instruction set or one
    /// this CPU lacks, or a block outside [`GEMM_KC_CHOICES`].
    pub fn from_spec(spec: &str) -> Result<ProductConfig, SpecError> {
        let mut config = ProductConfig::detected();
        for item in spec_items(spec) {
            let (key, value) = item?;
            match key {
                "isa" => {
                    let isa = Isa::ALL
                        .into_iter()
                        .find(|isa| isa.name() == value)
                        .ok_or_else(|| SpecError::UnknownIsa(value.to_string()))?;
                    if !isa.available() {
                        return Err(SpecError::MissingIsa(isa.name()));
                    }
                    config.isa = isa;
                }
                "gemm_kc" => config.fixed_kc = Some(choice("gemm_kc", value, &GEMM_KC_CHOICES)?),
                _ => {}
            }
        }
        Ok(config)
    }

    /// The detected configuration for each instruction set this CPU has, best first.
    pub fn per_isa() -> Vec<ProductConfig> {
        let detected = ProductConfig::detected();
        Isa::ALL
            .into_iter()
            .filter(|isa| isa.available())
            .map(|isa| ProductConfig { isa, ..detected })
            .collect()
    }

    /// Every configuration this CPU can run that the selector or [`ENV_VAR`] can choose: each
    /// available instruction set with each fixed product block and with the cache-sized one.
    pub fn candidates() -> Vec<ProductConfig> {
        let settings = GEMM_KC_CHOICES.into_iter().map(Some).chain([None]);
        ProductConfig::per_isa()
            .into_iter()
            .flat_map(|config| {
                settings
                    .clone()
                    .map(move |fixed_kc| ProductConfig { fixed_kc, ..config })
            })
            .collect()
    }

    /// Inner steps per packed block of a matrix product whose tiles are `tile_cols` wide: the
    /// fixed number, or the largest of [`GEMM_KC_CHOICES`] whose packed panel (`kc ·
    /// tile_cols` values, which a tile reads over and over while it walks the rows) fits the
    /// level-1 data cache beside `packed_rows` rows of a packed `A` (a weight gradient's tile,
    /// also re-read for every panel; 0 where `A` is read in place) — 256 for AVX-512's 32
    /// columns in 32 KiB, 384 in 48 KiB; for AVX2's 16 columns 512, or 256 beside a packed tile
    /// of 6 rows.
    pub fn kc(&self, tile_cols: usize, packed_rows: usize) -> usize {
        if let Some(steps) = self.fixed_kc {
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
    pub fn block_cols(&self, kc: usize, tile_cols: usize) -> usize {
        (self.l2_bytes / 2 / (4 * kc * tile_cols)).max(1) * tile_cols
    }

    /// Rows of `A` per packed chunk of a product whose `A` must be packed (a weight gradient's
    /// `dyᵀ`), with `kc` inner steps and tiles `tile_rows` high: as many whole tiles as fill a
    /// quarter of the level-2 cache (at least one), beside the half that `B`'s block takes.
    pub fn block_rows(&self, kc: usize, tile_rows: usize) -> usize {
        (self.l2_bytes / 4 / (4 * kc * tile_rows)).max(1) * tile_rows
    }

    /// `gemm_kc=…`, as [`ENV_VAR`] would set it, with the automatic block's size for each kind
    /// of product.
    pub fn kc_setting(&self) -> String {
        match (self.fixed_kc, self.isa.product_tile_cols()) {
            (Some(steps), _) => format!("gemm_kc={steps}"),
            (None, Some(cols)) => match self.isa.packed_a_tile_rows() {
                Some(rows) => format!(
                    "gemm_kc=auto ({}; {} for a transposed A)",
                    self.kc(cols, 0),
                    self.kc(cols, rows)
                ),
                None => format!("gemm_kc=auto ({})", self.kc(cols, 0)),
            },
            (None, None) => "gemm_kc=auto (the gemm crate's blocking)".into(),
        }
    }
}

/// `isa=… gemm_kc=…`, as [`ENV_VAR`] would set them.
impl fmt::Display for ProductConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "isa={} {}", self.isa.name(), self.kc_setting())
    }
}

/// The `key=value` items of a spec of [`ENV_VAR`], trimmed, empty items skipped.
///
/// # Errors
/// [`SpecError::NotKeyValue`] for an item without `=`.
pub fn spec_items(spec: &str) -> impl Iterator<Item = Result<(&str, &str), SpecError>> {
    spec.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|item| {
            item.split_once('=')
                .map(|(key, value)| (key.trim(), value.trim()))
                .ok_or_else(|| SpecError::NotKeyValue(item.to_string()))
        })
}

/// `value` as one of `choices`.
///
/// # Errors
/// [`SpecError::NotAChoice`] where it is not a number among them.
pub fn choice(
    key: &'static str,
    value: &str,
    choices: &'static [usize],
) -> Result<usize, SpecError> {
    value
        .parse()
        .ok()
        .filter(|v| choices.contains(v))
        .ok_or_else(|| SpecError::NotAChoice {
            key,
            value: value.to_string(),
            choices,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auto(l1_bytes: usize) -> ProductConfig {
        ProductConfig {
            isa: Isa::Portable,
            fixed_kc: None,
            l1_bytes,
            l2_bytes: 1024 * 1024,
        }
    }

    #[test]
    fn specs_parse_their_own_keys_and_bad_ones_say_what_is_wrong() {
        let c = ProductConfig::from_spec("isa=portable, block_q=16, gemm_kc=128").unwrap();
        assert_eq!((c.isa, c.fixed_kc), (Isa::Portable, Some(128)));
        assert_eq!(c.to_string(), "isa=portable gemm_kc=128");
        assert_eq!(
            ProductConfig::from_spec("").unwrap(),
            ProductConfig::detected()
        );
        for (spec, want) in [
            ("isa=sse", SpecError::UnknownIsa("sse".into())),
            (
                "gemm_kc=100",
                SpecError::NotAChoice {
                    key: "gemm_kc",
                    value: "100".into(),
                    choices: &GEMM_KC_CHOICES,
                },
            ),
            ("avx2", SpecError::NotKeyValue("avx2".into())),
        ] {
            assert_eq!(ProductConfig::from_spec(spec), Err(want), "{spec}");
        }
        if !Isa::Avx512.available() {
            assert_eq!(
                ProductConfig::from_spec("isa=avx512"),
                Err(SpecError::MissingIsa("avx512"))
            );
        }
    }

    #[test]
    fn auto_blocks_fit_the_cache_and_fixed_ones_are_kept() {
        // product panels: 256 · 32 · 4 B = 32 KiB; AVX2's 16-wide panels take the largest choice
        assert_eq!(auto(32 * 1024).kc(32, 0), 256);
        assert_eq!(auto(48 * 1024).kc(32, 0), 384);
        assert_eq!(auto(32 * 1024).kc(16, 0), 512);
        // beside a packed tile of 6 rows: (16 + 6) · 4 B per step, 256 steps = 22 KiB
        assert_eq!(auto(32 * 1024).kc(16, 6), 256);
        assert_eq!(auto(1024).kc(32, 0), 64);
        let fixed = ProductConfig {
            fixed_kc: Some(128),
            ..auto(48 * 1024)
        };
        assert_eq!(fixed.kc(32, 8), 128);
        // and the log line says both
        let avx2 = ProductConfig {
            isa: Isa::Avx2,
            ..auto(32 * 1024)
        };
        assert_eq!(
            avx2.to_string(),
            "isa=avx2 gemm_kc=auto (512; 256 for a transposed A)"
        );
        let avx512 = ProductConfig {
            isa: Isa::Avx512,
            ..auto(32 * 1024)
        };
        assert_eq!(avx512.to_string(), "isa=avx512 gemm_kc=auto (256)");
        assert_eq!(
            auto(32 * 1024).to_string(),
            "isa=portable gemm_kc=auto (the gemm crate's blocking)"
        );
        // B blocks of half the 1 MiB L2: 256 · 512 · 4 B; never less than one panel
        assert_eq!(auto(32 * 1024).block_cols(256, 32), 512);
        assert_eq!(auto(32 * 1024).block_cols(4096, 32), 32);
        // packed A chunks of a quarter of it: 256 KiB / (512 · 4 B) = 128 rows → 126 in 6s
        assert_eq!(auto(32 * 1024).block_rows(512, 6), 126);
        assert_eq!(auto(32 * 1024).block_rows(1 << 20, 8), 8);
        let all = ProductConfig::candidates();
        assert!(all.iter().all(|c| c.isa.available()));
        assert_eq!(all.len() % (GEMM_KC_CHOICES.len() + 1), 0);
        assert_eq!(all[0].isa, Isa::best());
        let detected = ProductConfig::detected();
        assert!(detected.l1_bytes >= 16 * 1024 && detected.l2_bytes >= 128 * 1024);
    }
}
