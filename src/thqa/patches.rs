//! Luma patches for the quality model: where they are taken and how they are read from a frame.
//!
//! The rule is part of the `thqa` model contract (`models/thqa.md`) and is mirrored in
//! `training/thqa`: a `side x side` grid of `size x size` patches at the frame's own resolution,
//! centred on the grid cells, clamped inside the frame, edges repeated when the frame is smaller.

/// How the 8-bit luma of one pixel is found in a row of the first plane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LumaLayout {
    /// Luma byte at `offset` of every `step` bytes (planar and semi-planar YUV: step 1;
    /// YUY2-like packed formats: step 2).
    Direct { step: usize, offset: usize },
    /// 8-bit RGB(A) pixels of `step` bytes: BT.601 limited-range luma from these byte offsets.
    Rgb {
        step: usize,
        r: usize,
        g: usize,
        b: usize,
    },
}

/// A read-only view of the first plane of a frame.
#[derive(Debug, Clone, Copy)]
pub struct LumaView<'a> {
    pub data: &'a [u8],
    pub width: usize,
    pub height: usize,
    /// Bytes from one row to the next.
    pub stride: usize,
    pub layout: LumaLayout,
}

impl LumaView<'_> {
    /// Luma at (x, y) in 0..=255.
    #[inline]
    fn at(&self, x: usize, y: usize) -> u8 {
        let row = &self.data[y * self.stride..];
        match self.layout {
            LumaLayout::Direct { step, offset } => row[x * step + offset],
            LumaLayout::Rgb { step, r, g, b } => {
                let p = &row[x * step..];
                // BT.601: Y = 16 + (65.738 R + 129.057 G + 25.064 B) / 256, in 8.8 fixed point.
                let y = 16 * 256 + 128 + 66 * p[r] as u32 + 129 * p[g] as u32 + 25 * p[b] as u32;
                (y >> 8) as u8
            }
        }
    }
}

/// The top-left corners along one axis of `len` samples for `side` patches of `size`.
pub fn origins(len: usize, size: usize, side: usize) -> Vec<usize> {
    let last = len.saturating_sub(size);
    (0..side)
        .map(|i| {
            ((2 * i + 1) * len / (2 * side))
                .saturating_sub(size / 2)
                .min(last)
        })
        .collect()
}

/// Writes the `side * side` patches of `size x size` luma / 255 into `out`, patch `i * side + j`
/// at grid row `i`, column `j`. Rows and columns past the frame repeat its last row and column.
pub fn extract(frame: &LumaView, side: usize, size: usize, out: &mut [f32]) {
    assert_eq!(out.len(), side * side * size * size, "patch buffer size");
    let tops = origins(frame.height, size, side);
    let lefts = origins(frame.width, size, side);
    let mut patches = out.chunks_exact_mut(size * size);
    for &top in &tops {
        for &left in &lefts {
            let patch = patches.next().expect("one chunk per patch");
            for (dy, row) in patch.chunks_exact_mut(size).enumerate() {
                let y = (top + dy).min(frame.height - 1);
                for (dx, v) in row.iter_mut().enumerate() {
                    let x = (left + dx).min(frame.width - 1);
                    *v = frame.at(x, y) as f32 / 255.0;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_centred_and_clamped() {
        // 1080 rows, 4 patches of 64: centres at 135, 405, 675, 945.
        assert_eq!(origins(1080, 64, 4), vec![103, 373, 643, 913]);
        // Too small a frame: every patch starts at 0.
        assert_eq!(origins(40, 64, 2), vec![0, 0]);
        // Patches never leave the frame.
        assert!(origins(70, 64, 3).iter().all(|&o| o + 64 <= 70));
    }

    #[test]
    fn reads_planar_packed_and_rgb_luma() {
        let planar = [10u8, 20, 30, 40];
        let view = LumaView {
            data: &planar,
            width: 2,
            height: 2,
            stride: 2,
            layout: LumaLayout::Direct { step: 1, offset: 0 },
        };
        let mut out = [0.0; 9];
        extract(&view, 1, 3, &mut out);
        let expect = [10.0, 20.0, 20.0, 30.0, 40.0, 40.0, 30.0, 40.0, 40.0].map(|v| v / 255.0);
        assert_eq!(out, expect);

        // UYVY: luma at odd bytes.
        let uyvy = [128u8, 50, 128, 60];
        let view = LumaView {
            data: &uyvy,
            width: 2,
            height: 1,
            stride: 4,
            layout: LumaLayout::Direct { step: 2, offset: 1 },
        };
        let mut out = [0.0; 4];
        extract(&view, 1, 2, &mut out);
        assert_eq!(out, [50.0, 60.0, 50.0, 60.0].map(|v| v / 255.0));

        // RGBx white and black: limited-range 235 and 16.
        let rgbx = [255u8, 255, 255, 0, 0, 0, 0, 0];
        let view = LumaView {
            data: &rgbx,
            width: 2,
            height: 1,
            stride: 8,
            layout: LumaLayout::Rgb {
                step: 4,
                r: 0,
                g: 1,
                b: 2,
            },
        };
        let mut out = [0.0; 4];
        extract(&view, 1, 2, &mut out);
        assert_eq!(out, [235.0, 16.0, 235.0, 16.0].map(|v| v / 255.0));
    }
}
