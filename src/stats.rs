//! Processing statistics of either element, exposed through its `stats` property.

use std::time::Duration;

#[derive(Debug, Default, Clone, PartialEq)]
pub struct Stats {
    /// Frames processed (`ntiresr`: upscaled; `thqa`: scored).
    pub frames: u64,
    /// Resets of what the element carries from frame to frame (`ntiresr`: the temporal state;
    /// `thqa`: the running scores).
    pub resets: u64,
    /// `ntiresr`: frames whose network step failed (upscaled by plain bicubic instead).
    pub failed: u64,
    /// `ntiresr`: input buffers dropped because they did not hold a whole frame.
    pub dropped: u64,
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

    /// The `stats` property's value: `frames`, `resets`, `mean-ms` and `max-ms`.
    pub fn to_structure(&self, name: &str) -> gst::Structure {
        gst::Structure::builder(name)
            .field("frames", self.frames)
            .field("resets", self.resets)
            .field("mean-ms", self.mean_ms())
            .field("max-ms", self.max_ms())
            .build()
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
