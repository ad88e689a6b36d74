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
/// Where each output plane's residual lies in those channels, for Y, U and V: its first channel
/// and the side of its block of sub-pixels per cell (channel `first + block * dy + dx`).
pub const RESIDUAL_LAYOUT: [(usize, usize); 3] = [(0, 8), (64, 4), (80, 4)];

/// A read-only 8-bit plane: row `y` starts at `y * stride`, its samples `step` bytes apart (1:
/// planar, as I420; 2: one of NV12's interleaved chroma planes, `data` starting at its first
/// sample).
#[derive(Clone, Copy)]
pub struct Plane<'a> {
    pub data: &'a [u8],
    pub stride: usize,
    pub step: usize,
    pub width: usize,
    pub height: usize,
}

/// A writable 8-bit plane, laid out as [`Plane`].
pub struct PlaneMut<'a> {
    pub data: &'a mut [u8],
    pub stride: usize,
    pub step: usize,
    pub width: usize,
    pub height: usize,
}

impl<'a> Plane<'a> {
    /// A planar plane whose rows follow one another (stride = width).
    pub fn packed(data: &'a [u8], width: usize, height: usize) -> Self {
        Plane {
            data,
            stride: width,
            step: 1,
            width,
            height,
        }
    }

    #[inline]
    fn at(&self, x: usize, y: usize) -> u8 {
        self.data[y.min(self.height - 1) * self.stride + x.min(self.width - 1) * self.step]
    }

    /// Row `y`'s samples: the plane's own bytes when planar, else gathered into `buffer`.
    pub(super) fn row<'b>(&'b self, y: usize, buffer: &'b mut Vec<u8>) -> &'b [u8] {
        let start = y * self.stride;
        if self.step == 1 {
            return &self.data[start..start + self.width];
        }
        buffer.clear();
        buffer.extend((0..self.width).map(|x| self.data[start + x * self.step]));
        buffer
    }
}

impl<'a> PlaneMut<'a> {
    /// A planar plane whose rows follow one another (stride = width).
    pub fn packed(data: &'a mut [u8], width: usize, height: usize) -> Self {
        PlaneMut {
            data,
            stride: width,
            step: 1,
            width,
            height,
        }
    }
}

/// The chroma-grid size `(w, h)` for a luma size.
pub fn grid(width: usize, height: usize) -> (usize, usize) {
    (width.div_ceil(2), height.div_ceil(2))
}

/// Packs grid rows `rows` of an I420 (or NV12) frame into `out` (`IN_CHANNELS x rows.len() x w`,
/// values in 0..1): the whole frame, or a band of rows its own input.
pub fn pack_rows(y: Plane, u: Plane, v: Plane, rows: std::ops::Range<usize>, out: &mut [f32]) {
    let (w, _) = grid(y.width, y.height);
    let n = w * rows.len();
    assert_eq!(out.len(), IN_CHANNELS * n, "packed frame buffer size");
    let k = 1.0 / 255.0;
    for (r, gy) in rows.enumerate() {
        for gx in 0..w {
            let i = r * w + gx;
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

/// The five-tap form of [`phases`]: output `4 * i + p` is `TAPS[p] . src[i - 2 ..= i + 2]`.
fn five_taps() -> [[f32; 5]; 4] {
    let ph = phases();
    std::array::from_fn(|p| {
        let mut taps = [0.0; 5];
        let first = (ph[p].first + 2) as usize;
        taps[first..first + 4].copy_from_slice(&ph[p].weights);
        taps
    })
}

/// Bicubic x4 of one row (edge-clamped) into `out` (`4 * row.len()` samples). `padded` is scratch.
fn upscale_row(row: &[u8], out: &mut [f32], taps: &[[f32; 5]; 4], padded: &mut Vec<f32>) {
    let last = row.len() - 1;
    padded.clear();
    padded.extend([row[0] as f32; 2]);
    padded.extend(row.iter().map(|&s| s as f32));
    padded.extend([row[last] as f32; 2]);
    for (o, s) in out.chunks_exact_mut(4).zip(padded.windows(5)) {
        for (o, t) in o.iter_mut().zip(taps) {
            *o = t[0] * s[0] + t[1] * s[1] + t[2] * s[2] + t[3] * s[3] + t[4] * s[4];
        }
    }
}

/// `out[B * x + k] = planes[k][x]`: one output row's residual from its `B` sub-pixel channel
/// planes (`B` known at compile time, so each cell is `B` straight loads and stores).
fn interleave<const B: usize>(out: &mut [f32], planes: &[&[f32]; 8]) {
    let width = planes[0].len();
    let planes: [&[f32]; B] = std::array::from_fn(|k| &planes[k][..width]);
    for (x, cell) in out.chunks_exact_mut(B).take(width).enumerate() {
        for k in 0..B {
            cell[k] = planes[k][x];
        }
    }
}

/// One output row: the vertical bicubic of four horizontally upscaled rows with `weights`, plus
/// the residual (in 0..1 units), rounded and saturated to 8 bits. Every slice is cut to the
/// row's length first, so the loop has no bounds checks and vectorises.
fn blend_row(out: &mut [u8], rows: [&[f32]; 4], residual: &[f32], weights: [f32; 4]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2 (checked just above).
        return unsafe { blend_row_avx2(out, rows, residual, weights) };
    }
    blend_row_portable(out, rows, residual, weights)
}

/// [`blend_row_portable`] compiled for AVX2: the same operations in the same order (no fused
/// multiply-add), so the same bytes, eight samples at a time.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn blend_row_avx2(out: &mut [u8], rows: [&[f32]; 4], residual: &[f32], weights: [f32; 4]) {
    blend_row_portable(out, rows, residual, weights)
}

#[inline(always)]
fn blend_row_portable(out: &mut [u8], rows: [&[f32]; 4], residual: &[f32], weights: [f32; 4]) {
    let n = out.len();
    let (r0, r1, r2, r3) = (&rows[0][..n], &rows[1][..n], &rows[2][..n], &rows[3][..n]);
    let residual = &residual[..n];
    let [w0, w1, w2, w3] = weights;
    for x in 0..n {
        let v = w0 * r0[x] + w1 * r1[x] + w2 * r2[x] + w3 * r3[x] + 255.0 * residual[x];
        // Round half up and saturate (as round().clamp(0, 255) here); max/min map NaN to 0.
        #[allow(clippy::manual_clamp)] // clamp would keep a NaN, which the cast can't take
        let t = (v + 0.5).max(0.0).min(255.0);
        // SAFETY: t is finite and within 0..=255, so it fits an i32 (a vector conversion).
        out[x] = unsafe { t.to_int_unchecked::<i32>() } as u8;
    }
}

/// Upscales one plane x4 with bicubic and adds the network residual, writing the clamped result.
///
/// `residual` is the whole network output (`OUT_CHANNELS x gh x gw`); `first_channel` and `block`
/// select the plane's sub-pixel channels (0 and 8 for luma, 64/80 and 4 for U/V). `scratch` is
/// reused between calls to avoid per-frame allocation. Tall planes are composed in as many
/// bands of rows as `workers` has threads: one on the calling thread, the others on the pool's
/// (kept from frame to frame, not spawned).
#[allow(clippy::too_many_arguments)]
pub fn upscale_add(
    src: Plane,
    dst: &mut PlaneMut,
    residual: &[f32],
    grid_size: (usize, usize),
    first_channel: usize,
    block: usize,
    scratch: &mut Vec<f32>,
    workers: Option<&rayon::ThreadPool>,
) {
    let ph = phases();
    let (gw, gh) = grid_size;
    let n = gw * gh;
    assert!(residual.len() >= OUT_CHANNELS * n, "residual size");
    assert!(
        block <= 8,
        "sub-pixel blocks of at most 8x8 (one row gathers from `block` planes)"
    );
    assert!(
        dst.width <= gw * block && dst.width <= 4 * src.width && dst.height <= 4 * src.height,
        "output plane larger than the grid"
    );
    // Horizontal pass: every source row to 4 * src.width samples (the plane may use fewer).
    let row_len = 4 * src.width;
    let taps = five_taps();
    // Grown once (never cleared: the pass below writes every sample it reads).
    let needed = src.height * row_len;
    if scratch.len() < needed {
        scratch.resize(needed, 0.0);
    }
    let scratch = &mut scratch[..needed];
    // Both passes run in bands of rows on every core when the plane is tall enough.
    let pool = workers.filter(|_| dst.height >= 256);
    in_bands(pool, scratch, row_len, |band, first_row| {
        let mut padded = Vec::with_capacity(src.width + 4);
        let mut gathered = Vec::new();
        for (k, out) in band.chunks_exact_mut(row_len).enumerate() {
            upscale_row(
                src.row(first_row + k, &mut gathered),
                out,
                &taps,
                &mut padded,
            );
        }
    });
    // Vertical pass plus residual, into the destination plane, in bands of rows on every core.
    let scratch = &scratch[..];
    let sh = src.height as isize;
    let width = dst.width;
    let stride = dst.stride;
    let step = dst.step;
    // Bytes of a row from its first sample to its last.
    let row_bytes = (width - 1) * step + 1;
    let vertical = |band: &mut [u8], first_row: usize| {
        // The residual of one output row, gathered from its `block` sub-pixel channels.
        let mut res = vec![0.0f32; gw * block];
        // An interleaved plane's row before it is spread out.
        let mut row = vec![0u8; if step == 1 { 0 } else { width }];
        for (r, out) in band.chunks_mut(stride).enumerate() {
            let y = first_row + r;
            let p = &ph[y % 4];
            let i = (y / 4) as isize + p.first;
            let rows: [&[f32]; 4] = std::array::from_fn(|k| {
                let r = (i + k as isize).clamp(0, sh - 1) as usize;
                &scratch[r * row_len..r * row_len + width]
            });
            let res_at = (y / block) * gw;
            let res_ch = first_channel + (y % block) * block;
            // The row's `block` channel planes (slots past `block` repeat the last; unused).
            let planes: [&[f32]; 8] = std::array::from_fn(|k| {
                let at = (res_ch + k.min(block - 1)) * n + res_at;
                &residual[at..at + gw]
            });
            match block {
                8 => interleave::<8>(&mut res, &planes),
                4 => interleave::<4>(&mut res, &planes),
                _ => {
                    for (slot, plane) in planes[..block].iter().enumerate() {
                        for (r, &v) in res[slot..].iter_mut().step_by(block).zip(*plane) {
                            *r = v;
                        }
                    }
                }
            }
            let out = &mut out[..row_bytes];
            if step == 1 {
                blend_row(out, rows, &res, p.weights);
            } else {
                // Computed contiguously (vectorised as the planar case), then spread out.
                blend_row(&mut row, rows, &res, p.weights);
                for (o, &v) in out.iter_mut().step_by(step).zip(row.iter()) {
                    *o = v;
                }
            }
        }
    };
    let height = dst.height;
    let data = &mut dst.data[..(height - 1) * stride + row_bytes];
    in_bands(pool, data, stride, vertical);
}

/// Runs `f(band, first_row)` on as many bands of whole rows (`row` elements each; the last may
/// be short) of `data` as `pool` has threads: one on the calling thread, the rest on the pool.
pub(super) fn in_bands<T: Send>(
    pool: Option<&rayon::ThreadPool>,
    data: &mut [T],
    row: usize,
    f: impl Fn(&mut [T], usize) + Sync,
) {
    let rows = data.len().div_ceil(row);
    let bands = pool.map_or(1, |p| p.current_num_threads());
    let rows_per_band = rows.div_ceil(bands).max(1);
    let mut chunks = data.chunks_mut(rows_per_band * row).enumerate();
    let Some((_, first)) = chunks.next() else {
        return;
    };
    match pool {
        Some(pool) => pool.in_place_scope(|scope| {
            for (b, band) in chunks {
                let f = &f;
                scope.spawn(move |_| f(band, b * rows_per_band));
            }
            f(first, 0);
        }),
        None => f(first, 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The whole frame packed.
    fn pack(y: Plane, u: Plane, v: Plane, out: &mut [f32]) {
        pack_rows(y, u, v, 0..grid(y.width, y.height).1, out);
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
        pack(
            Plane::packed(&y, 3, 3),
            Plane::packed(&u, 2, 2),
            Plane::packed(&v, 2, 2),
            &mut out,
        );
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
        let mut dst = PlaneMut::packed(&mut out, 16, 8);
        upscale_add(
            Plane::packed(&src, 4, 2),
            &mut dst,
            &residual,
            (gw, gh),
            0,
            8,
            &mut Vec::new(),
            None,
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
        let mut dst = PlaneMut::packed(&mut out, 16, 4);
        let residual = vec![0.0; OUT_CHANNELS * 2];
        upscale_add(
            Plane::packed(&src, 4, 1),
            &mut dst,
            &residual,
            (2, 1),
            0,
            8,
            &mut Vec::new(),
            None,
        );
        let torch = [
            0u8, 0, 6, 19, 34, 53, 74, 86, 95, 113, 146, 181, 213, 242, 255, 255,
        ];
        assert_eq!(&out[..16], &torch);
    }

    /// Composes a `w x h` plane of a `(gw, gh)` grid into `out_w x out_h` (row stride
    /// `out_w + 3`) on `threads` and checks every sample against a direct 2-D bicubic plus the
    /// residual sample it should take.
    fn check_against_direct_bicubic(
        (w, h): (usize, usize),
        (gw, gh): (usize, usize),
        (out_w, out_h): (usize, usize),
        (first_channel, block): (usize, usize),
        threads: usize,
    ) {
        let src: Vec<u8> = (0..w * h).map(|i| (i * 37 % 251) as u8).collect();
        let residual: Vec<f32> = (0..OUT_CHANNELS * gw * gh)
            .map(|i| ((i * 13 % 17) as f32 - 8.0) / 255.0)
            .collect();
        let stride = out_w + 3;
        let mut out = vec![7u8; stride * out_h];
        let mut dst = PlaneMut {
            data: &mut out,
            stride,
            step: 1,
            width: out_w,
            height: out_h,
        };
        let mut scratch = Vec::new();
        let workers = (threads > 1).then(|| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
        });
        upscale_add(
            Plane::packed(&src, w, h),
            &mut dst,
            &residual,
            (gw, gh),
            first_channel,
            block,
            &mut scratch,
            workers.as_ref(),
        );
        let ph = phases();
        let at = |x: isize, y: isize| {
            src[y.clamp(0, h as isize - 1) as usize * w + x.clamp(0, w as isize - 1) as usize]
                as f32
        };
        for y in 0..out_h {
            for x in 0..stride {
                let got = out[y * stride + x] as f32;
                if x >= out_w {
                    assert_eq!(got, 7.0, "padding ({x}, {y}) was written");
                    continue;
                }
                let (py, px) = (&ph[y % 4], &ph[x % 4]);
                let (iy, ix) = ((y / 4) as isize + py.first, (x / 4) as isize + px.first);
                let mut v = 0.0;
                for (k, wy) in py.weights.iter().enumerate() {
                    for (l, wx) in px.weights.iter().enumerate() {
                        v += wy * wx * at(ix + l as isize, iy + k as isize);
                    }
                }
                let channel = first_channel + (y % block) * block + x % block;
                let r = residual[channel * gw * gh + (y / block) * gw + x / block];
                let expect = (v + 255.0 * r).round().clamp(0.0, 255.0);
                assert!((got - expect).abs() <= 1.0, "({x}, {y}): {got} vs {expect}");
            }
        }
    }

    #[test]
    fn tall_planes_composed_in_bands_match_a_direct_2d_bicubic() {
        // 300 output rows: composed in bands on several threads.
        let (w, h) = (6, 75);
        check_against_direct_bicubic((w, h), (3, 38), (4 * w, 4 * h), (0, 8), 3);
    }

    #[test]
    fn odd_frame_chroma_is_cropped_to_the_output_size() {
        // A 5x7 luma frame: 3x4 chroma and grid, a 10x14 output chroma plane (not 12x16).
        check_against_direct_bicubic((3, 4), (3, 4), (10, 14), (64, 4), 1);
        check_against_direct_bicubic((3, 4), (3, 4), (10, 14), (80, 4), 2);
    }

    #[test]
    fn interleaved_planes_read_and_write_like_planar_ones() {
        // A 5x3 chroma plane, planar and as the odd samples of an interleaved one.
        let (w, h) = (5, 3);
        let planar: Vec<u8> = (0..w * h).map(|i| (i * 37 % 251) as u8).collect();
        let mut interleaved = vec![0u8; 2 * w * h + 1];
        for (i, &v) in planar.iter().enumerate() {
            interleaved[1 + 2 * i] = v;
        }
        let step2 = Plane {
            data: &interleaved[1..],
            stride: 2 * w,
            step: 2,
            width: w,
            height: h,
        };
        let step1 = Plane::packed(&planar, w, h);
        let residual: Vec<f32> = (0..OUT_CHANNELS * w * h)
            .map(|i| ((i * 7 % 11) as f32 - 5.0) / 255.0)
            .collect();
        let compose = |src: Plane, step: usize| {
            let mut out = vec![1u8; step * 4 * w * 4 * h];
            let mut dst = PlaneMut {
                data: &mut out,
                stride: step * 4 * w,
                step,
                width: 4 * w,
                height: 4 * h,
            };
            upscale_add(
                src,
                &mut dst,
                &residual,
                (w, h),
                64,
                4,
                &mut Vec::new(),
                None,
            );
            out
        };
        let (a, b) = (compose(step1, 1), compose(step2, 2));
        assert_eq!(a, b.iter().step_by(2).copied().collect::<Vec<_>>());
        assert!(
            b.iter().skip(1).step_by(2).all(|&v| v == 1),
            "the other samples untouched"
        );
        let luma = Plane::packed(&[0u8; 100], 10, 6);
        let (mut p1, mut p2) = (vec![0.0; IN_CHANNELS * 15], vec![0.0; IN_CHANNELS * 15]);
        pack(luma, step1, step1, &mut p1);
        pack(luma, step2, step2, &mut p2);
        assert_eq!(p1, p2);
    }

    #[test]
    fn a_band_packs_its_rows_as_the_whole_frame_does() {
        let (w, h) = (9, 7);
        let y: Vec<u8> = (0..w * h).map(|i| (i * 29 % 256) as u8).collect();
        let c: Vec<u8> = (0..5 * 4).map(|i| (i * 13 % 256) as u8).collect();
        let (yp, cp) = (Plane::packed(&y, w, h), Plane::packed(&c, 5, 4));
        let (gw, gh) = grid(w, h);
        let mut whole = vec![0.0; IN_CHANNELS * gw * gh];
        pack(yp, cp, cp, &mut whole);
        let rows = 1..3;
        let mut band = vec![0.0; IN_CHANNELS * gw * rows.len()];
        pack_rows(yp, cp, cp, rows.clone(), &mut band);
        for ch in 0..IN_CHANNELS {
            let from = &whole[ch * gw * gh + rows.start * gw..ch * gw * gh + rows.end * gw];
            assert_eq!(
                &band[ch * gw * rows.len()..(ch + 1) * gw * rows.len()],
                from
            );
        }
    }
}
