//! The one random source of a report, with the few draws the generator needs.
//!
//! Everything random goes through [`Dice`] so that a report depends only on `(seed, index)`: the
//! stream is ChaCha8 (portable, fixed by `rand_chacha`), never the thread RNG.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub struct Dice {
    rng: ChaCha8Rng,
}

/// splitmix64: spreads `(seed, index)` so that neighbouring indices get unrelated streams.
fn mix(seed: u64, index: u64) -> u64 {
    let mut z = seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Dice {
    pub fn new(seed: u64, index: u64) -> Dice {
        Dice {
            rng: ChaCha8Rng::seed_from_u64(mix(seed, index)),
        }
    }

    /// True with probability `p` (clamped to 0..=1).
    pub fn chance(&mut self, p: f64) -> bool {
        let p = if p.is_nan() { 0.0 } else { p.clamp(0.0, 1.0) };
        self.rng.random_bool(p)
    }

    /// Uniform in `lo..=hi`; `lo` when the range is empty.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            lo
        } else {
            self.rng.random_range(lo..=hi)
        }
    }

    pub fn index(&mut self, len: usize) -> usize {
        if len <= 1 {
            0
        } else {
            self.rng.random_range(0..len)
        }
    }

    pub fn unit(&mut self) -> f64 {
        self.rng.random::<f64>()
    }

    /// One element of a non-empty slice (the first element of an empty one is never asked for: all
    /// callers pass constant pools).
    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        let i = self.index(xs.len());
        &xs[i]
    }

    /// One of a pool of string constants.
    pub fn pick_str(&mut self, xs: &[&'static str]) -> &'static str {
        let i = self.index(xs.len());
        xs.get(i).copied().unwrap_or_default()
    }

    /// Index drawn with the given non-negative weights; 0 when they are all zero.
    pub fn weighted(&mut self, weights: &[f64]) -> usize {
        let total: f64 = weights.iter().filter(|w| **w > 0.0).sum();
        if total <= 0.0 {
            return 0;
        }
        let mut x = self.unit() * total;
        for (i, w) in weights.iter().enumerate() {
            if *w <= 0.0 {
                continue;
            }
            if x < *w {
                return i;
            }
            x -= *w;
        }
        weights.iter().rposition(|w| *w > 0.0).unwrap_or(0)
    }

    /// Log-uniform integer in `lo..=hi`: counts of requests and decisions are skewed, most agencies sit
    /// near the bottom of their range.
    pub fn log_uniform(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        let l = (lo.max(0) as f64 + 1.0).ln();
        let h = (hi as f64 + 1.0).ln();
        let v = (l + self.unit() * (h - l)).exp() - 1.0;
        (v.round() as i64).clamp(lo, hi)
    }

    /// Shuffle in place (Fisher–Yates).
    pub fn shuffle<T>(&mut self, xs: &mut [T]) {
        for i in (1..xs.len()).rev() {
            let j = self.index(i + 1);
            xs.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream_and_ranges_hold() {
        let mut a = Dice::new(7, 3);
        let mut b = Dice::new(7, 3);
        let va: Vec<i64> = (0..50).map(|_| a.range(0, 1000)).collect();
        let vb: Vec<i64> = (0..50).map(|_| b.range(0, 1000)).collect();
        assert_eq!(va, vb);
        let mut c = Dice::new(7, 4);
        let vc: Vec<i64> = (0..50).map(|_| c.range(0, 1000)).collect();
        assert_ne!(va, vc);
        for _ in 0..1000 {
            let x = a.log_uniform(5, 80);
            assert!((5..=80).contains(&x));
            assert_eq!(a.weighted(&[0.0, 0.0, 1.0]), 2);
        }
    }
}
