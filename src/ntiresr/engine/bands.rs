//! Splitting the chroma grid into bands of rows that the network can run on at once.
//!
//! A band's network runs on its own rows plus `halo` rows on each side (clamped to the frame).
//! When `halo` covers how far one step of the network reaches, the band's own rows come out exactly
//! as from a run on the whole frame; with its recurrent state refreshed from the neighbours after
//! every step (see [`copy_rows`]), that stays true frame after frame.

use std::ops::Range;

/// Rows of the grid that one band computes (`input`) and keeps (`own`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Band {
    pub input: Range<usize>,
    pub own: Range<usize>,
}

impl Band {
    /// Rows of the band's input tensors.
    pub fn rows(&self) -> usize {
        self.input.len()
    }
}

/// Splits `height` grid rows into at most `count` bands, each running on at least `halo` extra
/// rows per side, its input starting on a multiple of `period` (a model with a stride-2
/// convolution on the grid sees the same rows only at the same parity). Bands only pay off when
/// each keeps at least `4 * halo` rows (the halo then costs at most half a band), so fewer (down
/// to one, the whole frame) are used on short frames.
pub fn split(height: usize, count: usize, halo: usize, period: usize) -> Vec<Band> {
    let count = count.clamp(1, (height / (4 * halo).max(1)).max(1));
    let period = period.max(1);
    (0..count)
        .map(|k| {
            let own = k * height / count..(k + 1) * height / count;
            let start = own.start.saturating_sub(halo) / period * period;
            let input = start..(own.end + halo).min(height);
            Band { input, own }
        })
        .collect()
}

/// Copies grid rows `rows` (frame coordinates) of every channel from `src`, a `channels x
/// src_rows.len() x width` tensor holding frame rows `src_rows`, into `dst`, likewise holding
/// frame rows `dst_rows`. `rows` must lie within both.
pub fn copy_rows(
    src: &[f32],
    src_rows: &Range<usize>,
    dst: &mut [f32],
    dst_rows: &Range<usize>,
    rows: Range<usize>,
    width: usize,
) {
    assert!(
        rows.start >= src_rows.start.max(dst_rows.start)
            && rows.end <= src_rows.end.min(dst_rows.end),
        "rows {rows:?} outside {src_rows:?} or {dst_rows:?}"
    );
    let (src_plane, dst_plane) = (src_rows.len() * width, dst_rows.len() * width);
    let len = rows.len() * width;
    let (s0, d0) = (
        (rows.start - src_rows.start) * width,
        (rows.start - dst_rows.start) * width,
    );
    for (s, d) in src
        .chunks_exact(src_plane)
        .zip(dst.chunks_exact_mut(dst_plane))
    {
        d[d0..d0 + len].copy_from_slice(&s[s0..s0 + len]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bands_cover_the_frame_once_with_clamped_halos() {
        let bands = split(135, 2, 5, 1);
        assert_eq!(
            bands,
            [
                Band {
                    input: 0..72,
                    own: 0..67
                },
                Band {
                    input: 62..135,
                    own: 67..135
                }
            ]
        );
        for count in 1..6 {
            let bands = split(541, count, 3, 1);
            assert_eq!(bands.len(), count);
            let owned: Vec<usize> = bands.iter().flat_map(|b| b.own.clone()).collect();
            assert_eq!(owned, (0..541).collect::<Vec<_>>());
        }
    }

    #[test]
    fn band_inputs_start_on_the_period() {
        for bands in [split(135, 3, 5, 2), split(541, 5, 3, 4)] {
            for band in &bands {
                assert!(band.input.start <= band.own.start.saturating_sub(3));
            }
            assert!(bands.iter().all(|b| b.input.start % 2 == 0), "{bands:?}");
        }
        assert_eq!(split(135, 2, 5, 2)[1].input, 62..135);
        assert_eq!(split(135, 2, 6, 2)[1].input, 60..135);
        assert_eq!(split(541, 5, 3, 4)[1].input.start % 4, 0);
    }

    #[test]
    fn short_frames_use_fewer_bands() {
        assert_eq!(split(135, 2, 40, 1).len(), 1);
        assert_eq!(split(135, 8, 5, 1).len(), 6);
        assert_eq!(
            split(1, 2, 0, 1),
            [Band {
                input: 0..1,
                own: 0..1
            }]
        );
    }

    #[test]
    fn copies_rows_between_tensors_of_different_extent() {
        // 2 channels, width 3; src holds frame rows 2..6, dst rows 4..8.
        let src: Vec<f32> = (0..2 * 4 * 3).map(|v| v as f32).collect();
        let mut dst = vec![-1.0; 2 * 4 * 3];
        copy_rows(&src, &(2..6), &mut dst, &(4..8), 4..6, 3);
        let mut want = vec![-1.0; 24];
        // Frame rows 4..6 are src rows 2..4 and dst rows 0..2, in each channel.
        want[..6].copy_from_slice(&src[6..12]);
        want[12..18].copy_from_slice(&src[18..24]);
        assert_eq!(dst, want);
    }

    #[test]
    #[should_panic(expected = "outside")]
    fn refuses_rows_outside_a_tensor() {
        copy_rows(&[0.0; 6], &(0..2), &mut [0.0; 6], &(1..3), 0..2, 3);
    }
}
