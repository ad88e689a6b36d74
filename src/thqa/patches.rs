//! Luma patches for the quality model: where they are taken and how they are read from a frame.
//!
//! The rule is part of the `thqa` model contract (`models/thqa.md`) and is mirrored in
//! `training/thqa/display.py`. A frame is judged as it is shown: its shorter side is brought to
//! `display` lines (never below its own, a frame is not shrunk), the other side by aspect. A
//! `side x side` grid of `size x size` patches is laid on that picture, centred on the grid cells
//! and clamped inside it (repeating its last row and column when it is smaller than a patch).
//! Every patch pixel is a bicubic (Keys, a = -0.5) sample of the frame rounded to 8 bits, as an
//! upscaled frame would hold; only the patches are resampled, never the whole frame.

/// Keys' cubic convolution parameter (a = -0.5).
const A: f64 = -0.5;

/// How the 8-bit luma of one pixel is found in a row of the first plane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LumaLayout {
    /// Luma byte at `offset` of every `step` bytes (planar and semi-planar YUV: step 1;
    /// YUY2-like packed formats: step 2).
    Direct { step: usize, offset: usize },
    /// 8-bit RGB(A) pixels of `step` bytes at these byte offsets, turned into limited-range luma
    /// with `matrix`.
    Rgb {
        step: usize,
        r: usize,
        g: usize,
        b: usize,
        matrix: LumaMatrix,
    },
}

impl LumaLayout {
    /// The same layout with RGB luma computed with `matrix` (no change for YUV layouts).
    pub fn with_matrix(self, matrix: LumaMatrix) -> Self {
        match self {
            LumaLayout::Rgb { step, r, g, b, .. } => LumaLayout::Rgb {
                step,
                r,
                g,
                b,
                matrix,
            },
            direct => direct,
        }
    }
}

/// The YUV matrix whose luma is read from RGB frames: the one a converter to YUV uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LumaMatrix {
    Bt601,
    Bt709,
    Bt2020,
}

impl LumaMatrix {
    /// Limited-range luma weights of R, G and B in 8.8 fixed point, `round(Kx * 219 / 255 * 256)`:
    /// with `Y = (16 * 256 + kr R + kg G + kb B) >> 8` this is videoconvert's luma, bit for bit.
    const fn weights(self) -> [u32; 3] {
        match self {
            // Kr, Kg, Kb = 0.299, 0.587, 0.114
            LumaMatrix::Bt601 => [66, 129, 25],
            // 0.2126, 0.7152, 0.0722
            LumaMatrix::Bt709 => [47, 157, 16],
            // 0.2627, 0.678, 0.0593
            LumaMatrix::Bt2020 => [58, 149, 13],
        }
    }
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
            LumaLayout::Rgb {
                step,
                r,
                g,
                b,
                matrix,
            } => {
                let p = &row[x * step..];
                let [kr, kg, kb] = matrix.weights();
                let y = (16 << 8) + kr * p[r] as u32 + kg * p[g] as u32 + kb * p[b] as u32;
                (y >> 8) as u8
            }
        }
    }

    /// Copies `out.len()` luma samples of row `y` from column `x0` into `out`.
    pub(super) fn read_row(&self, x0: usize, y: usize, out: &mut [u8]) {
        match self.layout {
            LumaLayout::Direct { step: 1, offset } => {
                let start = y * self.stride + x0 + offset;
                out.copy_from_slice(&self.data[start..start + out.len()]);
            }
            _ => {
                for (i, v) in out.iter_mut().enumerate() {
                    *v = self.at(x0 + i, y);
                }
            }
        }
    }

    /// Whether every pixel of the view lies inside `data` (a view built from a frame always
    /// does; a hand-made one may not).
    pub(super) fn is_complete(&self) -> bool {
        let (step, last) = match self.layout {
            LumaLayout::Direct { step, offset } => (step, offset + 1),
            LumaLayout::Rgb { step, r, g, b, .. } => (step, r.max(g).max(b) + 1),
        };
        if self.width == 0 || self.height == 0 {
            return true;
        }
        let row = (self.width - 1)
            .checked_mul(step)
            .and_then(|v| v.checked_add(last));
        let end = (self.height - 1)
            .checked_mul(self.stride)
            .zip(row)
            .and_then(|(a, b)| a.checked_add(b));
        match (row, end) {
            (Some(row), Some(end)) => {
                (self.height == 1 || row <= self.stride) && end <= self.data.len()
            }
            _ => false,
        }
    }
}

/// The size (width, height) a `width x height` frame is judged at on a display of `display`
/// lines: the shorter side becomes `max(shorter side, display)`, the other follows the aspect.
pub fn display_size(width: usize, height: usize, display: usize) -> (usize, usize) {
    if width >= height {
        let d = height.max(display);
        ((width * d + height / 2) / height, d)
    } else {
        let d = width.max(display);
        (d, (height * d + width / 2) / width)
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

/// Source taps and weights of display samples `start..start + count` of an axis of `src`
/// samples shown as `dst` (samples past the end repeat the last one).
fn taps(start: usize, count: usize, src: usize, dst: usize) -> Vec<([usize; 4], [f32; 4])> {
    let ratio = src as f64 / dst as f64;
    (start..start + count)
        .map(|d| {
            let s = (d.min(dst - 1) as f64 + 0.5) * ratio - 0.5;
            let f = s.floor();
            let t = s - f;
            let weight = |x: f64| -> f32 {
                let w = if x <= 1.0 {
                    ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0
                } else {
                    ((A * x - 5.0 * A) * x + 8.0 * A) * x - 4.0 * A
                };
                w as f32
            };
            let at = |k: i64| (f as i64 + k).clamp(0, src as i64 - 1) as usize;
            (
                [at(-1), at(0), at(1), at(2)],
                [weight(1.0 + t), weight(t), weight(1.0 - t), weight(2.0 - t)],
            )
        })
        .collect()
}

#[inline]
fn sum4(w: &[f32; 4], v: [f32; 4]) -> f32 {
    w[0] * v[0] + w[1] * v[1] + w[2] * v[2] + w[3] * v[3]
}

/// Writes the `side * side` patches of `size x size` luma / 255 of `frame` judged on a display of
/// `display` lines into `out`, patch `i * side + j` at grid row `i`, column `j`.
pub fn extract(frame: &LumaView, display: usize, side: usize, size: usize, out: &mut [f32]) {
    assert_eq!(out.len(), side * side * size * size, "patch buffer size");
    let (dw, dh) = display_size(frame.width, frame.height, display);
    let tops = origins(dh, size, side);
    let lefts = origins(dw, size, side);
    let mut patches = out.chunks_exact_mut(size * size);
    if (dw, dh) == (frame.width, frame.height) {
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
        return;
    }
    let mut horiz: Vec<f32> = Vec::new();
    for &top in &tops {
        let ytaps = taps(top, size, frame.height, dh);
        // The taps grow with the display row: the patch needs source rows first..=last.
        let first = ytaps[0].0[0];
        let last = ytaps[size - 1].0[3];
        for &left in &lefts {
            let xtaps = taps(left, size, frame.width, dw);
            horiz.clear();
            for y in first..=last {
                horiz.extend(
                    xtaps
                        .iter()
                        .map(|(ix, w)| sum4(w, ix.map(|x| frame.at(x, y) as f32))),
                );
            }
            let patch = patches.next().expect("one chunk per patch");
            for ((iy, wy), row) in ytaps.iter().zip(patch.chunks_exact_mut(size)) {
                for (dx, v) in row.iter_mut().enumerate() {
                    let s = sum4(wy, iy.map(|y| horiz[(y - first) * size + dx]));
                    *v = (s + 0.5).floor().clamp(0.0, 255.0) / 255.0;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLANAR: LumaLayout = LumaLayout::Direct { step: 1, offset: 0 };

    /// `tests/data/thqa_patches.bin` (`python -m training.thqa.fixture`): a synthetic frame and,
    /// per display size, the positions and 8-bit patches `training/thqa/display.py` takes.
    #[test]
    fn patches_match_the_python_rule_bit_for_bit() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/thqa_patches.bin");
        let bytes = std::fs::read(path).unwrap();
        let u32s = |b: &[u8]| -> Vec<usize> {
            b.chunks_exact(4)
                .map(|c| u32::from_le_bytes(c.try_into().unwrap()) as usize)
                .collect()
        };
        let head = u32s(&bytes[..20]);
        let (w, h, side, size, displays) = (head[0], head[1], head[2], head[3], head[4]);
        let (frame, mut rest) = bytes[20..].split_at(w * h);
        let view = LumaView {
            data: frame,
            width: w,
            height: h,
            stride: w,
            layout: PLANAR,
        };
        let n = side * side;
        for _ in 0..displays {
            let (words, after) = rest.split_at(4 * (1 + 2 * n));
            let (expect, after) = after.split_at(n * size * size);
            rest = after;
            let words = u32s(words);
            let display = words[0];
            let (dw, dh) = display_size(w, h, display);
            let (tops, lefts) = (origins(dh, size, side), origins(dw, size, side));
            let at: Vec<usize> = tops
                .iter()
                .flat_map(|&t| lefts.iter().flat_map(move |&l| [t, l]))
                .collect();
            assert_eq!(at, words[1..], "positions at display {display}");
            let mut out = vec![0.0; n * size * size];
            extract(&view, display, side, size, &mut out);
            let got: Vec<u8> = out.iter().map(|v| (v * 255.0).round() as u8).collect();
            let differ = got.iter().zip(expect).filter(|(a, b)| a != b).count();
            assert_eq!(
                differ, 0,
                "{differ} patch pixels differ at display {display}"
            );
        }
        assert!(rest.is_empty(), "trailing bytes in {path}");
    }

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
    fn display_size_follows_the_shorter_side() {
        assert_eq!(display_size(480, 270, 1080), (1920, 1080));
        assert_eq!(display_size(270, 480, 1080), (1080, 1920));
        assert_eq!(display_size(1920, 1080, 720), (1920, 1080), "never shrunk");
        assert_eq!(display_size(240, 180, 720), (960, 720));
        assert_eq!(display_size(64, 36, 0), (64, 36), "0: the frame's own size");
    }

    #[test]
    fn reads_planar_packed_and_rgb_luma() {
        let planar = [10u8, 20, 30, 40];
        let view = LumaView {
            data: &planar,
            width: 2,
            height: 2,
            stride: 2,
            layout: PLANAR,
        };
        let mut out = [0.0; 9];
        extract(&view, 0, 1, 3, &mut out);
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
        extract(&view, 0, 1, 2, &mut out);
        assert_eq!(out, [50.0, 60.0, 50.0, 60.0].map(|v| v / 255.0));

        // RGBx white, black and pure green: limited range 235 and 16 with any matrix; green
        // weighs 0.587 in BT.601 (16 + 128.5) and 0.7152 in BT.709 (16 + 156.4), truncated.
        let rgbx = [255u8, 255, 255, 0, 0, 0, 0, 0, 0, 255, 0, 0];
        for (matrix, green) in [(LumaMatrix::Bt601, 144.0), (LumaMatrix::Bt709, 172.0)] {
            let view = LumaView {
                data: &rgbx,
                width: 3,
                height: 1,
                stride: 12,
                layout: LumaLayout::Rgb {
                    step: 4,
                    r: 0,
                    g: 1,
                    b: 2,
                    matrix,
                },
            };
            let mut out = [0.0; 9];
            extract(&view, 0, 1, 3, &mut out);
            assert_eq!(
                out[..3],
                [235.0, 16.0, green].map(|v| v / 255.0),
                "{matrix:?}"
            );
        }
    }

    #[test]
    fn a_small_frame_is_judged_at_display_size() {
        // A horizontal ramp of 4x4: at display 8 lines every patch pixel is the bicubic upscale.
        let ramp: Vec<u8> = (0..16).map(|i| (i % 4) as u8 * 60 + 10).collect();
        let view = LumaView {
            data: &ramp,
            width: 4,
            height: 4,
            stride: 4,
            layout: PLANAR,
        };
        let mut out = [0.0; 64];
        extract(&view, 8, 1, 8, &mut out);
        let row: Vec<u8> = out[..8].iter().map(|v| (v * 255.0).round() as u8).collect();
        // Rows are equal (no vertical change); the row rises monotonically.
        assert!(out.chunks(8).all(|r| r == &out[..8]));
        assert!(row.windows(2).all(|w| w[0] <= w[1]), "{row:?}");
        // Display column 2 is source x = 0.75: Keys' weights -0.0234375, 0.2265625, 0.8671875,
        // -0.0703125 on 10, 10, 70, 130 (edge clamped) give 53.6.
        assert_eq!(row[2], 54, "{row:?}");
        // Display 4 (or less): the frame's own pixels.
        extract(&view, 4, 1, 4, &mut out[..16]);
        assert!(
            out[..16]
                .iter()
                .zip(&ramp)
                .all(|(v, &r)| *v == r as f32 / 255.0)
        );
    }
}
