use super::*;
use crate::fs::{FileSystem, RealFileSystem};

fn write_log(records: &[Vec<u8>]) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("test.log");
    let fs = RealFileSystem;
    let mut writer = LogWriter::new(fs.create(&path).unwrap());
    for r in records {
        writer.add_record(r).unwrap();
    }
    writer.sync().unwrap();
    std::fs::read(&path).unwrap()
}

fn read_all(buf: &[u8]) -> (Vec<Vec<u8>>, Option<u64>) {
    let mut reader = LogReader::new(buf);
    let mut out = Vec::new();
    loop {
        match reader.read_record() {
            ReadOutcome::Record { data, .. } => out.push(data),
            ReadOutcome::Eof => return (out, None),
            ReadOutcome::Damaged { offset, .. } => return (out, Some(offset)),
        }
    }
}

fn sample_records() -> Vec<Vec<u8>> {
    vec![
        b"small".to_vec(),
        vec![],
        vec![7u8; BLOCK_SIZE - HEADER_SIZE - 3], // leaves a tail shorter than a header
        vec![1u8; 100_000],                      // spans several blocks
        b"after".to_vec(),
    ]
}

#[test]
fn round_trip_across_block_boundaries() {
    let records = sample_records();
    let buf = write_log(&records);
    let (read, damage) = read_all(&buf);
    assert_eq!(damage, None);
    assert_eq!(read, records);
}

#[test]
fn torn_tail_keeps_every_earlier_record() {
    let records = sample_records();
    let buf = write_log(&records);
    // Where each record ends: the log of the first n records is n records long.
    let ends: Vec<usize> = (1..=records.len())
        .map(|n| write_log(&records[..n]).len())
        .collect();
    for cut in (0..buf.len()).step_by(89) {
        let (read, _) = read_all(&buf[..cut]);
        let complete = ends.iter().filter(|&&end| end <= cut).count();
        assert_eq!(read.len(), complete, "cut at {cut}");
        assert_eq!(read[..], records[..complete], "cut at {cut}");
    }
}

#[test]
fn flipped_byte_is_detected_and_nothing_after_it_returned() {
    let records = sample_records();
    let buf = write_log(&records);
    for pos in (0..buf.len()).step_by(251) {
        let mut damaged = buf.clone();
        damaged[pos] ^= 0x40;
        let (read, _) = read_all(&damaged);
        // Every record returned is a prefix of what was written: never a changed one.
        assert!(read.len() <= records.len());
        assert_eq!(read[..], records[..read.len()], "flip at {pos}");
    }
}

fn last_damage(buf: &[u8]) -> Option<Damage> {
    let mut reader = LogReader::new(buf);
    loop {
        match reader.read_record() {
            ReadOutcome::Record { .. } => {}
            ReadOutcome::Eof => return None,
            ReadOutcome::Damaged { damage, .. } => return Some(damage),
        }
    }
}

#[test]
fn truncation_is_told_apart_from_corruption() {
    let records = vec![b"first".to_vec(), b"second record".to_vec()];
    let buf = write_log(&records);
    for cut in 1..buf.len() {
        let damage = last_damage(&buf[..cut]);
        assert!(
            matches!(damage, None | Some(Damage::Truncated)),
            "cut at {cut}: {damage:?}"
        );
    }
    // A length field raised past the end of the log: the bytes are all there, so this
    // is corruption, not a torn write.
    let second = 7 + 5;
    let mut longer = buf.clone();
    longer[second + 4] = 200;
    assert_eq!(last_damage(&longer), Some(Damage::Corrupt));
    let mut flipped = buf.clone();
    flipped[second + 9] ^= 1;
    assert_eq!(last_damage(&flipped), Some(Damage::Corrupt));
}
