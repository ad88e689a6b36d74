//! Where a network step writes its residual: the rows of the frame's residual that its band owns,
//! lent for one step, so that bands write into the frame's residual at once (no copy after).

use std::marker::PhantomData;
use std::ops::Range;

/// Rows `rows` of a `channels x height x width` tensor (NCHW) lent for one step. A network run on
/// rows `offset..` of the frame writes its output row `r` to the tensor's row `r + offset`, and
/// only where that row is lent.
pub struct RowsOut<'a> {
    data: *mut f32,
    channels: usize,
    height: usize,
    width: usize,
    rows: Range<usize>,
    offset: usize,
    _lent: PhantomData<&'a mut [f32]>,
}

// SAFETY: a RowsOut is the only way to its rows while it lives (split() lends disjoint ones), as a
// `&mut [f32]` of them would be.
unsafe impl Send for RowsOut<'_> {}

impl<'a> RowsOut<'a> {
    /// Every row of `data`, written by a run on the whole frame.
    pub fn whole(data: &'a mut [f32], channels: usize, height: usize, width: usize) -> Self {
        Self::split(data, channels, height, width, std::iter::once(0..height))
            .next()
            .expect("one part")
    }

    /// Lends the rows of each of `parts` (ascending, not overlapping) of `data` separately.
    pub fn split(
        data: &'a mut [f32],
        channels: usize,
        height: usize,
        width: usize,
        parts: impl Iterator<Item = Range<usize>> + Clone,
    ) -> impl Iterator<Item = RowsOut<'a>> {
        assert_eq!(data.len(), channels * height * width, "residual size");
        let mut end = 0;
        for p in parts.clone() {
            assert!(
                p.start >= end && p.end <= height,
                "part {p:?} overlaps another or passes {height} rows"
            );
            end = p.end;
        }
        let data = data.as_mut_ptr();
        parts.map(move |rows| RowsOut {
            data,
            channels,
            height,
            width,
            rows,
            offset: 0,
            _lent: PhantomData,
        })
    }

    /// The same rows, written by a run whose row 0 is the tensor's row `offset`.
    pub fn with_offset(self, offset: usize) -> Self {
        RowsOut { offset, ..self }
    }

    /// The run's rows that land in lent rows, in the run's own numbering.
    pub fn run_rows(&self) -> Range<usize> {
        let start = self.rows.start.saturating_sub(self.offset);
        start..self.rows.end.saturating_sub(self.offset).max(start)
    }

    /// Channels, and floats per row.
    pub fn channels_and_width(&self) -> (usize, usize) {
        (self.channels, self.width)
    }

    /// Floats between the same row of two neighbouring channels.
    pub fn channel_stride(&self) -> usize {
        self.height * self.width
    }

    /// The run's row `r` of `channel`: `width` floats.
    ///
    /// # Panics
    /// Where that row is not lent.
    pub fn row_ptr(&self, channel: usize, r: usize) -> *mut f32 {
        let row = r + self.offset;
        assert!(
            channel < self.channels && self.rows.contains(&row),
            "row {row} of channel {channel} is not lent ({:?})",
            self.rows
        );
        // SAFETY: inside the tensor (checked above and in split).
        unsafe { self.data.add((channel * self.height + row) * self.width) }
    }

    /// The run's row `r` of `channel`, as [`Self::row_ptr`].
    pub fn row_mut(&mut self, channel: usize, r: usize) -> &mut [f32] {
        let p = self.row_ptr(channel, r);
        // SAFETY: a lent row, borrowed mutably through self.
        unsafe { std::slice::from_raw_parts_mut(p, self.width) }
    }

    /// Copies the lent rows from `src`, a whole run's output (`channels x rows x width`).
    pub fn copy_from(&mut self, src: &[f32], rows: usize) {
        let w = self.width;
        for c in 0..self.channels {
            for r in self.run_rows() {
                self.row_mut(c, r)
                    .copy_from_slice(&src[(c * rows + r) * w..][..w]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_write_only_their_own_rows() {
        let (c, h, w) = (2, 6, 3);
        let mut data = vec![0.0; c * h * w];
        let parts = RowsOut::split(&mut data, c, h, w, [0..2, 2..6].into_iter());
        for (k, part) in parts.enumerate() {
            // Each part's run covers rows from 1 above its own (a halo) to the end.
            let offset = if k == 0 { 0 } else { 1 };
            let mut part = part.with_offset(offset);
            assert_eq!(part.run_rows(), if k == 0 { 0..2 } else { 1..5 });
            let run: Vec<f32> = (0..c * 5 * w).map(|i| (100 * k + i) as f32).collect();
            part.copy_from(&run, 5);
        }
        // Row 3 of channel 1 came from the second run's row 2.
        assert_eq!(data[(6 + 3) * w], (100 + (5 + 2) * w) as f32);
        assert_eq!(data[w], w as f32, "row 1 of channel 0 from the first run");
    }

    #[test]
    #[should_panic(expected = "overlap")]
    fn overlapping_parts_are_refused() {
        let mut data = vec![0.0; 12];
        let _ = RowsOut::split(&mut data, 1, 4, 3, [0..3, 2..4].into_iter()).count();
    }

    #[test]
    #[should_panic(expected = "not lent")]
    fn rows_outside_the_part_are_refused() {
        let mut data = vec![0.0; 12];
        let mut part = RowsOut::split(&mut data, 1, 4, 3, std::iter::once(0..2))
            .next()
            .unwrap();
        part.row_mut(0, 2);
    }
}
