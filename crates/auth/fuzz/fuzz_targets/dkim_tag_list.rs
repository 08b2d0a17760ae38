//! The DKIM tag-list parser, and the DKIM-Signature and key-record readers on top of it, must
//! never panic, whatever the header or TXT bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    kanmon_auth::fuzzing::dkim_tag_list(data);
});
