//! Built-in tools for the sample project, run by the local target as `tandem tool NAME`:
//! a seeded generator of raw sensor data, the preprocess phase and the heat2d solver.

pub mod gen;
pub mod heat2d;
pub mod preprocess;

/// This process's peak resident memory in KiB (VmHWM), 0 where /proc does not say: for the
/// benchmark tools.
pub fn peak_rss_kib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|st| {
            st.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .unwrap_or(0.0)
}

/// FNV-1a 64 of bytes, as hex: a cheap checksum for manifests.
pub fn fnv1a_hex(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}
