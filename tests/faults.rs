//! What a broadcast chain that runs for days needs: no stale frame from a bad buffer, no lock held
//! while the network runs or a message is posted, one bad frame not ending the stream, properties
//! refused while running, interlaced input refused, and errors that say what is wrong.

mod common;

use std::sync::mpsc;
use std::time::Duration;

use common::*;
use gst::glib;
use gst::prelude::*;
use gst_check::Harness;

fn harness_with(model: &str, width: i32, height: i32) -> Harness {
    init();
    let element = gst::ElementFactory::make("ntiresr")
        .property("model-location", data(model).display().to_string())
        .build()
        .unwrap();
    let mut h = Harness::with_element(&element, Some("sink"), Some("src"));
    h.set_src_caps(caps(width, height));
    h
}

fn stats(h: &Harness) -> gst::Structure {
    h.element().unwrap().property::<gst::Structure>("stats")
}

/// An I420 frame whose every sample is `value`.
fn flat(width: u32, height: u32, value: u8) -> gst::Buffer {
    let info = gst_video::VideoInfo::builder(gst_video::VideoFormat::I420, width, height)
        .build()
        .unwrap();
    gst::Buffer::from_mut_slice(vec![value; info.size()])
}

#[test]
fn a_short_buffer_is_dropped_never_pushed_as_an_old_picture() {
    let mut h = harness_with("tiny.onnx", 160, 90);
    h.push(stamped(frame(160, 90, 1), 0)).unwrap();
    let first = h.pull().unwrap();
    let size = frame(160, 90, 2).size();
    let short = stamped(gst::Buffer::from_mut_slice(vec![7u8; size - 1]), 1);
    assert!(
        h.push(short).is_ok(),
        "a bad buffer does not stop the stream"
    );
    assert!(
        h.try_pull().is_none(),
        "no output for a buffer holding no frame"
    );
    h.push(stamped(frame(160, 90, 3), 2)).unwrap();
    let next = h.pull().unwrap();
    assert_eq!(next.pts(), Some(FRAME * 2));
    assert!(bytes(&next) != bytes(&first), "the old picture again");
    let s = stats(&h);
    assert_eq!(s.get::<u64>("dropped").unwrap(), 1, "{s}");
    assert_eq!(s.get::<u64>("frames").unwrap(), 2, "{s}");
}

#[test]
fn a_failed_frame_falls_back_to_bicubic_and_resets_the_state() {
    // nonfinite.onnx gives non-finite output on dark cells (luma < 64); zero_residual.onnx is
    // the plain bicubic upscale.
    let mut h = harness_with("nonfinite.onnx", 40, 24);
    let mut bicubic = harness_with("zero_residual.onnx", 40, 24);
    let bright = || flat(40, 24, 200);
    h.push(stamped(bright(), 0)).unwrap();
    let fresh = bytes(&h.pull().unwrap());
    h.push(stamped(flat(40, 24, 10), 1)).unwrap();
    bicubic.push(stamped(flat(40, 24, 10), 0)).unwrap();
    assert!(
        bytes(&h.pull().unwrap()) == bytes(&bicubic.pull().unwrap()),
        "the failed frame is not the plain bicubic upscale"
    );
    // The state was reset: the next frame comes out as the first of a stream.
    h.push(stamped(bright(), 2)).unwrap();
    assert!(
        bytes(&h.pull().unwrap()) == fresh,
        "the state was not reset"
    );
    let s = stats(&h);
    assert_eq!(s.get::<u64>("failed").unwrap(), 1, "{s}");
    assert_eq!(s.get::<u64>("frames").unwrap(), 3, "{s}");
}

/// Plays `pipeline` until EOS or an error (60 s at most), then stops it; the error, if any.
fn play_to_end(pipeline: &gst::Bin) -> Option<glib::Error> {
    let _ = pipeline.set_state(gst::State::Playing);
    let msg = pipeline
        .bus()
        .unwrap()
        .timed_pop_filtered(
            gst::ClockTime::from_seconds(60),
            &[gst::MessageType::Eos, gst::MessageType::Error],
        )
        .expect("neither finished nor failed");
    pipeline.set_state(gst::State::Null).unwrap();
    match msg.view() {
        gst::MessageView::Error(e) => Some(e.error()),
        _ => None,
    }
}

/// Runs `description` with a bus sync handler that, on every warning or error, queries the
/// latency of the element named `sr` (as an application's handler may); returns the error, if
/// any, or panics if the pipeline hangs.
fn run_querying_latency_on_messages(description: &'static str) -> Option<glib::Error> {
    init();
    let (done, finished) = mpsc::channel();
    std::thread::spawn(move || {
        let pipeline = gst::parse::launch(description)
            .unwrap()
            .downcast::<gst::Bin>()
            .unwrap();
        let sr = pipeline.by_name("sr").unwrap();
        let bus = pipeline.bus().unwrap();
        bus.set_sync_handler(move |_, msg| {
            if matches!(
                msg.view(),
                gst::MessageView::Warning(_) | gst::MessageView::Error(_)
            ) {
                let mut q = gst::query::Latency::new();
                sr.query(&mut q);
            }
            gst::BusSyncReply::Pass
        });
        let _ = done.send(play_to_end(&pipeline));
    });
    finished
        .recv_timeout(Duration::from_secs(90))
        .expect("the pipeline hung: a lock held while posting?")
}

#[test]
fn a_sync_handler_may_query_latency_while_the_element_posts() {
    // Every frame is dark: every step fails; warned at the first, an error after 25 in a row.
    let error = run_querying_latency_on_messages(concat!(
        "videotestsrc num-buffers=40 pattern=black ! video/x-raw,width=32,height=16 ",
        "! ntiresr name=sr model-location=",
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/nonfinite.onnx ! fakesink"
    ))
    .expect("failing on every frame ends in an error");
    assert!(
        error.message().contains("25 frames in a row") && error.message().contains("non-finite"),
        "{error}"
    );
}

#[test]
fn a_few_failed_frames_do_not_end_the_stream() {
    // pattern=blink: black and white frames in turn; every black one fails.
    let error = run_querying_latency_on_messages(concat!(
        "videotestsrc num-buffers=40 pattern=blink ! video/x-raw,width=32,height=16 ",
        "! ntiresr name=sr model-location=",
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/nonfinite.onnx ! fakesink"
    ));
    assert!(error.is_none(), "{error:?}");
}

#[test]
fn properties_are_refused_while_running() {
    let mut h = harness_with("tiny.onnx", 40, 24);
    h.push(stamped(frame(40, 24, 1), 0)).unwrap();
    h.pull().unwrap();
    let element = h.element().unwrap();
    element.set_property("n-threads", 3u32);
    element.set_property("mirror-ensemble", true);
    element.set_property("model-location", "/elsewhere.onnx");
    assert_eq!(element.property::<u32>("n-threads"), 0);
    assert!(!element.property::<bool>("mirror-ensemble"));
    assert!(
        element
            .property::<Option<String>>("model-location")
            .unwrap()
            .ends_with("tiny.onnx")
    );
    // Still running as configured.
    h.push(stamped(frame(40, 24, 2), 1)).unwrap();
    h.pull().unwrap();
}

#[test]
fn interlaced_input_is_refused() {
    let mut h = harness_with("tiny.onnx", 40, 24);
    let mut interlaced = caps(40, 24);
    interlaced.make_mut().set("interlace-mode", "interleaved");
    h.set_src_caps(interlaced);
    assert_eq!(
        h.push(stamped(frame(40, 24, 1), 0)),
        Err(gst::FlowError::NotNegotiated)
    );
}

#[test]
fn a_missing_model_is_a_resource_error_that_names_the_file() {
    let error = run_querying_latency_on_messages(
        "videotestsrc num-buffers=1 ! ntiresr name=sr model-location=/nonexistent/m.onnx \
         ! fakesink",
    )
    .unwrap();
    assert!(error.matches(gst::ResourceError::NotFound), "{error}");
    assert!(error.message().contains("/nonexistent/m.onnx"), "{error}");
}

#[test]
fn a_model_with_wrong_channel_counts_is_a_settings_error_and_the_element_lives_on() {
    init();
    for backend in ["cpu", "tract"] {
        let pipeline = gst::parse::launch(&format!(
            "videotestsrc num-buffers=2 ! video/x-raw,width=32,height=16 \
             ! ntiresr name=sr backend={backend} model-location={} ! fakesink",
            data("wrong_residual.onnx").display()
        ))
        .unwrap()
        .downcast::<gst::Bin>()
        .unwrap();
        let error = play_to_end(&pipeline).expect("a wrong model is an error");
        assert!(
            error.matches(gst::LibraryError::Settings),
            "{backend}: {error}"
        );
        assert!(
            error.message().contains("wrong_residual.onnx")
                && error.message().contains("\"residual\""),
            "{backend}: {error}"
        );
        // The same element, given a good model, starts and runs.
        let sr = pipeline.by_name("sr").unwrap();
        sr.set_property("model-location", tiny_model());
        assert_eq!(
            play_to_end(&pipeline).map(|e| e.to_string()),
            None,
            "{backend}"
        );
    }
}

#[test]
fn absurd_caps_ranges_negotiate_nothing_and_do_not_panic() {
    let mut h = harness_with("tiny.onnx", 40, 24);
    let absurd = gst::Caps::builder("video/x-raw")
        .field("format", "I420")
        .field("width", gst::IntRange::new(i32::MAX - 1, i32::MAX))
        .field("height", gst::IntRange::new(i32::MAX - 1, i32::MAX))
        .build();
    // Downstream takes only absurd sizes: nothing upstream maps to them.
    h.set_sink_caps(absurd.clone());
    let element = h.element().unwrap();
    let sink = element.static_pad("sink").unwrap();
    assert!(
        sink.query_caps(None).is_empty(),
        "{}",
        sink.query_caps(None)
    );
}
