//! Fuzzes decoding one manifest record (a version edit). Whatever decodes must
//! encode back to bytes that decode to the same edit.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| shaledb::fuzzing::decode_version_edit(data));
