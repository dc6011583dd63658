//! Fuzzes decoding one write batch, the payload of every write-ahead-log record.
//! A batch that validates must yield only good entries.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| shaledb::fuzzing::decode_write_batch(data));
