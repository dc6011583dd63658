//! Values as db_bench makes them (its `RandomGenerator` with `compression_ratio 0.5`).
//!
//! A buffer of at least 1 MiB is built once from 100-byte pieces; each piece is 50
//! random printable bytes followed by a repeat of those 50 bytes, so every value
//! compresses to about half its size, as real data might. Values are slices of the
//! buffer at a rolling offset, wrapping to the start when the next slice would run off
//! the end. The buffer is larger than a compressor's window (32 KiB), so values do not
//! compress against each other more than real data would.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// The buffer size db_bench uses.
const BUFFER_SIZE: usize = 1 << 20;

/// Length of each compressible piece.
const PIECE: usize = 100;

/// db_bench's fixed seed for the value buffer.
const VALUE_SEED: u64 = 301;

/// The target compressed size over raw size.
pub const COMPRESSION_RATIO: f64 = 0.5;

/// Hands out values of a given size from the pre-generated buffer.
#[derive(Debug, Clone)]
pub struct ValueGenerator {
    data: Vec<u8>,
    pos: usize,
}

impl ValueGenerator {
    /// A generator that can hand out values of up to `max_value_size` bytes.
    pub fn new(max_value_size: usize) -> Self {
        let size = BUFFER_SIZE.max(max_value_size.saturating_mul(2));
        let mut rng = SmallRng::seed_from_u64(VALUE_SEED);
        let mut data = Vec::with_capacity(size + PIECE);
        // Rounded, so a 0.5 ratio keeps 50 of every 100 bytes; the cast is of a value
        // between 1 and PIECE.
        let raw_len = ((PIECE as f64 * COMPRESSION_RATIO).round() as usize).clamp(1, PIECE);
        while data.len() < size {
            let raw: Vec<u8> = (0..raw_len)
                .map(|_| b' ' + rng.random_range(0..95u8))
                .collect();
            data.extend(raw.iter().cycle().take(PIECE));
        }
        ValueGenerator { data, pos: 0 }
    }

    /// The next value of `len` bytes (`len` no more than the size given to `new`).
    pub fn generate(&mut self, len: usize) -> &[u8] {
        let len = len.min(self.data.len());
        if self.pos + len > self.data.len() {
            self.pos = 0;
        }
        self.pos += len;
        &self.data[self.pos - len..self.pos]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_are_printable_halves_repeated() {
        let mut gen = ValueGenerator::new(100);
        let v = gen.generate(100).to_vec();
        assert_eq!(v.len(), 100);
        assert!(v.iter().all(|b| (b' '..=b'~').contains(b)));
        assert_eq!(v[..50], v[50..]);
        let w = gen.generate(100).to_vec();
        assert_ne!(v, w, "offsets roll forward");
    }

    #[test]
    fn values_compress_to_about_half() {
        let mut gen = ValueGenerator::new(100);
        let mut raw = Vec::new();
        for _ in 0..10_000 {
            raw.extend_from_slice(gen.generate(100));
        }
        let compressed = lz4_flex::block::compress(&raw);
        let ratio = compressed.len() as f64 / raw.len() as f64;
        assert!((0.45..0.6).contains(&ratio), "ratio {ratio}");
    }

    #[test]
    fn large_values_wrap_around_the_buffer() {
        let mut gen = ValueGenerator::new(100_000);
        for _ in 0..100 {
            assert_eq!(gen.generate(100_000).len(), 100_000);
        }
        let mut big = ValueGenerator::new(3 << 20);
        assert_eq!(big.generate(3 << 20).len(), 3 << 20);
    }

    #[test]
    fn generation_is_deterministic() {
        let mut a = ValueGenerator::new(100);
        let mut b = ValueGenerator::new(100);
        assert_eq!(a.generate(100), b.generate(100));
    }
}
