//! A whole-table bloom filter over user keys.
//!
//! Layout: the bit array, then one byte holding the number of probes `k`. Probes use
//! double hashing of a 64-bit XXH3 hash: probe `i` tests bit `(h1 + i * h2) mod m`.
//! With `b` bits per key, `k = round(b * ln 2)`, which gives the textbook false
//! positive rate (about 1% at 10 bits per key).

use xxhash_rust::xxh3::xxh3_64;

/// Builds a filter from key hashes.
pub(crate) struct BloomFilter;

/// The hash a filter stores for a user key.
#[inline]
pub(crate) fn key_hash(user_key: &[u8]) -> u64 {
    xxh3_64(user_key)
}

#[inline]
fn probes(hash: u64) -> (u64, u64) {
    let h1 = hash;
    // An odd step, so consecutive probes differ; probes may coincide for some bit
    // counts, which only costs a little precision.
    let h2 = hash.rotate_left(21) | 1;
    (h1, h2)
}

impl BloomFilter {
    /// Encodes a filter for the given key hashes at `bits_per_key`.
    pub(crate) fn build(hashes: &[u64], bits_per_key: u32) -> Vec<u8> {
        let bits_per_key = u64::from(bits_per_key.max(1));
        let k = ((bits_per_key as f64) * std::f64::consts::LN_2)
            .round()
            .clamp(1.0, 30.0) as u8;
        let nbits = (hashes.len() as u64 * bits_per_key).max(64);
        let nbytes = nbits.div_ceil(8);
        let nbits = nbytes * 8;
        // Cannot truncate: nbytes is at most 64 bits/key x keys/8, a table's worth.
        let mut out = vec![0u8; nbytes as usize + 1];
        for &h in hashes {
            let (mut pos, step) = probes(h);
            for _ in 0..k {
                let bit = pos % nbits;
                out[(bit / 8) as usize] |= 1 << (bit % 8);
                pos = pos.wrapping_add(step);
            }
        }
        out[nbytes as usize] = k;
        out
    }

    /// True if the filter may hold the key with this hash; false means it surely does
    /// not. A malformed filter answers true (it filters nothing).
    pub(crate) fn may_contain(filter: &[u8], hash: u64) -> bool {
        let Some((&k, bits)) = filter.split_last() else {
            return true;
        };
        if bits.is_empty() || k == 0 || k > 30 {
            return true;
        }
        let nbits = bits.len() as u64 * 8;
        let (mut pos, step) = probes(hash);
        for _ in 0..k {
            let bit = pos % nbits;
            if bits[(bit / 8) as usize] & (1 << (bit % 8)) == 0 {
                return false;
            }
            pos = pos.wrapping_add(step);
        }
        true
    }

    /// The chance that a key the filter does not hold passes it: the fraction of its
    /// bits that are set, to the power of its probe count. 1 for a malformed filter,
    /// which passes everything.
    pub(crate) fn false_positive_rate(filter: &[u8]) -> f64 {
        let Some((&k, bits)) = filter.split_last() else {
            return 1.0;
        };
        if bits.is_empty() || k == 0 || k > 30 {
            return 1.0;
        }
        let set: u64 = bits.iter().map(|b| u64::from(b.count_ones())).sum();
        let fraction = set as f64 / (bits.len() as f64 * 8.0);
        fraction.powi(i32::from(k))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_false_negatives_and_about_one_percent_false_positives() {
        let n = 100_000u32;
        let hashes: Vec<u64> = (0..n).map(|i| key_hash(&i.to_be_bytes())).collect();
        let filter = BloomFilter::build(&hashes, 10);
        for h in &hashes {
            assert!(BloomFilter::may_contain(&filter, *h));
        }
        let trials = 200_000u32;
        let false_positives = (n..n + trials)
            .filter(|i| BloomFilter::may_contain(&filter, key_hash(&i.to_be_bytes())))
            .count();
        let rate = false_positives as f64 / f64::from(trials);
        // Theory for 10 bits/key and 7 probes: 0.82%.
        assert!(rate > 0.004 && rate < 0.0125, "false positive rate {rate}");
        let predicted = BloomFilter::false_positive_rate(&filter);
        assert!(
            (predicted - rate).abs() < 0.25 * rate,
            "predicted {predicted}, measured {rate}"
        );
    }

    #[test]
    fn malformed_filters_never_exclude() {
        assert!(BloomFilter::may_contain(&[], 1));
        assert!(BloomFilter::may_contain(&[0xff, 0], 1));
        assert!(BloomFilter::may_contain(&[0, 0, 99], 1));
        for malformed in [&[][..], &[0xff, 0], &[0, 0, 99]] {
            assert_eq!(BloomFilter::false_positive_rate(malformed), 1.0);
        }
    }
}
