//! The CPU's cache sizes, from cpuid.

/// The size of this CPU's first core's level-`level` data (or unified) cache, from cpuid
/// (Intel's deterministic cache parameters, which recent AMD cores report too, else AMD's cache
/// leaves); `None` where cpuid does not say.
pub(crate) fn cache_bytes(level: u8) -> Option<usize> {
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
