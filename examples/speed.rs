//! Speed benchmark of the element alone: N frames of W x H I420 (or NV12) through `ntiresr` into
//! fakesink.
//!
//!     cargo run --release --example speed -- [frames=60] [width=480] [height=270] [n-threads=0]
//!                                            [model.onnx, or - for the embedded model]
//!                                            [format=NV12] [property=value ...]
//!
//! e.g. `... speed -- 40 480 270 0 - mirror-ensemble=true`, or `... 40 480 270 0 - format=NV12`.
//!
//! Prints frames per second (wall clock, after a 5-frame warm-up that includes planning) and the
//! element's own `stats` (mean and max ms per frame).

use std::time::Instant;

use gst::prelude::*;

mod common;
use common::{uint_arg as arg, wait_for_end};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (frames, width, height, threads) = (arg(1, 60), arg(2, 480), arg(3, 270), arg(4, 0));
    let model = std::env::args()
        .nth(5)
        .filter(|m| m != "-")
        .map(|m| format!(" model-location=\"{m}\""))
        .unwrap_or_default();
    let rest: Vec<String> = std::env::args().skip(6).collect();
    let format = rest
        .iter()
        .find_map(|a| a.strip_prefix("format="))
        .unwrap_or("I420");
    let properties: String = rest
        .iter()
        .filter(|a| !a.starts_with("format="))
        .map(|p| format!(" {p}"))
        .collect();
    gst::init()?;
    gstntiresr::plugin_register_static()?;
    let pipeline = gst::parse::launch(&format!(
        "videotestsrc num-buffers={} pattern=ball ! video/x-raw,format={format},width={width},\
         height={height},framerate=30/1 ! ntiresr name=sr n-threads={threads}{model}{properties} \
         ! fakesink name=sink sync=false signal-handoffs=true",
        frames + 5
    ))?
    .downcast::<gst::Pipeline>()
    .unwrap();
    let sink = pipeline.by_name("sink").unwrap();
    let started = std::sync::Arc::new(std::sync::Mutex::new((0u32, None::<Instant>)));
    let s = started.clone();
    sink.connect("handoff", false, move |_| {
        let mut s = s.lock().unwrap();
        s.0 += 1;
        if s.0 == 5 {
            s.1 = Some(Instant::now());
        }
        None
    });
    pipeline.set_state(gst::State::Playing)?;
    let result = wait_for_end(&pipeline, || {});
    let elapsed = started.lock().unwrap().1.map(|t| t.elapsed());
    let stats = pipeline
        .by_name("sr")
        .unwrap()
        .property::<gst::Structure>("stats");
    pipeline.set_state(gst::State::Null)?;
    result?;
    let elapsed = elapsed.ok_or("fewer than 5 frames came through")?;
    println!(
        "{format} {width}x{height} -> {}x{}: {:.2} fps over {frames} frames, n-threads={threads}; {stats}",
        width * 4,
        height * 4,
        frames as f64 / elapsed.as_secs_f64()
    );
    Ok(())
}
