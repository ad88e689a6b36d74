//! Shared helpers for the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Once;

use gst_video::prelude::*;
use gstntiresr::testing::{Plane, Upscaler};

pub fn init() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        gst::init().unwrap();
        gstntiresr::plugin_register_static().expect("register ntiresr");
    });
}

/// A file under `tests/data`.
pub fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// The small random-weight test model (same contract as the shipped one).
pub fn tiny_model() -> String {
    data("tiny.onnx").display().to_string()
}

pub fn caps(width: i32, height: i32) -> gst::Caps {
    init();
    gst_video::VideoCapsBuilder::new()
        .format(gst_video::VideoFormat::I420)
        .width(width)
        .height(height)
        .framerate(gst::Fraction::new(25, 1))
        .pixel_aspect_ratio(gst::Fraction::new(1, 1))
        .build()
}

/// A deterministic I420 frame: a moving gradient plus per-`seed` texture.
pub fn frame(width: u32, height: u32, seed: u32) -> gst::Buffer {
    init();
    let info = gst_video::VideoInfo::builder(gst_video::VideoFormat::I420, width, height)
        .build()
        .unwrap();
    let buffer = gst::Buffer::with_size(info.size()).unwrap();
    let mut frame = gst_video::VideoFrame::from_buffer_writable(buffer, &info).unwrap();
    for p in 0..3u32 {
        let (w, h) = (frame.comp_width(p), frame.comp_height(p));
        let stride = frame.plane_stride()[p as usize] as u32;
        let data = frame.plane_data_mut(p).unwrap();
        for y in 0..h {
            for x in 0..w {
                let noise =
                    (x.wrapping_mul(7919) ^ y.wrapping_mul(104729) ^ seed.wrapping_mul(31337)) % 23;
                data[(y * stride + x) as usize] =
                    ((x * 3 + y * 2 + seed * 5 + p * 40 + noise) % 256) as u8;
            }
        }
    }
    frame.into_buffer()
}

pub const FRAME: gst::ClockTime = gst::ClockTime::from_mseconds(40);

/// Stamps `buffer` as frame `index` of a 25 fps stream.
pub fn stamped(mut buffer: gst::Buffer, index: u64) -> gst::Buffer {
    let b = buffer.get_mut().unwrap();
    b.set_pts(FRAME * index);
    b.set_duration(FRAME);
    buffer
}

/// Makes an ntiresr element with the test model.
pub fn element() -> gst::Element {
    init();
    gst::ElementFactory::make("ntiresr")
        .property("model-location", tiny_model())
        .build()
        .unwrap()
}

/// Bytes of a mapped buffer.
pub fn bytes(buffer: &gst::Buffer) -> Vec<u8> {
    buffer.map_readable().unwrap().as_slice().to_vec()
}

/// A parity sample (written by the export scripts): `header` little-endian u32 words, then f32s.
pub fn read_sample(path: &Path, header: usize) -> (Vec<usize>, Vec<f32>) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let (head, body) = bytes.split_at(4 * header);
    let word = |b: &[u8]| u32::from_le_bytes(b.try_into().unwrap()) as usize;
    let floats = body
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect();
    (head.chunks_exact(4).map(word).collect(), floats)
}

/// Runs `description` to end of stream or error (the error's text then), handing every element
/// message's structure to `on_message`; returns the pipeline, stopped.
pub fn run_pipeline(
    description: &str,
    mut on_message: impl FnMut(&gst::StructureRef),
) -> Result<gst::Bin, String> {
    init();
    let pipeline = gst::parse::launch(description)
        .unwrap()
        .downcast::<gst::Bin>()
        .unwrap();
    let bus = pipeline.bus().unwrap();
    // A failing state change (e.g. a bad model in start()) leaves its error on the bus.
    let _ = pipeline.set_state(gst::State::Playing);
    let result = loop {
        let msg = bus
            .timed_pop(gst::ClockTime::from_seconds(120))
            .expect("pipeline neither finished nor failed in time");
        match msg.view() {
            gst::MessageView::Eos(_) => break Ok(()),
            gst::MessageView::Error(e) => break Err(format!("{} ({:?})", e.error(), e.debug())),
            gst::MessageView::Element(m) => {
                if let Some(s) = m.structure() {
                    on_message(s);
                }
            }
            _ => {}
        }
    };
    pipeline.set_state(gst::State::Null).unwrap();
    result.map(|_| pipeline)
}

/// Steps `upscaler` on `buffer`, an I420 frame of `width x height` (as from [`frame`]).
pub fn step_upscaler(upscaler: &mut Upscaler, buffer: &gst::Buffer, width: u32, height: u32) {
    let info = gst_video::VideoInfo::builder(gst_video::VideoFormat::I420, width, height)
        .build()
        .unwrap();
    let frame = gst_video::VideoFrameRef::from_buffer_ref_readable(buffer, &info).unwrap();
    let planes: [Plane; 3] = std::array::from_fn(|p| Plane {
        data: frame.plane_data(p as u32).unwrap(),
        stride: frame.plane_stride()[p] as usize,
        step: 1,
        width: frame.comp_width(p as u32) as usize,
        height: frame.comp_height(p as u32) as usize,
    });
    upscaler.step(planes).unwrap();
}

/// The largest absolute difference between two residuals.
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "residual sizes");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0f32, f32::max)
}
