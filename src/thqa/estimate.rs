//! thqa v3 estimate: from a frame's features ([`super::features`]) to a QP-equivalent, an
//! effective resolution and a 0..5 score (predicted VMAF / 20), with the constants of
//! [`super::v3_coeffs`] (`training/thqa/v3_export.py`; float64 as its `infer`).

use super::features::{self, COUNT};
use super::patches::LumaView;
use super::v3_coeffs as c;

/// What v3 reads from one frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    /// Compression as the H.265 QP that would leave the same traces (trained on 17..44; 0..=51).
    pub qp: f64,
    /// log2 of the picture's effective resolution over the display's (0: fills the display's
    /// band; -2: a quarter-size picture enlarged x4); never above what the frame's own size
    /// allows, nor below -2 unless the frame is smaller still.
    pub log2_resolution: f64,
    /// Predicted VMAF / 20 at the display size, 0..=5: falls with `qp`, rises with the resolution.
    pub score: f64,
}

/// The monotone map: predicted VMAF / 20 from a QP-equivalent and a log2 resolution.
pub fn score(qp: f64, log2_resolution: f64) -> f64 {
    let s =
        c::MAP_A - c::MAP_B * (qp - c::QP_CENTRE) / c::QP_SPAN + c::MAP_C * (log2_resolution + 1.0);
    5.0 / (1.0 + (-s).exp())
}

impl Estimate {
    /// The estimate from a feature vector.
    pub fn from_features(f: &[f64; COUNT]) -> Self {
        let mut z = [0.0; COUNT];
        for (i, v) in z.iter_mut().enumerate() {
            *v = (f[i] - c::MU[i]) / c::SD[i];
        }
        let mut h = [0.0; c::HIDDEN];
        for (j, v) in h.iter_mut().enumerate() {
            let s: f64 = c::W1[j].iter().zip(&z).map(|(w, x)| w * x).sum();
            *v = (s + c::B1[j]).max(0.0);
        }
        let out = |k: usize| c::W2[k].iter().zip(&h).map(|(w, x)| w * x).sum::<f64>() + c::B2[k];
        // clamped: a QP of H.265's range; no more resolution than the frame's own pixels carry
        let qp = (out(0) * c::QP_SPAN + c::QP_CENTRE).clamp(c::QP_RANGE.0, c::QP_RANGE.1);
        let hi = (-f[0]).min(0.0); // f[0]: log2 of the upscale to the display
        let res = out(1).clamp(c::RES_LOWEST.min(hi), hi);
        Estimate {
            qp,
            log2_resolution: res,
            score: score(qp, res),
        }
    }

    /// The estimate of a frame judged on a display of `display` lines; None when the frame holds
    /// no whole 64x64 tile or the view does not fit its data.
    pub fn of_frame(frame: &LumaView, display: usize) -> Option<Self> {
        features::features(frame, display).map(|f| Self::from_features(&f))
    }

    /// The effective resolution in display lines: `display_lines * 2^log2_resolution`, where
    /// `display_lines` is the judged picture's shorter side.
    pub fn resolution_lines(&self, display_lines: f64) -> f64 {
        display_lines * self.log2_resolution.exp2()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::thqa::patches::LumaLayout;

    fn xorshift(seed: u32) -> impl FnMut() -> u32 {
        let mut x = seed;
        move || {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x
        }
    }

    /// `training/thqa/v3_fixture.py`'s synthetic frame.
    fn frame(width: usize, height: usize, seed: u32) -> Vec<u8> {
        let mut next = xorshift(seed);
        let mut out = vec![0u8; width * height];
        for y in 0..height {
            for x in 0..width {
                let r = next() as i64;
                let (xi, yi) = (x as i64, y as i64);
                out[y * width + x] = if x < width / 2 {
                    20 + ((xi / 8) * 37 + (yi / 8) * 91) % 200 + r % 3
                } else {
                    ((xi + 2 * yi) % 256 + r % 17 - 8).clamp(0, 255)
                } as u8;
            }
        }
        out
    }

    fn u32_at(b: &[u8], at: &mut usize) -> u32 {
        let v = u32::from_le_bytes(b[*at..*at + 4].try_into().unwrap());
        *at += 4;
        v
    }

    fn f64_at(b: &[u8], at: &mut usize) -> f64 {
        let v = f64::from_le_bytes(b[*at..*at + 8].try_into().unwrap());
        *at += 8;
        v
    }

    /// Features within 1e-9 (float64 sums in another order), estimates within 1e-6 of Python.
    #[test]
    fn features_and_estimates_match_python() {
        let b = include_bytes!("../../tests/data/thqa_v3_features.bin");
        let mut at = 0;
        let n = u32_at(b, &mut at);
        assert!(n >= 3);
        for _ in 0..n {
            let [w, h, display, seed] = [0; 4].map(|_| u32_at(b, &mut at));
            let data = frame(w as usize, h as usize, seed);
            let view = LumaView {
                data: &data,
                width: w as usize,
                height: h as usize,
                stride: w as usize,
                layout: LumaLayout::Direct { step: 1, offset: 0 },
            };
            let f = features::features(&view, display as usize).unwrap();
            for (i, v) in f.iter().enumerate() {
                let want = f64_at(b, &mut at);
                assert!(
                    (v - want).abs() <= 1e-9,
                    "{w}x{h} feature {i}: {v} vs {want}"
                );
            }
            let e = Estimate::from_features(&f);
            for (name, v) in [("qp", e.qp), ("res", e.log2_resolution), ("score", e.score)] {
                let want = f64_at(b, &mut at);
                assert!((v - want).abs() <= 1e-6, "{w}x{h} {name}: {v} vs {want}");
            }
        }
        assert_eq!(at, b.len());
    }

    #[test]
    fn the_score_never_rises_with_the_qp_nor_falls_with_the_resolution() {
        for r in [-2.0, -1.5, -1.0, 0.0] {
            let mut last = f64::INFINITY;
            for q in 0..=51 {
                let s = score(q as f64, r);
                assert!(
                    s <= last && (0.0..=5.0).contains(&s),
                    "QP {q}, res {r}: {s}"
                );
                last = s;
            }
        }
        for q in [17.0, 32.0, 45.0] {
            assert!(score(q, -2.0) <= score(q, -1.0) && score(q, -1.0) <= score(q, 0.0));
        }
    }

    /// A 270-line frame on a 1080-line display carries at most a quarter of the display's lines,
    /// whatever the network says; a frame at the display's size at most all of them.
    #[test]
    fn the_resolution_is_bounded_by_the_frame_size() {
        for v in [-1e3, -3.0, -1.0, 0.0, 1e3] {
            let mut f = [0.0; COUNT];
            f[1] = v;
            f[0] = 2.0;
            assert_eq!(Estimate::from_features(&f).log2_resolution, -2.0, "{v}");
            f[0] = 0.0;
            let e = Estimate::from_features(&f);
            assert!((-2.0..=0.0).contains(&e.log2_resolution), "{v}: {e:?}");
            assert!(
                (0.0..=51.0).contains(&e.qp) && (0.0..=5.0).contains(&e.score),
                "{e:?}"
            );
        }
    }
}
