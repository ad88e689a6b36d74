//! Running scores of a stream: the last frame score, the mean of all scored frames (the clip
//! score) and an exponential moving average over a window of frames.

#[derive(Debug, Clone, PartialEq)]
pub struct ClipScore {
    /// Frames scored since the last reset.
    pub frames: u64,
    /// The last frame score, `None` before the first.
    pub last: Option<f64>,
    sum: f64,
    ema: Option<f64>,
    /// Smoothing factor of the moving average: `2 / (window + 1)`.
    alpha: f64,
}

impl ClipScore {
    /// Running scores whose moving average spans about `window` frames (at least 1).
    pub fn new(window: u32) -> Self {
        ClipScore {
            frames: 0,
            last: None,
            sum: 0.0,
            ema: None,
            alpha: 2.0 / (window.max(1) as f64 + 1.0),
        }
    }

    /// A new moving-average window; the scores so far are kept.
    pub fn set_window(&mut self, window: u32) {
        self.alpha = ClipScore::new(window).alpha;
    }

    /// Forgets every score, keeping the window.
    pub fn reset(&mut self) {
        *self = ClipScore {
            alpha: self.alpha,
            ..ClipScore::new(1)
        };
    }

    pub fn add(&mut self, score: f64) {
        self.frames += 1;
        self.sum += score;
        self.last = Some(score);
        self.ema = Some(match self.ema {
            None => score,
            Some(ema) => ema + self.alpha * (score - ema),
        });
    }

    /// Mean of every frame score since the last reset.
    pub fn mean(&self) -> Option<f64> {
        (self.frames > 0).then(|| self.sum / self.frames as f64)
    }

    /// The exponential moving average (the first score, then smoothed).
    pub fn ema(&self) -> Option<f64> {
        self.ema
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_and_moving_average() {
        let mut s = ClipScore::new(3); // alpha 0.5
        assert_eq!((s.mean(), s.ema(), s.last), (None, None, None));
        for v in [4.0, 2.0, 3.0] {
            s.add(v);
        }
        assert_eq!(s.mean(), Some(3.0));
        assert_eq!(s.ema(), Some(3.0)); // 4 -> 3 -> 3
        assert_eq!(s.last, Some(3.0));
        s.reset();
        assert_eq!((s.frames, s.mean(), s.ema()), (0, None, None));
        s.add(1.0);
        s.add(3.0);
        assert_eq!(s.ema(), Some(2.0), "the window survives a reset");
        let kept = s.clone();
        s.set_window(1); // alpha 1: the moving average is the last score
        assert_eq!(
            (s.frames, s.mean(), s.ema()),
            (kept.frames, kept.mean(), kept.ema())
        );
        s.add(5.0);
        assert_eq!(s.ema(), Some(5.0));
    }
}
