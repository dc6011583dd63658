//! Fuzzes the log reader (the framing of the write-ahead log and the manifest);
//! every record it returns is then decoded as a write batch. It must never panic.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| shaledb::fuzzing::read_log(data));
