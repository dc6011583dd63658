//! Fuzzes the table block decoder: the restart array and the prefix-compressed
//! entries, walked forward, backward and by seeks. It must never panic or hang.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| shaledb::fuzzing::decode_block(data));
