//! Every range form a user might write compiles and means what it says.

use std::ops::Bound;

use shaledb::{Db, Options};

#[test]
fn every_range_form_compiles_and_selects_the_right_keys() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    for k in ["a", "b", "c", "d"] {
        db.put(k, k.to_uppercase()).unwrap();
    }
    fn keys(it: impl Iterator<Item = shaledb::Result<shaledb::KvPair>>) -> String {
        it.map(|r| String::from_utf8(r.unwrap().0).unwrap())
            .collect()
    }
    // A full range needs the key type named: `..` is a range of every type.
    assert_eq!(keys(db.range::<&[u8], _>(..)), "abcd");
    assert_eq!(keys(db.range(b"b".as_slice()..b"d".as_slice())), "bc");
    assert_eq!(keys(db.range(b"b".as_slice()..=b"d".as_slice())), "bcd");
    assert_eq!(keys(db.range("b"..)), "bcd");
    assert_eq!(keys(db.range(.."c")), "ab");
    assert_eq!(keys(db.range(..=b"c".to_vec())), "abc");
    let (lo, hi): (Bound<&[u8]>, Bound<&[u8]>) = (Bound::Excluded(b"a"), Bound::Included(b"c"));
    assert_eq!(keys(db.range::<&[u8], _>((lo, hi))), "bc");
    assert_eq!(
        keys(
            db.range::<&str, _>((Bound::Excluded("b"), Bound::Unbounded))
                .rev()
        ),
        "dc"
    );
    assert_eq!(keys(db.range("c".."a")), "", "an inverted range is empty");
    let snap = db.snapshot();
    db.delete("a").unwrap();
    assert_eq!(keys(snap.range::<&[u8], _>(..)), "abcd");
    assert_eq!(keys(db.iter()), "bcd");
    // Generic callers pass any `RangeBounds`.
    fn scan<'a>(db: &Db, r: impl std::ops::RangeBounds<&'a [u8]>) -> String {
        keys(db.range(r))
    }
    assert_eq!(scan(&db, b"c".as_slice()..), "cd");
    db.compact_range::<&[u8], _>(..).unwrap();
    db.compact_range("a".."c").unwrap();
    assert_eq!(keys(db.iter().rev()), "dcb");
}
