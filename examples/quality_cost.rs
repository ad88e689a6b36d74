//! Cost of the `thqa` monitor: N frames of W x H I420 through `thqa` (every frame scored).
//!
//!     cargo run --release --example quality_cost -- [frames=200] [width=1920] [height=1080]
//!
//! Prints the element's own `stats`: mean and max milliseconds to score one frame (patch
//! extraction and the network), the figure the 2 ms budget is about.

use gst::prelude::*;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let arg = |i: usize, default: u32| -> u32 {
        std::env::args()
            .nth(i)
            .and_then(|a| a.parse().ok())
            .unwrap_or(default)
    };
    let (frames, width, height) = (arg(1, 200), arg(2, 1920), arg(3, 1080));
    gst::init()?;
    gstntiresr::plugin_register_static()?;
    let pipeline = gst::parse::launch(&format!(
        "videotestsrc num-buffers={frames} pattern=ball ! video/x-raw,format=I420,width={width},\
         height={height},framerate=30/1 ! thqa name=q message-interval=0 ! fakesink sync=false"
    ))?
    .downcast::<gst::Pipeline>()
    .unwrap();
    pipeline.set_state(gst::State::Playing)?;
    let msg = pipeline
        .bus()
        .unwrap()
        .timed_pop_filtered(
            gst::ClockTime::NONE,
            &[gst::MessageType::Eos, gst::MessageType::Error],
        )
        .unwrap();
    let q = pipeline.by_name("q").unwrap();
    let (stats, clip) = (
        q.property::<gst::Structure>("stats"),
        q.property::<f64>("clip-score"),
    );
    pipeline.set_state(gst::State::Null)?;
    if let gst::MessageView::Error(e) = msg.view() {
        return Err(format!("{}: {:?}", e.error(), e.debug()).into());
    }
    println!("{width}x{height}, {frames} frames: clip-score {clip:.3}; {stats}");
    Ok(())
}
