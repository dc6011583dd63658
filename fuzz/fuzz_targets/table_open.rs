//! Fuzzes opening a whole table file: footer, index, filter and properties, then
//! verifies it and reads every entry both ways. It must never panic or hang, and
//! never allocate more than a bound set by the file size.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| shaledb::fuzzing::open_table(data));
