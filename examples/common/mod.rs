//! What the examples share: their numeric arguments, and waiting for a pipeline's end.
#![allow(dead_code)] // each example uses part of it

use std::time::Duration;

use gst::prelude::*;

/// Command-line argument `i` as a number, or `default` when it is absent or not a number.
pub fn uint_arg(i: usize, default: u32) -> u32 {
    std::env::args()
        .nth(i)
        .and_then(|a| a.parse().ok())
        .unwrap_or(default)
}

/// Waits for end of stream or an error (returned as its message and debug text) on `pipeline`'s
/// bus, calling `tick` every half second meanwhile.
pub fn wait_for_end(pipeline: &gst::Pipeline, mut tick: impl FnMut()) -> Result<(), String> {
    let bus = pipeline.bus().expect("a pipeline has a bus");
    loop {
        let msg = bus.timed_pop_filtered(
            gst::ClockTime::try_from(Duration::from_millis(500)).ok(),
            &[gst::MessageType::Eos, gst::MessageType::Error],
        );
        match msg.as_ref().map(|m| m.view()) {
            Some(gst::MessageView::Eos(_)) => return Ok(()),
            Some(gst::MessageView::Error(e)) => {
                return Err(format!("{}: {:?}", e.error(), e.debug()));
            }
            _ => tick(),
        }
    }
}
