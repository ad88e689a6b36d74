//! The `thqa` quality monitor: pass-through, messages, running scores, models.

mod common;

use std::path::Path;

use common::*;
use gst::prelude::*;
use gst_video::VideoFormat;
use gstntiresr::testing::QualityModel;

/// The small random-weight quality model (thqa contract, 4 patches of 16x16).
fn tiny_quality_model() -> String {
    data("thqa_tiny.onnx").display().to_string()
}

/// A `thqa` on the tiny quality model, in a Harness.
fn tiny_thqa() -> (gst::Element, gst_check::Harness) {
    let element = gst::ElementFactory::make("thqa")
        .property("model-location", tiny_quality_model())
        .build()
        .unwrap();
    let harness = gst_check::Harness::with_element(&element, Some("sink"), Some("src"));
    (element, harness)
}

/// A frame of `format` whose bytes follow a pattern (every byte differs from its neighbours).
fn raw_frame(format: VideoFormat, width: u32, height: u32, seed: u32) -> gst::Buffer {
    let info = gst_video::VideoInfo::builder(format, width, height)
        .build()
        .unwrap();
    let data: Vec<u8> = (0..info.size() as u32)
        .map(|i| (i.wrapping_mul(2654435761).wrapping_add(seed * 97) >> 13) as u8)
        .collect();
    gst::Buffer::from_mut_slice(data)
}

/// Runs `description` to EOS; returns the pipeline and every `thqa` message structure.
fn run(description: &str) -> Result<(gst::Bin, Vec<gst::Structure>), String> {
    let mut messages = vec![];
    let pipeline = run_pipeline(description, |s| {
        if s.name() == "thqa" {
            messages.push(s.to_owned());
        }
    })?;
    Ok((pipeline, messages))
}

#[test]
fn buffers_pass_bit_identical_and_uncopied() {
    init();
    for format in [
        VideoFormat::I420,
        VideoFormat::Nv12,
        VideoFormat::Yuy2,
        VideoFormat::Uyvy,
        VideoFormat::Bgrx,
        VideoFormat::Rgb,
        VideoFormat::Gray8,
    ] {
        // 37x21 is larger than the test model's 16x16 patches, 9x7 smaller.
        for (w, h) in [(37, 21), (9, 7)] {
            let (element, mut harness) = tiny_thqa();
            let caps = gst_video::VideoInfo::builder(format, w, h)
                .fps(gst::Fraction::new(25, 1))
                .build()
                .unwrap()
                .to_caps()
                .unwrap();
            harness.set_src_caps(caps);
            for i in 0..3 {
                let input = stamped(raw_frame(format, w, h, i), i as u64);
                let expect = bytes(&input);
                let ptr = input.as_ptr();
                let output = harness.push_and_pull(input).unwrap();
                assert_eq!(bytes(&output), expect, "{format:?} {w}x{h} frame {i}");
                assert_eq!(output.as_ptr(), ptr, "{format:?}: the buffer was copied");
            }
            let score: f64 = element.property("score");
            assert!((0.0..=5.0).contains(&score), "{format:?} score {score}");
            let stats: gst::Structure = element.property("stats");
            assert_eq!(stats.get::<u64>("frames").unwrap(), 3, "{stats}");
        }
    }
}

#[test]
fn messages_carry_the_documented_fields() {
    let (pipeline, messages) = run(&format!(
        "videotestsrc num-buffers=7 pattern=ball ! video/x-raw,width=64,height=48,framerate=25/1 \
         ! thqa name=q interval=2 message-interval=2 model-location={} ! fakesink",
        tiny_quality_model()
    ))
    .unwrap();
    // Frames 0, 2, 4, 6 are scored; a message every second scored frame, then the final one.
    let fields: Vec<(u64, u64, bool)> = messages
        .iter()
        .map(|s| {
            (
                s.get::<u64>("frame").unwrap(),
                s.get::<u64>("frames-scored").unwrap(),
                s.get::<bool>("final").unwrap(),
            )
        })
        .collect();
    assert_eq!(fields, [(2, 2, false), (6, 4, false), (6, 4, true)]);
    for s in &messages {
        let frame = s.get::<u64>("frame").unwrap();
        let running = s.get::<Option<gst::ClockTime>>("running-time").unwrap();
        assert_eq!(running, Some(FRAME * frame), "{s}");
        for field in ["score", "clip-score", "ema-score"] {
            let v = s.get::<f64>(field).unwrap();
            assert!((0.0..=5.0).contains(&v), "{field} = {v} in {s}");
        }
    }
    let q = pipeline.by_name("q").unwrap();
    let last = messages.last().unwrap();
    assert_eq!(
        q.property::<f64>("clip-score"),
        last.get::<f64>("clip-score").unwrap()
    );
    assert_eq!(
        q.property::<f64>("score"),
        last.get::<f64>("score").unwrap()
    );
    for field in ["compression", "ema-compression", "resolution"] {
        let v = last.get::<f64>(field).unwrap();
        assert!(v.is_finite() && v >= 0.0, "{field} = {v} in {last}");
        assert_eq!(q.property::<f64>(field), v, "{field}");
    }
}

/// The last frame's v3 estimates and score with `scorer` (and the tiny network, for `network`).
fn v3_readings(scorer: &str) -> (f64, f64, f64) {
    let model = if scorer == "network" {
        format!("model-location={}", tiny_quality_model())
    } else {
        String::new()
    };
    let (pipeline, _) = run(&format!(
        "videotestsrc num-buffers=3 pattern=ball ! video/x-raw,width=320,height=180,framerate=25/1 \
         ! thqa name=q scorer={scorer} {model} display-height=720 ! fakesink"
    ))
    .unwrap();
    let q = pipeline.by_name("q").unwrap();
    let p = |name: &str| q.property::<f64>(name);
    (p("score"), p("compression"), p("resolution"))
}

#[test]
fn v3_scores_by_default_and_the_estimates_come_with_any_scorer() {
    let (auto, v3, network) = (
        v3_readings("auto"),
        v3_readings("v3"),
        v3_readings("network"),
    );
    assert_eq!(auto, v3, "auto without model-location is v3");
    assert_ne!(v3.0, network.0, "the network gives its own score");
    assert_eq!(
        (v3.1, v3.2),
        (network.1, network.2),
        "the estimates do not depend on the scorer"
    );
    // A 180-line picture on a 720-line display: its resolution is read as at most its own.
    assert!(
        (0.0..=5.0).contains(&v3.0) && v3.2 > 0.0 && v3.2 <= 720.0,
        "{v3:?}"
    );
}

#[test]
fn estimates_are_unset_before_the_first_frame() {
    init();
    let q = gst::ElementFactory::make("thqa").build().unwrap();
    for name in ["compression", "ema-compression", "resolution"] {
        assert_eq!(q.property::<f64>(name), -1.0, "{name}");
    }
}

#[test]
fn running_scores_restart_after_a_flush() {
    init();
    let (element, mut harness) = tiny_thqa();
    harness.set_src_caps(caps(32, 32));
    assert_eq!(element.property::<f64>("clip-score"), -1.0);
    for i in 0..2 {
        harness
            .push_and_pull(stamped(frame(32, 32, i), i as u64))
            .unwrap();
    }
    assert!(element.property::<f64>("clip-score") >= 0.0);
    assert!(element.property::<f64>("ema-compression") >= 0.0);
    assert!(harness.push_event(gst::event::FlushStart::new()));
    assert!(harness.push_event(gst::event::FlushStop::new(true)));
    let segment = gst::FormattedSegment::<gst::ClockTime>::new();
    assert!(harness.push_event(gst::event::Segment::new(&segment)));
    assert_eq!(element.property::<f64>("clip-score"), -1.0);
    assert_eq!(element.property::<f64>("ema-compression"), -1.0);
    assert_eq!(element.property::<f64>("resolution"), -1.0);
    harness.push_and_pull(stamped(frame(32, 32, 5), 0)).unwrap();
    let stats: gst::Structure = element.property("stats");
    assert_eq!(stats.get::<u64>("resets").unwrap(), 1, "{stats}");
}

#[test]
fn bad_models_fail_with_their_path_and_reason() {
    let corrupt = std::env::temp_dir().join("thqa-corrupt.onnx");
    std::fs::write(&corrupt, b"\x08\x07garbage").unwrap();
    let ntiresr_model = data("tiny.onnx");
    for (path, reason) in [
        (Path::new("/nonexistent/q.onnx"), "cannot read"),
        (corrupt.as_path(), "not a readable ONNX model"),
        (ntiresr_model.as_path(), "has inputs"),
    ] {
        let err = run(&format!(
            "videotestsrc num-buffers=1 ! thqa model-location={} ! fakesink",
            path.display()
        ))
        .unwrap_err();
        assert!(
            err.contains(&path.display().to_string()) && err.contains(reason),
            "{path:?}: {err}"
        );
    }
}

/// Replays `models/thqa.sample.bin` (written by `training/thqa/export.py`): patches and scale in,
/// the score PyTorch gave out (max abs error <= 1e-3).
#[test]
fn shipped_quality_model_matches_pytorch() {
    let mut model =
        QualityModel::from_bytes("embedded", gstntiresr::testing::EMBEDDED_QUALITY_MODEL).unwrap();
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/thqa.sample.bin");
    let (words, floats) = read_sample(&sample, 2);
    let (n, p) = (words[0], words[1]);
    let (side, size) = model.grid();
    assert_eq!((n, p), (side * side, size), "sample and model disagree");
    assert_eq!(floats.len(), n * p * p + n + 1);
    let (patches, rest) = floats.split_at(n * p * p);
    let (scale, expect) = rest.split_at(n);
    assert!(scale.iter().all(|&s| s == scale[0]));
    let got = model.score_patches(patches, scale[0]).unwrap();
    assert!(
        (got - expect[0]).abs() <= 1e-3,
        "tract {got}, PyTorch {}",
        expect[0]
    );
}

#[test]
fn monitors_before_and_after_ntiresr() {
    let (pipeline, messages) = run(
        "videotestsrc num-buffers=5 ! video/x-raw,format=I420,width=64,height=36,framerate=25/1 \
         ! x265enc qp=32 speed-preset=ultrafast tune=zerolatency ! h265parse ! avdec_h265 \
         ! thqa name=before message-interval=0 ! ntiresr ! thqa name=after message-interval=0 \
         ! fakesink",
    )
    .unwrap();
    // One final message per monitor, each after all five frames.
    assert_eq!(messages.len(), 2, "{messages:?}");
    for name in ["before", "after"] {
        let q = pipeline.by_name(name).unwrap();
        let stats: gst::Structure = q.property("stats");
        assert_eq!(stats.get::<u64>("frames").unwrap(), 5, "{name}: {stats}");
        assert!((0.0..=5.0).contains(&q.property::<f64>("clip-score")));
    }
}

/// The clip score of one SMPTE card frame of `width x height` made as BGRx, scored either as
/// BGRx or after videoconvert to I420 (which picks the YUV matrix by frame size).
fn smpte_score(width: u32, height: u32, as_i420: bool) -> f64 {
    let convert = if as_i420 {
        "! videoconvert ! video/x-raw,format=I420 "
    } else {
        ""
    };
    let (pipeline, _) = run(&format!(
        "videotestsrc num-buffers=2 pattern=smpte \
         ! video/x-raw,format=BGRx,width={width},height={height},framerate=25/1 {convert}\
         ! thqa name=q ! fakesink"
    ))
    .unwrap();
    pipeline.by_name("q").unwrap().property("clip-score")
}

#[test]
fn rgb_and_yuv_of_one_picture_score_alike() {
    // 1280x720 gets BT.709 from videoconvert, 720x576 BT.601.
    for (w, h) in [(1280, 720), (720, 576)] {
        let (rgb, yuv) = (smpte_score(w, h, false), smpte_score(w, h, true));
        // The element reads the luma videoconvert makes, bit for bit: the scores are equal.
        assert!(
            (rgb - yuv).abs() <= 1e-6,
            "{w}x{h}: BGRx scored {rgb}, I420 {yuv}"
        );
    }
}

#[test]
fn changing_the_window_keeps_the_running_scores() {
    init();
    let element = gst::ElementFactory::make("thqa")
        .property("model-location", tiny_quality_model())
        .property("window", 4u32)
        .build()
        .unwrap();
    let mut harness = gst_check::Harness::with_element(&element, Some("sink"), Some("src"));
    harness.set_src_caps(caps(32, 32));
    for i in 0..3 {
        harness
            .push_and_pull(stamped(frame(32, 32, i), i as u64))
            .unwrap();
    }
    let before: Vec<f64> = ["score", "clip-score", "ema-score"]
        .iter()
        .map(|p| element.property(p))
        .collect();
    element.set_property("window", 100u32);
    let after: Vec<f64> = ["score", "clip-score", "ema-score"]
        .iter()
        .map(|p| element.property(p))
        .collect();
    assert_eq!(
        before, after,
        "setting window while playing changed the scores"
    );
    harness.push_and_pull(stamped(frame(32, 32, 3), 3)).unwrap();
    let stats: gst::Structure = element.property("stats");
    assert_eq!(stats.get::<u64>("frames").unwrap(), 4, "{stats}");
    assert_eq!(stats.get::<u64>("resets").unwrap(), 0, "{stats}");
}

#[test]
fn default_message_rate_suits_a_bus_nobody_drains() {
    let (_, messages) = run(&format!(
        "videotestsrc num-buffers=300 ! video/x-raw,width=32,height=24,framerate=25/1 \
         ! thqa model-location={} ! fakesink",
        tiny_quality_model()
    ))
    .unwrap();
    // At most one message per 100 scored frames (4 s at 25 fps), plus the final one.
    assert!(
        messages.len() <= 300 / 100 + 1,
        "{} messages",
        messages.len()
    );
    assert!(messages.last().unwrap().get::<bool>("final").unwrap());
}

#[test]
fn model_location_is_refused_while_running_and_the_rest_applies() {
    init();
    let (element, mut harness) = tiny_thqa();
    let bus = gst::Bus::new();
    element.set_bus(Some(&bus));
    harness.set_src_caps_str("video/x-raw,format=I420,width=32,height=16,framerate=25/1");
    let frame = |i: u32| stamped(raw_frame(VideoFormat::I420, 32, 16, i), i as u64);
    harness.push_and_pull(frame(0)).unwrap();
    element.set_property("model-location", "/elsewhere/q.onnx");
    element.set_property("interval", 3u32);
    assert_eq!(
        element.property::<Option<String>>("model-location"),
        Some(tiny_quality_model()),
        "the property names the model that runs"
    );
    assert_eq!(
        element.property::<u32>("interval"),
        3,
        "interval applies while playing"
    );
    let warning = bus
        .pop_filtered(&[gst::MessageType::Warning])
        .expect("a warning on the bus");
    let gst::MessageView::Warning(warning) = warning.view() else {
        unreachable!()
    };
    assert!(
        warning.error().message().contains("model-location"),
        "{}",
        warning.error()
    );
    // Still scoring with the model it started with.
    harness.push_and_pull(frame(1)).unwrap();
    element.set_bus(None);
}
