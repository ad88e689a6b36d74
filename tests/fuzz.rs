//! Seeded random caps and buffers through the element (a property test that runs in seconds):
//! no panic, sizes always mapped within the limits (1x to 4x), and every output is the frame it
//! claims to be: one output per whole input frame, with its timestamp and the negotiated size
//! (kept across input size changes when the new input reaches it), none for a bad buffer.

mod common;

use common::*;
use gst::prelude::*;
use gst_check::Harness;

/// A small deterministic generator (no dependency, same sequence on every machine).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// A size value of any kind: tiny, negative, huge, supported, or near the limits.
    fn dimension(&mut self) -> i32 {
        match self.below(6) {
            0 => i32::MAX - self.below(4) as i32,
            1 => -(self.below(100) as i32),
            2 => self.below(8) as i32,
            3 => 1917 + self.below(8) as i32,
            4 => 4 * (1 + self.below(2000) as i32),
            _ => 8 + self.below(400) as i32,
        }
    }

    fn size_value(&mut self) -> glib::SendValue {
        match self.below(3) {
            0 => self.dimension().to_send_value(),
            1 => {
                let (a, b) = (self.dimension(), self.dimension());
                let (lo, hi) = (a.min(b), a.max(b));
                if lo == hi {
                    lo.to_send_value()
                } else {
                    gst::IntRange::new(lo, hi).to_send_value()
                }
            }
            _ => {
                let n = 1 + self.below(4);
                gst::List::new((0..n).map(|_| self.dimension())).to_send_value()
            }
        }
    }
}

use gst::glib;

fn random_caps(rng: &mut Rng) -> gst::Caps {
    let mut s = gst::Structure::new_empty("video/x-raw");
    if rng.below(4) > 0 {
        s.set("format", ["I420", "NV12", "RGBA"][rng.below(3) as usize]);
    }
    for field in ["width", "height"] {
        if rng.below(5) > 0 {
            s.set_value(field, rng.size_value());
        }
    }
    gst::Caps::builder_full().structure(s).build()
}

/// Every width or height value in `caps` (fixed, range bounds or list items).
fn sizes(caps: &gst::CapsRef) -> Vec<i32> {
    let mut out = vec![];
    for s in caps.iter() {
        for field in ["width", "height"] {
            let Ok(v) = s.value(field) else { continue };
            if let Ok(v) = v.get::<i32>() {
                out.push(v);
            } else if let Ok(r) = v.get::<gst::IntRange<i32>>() {
                out.extend([r.min(), r.max()]);
            } else if let Ok(l) = v.get::<gst::List>() {
                out.extend(l.iter().filter_map(|v| v.get::<i32>().ok()));
            }
        }
    }
    out
}

#[test]
fn random_caps_queries_map_sizes_within_the_limits() {
    let mut rng = Rng(0x5eed);
    for i in 0..400 {
        let mut h = Harness::with_element(&element(), Some("sink"), Some("src"));
        let downstream = random_caps(&mut rng);
        h.set_sink_caps(downstream.clone());
        let element = h.element().unwrap();
        // Upstream side from downstream caps, and downstream side from upstream caps.
        let up = element.static_pad("sink").unwrap().query_caps(None);
        assert!(
            sizes(&up).iter().all(|v| (8..=1920).contains(v)),
            "case {i}: {downstream} -> {up}"
        );
        let filter = random_caps(&mut rng);
        let down = element.static_pad("src").unwrap().query_caps(Some(&filter));
        assert!(
            sizes(&down).iter().all(|v| (8..=7680).contains(v)),
            "case {i}: {filter} -> {down}"
        );
    }
}

#[test]
fn random_buffers_give_one_true_output_per_whole_frame() {
    let mut rng = Rng(0xf00d);
    for case in 0..12 {
        let (mut w, mut hgt) = (8 + rng.below(40) as u32, 8 + rng.below(30) as u32);
        let mut h = Harness::with_element(&element(), Some("sink"), Some("src"));
        h.set_src_caps(caps(w as i32, hgt as i32));
        let mut pts = 0u64;
        // The output size: 4x the first input, kept while each new input can reach it.
        let mut out_size: Option<(u32, u32)> = None;
        for i in 0..40 {
            if rng.below(15) == 0 {
                // New caps mid-stream.
                (w, hgt) = (8 + rng.below(40) as u32, 8 + rng.below(30) as u32);
                h.set_src_caps(caps(w as i32, hgt as i32));
            }
            let whole = frame(w, hgt, i).size();
            let size = match rng.below(6) {
                0 => rng.below(whole as u64) as usize,
                1 => whole + 1 + rng.below(64) as usize,
                _ => whole,
            };
            let mut data = frame(w, hgt, i).map_readable().unwrap().to_vec();
            data.resize(size, 99);
            let mut buffer = gst::Buffer::from_mut_slice(data);
            pts = match rng.below(8) {
                0 => pts.saturating_sub(rng.below(3)),
                1 => pts + 2 + rng.below(5),
                _ => pts + 1,
            };
            {
                let b = buffer.get_mut().unwrap();
                if rng.below(6) > 0 {
                    b.set_pts(FRAME * pts);
                }
                if rng.below(3) > 0 {
                    b.set_duration(FRAME);
                }
                if rng.below(8) == 0 {
                    b.set_flags(gst::BufferFlags::DISCONT);
                }
            }
            let stamp = buffer.pts();
            assert!(h.push(buffer).is_ok(), "case {case}, buffer {i}");
            match (size >= whole, h.try_pull()) {
                (true, Some(out)) => {
                    assert_eq!(out.pts(), stamp, "case {case}, buffer {i}");
                    let reaches = |(ow, oh): (u32, u32)| {
                        (w..=4 * w).contains(&ow) && (hgt..=4 * hgt).contains(&oh)
                    };
                    let expected = out_size.filter(|&o| reaches(o)).unwrap_or((4 * w, 4 * hgt));
                    out_size = Some(expected);
                    assert_eq!(
                        out.size(),
                        frame(expected.0, expected.1, 0).size(),
                        "case {case}, buffer {i}: {w}x{hgt} in"
                    );
                }
                (false, None) => {}
                (whole_frame, out) => panic!(
                    "case {case}, buffer {i}: a {}whole frame gave {} output",
                    if whole_frame { "" } else { "not " },
                    if out.is_some() { "an" } else { "no" }
                ),
            }
            assert!(
                h.try_pull().is_none(),
                "case {case}, buffer {i}: two outputs"
            );
        }
    }
}
