//! `mirror-ensemble`: the element averages its network's residual with that of the mirrored frame,
//! so its output on a mirrored stream is the mirror image of its output on the stream.

mod common;

use common::*;
use gst::prelude::*;
use gst_check::Harness;
use gst_video::prelude::*;

const W: u32 = 64;
const H: u32 = 36;
const FRAMES: u32 = 4;

/// `buffer`, an I420 frame of `width x height`, mirrored left-right.
fn mirrored(buffer: &gst::Buffer, width: u32, height: u32) -> gst::Buffer {
    let info = gst_video::VideoInfo::builder(gst_video::VideoFormat::I420, width, height)
        .build()
        .unwrap();
    let src = gst_video::VideoFrameRef::from_buffer_ref_readable(buffer, &info).unwrap();
    let mut out = gst_video::VideoFrame::from_buffer_writable(
        gst::Buffer::with_size(info.size()).unwrap(),
        &info,
    )
    .unwrap();
    for p in 0..3u32 {
        let (w, h) = (src.comp_width(p) as usize, src.comp_height(p) as usize);
        let (s_stride, d_stride) = (
            src.plane_stride()[p as usize] as usize,
            out.plane_stride()[p as usize] as usize,
        );
        let s = src.plane_data(p).unwrap();
        let d = out.plane_data_mut(p).unwrap();
        for y in 0..h {
            for x in 0..w {
                d[y * d_stride + x] = s[y * s_stride + w - 1 - x];
            }
        }
    }
    out.into_buffer()
}

/// The outputs of `FRAMES` frames (the mirrored ones with `mirror`), the element's
/// `mirror-ensemble` set to `ensemble`.
fn outputs(ensemble: bool, mirror: bool) -> Vec<gst::Buffer> {
    outputs_of(W, H, ensemble, mirror, 0)
}

/// [`outputs`] for `width x height` frames on `threads` (`n-threads`).
fn outputs_of(
    width: u32,
    height: u32,
    ensemble: bool,
    mirror: bool,
    threads: u32,
) -> Vec<gst::Buffer> {
    let element = element();
    element.set_property("mirror-ensemble", ensemble);
    element.set_property("n-threads", threads);
    let mut h = Harness::with_element(&element, Some("sink"), Some("src"));
    h.set_src_caps(caps(width as i32, height as i32));
    (0..FRAMES)
        .map(|t| {
            let input = frame(width, height, t);
            let input = if mirror {
                mirrored(&input, width, height)
            } else {
                input
            };
            h.push(stamped(input, t as u64)).unwrap();
            h.pull().unwrap()
        })
        .collect()
}

/// Worst difference and count of differing samples between `a` and `b`.
fn mismatch(a: &[u8], b: &[u8]) -> (u8, usize) {
    let worst = a.iter().zip(b).map(|(x, y)| x.abs_diff(*y)).max().unwrap();
    (worst, a.iter().zip(b).filter(|(x, y)| x != y).count())
}

/// [`mismatch`] between `a` mirrored and `b` (x4 frames).
fn mirror_mismatch(a: &gst::Buffer, b: &gst::Buffer) -> (u8, usize) {
    mismatch(&bytes(&mirrored(a, 4 * W, 4 * H)), &bytes(b))
}

#[test]
fn the_ensemble_output_of_a_mirrored_stream_is_the_mirrored_output() {
    let (plain, flipped) = (outputs(true, false), outputs(true, true));
    let samples = bytes(&plain[0]).len();
    for (t, (a, b)) in plain.iter().zip(&flipped).enumerate() {
        let (worst, count) = mirror_mismatch(a, b);
        // The same sums in another order: at most a rounding tie apart.
        assert!(
            worst <= 1 && count * 1000 < samples,
            "frame {t}: {count} of {samples} samples differ, by up to {worst}"
        );
    }
}

#[test]
fn without_the_ensemble_the_network_is_not_mirror_symmetric() {
    // What the test above checks is not true of the network alone (the test model is random).
    let (plain, flipped) = (outputs(false, false), outputs(false, true));
    let (worst, count) = mirror_mismatch(&plain[0], &flipped[0]);
    assert!(
        worst > 1 && count * 10 > bytes(&plain[0]).len(),
        "{count} differ by up to {worst}"
    );
    // And the ensemble output is not the direct one.
    let ensemble = outputs(true, false);
    assert_ne!(bytes(&ensemble[1]), bytes(&plain[1]));
}

#[test]
fn the_ensemble_gives_the_same_output_on_any_thread_count() {
    // One thread: the streams one after the other; two: side by side, each on the whole frame;
    // four: side by side, each in two bands of rows (the frame is tall enough for bands).
    let (width, height) = (64, 100);
    let one = outputs_of(width, height, true, false, 1);
    for threads in [2, 4] {
        let many = outputs_of(width, height, true, false, threads);
        for (t, (a, b)) in one.iter().zip(&many).enumerate() {
            let (a, b) = (bytes(a), bytes(b));
            let (worst, differ) = mismatch(&a, &b);
            assert!(
                worst <= 1 && differ * 1000 < a.len(),
                "{threads} threads, frame {t}: {differ} samples differ, by up to {worst}"
            );
        }
    }
}
