//! Built-in tools for the sample project, run by the local target as `tandem tool NAME`:
//! a seeded generator of raw sensor data, the preprocess phase and the heat2d solver.

pub mod gen;
pub mod heat2d;
pub mod preprocess;

/// FNV-1a 64 of bytes, as hex: a cheap checksum for manifests.
pub fn fnv1a_hex(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}
