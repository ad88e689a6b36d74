//! NV12 on both pads: the same picture as the I420 path, the format following the input, and
//! caps queries that carry it both ways.

mod common;

use common::*;
use gst::prelude::*;
use gst_check::Harness;
use gst_video::VideoFormat;
use gst_video::prelude::*;

fn caps_of(format: VideoFormat, width: i32, height: i32) -> gst::Caps {
    init();
    gst_video::VideoCapsBuilder::new()
        .format(format)
        .width(width)
        .height(height)
        .framerate(gst::Fraction::new(25, 1))
        .build()
}

/// Every sample of `buffer` (Y, then U, then V, row by row; no padding).
fn samples(buffer: &gst::Buffer, format: VideoFormat, width: u32, height: u32) -> Vec<u8> {
    let info = gst_video::VideoInfo::builder(format, width, height)
        .build()
        .unwrap();
    let frame = gst_video::VideoFrameRef::from_buffer_ref_readable(buffer, &info).unwrap();
    let mut out = vec![];
    for c in 0..3u32 {
        let (w, h) = (frame.comp_width(c) as usize, frame.comp_height(c) as usize);
        let (stride, step) = (
            frame.comp_stride(c) as usize,
            frame.comp_pstride(c) as usize,
        );
        let data = frame.comp_data(c).unwrap();
        for y in 0..h {
            out.extend((0..w).map(|x| data[y * stride + x * step]));
        }
    }
    out
}

/// The I420 frame `frame(width, height, seed)` repacked as NV12.
fn nv12_frame(width: u32, height: u32, seed: u32) -> gst::Buffer {
    let planar = samples(
        &frame(width, height, seed),
        VideoFormat::I420,
        width,
        height,
    );
    let info = gst_video::VideoInfo::builder(VideoFormat::Nv12, width, height)
        .build()
        .unwrap();
    let mut nv12 = gst_video::VideoFrame::from_buffer_writable(
        gst::Buffer::with_size(info.size()).unwrap(),
        &info,
    )
    .unwrap();
    let mut from = planar.iter();
    for c in 0..3u32 {
        let (w, h) = (nv12.comp_width(c) as usize, nv12.comp_height(c) as usize);
        let (stride, step) = (nv12.comp_stride(c) as usize, nv12.comp_pstride(c) as usize);
        let data = nv12.comp_data_mut(c).unwrap();
        for y in 0..h {
            for x in 0..w {
                data[y * stride + x * step] = *from.next().unwrap();
            }
        }
    }
    nv12.into_buffer()
}

fn run(format: VideoFormat, width: u32, height: u32, mirror: bool) -> Vec<Vec<u8>> {
    let element = element();
    element.set_property("mirror-ensemble", mirror);
    let mut h = Harness::with_element(&element, Some("sink"), Some("src"));
    h.set_src_caps(caps_of(format, width as i32, height as i32));
    (0..3)
        .map(|t| {
            let input = match format {
                VideoFormat::I420 => frame(width, height, t),
                _ => nv12_frame(width, height, t),
            };
            h.push(stamped(input, t as u64)).unwrap();
            let out = h.pull().unwrap();
            let caps = h.sinkpad().unwrap().current_caps().unwrap();
            let info = gst_video::VideoInfo::from_caps(&caps).unwrap();
            assert_eq!(info.format(), format, "the output format follows the input");
            samples(&out, format, 4 * width, 4 * height)
        })
        .collect()
}

#[test]
fn nv12_in_gives_the_i420_picture() {
    for (w, h, mirror) in [(40, 24, false), (33, 19, false), (35, 20, true)] {
        let (a, b) = (
            run(VideoFormat::Nv12, w, h, mirror),
            run(VideoFormat::I420, w, h, mirror),
        );
        assert!(a == b, "{w}x{h} mirror {mirror}: NV12 differs from I420");
    }
}

#[test]
fn nv12_at_other_sizes_gives_the_i420_picture() {
    // Through the network then resampled, and resampled alone (input above the limit).
    for (w, h, out, limit) in [(40, 24, (100, 61), 1 << 20), (33, 19, (33, 19), 0)] {
        let run = |format| {
            let element = element();
            element.set_property("max-network-pixels", limit as u64);
            let mut harness = Harness::with_element(&element, Some("sink"), Some("src"));
            harness.set_src_caps(caps_of(format, w as i32, h as i32));
            harness.set_sink_caps(caps_of(format, out.0, out.1));
            (0..3)
                .map(|t| {
                    let input = match format {
                        VideoFormat::I420 => frame(w, h, t),
                        _ => nv12_frame(w, h, t),
                    };
                    harness.push(stamped(input, t as u64)).unwrap();
                    let buffer = harness.pull().unwrap();
                    samples(&buffer, format, out.0 as u32, out.1 as u32)
                })
                .collect::<Vec<_>>()
        };
        assert!(
            run(VideoFormat::Nv12) == run(VideoFormat::I420),
            "{w}x{h} -> {out:?}: NV12 differs from I420"
        );
    }
}

#[test]
fn downstream_asking_nv12_makes_upstream_get_nv12() {
    let mut h = Harness::with_element(&element(), Some("sink"), Some("src"));
    h.set_sink_caps(caps_of(VideoFormat::Nv12, 1920, 1080));
    let sink = h.element().unwrap().static_pad("sink").unwrap();
    let upstream = sink.query_caps(None);
    for s in upstream.iter() {
        assert_eq!(s.get::<&str>("format").unwrap(), "NV12", "{upstream}");
    }
    assert!(upstream.can_intersect(&caps_of(VideoFormat::Nv12, 480, 270)));
    assert!(!upstream.can_intersect(&caps_of(VideoFormat::I420, 480, 270)));
}
