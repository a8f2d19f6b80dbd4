//! Bijective integer mixers for counter-based random streams: a random bit pattern is a hash of
//! (seed, position), so a backward pass regenerates the forward's dropout mask instead of
//! storing it, and any chunk of the stream can be produced in parallel.

/// SplitMix64's finaliser: a bijective 64-bit mixer (Steele, Lea and Flood 2014).
pub(crate) fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// MurmurHash3's 32-bit finaliser: bijective, every input bit affects every output bit; 32-bit
/// multiplies, so a loop over keys vectorises.
#[inline(always)]
pub(crate) fn mix32(mut h: u32) -> u32 {
    h ^= h >> 16;
    h = h.wrapping_mul(0x85EB_CA6B);
    h ^= h >> 13;
    h = h.wrapping_mul(0xC2B2_AE35);
    h ^ (h >> 16)
}
