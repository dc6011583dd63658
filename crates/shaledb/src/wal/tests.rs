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

#[test]
fn zero_tail_is_the_end_of_the_log_between_records_and_a_torn_write_inside_one() {
    let records = sample_records();
    let buf = write_log(&records);
    let mut padded = buf.clone();
    padded.resize(buf.len() + 3 * BLOCK_SIZE + 11, 0);
    let (read, damage) = read_all(&padded);
    assert_eq!(
        damage, None,
        "zeros after the last record are its clean end"
    );
    assert_eq!(read, records);

    // The multi-block record (index 3) cut after its FIRST fragment, zeros after it.
    let ends: Vec<usize> = (1..=records.len())
        .map(|n| write_log(&records[..n]).len())
        .collect();
    let first_fragment_end = ends[2].div_ceil(BLOCK_SIZE) * BLOCK_SIZE + BLOCK_SIZE;
    let mut torn = buf[..first_fragment_end].to_vec();
    torn.resize(buf.len() + BLOCK_SIZE, 0);
    let mut reader = LogReader::new(&torn);
    for r in &records[..3] {
        assert_eq!(
            reader.read_record(),
            ReadOutcome::Record {
                offset: reader_offset(&records, r),
                data: r.clone()
            }
        );
    }
    assert!(matches!(
        reader.read_record(),
        ReadOutcome::Damaged {
            damage: Damage::Truncated,
            ..
        }
    ));

    // Zeros followed by data are corruption, not an end.
    let mut gap = padded.clone();
    *gap.last_mut().unwrap() = 1;
    assert_eq!(last_damage(&gap), Some(Damage::Corrupt));
}

/// The offset of `record` (which must be in `records`) in the log of `records`.
fn reader_offset(records: &[Vec<u8>], record: &Vec<u8>) -> u64 {
    let index = records.iter().position(|r| r == record).unwrap();
    if index == 0 {
        0
    } else {
        write_log(&records[..index]).len() as u64
    }
}

#[test]
fn synced_small_records_preallocate_and_read_back_to_a_clean_end() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("prealloc.log");
    let mut writer = LogWriter::preallocating(RealFileSystem.create(&path).unwrap());
    let records: Vec<Vec<u8>> = (0..3000u32)
        .map(|i| {
            format!("record {i} ")
                .repeat((i % 7) as usize + 1)
                .into_bytes()
        })
        .collect();
    for r in &records {
        writer.add_record(r).unwrap();
        writer.sync().unwrap();
        let on_disk = std::fs::metadata(&path).unwrap().len();
        assert!(
            on_disk >= writer.len() + 60 * 1024,
            "a synced log keeps zeros ahead: {on_disk} on disk, {} written",
            writer.len()
        );
    }
    let buf = std::fs::read(&path).unwrap();
    assert!(buf.len() as u64 > writer.len());
    assert!(buf[writer.len() as usize..].iter().all(|&b| b == 0));
    let (read, damage) = read_all(&buf);
    assert_eq!(damage, None);
    assert_eq!(read, records);
}

#[test]
fn a_log_synced_rarely_or_never_does_not_preallocate() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plain.log");
    let mut writer = LogWriter::preallocating(RealFileSystem.create(&path).unwrap());
    for _ in 0..10 {
        // 100 KB between syncs: more than a preallocating sync allows.
        writer.add_record(&vec![5u8; 100_000]).unwrap();
        writer.sync().unwrap();
    }
    assert_eq!(std::fs::metadata(&path).unwrap().len(), writer.len());

    let manifest = dir.path().join("manifest");
    let mut writer = LogWriter::new(RealFileSystem.create(&manifest).unwrap());
    writer.add_record(b"edit").unwrap();
    writer.sync().unwrap();
    assert_eq!(std::fs::metadata(&manifest).unwrap().len(), writer.len());
}

#[test]
fn one_to_six_zero_bytes_after_the_last_record_are_its_clean_end() {
    let records = vec![b"first".to_vec(), b"second record".to_vec()];
    let buf = write_log(&records);
    for extra in 1..HEADER_SIZE {
        let mut padded = buf.clone();
        padded.resize(buf.len() + extra, 0);
        let (read, damage) = read_all(&padded);
        assert_eq!(damage, None, "{extra} zero bytes");
        assert_eq!(read, records);
        // A non-zero byte among them is still damage.
        *padded.last_mut().unwrap() = 9;
        assert_eq!(read_all(&padded).1, Some(buf.len() as u64), "{extra} bytes");
    }
}

/// Reads every record, moving past damage as repair does.
fn read_past_damage(buf: &[u8]) -> (Vec<Vec<u8>>, usize) {
    let mut reader = LogReader::new(buf);
    let (mut out, mut damaged) = (Vec::new(), 0);
    loop {
        match reader.read_record() {
            ReadOutcome::Record { data, .. } => out.push(data),
            ReadOutcome::Eof => return (out, damaged),
            ReadOutcome::Damaged { .. } => {
                damaged += 1;
                reader.resync();
            }
        }
    }
}

#[test]
fn resync_after_damage_reads_on_from_the_next_record_that_starts_in_a_later_block() {
    // Numbered records of assorted sizes, some spanning blocks.
    let records: Vec<Vec<u8>> = (0..400u32)
        .map(|i| {
            let len = [20, 300, 5_000, 40_000][i as usize % 4];
            let mut r = i.to_le_bytes().to_vec();
            r.resize(len, (i % 251) as u8);
            r
        })
        .collect();
    let buf = write_log(&records);
    for pos in (0..buf.len()).step_by(4_099) {
        let mut damaged = buf.clone();
        damaged[pos] ^= 0x40;
        let (read, count) = read_past_damage(&damaged);
        // Never a changed record, never one twice, always in order: a subsequence.
        let mut written = records.iter();
        for r in &read {
            assert!(
                written.any(|w| w == r),
                "flip at {pos}: a record not written, or out of order"
            );
        }
        // Every record that starts in a block after the damaged one comes back.
        let block_end = (pos / BLOCK_SIZE + 1) * BLOCK_SIZE;
        let ends: Vec<usize> = {
            let mut reader = LogReader::new(&buf);
            let mut ends = Vec::new();
            while let ReadOutcome::Record { offset, .. } = reader.read_record() {
                ends.push(offset as usize);
            }
            ends
        };
        let later = ends.iter().filter(|&&start| start >= block_end).count();
        let lost = records.len() - read.len();
        assert!(count >= 1 || read.len() == records.len(), "flip at {pos}");
        assert!(
            read.len() >= later,
            "flip at {pos}: {} read, {later} start after the damaged block",
            read.len()
        );
        // The loss is bounded by the records that touch the damaged block.
        assert!(lost <= records.len() - later, "flip at {pos}");
    }
    // Zeros after damage are the end, not more damage.
    let mut tail = write_log(&records[..3]);
    tail[10] ^= 1;
    tail.resize(tail.len() + 3 * BLOCK_SIZE, 0);
    let (read, count) = read_past_damage(&tail);
    assert_eq!(count, 1);
    assert!(read.len() < 3);
}

/// Found by review: a resync after an intact fragment out of sequence skipped the whole
/// block after it. Such a fragment carries a valid checksum with the wrong type, as a
/// block left from a file's older contents would.
#[test]
fn resync_after_a_fragment_out_of_sequence_keeps_the_records_beside_it() {
    // A record spanning three blocks, then small ones.
    let mut records = vec![vec![9u8; 2 * BLOCK_SIZE + 100]];
    records.extend((0..50u8).map(|i| vec![i; 200]));
    let buf = write_log(&records);
    // Turn the big record's middle fragment (the second block) into a last one, with a
    // valid checksum: the record "ends" early and its real last fragment, in the third
    // block before the small records, is out of sequence.
    let mut damaged = buf.clone();
    let header = BLOCK_SIZE;
    damaged[header + 6] = FragmentType::Last as u8;
    let crc = fragment_crc(
        FragmentType::Last as u8,
        &damaged[header + HEADER_SIZE..2 * BLOCK_SIZE],
    );
    damaged[header..header + 4].copy_from_slice(&crc.to_le_bytes());
    let (read, count) = read_past_damage(&damaged);
    assert!(count >= 1);
    // The big record comes back wrong-sized, or not at all; every small one comes back.
    let small: Vec<_> = read.iter().filter(|r| r.len() == 200).cloned().collect();
    assert_eq!(small, records[1..], "small records lost");
}
