//! An 8-bit plane resampled to any size: separable Lanczos-3, antialiased when shrinking (the
//! kernel widened by the factor, as PIL and swscale do), edges clamped, sums in f32.
//!
//! `ntiresr` uses it where the output size asked for is not exactly 4x the input: on the network's
//! x4 output (shrunk to the size asked for), or on the input itself where the network does not
//! run.

use super::planes::{Plane, PlaneMut, in_bands};

/// Lobes of the Lanczos window.
const LOBES: f32 = 3.0;

/// The taps of one direction: output sample `i` is the sum over `k < len` of
/// `weights[i * len + k] * input[first[i] + k]`.
#[derive(Debug, Clone, PartialEq)]
struct Taps {
    len: usize,
    first: Vec<usize>,
    weights: Vec<f32>,
}

fn lanczos(x: f32) -> f32 {
    let x = x.abs();
    if x < 1e-6 {
        return 1.0;
    }
    if x >= LOBES {
        return 0.0;
    }
    let px = std::f32::consts::PI * x;
    LOBES * px.sin() * (px / LOBES).sin() / (px * px)
}

impl Taps {
    /// The taps from `input` samples to `output` samples (both at least 1), sample centres
    /// aligned (`(i + 0.5) * input / output - 0.5`).
    fn new(input: usize, output: usize) -> Self {
        let scale = input as f64 / output as f64;
        let widen = scale.max(1.0);
        let support = f64::from(LOBES) * widen;
        let mut rows: Vec<(usize, Vec<f32>)> = Vec::with_capacity(output);
        for i in 0..output {
            let centre = (i as f64 + 0.5) * scale - 0.5;
            let lo = (centre - support).floor() as isize + 1;
            let hi = (centre + support).ceil() as isize - 1;
            // Edge clamping: taps beyond the plane add their weight to its first or last sample.
            let first = lo.clamp(0, input as isize - 1) as usize;
            let last = hi.clamp(0, input as isize - 1) as usize;
            let mut w = vec![0.0f64; last - first + 1];
            for j in lo..=hi {
                let at = j.clamp(0, input as isize - 1) as usize;
                w[at - first] += f64::from(lanczos(((j as f64 - centre) / widen) as f32));
            }
            let sum: f64 = w.iter().sum();
            rows.push((first, w.iter().map(|v| (v / sum) as f32).collect()));
        }
        let len = rows.iter().map(|(_, w)| w.len()).max().unwrap_or(1);
        let mut first = Vec::with_capacity(output);
        let mut weights = Vec::with_capacity(output * len);
        for (f, w) in rows {
            // Every window is `len` samples inside the plane, its own taps at `offset`, the rest 0.
            let window = f.min(input - len);
            let offset = f - window;
            let start = weights.len();
            weights.resize(start + len, 0.0);
            weights[start + offset..start + offset + w.len()].copy_from_slice(&w);
            first.push(window);
        }
        Taps {
            len,
            first,
            weights,
        }
    }
}

/// Resamples planes of one size to another, keeping its taps and scratch rows between frames.
pub struct Resampler {
    input: (usize, usize),
    output: (usize, usize),
    columns: Taps,
    rows: Taps,
    scratch: Vec<f32>,
}

impl Resampler {
    /// For planes of `input` (width, height) to planes of `output`, each at least 1x1.
    pub fn new(input: (usize, usize), output: (usize, usize)) -> Self {
        Resampler {
            input,
            output,
            columns: Taps::new(input.0, output.0),
            rows: Taps::new(input.1, output.1),
            scratch: Vec::new(),
        }
    }

    /// Writes `src` (of the input size) resampled into `dst` (of the output size), in bands of
    /// rows on `workers`' threads when the plane is tall enough.
    pub fn run(&mut self, src: Plane, dst: &mut PlaneMut, workers: Option<&rayon::ThreadPool>) {
        assert_eq!((src.width, src.height), self.input, "source plane size");
        assert_eq!(
            (dst.width, dst.height),
            self.output,
            "destination plane size"
        );
        let (width, src_rows) = (self.output.0, self.input.1);
        let needed = width * src_rows;
        if self.scratch.len() < needed {
            self.scratch.resize(needed, 0.0);
        }
        let pool = workers.filter(|_| dst.height >= 256);
        let columns = &self.columns;
        // Horizontal pass: every source row to the output width.
        in_bands(
            pool,
            &mut self.scratch[..needed],
            width,
            |band, first_row| {
                let mut gathered = Vec::new();
                let mut row = Vec::with_capacity(src.width);
                for (k, out) in band.chunks_exact_mut(width).enumerate() {
                    row.clear();
                    row.extend(
                        src.row(first_row + k, &mut gathered)
                            .iter()
                            .map(|&v| f32::from(v)),
                    );
                    for ((o, &f), w) in out
                        .iter_mut()
                        .zip(&columns.first)
                        .zip(columns.weights.chunks_exact(columns.len))
                    {
                        *o = row[f..f + columns.len]
                            .iter()
                            .zip(w)
                            .map(|(a, b)| a * b)
                            .sum();
                    }
                }
            },
        );
        // Vertical pass into the destination, rounded and clamped.
        let scratch = &self.scratch[..needed];
        let rows = &self.rows;
        let (stride, step) = (dst.stride, dst.step);
        let row_bytes = (width - 1) * step + 1;
        let vertical = |band: &mut [u8], first_row: usize| {
            let mut sum = vec![0.0f32; width];
            for (r, out) in band.chunks_mut(stride).enumerate() {
                let y = first_row + r;
                let first = rows.first[y];
                sum.fill(0.0);
                for (k, &w) in rows.weights[y * rows.len..(y + 1) * rows.len]
                    .iter()
                    .enumerate()
                {
                    let src_row = &scratch[(first + k) * width..(first + k + 1) * width];
                    for (s, &v) in sum.iter_mut().zip(src_row) {
                        *s += w * v;
                    }
                }
                for (o, &s) in out[..row_bytes].iter_mut().step_by(step).zip(&sum) {
                    *o = (s + 0.5).clamp(0.0, 255.0) as u8;
                }
            }
        };
        let height = dst.height;
        let data = &mut dst.data[..(height - 1) * stride + row_bytes];
        in_bands(pool, data, stride, vertical);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plane(data: &[u8], width: usize, height: usize) -> Plane<'_> {
        Plane {
            data,
            stride: width,
            step: 1,
            width,
            height,
        }
    }

    fn resample(src: &[u8], from: (usize, usize), to: (usize, usize)) -> Vec<u8> {
        let mut out = vec![0u8; to.0 * to.1];
        let mut dst = PlaneMut {
            data: &mut out,
            stride: to.0,
            step: 1,
            width: to.0,
            height: to.1,
        };
        Resampler::new(from, to).run(plane(src, from.0, from.1), &mut dst, None);
        out
    }

    fn noise(n: usize, seed: u32) -> Vec<u8> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (s >> 24) as u8
            })
            .collect()
    }

    #[test]
    fn the_same_size_is_a_copy() {
        let src = noise(37 * 23, 1);
        assert_eq!(resample(&src, (37, 23), (37, 23)), src);
    }

    #[test]
    fn windows_lie_inside_the_plane_and_weights_sum_to_one() {
        for (input, output) in [
            (1, 7),
            (2, 9),
            (481, 1920),
            (1920, 481),
            (2560, 1920),
            (7, 1),
        ] {
            let taps = Taps::new(input, output);
            assert_eq!(taps.first.len(), output);
            for (i, &f) in taps.first.iter().enumerate() {
                assert!(
                    f + taps.len <= input,
                    "{input}->{output}: window {i} at {f}"
                );
                let w = &taps.weights[i * taps.len..(i + 1) * taps.len];
                assert!(
                    (w.iter().sum::<f32>() - 1.0).abs() < 1e-5,
                    "{input}->{output}: {i}"
                );
            }
        }
    }

    #[test]
    fn a_flat_plane_stays_flat_at_any_size() {
        let src = vec![77u8; 50 * 30];
        for to in [(50, 30), (200, 120), (61, 33), (13, 9), (1, 1)] {
            assert!(
                resample(&src, (50, 30), to).iter().all(|&v| v == 77),
                "{to:?}"
            );
        }
    }

    #[test]
    fn shrinking_is_antialiased() {
        // A one-sample checkerboard shrunk by 2.5 is its mean, not a pattern of aliases.
        let (w, h) = (100, 60);
        let src: Vec<u8> = (0..w * h)
            .map(|i| if (i % w + i / w) % 2 == 0 { 40 } else { 200 })
            .collect();
        let out = resample(&src, (w, h), (40, 24));
        let worst = out
            .iter()
            .map(|&v| (i32::from(v) - 120).abs())
            .max()
            .unwrap();
        assert!(worst <= 3, "worst {worst}");
    }

    #[test]
    fn a_ramp_is_kept_in_the_interior() {
        let (w, h) = (64, 8);
        let src: Vec<u8> = (0..w * h).map(|i| (i % w * 3) as u8).collect();
        let (ow, oh) = (96, 8);
        let out = resample(&src, (w, h), (ow, oh));
        for (x, &v) in out.iter().enumerate().take(ow - 8).skip(8) {
            let want = ((x as f32 + 0.5) * w as f32 / ow as f32 - 0.5) * 3.0;
            assert!((f32::from(v) - want).abs() <= 1.0, "x {x}: {v} vs {want}");
        }
    }

    #[test]
    fn interleaved_destinations_keep_the_other_samples() {
        let src = noise(20 * 10, 2);
        let planar = resample(&src, (20, 10), (30, 16));
        let mut nv = vec![9u8; 60 * 16];
        let mut dst = PlaneMut {
            data: &mut nv,
            stride: 60,
            step: 2,
            width: 30,
            height: 16,
        };
        Resampler::new((20, 10), (30, 16)).run(plane(&src, 20, 10), &mut dst, None);
        for (i, pair) in nv.chunks_exact(2).enumerate() {
            assert_eq!(pair, [planar[i], 9]);
        }
    }

    #[test]
    fn bands_of_rows_give_the_same_plane() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .unwrap();
        let (from, to) = ((300, 170), (481, 271));
        let src = noise(from.0 * from.1, 3);
        let mut banded = vec![0u8; to.0 * to.1];
        let mut dst = PlaneMut {
            data: &mut banded,
            stride: to.0,
            step: 1,
            width: to.0,
            height: to.1,
        };
        Resampler::new(from, to).run(plane(&src, from.0, from.1), &mut dst, Some(&pool));
        assert_eq!(banded, resample(&src, from, to));
    }
}
