//! Cost of the `thqa` monitor: N frames of W x H I420 through `thqa` (every frame scored).
//!
//!     cargo run --release --example quality_cost -- [frames=200] [width=1920] [height=1080] [model.onnx | network]
//!
//! Prints the element's own `stats`: mean and max milliseconds to score one frame (the v3
//! estimate by default; with `network` or a model, also the network and its patches), the
//! figure the 3 ms budget (issue #19) is about.

use gst::prelude::*;

#[path = "../common/mod.rs"]
mod common;
use common::{uint_arg as arg, wait_for_end};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (frames, width, height) = (arg(1, 200), arg(2, 1920), arg(3, 1080));
    let model = std::env::args()
        .nth(4)
        .map(|m| match m.as_str() {
            "network" => "scorer=network".to_string(),
            _ => format!("model-location={m}"),
        })
        .unwrap_or_default();
    gst::init()?;
    gstntiresr::plugin_register_static()?;
    let pipeline = gst::parse::launch(&format!(
        "videotestsrc num-buffers={frames} pattern=ball ! video/x-raw,format=I420,width={width},\
         height={height},framerate=30/1 ! thqa name=q message-interval=0 {model} \
         ! fakesink sync=false"
    ))?
    .downcast::<gst::Pipeline>()
    .unwrap();
    pipeline.set_state(gst::State::Playing)?;
    let result = wait_for_end(&pipeline, || {});
    let q = pipeline.by_name("q").unwrap();
    let (stats, clip) = (
        q.property::<gst::Structure>("stats"),
        q.property::<f64>("clip-score"),
    );
    pipeline.set_state(gst::State::Null)?;
    result?;
    println!("{width}x{height}, {frames} frames: clip-score {clip:.3}; {stats}");
    Ok(())
}
