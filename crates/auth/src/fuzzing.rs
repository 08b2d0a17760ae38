//! Entry points for the fuzz targets in `crates/auth/fuzz` (feature `fuzzing`): the parsers
//! that read bytes from the network, reachable without making them public API.

/// Parses `data` as an SPF record, and each of its space-separated words as a macro string in
/// both contexts.
pub fn spf_record(data: &[u8]) {
    crate::spf::fuzz_record(data);
}
