//! The `ntiresr` element under gst-check's Harness: negotiation, timestamps, state and causality.

mod common;

use common::*;
use gst::prelude::*;
use gst_check::Harness;

fn harness(width: i32, height: i32) -> Harness {
    let mut h = Harness::with_element(&element(), Some("sink"), Some("src"));
    h.set_src_caps(caps(width, height));
    h
}

/// Pushes the frames with `seeds` (stamped 0, 1, ...) and returns every output, checking that
/// each frame's output is out before the next frame goes in.
fn run(h: &mut Harness, width: u32, height: u32, seeds: &[u32]) -> Vec<Vec<u8>> {
    seeds
        .iter()
        .enumerate()
        .map(|(i, &seed)| {
            h.push(stamped(frame(width, height, seed), i as u64))
                .unwrap();
            assert_eq!(
                h.buffers_in_queue(),
                1,
                "frame {i} is not out before the next one"
            );
            bytes(&h.pull().unwrap())
        })
        .collect()
}

#[test]
fn negotiates_four_times_the_size_in_every_orientation() {
    for (w, h) in [(64, 36), (36, 64), (33, 19), (8, 8)] {
        let mut harness = harness(w, h);
        harness
            .push(stamped(frame(w as u32, h as u32, 1), 0))
            .unwrap();
        let out = harness.pull().unwrap();
        let caps = harness.sinkpad().unwrap().current_caps().unwrap();
        let s = caps.structure(0).unwrap();
        assert_eq!(s.get::<i32>("width").unwrap(), 4 * w);
        assert_eq!(s.get::<i32>("height").unwrap(), 4 * h);
        assert_eq!(s.get::<&str>("format").unwrap(), "I420");
        assert_eq!(
            s.get::<gst::Fraction>("framerate").unwrap(),
            gst::Fraction::new(25, 1)
        );
        let info = gst_video::VideoInfo::from_caps(&caps).unwrap();
        assert_eq!(out.size(), info.size(), "output buffer size for {w}x{h}");
    }
}

#[test]
fn rejects_unsupported_sizes() {
    for (w, h) in [(7, 100), (1921, 1080)] {
        let mut harness = harness(w, h);
        let pushed = harness.push(stamped(frame(w as u32, h as u32, 1), 0));
        assert_eq!(pushed, Err(gst::FlowError::NotNegotiated), "{w}x{h}");
    }
}

#[test]
fn keeps_timestamps_and_durations() {
    let mut h = harness(40, 24);
    for i in 0..3 {
        h.push(stamped(frame(40, 24, i as u32), i)).unwrap();
        let out = h.pull().unwrap();
        assert_eq!(out.pts(), Some(FRAME * i));
        assert_eq!(out.duration(), Some(FRAME));
    }
}

#[test]
fn same_input_after_a_flush_gives_identical_output() {
    let mut h = harness(40, 24);
    let first = run(&mut h, 40, 24, &[1, 2, 3, 4]);
    h.push_event(gst::event::FlushStart::new());
    h.push_event(gst::event::FlushStop::new(true));
    h.push_event(gst::event::Segment::new(&gst::FormattedSegment::<
        gst::ClockTime,
    >::new()));
    let second = run(&mut h, 40, 24, &[1, 2, 3, 4]);
    assert_eq!(first, second);
    // The state matters: the same frame after a different history gives another output.
    assert_ne!(first[1], run(&mut harness(40, 24), 40, 24, &[2])[0]);
}

#[test]
fn output_for_a_frame_ignores_later_frames() {
    let a = run(&mut harness(40, 24), 40, 24, &[1, 2, 3]);
    let b = run(&mut harness(40, 24), 40, 24, &[1, 2, 9]);
    assert_eq!(a[..2], b[..2]);
    assert_ne!(a[2], b[2]);
}

#[test]
fn discont_and_timestamp_gaps_reset_the_state() {
    let fresh = run(&mut harness(40, 24), 40, 24, &[5]).remove(0);
    let mut h = harness(40, 24);
    run(&mut h, 40, 24, &[1, 2]);
    let mut buf = stamped(frame(40, 24, 5), 2);
    buf.get_mut().unwrap().set_flags(gst::BufferFlags::DISCONT);
    h.push(buf).unwrap();
    assert_eq!(bytes(&h.pull().unwrap()), fresh, "DISCONT must reset");

    let mut h = harness(40, 24);
    run(&mut h, 40, 24, &[1, 2]);
    h.push(stamped(frame(40, 24, 5), 4)).unwrap(); // frames 2 and 3 dropped
    assert_eq!(bytes(&h.pull().unwrap()), fresh, "a 2-frame gap must reset");

    let mut h = harness(40, 24);
    run(&mut h, 40, 24, &[1, 2]);
    h.push(stamped(frame(40, 24, 5), 2)).unwrap();
    assert_ne!(
        bytes(&h.pull().unwrap()),
        fresh,
        "a steady stream keeps its state"
    );
    let stats = h.element().unwrap().property::<gst::Structure>("stats");
    assert_eq!(stats.get::<u64>("frames").unwrap(), 3);
    assert_eq!(stats.get::<u64>("resets").unwrap(), 1);
}

#[test]
fn answers_the_latency_query_with_one_frame_added() {
    let h = harness(40, 24);
    let mut q = gst::query::Latency::new();
    // The harness source answers with no latency; ours adds one frame at 25 fps.
    assert!(
        h.element()
            .unwrap()
            .static_pad("src")
            .unwrap()
            .query(&mut q)
    );
    let (_, min, _) = q.result();
    assert_eq!(min, FRAME);
}

/// An element with the embedded models: `preset` (when set) and `model-location` (when set).
fn embedded_element(preset: Option<&str>, location: Option<&std::path::Path>) -> gst::Element {
    init();
    let mut builder = gst::ElementFactory::make("ntiresr");
    if let Some(preset) = preset {
        builder = builder.property_from_str("preset", preset);
    }
    if let Some(location) = location {
        builder = builder.property("model-location", location.to_str().unwrap());
    }
    builder.build().unwrap()
}

fn run_element(element: &gst::Element, seeds: &[u32]) -> Vec<Vec<u8>> {
    let mut h = Harness::with_element(element, Some("sink"), Some("src"));
    h.set_src_caps(caps(48, 32));
    run(&mut h, 48, 32, seeds)
}

#[test]
fn preset_chooses_the_embedded_model() {
    let models = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
    let seeds = [5, 6];
    let default = run_element(&embedded_element(None, None), &seeds);
    let fidelity = run_element(&embedded_element(Some("fidelity"), None), &seeds);
    let detail = run_element(&embedded_element(Some("detail"), None), &seeds);
    assert_eq!(default, fidelity, "the default preset is fidelity");
    assert_ne!(fidelity, detail, "the two presets run different models");
    // Each preset runs the model file of the same name in models/.
    let fidelity_file = run_element(
        &embedded_element(None, Some(&models.join("ntiresr.onnx"))),
        &seeds,
    );
    let detail_file = run_element(
        &embedded_element(None, Some(&models.join("ntiresr-detail.onnx"))),
        &seeds,
    );
    assert_eq!(fidelity, fidelity_file);
    assert_eq!(detail, detail_file);
    // A model-location overrides the preset.
    let overridden = run_element(
        &embedded_element(Some("detail"), Some(&models.join("ntiresr.onnx"))),
        &seeds,
    );
    assert_eq!(overridden, fidelity);
}

#[test]
fn descriptions_name_every_format_and_stats_field() {
    init();
    for name in ["ntiresr", "thqa"] {
        let element = gst::ElementFactory::make(name).build().unwrap();
        let stats = element.property::<gst::Structure>("stats");
        let blurb = element
            .find_property("stats")
            .unwrap()
            .blurb()
            .unwrap_or_default()
            .to_string();
        for field in stats.fields() {
            assert!(
                blurb.contains(field.as_str()),
                "{name}: `{field}` not in {blurb:?}"
            );
        }
    }
    let factory = gst::ElementFactory::find("ntiresr").unwrap();
    let description = factory.metadata(gst::ELEMENT_METADATA_DESCRIPTION).unwrap();
    let sink = factory
        .static_pad_templates()
        .into_iter()
        .find(|t| t.name_template() == "sink")
        .unwrap()
        .caps();
    let formats: Vec<String> = sink
        .structure(0)
        .unwrap()
        .get::<gst::List>("format")
        .unwrap()
        .iter()
        .map(|v| v.get::<String>().unwrap())
        .collect();
    for format in &formats {
        assert!(
            description.contains(format.as_str()),
            "{format} not in {description:?}"
        );
    }
    assert!(description.contains("own SIMD kernels"), "{description:?}");
}

#[test]
fn precision_bf16_runs_the_bf16_path_within_a_code_value_of_fp32() {
    init();
    let with = |precision: &str| {
        let element = gst::ElementFactory::make("ntiresr")
            .property_from_str("precision", precision)
            .build()
            .unwrap();
        let mut h = Harness::with_element(&element, Some("sink"), Some("src"));
        h.set_src_caps(caps(160, 96));
        run(&mut h, 160, 96, &[3, 4, 5])
    };
    let (fp32, bf16, auto) = (with("fp32"), with("bf16"), with("auto"));
    assert_eq!(
        auto, bf16,
        "auto is bf16 where the CPU has it (its gate holds), else fp32"
    );
    if !gstntiresr::testing::Isa::Avx512Bf16.available() {
        assert_eq!(bf16, fp32, "without AVX512-BF16, bf16 runs fp32");
        return;
    }
    assert_ne!(bf16, fp32, "the bf16 path ran");
    let (mut samples, mut within, mut worst) = (0usize, 0usize, 0u8);
    for (a, b) in fp32.iter().flatten().zip(bf16.iter().flatten()) {
        samples += 1;
        within += (a.abs_diff(*b) <= 1) as usize;
        worst = worst.max(a.abs_diff(*b));
    }
    // These synthetic frames (a texture wrapping round every few pixels) are harsher than
    // video: 99.885 % within 1 code here, 99.99999 % on the val clips at QP 32.
    let share = within as f64 / samples as f64;
    assert!(
        share >= 0.995 && worst <= 16,
        "{share} within 1 code value, worst {worst}"
    );
}
