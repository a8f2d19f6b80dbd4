//! The instruction sets attn's kernels are compiled for, and which of them this CPU has.

use crate::micro;

/// The instruction set a kernel's tiles are compiled for: each is compiled into every x86-64
/// binary and chosen at run time ([`Isa::best`], or the configuration's).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isa {
    /// AVX-512 F/VL with AVX2 and FMA: 6 × 32 attention register blocks, 8 × 32 product tiles.
    Avx512,
    /// AVX2 with FMA: 6 × 16 attention register blocks, 6 × 16 product tiles.
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
            Isa::Avx512 => has_avx512(),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => has_avx2_fma(),
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
        micro::of(self).map(|tiles| tiles.nr)
    }

    /// How many rows its matrix-product tiles for a packed `A` (a weight gradient's `dyᵀ`)
    /// are high (`None`: such products run on the `gemm` crate).
    pub fn packed_a_tile_rows(self) -> Option<usize> {
        micro::of(self)
            .filter(|tiles| tiles.packs_a())
            .map(|tiles| tiles.mr)
    }

    /// Its name in [`crate::ENV_VAR`].
    pub fn name(self) -> &'static str {
        match self {
            Isa::Avx512 => "avx512",
            Isa::Avx2 => "avx2",
            Isa::Portable => "portable",
        }
    }
}

/// Whether this CPU has AVX2 and FMA (checked at run time, cached by std).
#[cfg(target_arch = "x86_64")]
pub fn has_avx2_fma() -> bool {
    is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
}

/// Whether this CPU has AVX-512 F and VL besides AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
pub fn has_avx512() -> bool {
    is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512vl") && has_avx2_fma()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sizes the configuration blocks products for are the tiles' own: 32-wide AVX-512
    /// tiles, 16-wide AVX2 tiles that also take a packed `A` 6 rows at a time, none portable.
    #[test]
    fn each_instruction_set_names_its_tiles_sizes() {
        #[cfg(target_arch = "x86_64")]
        {
            assert_eq!(Isa::Avx512.product_tile_cols(), Some(32));
            assert_eq!(Isa::Avx512.packed_a_tile_rows(), None);
            assert_eq!(Isa::Avx2.product_tile_cols(), Some(16));
            assert_eq!(Isa::Avx2.packed_a_tile_rows(), Some(6));
        }
        assert_eq!(Isa::Portable.product_tile_cols(), None);
        assert_eq!(Isa::Portable.packed_a_tile_rows(), None);
        assert!(Isa::Portable.available());
        assert!(Isa::best().available());
        if Isa::Avx512.available() {
            assert!(Isa::Avx2.available(), "AVX-512 implies AVX2 + FMA here");
        }
    }
}
