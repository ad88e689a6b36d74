//! File in, file out: any video GStreamer can decode, upscaled x4 by `ntiresr` into H.264 MP4.
//!
//!     cargo run --release --example upscale -- call_270p.mp4 call_1080p.mp4 [model.onnx]
//!
//! The plugin is registered statically, so nothing needs installing. Progress goes to stderr.

use std::time::Instant;

use gst::prelude::*;

mod common;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, input, output, rest @ ..] = args.as_slice() else {
        eprintln!("usage: upscale INPUT OUTPUT.mp4 [MODEL.onnx]");
        std::process::exit(2);
    };
    gst::init()?;
    gstntiresr::plugin_register_static()?;

    let model = rest
        .first()
        .map(|m| format!("model-location=\"{m}\""))
        .unwrap_or_default();
    let pipeline = gst::parse::launch(&format!(
        "filesrc location=\"{input}\" ! decodebin ! videoconvert ! video/x-raw,format=I420 \
         ! ntiresr name=sr {model} ! x264enc speed-preset=veryfast ! mp4mux \
         ! filesink location=\"{output}\""
    ))?
    .downcast::<gst::Pipeline>()
    .unwrap();
    pipeline.set_state(gst::State::Playing)?;
    let started = Instant::now();
    let result = common::wait_for_end(&pipeline, || progress(&pipeline, started));
    eprintln!();
    let stats = pipeline
        .by_name("sr")
        .map(|sr| sr.property::<gst::Structure>("stats"));
    pipeline.set_state(gst::State::Null)?;
    result?;
    if let Some(stats) = stats {
        eprintln!("{stats}");
    }
    eprintln!("wrote {output} in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// A one-line progress bar from the pipeline's position and duration.
fn progress(pipeline: &gst::Pipeline, started: Instant) {
    let pos = pipeline.query_position::<gst::ClockTime>();
    let dur = pipeline.query_duration::<gst::ClockTime>();
    if let (Some(pos), Some(dur)) = (pos, dur)
        && dur.nseconds() > 0
    {
        let frac = (pos.nseconds() as f64 / dur.nseconds() as f64).clamp(0.0, 1.0);
        let bar = (frac * 30.0) as usize;
        eprint!(
            "\r[{}{}] {:5.1}%  {} / {}  ({:.0} s)",
            "#".repeat(bar),
            " ".repeat(30 - bar),
            frac * 100.0,
            pos.display(),
            dur.display(),
            started.elapsed().as_secs_f64()
        );
    }
}
