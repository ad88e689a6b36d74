//! Any output size from 1x to 4x the input: negotiation per factor, the route the network takes,
//! and input size switches mid-stream with the output size kept.

mod common;

use common::*;
use gst::prelude::*;
use gst_check::Harness;

fn element_with(model: &str, max_network_pixels: Option<u64>) -> gst::Element {
    init();
    let mut builder = gst::ElementFactory::make("ntiresr").property("model-location", model);
    if let Some(pixels) = max_network_pixels {
        builder = builder.property("max-network-pixels", pixels);
    }
    builder.build().unwrap()
}

/// A harness from `input` to downstream caps fixed at `output`.
fn harness(element: &gst::Element, input: (i32, i32), output: (i32, i32)) -> Harness {
    let mut h = Harness::with_element(element, Some("sink"), Some("src"));
    h.set_src_caps(caps(input.0, input.1));
    h.set_sink_caps(caps(output.0, output.1));
    h
}

fn negotiated_size(h: &Harness) -> (i32, i32) {
    let caps = h.sinkpad().unwrap().current_caps().unwrap();
    let s = caps.structure(0).unwrap();
    (s.get("width").unwrap(), s.get("height").unwrap())
}

fn i420_size(width: u32, height: u32) -> usize {
    gst_video::VideoInfo::builder(gst_video::VideoFormat::I420, width, height)
        .build()
        .unwrap()
        .size()
}

/// A flat I420 frame: every Y, U and V sample `value`.
fn flat(width: u32, height: u32, value: u8) -> gst::Buffer {
    init();
    let mut buffer = gst::Buffer::with_size(i420_size(width, height)).unwrap();
    buffer
        .get_mut()
        .unwrap()
        .map_writable()
        .unwrap()
        .fill(value);
    buffer
}

#[test]
fn every_factor_from_one_to_four_in_every_orientation() {
    let cases = [
        ((480, 270), (1920, 1080)),
        ((481, 271), (1920, 1080)),
        ((270, 480), (1080, 1920)),
        ((64, 36), (128, 72)),
        ((64, 36), (96, 54)),
        ((64, 36), (64, 36)),
        ((36, 64), (100, 200)),
        ((33, 19), (131, 75)),
        ((640, 360), (1920, 1080)),
    ];
    for (input, output) in cases {
        let mut h = harness(&element(), input, output);
        for i in 0..3 {
            h.push(stamped(frame(input.0 as u32, input.1 as u32, i), i as u64))
                .unwrap();
            let out = h.pull().unwrap();
            assert_eq!(
                out.size(),
                i420_size(output.0 as u32, output.1 as u32),
                "{input:?} -> {output:?}"
            );
            assert_eq!(out.pts(), Some(FRAME * i as u64));
        }
        assert_eq!(negotiated_size(&h), output, "{input:?}");
    }
}

#[test]
fn downstream_that_does_not_care_gets_four_times_the_input() {
    let mut h = Harness::with_element(&element(), Some("sink"), Some("src"));
    h.set_src_caps(caps(100, 60));
    h.push(stamped(frame(100, 60, 1), 0)).unwrap();
    h.pull().unwrap();
    assert_eq!(negotiated_size(&h), (400, 240));
}

#[test]
fn sizes_beyond_four_times_or_below_the_input_are_refused() {
    for (input, output) in [
        ((64, 36), (260, 144)),
        ((64, 36), (63, 36)),
        ((64, 36), (256, 145)),
    ] {
        let mut h = harness(&element(), input, output);
        let pushed = h.push(stamped(frame(64, 36, 1), 0));
        assert_eq!(pushed, Err(gst::FlowError::NotNegotiated), "{output:?}");
    }
}

/// The caps upstream may send when downstream only accepts `downstream`.
fn upstream_caps(downstream: gst::Caps) -> gst::Caps {
    let mut h = Harness::with_element(&element(), Some("sink"), Some("src"));
    h.set_sink_caps(downstream);
    h.element()
        .unwrap()
        .static_pad("sink")
        .unwrap()
        .query_caps(None)
}

/// Which of the sizes `sizes` the caps `allowed` let through.
fn allowed_sizes(allowed: &gst::Caps, sizes: &[(i32, i32)]) -> Vec<(i32, i32)> {
    sizes
        .iter()
        .copied()
        .filter(|&(w, h)| allowed.can_intersect(&caps(w, h)))
        .collect()
}

#[test]
fn caps_queries_map_both_ways() {
    // Downstream fixed at 1080p: upstream may be any size from a quarter of it to all of it.
    let up = upstream_caps(caps(1920, 1080));
    let sizes = [
        (479, 270),
        (480, 270),
        (960, 540),
        (1281, 1080),
        (1920, 1080),
        (1921, 1080),
    ];
    assert_eq!(
        allowed_sizes(&up, &sizes),
        [(480, 270), (960, 540), (1281, 1080), (1920, 1080)],
        "{up}"
    );
    // Upstream fixed: downstream may be any size from it to 4x it.
    let mut h = Harness::with_element(&element(), Some("sink"), Some("src"));
    h.set_src_caps(caps(480, 270));
    let down = h
        .element()
        .unwrap()
        .static_pad("src")
        .unwrap()
        .query_caps(None);
    let sizes = [
        (479, 270),
        (480, 270),
        (1000, 1000),
        (1920, 1080),
        (1921, 1080),
    ];
    assert_eq!(
        allowed_sizes(&down, &sizes),
        [(480, 270), (1000, 1000), (1920, 1080)],
        "{down}"
    );
}

/// Outputs of the frame `last` after `history`, as a fresh element gives them.
fn after_history(max_network_pixels: u64, history: u32, last: u32) -> Vec<u8> {
    let element = element_with(&tiny_model(), Some(max_network_pixels));
    let mut h = harness(&element, (64, 36), (200, 100));
    h.push(stamped(frame(64, 36, history), 0)).unwrap();
    h.pull().unwrap();
    h.push(stamped(frame(64, 36, last), 1)).unwrap();
    bytes(&h.pull().unwrap())
}

#[test]
fn the_network_runs_up_to_max_network_pixels_and_only_resamples_beyond() {
    // With the network, a frame's output depends on the frames before it (the temporal state).
    assert_ne!(after_history(64 * 36, 1, 3), after_history(64 * 36, 2, 3));
    // Beyond the limit only the frame itself is resampled.
    assert_eq!(
        after_history(64 * 36 - 1, 1, 3),
        after_history(64 * 36 - 1, 2, 3)
    );
    assert_ne!(
        after_history(64 * 36 - 1, 1, 3),
        after_history(64 * 36, 1, 3)
    );
}

#[test]
fn exactly_four_times_runs_the_network_whatever_the_limit() {
    let run = |history: u32| {
        let element = element_with(&tiny_model(), Some(0));
        let mut h = harness(&element, (64, 36), (256, 144));
        h.push(stamped(frame(64, 36, history), 0)).unwrap();
        h.pull().unwrap();
        h.push(stamped(frame(64, 36, 3), 1)).unwrap();
        bytes(&h.pull().unwrap())
    };
    assert_ne!(run(1), run(2));
}

#[test]
fn a_new_input_size_keeps_the_output_size_and_every_frame() {
    // zero_residual.onnx adds nothing to the bicubic x4: a flat frame comes out flat, so each
    // output shows which input it came from.
    let element = element_with(&data("zero_residual.onnx").display().to_string(), None);
    let mut h = Harness::with_element(&element, Some("sink"), Some("src"));
    let sizes = [(64, 36), (96, 54), (72, 40), (64, 36)];
    let mut index = 0u64;
    for (segment, &(w, h_)) in sizes.iter().enumerate() {
        h.set_src_caps(caps(w, h_));
        for k in 0..3 {
            let value = 20 + 30 * segment as u8 + 5 * k;
            h.push(stamped(flat(w as u32, h_ as u32, value), index))
                .unwrap();
            let out = h.pull().unwrap();
            assert_eq!(
                out.size(),
                i420_size(256, 144),
                "segment {segment} frame {k}"
            );
            let map = out.map_readable().unwrap();
            assert!(
                map.iter().all(|&v| v == value),
                "segment {segment} frame {k}: not the frame pushed"
            );
            index += 1;
        }
        assert_eq!(negotiated_size(&h), (256, 144), "after {w}x{h_}");
    }
    // Only one caps event went downstream.
    let mut caps_events = 0;
    while let Some(event) = h.try_pull_event() {
        caps_events += usize::from(event.type_() == gst::EventType::Caps);
    }
    assert_eq!(caps_events, 1);
}

#[test]
fn an_input_too_large_for_the_kept_output_changes_it() {
    let element = element_with(&data("zero_residual.onnx").display().to_string(), None);
    let mut h = Harness::with_element(&element, Some("sink"), Some("src"));
    h.set_src_caps(caps(32, 18));
    h.push(stamped(flat(32, 18, 50), 0)).unwrap();
    h.pull().unwrap();
    assert_eq!(negotiated_size(&h), (128, 72));
    h.set_src_caps(caps(200, 100));
    h.push(stamped(flat(200, 100, 60), 1)).unwrap();
    h.pull().unwrap();
    assert_eq!(negotiated_size(&h), (800, 400));
}

/// Writes `frames` frames of `width x height` as an H.265 byte stream to `path`.
fn encode_h265(path: &std::path::Path, width: u32, height: u32, frames: u32) {
    run_pipeline(
        &format!(
            "videotestsrc num-buffers={frames} pattern=ball \
             ! video/x-raw,format=I420,width={width},height={height},framerate=25/1 \
             ! x265enc speed-preset=ultrafast tune=zerolatency ! h265parse \
             ! video/x-h265,stream-format=byte-stream ! filesink location={}",
            path.display()
        ),
        |_| {},
    )
    .unwrap();
}

#[test]
fn concatenated_h265_segments_of_other_sizes_come_out_whole_at_one_size() {
    let dir = std::env::temp_dir().join(format!("ntiresr-switch-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut stream = Vec::new();
    for (i, (w, h)) in [(64, 36), (96, 54), (48, 28)].into_iter().enumerate() {
        let path = dir.join(format!("{i}.h265"));
        encode_h265(&path, w, h, 5);
        stream.extend(std::fs::read(&path).unwrap());
    }
    let all = dir.join("all.h265");
    std::fs::write(&all, stream).unwrap();
    let pipeline = run_pipeline(
        &format!(
            "filesrc location={} ! h265parse ! avdec_h265 ! ntiresr name=sr \
             ! video/x-raw,width=192,height=108 ! fakesink name=sink",
            all.display()
        ),
        |_| {},
    )
    .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let stats = pipeline
        .by_name("sr")
        .unwrap()
        .property::<gst::Structure>("stats");
    assert_eq!(stats.get::<u64>("frames").unwrap(), 15, "{stats}");
    assert_eq!(stats.get::<u64>("dropped").unwrap(), 0, "{stats}");
}
