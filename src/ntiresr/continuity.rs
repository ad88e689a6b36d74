//! When a stream's temporal state must be dropped: discontinuities and timestamp gaps.

/// Why the temporal state was reset before a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetReason {
    /// The first frame after start, new caps or a flush.
    Start,
    /// The buffer carried the DISCONT flag.
    Discont,
    /// The timestamp jumped by more than 1.5 frame durations (frames were dropped upstream).
    Gap,
    /// The timestamp went backwards.
    Backwards,
}

/// Tracks the timestamps of consecutive frames (all times in nanoseconds).
#[derive(Debug, Default, Clone)]
pub struct Continuity {
    /// Nominal frame duration from the caps' framerate, if fixed.
    nominal: Option<u64>,
    last_pts: Option<u64>,
    last_duration: Option<u64>,
    started: bool,
}

impl Continuity {
    pub fn new(nominal_frame_duration: Option<u64>) -> Self {
        Continuity {
            nominal: nominal_frame_duration,
            ..Default::default()
        }
    }

    /// Forgets the previous frame: the next one is a start.
    pub fn restart(&mut self) {
        *self = Continuity::new(self.nominal);
    }

    /// Records a frame and says whether the state must be reset before processing it.
    pub fn next(
        &mut self,
        pts: Option<u64>,
        duration: Option<u64>,
        discont: bool,
    ) -> Option<ResetReason> {
        let reason = if !self.started {
            Some(ResetReason::Start)
        } else if discont {
            Some(ResetReason::Discont)
        } else {
            match (self.last_pts, pts) {
                (Some(last), Some(now)) if now < last => Some(ResetReason::Backwards),
                (Some(last), Some(now)) => {
                    let frame = self.last_duration.or(self.nominal);
                    frame
                        .filter(|&d| d > 0 && (now - last) * 2 > d * 3)
                        .map(|_| ResetReason::Gap)
                }
                _ => None,
            }
        };
        self.started = true;
        self.last_pts = pts.or(self.last_pts);
        self.last_duration = duration.or(self.nominal);
        reason
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS40: u64 = 40_000_000;

    #[test]
    fn steady_stream_resets_only_at_start() {
        let mut c = Continuity::new(Some(MS40));
        assert_eq!(c.next(Some(0), Some(MS40), false), Some(ResetReason::Start));
        for i in 1..10 {
            assert_eq!(c.next(Some(i * MS40), Some(MS40), false), None);
        }
    }

    #[test]
    fn gaps_discont_and_backwards_reset() {
        let mut c = Continuity::new(Some(MS40));
        c.next(Some(0), None, false);
        assert_eq!(c.next(Some(MS40 * 3 / 2), None, false), None);
        assert_eq!(
            c.next(Some(MS40 * 3 / 2 + MS40 * 2), None, false),
            Some(ResetReason::Gap)
        );
        assert_eq!(
            c.next(Some(10 * MS40), None, true),
            Some(ResetReason::Discont)
        );
        assert_eq!(
            c.next(Some(2 * MS40), None, false),
            Some(ResetReason::Backwards)
        );
        c.restart();
        assert_eq!(
            c.next(Some(3 * MS40), None, false),
            Some(ResetReason::Start)
        );
    }

    #[test]
    fn buffer_duration_beats_nominal_and_no_timestamps_never_gap() {
        let mut c = Continuity::new(None);
        c.next(None, None, false);
        assert_eq!(c.next(None, None, false), None);
        let mut c = Continuity::new(Some(MS40));
        c.next(Some(0), Some(2 * MS40), false);
        assert_eq!(c.next(Some(2 * MS40), Some(MS40), false), None);
    }
}
