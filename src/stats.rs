//! Per-element processing statistics, exposed through the `stats` property.

use std::time::Duration;

#[derive(Debug, Default, Clone, PartialEq)]
pub struct Stats {
    /// Frames the network processed.
    pub frames: u64,
    /// Temporal-state resets (start, discont, gaps, flushes, new caps).
    pub resets: u64,
    total: Duration,
    max: Duration,
}

impl Stats {
    pub fn record(&mut self, took: Duration) {
        self.frames += 1;
        self.total += took;
        self.max = self.max.max(took);
    }

    pub fn mean_ms(&self) -> f64 {
        if self.frames == 0 {
            0.0
        } else {
            self.total.as_secs_f64() * 1e3 / self.frames as f64
        }
    }

    pub fn max_ms(&self) -> f64 {
        self.max.as_secs_f64() * 1e3
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_and_max() {
        let mut s = Stats::default();
        assert_eq!(s.mean_ms(), 0.0);
        s.record(Duration::from_millis(10));
        s.record(Duration::from_millis(30));
        assert_eq!((s.frames, s.mean_ms(), s.max_ms()), (2, 20.0, 30.0));
    }
}
