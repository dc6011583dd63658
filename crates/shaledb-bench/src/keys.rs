//! Keys as db_bench makes them: the decimal of a number, zero-padded to 16 digits
//! (`format!("{:016}", k)`), and random key numbers drawn uniformly from `[0, num)`.
//!
//! A key that is certainly absent (for `readmissing`) is a present key's 16 digits
//! followed by a `.`, as in db_bench.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// Bytes in every key the benchmark writes.
pub const KEY_SIZE: usize = 16;

/// The largest key number that still fits in 16 digits, plus one.
pub const MAX_KEYS: u64 = 10_000_000_000_000_000;

/// A key being built, reused between operations to avoid an allocation per key.
#[derive(Debug, Clone)]
pub struct KeyBuf {
    bytes: [u8; KEY_SIZE + 1],
}

impl Default for KeyBuf {
    fn default() -> Self {
        KeyBuf {
            bytes: [b'0'; KEY_SIZE + 1],
        }
    }
}

impl KeyBuf {
    /// An empty buffer.
    pub fn new() -> Self {
        Self::default()
    }

    /// The key for number `k` (which must be below [`MAX_KEYS`]; larger numbers keep
    /// only their low 16 digits).
    pub fn key(&mut self, k: u64) -> &[u8] {
        self.fill(k);
        &self.bytes[..KEY_SIZE]
    }

    /// A key that sorts right after `key(k)` and is never written: the digits and `.`.
    pub fn missing_key(&mut self, k: u64) -> &[u8] {
        self.fill(k);
        self.bytes[KEY_SIZE] = b'.';
        &self.bytes[..]
    }

    fn fill(&mut self, mut k: u64) {
        for digit in self.bytes[..KEY_SIZE].iter_mut().rev() {
            // `k % 10` is below 10, so the cast cannot truncate.
            *digit = b'0' + (k % 10) as u8;
            k /= 10;
        }
    }
}

/// The key for number `k`, allocated: `format!("{:016}", k)`.
pub fn key(k: u64) -> Vec<u8> {
    format!("{k:016}").into_bytes()
}

/// Key numbers drawn uniformly from `[0, num)` by a seeded fast RNG, so that every run
/// with the same seed touches the same keys in the same order.
#[derive(Debug, Clone)]
pub struct RandomKeys {
    rng: SmallRng,
    num: u64,
}

impl RandomKeys {
    /// Draws from `[0, num)` (`num` of 0 is treated as 1).
    pub fn new(seed: u64, num: u64) -> Self {
        RandomKeys {
            rng: SmallRng::seed_from_u64(seed),
            num: num.max(1),
        }
    }

    /// The next key number.
    pub fn next_key(&mut self) -> u64 {
        self.rng.random_range(0..self.num)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_sixteen_zero_padded_digits() {
        let mut buf = KeyBuf::new();
        assert_eq!(buf.key(0), b"0000000000000000");
        assert_eq!(buf.key(42), b"0000000000000042");
        assert_eq!(buf.key(999_999), b"0000000000999999");
        assert_eq!(buf.key(MAX_KEYS - 1), b"9999999999999999");
        for k in [0, 7, 123_456_789, 1_000_000, MAX_KEYS - 1] {
            assert_eq!(buf.key(k), key(k).as_slice());
            assert_eq!(buf.key(k).len(), KEY_SIZE);
        }
    }

    #[test]
    fn missing_keys_have_a_dot_and_sort_after_their_number() {
        let mut buf = KeyBuf::new();
        let missing = buf.missing_key(5).to_vec();
        assert_eq!(missing, b"0000000000000005.");
        assert!(missing.as_slice() > key(5).as_slice());
        assert!(missing.as_slice() < key(6).as_slice());
        // The buffer still yields plain keys afterwards.
        assert_eq!(buf.key(5), b"0000000000000005");
    }

    #[test]
    fn random_keys_are_in_range_and_repeatable() {
        let mut a = RandomKeys::new(7, 1000);
        let mut b = RandomKeys::new(7, 1000);
        let drawn: Vec<u64> = (0..10_000).map(|_| a.next_key()).collect();
        assert!(drawn.iter().all(|&k| k < 1000));
        assert!(drawn.iter().any(|&k| k >= 900), "draws cover the range");
        assert_eq!(drawn, (0..10_000).map(|_| b.next_key()).collect::<Vec<_>>());
        let mut c = RandomKeys::new(8, 1000);
        assert_ne!(
            drawn[..20],
            (0..20).map(|_| c.next_key()).collect::<Vec<_>>()[..]
        );
    }
}
