//! An 8-bit plane resampled to any size, separably, edges clamped, sums in f32: Lanczos-3
//! (antialiased when shrinking: the kernel widened by the factor, as PIL and swscale do) or area
//! (each output sample the mean of the input it covers; for shrinking).
//!
//! `ntiresr` uses it where the output size asked for is not exactly 4x the input: area on the
//! network's x4 output (shrunk to the size asked for: it keeps the network's gain better than
//! Lanczos, `docs/factors.md`), Lanczos-3 on the input itself where the network does not run.

use super::planes::{Plane, PlaneMut, in_bands};

/// Lobes of the Lanczos window.
const LOBES: f32 = 3.0;

/// How samples are weighted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    /// Lanczos-3, widened by the factor when shrinking.
    Lanczos3,
    /// The mean of the input span each output sample covers (box); Lanczos-3 when enlarging.
    Area,
}

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

/// Output sample `i`'s input samples `lo..=hi` (some may lie beyond the plane) and their
/// weights, not yet normalised; `scale` is input / output.
fn window(filter: Filter, scale: f64, i: usize) -> (isize, isize, Vec<f64>) {
    if filter == Filter::Area && scale > 1.0 {
        let (start, end) = (i as f64 * scale, (i + 1) as f64 * scale);
        let (lo, hi) = (start.floor() as isize, end.ceil() as isize - 1);
        let w = (lo..=hi)
            .map(|j| (end.min((j + 1) as f64) - start.max(j as f64)).max(0.0))
            .collect();
        return (lo, hi, w);
    }
    let widen = scale.max(1.0);
    let support = f64::from(LOBES) * widen;
    let centre = (i as f64 + 0.5) * scale - 0.5;
    let lo = (centre - support).floor() as isize + 1;
    let hi = (centre + support).ceil() as isize - 1;
    let w = (lo..=hi)
        .map(|j| f64::from(lanczos(((j as f64 - centre) / widen) as f32)))
        .collect();
    (lo, hi, w)
}

impl Taps {
    /// The taps from `input` samples to `output` samples (both at least 1), sample centres
    /// aligned (`(i + 0.5) * input / output - 0.5`).
    fn new(input: usize, output: usize, filter: Filter) -> Self {
        let scale = input as f64 / output as f64;
        let mut rows: Vec<(usize, Vec<f32>)> = Vec::with_capacity(output);
        for i in 0..output {
            let (lo, hi, raw) = window(filter, scale, i);
            // Edge clamping: taps beyond the plane add their weight to its first or last sample.
            let first = lo.clamp(0, input as isize - 1) as usize;
            let last = hi.clamp(0, input as isize - 1) as usize;
            let mut w = vec![0.0f64; last - first + 1];
            for (j, v) in (lo..=hi).zip(raw) {
                let at = j.clamp(0, input as isize - 1) as usize;
                w[at - first] += v;
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
}

impl Resampler {
    /// For planes of `input` (width, height) to planes of `output`, each at least 1x1.
    pub fn new(input: (usize, usize), output: (usize, usize), filter: Filter) -> Self {
        Resampler {
            input,
            output,
            columns: Taps::new(input.0, output.0, filter),
            rows: Taps::new(input.1, output.1, filter),
        }
    }

    /// Writes `src` (of the input size) resampled into `dst` (of the output size), in bands of
    /// rows on `workers`' threads when the plane is tall enough. Each output row is the vertical
    /// sum of its input rows (across the whole width: vectorised), then the horizontal one.
    pub fn run(&mut self, src: Plane, dst: &mut PlaneMut, workers: Option<&rayon::ThreadPool>) {
        assert_eq!((src.width, src.height), self.input, "source plane size");
        assert_eq!(
            (dst.width, dst.height),
            self.output,
            "destination plane size"
        );
        let pool = workers.filter(|_| dst.height >= 256);
        let (columns, rows) = (&self.columns, &self.rows);
        let (width, stride, step) = (dst.width, dst.stride, dst.step);
        let row_bytes = (width - 1) * step + 1;
        let band = |band: &mut [u8], first_row: usize| {
            let mut gathered = Vec::new();
            let mut vertical = vec![0.0f32; src.width];
            let mut horizontal = vec![0.0f32; width];
            for (r, out) in band.chunks_mut(stride).enumerate() {
                let y = first_row + r;
                vertical.fill(0.0);
                let weights = &rows.weights[y * rows.len..(y + 1) * rows.len];
                for (k, &w) in weights.iter().enumerate().filter(|(_, w)| **w != 0.0) {
                    let input = src.row(rows.first[y] + k, &mut gathered);
                    for (s, &v) in vertical.iter_mut().zip(input) {
                        *s += w * f32::from(v);
                    }
                }
                columns.apply(&vertical, &mut horizontal);
                for (o, &v) in out[..row_bytes].iter_mut().step_by(step).zip(&horizontal) {
                    *o = (v + 0.5).clamp(0.0, 255.0) as u8;
                }
            }
        };
        let height = dst.height;
        let data = &mut dst.data[..(height - 1) * stride + row_bytes];
        in_bands(pool, data, stride, band);
    }
}

impl Taps {
    /// `out[i] = sum_k weights[i][k] * input[first[i] + k]`, unrolled for the common tap counts.
    fn apply(&self, input: &[f32], out: &mut [f32]) {
        match self.len {
            1 => self.apply_n::<1>(input, out),
            2 => self.apply_n::<2>(input, out),
            3 => self.apply_n::<3>(input, out),
            4 => self.apply_n::<4>(input, out),
            5 => self.apply_n::<5>(input, out),
            6 => self.apply_n::<6>(input, out),
            7 => self.apply_n::<7>(input, out),
            8 => self.apply_n::<8>(input, out),
            _ => {
                let weights = self.weights.chunks_exact(self.len);
                for ((o, &f), w) in out.iter_mut().zip(&self.first).zip(weights) {
                    *o = input[f..f + self.len]
                        .iter()
                        .zip(w)
                        .map(|(a, b)| a * b)
                        .sum();
                }
            }
        }
    }

    fn apply_n<const N: usize>(&self, input: &[f32], out: &mut [f32]) {
        let weights = self.weights.chunks_exact(N);
        for ((o, &f), w) in out.iter_mut().zip(&self.first).zip(weights) {
            let x: &[f32; N] = input[f..f + N].try_into().expect("N taps");
            let w: &[f32; N] = w.try_into().expect("N weights");
            *o = (0..N).map(|k| x[k] * w[k]).sum();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resample(src: &[u8], from: (usize, usize), to: (usize, usize)) -> Vec<u8> {
        let mut out = vec![0u8; to.0 * to.1];
        let mut dst = PlaneMut::packed(&mut out, to.0, to.1);
        Resampler::new(from, to, Filter::Lanczos3).run(
            Plane::packed(src, from.0, from.1),
            &mut dst,
            None,
        );
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
        let pairs = [
            (1, 7),
            (2, 9),
            (481, 1920),
            (1920, 481),
            (2560, 1920),
            (7, 1),
            (3, 2),
        ];
        for ((input, output), filter) in pairs
            .into_iter()
            .flat_map(|p| [(p, Filter::Lanczos3), (p, Filter::Area)])
        {
            let taps = Taps::new(input, output, filter);
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
        Resampler::new((20, 10), (30, 16), Filter::Lanczos3).run(
            Plane::packed(&src, 20, 10),
            &mut dst,
            None,
        );
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
        let mut dst = PlaneMut::packed(&mut banded, to.0, to.1);
        Resampler::new(from, to, Filter::Lanczos3).run(
            Plane::packed(&src, from.0, from.1),
            &mut dst,
            Some(&pool),
        );
        assert_eq!(banded, resample(&src, from, to));
    }

    #[test]
    fn area_averages_what_each_output_sample_covers() {
        // 4 -> 3: output 0 covers input [0, 4/3): all of sample 0 and a third of sample 1.
        let taps = Taps::new(4, 3, Filter::Area);
        let at = |i: usize, j: usize| {
            let k = j as isize - taps.first[i] as isize;
            if (0..taps.len as isize).contains(&k) {
                taps.weights[i * taps.len + k as usize]
            } else {
                0.0
            }
        };
        let want = [
            [0.75, 0.25, 0.0, 0.0],
            [0.0, 0.5, 0.5, 0.0],
            [0.0, 0.0, 0.25, 0.75],
        ];
        for (i, row) in want.iter().enumerate() {
            for (j, &w) in row.iter().enumerate() {
                assert!(
                    (at(i, j) - w).abs() < 1e-6,
                    "output {i}, input {j}: {}",
                    at(i, j)
                );
            }
        }
        // Exactly 2 -> 1: the mean of each pair.
        let taps = Taps::new(8, 4, Filter::Area);
        assert_eq!(taps.len, 2);
        assert_eq!(taps.first, [0, 2, 4, 6]);
        assert!(taps.weights.iter().all(|&w| (w - 0.5).abs() < 1e-6));
    }
}
