//! I420 plane packing for the network and the x4 bicubic + residual composition of its output.
//!
//! The network works on the chroma grid: a `w x h` grid (`w = ceil(W / 2)`, `h = ceil(H / 2)`) of
//! cells, each holding 2x2 luma samples, one U and one V sample. Odd luma sizes are padded by
//! repeating the last row/column. Its residual holds, per cell, the 8x8 output luma block and the
//! 4x4 output U and V blocks; it is added to a bicubic x4 upscale of each input plane (the same
//! bicubic as PyTorch's `interpolate(scale_factor=4, mode="bicubic")`: a = -0.75, edge-clamped).

/// Channels of the packed network input: 4 luma sub-pixels (`2 * dy + dx`), U, V.
pub const IN_CHANNELS: usize = 6;
/// Channels of the network residual: 64 luma (`8 * dy + dx`), 16 U and 16 V (`4 * dy + dx`).
pub const OUT_CHANNELS: usize = 96;

/// A read-only 8-bit plane with its stride.
#[derive(Clone, Copy)]
pub struct Plane<'a> {
    pub data: &'a [u8],
    pub stride: usize,
    pub width: usize,
    pub height: usize,
}

/// A writable 8-bit plane with its stride.
pub struct PlaneMut<'a> {
    pub data: &'a mut [u8],
    pub stride: usize,
    pub width: usize,
    pub height: usize,
}

impl Plane<'_> {
    #[inline]
    fn at(&self, x: usize, y: usize) -> u8 {
        self.data[y.min(self.height - 1) * self.stride + x.min(self.width - 1)]
    }
}

/// The chroma-grid size `(w, h)` for a luma size.
pub fn grid(width: usize, height: usize) -> (usize, usize) {
    (width.div_ceil(2), height.div_ceil(2))
}

/// Packs an I420 frame into `out` (`IN_CHANNELS x h x w`, values in 0..1).
pub fn pack(y: Plane, u: Plane, v: Plane, out: &mut [f32]) {
    let (w, h) = grid(y.width, y.height);
    let n = w * h;
    assert_eq!(out.len(), IN_CHANNELS * n, "packed frame buffer size");
    let k = 1.0 / 255.0;
    for gy in 0..h {
        for gx in 0..w {
            let i = gy * w + gx;
            for dy in 0..2 {
                for dx in 0..2 {
                    out[(2 * dy + dx) * n + i] = y.at(2 * gx + dx, 2 * gy + dy) as f32 * k;
                }
            }
            out[4 * n + i] = u.at(gx, gy) as f32 * k;
            out[5 * n + i] = v.at(gx, gy) as f32 * k;
        }
    }
}

/// Bicubic (a = -0.75) weights of the four x4 output phases over taps `i-2..=i+1` or `i-1..=i+2`.
struct Phase {
    first: isize,
    weights: [f32; 4],
}

fn cubic(x: f32) -> f32 {
    const A: f32 = -0.75;
    let x = x.abs();
    if x <= 1.0 {
        ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0
    } else if x < 2.0 {
        ((A * x - 5.0 * A) * x + 8.0 * A) * x - 4.0 * A
    } else {
        0.0
    }
}

fn phases() -> [Phase; 4] {
    std::array::from_fn(|p| {
        // Source coordinate of output sample 4i + p is i + (p + 0.5) / 4 - 0.5.
        let src = (p as f32 + 0.5) / 4.0 - 0.5;
        let base = src.floor();
        let t = src - base;
        Phase {
            first: base as isize - 1,
            weights: [cubic(t + 1.0), cubic(t), cubic(1.0 - t), cubic(2.0 - t)],
        }
    })
}

/// Upscales one plane x4 with bicubic and adds the network residual, writing the clamped result.
///
/// `residual` is the whole network output (`OUT_CHANNELS x gh x gw`); `first_channel` and `block`
/// select the plane's sub-pixel channels (0 and 8 for luma, 64/80 and 4 for U/V). `scratch` is
/// reused between calls to avoid per-frame allocation. Tall planes are composed in up to
/// `threads` bands of rows at once.
#[allow(clippy::too_many_arguments)]
pub fn upscale_add(
    src: Plane,
    dst: &mut PlaneMut,
    residual: &[f32],
    grid_size: (usize, usize),
    first_channel: usize,
    block: usize,
    scratch: &mut Vec<f32>,
    threads: usize,
) {
    let ph = phases();
    let (gw, gh) = grid_size;
    let n = gw * gh;
    let (sw, sh) = (src.width as isize, src.height as isize);
    // Horizontal pass: every source row to dst.width samples.
    scratch.clear();
    scratch.resize(src.height * dst.width, 0.0);
    for yy in 0..src.height {
        let row = &src.data[yy * src.stride..yy * src.stride + src.width];
        let out = &mut scratch[yy * dst.width..(yy + 1) * dst.width];
        for (x, o) in out.iter_mut().enumerate() {
            let p = &ph[x % 4];
            let i = (x / 4) as isize + p.first;
            let mut acc = 0.0;
            for (k, w) in p.weights.iter().enumerate() {
                acc += w * row[(i + k as isize).clamp(0, sw - 1) as usize] as f32;
            }
            *o = acc;
        }
    }
    // Vertical pass plus residual, into the destination plane, in bands of rows on every core.
    let scratch = &scratch[..];
    let width = dst.width;
    let stride = dst.stride;
    let vertical = |band: &mut [u8], first_row: usize| {
        for (r, out) in band.chunks_mut(stride).enumerate() {
            let y = first_row + r;
            let p = &ph[y % 4];
            let i = (y / 4) as isize + p.first;
            let rows: [&[f32]; 4] = std::array::from_fn(|k| {
                let r = (i + k as isize).clamp(0, sh - 1) as usize;
                &scratch[r * width..(r + 1) * width]
            });
            let res_row = (y / block) * gw;
            let res_ch = first_channel + (y % block) * block;
            for (x, o) in out[..width].iter_mut().enumerate() {
                let bic = p.weights[0] * rows[0][x]
                    + p.weights[1] * rows[1][x]
                    + p.weights[2] * rows[2][x]
                    + p.weights[3] * rows[3][x];
                let r = residual[(res_ch + x % block) * n + res_row + x / block];
                *o = (bic + 255.0 * r).round().clamp(0.0, 255.0) as u8;
            }
        }
    };
    let height = dst.height;
    let data = &mut dst.data[..(height - 1) * stride + width];
    let bands = if height >= 256 { threads.max(1) } else { 1 };
    let rows_per_band = height.div_ceil(bands);
    std::thread::scope(|scope| {
        let mut chunks = data.chunks_mut(rows_per_band * stride).enumerate();
        let (_, first) = chunks.next().expect("a non-empty plane");
        for (b, band) in chunks {
            scope.spawn(move || vertical(band, b * rows_per_band));
        }
        vertical(first, 0);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plane(data: &[u8], width: usize, height: usize) -> Plane<'_> {
        Plane {
            data,
            stride: width,
            width,
            height,
        }
    }

    #[test]
    fn phase_weights_sum_to_one() {
        for p in phases() {
            assert!((p.weights.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        }
    }

    #[test]
    fn packs_subpixels_and_pads_odd_sizes() {
        // 3x3 luma (odd) -> 2x2 grid; chroma 2x2.
        let y: Vec<u8> = (0..9).map(|i| i * 10).collect();
        let u = [1u8, 2, 3, 4];
        let v = [5u8, 6, 7, 8];
        let mut out = vec![0.0; IN_CHANNELS * 4];
        pack(plane(&y, 3, 3), plane(&u, 2, 2), plane(&v, 2, 2), &mut out);
        let px = |c: usize, i: usize| (out[c * 4 + i] * 255.0).round() as u8;
        // Cell (0,0): luma (0,0)=0 (1,0)=10 (0,1)=30 (1,1)=40.
        assert_eq!([px(0, 0), px(1, 0), px(2, 0), px(3, 0)], [0, 10, 30, 40]);
        // Cell (1,1): luma (2,2)=80 repeated into the padding.
        assert_eq!([px(0, 3), px(1, 3), px(2, 3), px(3, 3)], [80, 80, 80, 80]);
        assert_eq!([px(4, 1), px(5, 2)], [2, 7]);
    }

    #[test]
    fn flat_plane_stays_flat_and_residual_lands_in_its_block() {
        let src = vec![100u8; 4 * 2];
        let (gw, gh) = (2, 1); // a 4x2 luma plane
        let mut residual = vec![0.0; OUT_CHANNELS * gw * gh];
        // Luma sub-pixel (dy=3, dx=5) of cell (gx=1, gy=0) -> output (x=13, y=3).
        residual[(3 * 8 + 5) * 2 + 1] = 10.0 / 255.0;
        let mut out = vec![0u8; 16 * 8];
        let mut dst = PlaneMut {
            data: &mut out,
            stride: 16,
            width: 16,
            height: 8,
        };
        upscale_add(
            plane(&src, 4, 2),
            &mut dst,
            &residual,
            (gw, gh),
            0,
            8,
            &mut Vec::new(),
            1,
        );
        for (i, &o) in out.iter().enumerate() {
            let expect = if i == 3 * 16 + 13 { 110 } else { 100 };
            assert_eq!(o, expect, "sample {i}");
        }
    }

    #[test]
    fn matches_pytorch_bicubic_on_a_ramp() {
        // torch.nn.functional.interpolate(torch.tensor([[[[0., 64, 128, 255]]]]),
        //     scale_factor=4, mode="bicubic")[0, 0, 0], rounded and clamped to 0..255.
        let src = [0u8, 64, 128, 255];
        let mut out = vec![0u8; 16 * 4];
        let mut dst = PlaneMut {
            data: &mut out,
            stride: 16,
            width: 16,
            height: 4,
        };
        let residual = vec![0.0; OUT_CHANNELS * 2];
        upscale_add(
            plane(&src, 4, 1),
            &mut dst,
            &residual,
            (2, 1),
            0,
            8,
            &mut Vec::new(),
            1,
        );
        let torch = [
            0u8, 0, 6, 19, 34, 53, 74, 86, 95, 113, 146, 181, 213, 242, 255, 255,
        ];
        assert_eq!(&out[..16], &torch);
    }

    #[test]
    fn tall_planes_composed_in_bands_match_a_direct_2d_bicubic() {
        // 300 output rows: composed in bands on several threads.
        let (w, h) = (6usize, 75usize);
        let src: Vec<u8> = (0..w * h).map(|i| (i * 37 % 251) as u8).collect();
        let (gw, gh) = (w.div_ceil(2), h.div_ceil(2));
        let residual: Vec<f32> = (0..OUT_CHANNELS * gw * gh)
            .map(|i| ((i * 13 % 17) as f32 - 8.0) / 255.0)
            .collect();
        let mut out = vec![0u8; 16 * w * h];
        let mut dst = PlaneMut {
            data: &mut out,
            stride: 4 * w,
            width: 4 * w,
            height: 4 * h,
        };
        let mut scratch = Vec::new();
        upscale_add(
            plane(&src, w, h),
            &mut dst,
            &residual,
            (gw, gh),
            0,
            8,
            &mut scratch,
            3,
        );
        let ph = phases();
        let at = |x: isize, y: isize| {
            src[y.clamp(0, h as isize - 1) as usize * w + x.clamp(0, w as isize - 1) as usize]
                as f32
        };
        for y in 0..4 * h {
            for x in 0..4 * w {
                let (py, px) = (&ph[y % 4], &ph[x % 4]);
                let (iy, ix) = ((y / 4) as isize + py.first, (x / 4) as isize + px.first);
                let mut v = 0.0;
                for (k, wy) in py.weights.iter().enumerate() {
                    for (l, wx) in px.weights.iter().enumerate() {
                        v += wy * wx * at(ix + l as isize, iy + k as isize);
                    }
                }
                let r = residual[((y % 8) * 8 + x % 8) * gw * gh + (y / 8) * gw + x / 8];
                let expect = (v + 255.0 * r).round().clamp(0.0, 255.0);
                let got = out[y * 4 * w + x] as f32;
                assert!((got - expect).abs() <= 1.0, "({x}, {y}): {got} vs {expect}");
            }
        }
    }
}
