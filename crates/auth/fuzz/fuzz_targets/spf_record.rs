//! The SPF record parser and macro-string parser must never panic, whatever the TXT bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    kanmon_auth::fuzzing::spf_record(data);
});
