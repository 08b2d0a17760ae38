//! Message splitting, header canonicalisation and body hashing must never panic, and the body
//! hash must not depend on how the body is chunked.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    kanmon_auth::fuzzing::dkim_canonicalize(data);
});
